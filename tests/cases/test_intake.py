"""Intake: by chip (verified) or by a worker; bad input changes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from chipkit.cases import BadInput, ChipRefused, NotFound, WrongActor
from chipkit.cases.models import cases, events
from chipkit.keys import Keyring


def _counts(svc):
    with svc.db.read() as conn:
        return (
            conn.execute(select(func.count()).select_from(cases)).scalar(),
            conn.execute(select(func.count()).select_from(events)).scalar(),
        )


def _forge(token: str) -> str:
    # change one character in the middle of the Base45 text
    i = len(token) // 2
    ch = "A" if token[i] != "A" else "B"
    return token[:i] + ch + token[i + 1 :]


def test_forged_revoked_foreign_tokens_cannot_open_a_case(svc, tokens, keyring, tmp_path):
    n0 = _counts(svc)
    with pytest.raises(ChipRefused, match="invalid"):
        svc.submit("other", "x", token=_forge(tokens["H-0001"]))
    with pytest.raises(ChipRefused, match="invalid"):
        svc.submit("other", "x", token="CK1:NOT-A-CHIP")
    foreign = Keyring.init(tmp_path / "foreign", passphrase=None).seal("H-0001", "330703101001")[0]
    with pytest.raises(ChipRefused, match="unknown_key"):
        svc.submit("other", "x", token=foreign)
    text, claims = keyring.seal("H-0004", "330703101001")
    keyring.revoke([claims.serial], "lost")
    svc.verifier = keyring.verifier()
    with pytest.raises(ChipRefused, match="revoked"):
        svc.submit("other", "x", token=text)
    assert _counts(svc) == n0


def test_chip_of_a_household_not_in_the_register(svc, keyring):
    text, _ = keyring.seal("H-9999", "330703101001")
    with pytest.raises(ChipRefused, match="not in this register"):
        svc.submit("other", "x", token=text)
    text, _ = keyring.seal("H-0001", "330703101002")  # genuine, but the wrong village
    with pytest.raises(ChipRefused, match="village"):
        svc.submit("other", "x", token=text)


def test_worker_on_behalf(svc):
    c = svc.submit("proxy", "Pension form", household_id="H-0006", worker_id="W2")
    assert c["channel"] == "worker" and c["created_by"] == "worker:W2" and c["worker_id"] == "W2"
    c = svc.submit("event", "Flooded lane", household_id="H-0006", worker_id="V1")
    assert c["created_by"] == "worker:V1" and c["worker_id"] == "W2"
    with pytest.raises(WrongActor, match="does not look after"):
        svc.submit("other", "x", household_id="H-0006", worker_id="W1")
    with pytest.raises(NotFound, match="unknown household"):
        svc.submit("other", "x", household_id="H-4040", worker_id="W1")
    with pytest.raises(NotFound, match="unknown worker"):
        svc.submit("other", "x", household_id="H-0001", worker_id="W404")
    with pytest.raises(BadInput):
        svc.submit("other", "x", household_id="H-0001")


def test_one_megabyte_description_changes_nothing(svc, tokens):
    n0 = _counts(svc)
    with pytest.raises(BadInput, match="description is 1048576 characters; the limit is 4000"):
        svc.submit("other", "x", "a" * 1_048_576, token=tokens["H-0001"])
    with pytest.raises(BadInput, match="title"):
        svc.submit("other", "", token=tokens["H-0001"])
    with pytest.raises(BadInput, match="unknown case type"):
        svc.submit("party", "x", token=tokens["H-0001"])
    assert _counts(svc) == n0


def test_type_specific_fields(svc, tokens):
    t = tokens["H-0002"]
    with pytest.raises(BadInput, match="parties"):
        svc.submit("dispute", "Fence", details={"parties": ["only one"]}, token=t)
    with pytest.raises(BadInput, match="severity"):
        svc.submit("hazard", "Wire", details={"severity": "apocalyptic"}, token=t)
    with pytest.raises(BadInput, match="not colour"):
        svc.submit("proxy", "x", details={"colour": "red"}, token=t)
    c = svc.submit("hazard", "Wire", details={"severity": "critical", "location": "well"}, token=t)
    assert c["details"] == {"location": "well", "severity": "critical"}


def test_dispute_parties_are_never_public(svc, tokens):
    c = svc.submit(
        "dispute", "Boundary", details={"parties": ["张三", "李四"]}, token=tokens["H-0002"]
    )
    assert svc.get(c["id"], private=True)["details"]["parties"] == ["张三", "李四"]
    public = svc.get(c["id"], history=True)
    assert "张三" not in str(public)
    assert "张三" not in str(svc.list_cases())
    assert "张三" not in svc.report("village").to_json()
