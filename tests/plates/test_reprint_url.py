"""A reprint with --url-prefix: the same chip, behind the URL (the demo reprints the
households' chips as URL-form QR plates for phone cameras)."""

from __future__ import annotations

import json

from plates_helpers import SAMPLE_CSV, decode_qr_texts

from chipkit import token as tk
from chipkit.plates import BatchOptions, run_batch
from chipkit.register import read_register


def test_a_reprint_with_a_url_prefix_puts_the_same_chip_behind_the_url(tmp_path, keyring):
    reg = read_register(SAMPLE_CSV)
    reg.households = reg.households[:1]
    run_batch(reg, keyring, BatchOptions(out=tmp_path / "sf", fmt="png", carrier="snowflake"))
    opts = BatchOptions(
        out=tmp_path / "url", fmt="png", carrier="qr", url_prefix="HTTP://127.0.0.1:8000/C/"
    )
    assert run_batch(reg, keyring, opts).counts["reprinted"] == 1
    (row,) = json.loads((tmp_path / "url" / "manifest.json").read_text("utf-8"))["plates"]
    (text,) = decode_qr_texts(tmp_path / "url" / row["file"])
    assert text.startswith("HTTP://127.0.0.1:8000/C/") and tk.looks_like_chip(text)
    assert keyring.verifier().verify(text).serial == row["serial"]
    sf = json.loads((tmp_path / "sf" / "manifest.json").read_text("utf-8"))["plates"][0]
    assert sf["token_sha256"] == row["token_sha256"]  # the same chip
