"""A plates job survives its server being killed: real `chipkit serve` processes, SIGKILL
mid-job, and another process (a restarted one on SQLite; the other of two on PostgreSQL)
finishes it with one live plate per household, no serial spent twice, PDFs and manifest
covering every household and the audit chain intact.

The one thing not waited for in real time is the job's lease (``jobs.LEASE_SECS``, 90 s):
after the kill the test moves the job row's last heartbeat back by the lease, as 90 s of
silence would. Everything else - the killed process, its half-written batch folder, the
keyring ledger, the database - is as a real crash leaves it."""

from __future__ import annotations

import csv
import io
import re
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update

from chipkit.keys import Keyring
from chipkit.plates.ledger import Ledger
from chipkit.serve import jobs
from chipkit.serve.models import jobs as jobs_table
from chipkit.serve.store import open_database

V1 = "330703101001"
N = 6000  # households: 6 PDF parts of 1000 plates, a few seconds of work
PASSWORD = "correct horse battery"


def _register() -> bytes:
    rows = "".join(f"H-{i:05d},{V1},东村,{i}号\n" for i in range(N))
    return ("household_id,village_code,village_name,house_no\n" + rows).encode("utf-8")


def _clerk(base: str) -> httpx.Client:
    c = httpx.Client(base_url=base, timeout=30)
    r = c.post("/api/v1/auth/login", json={"username": "clerk1", "password": PASSWORD})
    assert r.status_code == 200, r.text
    c.headers["X-CSRF-Token"] = r.json()["csrf"]
    return c


def _issued(kr_path: Path) -> list[dict]:
    return [r for r in Ledger(kr_path).records() if r.get("event") == "issued"]


def _start_and_kill(base: str, proc, kr_path: Path) -> tuple[str, str]:
    """Start a job on ``base``, SIGKILL its server once some plates (not all) are issued."""
    c = _clerk(base)
    try:
        files = {"file": ("big.csv", _register(), "text/csv")}
        up = c.post("/api/v1/registers", files=files).json()
        assert up["households"] == N and not up["problems"], up
        r = c.post(f"/api/v1/registers/{up['upload_id']}/issue", json={})
        assert r.status_code == 202, r.text
        jid = r.json()["job_id"]
        deadline = time.time() + 60
        while c.get(f"/api/v1/jobs/{jid}").json()["done"] == 0:
            assert time.time() < deadline, "the job made no progress"
            time.sleep(0.05)
    finally:
        c.close()
    proc.kill()  # SIGKILL: no clean-up, no last heartbeat
    proc.wait(10)
    issued = len(_issued(kr_path))
    assert 0 < issued < N, f"the job was not part-way when killed ({issued} of {N})"
    return jid, up["upload_id"]


def _expire_lease(url: str, jid: str) -> None:
    db = open_database(url, create=False)
    try:
        with db.write() as conn:
            q = update(jobs_table).where(jobs_table.c.id == jid)
            conn.execute(q.values(updated_at=jobs_table.c.updated_at - jobs.LEASE_SECS - 5))
    finally:
        db.dispose()


def _finish(base: str, jid: str) -> tuple[dict, httpx.Client]:
    c = _clerk(base)
    deadline = time.time() + 60
    while (j := c.get(f"/api/v1/jobs/{jid}").json())["state"] not in ("done", "failed"):
        assert time.time() < deadline, j
        time.sleep(0.2)
    assert j["state"] == "done", j
    return j, c


def _pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf))


def _check_outputs(c: httpx.Client, jid: str, j: dict, kr_path: Path) -> None:
    counts = j["result"]["counts"]
    assert j["done"] == j["total"] == N, (j["done"], j["total"])
    assert counts["issued"] + counts["existing"] == N and counts["existing"] > 0, counts
    r = c.get(f"/api/v1/jobs/{jid}/files/manifest.csv")
    assert r.status_code == 200
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    hids = [row["household_id"] for row in rows]
    serials = [int(row["serial"]) for row in rows]
    assert sorted(hids) == [f"H-{i:05d}" for i in range(N)]  # every household, once
    assert len(set(serials)) == N  # no serial on two plates
    assert len({(row["file"], row["page"], row["slot"]) for row in rows}) == N  # no shared slot
    # the ledger agrees: one live plate per household, the manifest's serial; no serial
    # issued twice, and the keyring never handed one out twice
    state = Ledger(kr_path).state()
    assert {h: p.serial for h, p in state.live.items()} == dict(zip(hids, serials, strict=True))
    issued = [r["serial"] for r in _issued(kr_path)]
    assert len(issued) == len(set(issued)) == N
    assert not state.dangling
    assert Keyring.open(kr_path).next_serial - 1 >= max(serials)
    # every PDF the manifest names downloads, and holds the pages its rows point at
    pdfs = sorted({row["file"] for row in rows})
    assert pdfs == sorted(f for f in j["result"]["files"] if f.endswith(".pdf"))
    for name in pdfs:
        r = c.get(f"/api/v1/jobs/{jid}/files/{name}")
        assert r.status_code == 200 and r.content.startswith(b"%PDF")
        need = max(int(row["page"]) for row in rows if row["file"] == name)
        assert _pages(r.content) == need, name


def test_sqlite_server_killed_mid_job_restarted_finishes_it(
    tmp_path, server, prepare_db, chipkit_cmd
):
    url = str(tmp_path / "cases.sqlite")
    prepare_db(url, tmp_path)
    kr = Keyring.init(tmp_path / "kr", passphrase=None)
    common = ["--db", url, "--keys", str(kr.path), "--data-dir", str(tmp_path / "data")]
    proc, base = server(common)
    jid, _ = _start_and_kill(base, proc, kr.path)
    assert not (tmp_path / "data" / "jobs" / jid / "manifest.csv").exists()

    _, base2 = server(common)  # a new process on the same database and data folder
    _expire_lease(url, jid)
    j, c = _finish(base2, jid)
    try:
        _check_outputs(c, jid, j, kr.path)
    finally:
        c.close()
    r = chipkit_cmd("cases", "audit", "--db", url)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.postgres
def test_postgres_one_of_two_servers_killed_mid_job_the_other_finishes_it(
    pg_db_url, tmp_path, server, prepare_db, chipkit_cmd
):
    prepare_db(pg_db_url, tmp_path)
    kr = Keyring.init(tmp_path / "kr", passphrase=None)
    common = ["--db", pg_db_url, "--keys", str(kr.path), "--data-dir", str(tmp_path / "data")]
    proc_a, a = server(common)
    _, b = server(common)
    jid, _ = _start_and_kill(a, proc_a, kr.path)
    _expire_lease(pg_db_url, jid)
    j, c = _finish(b, jid)
    try:
        _check_outputs(c, jid, j, kr.path)
    finally:
        c.close()
    r = chipkit_cmd("cases", "audit", "--db", pg_db_url)
    assert r.returncode == 0, r.stdout + r.stderr
