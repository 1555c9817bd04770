"""PIN slips come with the plates: `chipkit plates --db` and the clerk console's issue job
issue a new PIN for every household printed, keep only its hash, and write the slips beside
the plates; nothing half-done when a step fails."""

from __future__ import annotations

import csv
import json
import re
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from servetools import login, wait_job
from sqlalchemy import select

from chipkit.cases import CaseService
from chipkit.cases.models import events
from chipkit.keys import Keyring
from chipkit.serve import Accounts, check_pin, issue_pins
from chipkit.serve.models import household_pins
from chipkit.serve.slips import SLIPS_TTL
from chipkit.serve.store import open_database
from chipkit_cli.main import cli

from .conftest import CHEAP, PASSWORD, REGISTER, V2


def ck(*args: str):
    return CliRunner().invoke(cli, list(args), env={"CHIPKIT_DB": None}, catch_exceptions=False)


@pytest.fixture()
def shop(tmp_path: Path):
    """(register, keyring dir, database URL) with the register imported."""
    reg = tmp_path / "register.csv"
    reg.write_text(REGISTER, encoding="utf-8")
    db = tmp_path / "cases.sqlite"
    CaseService(open_database(db)).import_register(reg)
    kr = Keyring.init(tmp_path / "keys", passphrase=None)
    return reg, str(kr.path), str(db)


def _slips(path: Path) -> dict[str, str]:
    return {r["household_id"]: r["pin"] for r in csv.DictReader(path.open(encoding="utf-8-sig"))}


def _verify(db: str, pins: dict[str, str]) -> set[str]:
    d = open_database(db, create=False)
    try:
        return {h for h, p in pins.items() if check_pin(d, h, p)}
    finally:
        d.dispose()


def test_plates_with_db_write_slips_whose_pins_verify_and_a_rerun_keeps_them(shop, tmp_path):
    reg, keys, db = shop
    out = tmp_path / "out"
    r = ck("plates", str(reg), "--keys", keys, "--out", str(out), "--db", db, "--slips", "csv")
    assert r.exit_code == 0, r.output
    slips = out / "pin-slips.csv"
    assert f"4 PIN slips in {slips} (mode 0600" in r.output and "already have" not in r.output
    assert oct(slips.stat().st_mode & 0o777) == "0o600"
    first = _slips(slips)
    assert set(first) == {"H-0001", "H-0002", "H-0003", "H-0004"}
    assert _verify(db, first) == set(first)
    with open_database(db, create=False).read() as conn:  # only hashes are stored
        stored = [r.pin_hash for r in conn.execute(select(household_pins))]
    assert all(h.startswith("$argon2id$") for h in stored) and not set(first.values()) & set(stored)
    # --no-pins reprints without touching a PIN, even with a database
    r = ck("plates", str(reg), "--keys", keys, "--out", str(out), "--db", db, "--no-pins")
    assert r.exit_code == 0 and "PINs unchanged (--no-pins)" in r.output, r.output
    assert _verify(db, first) == set(first) and _slips(slips) == first
    # a plain re-run keeps every PIN a household holds: no new PIN, no new slip, one line
    r = ck("plates", str(reg), "--keys", keys, "--out", str(out), "--db", db)
    assert r.exit_code == 0, r.output
    kept = (
        "no PIN slips made; 4 households already have a PIN: kept (their slips stay valid); "
        "to replace them, --new-pins"
    )
    assert kept in r.output and not (out / "pin-slips.pdf").exists(), r.output
    assert _verify(db, first) == set(first) and _slips(slips) == first
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def _pdf_slips(path: Path) -> dict[str, str]:
    """The (household, PIN) pairs printed on a slips PDF, read back with pdftotext."""
    txt = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True).stdout
    return dict(re.findall(r"Household: (H-\d{4})\s+.*?PIN: (\d{8})", txt, re.S))


