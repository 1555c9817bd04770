"""Issue 11: the pure core stays pure, and the package's public names still resolve."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("cv2", "PIL", "reportlab", "zxingcpp", "reedsolo")


def _loaded_after(statement: str) -> list[str]:
    """Heavy modules present in sys.modules after ``statement`` in a fresh interpreter."""
    code = f"{statement}\nimport json, sys\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "statement",
    [
        "import chipkit.snowflake.encoder",
        "import chipkit.snowflake.layout",
        "from chipkit.snowflake import encode, layout, VARIANTS, SnowflakeError",
        "from chipkit import snowflake; snowflake.encode(bytes(range(116)))",
    ],
)
def test_encoder_and_layout_load_nothing_heavy(statement):
    assert _loaded_after(statement) == []


def test_reader_and_writers_resolve_lazily():
    from chipkit import snowflake
    from chipkit.snowflake import reader, writers

    assert snowflake.decode_image is reader.decode_image
    assert snowflake.Detection is reader.Detection
    for name in ("render", "to_svg", "to_png", "to_pdf", "draw_reportlab", "symbol_extent"):
        assert getattr(snowflake, name) is getattr(writers, name)
    assert set(snowflake.__all__) <= set(dir(snowflake))
    with pytest.raises(AttributeError):
        snowflake.no_such_name  # noqa: B018


def test_the_simulator_is_not_in_the_library():
    import importlib.util

    assert importlib.util.find_spec("chipkit.snowflake.synth") is None
