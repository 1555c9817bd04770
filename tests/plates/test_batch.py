"""Batches: the CLI, manifests, the ledger (no second live plate), reissue, crashes, safety."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from plates_helpers import ROOT, SAMPLE_CSV, decode_qr_texts

from chipkit.errors import RevokedToken
from chipkit.plates import BatchOptions, csv_safe, run_batch, safe_filename
from chipkit.plates.batch import BatchError, inside
from chipkit.plates.ledger import Ledger
from chipkit.register import read_register
from chipkit_cli.main import cli


def _cli(*args: str) -> object:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text("utf-8"))


def _live_serials(keyring) -> dict[str, int]:
    return {hid: p.serial for hid, p in Ledger(keyring.path).state().live.items()}


def test_exact_cli_invocation_png(tmp_path, keyring):
    """QR plates (one flag away from the snowflake default) decode with a QR reader."""
    out = tmp_path / "OUT"
    r = _cli(
        "plates", str(SAMPLE_CSV), "--keys", str(keyring.path), "--out", str(out),
        "--format", "png", "--carrier", "qr",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    n = len(read_register(SAMPLE_CSV).households)
    pngs = sorted(out.glob("*.png"))
    assert len(pngs) == n
    man = _manifest(out)
    assert man["counts"]["issued"] == n and man["counts"]["rejected"] == 0
    rows = man["plates"]
    assert len(rows) == n and len({r["serial"] for r in rows}) == n
    for row in rows:
        assert row["module_px"] >= 2 and row["module_mm"] > 0.6 and row["carrier"] == "qr"
        assert row["ec_level"] == "Q" and len(row["token_sha256"]) == 64 and row["sign_kid"]
        assert (out / row["file"]).is_file()
    # every plate decodes and verifies, and matches its manifest row (check a few)
    import hashlib

    from chipkit.token import from_text

    v = keyring.verifier()
    for row in rows[:: max(1, n // 5)]:
        (text,) = decode_qr_texts(out / row["file"])
        claims = v.verify(text)
        assert (claims.household_id, claims.serial) == (row["household_id"], row["serial"])
        assert hashlib.sha256(from_text(text)).hexdigest() == row["token_sha256"]
    with (out / "manifest.csv").open(encoding="utf-8-sig") as f:
        assert len(list(csv.DictReader(f))) == n
    assert "issued" in r.output and "rejected" in r.output  # the summary


def test_rerun_never_mints_a_second_live_plate_and_reissue_revokes(tmp_path, keyring):
    reg = read_register(SAMPLE_CSV)
    reg.households = reg.households[:6]
    out = tmp_path / "out"
    first = run_batch(reg, keyring, BatchOptions(out=out, fmt="svg", jobs=1, carrier="qr"))
    assert first.counts["issued"] == 6
    live1 = _live_serials(keyring)
    next1 = keyring.reserve_serials(0).start

    again = run_batch(reg, keyring, BatchOptions(out=out, fmt="svg", jobs=1, carrier="qr"))
    assert again.counts == {"issued": 0, "reissued": 0, "reprinted": 0, "existing": 6}
    assert _live_serials(keyring) == live1
    assert keyring.reserve_serials(0).start == next1  # no serial spent

    other = run_batch(reg, keyring, BatchOptions(out=tmp_path / "pdf", fmt="pdf", jobs=1))
    assert other.counts["reprinted"] == 6 and _live_serials(keyring) == live1
    digests = {r["household_id"]: r["token_sha256"] for r in _manifest(out)["plates"]}
    assert {
        r["household_id"]: r["token_sha256"] for r in _manifest(tmp_path / "pdf")["plates"]
    } == digests

    old_files = {r["household_id"]: out / r["file"] for r in _manifest(out)["plates"]}
    old_text = (old_files[reg.households[0].household_id]).read_text("utf-8")
    re_ = run_batch(
        reg, keyring, BatchOptions(out=out, fmt="svg", jobs=1, reissue=True, carrier="qr")
    )
    assert re_.counts["reissued"] == 6
    live2 = _live_serials(keyring)
    assert set(live2) == set(live1) and all(live2[h] != live1[h] for h in live1)
    from chipkit.keys import Keyring

    kr = Keyring.open(keyring.path)
    assert set(live1.values()) <= set(kr.revoked)
    rows = _manifest(out)["plates"]
    assert {r["supersedes"] for r in rows} == set(live1.values())
    assert not any(p.exists() for p in old_files.values())  # revoked images removed
    # the old token is now refused as revoked
    from plates_helpers import bitmap_image, svg_symbol_bitmap

    (old_token,) = decode_qr_texts(bitmap_image(svg_symbol_bitmap(old_text)))
    with pytest.raises(RevokedToken):
        kr.verifier().verify(old_token)


def test_rejected_rows_exit_code_and_manifest(tmp_path, keyring):
    src = SAMPLE_CSV.read_text("utf-8").splitlines(keepends=True)
    bad = src[:4] + ["JD-X,3307031,浦口村,1号,,,,,\n", src[2]]  # bad village, duplicate
    reg_path = tmp_path / "r.csv"
    reg_path.write_bytes("".join(bad).encode("gb18030"))
    out = tmp_path / "out"
    r = _cli(
        "plates", str(reg_path), "--keys", str(keyring.path), "--out", str(out), "--format", "svg"
    )
    assert r.exit_code == 1
    assert "gb18030" in r.output
    assert "row 5, village_code" in r.output and "row 6, household_id" in r.output
    man = _manifest(out)
    assert man["counts"]["issued"] == 3 and man["counts"]["rejected"] == 2
    assert {(p["row"], p["reason"]) for p in man["rejected"]} == {
        (5, "bad_village_code"),
        (6, "duplicate_household"),
    }


def test_cli_errors_are_one_line(tmp_path, keyring):
    r = _cli(
        "plates",
        str(SAMPLE_CSV),
        "--keys",
        str(keyring.path),
        "--out",
        str(tmp_path / "o"),
        "--font",
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    )
    assert r.exit_code == 2 and "--font" in r.output and "Traceback" not in r.output
    r = _cli(
        "plates",
        str(tmp_path / "missing.csv"),
        "--keys",
        str(keyring.path),
        "--out",
        str(tmp_path / "o"),
    )
    assert r.exit_code == 2 and "missing.csv" in r.output
    r = _cli(
        "plates", str(SAMPLE_CSV), "--keys", str(tmp_path / "nokeys"), "--out", str(tmp_path / "o")
    )
    assert r.exit_code == 2 and "Traceback" not in r.output
    r = _cli("plates", "--help")
    assert r.exit_code == 0 and "--reissue" in r.output


def test_no_font_gives_clear_error(tmp_path, keyring, monkeypatch):
    from chipkit import fonts

    monkeypatch.setattr(fonts, "KNOWN_PATHS", ())
    monkeypatch.setattr(fonts, "_fontconfig_candidates", lambda: [])
    fonts._discover.cache_clear()
    try:
        r = _cli(
            "plates", str(SAMPLE_CSV), "--keys", str(keyring.path), "--out", str(tmp_path / "o")
        )
    finally:
        fonts._discover.cache_clear()
    assert r.exit_code == 2
    assert "fonts-wqy-microhei" in r.output and "--font PATH" in r.output


@pytest.mark.parametrize(
    "hid",
    [
        "../../etc/passwd",
        "/abs/path",
        "a\x00b",
        "x" * 5000,
        "..",
        "CON",
        "é/../..",
        "=cmd|' /C calc'!A0",
    ],
)
def test_file_names_never_escape(tmp_path, hid):
    name = safe_filename(hid, 42, "png")
    assert (
        "/" not in name and "\x00" not in name and len(name) < 80 and name.endswith("-0000042.png")
    )
    p = inside(tmp_path, name)
    assert p.parent == tmp_path.resolve()
    assert safe_filename(hid + "y", 42, "png") != name or hid.endswith("y")


def test_inside_refuses_escapes(tmp_path):
    for bad in ("../x.png", "/etc/x.png", "a/b.png", "a\x00.png"):
        with pytest.raises((BatchError, ValueError)):
            inside(tmp_path, bad)


def test_csv_formula_cells_neutralised(tmp_path, keyring):
    assert [csv_safe(v) for v in ("=1+1", "+86", "-3", "@SUM", "ok", 5)] == [
        "'=1+1",
        "'+86",
        "'-3",
        "'@SUM",
        "ok",
        5,
    ]
    reg_path = tmp_path / "r.csv"
    reg_path.write_text(
        "household_id,village_code,village_name,house_no\n"
        'A1,330703100201,"=HYPERLINK(""http://x"")",+1号\n',
        encoding="utf-8",
    )
    out = tmp_path / "out"
    r = _cli(
        "plates", str(reg_path), "--keys", str(keyring.path), "--out", str(out), "--format", "svg"
    )
    # issue 10 item 3: a formula cell is not printed on a plate: the row is rejected
    assert r.exit_code == 1, r.output
    assert "row 2, village_name" in r.output and "(formula)" in r.output
    man = _manifest(out)
    assert [(p["row"], p["column"], p["reason"]) for p in man["rejected"]] == [
        (2, "village_name", "formula")
    ]
    with (out / "manifest.csv").open(encoding="utf-8-sig") as f:
        assert list(csv.DictReader(f)) == []


def test_interrupted_run_leaves_no_manifest_and_rerun_completes(tmp_path, keyring, monkeypatch):
    from chipkit.plates import pool as B

    reg = read_register(SAMPLE_CSV)
    out = tmp_path / "out"
    real = B.render_chunk
    calls = {"n": 0}

    def flaky(job):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(job)

    monkeypatch.setattr(B, "render_chunk", flaky)
    with pytest.raises(KeyboardInterrupt):
        run_batch(reg, keyring, BatchOptions(out=out, fmt="svg", jobs=1, files_per_chunk=8))
    assert not (out / "manifest.json").exists() and not (out / "manifest.csv").exists()
    assert len(_live_serials(keyring)) == 16  # two chunks were confirmed
    monkeypatch.setattr(B, "render_chunk", real)
    res = run_batch(reg, keyring, BatchOptions(out=out, fmt="svg", jobs=1, files_per_chunk=8))
    assert res.counts["existing"] == 16 and res.counts["issued"] == len(reg.households) - 16
    assert res.recovered["voided"] == 8  # the third chunk's intents: files never written
    man = _manifest(out)
    assert len(man["plates"]) == len(reg.households)
    assert len(_live_serials(keyring)) == len(reg.households)
    assert sorted(p.name for p in out.glob("*.svg")) == sorted(r["file"] for r in man["plates"])


def _big_register(path: Path, n: int) -> Path:
    lines = ["household_id,village_code,village_name,house_no,grid,worker,worker_phone\n"]
    lines += [
        f"K-{i:05d},330703100201,浦口村,浦口路{i}号,第一网格,陈晓琳,13905790000\n" for i in range(n)
    ]
    path.write_text("".join(lines), encoding="utf-8")
    return path


def test_sigkill_then_rerun_is_consistent(tmp_path, keyring):
    reg_path = _big_register(tmp_path / "big.csv", 240)
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-m",
        "chipkit_cli.main",
        "plates",
        str(reg_path),
        "--keys",
        str(keyring.path),
        "--out",
        str(out),
        "--format",
        "png",
        "--dpi",
        "100",
        "-j",
        "2",
        "--carrier",
        "qr",  # the rows are checked with a QR reader below
    ]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 60
    while time.time() < deadline and len(list(out.glob("*.png"))) < 40:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the batch and its workers, mid-run
    proc.wait()
    assert not (out / "manifest.json").exists()
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    man = _manifest(out)
    rows = man["plates"]
    assert len(rows) == 240 and len({r["household_id"] for r in rows}) == 240
    live = _live_serials(keyring)
    assert {r["household_id"]: r["serial"] for r in rows} == live
    files = {p.name for p in out.glob("*.png")}
    assert files == {r["file"] for r in rows}  # no orphan plate files, none missing
    from chipkit.keys import Keyring

    # files written but not recorded before the kill were adopted (re-sealed, identical
    # token), not revoked: the keys did not change, so nothing had to be revoked
    assert Keyring.open(keyring.path).revoked == {}
    assert not list(out.glob(".*.part"))
    for row in rows[::60]:
        (text,) = decode_qr_texts(out / row["file"])
        assert keyring.verifier().verify(text).serial == row["serial"]


def test_bad_options(tmp_path, keyring):
    reg = read_register(SAMPLE_CSV)
    with pytest.raises(BatchError):
        run_batch(reg, keyring, BatchOptions(out=tmp_path / "o", fmt="tiff"))
    (tmp_path / "file").write_text("x")
    with pytest.raises(BatchError):
        run_batch(reg, keyring, BatchOptions(out=tmp_path / "file", fmt="svg"))
    # a snowflake holds the binary chip: a URL prefix would be silently dropped
    opts = BatchOptions(
        out=tmp_path / "sf", fmt="svg", carrier="snowflake", url_prefix="HTTPS://X.CN/C/"
    )
    with pytest.raises(BatchError, match="needs --carrier qr"):
        run_batch(reg, keyring, opts)
    assert not (tmp_path / "sf").exists()
    # the default carrier is the snowflake: a URL prefix alone is refused the same way
    with pytest.raises(BatchError, match="needs --carrier qr"):
        run_batch(reg, keyring, BatchOptions(out=tmp_path / "sf", url_prefix="HTTPS://X.CN/C/"))
    assert not (tmp_path / "sf").exists()


def test_reissue_interrupted_after_files_written_is_adopted_not_doubled(
    tmp_path, keyring, monkeypatch
):
    """Killed between 'file exists' and 'ledger records it': the re-run adopts the plate."""
    from chipkit.keys import Keyring
    from chipkit.plates import batch as B

    reg = read_register(SAMPLE_CSV)
    reg.households = reg.households[:12]
    out = tmp_path / "out"
    run_batch(reg, keyring, BatchOptions(out=out, fmt="svg", jobs=1))
    old = _live_serials(keyring)

    real = B.confirm
    calls = {"n": 0}

    def crash_after_second_chunk(*a, **k):
        calls["n"] += 1
        if calls["n"] == 2:  # chunk 2's files exist, its ledger records do not
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(B, "confirm", crash_after_second_chunk)
    opts = BatchOptions(out=out, fmt="svg", jobs=1, reissue=True, files_per_chunk=4)
    with pytest.raises(KeyboardInterrupt):
        run_batch(reg, keyring, opts)
    monkeypatch.setattr(B, "confirm", real)
    res = run_batch(reg, keyring, opts)
    assert res.recovered["adopted"] == 4 and res.recovered["revoked_orphans"] == 0
    assert res.counts["reissued"] == 8 and res.counts["existing"] == 4
    new = _live_serials(keyring)
    assert set(new) == set(old) and all(new[h] != old[h] for h in old)
    # no household reissued twice: the first two chunks keep the serials of the interrupted
    # run (chunk 1 confirmed, chunk 2 adopted); chunk 3 was voided and minted afresh
    ids = [h.household_id for h in reg.households]
    assert [new[h] for h in ids[:8]] == list(range(13, 21))
    assert all(new[h] > 24 for h in ids[8:])
    revoked = set(Keyring.open(keyring.path).revoked)
    assert revoked == set(old.values())  # exactly the superseded serials
    rows = _manifest(out)["plates"]
    assert {r["household_id"]: r["serial"] for r in rows} == new
    assert sorted(p.name for p in out.glob("*.svg")) == sorted(r["file"] for r in rows)


def test_a_plate_revoked_by_household_leaves_the_print_folder_when_replaced(tmp_path, keyring):
    # `chipkit revoke --household` only revokes; the next run issues a new plate, and the
    # revoked plate's image must not stay beside it to be printed and hung by mistake
    reg = read_register(SAMPLE_CSV)
    reg.households = reg.households[:3]
    out = tmp_path / "out"
    run_batch(reg, keyring, BatchOptions(out=out, fmt="png", jobs=1))
    before = {r["household_id"]: out / r["file"] for r in _manifest(out)["plates"]}
    hid = reg.households[1].household_id
    r = _cli("revoke", str(keyring.path), "--household", hid, "--reason", "plate lost")
    assert r.exit_code == 0, r.output
    again = run_batch(reg, keyring, BatchOptions(out=out, fmt="png", jobs=1))
    assert again.counts["issued"] == 1 and again.counts["existing"] == 2
    assert not before[hid].exists()  # the revoked plate's image is gone
    assert all(p.exists() for h, p in before.items() if h != hid)  # the others stay
    now = {r["household_id"]: out / r["file"] for r in _manifest(out)["plates"]}
    assert now[hid] != before[hid] and now[hid].exists()
    assert sorted(p.name for p in out.glob("*.png")) == sorted(p.name for p in now.values())
