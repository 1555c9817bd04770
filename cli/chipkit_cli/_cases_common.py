"""Shared plumbing of `chipkit cases`, `chipkit visits` and `chipkit notices`: options,
the service, time formatting.

Every command takes --db URL (an SQLite file path or sqlite:/// URL, or a postgresql://
URL; default: $CHIPKIT_DB or chipkit-cases.sqlite in the working folder) and --json.
Exit codes: 0 success, 1 a negative answer (the audit chain is broken), 2 bad input, an
unknown case/household/worker, a wrong actor or a transition the case's state forbids.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click

from chipkit_cli._common import echo_json, fail, office_option, open_verifier

DB_HELP = (
    "Database: an SQLite file path (or sqlite:/// URL) or a postgresql:// URL. "
    "Default: $CHIPKIT_DB, else chipkit-cases.sqlite in the working folder."
)
KEYS_HELP = "Verifier bundle or keyring directory, to verify scanned chips ($CHIPKIT_KEYS)."


def _set_create(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.meta["chipkit_create_db"] = True


def db_option(f: Any) -> Any:
    f = click.option(
        "--create",
        is_flag=True,
        expose_value=False,
        callback=_set_create,
        help="Create the SQLite database if the file does not exist (only `cases import` "
        "creates one without it).",
    )(f)
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


def _service(
    db_url: str | None, keys: Path | None = None, need_keys: bool = False, create: bool = False
) -> Any:
    from chipkit.cases import CaseService

    verifier = None
    if keys is not None:
        verifier = open_verifier(keys)
    elif need_keys:
        fail("a chip token needs --keys (a verifier bundle or keyring directory) or $CHIPKIT_KEYS")
    ctx = click.get_current_context(silent=True)
    create = create or bool(ctx is not None and ctx.meta.get("chipkit_create_db"))
    return CaseService(db_url, verifier=verifier, create=create)


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
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _local(ts: int | None) -> str:
    """Unix seconds -> local date and time with its UTC offset (what `show` prints)."""
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts).astimezone().strftime("%Y-%m-%d %H:%M %z")


_TIME_FIELDS = ("at", "created_at", "accepted_at", "resolved_at", "closed_at", "paused_since")
_SECS_FIELDS = ("accept_secs", "resolve_secs", "paused_secs")


def _value(key: str, v: Any) -> str:
    if v is None:
        return "-"
    if key in _TIME_FIELDS and isinstance(v, int):
        return _local(v)
    if key in _SECS_FIELDS and isinstance(v, int):
        return _span(v)
    if isinstance(v, str):
        return v if len(v) <= 60 else v[:57] + "..."
    return json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else str(v)


def _span(secs: int) -> str:
    if secs < 60:
        return f"{int(secs)}s"
    d, rem = divmod(int(secs), 86400)
    h, rem = divmod(rem, 3600)
    m = rem // 60
    return f"{d}d {h}h {m}m" if d else (f"{h}h {m}m" if h else f"{m}m {rem % 60}s")


def _event_line(e: dict[str, Any]) -> str:
    """One audit event as `#3 2026-11-30 09:10 +0800 case.accept by worker:W: state
    submitted → accepted, ...`."""
    before, after = e.get("before") or {}, e.get("after") or {}
    if e["kind"] == "case.submit":
        changes = [
            f"{k} {_value(k, after[k])}" for k in ("type", "state", "worker_id") if k in after
        ]
    else:
        changes = []
        for k, v in sorted(after.items(), key=lambda kv: (kv[0] != "state", kv[0])):
            if k in before:
                changes.append(f"{k} {_value(k, before[k])} → {_value(k, v)}")
            else:
                changes.append(f"{k}: {_value(k, v)}")
    return f"  #{e['seq']} {_local(e['at'])} {e['kind']} by {e['actor']}: " + ", ".join(changes)


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
