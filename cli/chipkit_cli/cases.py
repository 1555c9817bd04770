"""`chipkit cases`, `chipkit visits` and `chipkit notices`: the case loop on a database.

Every command takes --db URL (an SQLite file path or sqlite:/// URL, or a postgresql://
URL; default: $CHIPKIT_DB or chipkit-cases.sqlite in the working folder) and --json. Only
`cases import` (or --create) creates a new SQLite file; elsewhere a missing file is an error.
Exit codes: 0 success, 1 a negative answer (the audit found a problem), 2 bad input, an
unknown case/household/worker, a wrong actor or a transition the case's state forbids.
This module holds the case lifecycle commands; reports and who-is-who are in
cases_admin.py, visits and notices in visits.py.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from chipkit_cli._cases_common import (
    _event_line,
    _local,
    _out,
    _service,
    _summary,
    db_option,
    json_option,
    keys_option,
)
from chipkit_cli._common import EXIT_FAIL, echo_json, fail, handle_errors

# ---------------------------------------------------------------- cases


@click.group()
def cases() -> None:
    """Requests from residents: intake, handling, rating, assessment.

    \b
    Lifecycle: submitted -> accepted -> in_progress -> resolved (worker says done)
      -> closed_confirmed (resident rates 1-5, solved) | back to in_progress (not solved)
      -> closed_unconfirmed (rating window expired; `cases sweep`)
    Also: wait/resume (waiting_on_resident pauses the clock), transfer, escalate
    (village -> town -> district), reject (duplicate, not_responsible, withdrawn).
    """


@cases.command("import")
@click.argument("register", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@db_option
@json_option
@handle_errors
def import_(register: Path, db_url: str | None, as_json: bool) -> None:
    """Import the hierarchy (district, town, village, grid, worker, households) from CSV/XLSX.

    One household per row: household_id/户号, village_code/村代码 (12 digits), grid/网格,
    worker_id/网格员编号, optional names, address, lat/lon. Staff rows: no household, a
    role/角色 (village|town|district) and unit/单位 (its division code).

    Bad rows are listed (file, row, field, reason) and skipped; the good rows are imported
    in one transaction. Exit 0 all rows imported, 1 some rows rejected, 2 unusable file.
    """
    from chipkit.cases.importer import parse_register

    reg = parse_register(register)  # first: an unusable file creates no database
    svc = _service(db_url, create=True)
    problems = reg.problems
    counts = (
        svc.load_register(reg, source=str(register))
        if (reg.households or reg.staff)
        else {"households": 0, "workers": 0, "units": 0, "updated": 0}
    )
    counts["rejected"] = len(problems)
    for msg in problems:
        click.echo(f"  rejected: {msg}", err=True)
    for msg in reg.warnings:  # a formula's saved value used, an unused field dropped
        click.echo(f"  warning: {msg}", err=True)
    _out(
        counts,
        as_json,
        f"imported {register}: {counts['households']} new households, {counts['workers']} new "
        f"workers, {counts['units']} new units, {counts['updated']} updated, "
        f"{counts['rejected']} rows rejected",
    )
    if problems:
        sys.exit(EXIT_FAIL)


@cases.command()
@click.option(
    "--type",
    "case_type",
    required=True,
    type=click.Choice(["proxy", "dispute", "hazard", "event", "other"]),
)
@click.option("--title", required=True, help="Short title (<= 200 characters).")
@click.option("--description", default="", help="Free text (<= 4000 characters).")
@click.option("--token", help="The scanned chip of the resident's household (resident intake).")
@click.option("--household", help="Household id (a worker filing on the resident's behalf).")
@click.option("--worker", help="Worker id filing on the resident's behalf.")
@click.option("--party", "parties", multiple=True, help="dispute: a party (repeat; never public).")
@click.option("--severity", type=click.Choice(["low", "medium", "high", "critical"]), help="hazard")
@click.option("--location", help="hazard: where.")
@click.option("--service", "service_", help="proxy: which service.")
@click.option("--category", help="event: category.")
@keys_option
@db_option
@json_option
@handle_errors
def submit(
    case_type: str,
    title: str,
    description: str,
    token: str | None,
    household: str | None,
    worker: str | None,
    parties: tuple[str, ...],
    severity: str | None,
    location: str | None,
    service_: str | None,
    category: str | None,
    keys: Path | None,
    db_url: str | None,
    as_json: bool,
) -> None:
    """Open a case: by chip (--token) or by a worker for a household (--worker --household)."""
    details: dict[str, Any] = {}
    if parties:
        details["parties"] = list(parties)
    for k, v in (
        ("severity", severity),
        ("location", location),
        ("service", service_),
        ("category", category),
    ):
        if v is not None:
            details[k] = v
    svc = _service(db_url, keys, need_keys=token is not None)
    c = svc.submit(
        case_type,
        title,
        description,
        details,
        token=token,
        household_id=household,
        worker_id=worker,
    )
    _out(svc.public(c), as_json, _summary(c))


def _transition_command(name: str, doc: str) -> Any:
    @click.argument("case_id", type=int)
    @click.option("--worker", required=True, help="The assigned worker's id.")
    @db_option
    @json_option
    @handle_errors
    def cmd(case_id: int, worker: str, db_url: str | None, as_json: bool) -> None:
        svc = _service(db_url)
        c = getattr(svc, name)(case_id, worker)
        _out(svc.public(c), as_json, _summary(c))

    cmd.__doc__ = doc
    return cases.command(name)(cmd)


_transition_command("accept", "The assigned worker accepts a submitted case.")
_transition_command("start", "The assigned worker starts work on an accepted case.")


@cases.command()
@click.argument("case_id", type=int)
@click.option("--worker", required=True, help="The assigned worker's id.")
@click.option("--note", required=True, help="What is needed from the resident.")
@db_option
@json_option
@handle_errors
def wait(case_id: int, worker: str, note: str, db_url: str | None, as_json: bool) -> None:
    """Wait on the resident (pauses the resolve clock)."""
    svc = _service(db_url)
    c = svc.wait(case_id, worker, note)
    _out(svc.public(c), as_json, _summary(c))


@cases.command()
@click.argument("case_id", type=int)
@click.option("--worker", help="The assigned worker resumes.")
@click.option("--household", help="The requesting household resumes (it answered).")
@db_option
@json_option
@handle_errors
def resume(
    case_id: int, worker: str | None, household: str | None, db_url: str | None, as_json: bool
) -> None:
    """Resume a case that was waiting on the resident."""
    from chipkit.cases import Actor

    if (worker is None) == (household is None):
        fail("give exactly one of --worker or --household")
    svc = _service(db_url)
    actor = Actor.worker(worker) if worker else Actor.household(str(household))
    c = svc.resume(case_id, actor)
    _out(svc.public(c), as_json, _summary(c))


@cases.command()
@click.argument("case_id", type=int)
@click.option("--worker", required=True, help="The assigned worker's id.")
@click.option("--note", required=True, help="What was done.")
@click.option(
    "--evidence", multiple=True, help="Evidence reference (photo hash, file name; repeat)."
)
@db_option
@json_option
@handle_errors
def resolve(
    case_id: int,
    worker: str,
    note: str,
    evidence: tuple[str, ...],
    db_url: str | None,
    as_json: bool,
) -> None:
    """The worker says it is done; the resident still has to confirm."""
    svc = _service(db_url)
    c = svc.resolve(case_id, worker, note, list(evidence))
    _out(svc.public(c), as_json, _summary(c))


@cases.command()
@click.argument("case_id", type=int)
@click.option("--rating", required=True, type=int, help="1 (bad) .. 5 (good).")
@click.option(
    "--solved/--not-solved",
    default=None,
    help="Required: --solved closes the case, --not-solved reopens it.",
)
@click.option("--token", help="The household's scanned chip.")
@click.option("--household", help="The household id (entered by staff for the resident).")
@keys_option
@db_option
@json_option
@handle_errors
def rate(
    case_id: int,
    rating: int,
    solved: bool | None,
    token: str | None,
    household: str | None,
    keys: Path | None,
    db_url: str | None,
    as_json: bool,
) -> None:
    """The requesting household rates a resolved case (once per resolution).

    The rating records how the household was identified: `chip` with --token (the door
    chip alone, which anyone passing the door can photograph), `staff` with --household.
    Neither counts as resident-confirmed in reports; only the household credential (PIN or
    registered phone, through the HTTP service) does."""
    if solved is None:
        fail("say whether it is solved: --solved (closes the case) or --not-solved (reopens it)")
    if (token is None) == (household is None):
        fail("give exactly one of --token or --household")
    svc = _service(db_url, keys, need_keys=token is not None)
    c = svc.rate(case_id, rating, bool(solved), token=token, household_id=household)
    _out(svc.public(c), as_json, _summary(c))


@cases.command()
@click.argument("case_id", type=int)
@click.option(
    "--by", "by", required=True, help="Worker id doing the transfer (assigned or an officer)."
)
@click.option("--to", "to", required=True, help="Worker id taking the case over.")
@click.option("--reason", default="")
@db_option
@json_option
@handle_errors
def transfer(
    case_id: int, by: str, to: str, reason: str, db_url: str | None, as_json: bool
) -> None:
    """Hand a case to another worker (who must accept it)."""
    from chipkit.cases import Actor

    svc = _service(db_url)
    c = svc.transfer(case_id, Actor.worker(by), to, reason)
    _out(svc.public(c), as_json, _summary(c))


@cases.command()
@click.argument("case_id", type=int)
@click.option("--by", "by", required=True, help="Worker id (assigned or an officer).")
@click.option("--reason", default="")
@db_option
@json_option
@handle_errors
def escalate(case_id: int, by: str, reason: str, db_url: str | None, as_json: bool) -> None:
    """Escalate one level: village -> town -> district."""
    from chipkit.cases import Actor

    svc = _service(db_url)
    before = svc.get(case_id)
    c = svc.escalate(case_id, Actor.worker(by), reason)
    text = _summary(c)
    if c["worker_id"] == before["worker_id"]:
        text += (
            f"\nno active {c['level']} officer for {c[c['level'] + '_id']}: the case is now at "
            f"{c['level']} level but stays with {c['worker_id'] or '(unassigned)'}, "
            f"{c['state']}; add an officer to the register or transfer it"
        )
    _out(svc.public(c), as_json, text)


@cases.command()
@click.argument("case_id", type=int)
@click.option(
    "--reason", required=True, type=click.Choice(["duplicate", "not_responsible", "withdrawn"])
)
@click.option("--by", "by", help="Worker id (assigned or an officer).")
@click.option("--household", help="The requesting household withdrawing its own case.")
@click.option("--duplicate-of", type=int, help="For --reason duplicate: the original case.")
@click.option("--note", default="")
@db_option
@json_option
@handle_errors
def reject(
    case_id: int,
    reason: str,
    by: str | None,
    household: str | None,
    duplicate_of: int | None,
    note: str,
    db_url: str | None,
    as_json: bool,
) -> None:
    """Close a case without handling it, with a reason."""
    from chipkit.cases import Actor

    if (by is None) == (household is None):
        fail("give exactly one of --by or --household")
    svc = _service(db_url)
    actor = Actor.worker(by) if by else Actor.household(str(household))
    c = svc.reject(case_id, actor, reason, duplicate_of=duplicate_of, note=note)
    _out(svc.public(c), as_json, _summary(c))


@cases.command("list")
@click.option("--state", help="A state, or 'open'.")
@click.option("--worker")
@click.option("--household")
@click.option("--unit", help="Grid, village, town or district id.")
@click.option("--type", "case_type")
@click.option("--limit", type=click.IntRange(1, 10000), default=100, show_default=True)
@click.option("--private", is_flag=True, help="Include dispute parties (staff only).")
@db_option
@json_option
@handle_errors
def list_(
    state: str | None,
    worker: str | None,
    household: str | None,
    unit: str | None,
    case_type: str | None,
    limit: int,
    private: bool,
    db_url: str | None,
    as_json: bool,
) -> None:
    """List cases, newest first."""
    svc = _service(db_url)
    rows = svc.list_cases(
        state=state,
        worker_id=worker,
        household_id=household,
        unit=unit,
        case_type=case_type,
        limit=limit,
        private=private,
    )
    _out(rows, as_json, "\n".join(_summary(c) for c in rows) or "(no cases)")


@cases.command()
@click.argument("case_id", type=int)
@click.option(
    "--history", is_flag=True, help="Include the audit events of the case (in local time)."
)
@click.option("--private", is_flag=True, help="Include dispute parties (staff only).")
@db_option
@json_option
@handle_errors
def show(case_id: int, history: bool, private: bool, db_url: str | None, as_json: bool) -> None:
    """Show one case."""
    svc = _service(db_url)
    c = svc.get(case_id, private=private, history=history)
    if as_json:
        echo_json(c)
        return
    click.echo(_summary(c))
    details = c["details"] if isinstance(c["details"], dict) else {}
    shown = ", ".join(
        f"{k}: {'、'.join(map(str, v)) if isinstance(v, list) else v}" for k, v in details.items()
    )
    for k, v in (
        ("description", c["description"] or "-"),
        ("details", shown or "-"),
        ("channel", c["channel"]),
        ("created_by", c["created_by"]),
    ):
        click.echo(f"  {k}: {v}")
    for k in ("created_at", "accepted_at", "resolved_at", "closed_at"):
        click.echo(f"  {k}: {_local(c[k])}")
    if c.get("resolution_note"):
        click.echo(f"  resolution: {c['resolution_note']}  evidence: {c.get('evidence') or []}")
    if c.get("rating") is not None:
        click.echo(f"  rating: {c['rating']}  solved: {c['solved']}  reopened: {c['reopen_count']}")
    if c["breach_accept"] or c["breach_resolve"]:
        click.echo(f"  SLA breach: accept={c['breach_accept']} resolve={c['breach_resolve']}")
    if history:
        click.echo(f"  history ({len(c['history'])} events, local time):")
    for e in c.get("history", []):
        click.echo(_event_line(e))


def register(cli: click.Group) -> None:
    """Add the `cases`, `visits` and `notices` groups to the top-level CLI."""
    from chipkit_cli import cases_admin  # noqa: F401 - adds report, audit, sweep, workers, ...
    from chipkit_cli.visits import notices, visits

    for group in (cases, visits, notices):
        cli.add_command(group)
