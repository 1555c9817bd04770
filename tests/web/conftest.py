"""Browser tests of the pages (issue 13): a seeded district, the real app on uvicorn, and
headless Chromium (Debian's ``chromium`` + ``chromium-driver``) driven by Selenium.

Fixtures (docs/pages.md): ``district`` (session: keyring, register, staff accounts with
known passwords, household PINs, chips in every form, snowflake/QR plate images, a few
cases, ratings and visits), ``server`` (session: the app on a free loopback port, its base
URL), ``browser`` / ``make_browser(fake_video=None)`` (360x640 headless Chromium), and the
helpers ``login``, ``axe``, ``console_errors``, ``shot``.

Without Chromium the tests skip with a message saying what to install, except when
``CHIPKIT_REQUIRE_BROWSER=1`` (scripts/test.sh sets it as root with apt): then they fail.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from pagetools import staff_client, wait_for  # noqa: F401 - helpers for the page tests

from chipkit import token as tk
from chipkit.cases import CaseService
from chipkit.keys import Keyring
from chipkit.serve import Accounts, ServeConfig, create_app, issue_pins
from chipkit.serve.store import open_database

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "src" / "chipkit" / "serve" / "static" / "build"
SCREENS = Path(__file__).resolve().parent / "_screens"
CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
CHROMEDRIVER = "chromedriver"

V1, V2, TOWN, DISTRICT = "330703101001", "330703101002", "330703101", "330703"
PASSWORD = "demo-only password 1"
URL_PREFIX = "HTTPS://JD.EXAMPLE.CN/C/"
CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)

REGISTER = f"""household_id,village_code,village_name,town,district,grid,worker_id,worker_name,worker_phone,address,lat,lon,role,unit
{V1}-0001,{V1},东村,孝顺镇,金东区,第一网格,W1,陈晓琳,13905797037,东村1号,29.100000,119.700000,,
{V1}-0002,{V1},东村,孝顺镇,金东区,第一网格,W1,陈晓琳,13905797037,东村2号,29.100500,119.700000,,
{V1}-0003,{V1},东村,孝顺镇,金东区,第一网格,W1,陈晓琳,13905797037,东村3号,29.101000,119.700500,,
{V1}-0004,{V1},东村,孝顺镇,金东区,第二网格,W2,李建国,13705791234,东村4号,29.110000,119.710000,,
{V1}-0007,{V1},东村,孝顺镇,金东区,第二网格,W2,李建国,13705791234,东村7号,29.110500,119.710000,,
{V1}-0008,{V1},东村,孝顺镇,金东区,第二网格,W2,李建国,13705791234,东村8号,29.111000,119.710000,,
{V2}-0001,{V2},西村,孝顺镇,金东区,西村网格,W3,王丽,13605795678,西村1号,29.200000,119.800000,,
{V2}-0002,{V2},西村,孝顺镇,金东区,西村网格,W3,王丽,13605795678,西村2号,29.200500,119.800000,,
,,,,,,V1,东村干部,,,,,village,{V1}
,,,,,,T1,孝顺镇干部,,,,,town,{TOWN}
,,,,,,D1,金东区干部,,,,,district,{DISTRICT}
"""

#: role -> (username, account settings); every password is PASSWORD
USERS: dict[str, tuple[str, dict[str, str]]] = {
    "worker": ("w1", {"worker_id": "W1"}),
    "worker2": ("w2", {"worker_id": "W2"}),
    "worker3": ("w3", {"worker_id": "W3"}),
    "village": ("v1", {"worker_id": "V1"}),
    "town": ("t1", {"worker_id": "T1"}),
    "district": ("d1", {"worker_id": "D1"}),
    "clerk": ("clerk1", {"role": "clerk", "unit_id": V1}),
    "admin": ("admin", {"role": "admin"}),
}
USERS["officer"] = USERS["town"]


@dataclass
class Chip:
    """One household's plate: the chip in every form the pages meet."""

    household_id: str
    village: str
    serial: int
    text: str  # CK1:... (QR text form)
    raw: bytes  # the binary token (what a snowflake carries)
    url: str  # URL form (HTTPS://.../C/<digits>)

    @property
    def digits(self) -> str:
        return self.url.rpartition("/")[2]


