"""The commands: `chipkit users`, `chipkit households pins` (in process) and `chipkit serve`
as a real process."""

from __future__ import annotations

import csv
import os

import httpx
from click.testing import CliRunner

from chipkit_cli.main import cli


def ck(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def test_users_and_pins_commands(tmp_path, register_file, password):
    db = str(tmp_path / "cases.sqlite")
    assert ck("cases", "import", str(register_file), "--db", db).exit_code == 0
    env = {"CHIPKIT_USER_PASSWORD": password}
    r = ck("users", "add", "w1", "--worker", "W1", "--db", db, env=env)
    assert r.exit_code == 0 and "grid of 330703101001-G1" in r.output
    r = ck("users", "add", "w1", "--worker", "W1", "--db", db, env=env)
    assert r.exit_code == 2 and "already exists" in r.output
    r = ck("users", "add", "w1bis", "--worker", "W1", "--db", db, env=env)
    assert r.exit_code == 2 and "already has the account w1" in r.output
    r = ck("users", "add", "x", "--worker", "NOPE", "--db", db, env=env)
    assert r.exit_code == 2 and "unknown worker NOPE" in r.output
    r = ck("users", "add", "c1", "--role", "clerk", "--unit", "nowhere", "--db", db, env=env)
    assert r.exit_code == 2 and "village" in r.output
    r = ck("users", "add", "c1", "--role", "clerk", "--unit", "330703101001", "--db", db, env=env)
    assert r.exit_code == 0
    r = ck(
        "users",
        "add",
        "weak",
        "--role",
        "admin",
        "--db",
        db,
        env={"CHIPKIT_USER_PASSWORD": "short"},
    )
    assert r.exit_code == 2 and "at least 10" in r.output
    out = tmp_path / "initial.csv"
    r = ck("users", "from-register", "--out", str(out), "--db", db)
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(out.open(encoding="utf-8-sig")))
    assert {row["username"] for row in rows} == {"W2", "W3", "V1", "T1", "D1", "V2"}
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    slips = tmp_path / "slips.csv"
    r = ck("households", "pins", "--db", db, "--village", "330703101001", "--out", str(slips))
    assert r.exit_code == 0, r.output
    pins = {
        row["household_id"]: row["pin"] for row in csv.DictReader(slips.open(encoding="utf-8-sig"))
    }
    assert set(pins) == {"H-0001", "H-0002", "H-0003"} and all(len(p) == 8 for p in pins.values())
    pdf = tmp_path / "slips.pdf"
    r = ck("households", "pins", "--db", db, "--household", "H-0004", "--out", str(pdf))
    assert r.exit_code == 0 and pdf.read_bytes().startswith(b"%PDF")
    r = ck("households", "pins", "--db", db, "--household", "H-9999", "--out", str(pdf) + ".csv")
    assert r.exit_code == 2 and "unknown household H-9999" in r.output
    assert ck("users", "disable", "W3", "--db", db).exit_code == 0
    listing = ck("users", "list", "--db", db).output
    assert "W3" in listing and "(disabled)" in listing
    assert ck("users", "passwd", "nobody", "--db", db, env=env).exit_code == 2


def test_households_pins_says_it_replaces_and_never_overwrites_a_slips_file(
    tmp_path, register_file, monkeypatch
):
    from chipkit.serve import check_pin
    from chipkit.serve.store import open_database

    db = str(tmp_path / "cases.sqlite")
    assert ck("cases", "import", str(register_file), "--db", db).exit_code == 0
    help_text = " ".join(ck("households", "pins", "--help").output.split())
    assert "This command DOES replace PINs" in help_text and "stops working" in help_text
    assert "unlike `chipkit plates --db`, which keeps the PIN" in help_text
    slips = tmp_path / "slips.csv"
    r = ck("households", "pins", "--db", db, "--household", "H-0001", "--out", str(slips))
    assert r.exit_code == 0 and "replaced: its old slip stopped working" in r.output, r.output
    first = slips.read_bytes()
    pin = next(csv.DictReader(slips.open(encoding="utf-8-sig")))["pin"]

    def holds() -> bool:
        d = open_database(db, create=False)
        try:
            return check_pin(d, "H-0001", pin)
        finally:
            d.dispose()

    # the same file again: refused, the first slips and PIN untouched
    r = ck("households", "pins", "--db", db, "--household", "H-0001", "--out", str(slips))
    assert r.exit_code == 2 and "never overwritten" in r.output and "no PIN was changed" in r.output
    assert slips.read_bytes() == first and holds()
    # slips that cannot be written change no PIN
    import chipkit.serve.slips as slips_mod

    def full_disk(pins):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(slips_mod, "slips_csv", full_disk)
    other = tmp_path / "other.csv"
    r = ck("households", "pins", "--db", db, "--household", "H-0001", "--out", str(other))
    assert r.exit_code == 2 and "No space left" in r.output and "no PIN was changed" in r.output
    assert holds() and not list(tmp_path.glob("*other.csv*"))