def test_a_rerun_with_new_households_writes_a_new_slips_file_and_keeps_the_earlier(shop, tmp_path):
    reg, keys, db = shop
    lines = reg.read_text(encoding="utf-8").splitlines()
    part = tmp_path / "part.csv"  # the first two households only
    part.write_text("\n".join(ln for ln in lines if not re.match("H-000[34]", ln)) + "\n")
    out = tmp_path / "out"
    r = ck("plates", str(part), "--keys", keys, "--out", str(out), "--db", db)
    assert r.exit_code == 0 and f"2 PIN slips in {out / 'pin-slips.pdf'} (" in r.output, r.output
    first = _pdf_slips(out / "pin-slips.pdf")
    assert set(first) == {"H-0001", "H-0002"} and _verify(db, first) == set(first)
    # the whole register: two new households, their slips in a new file; the first one stays
    r = ck("plates", str(reg), "--keys", keys, "--out", str(out), "--db", db)
    second = out / "pin-slips-2.pdf"
    assert r.exit_code == 0 and f"2 PIN slips in {second} (" in r.output, r.output
    assert "earlier slips files left as they were: pin-slips.pdf" in r.output
    assert _pdf_slips(out / "pin-slips.pdf") == first
    new = _pdf_slips(second)
    assert set(new) == {"H-0003", "H-0004"} and _verify(db, {**first, **new}) == {*first, *new}
    assert oct(second.stat().st_mode & 0o777) == "0o600"
    # --new-pins: a third file with every household; the earlier ones are left as they were
    r = ck("plates", str(reg), "--keys", keys, "--out", str(out), "--db", db, "--new-pins")
    assert r.exit_code == 0 and f"4 PIN slips in {out / 'pin-slips-3.pdf'} (" in r.output
    assert _pdf_slips(out / "pin-slips.pdf") == first and _pdf_slips(second) == new
    assert _verify(db, _pdf_slips(out / "pin-slips-3.pdf")) == {*first, *new}
    assert sorted(p.name for p in out.glob("*pin-slips*")) == [
        "pin-slips-2.pdf",
        "pin-slips-3.pdf",
        "pin-slips.pdf",
    ]


def test_a_household_whose_pin_was_cleared_gets_one_and_new_pins_replaces_them(shop, tmp_path):
    reg, keys, db = shop
    out = tmp_path / "out"
    base = ("plates", str(reg), "--keys", keys, "--out", str(out), "--db", db, "--slips", "csv")
    assert ck(*base).exit_code == 0
    first = _slips(out / "pin-slips.csv")
    d = open_database(db, create=False)
    Accounts(d, CHEAP).forget_household("H-0002")  # a plate revoke clears the PIN
    d.dispose()
    r = ck(*base)
    assert r.exit_code == 0, r.output
    assert "1 PIN slips in" in r.output and "3 households already have a PIN: kept" in r.output
    assert "stopped working" not in r.output
    again = _slips(out / "pin-slips-2.csv")  # a new file: the first one is left as it was
    assert set(again) == {"H-0002"} and _verify(db, again) == {"H-0002"}
    assert _slips(out / "pin-slips.csv") == first
    assert _verify(db, first) == set(first) - {"H-0002"}
    # --new-pins: every PIN is replaced, new slips printed, and the summary says so
    r = ck(*base, "--new-pins")
    assert r.exit_code == 0, r.output
    assert "4 PIN slips in" in r.output and "already have" not in r.output
    assert "4 households had a PIN: replaced (their old slips stopped working)" in r.output
    new = _slips(out / "pin-slips-3.csv")
    assert _verify(db, new) == set(new) == set(first)
    assert _verify(db, first) == set() and _verify(db, again) == set()
    # --new-pins with --no-pins is a usage error: nothing printed, no PIN changed
    r = ck(*base, "--new-pins", "--no-pins")
    assert r.exit_code == 2 and "--new-pins" in r.output and "--no-pins" in r.output
    assert _verify(db, new) == set(new)


def test_the_library_keeps_pins_by_default_and_never_overwrites_one_given_meanwhile(
    shop, tmp_path, monkeypatch
):
    from chipkit.serve import issue_pins
    from chipkit.serve.slips import SlipsError, issue_slips

    _, _, url = shop
    db = open_database(url, create=False)
    out = tmp_path / "out"
    out.mkdir()
    hids = ["H-0001", "H-0002", "H-0003"]
    res = issue_slips(db, hids, out, fmt="csv", hasher=CHEAP)
    assert res.households == hids and res.kept == [] and res.replaced == []
    first = _slips(out / "pin-slips.csv")
    res = issue_slips(db, [*hids, "H-0004"], out, fmt="csv", hasher=CHEAP)
    assert res.households == ["H-0004"] and res.kept == hids and res.replaced == []
    assert all(check_pin(db, h, p, hasher=CHEAP) for h, p in first.items())
    res = issue_slips(db, hids[:1], out, fmt="csv", hasher=CHEAP, new_pins=True)
    assert res.households == res.replaced == hids[:1] and res.kept == []
    assert not check_pin(db, "H-0001", first["H-0001"], hasher=CHEAP)

    # a PIN given to a household after its slip was drawn (another run) is never overwritten
    Accounts(db, CHEAP).forget_household("H-0002")
    import chipkit.serve.slips as slips_mod

    real = slips_mod._write
    held: list[tuple[str, str]] = []

    def meanwhile(made, tmp, fmt, font, where, doors=None):
        real(made, tmp, fmt, font, where, doors)
        held.extend(issue_pins(db, ["H-0002"], hasher=CHEAP))
        return tmp

    monkeypatch.setattr(slips_mod, "_write", meanwhile)
    with pytest.raises(SlipsError, match="got a PIN meanwhile.*no PIN was changed"):
        issue_slips(db, hids, out, fmt="csv", hasher=CHEAP)
    assert check_pin(db, "H-0002", held[0][1], hasher=CHEAP)
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    db.dispose()


