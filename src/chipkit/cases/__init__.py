"""Cases: requests, visits, notices and assessment on a real database.

The closed loop: a resident scans the household's plate and asks for help; the household's
grid worker accepts and handles it; the resident rates it; town and district assess their
villages and workers. See docs/cases.md for the state diagram.

    from chipkit.cases import CaseService, Actor
    svc = CaseService("cases.sqlite", verifier=verifier, create=True)  # or postgresql://
    svc.import_register("households.csv")
    case = svc.submit("hazard", "Loose wire", details={"severity": "high"}, token=scanned)
    w = "330703100201-第一网格-陈晓琳"                          # see svc.list_workers()
    svc.accept(case["id"], w); svc.resolve(case["id"], w, "Fixed")
    svc.rate(case["id"], 5, True, token=scanned)
"""

from chipkit.cases.audit import AuditReport
from chipkit.cases.db import Database
from chipkit.cases.errors import (
    AuditBroken,
    BadInput,
    CasesError,
    ChipRefused,
    ConcurrentUpdate,
    InvalidTransition,
    NotFound,
    WrongActor,
)
from chipkit.cases.records import Case, Household, Worker
from chipkit.cases.reports import Report
from chipkit.cases.service import (
    CASE_TYPES,
    REJECT_REASONS,
    STATES,
    Actor,
    CaseService,
    parse_gps,
)
from chipkit.cases.states import CREDENTIALS, TRANSITIONS

__all__ = [
    "CASE_TYPES",
    "CREDENTIALS",
    "REJECT_REASONS",
    "STATES",
    "TRANSITIONS",
    "Actor",
    "AuditBroken",
    "AuditReport",
    "BadInput",
    "Case",
    "CaseService",
    "CasesError",
    "ChipRefused",
    "ConcurrentUpdate",
    "Database",
    "Household",
    "InvalidTransition",
    "NotFound",
    "Report",
    "Worker",
    "WrongActor",
    "parse_gps",
]