def test_real_server_process(tmp_path, keyring, chips, password, server, prepare_db):
    db = str(tmp_path / "cases.sqlite")
    pins = prepare_db(db, tmp_path)
    proc, base = server(["--db", db, "--keys", str(keyring.path), "--workers", "2"])
    forged = chips["H-0003"][:-4] + "AAAA"
    try:
        with httpx.Client(base_url=base) as c:
            r = c.post("/api/v1/auth/login", json={"username": "w1", "password": password})
            assert r.status_code == 200
            assert "httponly" in r.headers["set-cookie"].lower()
            c.headers["X-CSRF-Token"] = r.json()["csrf"]
            assert c.post("/api/v1/verify", json={"chip": chips["H-0001"]}).json()["status"] == "ok"
            assert "server" not in r.headers
            staff_sid = c.cookies["ck_session"]
        with httpx.Client(base_url=base) as h:
            r = h.post(
                "/api/v1/households/session", json={"chip": chips["H-0002"], "pin": pins["H-0002"]}
            )
            assert r.status_code == 200 and r.json()["credential"] == "household"
            household_sid = h.cookies["ck_session"]
            assert h.get("/api/v1/household").status_code == 200
            assert h.post("/api/v1/households/session", json={"chip": forged}).status_code == 403
            httpx.get(base + "/c/" + "1234567890123")
    finally:
        log = server.stop(proc)
    assert "listening on http://127.0.0.1:" in log
    assert "1234567890123" not in log and "/c/<redacted>" in log  # chip URLs redacted
    assert chips["H-0002"] not in log and pins["H-0002"] not in log and forged not in log
    assert staff_sid not in log and household_sid not in log  # session ids never logged
    assert "several workers on SQLite" in log  # --workers 2: both processes served


def test_serve_without_flags_serves_the_demo(tmp_path, keyring, register_file, server):
    demo = tmp_path / "demo-out"
    demo.mkdir()
    assert (
        ck("cases", "import", str(register_file), "--db", str(demo / "cases.sqlite")).exit_code == 0
    )
    os.symlink(keyring.path, demo / "keys")
    env = {k: v for k, v in os.environ.items() if k != "CHIPKIT_DB"}
    proc, base = server(["--http", "h11"], cwd=tmp_path, env=env)  # the pure-Python parser too
    try:
        assert httpx.get(base + "/healthz").json()["keys"] is True
    finally:
        log = server.stop(proc)
    assert "demo-out/cases.sqlite" in log and "listening on http://127.0.0.1:" in log


def test_serve_bad_input_is_one_line(tmp_path, register_file):
    r = CliRunner().invoke(cli, ["serve", "--db", str(tmp_path / "no" / "such" / "x.sqlite")])
    assert (
        r.exit_code == 2 and r.output.startswith("chipkit: error:") and "Traceback" not in r.output
    )
    r = CliRunner().invoke(
        cli, ["serve", "--public-url", "ftp://x", "--db", str(tmp_path / "a.sqlite")]
    )
    assert r.exit_code == 2 and "public-url" in r.output
    import socket

    with socket.socket() as busy:  # a port another server holds: never "listening" on it
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        # a mistyped --db: one line, and no new empty district served (as every other command)
        typo = tmp_path / "cases.sqlte"
        r = CliRunner().invoke(cli, ["serve", "--db", str(typo), "--port", port])
        assert r.exit_code == 2 and "no such cases database" in r.output and not typo.exists()
        assert "or pass --create" not in r.output  # serve, users, households have no --create
        db = tmp_path / "cases.sqlite"
        assert (
            CliRunner()
            .invoke(cli, ["cases", "import", str(register_file), "--db", str(db)])
            .exit_code
            == 0
        )
        r = CliRunner().invoke(cli, ["serve", "--db", str(db), "--port", port])
        assert r.exit_code == 2 and "listening" not in r.output, r.output
        assert r.output.strip().endswith(
            f"chipkit: error: 127.0.0.1:{port} is in use (another server?); choose another --port"
        )


def test_users_and_pins_use_the_served_database(tmp_path, register_file, password, monkeypatch):
    """After `make demo`, `chipkit users` and `chipkit households pins` with no --db act on the
    database `chipkit serve` serves (demo-out/cases.sqlite); elsewhere a missing database is
    a one-line error, never a new empty one."""
    monkeypatch.delenv("CHIPKIT_DB", raising=False)
    monkeypatch.chdir(tmp_path)
    env = {"CHIPKIT_USER_PASSWORD": password}
    r = ck("users", "from-register", "--out", "initial.csv", env=env)
    assert r.exit_code == 2 and "no such cases database" in r.output, r.output
    r = ck("households", "pins", "--out", "slips.csv")
    assert r.exit_code == 2 and "no such cases database" in r.output, r.output
    assert not list(tmp_path.glob("*.sqlite")) and not (tmp_path / "initial.csv").exists()
    (tmp_path / "demo-out").mkdir()
    demo = "demo-out/cases.sqlite"
    assert ck("cases", "import", str(register_file), "--db", demo).exit_code == 0
    r = ck("users", "from-register", "--out", "initial.csv", env=env)
    assert r.exit_code == 0 and "7 account(s) created" in r.output, r.output
    assert ck("households", "pins", "--out", "slips.csv").exit_code == 0
    from chipkit.serve import Accounts
    from chipkit.serve.store import open_database

    db = open_database(demo, create=False)
    assert len(Accounts(db).all()) == 7
    db.dispose()
