"""A newcomer can read each piece: modules of a few hundred lines, functions on a screen.

A module over MAX_MODULE_LINES or a function over MAX_FUNCTION_LINES must say why in a
``# size: <reason>`` comment on the line above its ``def`` (or at the top of the module).
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "chipkit"
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60


def _modules() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def test_there_is_code_to_check():
    assert len(_modules()) > 30


def test_modules_are_a_few_hundred_lines():
    big = []
    for p in _modules():
        lines = p.read_text("utf-8").splitlines()
        if len(lines) > MAX_MODULE_LINES and not any(ln.startswith("# size:") for ln in lines[:30]):
            big.append(f"{p.relative_to(SRC)}: {len(lines)} lines")
    assert big == []


def test_functions_fit_on_a_screen():
    long = []
    for p in _modules():
        text = p.read_text("utf-8")
        lines = text.splitlines()
        for node in ast.walk(ast.parse(text)):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            n = (node.end_lineno or node.lineno) - node.lineno + 1
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            said = lines[first - 2].strip().startswith("# size:") if first >= 2 else False
            if n > MAX_FUNCTION_LINES and not said:
                long.append(f"{p.relative_to(SRC)}:{node.lineno} {node.name}: {n} lines")
    assert long == []
