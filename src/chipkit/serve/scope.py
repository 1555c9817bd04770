"""Who may see what, enforced in the service (never only in a page).

* a grid worker: cases assigned to them or filed in their grid; their own visits (without the
  plausibility flags, which are for their supervisor);
* a village / town / district officer: cases and visits of their unit and below;
* a clerk: their village's register, plates and notices, no cases;
* an admin: accounts and tokens, and the assessment reports of every unit (aggregates only,
  no cases).

Reading outside one's scope answers 404 (the case's existence is not revealed); acting on a
case one may read but not act on answers 403 (the case rules in chipkit.cases decide that).
"""

from __future__ import annotations

from typing import Any

from chipkit.cases import Actor
from chipkit.serve.accounts import User
from chipkit.serve.errors import forbidden, not_found

CASE_ROLES = ("grid", "village", "town", "district")
OFFICERS = ("village", "town", "district")


def sees_case(user: User, case: dict[str, Any]) -> bool:
    if user.role == "grid":
        return bool(
            (user.worker_id and case.get("worker_id") == user.worker_id)
            or (user.unit_id and case.get("grid_id") == user.unit_id)
        )
    if user.role in OFFICERS:
        return bool(user.unit_id and case.get(f"{user.role}_id") == user.unit_id)
    return False


def sees_visit(user: User, visit: dict[str, Any]) -> bool:
    if user.role == "grid":
        return visit.get("worker_id") == user.worker_id
    if user.role in OFFICERS:
        return bool(user.unit_id and visit.get(f"{user.role}_id") == user.unit_id)
    return False


def present_visit(user: User, visit: dict[str, Any]) -> dict[str, Any]:
    out = dict(visit)
    if user.role == "grid":
        out.pop("flags", None)
    return out


def worker_of(user: User) -> str:
    """The register worker id a case action is taken as; clerks and admins have none."""
    if user.role not in CASE_ROLES or not user.worker_id:
        raise forbidden(f"a {user.role} account does not handle cases")
    return user.worker_id


def notice_poster(user: User) -> str | Actor:
    """Who posts or withdraws a notice: a register worker (the library checks their unit)
    or a village clerk (``Actor.clerk``: the library allows their own village only)."""
    if user.role == "clerk" and user.unit_id:
        return Actor.clerk(user.username, user.unit_id)
    return worker_of(user)


def need_case_role(user: User) -> None:
    if user.role not in CASE_ROLES:
        raise forbidden(f"a {user.role} account does not read cases")


def check_case(user: User, case: dict[str, Any]) -> dict[str, Any]:
    need_case_role(user)
    if not sees_case(user, case):
        raise not_found(f"unknown case {case.get('id')}")
    return case


def report_root(user: User) -> str | None:
    """The unit an officer's reports start from (theirs; units below it are in scope too);
    None for an admin, who reads every unit's report."""
    if user.role == "admin":
        return None
    if user.role in OFFICERS and user.unit_id:
        return user.unit_id
    raise forbidden(f"a {user.role} account does not read reports")
