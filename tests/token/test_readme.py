"""The README's "Verify a chip in your app" snippet, copied as a developer copies it, runs."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

from chipkit.keys import Keyring

README = Path(__file__).resolve().parents[2] / "README.md"


def _snippet() -> str:
    text = README.read_text("utf-8")
    section = text[text.index("## Verify a chip in your app") :]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None
    return match.group(1)


def test_readme_verify_snippet_runs_as_written(tmp_path, monkeypatch, capsys) -> None:
    # what `make demo` leaves in demo-out/: a verifier bundle, a sealed chip, the office
    kr = Keyring.init(tmp_path / "keys", None)
    text, claims = kr.seal("330703101001-9999", "330703101001")
    (tmp_path / "sealed-chip.txt").write_text(text + "\n", "utf-8")
    kr.export_verifier(tmp_path / "verifier-bundle.json")
    monkeypatch.setenv("CHIPKIT_OFFICE", kr.office_fingerprint)
    monkeypatch.chdir(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the snippet pins the office: no UnpinnedBundleWarning
        exec(compile(_snippet(), str(README), "exec"), {})
    out = capsys.readouterr().out
    assert out.split() == ["330703101001-9999", "330703101001", str(claims.serial)]
