"""Issue 14: the snowflake is the default carrier of `chipkit plates`; QR is one flag away
(and needed for the URL form); QR plates issued before the switch keep scanning and
verifying."""

from __future__ import annotations

import json

from click.testing import CliRunner
from plates_helpers import SAMPLE_CSV

from chipkit.plates import BatchOptions, run_batch
from chipkit.register import read_register
from chipkit_cli.main import cli


def _scan_ok(path, verifier) -> list[tuple[str, int, str]]:
    from PIL import Image

    from chipkit.scan import scan_image

    found = scan_image(Image.open(path), verifier)
    return [(r.household_id, r.serial, r.carrier) for r in found if r.status == "ok"]


def test_the_cli_default_is_the_snowflake_and_qr_is_one_flag_away(tmp_path, keyring):
    reg = str(SAMPLE_CSV)
    args = [reg, "--keys", str(keyring.path), "--format", "png", "-j", "1", "-q"]
    r = CliRunner().invoke(cli, ["plates", *args, "--out", str(tmp_path / "sf")])
    assert r.exit_code == 0, r.output
    rows = json.loads((tmp_path / "sf" / "manifest.json").read_text("utf-8"))["plates"]
    assert {row["carrier"] for row in rows} == {"snowflake"}
    first = rows[0]
    assert _scan_ok(tmp_path / "sf" / first["file"], keyring.verifier()) == [
        (first["household_id"], first["serial"], "snowflake")
    ]
    # the URL form needs QR: refused in one line (exit 2, nothing written) without it
    url = ["--url-prefix", "HTTPS://JD.EXAMPLE.CN/C/"]
    r = CliRunner().invoke(cli, ["plates", *args, "--out", str(tmp_path / "u"), *url])
    assert r.exit_code == 2 and "needs --carrier qr" in r.output
    assert len(r.output.strip().splitlines()) == 1 and not (tmp_path / "u").exists()
    r = CliRunner().invoke(
        cli, ["plates", *args, "--out", str(tmp_path / "u"), *url, "--carrier", "qr"]
    )
    assert r.exit_code == 0, r.output
    rows = json.loads((tmp_path / "u" / "manifest.json").read_text("utf-8"))["plates"]
    assert {row["carrier"] for row in rows} == {"qr"}


def test_qr_plates_issued_before_the_switch_keep_scanning_and_verifying(tmp_path, keyring):
    reg = read_register(SAMPLE_CSV)
    reg.households = reg.households[:3]
    old = run_batch(reg, keyring, BatchOptions(out=tmp_path / "qr", fmt="png", carrier="qr"))
    assert old.counts["issued"] == 3
    # the same households printed again with the new default: the same chips reprinted
    new = run_batch(reg, keyring, BatchOptions(out=tmp_path / "sf", fmt="png"))
    assert new.counts["reprinted"] == 3 and new.counts["issued"] == 0
    v = keyring.verifier()
    for carrier in ("qr", "sf"):
        rows = json.loads((tmp_path / carrier / "manifest.json").read_text("utf-8"))["plates"]
        for row in rows:
            got = _scan_ok(tmp_path / carrier / row["file"], v)
            assert [(h, s) for h, s, _ in got] == [(row["household_id"], row["serial"])]
            assert got[0][2] == ("qr" if carrier == "qr" else "snowflake")


def test_a_reprint_with_a_url_prefix_puts_the_same_chip_behind_the_url(tmp_path, keyring):
    """The demo's second batch: households holding snowflake plates reprinted as URL-form
    QR plates (what a stock phone camera opens) - the same chip, behind the URL."""
    from plates_helpers import decode_qr_texts

    from chipkit import token as tk

    reg = read_register(SAMPLE_CSV)
    reg.households = reg.households[:1]
    run_batch(reg, keyring, BatchOptions(out=tmp_path / "sf", fmt="png"))
    opts = BatchOptions(
        out=tmp_path / "url", fmt="png", carrier="qr", url_prefix="HTTP://127.0.0.1:8000/C/"
    )
    assert run_batch(reg, keyring, opts).counts["reprinted"] == 1
    (row,) = json.loads((tmp_path / "url" / "manifest.json").read_text("utf-8"))["plates"]
    (text,) = decode_qr_texts(tmp_path / "url" / row["file"])
    assert text.startswith("HTTP://127.0.0.1:8000/C/")
    assert keyring.verifier().verify(text).serial == row["serial"]
    sf = json.loads((tmp_path / "sf" / "manifest.json").read_text("utf-8"))["plates"][0]
    assert sf["token_sha256"] == row["token_sha256"] and tk.looks_like_chip(text)
