"""The commands: `chipkit serve` as a real process, `chipkit users`, `chipkit households pins`."""

from __future__ import annotations

import csv
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

CHIPKIT = [sys.executable, "-m", "chipkit_cli.main"]


def run(*args: str, env: dict[str, str] | None = None, **kw) -> subprocess.CompletedProcess:
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run(
        [*CHIPKIT, *args], capture_output=True, text=True, env=e, timeout=120, **kw
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(args: list[str], cwd: Path | None = None, env: dict[str, str] | None = None):
    port = free_port()
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
    proc.kill()
    raise AssertionError("serve did not come up")


def stop(proc) -> str:
    proc.terminate()
    try:
        out, _ = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out or ""


def test_users_cli_and_real_server(tmp_path, keyring, chips, register_file, password):
    db = str(tmp_path / "cases.sqlite")
    assert run("cases", "import", str(register_file), "--db", db).returncode == 0
    env = {"CHIPKIT_USER_PASSWORD": password}
    r = run("users", "add", "w1", "--worker", "W1", "--db", db, env=env)
    assert r.returncode == 0, r.stderr
    r = run("users", "add", "w1", "--worker", "W1", "--db", db, env=env)
    assert r.returncode == 2 and "already exists" in r.stderr and "Traceback" not in r.stderr
    r = run("users", "add", "x", "--worker", "NOPE", "--db", db, env=env)
    assert r.returncode == 2 and "unknown worker NOPE" in r.stderr
    r = run("users", "add", "c1", "--role", "clerk", "--unit", "nowhere", "--db", db, env=env)
    assert r.returncode == 2 and "village" in r.stderr
    r = run(
        "users",
        "add",
        "weak",
        "--role",
        "admin",
        "--db",
        db,
        env={"CHIPKIT_USER_PASSWORD": "short"},
    )
    assert r.returncode == 2 and "at least 10" in r.stderr
    out = tmp_path / "initial.csv"
    r = run("users", "from-register", "--out", str(out), "--db", db)
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(out.open(encoding="utf-8-sig")))
    assert {row["username"] for row in rows} == {"W2", "W3", "V1", "T1", "D1", "V2"}
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    slips = tmp_path / "slips.csv"
    r = run("households", "pins", "--db", db, "--village", "330703101001", "--out", str(slips))
    assert r.returncode == 0, r.stderr
    pins = {
        row["household_id"]: row["pin"] for row in csv.DictReader(slips.open(encoding="utf-8-sig"))
    }
    assert set(pins) == {"H-0001", "H-0002", "H-0003"}
    assert run("users", "disable", "W3", "--db", db).returncode == 0
    listing = run("users", "list", "--db", db).stdout
    assert "W3" in listing and "(disabled)" in listing

    proc, base = start_server(["--db", db, "--keys", str(keyring.path)])
    try:
        with httpx.Client(base_url=base) as c:
            r = c.post("/api/v1/auth/login", json={"username": "w1", "password": password})
            assert r.status_code == 200
            assert "httponly" in r.headers["set-cookie"].lower()
            assert "samesite=lax" in r.headers["set-cookie"].lower()
            c.headers["X-CSRF-Token"] = r.json()["csrf"]
            assert c.post("/api/v1/verify", json={"chip": chips["H-0001"]}).json()["status"] == "ok"
            bad = c.post(
                "/api/v1/auth/login",
                json={"username": "W3", "password": rows[-1]["initial_password"]},
            )
            assert bad.status_code == 401  # disabled
        with httpx.Client(base_url=base) as h:
            r = h.post(
                "/api/v1/households/session", json={"chip": chips["H-0002"], "pin": pins["H-0002"]}
            )
            assert r.status_code == 200 and r.json()["credential"] == "household"
            httpx.get(base + "/c/" + "1234567890123")
    finally:
        log = stop(proc)
    assert "listening on http://127.0.0.1:" in log
    assert "1234567890123" not in log and "/c/<redacted>" in log  # chip URLs redacted
    assert chips["H-0002"] not in log


def test_serve_without_flags_serves_the_demo(tmp_path, keyring, register_file):
    demo = tmp_path / "demo-out"
    demo.mkdir()
    assert (
        run("cases", "import", str(register_file), "--db", str(demo / "cases.sqlite")).returncode
        == 0
    )
    os.symlink(keyring.path, demo / "keys")
    env = {k: v for k, v in os.environ.items() if k != "CHIPKIT_DB"}
    proc, base = start_server([], cwd=tmp_path, env=env)
    try:
        assert httpx.get(base + "/healthz").json()["keys"] is True
    finally:
        log = stop(proc)
    assert "demo-out/cases.sqlite" in log and "listening on" in log


def test_serve_bad_input_is_one_line(tmp_path):
    r = run("serve", "--db", str(tmp_path / "no" / "such" / "x.sqlite"))
    assert (
        r.returncode == 2 and r.stderr.startswith("chipkit: error:") and "Traceback" not in r.stderr
    )
    r = run("serve", "--public-url", "ftp://x", "--db", str(tmp_path / "a.sqlite"))
    assert r.returncode == 2 and "public-url" in r.stderr
