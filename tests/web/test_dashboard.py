"""/dash in a real browser: the district officer's charts (drawn by ECharts, with data, no
console errors), drill-down by a table row and by a bar, the breadcrumb back, a period change
that re-queries, the CSV download with a BOM; a village officer refused another village."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from dash_seed import G31, G32, V3, seed_dashboard, viewport
from pagetools import wait_for

pytestmark = pytest.mark.browser

V1, V2, TOWN, DISTRICT = "330703101001", "330703101002", "330703101", "330703"


@pytest.fixture()
def seeded(district):
    seed_dashboard(district)
    return district


def _ready(browser, unit: str, timeout: float = 15.0) -> None:
    """Wait until the view shows ``unit`` (the breadcrumb's current item) and nothing loads."""
    from selenium.webdriver.support.ui import WebDriverWait

    def done(d) -> bool:
        return bool(
            d.execute_script(
                "const s = document.getElementById('status');"
                "const q = new URLSearchParams(location.search).get('unit') || '';"
                "return s && !s.textContent && q === arguments[0]"
                " && !!document.querySelector('#view nav, #dash-error');",
                unit,
            )
        )

    WebDriverWait(browser, timeout).until(done)


def _charts(browser) -> dict:
    got = browser.execute_script("return window.chipkitDash.charts()")
    return {c["id"]: c for c in got}


def _rows(browser) -> list[str]:
    return browser.execute_script(
        "return [...document.querySelectorAll('#report-table tbody tr')].map(r => r.dataset.unit)"
    )


def _click_row(browser, unit: str) -> None:
    browser.find_element("css selector", f'#report-table tr[data-unit="{unit}"] th a').click()


def _click_bar(browser, chart: str, series: int, index: int) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    el = browser.find_element("id", f"chart-{chart}")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", el)
    x, y = browser.execute_script(
        "return window.chipkitDash.point(arguments[0], arguments[1], arguments[2])",
        chart,
        series,
        index,
    )
    w, h = el.size["width"], el.size["height"]
    ActionChains(browser).move_to_element_with_offset(
        el, int(x - w / 2), int(y - h / 2)
    ).click().perform()


def test_district_officer_charts_drill_period_csv(
    browser, server, seeded, login, api_as, console_errors, shot, tmp_path: Path
):
    expected = api_as("district").get("/api/v1/reports").json()
    viewport(browser)  # a 360 x 640 phone
    assert login(browser, "district")["path"] == "/dash"
    _ready(browser, "")
    # the district's own figures and its towns, drawn as charts with their data
    assert browser.find_element("id", "kpi-cases").text.endswith(str(expected["total"]["cases"]))
    assert _rows(browser) == [TOWN]
    charts = _charts(browser)
    assert set(charts) == {"state", "rates", "rating"}
    for c in charts.values():
        assert c["width"] > 200 and c["height"] > 100 and c["series"]
    assert sum(sum(s["data"]) for s in charts["state"]["series"]) == expected["total"]["cases"]
    canvas = browser.find_element("css selector", "#chart-state canvas")
    assert canvas.size["width"] > 0 and canvas.size["height"] > 0
    assert console_errors(browser) == []
    # drill down: a table row (town -> villages), then a village, then a bar (grid -> workers)
    _click_row(browser, TOWN)
    _ready(browser, TOWN)
    assert _rows(browser) == [V1, V2, V3]
    _click_row(browser, V3)
    _ready(browser, V3)
    assert _rows(browser) == [G31, G32]
    rating = browser.find_element("css selector", f'tr[data-unit="{G32}"] td:nth-child(10)')
    assert rating.text.startswith("—")  # 2 ratings: the mean stays hidden
    # on the phone the page does not scroll sideways, the table does (inside its box)
    assert browser.execute_script(
        "const d = document.documentElement, w = document.querySelector('.table-wrap');"
        "return d.scrollWidth <= d.clientWidth && w.scrollWidth > w.clientWidth"
    )
    narrow = _charts(browser)["state"]["width"]
    assert narrow <= 360
    browser.execute_script("document.getElementById('h-state').scrollIntoView()")
    shot(browser, "dash-charts")
    viewport(browser, 1280, 800)  # a desktop: the charts follow their boxes
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 5).until(lambda d: _charts(d)["state"]["width"] > narrow + 100)
    viewport(browser)
    WebDriverWait(browser, 5).until(lambda d: _charts(d)["state"]["width"] <= 360)
    _click_bar(browser, "state", 0, 0)  # the first grid's bar
    _ready(browser, G31)
    assert _rows(browser) == ["W4"]
    crumbs = browser.find_elements("css selector", ".dash-crumbs li")
    assert [c.text for c in crumbs] == ["金东区", "孝顺镇", "南村", "南一网格"]
    # the breadcrumb back up, and the browser's Back button
    crumbs[2].find_element("tag name", "a").click()
    _ready(browser, V3)
    browser.back()
    _ready(browser, G31)
    # a period with no cases: the page asks again and shows nothing for it
    from selenium.webdriver.support.ui import Select

    Select(browser.find_element("id", "period")).select_by_value("custom")
    browser.execute_script(
        "document.getElementById('from').value = '2020-01-01';"
        "document.getElementById('to').value = '2020-01-31';"
    )
    browser.find_element("css selector", "#period-form button[type=submit]").click()
    wait_for(browser, "#period-shown")
    _ready(browser, G31)
    assert "period=custom" in browser.current_url
    assert "2020-01-01" in browser.find_element("id", "period-shown").text
    assert browser.find_element("id", "kpi-cases").text.endswith("0")
    # back to the last 30 days, at the town; the CSV downloads with a BOM
    browser.get(f"{server}/dash?unit={TOWN}")
    _ready(browser, TOWN)
    browser.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(tmp_path)}
    )
    browser.find_element("id", "csv").click()
    deadline = time.monotonic() + 10
    while not list(tmp_path.glob("report-*.csv")) and time.monotonic() < deadline:
        time.sleep(0.1)
    (got,) = tmp_path.glob("report-village-*.csv")
    data = got.read_bytes()
    assert data.startswith(b"\xef\xbb\xbfunit,name,cases,")
    assert [line.split(",")[0] for line in data.decode("utf-8-sig").splitlines()[1:]] == [
        V1,
        V2,
        V3,
    ]
    assert console_errors(browser) == []  # (an HTML tooltip's style attributes would show here)


def test_village_officer_sees_only_their_village(browser, server, seeded, login, console_errors):
    assert login(browser, "village")["path"] == "/dash"
    _ready(browser, "")
    assert _rows(browser) == [f"{V1}-第一网格", f"{V1}-第二网格"]
    assert [c.text for c in browser.find_elements("css selector", ".dash-crumbs li")] == ["东村"]
    for unit in (V2, V3, TOWN, G31):
        browser.get(f"{server}/dash?unit={unit}")
        _ready(browser, unit)
        assert "不在您的管辖范围" in browser.find_element("id", "dash-error").text
        assert not browser.find_elements("id", "report-table")
    assert console_errors(browser) == []


def test_dash_needs_a_login(server):
    r = httpx.get(server + "/dash?unit=330703", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/dash%3Funit%3D330703"
