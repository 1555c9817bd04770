"""`chipkit cases`, `chipkit visits` and `chipkit notices`: the case loop on a database.

Every command takes --db URL (an SQLite file path or sqlite:/// URL, or a postgresql://
URL; default: $CHIPKIT_DB or chipkit-cases.sqlite in the working folder) and --json.
Exit codes: 0 success, 1 a negative answer (the audit chain is broken), 2 bad input, an
unknown case/household/worker, a wrong actor or a transition the case's state forbids.
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click

from chipkit_cli._common import (
    EXIT_FAIL,
    echo_json,
    fail,
    handle_errors,
    office_option,
    open_verifier,
)

DB_HELP = (
    "Database: an SQLite file path (or sqlite:/// URL) or a postgresql:// URL. "
    "Default: $CHIPKIT_DB, else chipkit-cases.sqlite in the working folder."
)
KEYS_HELP = "Verifier bundle or keyring directory, to verify scanned chips ($CHIPKIT_KEYS)."


def db_option(f: Any) -> Any:
    return click.option("--db", "db_url", metavar="URL", envvar="CHIPKIT_DB", help=DB_HELP)(f)


def json_option(f: Any) -> Any:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON.")(f)


def keys_option(f: Any) -> Any:
    f = office_option(f)  # every command that loads a bundle can pin its office
    return click.option(
        "--keys",
        type=click.Path(exists=True, path_type=Path),
        envvar="CHIPKIT_KEYS",
        help=KEYS_HELP,
    )(f)


def _service(db_url: str | None, keys: Path | None = None, need_keys: bool = False) -> Any:
    from chipkit.cases import CaseService

    verifier = None
    if keys is not None:
        verifier = open_verifier(keys)
    elif need_keys:
        fail("a chip token needs --keys (a verifier bundle or keyring directory) or $CHIPKIT_KEYS")
    return CaseService(db_url, verifier=verifier)


def _when(value: str | None, name: str) -> int | None:
    """ISO date or date-time -> Unix seconds (a date or time without offset is UTC)."""
    if value is None:
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        fail(f"{name}: {value!r} is not an ISO date (YYYY-MM-DD) or date-time")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return int(dt.timestamp())


def _iso(ts: int | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M")


def _summary(c: dict[str, Any]) -> str:
    who = c.get("worker_id") or "(unassigned)"
    return (
        f"case {c['id']}  {c['type']:<8} {c['state']:<19} household {c['household_id']}  "
        f"worker {who} ({c['level']})  {c['title']}"
    )


def _out(obj: Any, as_json: bool, text: str) -> None:
    if as_json:
        echo_json(obj)
    else:
        click.echo(text)


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

    svc = _service(db_url)
    reg = parse_register(register)
    problems = reg.problems
    counts = (
        svc.load_register(reg, source=str(register))
        if (reg.households or reg.staff)
        else {"households": 0, "workers": 0, "units": 0, "updated": 0}
    )
    counts["rejected"] = len(problems)
    for msg in problems:
        click.echo(f"  rejected: {msg}", err=True)
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
@click.option("--solved/--not-solved", required=True, help="--not-solved reopens the case.")
@click.option("--token", help="The household's scanned chip.")
@click.option("--household", help="The household id (entered by staff for the resident).")
@keys_option
@db_option
@json_option
@handle_errors
def rate(
    case_id: int,
    rating: int,
    solved: bool,
    token: str | None,
    household: str | None,
    keys: Path | None,
    db_url: str | None,
    as_json: bool,
) -> None:
    """The requesting household rates a resolved case (once per resolution)."""
    if (token is None) == (household is None):
        fail("give exactly one of --token or --household")
    svc = _service(db_url, keys, need_keys=token is not None)
    c = svc.rate(case_id, rating, solved, token=token, household_id=household)
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
    c = svc.escalate(case_id, Actor.worker(by), reason)
    _out(svc.public(c), as_json, _summary(c))


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
@click.option("--history", is_flag=True, help="Include the audit events of the case.")
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
    for k in ("description", "details", "channel", "created_by"):
        click.echo(f"  {k}: {c[k]}")
    for k in ("created_at", "accepted_at", "resolved_at", "closed_at"):
        click.echo(f"  {k}: {_iso(c[k])}")
    if c.get("resolution_note"):
        click.echo(f"  resolution: {c['resolution_note']}  evidence: {c.get('evidence') or []}")
    if c.get("rating") is not None:
        click.echo(f"  rating: {c['rating']}  solved: {c['solved']}  reopened: {c['reopen_count']}")
    if c["breach_accept"] or c["breach_resolve"]:
        click.echo(f"  SLA breach: accept={c['breach_accept']} resolve={c['breach_resolve']}")
    for e in c.get("history", []):
        click.echo(
            f"  #{e['seq']} {_iso(e['at'])} {e['kind']} by {e['actor']}: {e['before']} -> {e['after']}"
        )


@cases.command()
@click.option(
    "--level",
    required=True,
    type=click.Choice(["grid", "village", "town", "district", "worker"]),
    help="One row per unit of this level.",
)
@click.option("--scope", help="Only within this unit (a village, town or district id).")
@click.option("--since", help="Start of the period (ISO date, UTC; default 30 days ago).")
@click.option("--until", help="End of the period, exclusive (default now).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write to a file.")
@db_option
@json_option
@handle_errors
def report(
    level: str,
    scope: str | None,
    since: str | None,
    until: str | None,
    fmt: str,
    out: Path | None,
    db_url: str | None,
    as_json: bool,
) -> None:
    """Assessment: cases by type and state, median/P90 time to accept and resolve, SLA breach,
    reopen, claimed vs resident-confirmed resolution, mean rating (only with >= 5 ratings),
    visit coverage. CSV cells are formula-safe."""
    svc = _service(db_url)
    rep = svc.report(
        level, scope=scope, since=_when(since, "--since"), until=_when(until, "--until")
    )
    if as_json:
        fmt = "json"
    text = {"table": rep.to_table, "csv": rep.to_csv, "json": rep.to_json}[fmt]()
    if out is not None:
        out.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        click.echo(f"wrote {out} ({len(rep.rows)} rows)", err=True)
    else:
        click.echo(text.rstrip("\n"))


@cases.command()
@db_option
@json_option
@handle_errors
def audit(db_url: str | None, as_json: bool) -> None:
    """Verify the hash-chained audit log; name the first broken link. Exit 1 if broken."""
    svc = _service(db_url)
    rep = svc.audit_verify()
    if as_json:
        echo_json(rep.to_dict())
    elif rep.ok:
        click.echo(f"audit chain ok: {rep.events} events")
    else:
        click.echo(
            f"audit chain BROKEN at event {rep.first_broken}: {rep.reason} "
            f"({rep.events} events verified before it)"
        )
    if not rep.ok:
        sys.exit(EXIT_FAIL)


@cases.command()
@db_option
@json_option
@handle_errors
def sweep(db_url: str | None, as_json: bool) -> None:
    """Run the SLA timers (breach -> record + escalate) and close expired rating windows.

    Run it periodically (cron or a systemd timer)."""
    svc = _service(db_url)
    done = svc.sweep()
    lines = [
        f"case {d['case']}: {d['action']}"
        + (f" -> escalated to {d['escalated_to']}" if d.get("escalated_to") else "")
        for d in done
    ]
    _out(done, as_json, "\n".join(lines) or "nothing due")


# ---------------------------------------------------------------- visits


@click.group()
def visits() -> None:
    """Worker check-ins at households, with plausibility flags."""


@visits.command()
@click.argument("source")
@click.option("--worker", required=True, help="The worker checking in.")
@click.option("--gps", help="LAT,LON[,ACCURACY_M] from the phone.")
@click.option(
    "--photo",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A photo of the visit (checked for reuse).",
)
@keys_option
@db_option
@json_option
@handle_errors
def checkin(
    source: str,
    worker: str,
    gps: str | None,
    photo: Path | None,
    keys: Path | None,
    db_url: str | None,
    as_json: bool,
) -> None:
    """Check in by scanning a plate: SOURCE is a photo of the plate (IMAGE) or the chip TOKEN.

    Flags: impossible_travel, gps_far, duplicate_photo, burst, not_linked (recorded, not refused).
    """
    from chipkit.cases import parse_gps

    pos = parse_gps(gps) if gps is not None else None
    svc = _service(db_url, keys, need_keys=True)
    photo_bytes = photo.read_bytes() if photo else None
    p = Path(source)
    if not source.startswith("CK1:") and not source.upper().startswith("HTTP") and p.is_file():
        v = svc.checkin_photo(worker, p, gps=pos)  # IMAGE: read the plate from the photo
    else:
        v = svc.checkin(worker, source, gps=pos, photo=photo_bytes)
    flags = ", ".join(v["flags"]) or "none"
    _out(
        v,
        as_json,
        f"visit {v['id']}: {v['worker_id']} at {v['household_id']} {_iso(v['at'])}  flags: {flags}",
    )


@visits.command("list")
@click.option("--worker")
@click.option("--flagged", is_flag=True, help="Only check-ins with flags.")
@click.option("--limit", type=click.IntRange(1, 10000), default=100, show_default=True)
@db_option
@json_option
@handle_errors
def visits_list(
    worker: str | None, flagged: bool, limit: int, db_url: str | None, as_json: bool
) -> None:
    """List check-ins, newest first."""
    svc = _service(db_url)
    rows = svc.list_visits(worker_id=worker, flagged=flagged, limit=limit)
    _out(
        rows,
        as_json,
        "\n".join(
            f"visit {v['id']}: {v['worker_id']} at {v['household_id']} {_iso(v['at'])}  flags: {', '.join(v['flags']) or 'none'}"
            for v in rows
        )
        or "(no visits)",
    )


# ---------------------------------------------------------------- notices


@click.group()
def notices() -> None:
    """Village and town notices that residents see after scanning their plate."""


@notices.command()
@click.option("--unit", required=True, help="Village (12-digit) or town (9-digit) code.")
@click.option("--title", required=True)
@click.option("--body", required=True)
@click.option("--by", "by", required=True, help="Posting worker/officer id.")
@click.option("--expires", help="ISO date/time (UTC) after which it is hidden.")
@db_option
@json_option
@handle_errors
def post(
    unit: str,
    title: str,
    body: str,
    by: str,
    expires: str | None,
    db_url: str | None,
    as_json: bool,
) -> None:
    """Post a notice for a village or town."""
    svc = _service(db_url)
    n = svc.post_notice(unit, title, body, by, expires_at=_when(expires, "--expires"))
    _out(n, as_json, f"notice {n['id']} posted for {n['unit_id']}: {n['title']}")


@notices.command("list")
@click.option("--unit", help="Only this village or town.")
@click.option("--all", "include_withdrawn", is_flag=True, help="Include withdrawn notices.")
@db_option
@json_option
@handle_errors
def notices_list(
    unit: str | None, include_withdrawn: bool, db_url: str | None, as_json: bool
) -> None:
    """List notices."""
    svc = _service(db_url)
    rows = svc.list_notices(unit, include_withdrawn=include_withdrawn)
    _out(
        rows,
        as_json,
        "\n".join(
            f"notice {n['id']} [{n['unit_id']}] {_iso(n['posted_at'])} {n['title']}"
            + (" (withdrawn)" if n["withdrawn"] else "")
            for n in rows
        )
        or "(no notices)",
    )


@notices.command("show")
@click.argument("token", required=False)
@click.option("--household", help="Household id instead of a scanned chip.")
@keys_option
@db_option
@json_option
@handle_errors
def notices_show(
    token: str | None, household: str | None, keys: Path | None, db_url: str | None, as_json: bool
) -> None:
    """What a resident sees after scanning: the notices of its village and town."""
    if (token is None) == (household is None):
        fail("give a chip TOKEN or --household")
    svc = _service(db_url, keys, need_keys=token is not None)
    res = svc.notices_for(token=token, household_id=household)
    lines = [
        f"household {res['household_id']} (village {res['village']}): {len(res['notices'])} notices"
    ]
    for n in res["notices"]:
        lines.append(f"  [{n['unit_id']}] {_iso(n['posted_at'])} {n['title']}\n    {n['body']}")
    _out(res, as_json, "\n".join(lines))


@notices.command()
@click.argument("notice_id", type=int)
@click.option("--by", "by", required=True, help="Worker/officer id.")
@db_option
@json_option
@handle_errors
def withdraw(notice_id: int, by: str, db_url: str | None, as_json: bool) -> None:
    """Withdraw a notice."""
    svc = _service(db_url)
    n = svc.withdraw_notice(notice_id, by)
    _out(n, as_json, f"notice {n['id']} withdrawn")


def register(cli: click.Group) -> None:
    """Add the `cases`, `visits` and `notices` groups to the top-level CLI."""
    for group in (cases, visits, notices):
        cli.add_command(group)
