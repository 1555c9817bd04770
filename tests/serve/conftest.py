"""Fixtures for the service tests: a small district, a keyring, a fake clock, the app, and
logged-in HTTP clients (httpx through Starlette's TestClient, i.e. against the ASGI app)."""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from chipkit.cases import CaseService
from chipkit.keys import Keyring
from chipkit.serve import Accounts, ServeConfig, create_app, issue_pins
from chipkit.serve.store import open_database

V1 = "330703101001"
V2 = "330703101002"
TOWN = "330703101"
DISTRICT = "330703"
T0 = 1_790_000_000
PASSWORD = "correct horse battery"
# Argon2id with tiny costs so the suite stays fast; production uses argon2-cffi's defaults
CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)

REGISTER = f"""household_id,village_code,village_name,town,district,grid,worker_id,worker_name,address,lat,lon,role,unit
H-0001,{V1},东村,孝顺镇,金东区,G1,W1,张三,1号,29.100000,119.700000,,
H-0002,{V1},东村,孝顺镇,金东区,G1,W1,张三,2号,29.100500,119.700000,,
H-0003,{V1},东村,孝顺镇,金东区,G2,W2,李四,3号,29.110000,119.710000,,
H-0004,{V2},西村,孝顺镇,金东区,G3,W3,王五,4号,29.200000,119.800000,,
,,,,,,V1,村干部,,,,village,{V1}
,,,,,,T1,镇干部,,,,town,{TOWN}
,,,,,,D1,区干部,,,,district,{DISTRICT}
,,,,,,V2,西村干部,,,,village,{V2}
"""

USERS = {
    "w1": {"worker_id": "W1"},
    "w2": {"worker_id": "W2"},
    "w3": {"worker_id": "W3"},
    "v1": {"worker_id": "V1"},
    "v2": {"worker_id": "V2"},
    "t1": {"worker_id": "T1"},
    "d1": {"worker_id": "D1"},
    "clerk1": {"role": "clerk", "unit_id": V1},
    "admin": {"role": "admin"},
}


class Clock:
    def __init__(self, t: int = T0) -> None:
        self.t = t

    def __call__(self) -> int:
        return self.t

    def advance(self, secs: int) -> None:
        self.t += secs


@pytest.fixture(scope="session")
def keyring(tmp_path_factory: pytest.TempPathFactory) -> Keyring:
    return Keyring.init(tmp_path_factory.mktemp("keys") / "kr", passphrase=None)


@pytest.fixture(scope="session")
def chips(keyring: Keyring) -> dict[str, str]:
    villages = {"H-0001": V1, "H-0002": V1, "H-0003": V1, "H-0004": V2}
    return {hid: keyring.seal(hid, v)[0] for hid, v in villages.items()}


@pytest.fixture()
def clock() -> Clock:
    return Clock()


def _prepare(url: str | Path, tmp_path: Path) -> dict[str, str]:
    db = open_database(url)
    reg = tmp_path / "register.csv"
    reg.write_text(REGISTER, encoding="utf-8")
    CaseService(db).import_register(reg)
    acc = Accounts(db, CHEAP)
    for name, kw in USERS.items():
        acc.add(name, PASSWORD, **kw)
    pins = dict(issue_pins(db, hasher=CHEAP))
    db.dispose()
    return pins


_TEMPLATE: dict[str, tuple[Path, dict[str, str]]] = {}


def prepare(url: str | Path, tmp_path: Path) -> dict[str, str]:
    """Register imported, staff accounts made, PINs issued; returns the PINs.

    Migrating and filling a database costs most of a test's setup, so an SQLite database is
    a copy of one prepared once per test process (the same rows, the same PINs; every test
    still gets its own file). PostgreSQL databases are prepared for real."""
    if str(url).startswith("postgresql"):
        return _prepare(url, tmp_path)
    if "db" not in _TEMPLATE:
        folder = Path(tempfile.mkdtemp(prefix="chipkit-serve-template-"))
        atexit.register(shutil.rmtree, folder, True)
        _TEMPLATE["db"] = (folder / "template.sqlite", _prepare(folder / "template.sqlite", folder))
    template, pins = _TEMPLATE["db"]
    with sqlite3.connect(template) as src, sqlite3.connect(url) as dst:
        src.backup(dst)  # a consistent copy, WAL or not
    (tmp_path / "register.csv").write_text(REGISTER, encoding="utf-8")
    return dict(pins)


