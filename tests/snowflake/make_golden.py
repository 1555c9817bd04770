"""Regenerate tests/snowflake/golden.json (only when the spec deliberately changes).

.venv/bin/python tests/snowflake/make_golden.py
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from chipkit import snowflake

CASES = {
    "ascii-12": b"chipkit-test",
    "bytes-100": bytes(range(100)),
    "sha-116": b"".join(hashlib.sha256(bytes([i])).digest() for i in range(4))[:116],
    "ff-131": b"\xff" * 131,
}


def main() -> None:
    out = {}
    for name, payload in CASES.items():
        sym = snowflake.encode(payload)
        out[name] = {"payload_hex": payload.hex(), "variant": sym.variant, "cells": sym.to_string()}
    path = Path(__file__).with_name("golden.json")
    path.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
