"""Resident pages stay light: JS + CSS loaded before the scanner opens <= 150 KB gzipped,
measured from the built files and esbuild's metafile (static imports only; the scanner is
a dynamic import)."""

from __future__ import annotations

import gzip
import json
import os

import pytest
from pagetools import BUILD

BUDGET = 150 * 1024
RESIDENT_PAGES = ("resident", "scan")


def _meta() -> dict:
    path = BUILD / "meta.json"
    if not path.exists():
        if os.environ.get("CHIPKIT_REQUIRE_BROWSER") == "1":
            pytest.fail("the pages' assets are not built: npm ci && npm run build")
        pytest.skip("the pages' assets are not built: npm ci && npm run build")
    return json.loads(path.read_text("utf-8"))["outputs"]


def before_scanner(page: str, outputs: dict) -> set[str]:
    """Every file the page loads at first: its JS, static imports, their CSS, base.css."""
    seen: set[str] = set()
    todo = [f"{page}.js"]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        out = outputs[name]
        if out.get("cssBundle"):
            seen.add(out["cssBundle"])
        todo += [i["path"] for i in out["imports"] if i["kind"] == "import-statement"]
    return seen | {"base.css"}


@pytest.mark.parametrize("page", RESIDENT_PAGES)
def test_resident_page_under_150kb_gzipped_before_the_scanner(page):
    outputs = _meta()
    files = before_scanner(page, outputs)
    assert not any("scanner" in f for f in files), files  # the scanner stays lazy
    size = sum(len(gzip.compress((BUILD / f).read_bytes(), 9)) for f in files)
    print(f"{page}: {len(files)} files, {size / 1024:.1f} KB gzipped before the scanner")
    assert size <= BUDGET, f"{page}: {size} bytes gzipped > {BUDGET}"


def test_the_scanner_is_built_as_its_own_lazy_chunk():
    outputs = _meta()
    lazy = [
        i["path"]
        for i in outputs["scan.js"]["imports"]
        if i["kind"] == "dynamic-import" and "scanner" in i["path"]
    ]
    assert lazy, "scan.js should import the scanner dynamically"
