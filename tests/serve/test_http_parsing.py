"""Ambiguous HTTP at the server (what a proxy and the server could read differently: request
smuggling): with the default parser (httptools, which the serve extra installs) a request
with both Content-Length and Transfer-Encoding, or two Content-Lengths, is refused with 400
before the app sees it. Sent over a raw socket, since no HTTP client will write them."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

AMBIGUOUS = {
    "length and chunked": b"POST /api/v1/verify HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "two lengths": b"POST /api/v1/verify HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
    b"Content-Length: 6\r\n\r\nabcdef",
    "space in a header name": b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n",
}


def _status_line(base: str, raw: bytes) -> bytes:
    u = urlsplit(base)
    with socket.create_connection((u.hostname, u.port), timeout=10) as s:
        s.sendall(raw)
        return s.recv(4096).split(b"\r\n")[0]


def test_the_default_parser_refuses_ambiguous_requests(tmp_path, register_file, server):
    from chipkit.cases import CaseService

    db = tmp_path / "cases.sqlite"
    CaseService(db, create=True).import_register(register_file)
    proc, base = server(["--db", str(db)])  # --http auto: httptools
    try:
        got = {name: _status_line(base, raw) for name, raw in AMBIGUOUS.items()}
    finally:
        server.stop(proc)
    assert got == {name: b"HTTP/1.1 400 Bad Request" for name in AMBIGUOUS}
