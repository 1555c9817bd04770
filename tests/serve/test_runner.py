"""`chipkit serve --workers 2` on Linux: each worker listens on its own SO_REUSEPORT socket, so
a burst of keep-alive connections spreads over the workers instead of landing on whichever
woke first (chipkit.serve.runner). Read from /proc: which process holds which connection."""

from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux /proc")


def _tcp_rows(port: int) -> list[tuple[str, int]]:
    """(state, inode) of every IPv4 TCP socket whose local port is ``port``."""
    rows = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        f = line.split()
        if int(f[1].split(":")[1], 16) == port:
            rows.append((f[3], int(f[9])))
    return rows


def _inodes(pid: int) -> set[int]:
    out = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            out.add(int(target[8:-1]))
    return out


def _children(pid: int) -> list[int]:
    kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(k) for k in kids]


def test_workers_each_listen_and_share_a_burst(tmp_path, register_file, server):
    from chipkit.cases import CaseService

    db = tmp_path / "cases.sqlite"
    CaseService(db, create=True).import_register(register_file)
    proc, base = server(["--db", str(db), "--workers", "2"])
    port = urlsplit(base).port
    assert port is not None
    deadline = time.time() + 60  # /healthz answers once one worker is up: wait for both
    while sum(state == "0A" for state, _ in _tcp_rows(port)) < 2 and time.time() < deadline:
        time.sleep(0.1)
    conns = []
    try:
        for _ in range(64):  # a burst of keep-alive connections, each answered once
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            conns.append(s)
        for s in conns:
            assert s.recv(4096).startswith(b"HTTP/1.1 200")
        time.sleep(0.2)
        workers = [k for k in _children(proc.pid) if _inodes(k)]
        rows = _tcp_rows(port)
        listening = {inode for state, inode in rows if state == "0A"}
        established = {inode for state, inode in rows if state == "01"}
        held = {w: len(_inodes(w) & established) for w in workers}
        owns_listener = {w: bool(_inodes(w) & listening) for w in workers}
    finally:
        for s in conns:
            s.close()
        server.stop(proc)
    assert len(workers) == 2 and len(listening) == 2, (workers, listening)
    assert all(owns_listener.values()), owns_listener  # one listening socket each
    assert sum(held.values()) == 64
    assert min(held.values()) >= 12, held  # hashed by the kernel: ~32 each (< 1e-6 to fail)