def test_a_slips_file_name_is_never_taken_twice(tmp_path, monkeypatch):
    import chipkit.serve.slips as slips_mod
    from chipkit.serve.slips import next_slips_name, place_slips

    def made(text: str):
        tmp = tmp_path / f".pin-slips.pdf.{len(list(tmp_path.iterdir())):08x}.tmp"
        tmp.write_text(text)
        return tmp

    assert place_slips(made("one"), tmp_path, "pdf").name == "pin-slips.pdf"
    (tmp_path / "pin-slips-2.csv" / "x").mkdir(parents=True)  # a folder holds a name too
    assert next_slips_name(tmp_path, "pdf") == "pin-slips-3.pdf"
    real = slips_mod.next_slips_name
    stale = iter(["pin-slips.pdf"])  # a concurrent run took the name this one picked
    monkeypatch.setattr(slips_mod, "next_slips_name", lambda o, f: next(stale, None) or real(o, f))
    assert place_slips(made("two"), tmp_path, "pdf").name == "pin-slips-3.pdf"

    def no_links(src, dst):  # a FAT USB stick: no hard links, a checked rename instead
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(slips_mod.os, "link", no_links)
    stale = iter(["pin-slips-3.pdf"])
    assert place_slips(made("three"), tmp_path, "pdf").name == "pin-slips-4.pdf"
    texts = {p.name: p.read_text() for p in tmp_path.glob("pin-slips*.pdf")}
    assert texts == {"pin-slips.pdf": "one", "pin-slips-3.pdf": "two", "pin-slips-4.pdf": "three"}
    assert not list(tmp_path.glob(".*.tmp"))


def test_plates_without_db_say_in_one_line_that_no_slip_was_made(shop, tmp_path):
    reg, keys, _ = shop
    out = tmp_path / "out"
    r = ck("plates", str(reg), "--keys", keys, "--out", str(out))
    assert r.exit_code == 0, r.output
    notes = [line for line in r.output.splitlines() if "no PIN slips made" in line]
    assert len(notes) == 1 and "chipkit households pins" in notes[0]
    assert not list(out.glob("pin-slips.*"))
    # a database that is not there stops the batch before any plate is printed
    other = tmp_path / "other"
    r = ck("plates", str(reg), "--keys", keys, "--out", str(other), "--db", str(tmp_path / "no.db"))
    assert r.exit_code == 2 and "no.db" in r.output and not other.exists(), r.output


def test_a_failed_batch_or_slip_write_changes_no_pin(shop, tmp_path, monkeypatch):
    reg, keys, db = shop
    out = tmp_path / "out"
    r = ck("plates", str(reg), "--keys", keys, "--out", str(out), "--db", db, "--slips", "csv")
    before = _slips(out / "pin-slips.csv")

    import chipkit.plates
    import chipkit.serve.slips

    def broken_batch(*a, **k):
        raise chipkit.plates.BatchError("the printer's folder vanished")

    with monkeypatch.context() as m:
        m.setattr(chipkit.plates, "run_batch", broken_batch)
        r = ck("plates", str(reg), "--keys", keys, "--out", str(out), "--db", db)
    assert r.exit_code == 2 and "the printer's folder vanished" in r.output
    assert _verify(db, before) == set(before)

    def full_disk(pins):
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(chipkit.serve.slips, "slips_csv", full_disk)
        args = ("--db", db, "--slips", "csv", "--new-pins")
        r = ck("plates", str(reg), "--keys", keys, "--out", str(out), *args)
    assert r.exit_code == 1, r.output
    assert "NO PIN slips for 4 households" in r.output and "no PIN was changed" in r.output
    assert "No space left on device" in r.output
    assert _verify(db, before) == set(before) and _slips(out / "pin-slips.csv") == before
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    assert [p.name for p in out.glob("*pin-slips*")] == ["pin-slips.csv"]


