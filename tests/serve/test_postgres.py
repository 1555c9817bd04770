"""Two `chipkit serve` processes on different ports against one PostgreSQL are one service:
sessions, CSRF tokens, login throttles and household sessions made through one hold on the
other, and the case log they write together verifies."""

from __future__ import annotations

import time

import httpx
import pytest

from chipkit.keys import Keyring

pytestmark = pytest.mark.postgres


def test_two_processes_one_service(pg_db_url, tmp_path, server, prepare_db, password, chipkit_cmd):
    pins = prepare_db(pg_db_url, tmp_path)
    kr = Keyring.init(tmp_path / "kr", passphrase=None)
    chips = {"H-0001": kr.seal("H-0001", "330703101001")[0]}
    common = ["--db", pg_db_url, "--keys", str(kr.path), "--data-dir", str(tmp_path / "data")]
    _, a = server(common)
    _, b = server(common)
    assert a != b
    # a staff session opened on A works on B, CSRF token included; logout on B ends it on A
    with httpx.Client(base_url=a) as ca:
        r = ca.post("/api/v1/auth/login", json={"username": "w1", "password": password})
        assert r.status_code == 200
        sid, csrf = ca.cookies["ck_session"], r.json()["csrf"]
    cookie = {"ck_session": sid}
    hdr = {"X-CSRF-Token": csrf}
    with httpx.Client(base_url=b, cookies=cookie, headers=hdr) as cb:
        assert cb.get("/api/v1/auth/me").json()["username"] == "w1"
        r = cb.post(
            "/api/v1/cases", json={"type": "other", "title": "跨进程", "household_id": "H-0001"}
        )
        assert r.status_code == 201
        cid = r.json()["id"]
    with httpx.Client(base_url=a, cookies=cookie, headers=hdr) as ca:
        assert ca.post(f"/api/v1/cases/{cid}/accept").json()["state"] == "accepted"
    with httpx.Client(base_url=b, cookies=cookie, headers=hdr) as cb:
        assert cb.post(f"/api/v1/cases/{cid}/start").json()["state"] == "in_progress"
        assert cb.post("/api/v1/auth/logout").status_code == 200
    with httpx.Client(base_url=a, cookies=cookie) as ca:
        assert ca.get("/api/v1/auth/me").status_code == 401
    # login failures counted across both processes: 3 on A + 2 on B, then both refuse
    for base, n in ((a, 3), (b, 2)):
        for _ in range(n):
            r = httpx.post(
                base + "/api/v1/auth/login", json={"username": "w2", "password": "wrong wrong"}
            )
            assert r.status_code == 401
    for base in (a, b):
        r = httpx.post(base + "/api/v1/auth/login", json={"username": "w2", "password": password})
        assert r.status_code == 429
    # a household session with the PIN, opened on A, reads the household's cases on B
    with httpx.Client(base_url=a) as ha:
        r = ha.post(
            "/api/v1/households/session", json={"chip": chips["H-0001"], "pin": pins["H-0001"]}
        )
        assert r.status_code == 200
        hcookie = {"ck_session": ha.cookies["ck_session"]}
    with httpx.Client(base_url=b, cookies=hcookie) as hb:
        mine = hb.get("/api/v1/household/cases").json()
        assert [c["id"] for c in mine] == [cid]
    # a plate job accepted by A is reported by B; its files download from B
    with httpx.Client(base_url=a) as ca:
        r = ca.post("/api/v1/auth/login", json={"username": "clerk1", "password": password})
        ck = {"ck_session": ca.cookies["ck_session"]}
        ca.headers["X-CSRF-Token"] = r.json()["csrf"]
        reg = "household_id,village_code\nH-0001,330703101001\nH-0002,330703101001\n"
        up = ca.post(
            "/api/v1/registers", files={"file": ("r.csv", reg.encode(), "text/csv")}
        ).json()
        jid = ca.post(f"/api/v1/registers/{up['upload_id']}/issue", json={}).json()["job_id"]
    with httpx.Client(base_url=b, cookies=ck) as cb:
        deadline = time.time() + 90
        while (j := cb.get(f"/api/v1/jobs/{jid}").json())["state"] not in ("done", "failed"):
            assert time.time() < deadline, j
            time.sleep(0.3)
        assert j["state"] == "done" and j["result"]["counts"]["issued"] == 2
        assert cb.get(f"/api/v1/jobs/{jid}/files/manifest.csv").status_code == 200
    assert chipkit_cmd("cases", "audit", "--db", pg_db_url).returncode == 0
