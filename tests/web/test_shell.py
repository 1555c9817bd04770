"""The page shell without a browser: boot data escaping, language choice, unbuilt assets."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from chipkit.serve import create_app
from chipkit.serve.pages import shell


def test_boot_json_cannot_close_the_script_element():
    text = shell.boot_json({"x": "</script><script>alert(1)</script>", "y": "<!--\u2028&"})
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text)["x"] == "</script><script>alert(1)</script>"


def test_missing_assets_say_how_to_build_them(tmp_path, monkeypatch):
    monkeypatch.setattr(shell, "BUILD", tmp_path / "nothing")
    c = TestClient(create_app(db=tmp_path / "c.sqlite"))
    r = c.get("/login")
    assert r.status_code == 503 and "scripts/setup.sh serve" in r.text


def test_language_from_query_then_cookie_then_accept_language(tmp_path):
    c = TestClient(create_app(db=tmp_path / "c.sqlite"))
    assert '<html lang="zh-CN">' in c.get("/login").text
    assert '<html lang="en">' in c.get("/login", headers={"accept-language": "en-GB"}).text
    r = c.get("/login?lang=en")
    assert '<html lang="en">' in r.text and r.cookies.get("lang") == "en"
    assert '<html lang="en">' in c.get("/login", headers={"accept-language": "zh"}).text
    assert '<html lang="zh-CN">' in c.get("/login?lang=zh-CN").text
    assert '<html lang="zh-CN">' in c.get("/login?lang=xx").text


def test_chip_url_refusals_set_no_cookie(tmp_path):
    """/c/<digits>: malformed or not verifying -> the refusal page (403), never a cookie;
    the reasons map to the plain-words texts."""
    from chipkit.cases import ChipRefused
    from chipkit.keys import Keyring
    from chipkit.serve.errors import ApiError
    from chipkit.serve.pages.resident import refusal_reason

    kr = Keyring.init(tmp_path / "k", passphrase=None)
    c = TestClient(create_app(db=tmp_path / "c.sqlite", verifier=kr.verifier()))
    for digits in ("12ab", "1" * 2000, "0" * 250):
        r = c.get(f"/c/{digits}", follow_redirects=False)
        assert r.status_code == 403 and "set-cookie" not in r.headers, digits
        assert '"view":"refused"' in r.text
    assert refusal_reason(ChipRefused("chip refused (revoked): lost")) == "revoked"
    assert refusal_reason(ChipRefused("chip refused (expired): 2020-01-01")) == "expired"
    assert refusal_reason(ChipRefused("chip refused (invalid): bad signature")) == "invalid"
    assert refusal_reason(ChipRefused("chip refused (unknown_key): kid 7")) == "invalid"
    assert refusal_reason(ApiError(429, "too_many", "slow down")) == "busy"
