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
