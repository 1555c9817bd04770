"""Dashboard data for the browser tests: a third village (南村, two grids, their own workers)
added to the seeded district, with cases in every state over the last weeks, ratings (six
in 南一网格: its mean shows; two in 南二网格: hidden, "fewer than 5") and visits, and an
account ``w4`` (role key ``busy-worker``) for 南一网格's worker, whose queue is not empty.

Kept apart from the other villages so the worker and clerk tests' queues and registers are
untouched. ``seed_dashboard(district)`` runs once per test session (idempotent).
``viewport(browser, w, h)``: a real phone-sized viewport for a test.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from chipkit.cases import Actor, CaseService
from chipkit.serve import Accounts
from chipkit.serve.store import open_database

V3 = "330703101003"
G31, G32 = f"{V3}-南一网格", f"{V3}-南二网格"
REGISTER = """household_id,village_code,village_name,town,district,grid,worker_id,worker_name,address,lat,lon
""" + "".join(
    f"{V3}-{n:04d},{V3},南村,孝顺镇,金东区,{grid},{w},{name},南村{n}号,29.3{n:02d},119.9{n:02d}\n"
    for n, grid, w, name in [
        *[(n, "南一网格", "W4", "赵敏") for n in range(1, 9)],
        *[(n, "南二网格", "W5", "孙浩") for n in range(9, 13)],
    ]
)
DAY, HOUR = 86400, 3600
TITLES = {"proxy": "代办医保续缴", "hazard": "电线松动", "dispute": "邻里纠纷", "other": "咨询政策"}
_done: dict[str, bool] = {}


def _case(svc: CaseService, hid: str, w: str, at: int, kind: str, steps: str, **kw: Any) -> None:
    """One case filed by worker ``w`` at ``at``, taken through ``steps`` (a: accept, s: start,
    r: resolve, c: confirmed rating ``kw['rating']``, n: not solved, x: rejected)."""
    details = {"hazard": {"severity": "low"}, "dispute": {"parties": ["甲", "乙"]}}.get(kind, {})
    title = TITLES[kind]
    c = svc.submit(kind, title, "", details, household_id=hid, worker_id=w, at=at)
    t = at
    for step in steps:
        t += kw.get("gap", 2 * HOUR)
        if step == "a":
            svc.accept(c["id"], w, at=t)
        elif step == "s":
            svc.start(c["id"], w, at=t)
        elif step == "r":
            svc.resolve(c["id"], w, "已处理", at=t)
        elif step in "cn":
            svc.rate(
                c["id"], kw["rating"], step == "c", household_id=hid, at=t, credential="household"
            )
        elif step == "x":
            svc.reject(c["id"], Actor.worker(w), "not_responsible", at=t)


def seed_dashboard(district: Any) -> None:
    """Add 南村 and its cases to ``district`` (the conftest fixture's District), once."""
    if _done.get(str(district.db)):
        return
    reg = Path(district.root) / "dash-register.csv"
    reg.write_text(REGISTER, encoding="utf-8")
    kr = district.keyring()
    svc = CaseService(open_database(district.db), verifier=kr.verifier())
    svc.import_register(reg)
    now = int(time.time())
    hh = [f"{V3}-{n:04d}" for n in range(1, 13)]
    # 南一网格 (W4): six confirmed and rated cases (mean shown), others open or late
    for i, rating in enumerate((5, 4, 5, 3, 4, 5)):
        _case(svc, hh[i], "W4", now - (20 - i) * DAY, "proxy", "asrc", rating=rating)
    _case(svc, hh[6], "W4", now - 6 * DAY, "hazard", "a", gap=30 * HOUR)  # accepted late
    _case(svc, hh[7], "W4", now - 3 * DAY, "dispute", "as")
    _case(svc, hh[0], "W4", now - 2 * DAY, "other", "")
    _case(svc, hh[1], "W4", now - 1 * DAY, "proxy", "asr")
    # 南二网格 (W5): two ratings only (mean hidden), one reopened, one open
    _case(svc, hh[8], "W5", now - 15 * DAY, "proxy", "asrc", rating=2)
    _case(svc, hh[9], "W5", now - 12 * DAY, "hazard", "asrn", rating=1)
    _case(svc, hh[10], "W5", now - 4 * DAY, "other", "")
    _case(svc, hh[11], "W5", now - 2 * DAY, "other", "x")
    # visits: most of 南一, one of 南二
    for hid, w in [*[(h, "W4") for h in hh[:6]], (hh[8], "W5")]:
        chip, _ = kr.seal(hid, V3)
        svc.checkin(w, chip, at=now - 5 * DAY + len(hid))
    # 南村's first grid worker gets an account (role "busy-worker"): a queue with cases in it
    from argon2 import PasswordHasher

    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    Accounts(svc.db, cheap).add("w4", district.password, worker_id="W4")
    district.users["busy-worker"] = ("w4", {"worker_id": "W4"})
    svc.db.dispose()
    _done[str(district.db)] = True


def viewport(browser: Any, width: int = 360, height: int = 640) -> None:
    """A real ``width`` x ``height`` viewport (headless Chromium's window cannot be narrower
    than 500 px, whatever --window-size says), as a phone (mobile) below 700 px."""
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
    )