def test_slips_that_cannot_be_moved_in_place_are_named_not_lost(shop, tmp_path, monkeypatch):
    import chipkit.serve.slips as slips_mod

    reg, keys, db = shop
    out = tmp_path / "out"

    def io_error(src, dst):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(slips_mod.os, "link", io_error)
    r = ck("plates", str(reg), "--keys", keys, "--out", str(out), "--db", db, "--slips", "csv")
    assert r.exit_code == 1 and "Input/output error" in r.output, r.output
    assert "the new PINs of 4 households are in force" in r.output
    (tmp,) = out.glob(".pin-slips.csv.*.tmp")
    assert f"they are in {tmp} (mode 0600)" in r.output
    assert oct(tmp.stat().st_mode & 0o777) == "0o600"
    assert _verify(db, _slips(tmp)) == {"H-0001", "H-0002", "H-0003", "H-0004"}


def test_households_missing_from_the_database_are_listed(tmp_path):
    reg = tmp_path / "register.csv"
    reg.write_text(REGISTER, encoding="utf-8")
    part = tmp_path / "part.csv"
    part.write_text("\n".join(ln for ln in REGISTER.splitlines() if "H-0004" not in ln))
    db = tmp_path / "cases.sqlite"
    CaseService(open_database(db)).import_register(part)
    keys = str(Keyring.init(tmp_path / "keys", passphrase=None).path)
    out = tmp_path / "out"
    r = ck("plates", str(reg), "--keys", keys, "--out", str(out), "--db", str(db))
    assert r.exit_code == 1, r.output
    assert "3 PIN slips in" in r.output
    assert "1 households not in the database got no PIN (H-0004)" in r.output


# ------------------------------------------------------------------ the clerk console's job

CLERK_REGISTER = """户号,村代码,村名,门牌号,网格,网格员
H-0001,330703101001,东村,1号,G1,张三
H-0002,330703101001,东村,2号,G1,张三
H-0009,330703101001,东村,9号,G1,张三
"""


def _issue(clerk, body: dict) -> dict:
    files = {"file": ("登记表.csv", CLERK_REGISTER.encode("utf-8"), "text/csv")}
    up = clerk.post("/api/v1/registers", files=files).json()
    r = clerk.post(f"/api/v1/registers/{up['upload_id']}/issue", json=body)
    j = wait_job(clerk, r.json()["job_id"])
    assert j["state"] == "done", j
    return j


def _hashes(svc) -> dict[str, str]:
    with svc.db.read() as conn:
        q = select(household_pins.c.household_id, household_pins.c.pin_hash)
        return {r.household_id: r.pin_hash for r in conn.execute(q)}


def test_issue_job_keeps_the_pins_households_hold_unless_new_pins(keyed_app):
    svc = keyed_app.state.chipkit
    old = dict(issue_pins(svc.db, ["H-0001", "H-0002"], hasher=CHEAP))
    svc.accounts.forget_household("H-0002")  # a revoke cleared its PIN
    clerk = login(keyed_app, "clerk1")
    slips = _issue(clerk, {})["result"]["slips"]
    assert (slips["households"], slips["kept"], slips["replaced"]) == (1, 1, 0), slips
    assert check_pin(svc.db, "H-0001", old["H-0001"], hasher=CHEAP)
    before = _hashes(svc)
    slips = _issue(clerk, {"new_pins": True})["result"]["slips"]
    assert (slips["households"], slips["kept"], slips["replaced"]) == (2, 0, 2), slips
    assert slips["file"] == "pin-slips.pdf"
    assert not check_pin(svc.db, "H-0001", old["H-0001"], hasher=CHEAP)
    after = _hashes(svc)
    assert all(after[h] != before[h] for h in ("H-0001", "H-0002"))
    with svc.db.read() as conn:
        q = select(events.c.after).where(events.c.kind == "plates.issue")
        asked = [json.loads(a) if isinstance(a, str) else a for a in conn.execute(q).scalars()]
    assert [a["new_pins"] for a in asked] == [False, True]  # who asked for new PINs: audited


