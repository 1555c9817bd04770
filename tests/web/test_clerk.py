"""The clerk console (/clerk) in a real browser: a register with bad rows -> the rows table
(before any serial is spent) -> issue -> progress -> the PDF downloaded, rasterised and
scanned back to chips that verify -> the manifest CSV starts with a UTF-8 BOM -> revoke a
household -> its chip verifies revoked -> the verifier bundle downloaded and verifying the new
plates -> reissue a household through the page; post and withdraw a village notice (a
household of the village sees it, then no longer); axe clean, screenshots at phone and desktop
size."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx
import pytest
from pagetools import wait_for

from chipkit.verifier import Verifier

pytestmark = pytest.mark.browser

V1 = "330703101001"
GOOD = (f"{V1}-0007", f"{V1}-0008")  # the clerk revokes and reissues: households no other test uses


def _register(tmp_path: Path) -> Path:
    p = tmp_path / "东村登记表.csv"
    p.write_text(
        "户号,村代码,村名,门牌号,网格,网格员\n"
        f"{GOOD[0]},{V1},东村,7号,第二网格,李建国\n"
        f"{GOOD[1]},{V1},东村,8号,第二网格,李建国\n"
        f"{V1}-00 5!,{V1},东村,5号,第二网格,李建国\n"  # row 4: a bad household id
        f"{V1}-0006,,东村,6号,第二网格,李建国\n",  # row 5: the village code is missing
        encoding="utf-8-sig",
    )
    return p


def _session(browser, server: str) -> httpx.Client:
    """An httpx client holding the browser's session cookie (downloads read through the API)."""
    c = httpx.Client(base_url=server, timeout=30)
    for k in browser.get_cookies():
        c.cookies.set(k["name"], k["value"])
    return c


def _scan_pdf(pdf: bytes, tmp_path: Path, verifier: Verifier) -> dict[str, tuple[str, str]]:
    """Rasterise the PDF (pdftoppm) and scan every page: household -> (status, chip)."""
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "sheet.pdf").write_bytes(pdf)
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            "150",
            "-gray",
            "-png",
            str(tmp_path / "sheet.pdf"),
            str(tmp_path / "p"),
        ],
        check=True,
        timeout=60,
    )
    found = {}
    for page in sorted(tmp_path.glob("p*.png")):
        for r in verifier.scan(page, budget_s=5.0):
            if r.household_id:
                found[r.household_id] = (r.status.value, r.chip)
    return found


def _click(browser, css: str) -> None:
    el = wait_for(browser, css)
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", el)
    el.click()


def _clear(browser, css: str):
    el = wait_for(browser, css)
    el.clear()
    return el


def _wait_text(browser, css: str, text: str, timeout: float = 15) -> str:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, timeout).until(lambda d: text in wait_for(d, css).text)
    return str(wait_for(browser, css).text)


