"""The grid worker's pages in a real browser: queue by SLA deadline, a case handled to
resolved (with a photo), another grid's case refused, check-in by scanning the plate with a
fake camera and a fake position (the visit's flags reach the town officer, not the worker)."""

from __future__ import annotations

import io
import time
from pathlib import Path

import httpx
import pytest
from pagetools import wait_for
from PIL import Image

from chipkit.cases import CaseService
from chipkit.serve.store import open_database

pytestmark = pytest.mark.browser

V1, V2 = "330703101001", "330703101002"


def _seed(district) -> tuple[int, int, int]:
    """(overdue, fresh, another grid's case): two cases in W1's queue, one of W3's."""
    svc = CaseService(open_database(district.db))
    now = int(time.time())
    hid = f"{V1}-0003"
    overdue = svc.submit(
        "hazard", "楼道电线裸露", "三楼楼道", {"severity": "high"},
        household_id=hid, worker_id="W1", at=now - 3 * 3600,
    )["id"]  # fmt: skip
    fresh = svc.submit("other", "咨询低保政策", "", household_id=hid, worker_id="W1", at=now)["id"]
    foreign = svc.submit("other", "西村的事", "", household_id=f"{V2}-0002", worker_id="W3")["id"]
    svc.db.dispose()
    return overdue, fresh, foreign


def _queue_ids(browser) -> list[int]:
    wait_for(browser, "#queue, #queue-empty")
    return [
        int(li.get_attribute("data-case-id"))
        for li in browser.find_elements("css selector", "#queue li.qcase")
    ]


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (800, 600), (40, 120, 60)).save(buf, "JPEG")
    return buf.getvalue()


def _loaded(browser, css: str) -> None:
    """The image is shown (fetched and decoded)."""
    from selenium.webdriver.support.ui import WebDriverWait

    img = wait_for(browser, css)
    WebDriverWait(browser, 10).until(
        lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img)
    )


def _phone(browser) -> None:
    """A 360 x 640 phone viewport, whatever size the headless window came up at."""
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 360, "height": 640, "deviceScaleFactor": 1, "mobile": True},
    )


def _click(browser, css: str) -> None:
    el = wait_for(browser, css)
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", el)
    el.click()


def test_queue_case_resolve_and_refusal(
    server, district, browser, login, axe, shot, console_errors, tmp_path: Path
):
    overdue, fresh, foreign = _seed(district)
    _phone(browser)
    assert login(browser, "worker")["path"] == "/w"
    ids = _queue_ids(browser)
    assert ids.index(overdue) < ids.index(fresh)  # overdue first
    card = browser.find_element("css selector", f'li[data-case-id="{overdue}"]')
    assert "超时" in card.find_element("css selector", ".due-over").text
    assert "/ 3 户" in wait_for(browser, "#coverage-text").text  # 第一网格 has 3 households
    assert axe(browser) == []
    shot(browser, "worker-queue")

    with httpx.Client(base_url=server) as home:  # the resident adds a photo to the request
        r = home.post(
            "/api/v1/households/session", json={"chip": district.chips[f"{V1}-0003"].text}
        )
        home.headers["X-CSRF-Token"] = r.json()["csrf"]
        r = home.post(
            f"/api/v1/household/cases/{overdue}/photos", files={"photo": ("p.jpg", _jpeg())}
        )
        assert r.status_code == 201, r.text
    card.find_element("css selector", "a").click()
    assert "楼道电线裸露" in wait_for(browser, "h1").text
    _loaded(browser, "#request-photos img")  # "photo if any"
    assert axe(browser) == []
    shot(browser, "worker-case")
    _click(browser, "#do-accept")
    _click(browser, '#case-badges[data-state="accepted"] ~ .actions #do-start')
    wait_for(browser, '#case-badges[data-state="in_progress"]')
    _click(browser, "#action-resolve > summary")
    wait_for(browser, "#resolve-note").send_keys("已更换电线")
    photo = tmp_path / "fixed.jpg"
    photo.write_bytes(_jpeg())
    browser.find_element("id", "resolve-photo").send_keys(str(photo))
    _click(browser, "#form-resolve button[type=submit]")
    wait_for(browser, "#no-actions")
    _loaded(browser, "#evidence-photos img")
    assert "已办结" in browser.find_element("css selector", "main").text
    assert [
        e.get_attribute("data-kind") for e in browser.find_elements("css selector", "#timeline li")
    ][-3:] == ["accept", "start", "resolve"]

    _click(browser, 'a[href="/w"]')
    ids = _queue_ids(browser)
    assert overdue not in ids and fresh in ids  # resolved: out of the open queue

    assert console_errors(browser) == []

    # another grid's case by editing the URL: a refusal page, nothing of the case shown
    r = httpx.get(f"{server}/w/cases/{foreign}", cookies=browser_cookies(browser))
    assert r.status_code == 404 and "西村的事" not in r.text
    browser.get(f"{server}/w/cases/{foreign}")
    assert "不属于您的网格" in wait_for(browser, "#refused").text
    assert "西村的事" not in browser.page_source
    assert axe(browser) == []
    errors = console_errors(browser)  # only the refusal's own 404
    assert all(f"/w/cases/{foreign} " in e and "404" in e for e in errors), errors

    browser.get(f"{server}/w?lang=en")  # English available
    assert wait_for(browser, "h1").text == "My queue" and fresh in _queue_ids(browser)
    assert "left" in browser.find_element("css selector", f'li[data-case-id="{fresh}"]').text