@dataclass
class District:
    root: Path
    db: Path
    keys: Path
    data_dir: Path
    chips: dict[str, Chip]
    pins: dict[str, str]
    users: dict[str, tuple[str, dict[str, str]]]
    password: str = PASSWORD
    plates: dict[str, Path] = field(default_factory=dict)  # carrier -> the plate PNG
    plated: dict[str, str] = field(default_factory=lambda: dict(PLATED))  # carrier -> household

    def keyring(self) -> Keyring:
        return Keyring.open(self.keys, None)

    def username(self, role: str) -> str:
        return self.users[role][0]

    def forged(self, household_id: str) -> Chip:
        """A chip for the household sealed by another office's keyring: it must not verify."""
        other = Keyring.init(self.root / f"forger-{time.monotonic_ns()}", passphrase=None)
        return _chip(other, household_id, self.chips[household_id].village)

    def reissue(self, household_id: str) -> Chip:
        """A fresh plate for the household (the old one keeps verifying until revoked)."""
        c = _chip(self.keyring(), household_id, self.chips[household_id].village)
        self.chips[household_id] = c
        return c


def _chip(kr: Keyring, household_id: str, village: str) -> Chip:
    text, claims = kr.seal(household_id, village)
    raw = tk.from_text(text)
    return Chip(household_id, village, int(claims.serial), text, raw, tk.to_text(raw, URL_PREFIX))


def _seed_cases(svc: CaseService, chips: dict[str, Chip]) -> None:
    """A few cases, ratings, visits and a village and a town notice, so lists, the
    household page and the dashboard have data."""
    h2, h4 = chips[f"{V1}-0002"], chips[f"{V1}-0004"]
    c = svc.submit("proxy", "代办医保", "帮忙续缴医保", {"service": "医保"}, token=h2.text)
    svc.accept(c["id"], "W1")
    svc.start(c["id"], "W1")
    svc.resolve(c["id"], "W1", "已办好")
    svc.rate(c["id"], 5, True, household_id=h2.household_id, credential="household")
    svc.submit("dispute", "邻里纠纷", "", {"parties": ["甲", "乙"]}, token=h4.text)
    svc.submit("hazard", "路灯不亮", "", {"severity": "low"}, token=chips[f"{V2}-0001"].text)
    svc.post_notice(V1, "停水通知", "明天上午8点至12点东村停水", "V1")
    svc.post_notice(TOWN, "防汛提醒", "孝顺镇近日有暴雨，请注意安全", "T1")
    svc.checkin("W1", h2.text, gps="29.1005,119.7,10")
    svc.checkin("W3", chips[f"{V2}-0002"].text, gps="29.2005,119.8,12")


PLATED = {"snowflake": f"{V1}-0001", "qr": f"{V1}-0003"}  # carrier -> the household


def _issue_plates(kr: Keyring, root: Path) -> tuple[dict[str, Path], dict[str, Chip]]:
    """Real plates (chipkit.plates, PNG) for two households: a snowflake plate and a
    URL-form QR plate; their chips are read back from the plate images."""
    from chipkit.plates import BatchOptions, run_batch
    from chipkit.register import read_register
    from chipkit.scan import scan_image

    header, *rows = REGISTER.splitlines()
    paths: dict[str, Path] = {}
    chips: dict[str, Chip] = {}
    for carrier, hid in PLATED.items():
        reg = root / f"plates-{carrier}.csv"
        reg.write_text(header + "\n" + next(r for r in rows if r.startswith(hid)) + "\n", "utf-8")
        out = root / f"plates-{carrier}"
        opts = BatchOptions(out=out, fmt="png", carrier=carrier, jobs=1)
        if carrier == "qr":
            opts.url_prefix = URL_PREFIX
        res = run_batch(read_register(reg), kr, opts)
        assert res.counts["issued"] == 1, res.counts
        png = next(out.glob(f"{hid}-*.png"))
        found = [r for r in scan_image(png.read_bytes(), kr.verifier()) if r.status.value == "ok"]
        assert found, f"the {carrier} plate does not scan back"
        raw = tk.from_text(found[0].chip)
        text = tk.to_text(raw)
        chips[hid] = Chip(hid, V1, int(found[0].serial), text, raw, tk.to_text(raw, URL_PREFIX))
        paths[carrier] = png
    return paths, chips