def test_clerk_issues_downloads_revokes_reissues_and_exports(
    browser, server, district, login, axe, console_errors, shot, tmp_path
):
    from selenium.webdriver.common.by import By

    kr = district.keyring()
    if not any(k.village == V1 for k in kr.list_keys() if k.kind == "read"):
        kr.add_read_key(V1)  # a village bundle carries this village's read key only
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser.execute_cdp_cmd(
        "Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    browser.execute_cdp_cmd(  # a real 360 x 640 viewport (the window cannot be under 500)
        "Emulation.setDeviceMetricsOverride",
        {"width": 360, "height": 640, "deviceScaleFactor": 1, "mobile": True},
    )
    assert login(browser, "clerk")["path"] == "/clerk"
    serial_before = district.keyring().next_serial

    # the register: the bad rows are listed (row, column, reason, cell); nothing is issued
    wait_for(browser, "#register-file").send_keys(str(_register(tmp_path)))
    _click(browser, "#register-check")
    wait_for(browser, "#bad-rows")
    rows = {
        (
            tr.get_attribute("data-row"),
            tr.get_attribute("data-column"),
            tr.get_attribute("data-reason"),
        )
        for tr in browser.find_elements(By.CSS_SELECTOR, "#bad-rows tbody tr")
    }
    assert rows == {
        ("4", "household_id", "bad_household_id"),
        ("5", "village_code", "missing_village_code"),
    }
    assert f"{V1}-00 5!" in wait_for(browser, "#bad-rows").text
    assert district.keyring().next_serial == serial_before  # a dry run spends no serial
    assert axe(browser) == []
    browser.execute_script("document.getElementById('dry-run').scrollIntoView()")
    shot(browser, "clerk-phone")

    # issue (their PINs replaced: the district's households hold PINs) -> progress -> downloads
    _click(browser, "#issue-new-pins")
    _click(browser, "#issue-btn")
    wait_for(browser, "#job-progress")
    links = {
        a.get_attribute("data-file"): a.get_attribute("href")
        for a in wait_for(browser, "#downloads", timeout=60).find_elements(By.CSS_SELECTOR, "a")
    }
    pdf_name = next(n for n in links if n.endswith(".pdf") and n != "pin-slips.pdf")
    note = wait_for(browser, "#slips-note").text
    assert "只能下载一次" in note and "2 户原有住户密码已更换" in note  # the PINs: a warning
    browser.execute_script(  # the README's shot: the replace-PINs box, the downloads, the slips
        "document.querySelector('label[for=issue-new-pins]').scrollIntoView();"
        "window.scrollBy(0, -12)"
    )
    shot(browser, "clerk-issued")
    with _session(browser, server) as api:
        pdf = api.get(links[pdf_name])
        manifest = api.get(links["manifest.csv"])
        slips = api.get(links["pin-slips.pdf"])  # the households' PIN slips, once
        assert api.get(links["pin-slips.pdf"]).status_code == 404
    assert slips.content.startswith(b"%PDF") and slips.headers["cache-control"] == "no-store"
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert manifest.content.startswith(b"\xef\xbb\xbf")  # Excel on Chinese Windows reads UTF-8
    assert "东村" in manifest.content.decode("utf-8-sig")
    found = _scan_pdf(pdf.content, tmp_path, district.keyring().verifier())
    assert {h: s for h, (s, _) in found.items()} == {GOOD[0]: "ok", GOOD[1]: "ok"}

    # revoke one household: its plate's chip now verifies revoked
    wait_for(browser, "#rv-household").send_keys(GOOD[0])
    wait_for(browser, "#rv-reason").send_keys("丢失")
    _click(browser, "#revoke-btn")
    _click(browser, "#revoke-yes")
    _wait_text(browser, "#rv-msg", "已作废")
    verifier = district.keyring().verifier()
    assert verifier.check(found[GOOD[0]][1]).status.value == "revoked"
    assert verifier.check(found[GOOD[1]][1]).status.value == "ok"

    # the verifier bundle: downloaded, and it verifies the village's new plate
    _click(browser, "#bundle-btn")
    _wait_text(browser, "#bd-msg", "已下载")
    bundle = downloads / "verifier-bundle.json"
    deadline = time.monotonic() + 10
    while not bundle.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    v = Verifier.load(bundle, office_fingerprint=district.keyring().office_fingerprint)
    assert v.check(found[GOOD[1]][1]).status.value == "ok"
    assert v.check(found[GOOD[0]][1]).status.value == "revoked"

    # reissue the other household: the old plate is revoked, the new one verifies
    _clear(browser, "#rv-household").send_keys(GOOD[1])
    _clear(browser, "#rv-reason").send_keys("损坏")
    _click(browser, "#reissue-btn")
    _wait_text(browser, "#rv-msg", "已作废旧门牌")
    link = wait_for(browser, "#rv-job #downloads a[data-file$='.pdf']", timeout=60)
    assert "1 户已有住户密码：保留不变" in wait_for(browser, "#rv-job #slips-note").text
    with _session(browser, server) as api:
        pdf = api.get(link.get_attribute("href"))
    verifier = district.keyring().verifier()
    new = _scan_pdf(pdf.content, tmp_path / "reissue", verifier)
    assert new[GOOD[1]][0] == "ok" and new[GOOD[1]][1] != found[GOOD[1]][1]
    assert verifier.check(found[GOOD[1]][1]).status.value == "revoked"

    assert axe(browser) == []
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    browser.set_window_size(1280, 900)
    browser.execute_script("window.scrollTo(0, 0)")
    shot(browser, "clerk-desktop")
    browser.get(server + "/clerk?lang=en")  # English on request, and still clean
    assert wait_for(browser, "h1").text == "Clerk console"
    assert "Check the register" in wait_for(browser, "#register-check").text
    assert axe(browser) == []
    assert console_errors(browser) == []


def _resident_notices(server: str, district) -> list[str]:
    """The notice titles a household of the village sees on its page (chip session)."""
    with httpx.Client(base_url=server, timeout=30) as c:
        r = c.post("/api/v1/households/session", json={"chip": district.chips[f"{V1}-0001"].text})
        assert r.status_code == 200, r.text
        return [n["title"] for n in c.get("/api/v1/household").json()["notices"]]


def test_clerk_posts_and_withdraws_a_notice(browser, server, district, login, axe, console_errors):
    from selenium.webdriver.common.by import By

    assert login(browser, "clerk")["path"] == "/clerk"
    title = f"停水通知 {time.monotonic_ns()}"
    wait_for(browser, "#nt-title").send_keys(title)
    wait_for(browser, "#nt-body").send_keys("周三 8:00-12:00 停水。")
    _click(browser, "#notice-post")
    _wait_text(browser, "#notice-list", title)
    item = next(
        li for li in browser.find_elements(By.CSS_SELECTOR, "#notice-list li") if title in li.text
    )
    assert title in _resident_notices(server, district)
    assert axe(browser) == []
    _click(browser, f'#notice-list li[data-id="{item.get_attribute("data-id")}"] button.withdraw')
    _wait_text(browser, "#nt-msg", "已撤回")
    assert title not in wait_for(browser, "#notice-list").text
    assert title not in _resident_notices(server, district)
    assert console_errors(browser) == []


def test_clerk_page_needs_a_clerk(browser, server, login):
    assert (
        httpx.get(server + "/clerk", follow_redirects=False)
        .headers["location"]
        .startswith("/login")
    )
    login(browser, "worker")
    browser.get(server + "/clerk")
    assert "村文书" in wait_for(browser, "[role=alert]").text
    assert not browser.find_elements("id", "register-form")
