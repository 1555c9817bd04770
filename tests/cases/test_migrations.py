"""The migrated schema equals the models; migrations are applied once, on open."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from chipkit.cases import CaseService, Database
from chipkit.cases.db import HEAD
from chipkit.cases.models import metadata


def test_schema_matches_models(tmp_path):
    db = Database(tmp_path / "m.sqlite")
    with db.engine.connect() as conn:
        mc = MigrationContext.configure(conn, opts={"version_table": "ck_alembic_version"})
        diff = [d for d in compare_metadata(mc, metadata) if "ck_alembic_version" not in str(d)]
    assert diff == []
    assert db.revision() == HEAD


def test_reopen_keeps_data(tmp_path, make_register):
    p = tmp_path / "m.sqlite"
    svc = CaseService(p, create=True)
    svc.import_register(make_register(tmp_path / "r.csv"))
    svc.submit("other", "x", household_id="H-0001", worker_id="W1")
    svc.db.dispose()
    again = CaseService(p)
    assert len(again.list_cases()) == 1 and again.db.revision() == HEAD
    assert set(again.types()) == {"proxy", "dispute", "hazard", "event", "other"}


def test_missing_folder_is_a_clear_error(tmp_path):
    from chipkit.cases import CasesError

    with pytest.raises(CasesError, match="does not exist"):
        Database(tmp_path / "nope" / "x.sqlite")


def _open_at_once(url, n=4):
    import threading

    errors = []
    barrier = threading.Barrier(n)

    def go():
        barrier.wait()
        try:
            Database(url).dispose()
        except Exception as e:  # noqa: BLE001 - collected for the assertion
            errors.append(e)

    ts = [threading.Thread(target=go) for _ in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    return errors


def test_concurrent_first_open_sqlite(tmp_path):
    assert _open_at_once(str(tmp_path / "fresh.sqlite")) == []
    assert Database(tmp_path / "fresh.sqlite").revision() == HEAD


@pytest.mark.postgres
def test_concurrent_first_open_postgres(pg_db_url):
    assert _open_at_once(pg_db_url) == []
    assert Database(pg_db_url).revision() == HEAD


def test_0002_adds_the_rating_credential_to_an_existing_database(tmp_path, make_register):
    """Upgrading a 0001 database with ratings: old ratings become 'unknown' (not
    resident-confirmed); the downgrade removes the columns again."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import text

    from chipkit.cases.db import MIGRATIONS

    p = tmp_path / "old.sqlite"
    svc = CaseService(p, create=True)
    svc.import_register(make_register(tmp_path / "r.csv"))
    c = svc.submit("other", "x", household_id="H-0001", worker_id="W1")
    svc.accept(c["id"], "W1")
    svc.resolve(c["id"], "W1", "done")
    svc.rate(c["id"], 4, True, household_id="H-0001", credential="household")
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with svc.db.write() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0001")
    with svc.db.read() as conn:
        cols = {r[1] for r in conn.execute(text("PRAGMA table_info(ck_ratings)"))}
    assert "credential" not in cols and svc.db.revision() == "0001"
    svc.db.dispose()
    again = CaseService(p)  # opening migrates to 0002
    assert again.db.revision() == HEAD
    with again.db.read() as conn:
        cred = conn.execute(text("SELECT credential FROM ck_ratings")).scalar()
    assert cred == "unknown"
    got = again.get(c["id"])
    assert got["state"] == "closed_confirmed" and got["resident_confirmed"] is False


def test_0003_keeps_the_register_worker_phone(tmp_path):
    """The register's 联系电话 lands on the worker (the household page links it); an
    existing database gains the column with '' for workers already there."""
    from sqlalchemy import select

    from chipkit.cases.models import workers

    reg = tmp_path / "r.csv"
    reg.write_text(
        "户号,村代码,乡镇,村名,门牌号,网格,网格员,联系电话\n"
        "JD-1,330703100201,孝顺镇,浦口村,1号,第一网格,陈晓琳,13905797037\n",
        encoding="utf-8",
    )
    svc = CaseService(tmp_path / "p.sqlite", create=True)
    svc.import_register(reg)
    with svc.db.read() as conn:
        assert conn.execute(select(workers.c.phone)).scalar() == "13905797037"