@pytest.fixture()
def district(tmp_path: Path, keyring: Keyring, clock: Clock):
    """(app, pins) over a fresh SQLite database."""
    url = tmp_path / "cases.sqlite"
    pins = prepare(url, tmp_path)
    cfg = ServeConfig(
        db=url, verifier=keyring.verifier(), clock=clock, password_hasher=CHEAP, pin_hasher=CHEAP
    )
    app = create_app(cfg)
    yield app, pins
    app.state.chipkit.db.dispose()


@pytest.fixture()
def app(district):
    return district[0]


@pytest.fixture()
def pins(district):
    return district[1]


def new_client(app, **kw) -> TestClient:
    return TestClient(app, raise_server_exceptions=False, **kw)


def login(app, username: str, **kw) -> TestClient:
    c = new_client(app, **kw)
    r = c.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    c.headers["X-CSRF-Token"] = r.json()["csrf"]
    return c


def household(app, chip: str, pin: str | None = None) -> TestClient:
    c = new_client(app)
    body = {"chip": chip} if pin is None else {"chip": chip, "pin": pin}
    r = c.post("/api/v1/households/session", json=body)
    assert r.status_code == 200, r.text
    c.headers["X-CSRF-Token"] = r.json()["csrf"]
    return c


@pytest.fixture()
def staff(app):
    """staff("w1") -> a client logged in as w1."""
    return lambda name, **kw: login(app, name, **kw)


@pytest.fixture()
def anon(app):
    """anon() -> a client with no session."""
    return lambda **kw: new_client(app, **kw)


@pytest.fixture()
def resident(app):
    """resident(chip, pin=None) -> a client holding a household session."""
    return lambda chip, pin=None: household(app, chip, pin)


@pytest.fixture()
def register_file(tmp_path: Path) -> Path:
    p = tmp_path / "register.csv"
    p.write_text(REGISTER, encoding="utf-8")
    return p


@pytest.fixture()
def password() -> str:
    return PASSWORD


CHIPKIT = [sys.executable, "-m", "chipkit_cli.main"]


def run_chipkit(
    *args: str, env: dict[str, str] | None = None, cwd=None
) -> subprocess.CompletedProcess:
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run(
        [*CHIPKIT, *args], capture_output=True, text=True, env=e, timeout=120, cwd=cwd
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Servers:
    """Start real `chipkit serve` processes; all are stopped at the end of the test."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []

    def __call__(self, args: list[str], cwd: Path | None = None, env: dict[str, str] | None = None):
        port = _free_port()
        e = dict(os.environ)
        e.update(env or {})
        proc = subprocess.Popen(
            [*CHIPKIT, "serve", "--port", str(port), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=cwd,
            env=e,
        )
        self.procs.append(proc)
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 60
        while time.time() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"serve exited: {proc.stdout.read() if proc.stdout else ''}")
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    return proc, base
            except httpx.HTTPError:
                time.sleep(0.2)
        raise AssertionError("serve did not come up")

    def stop(self, proc) -> str:
        if proc.poll() is None:
            proc.terminate()
        try:
            out, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        return out or ""


@pytest.fixture()
def server():
    s = Servers()
    yield s
    for p in s.procs:
        if p.poll() is None:
            s.stop(p)


@pytest.fixture()
def chipkit_cmd():
    return run_chipkit


@pytest.fixture()
def prepare_db():
    """prepare_db(url, tmp_path) -> PINs: register, staff accounts (cheap hashes), PINs."""
    return prepare


@pytest.fixture()
def keyed_app(tmp_path: Path, clock: Clock):
    """An app started with an issuing keyring of its own (plates, revocation, bundles)."""
    url = tmp_path / "keyed.sqlite"
    prepare(url, tmp_path)
    kr = Keyring.init(tmp_path / "keyring", passphrase=None)
    cfg = ServeConfig(
        db=url,
        keys=kr.path,
        clock=clock,
        password_hasher=CHEAP,
        pin_hasher=CHEAP,
        data_dir=tmp_path / "data",
    )
    app = create_app(cfg)
    yield app
    app.state.chipkit.db.dispose()
