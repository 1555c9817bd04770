"""Staff accounts over HTTP: login, cookies, CSRF, API tokens, throttling, disabling."""

from __future__ import annotations

from argon2 import PasswordHasher
from sqlalchemy import select

from chipkit.serve import Accounts
from chipkit.serve.models import api_tokens, sessions, users


def test_login_sets_hardened_cookie_and_me(anon, password):
    c = anon()
    r = c.post("/api/v1/auth/login", json={"username": "w1", "password": password})
    assert r.status_code == 200
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    assert c.get("/api/v1/auth/me").json()["worker_id"] == "W1"


def test_secure_cookie_behind_https(app, anon, password):
    cfg = app.state.chipkit.config
    cfg.trusted_proxies = ("testclient",)
    c = anon()
    r = c.post(
        "/api/v1/auth/login",
        json={"username": "w1", "password": password},
        headers={"X-Forwarded-Proto": "https"},
    )
    assert "secure" in r.headers["set-cookie"].lower()
    cfg.trusted_proxies = ()  # an untrusted client's X-Forwarded-Proto is ignored
    r = anon().post(
        "/api/v1/auth/login",
        json={"username": "w1", "password": password},
        headers={"X-Forwarded-Proto": "https"},
    )
    assert "secure" not in r.headers["set-cookie"].lower()
    cfg.public_url = "https://jd.example.cn"
    r = anon().post("/api/v1/auth/login", json={"username": "w1", "password": password})
    assert "secure" in r.headers["set-cookie"].lower()


def test_wrong_password_and_unknown_user_look_alike(anon):
    c = anon()
    a = c.post("/api/v1/auth/login", json={"username": "w1", "password": "wrong password!"})
    b = c.post("/api/v1/auth/login", json={"username": "nobody", "password": "wrong password!"})
    assert a.status_code == b.status_code == 401 and a.json() == b.json()


def test_login_throttled_per_account(anon, password, clock):
    c = anon()
    for _ in range(5):
        assert (
            c.post(
                "/api/v1/auth/login", json={"username": "w2", "password": "nope nope nope"}
            ).status_code
            == 401
        )
    r = c.post("/api/v1/auth/login", json={"username": "w2", "password": password})
    assert r.status_code == 429 and r.json()["error"] == "rate_limited"  # even the right one
    assert (
        c.post("/api/v1/auth/login", json={"username": "w1", "password": password}).status_code
        == 200
    )
    clock.advance(901)
    assert (
        c.post("/api/v1/auth/login", json={"username": "w2", "password": password}).status_code
        == 200
    )


def test_login_throttled_per_address(anon, password):
    c = anon()
    for i in range(30):
        c.post("/api/v1/auth/login", json={"username": f"guess{i}", "password": "nope nope nope"})
    r = c.post("/api/v1/auth/login", json={"username": "w1", "password": password})
    assert r.status_code == 429


def test_csrf_required_for_cookie_writes(staff, chips):
    c = staff("w1")
    good = c.post("/api/v1/verify", json={"chip": chips["H-0001"]})
    assert good.status_code == 200
    del c.headers["X-CSRF-Token"]
    r = c.post("/api/v1/verify", json={"chip": chips["H-0001"]})
    assert r.status_code == 403 and r.json()["error"] == "csrf"
    c.headers["X-CSRF-Token"] = "forged"
    assert c.post("/api/v1/verify", json={"chip": chips["H-0001"]}).status_code == 403
    assert c.get("/api/v1/cases").status_code == 200  # reads need no token


def test_api_tokens_hashed_and_revocable(app, staff, anon, chips):
    c = staff("v1")
    r = c.post("/api/v1/tokens", json={"label": "district app"})
    assert r.status_code == 200
    tok, tid = r.json()["token"], r.json()["id"]
    with app.state.chipkit.db.read() as conn:
        stored = conn.execute(select(api_tokens.c.token_hash)).scalars().all()
    assert tok not in stored and len(stored[0]) == 64
    bot = anon(headers={"Authorization": f"Bearer {tok}"})
    r = bot.post("/api/v1/verify", json={"chip": chips["H-0001"]})  # no CSRF needed
    assert r.status_code == 200 and r.json()["household_id"] == "H-0001"
    assert c.delete(f"/api/v1/tokens/{tid}").status_code == 200
    r = bot.post("/api/v1/verify", json={"chip": chips["H-0001"]})
    assert r.status_code == 401
    assert (
        anon(headers={"Authorization": "Bearer ck_guess"}).get("/api/v1/cases").status_code == 401
    )


def test_passwords_argon2id_sessions_hashed(app, staff):
    c = staff("w1")
    with app.state.chipkit.db.read() as conn:
        h = conn.execute(select(users.c.password_hash).where(users.c.username == "w1")).scalar()
        sids = conn.execute(select(sessions.c.id_hash)).scalars().all()
    assert h.startswith("$argon2id$")
    assert c.cookies["ck_session"] not in sids


def test_disable_ends_sessions_and_tokens(app, staff, anon, password):
    c = staff("w2")
    tok = c.post("/api/v1/tokens", json={}).json()["token"]
    Accounts(app.state.chipkit.db, PasswordHasher()).set_active("w2", False)
    assert c.get("/api/v1/auth/me").status_code == 401
    assert (
        anon(headers={"Authorization": f"Bearer {tok}"}).get("/api/v1/auth/me").status_code == 401
    )
    r = anon().post("/api/v1/auth/login", json={"username": "w2", "password": password})
    assert r.status_code == 401


