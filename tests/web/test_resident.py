"""The resident journey in a real browser (issue 13): a snowflake plate read by the page's
scanner from Chromium's fake camera, a URL-form QR plate opened by its address, refused
chips, accessibility and screenshots at 360x640."""

from __future__ import annotations

import time

import pytest
from fakecam import plate_video
from pagetools import wait_for, wait_url
from PIL import Image
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

pytestmark = pytest.mark.browser
OPEN = ("submitted", "accepted", "in_progress", "waiting_on_resident")


def _fetch_status(browser, path: str) -> int:
    return browser.execute_async_script(
        "const done = arguments[1];"
        "fetch(arguments[0], {credentials: 'same-origin'}).then(r => done(r.status), () => done(-1));",
        path,
    )


def _session_cookie(browser):
    return browser.get_cookie("ck_session")


def _file_hazard(browser, tmp_path, shot) -> None:
    wait_for(browser, "#do-hazard").click()
    wait_for(browser, "#f-title").send_keys("楼道电线松动")
    browser.find_element(By.ID, "f-description").send_keys("一楼楼道，电线外皮破损")
    browser.find_element(By.CSS_SELECTOR, "input[name=severity][value=high]").click()
    photo = tmp_path / "hazard.jpg"
    Image.new("RGB", (800, 600), (120, 90, 60)).save(photo, "JPEG")
    browser.find_element(By.ID, "f-photo").send_keys(str(photo))
    shot(browser, "resident-request-form")
    browser.find_element(By.ID, "f-submit").click()
    wait_for(browser, "#sent", 15)


def _give_pin(browser, pin: str) -> None:
    wait_for(browser, "#pin").send_keys(pin)
    browser.find_element(By.ID, "pin-submit").click()
    wait_for(browser, "#case-list, #case-list-empty", 10)


def test_snowflake_plate_by_camera_to_a_reopened_case(
    make_browser, server, district, api_as, axe, console_errors, shot, tmp_path
):
    hid = district.plated["snowflake"]
    video = plate_video(district.plates["snowflake"], tmp_path / "plate.y4m")
    b = make_browser(fake_video=video)
    b.get(server + "/scan")  # (the scan page's screenshot and axe: the test below, no race)
    wait_url(b, "/h", 30)  # the page's scanner read the snowflake chip from the camera
    assert "东村 · 第一网格" in wait_for(b, "#place").text
    assert b.find_element(By.ID, "call").get_attribute("href") == "tel:13905797037"
    assert axe(b) == []
    shot(b, "resident-household")
    _file_hazard(b, tmp_path, shot)
    w1 = api_as("worker")
    case = next(c for c in w1.get("/api/v1/cases").json() if c["title"] == "楼道电线松动")
    assert case["household_id"] == hid and case["details"]["severity"] == "high"
    assert len(w1.get(f"/api/v1/cases/{case['id']}/request-photos").json()["photos"]) == 1
    for step, body in (("accept", None), ("start", None), ("resolve", {"note": "已更换电线"})):
        r = w1.post(f"/api/v1/cases/{case['id']}/{step}", json=body)
        assert r.status_code == 200, r.text
    # the resident gives the PIN and rates "not solved": the case reopens
    b.get(server + "/h")
    _give_pin(b, district.pins[hid])
    card = wait_for(b, f"#case-{case['id']}")
    assert card.get_attribute("data-state") == "resolved"
    assert axe(b) == []
    shot(b, "resident-cases")
    # the progress shows the photo the household sent with the request (the PIN session only)
    b.find_element(By.CSS_SELECTOR, f'button[aria-controls="timeline-{case["id"]}"]').click()
    img = WebDriverWait(b, 10).until(
        lambda d: d.find_element(By.CSS_SELECTOR, f"#photos-{case['id']} img")
    )
    b.execute_script("arguments[0].scrollIntoView({block: 'center'})", img)  # loads lazily
    WebDriverWait(b, 10).until(
        lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img)
    )
    b.find_element(By.CSS_SELECTOR, f"input[name=rating-{case['id']}][value='2']").click()
    b.find_element(By.ID, f"unsolved-{case['id']}").click()
    b.find_element(By.CSS_SELECTOR, f"#rate-{case['id']} button[type=submit]").click()
    WebDriverWait(b, 10).until(
        lambda d: (
            d.execute_script(
                "const c = document.getElementById(arguments[0]); return c && c.dataset.state;",
                f"case-{case['id']}",
            )
            in OPEN
        )
    )
    again = w1.get(f"/api/v1/cases/{case['id']}").json()
    assert again["state"] in OPEN and again["reopen_count"] == 1
    assert case["id"] in [c["id"] for c in w1.get("/api/v1/cases").json() if c["state"] in OPEN]
    assert console_errors(b) == []


