"""The case lifecycle as one declarative table: state × operation → next state.

Each ``Transition`` says from which states an operation may run, the state it leads to
(``None``: the case stays in its state), who may perform it and what it does to the SLA
clocks. The lifecycle code (``chipkit.cases.lifecycle``) enforces exactly this table, the
state diagram and the "who may do what" table in docs/cases.md are generated from it
(``render_markdown``), and a test checks that the docs and the table agree.

Leaving ``waiting_on_resident`` by any operation ends the pause (the paused time is added to
``paused_secs`` once, in one place).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

# ---------------------------------------------------------------- states

SUBMITTED = "submitted"
ACCEPTED = "accepted"
IN_PROGRESS = "in_progress"
WAITING = "waiting_on_resident"
RESOLVED = "resolved"
CLOSED_CONFIRMED = "closed_confirmed"
CLOSED_UNCONFIRMED = "closed_unconfirmed"
REJECTED = "rejected"

STATES = (
    SUBMITTED,
    ACCEPTED,
    IN_PROGRESS,
    WAITING,
    RESOLVED,
    CLOSED_CONFIRMED,
    CLOSED_UNCONFIRMED,
    REJECTED,
)
OPEN_STATES = (SUBMITTED, ACCEPTED, IN_PROGRESS, WAITING)
CLOSED_STATES = (CLOSED_CONFIRMED, CLOSED_UNCONFIRMED, REJECTED)
CASE_TYPES = ("proxy", "dispute", "hazard", "event", "other")
REJECT_REASONS = ("duplicate", "not_responsible", "withdrawn")
ESCALATION = {"village": "town", "town": "district"}
SEVERITIES = ("low", "medium", "high", "critical")
# how a rater proved to be the household (ck_ratings.credential)
CREDENTIALS = ("household", "chip", "staff")


class Role(str, Enum):
    """Who may perform an operation."""

    ASSIGNED = "the assigned worker"
    SUPERVISOR = "an officer over the case's village"
    HOUSEHOLD = "the requesting household"
    SYSTEM = "the SLA sweep"


class Clock(str, Enum):
    """What an operation does to the SLA clocks."""

    STOP_ACCEPT = "stops the accept clock (time to accept; breach if late)"
    PAUSE = "pauses the resolve clock"
    RESUME = "ends the pause"
    STOP_RESOLVE = "stops the resolve clock (net of pauses; breach if late)"
    CLOSE = "closes the case (closed_at)"
    BREACH = "records an SLA breach"


@dataclass(frozen=True)
class Transition:
    op: str  # the operation's name (also the audit event kind, ``case.<event>``)
    verb: str  # how error messages name it ("cannot <verb> case 7: ...")
    sources: tuple[str, ...]
    to: str | None  # None: the case stays in its state
    roles: tuple[Role, ...]
    clock: tuple[Clock, ...] = ()
    event: str = ""
    note: str = ""

    @property
    def kind(self) -> str:
        """The audit event kind."""
        return f"case.{self.event or self.op}"


_ASSIGNED = (Role.ASSIGNED,)
_SUPER = (Role.ASSIGNED, Role.SUPERVISOR)

TABLE: tuple[Transition, ...] = (
    Transition("accept", "accept", (SUBMITTED,), ACCEPTED, _ASSIGNED, (Clock.STOP_ACCEPT,)),
    Transition("start", "start", (ACCEPTED,), IN_PROGRESS, _ASSIGNED),
    Transition(
        "wait",
        "wait on the resident for",
        (ACCEPTED, IN_PROGRESS),
        WAITING,
        _ASSIGNED,
        (Clock.PAUSE,),
    ),
    Transition(
        "resume",
        "resume",
        (WAITING,),
        IN_PROGRESS,
        (Role.ASSIGNED, Role.HOUSEHOLD),
        (Clock.RESUME,),
    ),
    Transition(
        "resolve", "resolve", (ACCEPTED, IN_PROGRESS), RESOLVED, _ASSIGNED, (Clock.STOP_RESOLVE,)
    ),
    Transition(
        "confirm",
        "rate",
        (RESOLVED,),
        CLOSED_CONFIRMED,
        (Role.HOUSEHOLD,),
        (Clock.CLOSE,),
        note="rate 1-5, solved",
    ),
    Transition(
        "reopen",
        "rate",
        (RESOLVED,),
        IN_PROGRESS,
        (Role.HOUSEHOLD,),
        note="rate 1-5, not solved (reopen count + 1)",
    ),
    Transition(
        "transfer",
        "transfer",
        OPEN_STATES,
        SUBMITTED,
        _SUPER,
        note="to a worker or officer over the same village, who must accept",
    ),
    Transition(
        "escalate",
        "escalate",
        OPEN_STATES,
        SUBMITTED,
        (*_SUPER, Role.SYSTEM),
        note="village → town → district; an officer of the new level takes it and must accept",
    ),
    Transition(
        "escalate_unstaffed",
        "escalate",
        OPEN_STATES,
        None,
        (*_SUPER, Role.SYSTEM),
        event="escalate",
        note="no active officer at the new level: the level changes, the worker and state stay",
    ),
    Transition(
        "reject",
        "reject",
        OPEN_STATES,
        REJECTED,
        (*_SUPER, Role.HOUSEHOLD),
        (Clock.CLOSE,),
        note="duplicate, not_responsible or withdrawn (a household may only withdraw)",
    ),
    Transition(
        "expire",
        "expire",
        (RESOLVED,),
        CLOSED_UNCONFIRMED,
        (Role.SYSTEM,),
        (Clock.CLOSE,),
        note="rating window over",
    ),
    Transition(
        "sla_breach",
        "record a breach on",
        OPEN_STATES,
        None,
        (Role.SYSTEM,),
        (Clock.BREACH,),
        note="then escalates one level",
    ),
)

TRANSITIONS: dict[str, Transition] = {t.op: t for t in TABLE}


def next_state(state: str, op: str) -> str | None:
    """The state ``op`` leads to from ``state`` (its own state when it stays), or None when
    the table does not allow ``op`` there."""
    t = TRANSITIONS[op]
    if state not in t.sources:
        return None
    return t.to or state


# ---------------------------------------------------------------- docs, generated


def render_mermaid() -> str:
    """The state diagram (Mermaid) of the table."""
    lines = ["stateDiagram-v2", f"    [*] --> {SUBMITTED}: submit"]
    seen: set[tuple[str, str, str]] = set()
    for t in TABLE:
        for s in t.sources:
            to = t.to or s
            label = f"{t.verb} ({t.op})" if t.verb != t.op and " " not in t.verb else t.op
            if to == s:
                continue  # staying in place is in the table below, not an arrow
            key = (s, to, label)
            if key not in seen:
                seen.add(key)
                lines.append(f"    {s} --> {to}: {label}")
    for s in CLOSED_STATES:
        lines.append(f"    {s} --> [*]")
    return "\n".join(lines)


def render_markdown() -> str:
    """The "who may do what" table of docs/cases.md."""
    rows = [
        "| operation | from | to | who | clocks | notes |",
        "|---|---|---|---|---|---|",
    ]
    for t in TABLE:
        rows.append(
            f"| {t.op} | {', '.join(t.sources)} | {t.to or '(stays)'} | "
            f"{'; '.join(r.value for r in t.roles)} | "
            f"{'; '.join(c.value for c in t.clock) or '—'} | {t.note or ''} |"
        )
    return "\n".join(rows)


def render_docs() -> str:
    """What docs/cases.md holds between its ``lifecycle-table`` markers."""
    return "```mermaid\n" + render_mermaid() + "\n```\n\n" + render_markdown()


def write_docs(path: str) -> bool:
    """Refresh the generated part of docs/cases.md; True if it changed."""
    import re
    from pathlib import Path

    p = Path(path)
    text = p.read_text(encoding="utf-8")
    begin = "<!-- BEGIN lifecycle-table (generated from chipkit.cases.states; do not edit) -->"
    new = re.sub(
        r"<!-- BEGIN lifecycle-table.*?-->\n.*?<!-- END lifecycle-table -->",
        lambda _m: f"{begin}\n{render_docs()}\n<!-- END lifecycle-table -->",
        text,
        flags=re.S,
    )
    if new != text:
        p.write_text(new, encoding="utf-8")
    return new != text


if __name__ == "__main__":  # python -m chipkit.cases.states [--write-docs docs/cases.md]
    import sys

    if len(sys.argv) == 3 and sys.argv[1] == "--write-docs":
        print("updated" if write_docs(sys.argv[2]) else "up to date")
    else:
        print(render_docs())
