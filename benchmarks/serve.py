# ruff: noqa: E402
"""Service benchmark: `chipkit serve` under bounded load from a client on the same machine.

    .venv/bin/python benchmarks/serve.py                      # SQLite parts (+ PostgreSQL if
                                                              #   CHIPKIT_TEST_PG_URL is set)
    .venv/bin/python benchmarks/serve.py --pg postgresql://…  # the two-process workflow too
    .venv/bin/python benchmarks/serve.py --write-docs         # also refresh docs/performance.md

Loopback only; every phase has a fixed request count and a time limit. The anchor is measured
in the same run, interleaved with the service (anchor, service, anchor, service; medians): a
bare uvicorn app returning a constant JSON body, under the same uvicorn settings and the same
client. Goals (issue 12): POST /verify >= 50% of the bare app's request rate and p99 < 50 ms
at 64 concurrent clients; the resident page (chip -> household page) p99 < 100 ms at 64;
POST /scan of a 12 MP JPEG p95 < 400 ms; the mixed workflow on PostgreSQL with two server
processes >= 300 transitions/s, and afterwards every action the client saw succeed is in the
database and the audit chain verifies.
"""

from __future__ import annotations

import sys
from pathlib import Path

# benchmarks/token.py would shadow the standard library's `token` module: keep this folder
# off sys.path before anything imports it (asyncio does).
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse
import asyncio
import io
import os
import socket
import statistics
import subprocess
import tempfile
import time
from typing import Any

import httpx

ROOT = _HERE.parent
PY = sys.executable
V = "330703101001"
PASSWORD = "benchmark password"
BARE = (
    "import uvicorn\n"
    "async def app(scope, receive, send):\n"
    "    if scope['type'] != 'http':\n"
    "        return\n"
    "    while (await receive()).get('more_body'):\n"
    "        pass\n"
    "    await send({'type': 'http.response.start', 'status': 200,"
    " 'headers': [(b'content-type', b'application/json')]})\n"
    "    await send({'type': 'http.response.body', 'body': b'{\"status\":\"ok\"}'})\n"
    "uvicorn.run(app, host='127.0.0.1', port=int(__import__('sys').argv[1]),"
    " log_level='warning', server_header=False)\n"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(base: str, proc: subprocess.Popen[Any], path: str = "/healthz") -> None:
    deadline = time.time() + 90
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {proc.returncode}")
        try:
            httpx.get(base + path, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit("server did not come up")


def start_bare() -> tuple[subprocess.Popen[Any], str]:
    port = free_port()
    p = subprocess.Popen([PY, "-c", BARE, str(port)])
    base = f"http://127.0.0.1:{port}"
    wait_up(base, p, "/")
    return p, base


def start_serve(args: list[str]) -> tuple[subprocess.Popen[Any], str]:
    port = free_port()
    cmd = [PY, "-m", "chipkit_cli.main", "serve", "--port", str(port), "--log-level", "warning"]
    p = subprocess.Popen(cmd + args, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    wait_up(base, p)
    return p, base


def stop(p: subprocess.Popen[Any]) -> None:
    p.terminate()
    try:
        p.wait(20)
    except subprocess.TimeoutExpired:
        p.kill()


def pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(q / 100 * (len(s) - 1))))]


async def load(base: str, make: Any, n: int, conc: int, limit_s: float) -> dict[str, float]:
    """n requests from conc concurrent clients (or until limit_s); rate and latencies."""
    lat: list[float] = []
    errors = 0
    kinds: dict[str, int] = {}
    counter = iter(range(n))
    t_end = time.perf_counter() + limit_s
    limits = httpx.Limits(max_connections=conc, max_keepalive_connections=conc)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:

        async def worker() -> None:
            nonlocal errors
            for i in counter:
                if time.perf_counter() > t_end:
                    return
                method, path, kw, ok = make(i)
                t0 = time.perf_counter()
                try:
                    r = await client.request(method, path, **kw)
                except httpx.HTTPError as e:  # counted, never hidden
                    errors += 1
                    kinds[type(e).__name__] = kinds.get(type(e).__name__, 0) + 1
                    continue
                lat.append((time.perf_counter() - t0) * 1000)
                if r.status_code != ok:
                    errors += 1
                    kinds[str(r.status_code)] = kinds.get(str(r.status_code), 0) + 1

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(conc)))
        secs = time.perf_counter() - t0
    return {
        "n": len(lat),
        "rate": len(lat) / secs,
        "p50": pct(lat, 50),
        "p95": pct(lat, 95),
        "p99": pct(lat, 99),
        "errors": errors,
        "kinds": kinds,
    }