def test_issue_job_offers_the_slips_once_to_its_clerk_and_reissue_makes_one(keyed_app, clock):
    app = keyed_app
    svc = app.state.chipkit
    Accounts(svc.db, CHEAP).add("clerk2", PASSWORD, role="clerk", unit_id=V2)
    clerk = login(app, "clerk1")
    j = _issue(clerk, {"new_pins": True})
    slips = j["result"]["slips"]
    assert slips["file"] == "pin-slips.pdf" and slips["households"] == 2
    assert slips["not_in_database"] == ["H-0009"] and slips["not_in_database_count"] == 1
    assert slips["expires_at"] == svc.now() + SLIPS_TTL and "pin-slips.pdf" in j["result"]["files"]
    url = f"/api/v1/jobs/{j['id']}/files/pin-slips.pdf"
    with svc.db.read() as conn:
        q = select(household_pins.c.household_id, household_pins.c.created_at)
        new = {h: t for h, t in conn.execute(q)}
        who = conn.execute(select(events.c.actor).where(events.c.kind == "household.pins")).all()
    assert {h for h, t in new.items() if t == svc.now()} == {"H-0001", "H-0002"}
    assert who[-1].actor == "user:clerk1"
    assert login(app, "clerk2").get(url).status_code == 404  # another village's clerk
    assert login(app, "admin").get(url).status_code == 403  # not the account that issued
    r = clerk.get(url)
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
    assert r.headers["cache-control"] == "no-store"
    folder = svc.data_dir / "jobs" / j["id"]
    assert not list(folder.glob("*pin-slips*"))  # deleted once sent
    r = clerk.get(url)
    assert r.status_code == 404 and "deleted once downloaded" in r.json()["detail"]
    # a numbered slips file (a resumed job's second try) is a slips file too: owner only, once
    (folder / "pin-slips-2.pdf").write_bytes(b"%PDF-1.4 slips")
    assert login(app, "admin").get(f"{url[:-4]}-2.pdf").status_code == 403
    assert clerk.get(f"{url[:-4]}-2.pdf").content == b"%PDF-1.4 slips"
    assert (
        not list(folder.glob("*pin-slips*")) and clerk.get(f"{url[:-4]}-2.pdf").status_code == 404
    )
    (folder / "pin-slips-3.csv").write_bytes(b"household_id,pin")  # and the sweep deletes it

    # the reissue of one household makes its new slip; not downloaded in time, it is deleted
    body = {"household_id": "H-0001", "reason": "丢失"}
    r = clerk.post("/api/v1/plates/reissue", json=body)  # a lost plate: the PIN is kept
    j2 = wait_job(clerk, r.json()["job_id"])
    assert j2["result"]["slips"]["kept"] == 1 and j2["result"]["slips"]["file"] is None, j2
    r = clerk.post("/api/v1/plates/reissue", json=body | {"new_pins": True})
    j2 = wait_job(clerk, r.json()["job_id"])
    assert j2["state"] == "done" and j2["result"]["slips"]["households"] == 1, j2
    from chipkit.serve import api_plates

    assert api_plates.expire_slips(svc) == 0
    clock.advance(SLIPS_TTL)
    assert api_plates.expire_slips(svc) == 2 and not list(folder.glob("*pin-slips*"))
    assert clerk.get(f"/api/v1/jobs/{j2['id']}/files/pin-slips.pdf").status_code == 404


def test_a_large_batch_of_pins_is_hashed_on_threads_in_order():
    from chipkit.serve.pins import hash_pins

    pins = [(f"H-{i:04d}", f"{i:08d}") for i in range(40)]
    hashed = hash_pins(pins, CHEAP)
    assert [h for h, _ in hashed] == [h for h, _ in pins]
    assert all(CHEAP.verify(ph, p) for (_, p), (_, ph) in zip(pins, hashed, strict=True))


def test_each_slip_names_the_door_it_goes_to(shop, tmp_path):
    # a slip said only the household id, which the plate never shows: the clerk could not
    # tell which door a slip belongs to. Now it names the village and the house (address)
    reg, keys, db = shop
    out = tmp_path / "out"
    assert ck("plates", str(reg), "--keys", keys, "--out", str(out), "--db", db).exit_code == 0
    txt = subprocess.run(
        ["pdftotext", str(out / "pin-slips.pdf"), "-"], capture_output=True, text=True
    ).stdout
    assert re.search(r"Household: H-0001\s+门牌 Door: 东村 1号", txt) and "Door: 西村 4号" in txt
    again = tmp_path / "again.pdf"
    r = ck("households", "pins", "--db", db, "--household", "H-0003", "--out", str(again))
    assert r.exit_code == 0, r.output
    txt = subprocess.run(["pdftotext", str(again), "-"], capture_output=True, text=True).stdout
    assert re.search(r"Household: H-0003\s+门牌 Door: 东村 3号", txt)