def test_qr_plate_by_url_and_no_other_household(
    browser, server, district, api_as, axe, console_errors
):
    hid = district.plated["qr"]
    chip = district.chips[hid]
    browser.get(f"{server}/C/{chip.digits}")  # as a phone camera opens the plate's URL
    wait_url(browser, "/h")
    assert "东村" in wait_for(browser, "#place").text
    assert _session_cookie(browser) is not None
    notices = browser.find_element(By.ID, "notices").text  # the village's and the town's
    assert "停水通知" in notices and "防汛提醒" in notices
    _give_pin(browser, district.pins[hid])
    assert axe(browser) == []
    # another household's case: not by link, not by an edited URL
    other = next(c for c in api_as("worker2").get("/api/v1/cases").json())
    assert other["household_id"] != hid
    assert f"#{other['id']} " not in browser.find_element(By.ID, "app").text
    for path in (
        f"/api/v1/household/cases/{other['id']}",
        f"/api/v1/cases/{other['id']}",
        f"/api/v1/cases/{other['id']}/request-photos",
    ):
        assert _fetch_status(browser, path) in (403, 404), path
    assert console_errors(browser) == []


@pytest.mark.parametrize("kind", ["forged", "revoked"])
def test_refused_chip_opens_nothing(kind, browser, server, district, axe, console_errors, shot):
    if kind == "forged":
        chip = district.forged(district.plated["qr"])
        words = "伪造"
    else:
        chip = district.chips["330703101002-0002"]
        district.keyring().revoke([chip.serial], reason="lost")
        time.sleep(1.2)  # the server re-reads the keyring at most once a second
        words = "注销"
    browser.get(f"{server}/c/{chip.digits}")
    assert words in wait_for(browser, "#message").text
    assert _session_cookie(browser) is None
    assert httpx_path(browser) == f"/c/{chip.digits}"
    assert axe(browser) == []
    shot(browser, f"resident-refused-{kind}")
    assert _fetch_status(browser, "/api/v1/household") == 401
    browser.get(server + "/h")
    assert wait_for(browser, "#scan-again").get_attribute("href").endswith("/scan")
    # the refusal page itself answers 403 (Chromium logs it); nothing else went wrong
    assert [e for e in console_errors(browser) if "/c/" not in e] == []


def httpx_path(browser) -> str:
    import httpx

    return httpx.URL(browser.current_url).path


def test_scan_page_without_a_camera_offers_the_photo_fallback(
    browser, server, axe, console_errors, shot
):
    browser.get(server + "/scan")
    wait_for(browser, "#scanner-guide")
    shot(browser, "resident-scan")
    # no camera: the guidance says to take a photo instead
    WebDriverWait(browser, 10).until(
        lambda d: "拍照" in d.find_element(By.ID, "scanner-guide").text
    )
    assert browser.find_element(By.ID, "scanner-file").get_attribute("capture") == "environment"
    assert axe(browser) == []
    assert console_errors(browser) == []


def test_english_refusal_in_plain_words(make_browser, server, district):
    b = make_browser(lang="en")
    b.get(f"{server}/c/{district.forged(district.plated['qr']).digits}")
    assert "may be forged" in wait_for(b, "#message").text


def test_withdraw_a_request_from_the_page(browser, server, district, api_as, console_errors):
    hid = f"{district.chips[district.plated['qr']].village}-0004"
    w1 = api_as("worker2")  # W2 looks after the household
    r = w1.post("/api/v1/cases", json={"type": "other", "title": "修院门", "household_id": hid})
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    browser.get(f"{server}/C/{district.chips[hid].digits}")
    wait_url(browser, "/h")
    _give_pin(browser, district.pins[hid])
    wait_for(browser, f"#withdraw-{cid}").click()  # the first tap only asks
    assert w1.get(f"/api/v1/cases/{cid}").json()["state"] == "submitted"
    wait_for(browser, f"#withdraw-yes-{cid}").click()
    badge = f"#case-{cid} .badge"  # read in one script: the list is re-drawn meanwhile
    WebDriverWait(browser, 10).until(
        lambda b: (
            "已撤回"
            in b.execute_script(
                "const e = document.querySelector(arguments[0]); return e ? e.textContent : '';",
                badge,
            )
        )
    )
    card = browser.find_element(By.ID, f"case-{cid}")
    assert card.get_attribute("data-state") == "rejected"
    assert not card.find_elements(By.ID, f"withdraw-{cid}")  # closed: nothing to withdraw
    after = w1.get(f"/api/v1/cases/{cid}").json()
    assert after["state"] == "rejected" and after["reject_reason"] == "withdrawn"
    assert console_errors(browser) == []
