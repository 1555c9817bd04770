"""Bounded HTTP load with `wrk` (the C load generator): a Lua script per phase, written into a
temporary folder, sends a prepared list of requests round-robin (method, path, headers, body),
counts every response whose status is not the expected one, for a fixed duration (with a
per-request timeout), and prints the rate and the latency percentiles as one JSON line.

The Python client used before (httpx) saturated at ~300 req/s on this machine: it measured
itself, not the server. wrk does not (11,000+ req/s against the bare uvicorn app).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

INSTALL = "wrk is needed for the service benchmark: apt-get install wrk (Debian/Ubuntu), brew install wrk (macOS)"

Request = tuple[str, str, dict[str, str], str]  # method, path, headers, body

_TEMPLATE = r"""
local reqs = {}
local nreq = 0
local sent = 0
local want = %(expect)d
tid = 0
bad = 0
codes = ""
local seen = {}
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  local raw = {
%(items)s
  }
  for i, r in ipairs(raw) do
    reqs[i] = wrk.format(r[1], r[2], r[3], r[4])
  end
  nreq = #reqs
  sent = tid * math.floor(nreq / %(threads)d)
end

function request()
  sent = sent + 1
  return reqs[(sent - 1) %% nreq + 1]
end

function response(status, headers, body)
  if status ~= want then
    bad = bad + 1
    seen[status] = (seen[status] or 0) + 1
    local parts = {}
    for k, v in pairs(seen) do parts[#parts + 1] = k .. "x" .. v end
    codes = table.concat(parts, ",")
  end
end

function done(summary, latency, requests)
  local b, c = 0, {}
  for _, t in ipairs(threads) do
    b = b + t:get("bad")
    local s = t:get("codes")
    if s ~= "" then c[#c + 1] = s end
  end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%%d,"duration_us":%%d,"p50":%%d,"p95":%%d,"p99":%%d,"max":%%d,' ..
    '"bad":%%d,"codes":"%%s","connect":%%d,"read":%%d,"write":%%d,"timeout":%%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max, b, table.concat(c, ","), e.connect, e.read, e.write,
    e.timeout))
end
"""


def lua_str(s: str) -> str:
    """A Lua string literal for any text (bytes above 0x7e and controls as decimal escapes)."""
    out = []
    for b in s.encode("utf-8"):
        ch = chr(b)
        if ch in '\\"' or b < 0x20 or b > 0x7E:
            out.append(f"\\{b:03d}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def script(reqs: list[Request], expect: int, threads: int) -> str:
    items = []
    for method, path, headers, body in reqs:
        hs = ", ".join(f"[{lua_str(k)}] = {lua_str(v)}" for k, v in headers.items())
        items.append(f"    {{{lua_str(method)}, {lua_str(path)}, {{{hs}}}, {lua_str(body)}}},")
    return _TEMPLATE % {
        "expect": expect,
        "threads": threads,
        "items": "\n".join(items),
    }


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def run(
    base: str,
    reqs: list[Request],
    *,
    expect: int,
    conc: int,
    seconds: float,
    tmp: Path,
    threads: int = 1,
    timeout_s: float = 10.0,
) -> dict[str, Any]:
    """``conc`` connections for ``seconds``: rate (req/s), latency percentiles (ms) and the
    responses with another status than ``expect`` or none at all (errors)."""
    lua = tmp / f"load-{len(list(tmp.glob('load-*.lua')))}.lua"
    lua.write_text(script(reqs, expect, threads), "ascii")
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{conc}",
        f"-d{max(1, round(seconds))}s",
        f"--timeout={timeout_s:g}s",
        "-s",
        str(lua),
        base + reqs[0][1],
    ]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    line = next((x for x in p.stdout.splitlines() if x.startswith("WRKJSON ")), None)
    if p.returncode != 0 or line is None:
        raise SystemExit(f"wrk failed ({p.returncode}): {p.stderr.strip()[:300]}")
    r = json.loads(line[len("WRKJSON ") :])
    secs = r["duration_us"] / 1e6
    transport = r["connect"] + r["read"] + r["write"] + r["timeout"]
    return {
        "n": r["requests"],
        "seconds": secs,
        "rate": r["requests"] / secs if secs else 0.0,
        "p50": r["p50"] / 1000,
        "p95": r["p95"] / 1000,
        "p99": r["p99"] / 1000,
        "max": r["max"] / 1000,
        "errors": r["bad"] + transport,
        "kinds": (r["codes"] + (f",transport x{transport}" if transport else "")).strip(","),
    }
