"""Errors raised by the cases module (all under chipkit.errors.ChipkitError)."""

from __future__ import annotations

from chipkit.errors import ChipkitError


class CasesError(ChipkitError):
    """Root of the cases module's errors."""

    code = "cases_error"


class NotFound(CasesError):
    """An unknown case, household, worker, unit or notice."""

    code = "not_found"


class WrongActor(CasesError):
    """The actor may not perform this operation on this case."""

    code = "wrong_actor"


class InvalidTransition(CasesError):
    """The case's state does not allow this operation."""

    code = "invalid_transition"


class ConcurrentUpdate(CasesError):
    """Someone else changed the case first: reload it and retry."""

    code = "conflict"


class BadInput(CasesError):
    """A malformed or out-of-range value (rating, GPS, description, file row, ...)."""

    code = "bad_input"


class ChipRefused(CasesError):
    """A scanned chip did not verify (forged, revoked, foreign key, expired) or is unknown."""

    code = "chip_refused"


class AuditBroken(CasesError):
    """The audit chain does not verify."""

    code = "audit_broken"
