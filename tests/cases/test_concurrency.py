"""Two workers racing on the same case: exactly one wins, on SQLite and PostgreSQL.

Real concurrent connections: each thread has its own CaseService (own engine and pool) on
the same database, and all threads are released together by a barrier.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from chipkit.cases import Actor, CasesError, CaseService, ConcurrentUpdate, InvalidTransition
from chipkit.cases.models import events


def _race(url, verifier, n_threads, op):
    """Run op(svc, i) in n_threads threads at once; return (successes, errors)."""
    services = [CaseService(url, verifier=verifier, create=True) for _ in range(n_threads)]
    barrier = threading.Barrier(n_threads)
    wins, errors = [], []
    lock = threading.Lock()

    def run(i):
        barrier.wait()
        try:
            r = op(services[i], i)
        except CasesError as e:
            with lock:
                errors.append(e)
        else:
            with lock:
                wins.append(r)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for s in services:
        s.db.dispose()
    return wins, errors


def _scenario(url, verifier, tmp_path, register_csv):
    svc = CaseService(url, verifier=verifier, create=True)
    svc.import_register(register_csv(tmp_path / "register.csv"))
    # only the assigned worker may accept, so the accept race is one worker on six devices
    for rounds in range(3):
        c = svc.submit("other", f"race {rounds}", household_id="H-0001", worker_id="W1")
        wins, errors = _race(url, verifier, 6, lambda s, i, cid=c["id"]: s.accept(cid, "W1"))
        assert len(wins) == 1, (wins, errors)
        assert len(errors) == 5
        assert all(isinstance(e, (ConcurrentUpdate, InvalidTransition)) for e in errors)
        assert svc.get(c["id"])["state"] == "accepted"

    # different transitions racing from the same state, mutually exclusive: exactly one wins
    c = svc.submit("other", "mixed race", household_id="H-0001", worker_id="W1")
    svc.accept(c["id"], "W1")
    ops = [
        lambda s: s.resolve(c["id"], "W1", "done"),
        lambda s: s.reject(c["id"], Actor.worker("T1"), "not_responsible"),
        lambda s: s.resolve(c["id"], "W1", "done from the other phone"),
        lambda s: s.reject(c["id"], Actor.worker("V1"), "duplicate", duplicate_of=1),
    ]
    wins, errors = _race(url, verifier, 4, lambda s, i: ops[i](s))
    assert len(wins) == 1 and len(errors) == 3, (wins, errors)
    final = svc.get(c["id"], history=True)
    assert final["version"] == 3 and len(final["history"]) == 3  # submit, accept, the winner
    assert final["state"] == wins[0]["state"]

    # transitions that may follow each other: whatever the interleaving, no update is lost
    c = svc.submit("other", "serial race", household_id="H-0001", worker_id="W1")
    svc.accept(c["id"], "W1")
    ops = [
        lambda s: s.wait(c["id"], "W1", "need papers"),
        lambda s: s.escalate(c["id"], Actor.worker("V1"), "too slow"),
        lambda s: s.start(c["id"], "W1"),
        lambda s: s.reject(c["id"], Actor.worker("T1"), "not_responsible"),
    ]
    wins, errors = _race(url, verifier, 4, lambda s, i: ops[i](s))
    final = svc.get(c["id"], history=True)
    assert len(wins) >= 1 and len(wins) + len(errors) == 4
    assert final["version"] == 2 + len(wins) and len(final["history"]) == 2 + len(wins)

    # many independent writers: the audit chain stays one unbroken chain
    cases = [
        svc.submit("other", f"c{i}", household_id="H-0006", worker_id="W2")["id"] for i in range(8)
    ]
    wins, errors = _race(url, verifier, 8, lambda s, i: s.accept(cases[i], "W2"))
    assert len(wins) == 8 and not errors
    rep = svc.audit_verify()
    assert rep.ok, rep
    with svc.db.read() as conn:
        assert conn.execute(select(func.count()).select_from(events)).scalar() == rep.events
    svc.db.dispose()


def test_race_sqlite(tmp_path, keyring, make_register):
    _scenario(str(tmp_path / "race.sqlite"), keyring.verifier(), tmp_path, make_register)


@pytest.mark.postgres
def test_race_postgres(pg_db_url, keyring, tmp_path, make_register):
    _scenario(pg_db_url, keyring.verifier(), tmp_path, make_register)