def setup_district(work: Path, households: int, db: str) -> dict[str, Any]:
    """A register, a keyring, staff accounts and PINs; returns chips, pins, token."""
    from chipkit.cases import CaseService
    from chipkit.keys import Keyring
    from chipkit.serve import Accounts, issue_pins
    from chipkit.serve.store import open_database

    lines = [
        "household_id,village_code,village_name,town,district,grid,worker_id,worker_name,role,unit"
    ]
    grids = max(1, households // 50)
    for i in range(households):
        g = i % grids
        lines.append(f"H-{i:05d},{V},东村,孝顺镇,金东区,G{g},W{g},员{g},,")
    lines.append(f",,,,,,V1,村干部,village,{V}")
    reg = work / "register.csv"
    reg.write_text("\n".join(lines) + "\n", encoding="utf-8")
    kr = Keyring.init(work / "keys", passphrase=None)
    database = open_database(db)
    CaseService(database).import_register(reg)
    acc = Accounts(database)
    for g in range(grids):
        acc.add(f"w{g}", PASSWORD, worker_id=f"W{g}")
    acc.add("v1", PASSWORD, worker_id="V1")
    tokens = {f"W{g}": acc.new_token(username=f"w{g}")[1] for g in range(grids)}
    tokens["V1"] = acc.new_token(username="v1")[1]
    pins = dict(issue_pins(database))
    database.dispose()
    chips = {f"H-{i:05d}": kr.seal(f"H-{i:05d}", V)[0] for i in range(households)}
    return {"keys": kr.path, "chips": chips, "pins": pins, "tokens": tokens, "grids": grids}


def photo_12mp(chip: str) -> bytes:
    import numpy as np
    import segno
    from PIL import Image

    qr = io.BytesIO()
    segno.make(chip, error="q").save(qr, kind="png", scale=12, border=4)
    sym = Image.open(qr).convert("L")
    rng = np.random.default_rng(7)
    bg = (rng.normal(150, 25, (3000, 4000)).clip(0, 255)).astype("uint8")
    img = Image.fromarray(bg)
    img.paste(sym, (1700, 1200))
    out = io.BytesIO()
    img.convert("RGB").save(out, "JPEG", quality=88)
    return out.getvalue()


def bench_sqlite(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    db = str(work / "cases.sqlite")
    d = setup_district(work, args.households, db)
    chips = list(d["chips"].values())
    tok = d["tokens"]["V1"]
    serve_args = ["--db", db, "--keys", str(d["keys"]), "--trusted-proxy", "127.0.0.1"]
    out: dict[str, Any] = {"households": args.households}

    def verify_req(i: int) -> tuple[str, str, dict[str, Any], int]:
        return (
            "POST",
            "/api/v1/verify",
            {
                "json": {"chip": chips[i % len(chips)]},
                "headers": {"Authorization": f"Bearer {tok}"},
            },
            200,
        )

    def bare_req(i: int) -> tuple[str, str, dict[str, Any], int]:
        return "POST", "/api/v1/verify", {"json": {"chip": chips[i % len(chips)]}}, 200

    def page_req(i: int) -> tuple[str, str, dict[str, Any], int]:
        # residents behind the district's proxy: one address per 50 requests (limits hold)
        addr = f"10.{(i // 50) // 250 % 250}.{(i // 50) % 250}.{i % 7 + 1}"
        return (
            "POST",
            "/api/v1/households/session",
            {
                "json": {"chip": chips[i % len(chips)]},
                "headers": {"X-Forwarded-For": addr},
            },
            200,
        )

    bare_rates, verify_runs, page_runs = [], [], []
    for _ in range(2):  # interleaved, paired rounds
        p, base = start_bare()
        try:
            bare_rates.append(asyncio.run(load(base, bare_req, args.requests, 64, args.limit)))
        finally:
            stop(p)
        p, base = start_serve(serve_args)
        try:
            verify_runs.append(asyncio.run(load(base, verify_req, args.requests, 64, args.limit)))
            page_runs.append(asyncio.run(load(base, page_req, args.requests // 2, 64, args.limit)))
        finally:
            stop(p)
    med = lambda runs, k: statistics.median(r[k] for r in runs)  # noqa: E731
    out["bare_rate"] = med(bare_rates, "rate")
    out["verify"] = {k: med(verify_runs, k) for k in ("rate", "p50", "p95", "p99", "errors", "n")}
    out["page"] = {k: med(page_runs, k) for k in ("rate", "p50", "p95", "p99", "errors", "n")}
    print(
        "error kinds: bare",
        [r["kinds"] for r in bare_rates],
        "verify",
        [r["kinds"] for r in verify_runs],
        "page",
        [r["kinds"] for r in page_runs],
    )
    out["verify_ratio"] = out["verify"]["rate"] / out["bare_rate"]
    # POST /scan of a 12 MP JPEG, one at a time
    photo = photo_12mp(chips[0])
    p, base = start_serve(serve_args + ["--max-upload-mb", "20"])
    try:
        lat = []
        ok = 0
        with httpx.Client(
            base_url=base, timeout=60, headers={"Authorization": f"Bearer {tok}"}
        ) as c:
            for _ in range(args.scans):
                t0 = time.perf_counter()
                r = c.post("/api/v1/scan", files={"photo": ("door.jpg", photo, "image/jpeg")})
                lat.append((time.perf_counter() - t0) * 1000)
                ok += r.status_code == 200 and r.json()["results"][0]["status"] == "ok"
        out["scan"] = {
            "n": len(lat),
            "p50": pct(lat, 50),
            "p95": pct(lat, 95),
            "ok": ok,
            "bytes": len(photo),
        }
    finally:
        stop(p)
    return out


def bench_workflow(args: argparse.Namespace, work: Path, pg: str) -> dict[str, Any]:
    """submit, accept, start, resolve, rate, check-in against two processes on PostgreSQL."""
    import psycopg

    name = "ck_bench_" + os.urandom(4).hex()
    with psycopg.connect(pg, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    url = pg.rpartition("/")[0] + "/" + name
    try:
        (work / "pg").mkdir()
        d = setup_district(work / "pg", args.households, url)
        args_ = ["--db", url, "--keys", str(d["keys"]), "--data-dir", str(work / "pg" / "data")]
        procs = [start_serve(args_), start_serve(args_)]
        try:
            return asyncio.run(_workflow(args, d, [b for _, b in procs], url))
        finally:
            for p, _ in procs:
                stop(p)
    finally:
        with psycopg.connect(pg, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _workflow(
    args: argparse.Namespace, d: dict[str, Any], bases: list[str], url: str
) -> dict[str, Any]:
    hids = sorted(d["chips"])[: args.cases]
    grids = d["grids"]
    seen: list[tuple[str, int]] = []  # (kind, case id) the client saw succeed
    failures = 0
    why: dict[str, int] = {}

    def failed(step: str, r: httpx.Response) -> None:
        nonlocal failures
        failures += 1
        info = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
        detail = (
            f"{info.get('error', '')}: {str(info.get('detail', ''))[:80]}"
            if isinstance(info, dict)
            else ""
        )
        key = f"{step} {r.status_code} {detail}"
        why[key] = why.get(key, 0) + 1

    t_end = time.perf_counter() + args.limit

    async def one(i: int, hid: str, clients: list[httpx.AsyncClient]) -> None:
        n = int(hid.split("-")[1])
        auth = {"Authorization": f"Bearer {d['tokens'][f'W{n % grids}']}"}
        a, b = clients[i % 2], clients[(i + 1) % 2]
        r = await a.post(
            "/api/v1/cases",
            json={"type": "other", "title": f"bench {i}", "household_id": hid},
            headers=auth,
        )
        if r.status_code != 201:
            failed("submit", r)
            return
        cid = r.json()["id"]
        seen.append(("case.submit", cid))
        for k, (path, body) in enumerate(
            (("accept", None), ("start", None), ("resolve", {"note": "done"}))
        ):
            c = a if k % 2 else b
            r = await c.post(f"/api/v1/cases/{cid}/{path}", json=body, headers=auth)
            if r.status_code != 200:
                failed(path, r)
                return
            seen.append((f"case.{path}", cid))
        addr = f"10.9.{i // 200 % 250}.{i % 200 + 1}"
        r = await a.post(
            "/api/v1/households/session",
            json={"chip": d["chips"][hid], "pin": d["pins"][hid]},
            headers={"X-Forwarded-For": addr},
        )
        if r.status_code != 200:
            failed("session", r)
            return
        hs = {"ck_session": r.cookies["ck_session"]}
        r = await b.post(
            f"/api/v1/household/cases/{cid}/rate",
            json={"rating": 5, "solved": True},
            cookies=hs,
            headers={"X-CSRF-Token": r.json()["csrf"]},
        )
        if r.status_code != 200:
            failed("rate", r)
            return
        seen.append(("case.confirm", cid))
        r = await a.post("/api/v1/visits/checkin", json={"chip": d["chips"][hid]}, headers=auth)
        if r.status_code != 201:
            failed("checkin", r)
            return
        seen.append(("visit.checkin", cid))

    limits = httpx.Limits(max_connections=32)
    async with (
        httpx.AsyncClient(base_url=bases[0], limits=limits, timeout=60) as c0,
        httpx.AsyncClient(base_url=bases[1], limits=limits, timeout=60) as c1,
    ):
        queue = iter(enumerate(hids))
        t0 = time.perf_counter()

        async def worker() -> None:
            nonlocal failures
            for i, hid in queue:
                if time.perf_counter() > t_end:
                    return
                try:
                    await one(i, hid, [c0, c1])
                except httpx.HTTPError as e:
                    failures += 1
                    why[type(e).__name__] = why.get(type(e).__name__, 0) + 1

        await asyncio.gather(*(worker() for _ in range(args.workflow_clients)))
        secs = time.perf_counter() - t0
    transitions = len(seen)
    # every action the client saw succeed is in the database, once; the audit chain verifies
    from sqlalchemy import func, select

    from chipkit.cases import CaseService
    from chipkit.cases.models import events, visits

    svc = CaseService(url)
    with svc.db.read() as conn:
        kinds = {
            (r.kind, r.case_id)
            for r in conn.execute(select(events.c.kind, events.c.case_id)).all()
            if r.case_id
        }
        dup = conn.execute(
            select(events.c.kind, events.c.case_id, func.count())
            .where(events.c.case_id.is_not(None))
            .group_by(events.c.kind, events.c.case_id)
            .having(func.count() > 1)
        ).all()
        nvisits = conn.execute(select(func.count()).select_from(visits)).scalar_one()
    missing = [s for s in seen if s[0] != "visit.checkin" and s not in kinds]
    audit_ok = svc.audit_verify().ok
    svc.db.dispose()
    return {
        "transitions": transitions,
        "seconds": secs,
        "rate": transitions / secs,
        "failures": failures,
        "why": why,
        "missing": len(missing),
        "duplicates": len(dup),
        "visits_ok": nvisits == sum(1 for s in seen if s[0] == "visit.checkin"),
        "audit_ok": audit_ok,
    }


def render(r: dict[str, Any], cmd: str) -> str:
    v, p, s = r["verify"], r["page"], r["scan"]
    lines = [
        f"Command: `{cmd}`. Client and servers on the same machine (loopback); 64 concurrent "
        "clients; the anchor is a bare uvicorn app returning a constant, measured in the same "
        "run, interleaved (medians of 2 paired rounds). "
        f"Machine load average {r['load'][0]:.1f} before, {r['load'][1]:.1f} after, on "
        f"{r['load'][2]} cores: a machine this loaded lowers every absolute figure (the bare "
        "anchor shows by how much); the ratio to the anchor is the comparable one.",
        "",
        "| measure | result | goal |",
        "|---|---|---|",
        f"| bare uvicorn app | {r['bare_rate']:.0f} req/s | anchor |",
        f"| `POST /api/v1/verify` (API token) | {v['rate']:.0f} req/s = **{r['verify_ratio']:.0%}** of the anchor; p50 {v['p50']:.0f} ms, p99 **{v['p99']:.0f} ms**; {v['errors']:.0f} errors | ≥ 50%, p99 < 50 ms |",
        f"| resident page (`POST /households/session` with the chip → household page) | {p['rate']:.0f} req/s; p50 {p['p50']:.0f} ms, p99 **{p['p99']:.0f} ms**; {p['errors']:.0f} errors | p99 < 100 ms |",
        f"| `POST /api/v1/scan`, 12 MP JPEG ({s['bytes'] / 1e6:.1f} MB), one at a time | p50 {s['p50']:.0f} ms, p95 **{s['p95']:.0f} ms**; {s['ok']}/{s['n']} read ok | p95 < 400 ms |",
    ]
    w = r.get("workflow")
    if w:
        lines.append(
            f"| mixed workflow, PostgreSQL, two server processes (submit, accept, start, resolve, rate, check-in) | "
            f"**{w['rate']:.0f} transitions/s** ({w['transitions']} in {w['seconds']:.1f} s, {w['failures']} failed{': ' + ', '.join(f'{k} x{v}' for k, v in w['why'].items()) if w['why'] else ''}); "
            f"missing {w['missing']}, duplicated {w['duplicates']}, visits {'all' if w['visits_ok'] else 'NOT all'} recorded, "
            f"audit chain {'ok' if w['audit_ok'] else 'BROKEN'} | ≥ 300/s, all recorded once |"
        )
    else:
        lines.append(
            "| mixed workflow on PostgreSQL | not measured (no `--pg` / `CHIPKIT_TEST_PG_URL`) | ≥ 300/s |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--households", type=int, default=200)
    ap.add_argument("--requests", type=int, default=2000, help="requests per load phase")
    ap.add_argument("--limit", type=float, default=30.0, help="seconds per load phase at most")
    ap.add_argument("--scans", type=int, default=10)
    ap.add_argument("--cases", type=int, default=200, help="workflow cases (one per household)")
    ap.add_argument("--workflow-clients", type=int, default=32)
    ap.add_argument("--pg", default=os.environ.get("CHIPKIT_TEST_PG_URL"))
    ap.add_argument("--write-docs", action="store_true")
    args = ap.parse_args()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="ck-serve-bench-") as tmp:
        work = Path(tmp)
        res = bench_sqlite(args, work)
        if args.pg:
            res["workflow"] = bench_workflow(args, work, args.pg)
    res["load"] = (load_before, os.getloadavg()[0], os.cpu_count() or 1)
    cmd = "python benchmarks/serve.py " + " ".join(
        a for a in sys.argv[1:] if not a.startswith("postgresql")
    )
    text = render(res, cmd.strip())
    print(text)
    if args.write_docs:
        import importlib.util

        spec = importlib.util.spec_from_file_location("_ck_docs", _HERE / "_docs.py")
        assert spec and spec.loader
        docs = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(docs)
        docs.write_section("serve", text)
        print("wrote docs/performance.md (serve section)")


if __name__ == "__main__":
    main()
