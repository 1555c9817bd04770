"""What the clerk console needs from the API beyond the plates loop of test_plates.py: the bad
rows' cells in the dry run, the manifest CSV with a UTF-8 BOM, and reissue by household id
with a reason (revoke the live plate, print a new one, in one request)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from servetools import login, wait_job

from chipkit.keys import Keyring
from chipkit.plates.ledger import Ledger

V1, V2 = "330703101001", "330703101002"
REGISTER = f"""户号,村代码,村名,门牌号,网格,网格员
H-0001,{V1},东村,1号,G1,张三
H-0002,{V1},东村,2号,G1,张三
H 0009!,{V1},东村,9号,G1,张三
H-0003,,东村,3号,G2,李四
"""


def _upload(clerk: TestClient, text: str = REGISTER) -> dict:
    files = {"file": ("登记表.csv", text.encode("utf-8"), "text/csv")}
    r = clerk.post("/api/v1/registers", files=files)
    assert r.status_code == 201, r.text
    return r.json()


def test_dry_run_shows_each_bad_rows_cell(keyed_app):
    dry = _upload(login(keyed_app, "clerk1"))
    got = {(p["row"], p["column"], p["reason"], p["cell"]) for p in dry["problems"]}
    assert (4, "household_id", "bad_household_id", "H 0009!") in got
    assert (5, "village_code", "missing_village_code", "") in got
    assert dry["households"] == 2


def test_an_unusable_register_says_a_documented_error_code(keyed_app):
    # a register with a mistyped column answered {"error": "error"}: a code no client knows
    clerk = login(keyed_app, "clerk1")
    files = {"file": ("r.csv", "户 号码,村代码\nH-1,330703101001\n".encode(), "text/csv")}
    r = clerk.post("/api/v1/registers", files=files)
    assert r.status_code == 400 and r.json()["error"] == "bad_request"
    assert r.json()["detail"].startswith("r.csv: missing required column(s)")


def test_manifest_csv_starts_with_the_utf8_bom_and_reissue_by_household(keyed_app):
    app = keyed_app
    svc = app.state.chipkit
    clerk = login(app, "clerk1")
    dry = _upload(clerk)
    r = clerk.post(f"/api/v1/registers/{dry['upload_id']}/issue", json={})
    j = wait_job(clerk, r.json()["job_id"])
    assert j["state"] == "done", j
    man = clerk.get(f"/api/v1/jobs/{j['id']}/files/manifest.csv")
    assert man.content.startswith(b"\xef\xbb\xbf") and "东村" in man.content.decode("utf-8-sig")
    old = _chips(clerk, j["id"], svc.keyring.path)

    # another village's household, or one no upload lists: refused, nothing revoked
    r = clerk.post("/api/v1/plates/reissue", json={"household_id": "H-0004", "reason": "lost"})
    assert r.status_code == 403
    r = login(app, "w1").post(
        "/api/v1/plates/reissue", json={"household_id": "H-0001", "reason": "lost"}
    )
    assert r.status_code == 403
    r = clerk.post(
        "/api/v1/plates/reissue",
        json={"household_id": "H-0001", "reason": "lost", "upload_id": "0" * 32},
    )
    assert r.status_code == 404
    assert Keyring.open(svc.keyring.path).revoked == {}

    r = clerk.post("/api/v1/plates/reissue", json={"household_id": "H-0002", "reason": "丢失"})
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["upload_id"] == dry["upload_id"] and len(body["revoked"]) == 1
    j2 = wait_job(clerk, body["job_id"])
    assert j2["state"] == "done" and j2["result"]["counts"]["issued"] == 1, j2
    kr = Keyring.open(svc.keyring.path)
    assert kr.revoked[body["revoked"][0]] == "丢失"
    new = _chips(clerk, j2["id"], svc.keyring.path)
    verifier = kr.verifier()
    assert verifier.check(old["H-0002"]).status.value == "revoked"
    assert verifier.check(new["H-0002"]).status.value == "ok"
    assert verifier.check(old["H-0001"]).status.value == "ok"
    # the audit chain names the clerk for the revocation and the new issue
    from sqlalchemy import select

    from chipkit.cases.models import events

    with svc.db.read() as conn:
        q = select(events.c.kind, events.c.actor, events.c.after)
        done = conn.execute(q.where(events.c.kind.like("plates.%"))).all()
    assert [(k, a) for k, a, _ in done] == [
        ("plates.issue", "user:clerk1"),
        ("plates.revoke", "user:clerk1"),
        ("plates.issue", "user:clerk1"),
    ]
    assert str(body["revoked"][0]) in done[1][2] and "丢失" in done[1][2]


def _chips(clerk: TestClient, jid: str, keys) -> dict[str, str]:
    """household id -> the chip text of the plate this job printed (from the ledger)."""
    man = clerk.get(f"/api/v1/jobs/{jid}/files/manifest.json").json()
    with Ledger(keys) as ledger:
        tokens = {r["serial"]: r["token"] for r in ledger.records() if r["event"] == "issued"}
    return {p["household_id"]: tokens[p["serial"]] for p in man["plates"]}
