"""The shared page shell and the staff login page, in a real browser."""

from __future__ import annotations

import httpx
import pytest
from pagetools import wait_for

pytestmark = pytest.mark.browser


def test_login_page_loads_clean_and_logs_in_by_role(
    browser, server, login, axe, console_errors, shot
):
    browser.get(server + "/login")
    wait_for(browser, "#login-form")
    assert browser.execute_script("return document.documentElement.lang") == "zh-CN"
    assert axe(browser) == []
    shot(browser, "login")
    assert console_errors(browser) == []
    # a wrong password: a plain message, still on /login
    browser.find_element("id", "username").send_keys("nobody")
    browser.find_element("id", "password").send_keys("wrong")
    browser.find_element("id", "login-submit").click()
    assert "错误" in wait_for(browser, "#login-error").text
    assert console_errors(browser) == []
    assert login(browser, "worker")["path"] == "/w"  # the worker's page (its own tests)


def test_language_switch_is_remembered(browser, server):
    browser.get(server + "/login")
    wait_for(browser, ".lang-switch").click()
    wait_for(browser, "#login-form")
    assert browser.execute_script("return document.documentElement.lang") == "en"
    browser.get(server + "/login")
    assert "Log in" in wait_for(browser, "#login-submit").text


def test_shell_escapes_boot_data_and_sets_headers(server):
    r = httpx.get(server + "/login?lang=en", headers={"accept-language": "zh-CN"})
    assert r.status_code == 200
    assert (
        '<html lang="en">' in r.text and "script-src 'self'" in r.headers["content-security-policy"]
    )
    assert r.cookies.get("lang") == "en"
    assert "<script>" not in r.text  # only the module script and the JSON boot element
    r = httpx.get(server + "/login", headers={"accept-language": "en-US,en;q=0.9"})
    assert '<html lang="en">' in r.text