@pytest.fixture(scope="session")
def district(tmp_path_factory: pytest.TempPathFactory) -> District:
    root = tmp_path_factory.mktemp("district")
    keys = root / "keys"
    kr = Keyring.init(keys, passphrase=None)
    reg = root / "register.csv"
    reg.write_text(REGISTER, encoding="utf-8")
    db = root / "cases.sqlite"
    svc = CaseService(open_database(db), verifier=kr.verifier())
    svc.import_register(reg)
    hids = [line.split(",")[0] for line in REGISTER.splitlines()[1:] if line.split(",")[0]]
    plates, chips = _issue_plates(kr, root)
    for hid in hids:
        chips.setdefault(hid, _chip(kr, hid, hid.rsplit("-", 1)[0]))
    acc = Accounts(svc.db, CHEAP)
    for username, kw in {u: k for u, k in USERS.values()}.items():
        acc.add(username, PASSWORD, **kw)
    pins = dict(issue_pins(svc.db, hasher=CHEAP))
    _seed_cases(svc, chips)
    svc.db.dispose()
    return District(root, db, keys, root / "data", chips, pins, dict(USERS), plates=plates)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def server(district: District) -> Iterator[str]:
    """The real app on uvicorn (a thread) over the district; yields its base URL."""
    import uvicorn

    cfg = ServeConfig(
        db=district.db,
        keys=district.keys,
        data_dir=district.data_dir,
        password_hasher=CHEAP,
        pin_hasher=CHEAP,
        sweep_secs=0,
    )
    app = create_app(cfg)
    port = _free_port()
    srv = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    th = threading.Thread(target=srv.run, name="chipkit-test-server", daemon=True)
    th.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while not srv.started:
        if time.monotonic() > deadline or not th.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    yield base
    srv.should_exit = True
    th.join(10)
    app.state.chipkit.db.dispose()


@pytest.fixture(autouse=True)
def _fresh_rate_counters(request: pytest.FixtureRequest) -> None:
    """Every page test starts with empty rate-limit counters. All browsers of one test process
    come from 127.0.0.1 and share the session's server, so the sessions, refused chips and
    photos of earlier tests (which ones depends on how xdist splits them) would otherwise
    count against a later test. The limits themselves are tested in tests/serve."""
    if "server" not in request.fixturenames:
        return
    import sqlite3

    district: District = request.getfixturevalue("district")
    with sqlite3.connect(district.db) as conn:
        conn.execute("DELETE FROM ck_serve_throttle")


@pytest.fixture()
def api_as(server: str, district: District) -> Iterator[Callable[[str], httpx.Client]]:
    """api_as("worker") -> an httpx client logged in as that role (closed after the test)."""
    made: list[httpx.Client] = []

    def make(role: str) -> httpx.Client:
        made.append(staff_client(server, district, role))
        return made[-1]

    yield make
    for c in made:
        c.close()


# ------------------------------------------------------------------ the browser


def _find_chromium() -> tuple[str, str] | None:
    driver = shutil.which(CHROMEDRIVER)
    for name in CHROMIUM:
        binary = shutil.which(name)
        if binary and driver:
            return binary, driver
    return None


def _need_browser() -> tuple[str, str]:
    found = _find_chromium()
    try:
        import selenium  # noqa: F401
    except ImportError:
        found = None
    if found is None or not (BUILD / "base.css").exists():
        why = (
            "headless Chromium is missing: install Debian's chromium and chromium-driver "
            "(scripts/setup.sh test does it as root) and selenium (the test extra)"
            if found is None
            else "the pages' assets are not built: run npm ci && npm run build"
        )
        if os.environ.get("CHIPKIT_REQUIRE_BROWSER") == "1":
            pytest.fail(f"CHIPKIT_REQUIRE_BROWSER=1 but {why}")
        pytest.skip(why)
    return found


FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=360,640",
)