def test_password_change_and_logout(staff, anon, password):
    c = staff("t1")
    r = c.post(
        "/api/v1/auth/password", json={"old_password": "wrong wrong", "new_password": "x" * 12}
    )
    assert r.status_code == 403
    r = c.post("/api/v1/auth/password", json={"old_password": password, "new_password": "short"})
    assert r.status_code == 422
    r = c.post(
        "/api/v1/auth/password", json={"old_password": password, "new_password": "new password 1"}
    )
    assert r.status_code == 200
    c.headers["X-CSRF-Token"] = r.json()["csrf"]
    assert c.get("/api/v1/auth/me").status_code == 200
    assert c.post("/api/v1/auth/logout").status_code == 200
    assert c.get("/api/v1/auth/me").status_code == 401
    ok = anon().post("/api/v1/auth/login", json={"username": "t1", "password": "new password 1"})
    assert ok.status_code == 200


def test_security_log_names_users_never_secrets(anon, staff, password, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="chipkit.serve.security")
    anon().post("/api/v1/auth/login", json={"username": "w1", "password": "wrong password 42"})
    c = staff("w1")
    tok = c.post("/api/v1/tokens", json={"label": "x"}).json()
    c.delete(f"/api/v1/tokens/{tok['id']}")
    text = caplog.text
    assert "login failed: user 'w1'" in text and "login: user w1 (grid)" in text
    assert f"API token {tok['id']} created by w1" in text and "revoked by w1" in text
    assert "wrong password 42" not in text and password not in text and tok["token"] not in text
    assert c.cookies["ck_session"] not in text


def test_account_changes_are_audit_events_naming_the_actor(
    app, staff, resident, chips, pins, password, tmp_path
):
    """Changes to who can act are in the tamper-evident audit chain with the authenticated
    actor; failed logins stay in the security log only (volume, not state)."""
    from click.testing import CliRunner

    from chipkit.cases import CaseService
    from chipkit.cases.models import events
    from chipkit_cli.main import cli

    db = app.state.chipkit.db
    with db.read() as conn:
        start = conn.execute(select(events.c.seq).order_by(events.c.seq.desc())).scalar() or 0
    c = staff("v1")
    tok = c.post("/api/v1/tokens", json={"label": "城市311"}).json()
    admin = staff("admin")
    assert admin.delete(f"/api/v1/tokens/{tok['id']}").status_code == 200
    r = c.post(
        "/api/v1/auth/password", json={"old_password": password, "new_password": "new password 1"}
    )
    assert r.status_code == 200
    home = resident(chips["H-0001"])
    assert home.post("/api/v1/households/device", json={"pin": pins["H-0001"]}).status_code == 201
    failed = staff("w1").post("/api/v1/auth/login", json={"username": "w1", "password": "bad"})
    assert failed.status_code == 401  # a failed login: the security log, no audit event
    env = {"CHIPKIT_USER_PASSWORD": password}
    url = db.url
    for args in (
        ["users", "add", "clerk2", "--role", "clerk", "--unit", "330703101002"],
        ["users", "disable", "w2"],
        ["households", "pins", "--household", "H-0004", "--out", str(tmp_path / "slips.csv")],
    ):
        out = CliRunner().invoke(cli, [*args, "--db", url], env=env)
        assert out.exit_code == 0, out.output
    with db.read() as conn:
        got = conn.execute(
            select(events.c.kind, events.c.actor, events.c.after)
            .where(events.c.seq > start)
            .order_by(events.c.seq)
        ).all()
    kinds = [(k, a) for k, a, _ in got]
    assert ("token.create", "user:v1") in kinds and ("token.revoke", "user:admin") in kinds
    assert ("account.password", "user:v1") in kinds
    assert ("token.create", "household:H-0001") in kinds
    by_cli = [k for k, a in kinds if a.startswith("cli:")]
    assert by_cli == ["account.add", "account.disable", "household.pins"]
    assert not any(k.startswith("login") for k, _ in kinds)
    text = " ".join(str(a) for _, _, a in got)
    assert tok["token"] not in text and "$argon2" not in text and password not in text
    assert CaseService(db).audit_verify().ok


def test_production_hashing_defaults_stay_strong():
    """The suite hashes with tiny Argon2 costs (conftest CHEAP, passed explicitly); a server
    started without them, as `chipkit serve` starts it, uses the strong defaults."""
    from argon2 import Type, extract_parameters

    from chipkit.serve import ServeConfig
    from chipkit.serve.accounts import DEFAULT_HASHER
    from chipkit.serve.pins import PIN_HASHER
    from chipkit_cli.serve import _config

    cfg = _config({"db": "sqlite:///x.sqlite"})
    assert cfg.password_hasher is None and cfg.pin_hasher is None
    assert ServeConfig().password_hasher is None and ServeConfig().pin_hasher is None
    assert Accounts(None).hasher is DEFAULT_HASHER  # type: ignore[arg-type]
    pw = extract_parameters(DEFAULT_HASHER.hash("x" * 12))
    assert pw.type is Type.ID and pw.time_cost >= 3 and pw.memory_cost >= 64 * 1024
    pin = extract_parameters(PIN_HASHER.hash("12345678"))
    assert pin.type is Type.ID and pin.time_cost >= 2 and pin.memory_cost >= 19 * 1024