def browser_cookies(browser) -> dict[str, str]:
    return {c["name"]: c["value"] for c in browser.get_cookies()}


def test_checkin_by_scanning_the_plate(
    server, district, make_browser, login, api_as, axe, shot, console_errors, tmp_path: Path
):
    from fakecam import plate_video

    plate = district.plates.get("snowflake") or district.plates["qr"]
    browser = make_browser(fake_video=plate_video(plate, tmp_path / "plate.y4m"))
    _phone(browser)
    # far from the household (29.1, 119.7): the library flags the visit gps_far
    browser.execute_cdp_cmd(
        "Browser.grantPermissions", {"origin": server, "permissions": ["geolocation"]}
    )
    browser.execute_cdp_cmd(
        "Emulation.setGeolocationOverride",
        {"latitude": 29.3, "longitude": 119.9, "accuracy": 12},
    )
    login(browser, "worker")
    browser.get(server + "/w/checkin")
    assert "±12" in wait_for(browser, "#gps[data-accuracy]").text  # the accuracy shown
    assert axe(browser) == []
    _click(browser, "#start-scan")
    done = wait_for(browser, "#checkin-done", timeout=30)
    assert "东村1号" in done.text
    shot(browser, "worker-checkin")
    page = browser.find_element("css selector", "main").text
    assert "gps_far" not in page and "flag" not in page.lower()
    assert console_errors(browser) == []

    hid = f"{V1}-0001"
    mine = api_as("worker").get("/api/v1/visits").json()
    visit = next(v for v in mine if v["household_id"] == hid)
    assert "flags" not in visit and visit["accuracy"] == 12
    seen = api_as("town").get("/api/v1/visits").json()  # the supervisor's view
    assert "gps_far" in next(v for v in seen if v["id"] == visit["id"])["flags"]


def test_worker_pages_need_a_case_handling_staff_session(server, api_as):
    r = httpx.get(server + "/w/cases/1", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/w/cases/1"
    r = api_as("clerk").get("/w")  # a clerk handles no cases: a refusal page, not the queue
    assert r.status_code == 403 and '"reason":"role"' in r.text


def _state(browser, state: str) -> None:
    wait_for(browser, f'#case-badges[data-state="{state}"]')


def _submit_form(browser, op: str, fill) -> None:
    """Open the action's <details>, fill its fields, submit it."""
    _click(browser, f"#action-{op} > summary")
    fill()
    _click(browser, f"#form-{op} button[type=submit]")


def test_wait_resume_escalate_transfer_reject_by_their_forms(
    server, district, browser, login, console_errors, api_as
):
    """The forms the resolve test does not reach, clicked as a worker would: wait (with its
    required note), resume, escalate (the case goes to the town's officer), transfer (to a
    colleague of the village) and reject as a duplicate; each change checked over the API."""
    from selenium.webdriver.support.ui import Select

    svc = CaseService(open_database(district.db))
    hid = f"{V1}-0003"
    a, b, c = (
        svc.submit("other", title, "", household_id=hid, worker_id="W1")["id"]
        for title in ("门前路灯不亮", "邻里噪音", "路灯又报了一次")
    )
    svc.db.dispose()
    _phone(browser)
    assert login(browser, "worker")["path"] == "/w"
    officer = api_as("town")  # the town officer sees every case of its villages

    browser.get(f"{server}/w/cases/{a}")
    _click(browser, "#do-accept")
    _state(browser, "accepted")
    _click(browser, "#action-wait > summary")
    _click(browser, "#form-wait button[type=submit]")  # the note is required: nothing sent
    assert wait_for(browser, "#wait-note").get_attribute("aria-invalid") == "true"
    assert officer.get(f"/api/v1/cases/{a}").json()["state"] == "accepted"
    browser.find_element("id", "wait-note").send_keys("等村民回来再处理")
    _click(browser, "#form-wait button[type=submit]")
    _state(browser, "waiting_on_resident")
    _click(browser, "#do-resume")
    _state(browser, "in_progress")
    _submit_form(
        browser, "escalate", lambda: wait_for(browser, "#escalate-reason").send_keys("需要镇里协调")
    )
    _state(browser, "submitted")
    got = officer.get(f"/api/v1/cases/{a}").json()
    assert (got["state"], got["level"], got["worker_id"]) == ("submitted", "town", "T1")
    kinds = [
        e.get_attribute("data-kind") for e in browser.find_elements("css selector", "#timeline li")
    ]
    assert kinds == ["submit", "accept", "wait", "resume", "escalate"], kinds

    browser.get(f"{server}/w/cases/{b}")

    def to_colleague() -> None:
        pick = Select(wait_for(browser, "#transfer-to"))
        options = [o.get_attribute("value") for o in pick.options]
        assert "W2" in options and "W1" not in options, options
        pick.select_by_value("W2")
        browser.find_element("id", "transfer-reason").send_keys("属第二网格")

    _submit_form(browser, "transfer", to_colleague)
    wait_for(browser, "#no-actions, #refused, #toast")
    got = officer.get(f"/api/v1/cases/{b}").json()
    assert (got["state"], got["worker_id"]) == ("submitted", "W2"), got

    browser.get(f"{server}/w/cases/{c}")

    def duplicate() -> None:
        Select(wait_for(browser, "#reject-reason")).select_by_value("duplicate")
        browser.find_element("id", "reject-dup").send_keys(str(a))

    _submit_form(browser, "reject", duplicate)
    _state(browser, "rejected")
    got = officer.get(f"/api/v1/cases/{c}").json()
    assert got["state"] == "rejected", got
    assert console_errors(browser) == []