@pytest.fixture()
def make_browser(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """make_browser(fake_video=None, lang="zh-CN") -> a Selenium driver (quit after the test)."""
    binary, driver_path = _need_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    made: list[Any] = []

    def make(fake_video: Path | None = None, lang: str = "zh-CN") -> Any:
        opts = webdriver.ChromeOptions()
        opts.binary_location = binary
        for f in FLAGS:
            opts.add_argument(f)
        opts.add_argument(f"--user-data-dir={tmp_path / f'profile{len(made)}'}")
        opts.add_argument(f"--lang={lang}")
        opts.add_experimental_option("prefs", {"intl.accept_languages": lang})
        if fake_video is not None:
            opts.add_argument("--use-fake-device-for-media-stream")
            opts.add_argument("--use-fake-ui-for-media-stream")
            opts.add_argument(f"--use-file-for-fake-video-capture={fake_video}")
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        d = webdriver.Chrome(options=opts, service=Service(driver_path))
        # the viewport of a 360x640 phone (headless windows have a larger minimum width)
        d.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": 360, "height": 640, "deviceScaleFactor": 1, "mobile": False},
        )
        d.set_page_load_timeout(30)
        d.set_script_timeout(30)
        made.append(d)
        return d

    yield make
    for d in made:
        try:
            d.quit()
        except Exception:  # noqa: BLE001 - already gone
            pass


@pytest.fixture()
def browser(make_browser: Callable[..., Any]) -> Any:
    """Headless Chromium at 360x640 with a fresh profile."""
    return make_browser()


@pytest.fixture()
def login(server: str, district: District) -> Callable[[Any, str], dict[str, Any]]:
    """login(browser, role): through the /login page; returns {username, role, path}."""

    def do(browser: Any, role: str) -> dict[str, Any]:
        from selenium.webdriver.common.by import By

        username = district.username(role)
        browser.get(server + "/login")
        wait_for(browser, "#username").send_keys(username)
        browser.find_element(By.ID, "password").send_keys(district.password)
        browser.find_element(By.ID, "login-submit").click()
        from selenium.webdriver.support.ui import WebDriverWait

        WebDriverWait(browser, 15).until(lambda d: httpx.URL(d.current_url).path != "/login")
        return {"username": username, "role": role, "path": httpx.URL(browser.current_url).path}

    return do


@pytest.fixture()
def axe() -> Callable[[Any], list[dict[str, Any]]]:
    """axe(browser) -> the serious and critical violations of the page as it is now."""
    src = (BUILD / "vendor" / "axe.min.js").read_text("utf-8")

    def run(browser: Any) -> list[dict[str, Any]]:
        browser.execute_script(src)
        result = browser.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {resultTypes: ['violations']})"
            ".then(r => done(JSON.stringify(r.violations)), e => done(JSON.stringify({error: String(e)})));"
        )
        found = json.loads(result)
        if isinstance(found, dict):
            raise AssertionError(f"axe failed: {found['error']}")
        return [
            {
                "id": v["id"],
                "impact": v["impact"],
                "help": v["help"],
                "nodes": [n["target"] for n in v["nodes"]][:5],
            }
            for v in found
            if v.get("impact") in ("serious", "critical")
        ]

    return run


@pytest.fixture()
def console_errors() -> Callable[..., list[str]]:
    """console_errors(browser, api=False) -> SEVERE browser log lines since the last call.

    Refusals the page handles itself (4xx answers of /api/ requests, logged by Chromium as
    "Failed to load resource") are left out unless ``api=True``.
    """

    def read(browser: Any, api: bool = False) -> list[str]:
        out = []
        for e in browser.get_log("browser"):
            if e.get("level") != "SEVERE":
                continue
            msg = str(e.get("message", ""))
            if not api and e.get("source") == "network" and "/api/v1/" in msg:
                continue
            out.append(msg)
        return out

    return read


@pytest.fixture()
def shot() -> Callable[[Any, str], Path]:
    """shot(browser, name) -> tests/web/_screens/<name>.png (git-ignored)."""

    def take(browser: Any, name: str) -> Path:
        SCREENS.mkdir(exist_ok=True)
        p = SCREENS / f"{name}.png"
        browser.save_screenshot(str(p))
        return p

    return take
