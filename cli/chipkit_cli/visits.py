"""`chipkit visits` (check-ins at households) and `chipkit notices` (village/town notices)."""

from __future__ import annotations

from pathlib import Path

import click

from chipkit_cli._cases_common import (
    _iso,
    _out,
    _service,
    _when,
    db_option,
    json_option,
    keys_option,
)
from chipkit_cli._common import fail, handle_errors

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
        f"household {res['household_id']} (village {res['village']}): {len(res['notices'])} notice{'' if len(res['notices']) == 1 else 's'}"
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
