"""The village -> town -> district cache is shared by a server's threads."""

from __future__ import annotations

import sys
import threading

from sqlalchemy import select

from chipkit.cases.models import units


def test_chain_cache_is_safe_across_threads(svc):
    with svc.db.read() as conn:
        villages = list(conn.execute(select(units.c.id).where(units.c.kind == "village")).scalars())
    assert villages, "the fixture district has households"
    errors: list[BaseException] = []

    def look() -> None:
        try:
            with svc.db.read() as conn:
                for v in villages:
                    svc._chain(conn, v)
        except BaseException as e:  # noqa: BLE001 - collected and asserted below
            errors.append(e)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: the race shows
    try:
        for _ in range(30):  # a fresh cache each round: the race is on the first fill
            svc._parents.clear()
            threads = [threading.Thread(target=look) for _ in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
    finally:
        sys.setswitchinterval(old)
    assert errors == []
