"""The clerk's loop over HTTP: upload -> dry run (bad rows, no serial spent) -> issue as a
background job -> progress -> download PDF and manifest -> revoke -> verifier bundle."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from servetools import login, wait_job

from chipkit import Verifier
from chipkit.keys import Keyring

V1, V2 = "330703101001", "330703101002"
PLATES_REGISTER = f"""户号,村代码,村名,门牌号,网格,网格员
H-0001,{V1},东村,1号,G1,张三
H-0002,{V1},东村,2号,G1,张三
H-0003,{V1},东村,3号,G2,李四
H-0004,{V2},西村,4号,G3,王五
,{V1},东村,5号,G1,张三
"""


def test_upload_dry_run_issue_download_revoke(keyed_app, tmp_path):
    app = keyed_app
    kr_path = app.state.chipkit.keyring.path
    clerk = login(app, "clerk1")
    files = {"file": ("村登记表.csv", PLATES_REGISTER.encode("gb18030"), "text/csv")}
    r = clerk.post("/api/v1/registers", files=files)
    assert r.status_code == 201, r.text
    dry = r.json()
    assert dry["encoding"] == "gb18030" and dry["households"] == 3
    reasons = {(p["row"], p["reason"]) for p in dry["problems"]}
    assert (5, "other_village") in reasons  # H-0004 is V2's, not the clerk's village
    assert (6, "missing_id") in reasons  # the row with no household id
    assert Keyring.open(kr_path).next_serial == 1  # a dry run spends no serial

    t0 = time.time()
    r = clerk.post(
        f"/api/v1/registers/{dry['upload_id']}/issue", json={"format": "pdf", "sheet": "a4"}
    )
    assert r.status_code == 202 and time.time() - t0 < 5  # returns at once
    jid = r.json()["job_id"]
    j = wait_job(clerk, jid)
    assert j["state"] == "done", j
    assert j["result"]["counts"]["issued"] == 3 and j["done"] == j["total"] == 3
    names = j["result"]["files"]
    pdf = next(n for n in names if n.endswith(".pdf"))
    assert "manifest.csv" in names and "manifest.json" in names
    got = clerk.get(f"/api/v1/jobs/{jid}/files/{pdf}")
    assert got.status_code == 200 and got.content.startswith(b"%PDF")
    man = clerk.get(f"/api/v1/jobs/{jid}/files/manifest.csv")
    assert man.status_code == 200 and "H-0001" in man.content.decode("utf-8-sig")
    for bad in ("..%2F..%2Fkeyring.json", ".chipkit-batch.json", "nope.pdf"):
        assert clerk.get(f"/api/v1/jobs/{jid}/files/{bad}").status_code == 404
    # others cannot see the job; workers cannot upload
    assert login(app, "admin").get(f"/api/v1/jobs/{jid}").status_code == 200
    w1 = login(app, "w1")
    assert w1.get(f"/api/v1/jobs/{jid}").status_code == 404
    assert w1.post("/api/v1/registers", files=files).status_code == 403

    # revoke a household's plate: its chip stops opening sessions at once
    import json as _json

    manifest = _json.loads(clerk.get(f"/api/v1/jobs/{jid}/files/manifest.json").content)
    assert manifest
    assert (
        clerk.post(
            "/api/v1/plates/revoke", json={"household_id": "H-0004", "reason": "x"}
        ).status_code
        == 403
    )
    # the household registered a phone and holds an open session; the neighbour too
    acc = app.state.chipkit.accounts
    _, phone = acc.new_token(household_id="H-0002", label="phone")
    _, other_phone = acc.new_token(household_id="H-0001", label="phone")
    # on the app's (fake) clock: opening a session now and then deletes expired ones, and on
    # the real clock every session of this test's clock would be long expired
    now = app.state.chipkit.now()
    sid, _ = acc.open_session("household", lifetime=600, household_id="H-0002", now=now)
    osid, _ = acc.open_session("household", lifetime=600, household_id="H-0001", now=now)
    from sqlalchemy import select as _select

    from chipkit.serve.models import household_pins

    def pinned() -> set[str]:
        with app.state.chipkit.db.read() as conn:
            return set(conn.execute(_select(household_pins.c.household_id)).scalars())

    assert {"H-0001", "H-0002"} <= pinned()
    r = clerk.post("/api/v1/plates/revoke", json={"household_id": "H-0002", "reason": "lost"})
    assert r.status_code == 200 and len(r.json()["revoked"]) == 1
    # its PIN goes with the plate (the old occupants' slip opens nothing); the neighbour's stays
    assert "H-0002" not in pinned() and "H-0001" in pinned()
    # no live plate: its phone and session stop with it; the neighbour's do not
    assert r.json()["phones_revoked"] == 1
    assert acc.device_household(phone, now=now) is None and acc.session(sid, now=now) is None
    assert acc.device_household(other_phone, now=now) == "H-0001"
    assert acc.session(osid, now=now) is not None
    before = app.state.chipkit.verifier
    assert r.json()["revoked"][0] in Keyring.open(kr_path).revoked
    with app.state.chipkit.db.read() as conn:
        from sqlalchemy import select

        from chipkit.cases.models import events

        done = conn.execute(
            select(events.c.kind, events.c.actor, events.c.after).where(
                events.c.kind.like("plates.%")
            )
        ).all()
    assert [(k, a) for k, a, _ in done] == [
        ("plates.issue", "user:clerk1"),
        ("plates.revoke", "user:clerk1"),
    ]
    assert str(r.json()["revoked"][0]) in done[1][2]
    del before

    # reissue H-0002: a new plate, the old serial stays revoked
    r = clerk.post(
        f"/api/v1/registers/{dry['upload_id']}/issue",
        json={"reissue": True, "households": ["H-0002"]},
    )
    j2 = wait_job(clerk, r.json()["job_id"])
    assert (
        j2["state"] == "done"
        and j2["result"]["counts"]["reissued"] + j2["result"]["counts"]["issued"] == 1
    )

    # the verifier bundle: a clerk gets their own village's only
    b = clerk.get("/api/v1/verifier-bundle")
    assert b.status_code == 400 and "has no read key of its own" in b.json()["detail"]
    Keyring.open(kr_path).add_read_key(V1)
    b = clerk.get("/api/v1/verifier-bundle")
    assert b.status_code == 200 and "attachment" in b.headers["content-disposition"]
    saved = tmp_path / "bundle.json"
    saved.write_bytes(b.content)
    assert Verifier.load(saved).check("CK1:NOPE").status.value != "ok"  # loads and verifies
    assert clerk.get(f"/api/v1/verifier-bundle?village={V2}").status_code == 403
    assert w1.get("/api/v1/verifier-bundle").status_code == 403


def test_bad_register_is_a_clear_error(keyed_app):
    clerk = login(keyed_app, "clerk1")
    r = clerk.post(
        "/api/v1/registers",
        files={"file": ("x.xlsx", b"PK\x03\x04 not really", "application/octet-stream")},
    )
    assert 400 <= r.status_code < 500 and "x.xlsx" in r.json()["detail"]


def test_plates_need_a_keyring(app, staff):
    r = staff("clerk1").post("/api/v1/registers/" + "0" * 32 + "/issue", json={})
    assert r.status_code == 503 and r.json()["error"] == "no_keyring"


class _Killed(BaseException):
    """The server process dies mid-job (nothing in the job runner catches it)."""


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_job_whose_process_died_is_resumed_without_a_second_serial(keyed_app, clock, monkeypatch):
    import chipkit.plates as plates
    from chipkit.plates.ledger import Ledger
    from chipkit.serve import create_app, jobs

    app = keyed_app
    kr_path = app.state.chipkit.keyring.path
    real = plates.run_batch

    def dies_after_first_chunk(reg, kr, opts, *, progress):
        def beat(done, total):
            progress(done, total)
            if done:  # the chunk's plates are in the ledger; the manifest is not written
                raise _Killed

        return real(reg, kr, opts, progress=beat)

    monkeypatch.setattr(plates, "run_batch", dies_after_first_chunk)
    clerk = login(app, "clerk1")
    files = {"file": ("r.csv", PLATES_REGISTER.encode("utf-8"), "text/csv")}
    up = clerk.post("/api/v1/registers", files=files).json()["upload_id"]
    jid = clerk.post(f"/api/v1/registers/{up}/issue", json={}).json()["job_id"]
    deadline = time.time() + 60
    while (jobs.running_here(jid) or clerk.get(f"/api/v1/jobs/{jid}").json()["done"] == 0) and (
        time.time() < deadline
    ):
        time.sleep(0.1)
    monkeypatch.undo()
    spent = Keyring.open(kr_path).next_serial - 1
    assert spent == 3  # the first (only) chunk was issued before the process died
    assert clerk.get(f"/api/v1/jobs/{jid}").json()["state"] == "running"  # lease still held

    clock.advance(jobs.LEASE_SECS + 1)  # no heartbeat since: the lease expires
    restarted = create_app(app.state.chipkit.config)
    try:
        clerk2 = login(restarted, "clerk1")
        j = wait_job(clerk2, jid)
        assert j["state"] == "done", j
        assert j["result"]["counts"] == {**j["result"]["counts"], "issued": 0, "existing": 3}
        assert j["done"] == j["total"] == 3  # plates from before the death count as done
        assert "manifest.csv" in j["result"]["files"]
        assert Keyring.open(kr_path).next_serial - 1 == 3  # no serial spent twice
        issued = [r for r in Ledger(kr_path).records() if r.get("event") == "issued"]
        assert sorted(r["household_id"] for r in issued) == ["H-0001", "H-0002", "H-0003"]
    finally:
        restarted.state.chipkit.db.dispose()


def test_stale_job_that_cannot_resume_fails_saying_why(keyed_app, clock):
    from chipkit.serve import jobs

    svc = keyed_app.state.chipkit
    params = {"format": "pdf", "upload_id": "f" * 32}  # its upload is gone
    jid = jobs.new_job(svc.db, "plates", "clerk1", params, svc.now())
    clerk = login(keyed_app, "clerk1")
    assert clerk.get(f"/api/v1/jobs/{jid}").json()["state"] == "queued"
    clock.advance(jobs.LEASE_SECS + 1)
    j = clerk.get(f"/api/v1/jobs/{jid}").json()
    assert j["state"] == "failed" and "stopped" in j["error"] and "again" in j["error"], j


def test_periodic_sweep_resumes_a_dead_job_nobody_polls(keyed_app, clock):
    """The server's sweeper thread, not a GET, takes over a job whose process died (here:
    accepted, then the process died before its thread started) and finishes it."""
    from chipkit.serve import jobs

    svc = keyed_app.state.chipkit
    clerk = login(keyed_app, "clerk1")
    files = {"file": ("r.csv", PLATES_REGISTER.encode("utf-8"), "text/csv")}
    up = clerk.post("/api/v1/registers", files=files).json()["upload_id"]
    params = {"format": "pdf", "sheet": "a4", "carrier": "qr", "upload_id": up}
    jid = jobs.new_job(svc.db, "plates", "clerk1", params, svc.now())
    clock.advance(jobs.LEASE_SECS + 1)
    svc.config.sweep_secs = 1
    with TestClient(keyed_app):  # runs the lifespan: the sweeper thread
        deadline = time.time() + 30
        while (j := jobs.get(svc.db, jid, svc.now()))["state"] != "done":
            assert time.time() < deadline and j["state"] != "failed", j
            time.sleep(0.2)
    assert j["result"]["counts"]["issued"] == 3 and "manifest.csv" in j["result"]["files"]
    assert Keyring.open(svc.keyring.path).next_serial == 4
