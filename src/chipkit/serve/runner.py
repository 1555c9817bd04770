"""Running the app on uvicorn, one process or several: no 40 ms Nagle stall, and on Linux the
connections spread over the workers by the kernel.

- **TCP_NODELAY.** With ``workers > 1`` uvicorn binds the listening socket itself as
  ``socket.socket(AF_INET)``, protocol 0; asyncio then never sets ``TCP_NODELAY`` on the
  accepted connections (it checks for ``IPPROTO_TCP``), so the response body, written after
  the headers, waits for the client's delayed ACK: about 40 ms added to every request on
  Linux, behind nginx or not (benchmarks/serve.py measured a bare app's p50 go from 6 ms to
  44 ms). Here the listening socket gets ``TCP_NODELAY``, which Linux copies to every accepted
  socket.
- **One accept queue per worker (Linux).** uvicorn's workers share one listening socket, and
  asyncio accepts every connection that is waiting when a worker wakes: a burst of keep-alive
  connections (a load test's, or a reverse proxy's pool) lands on whichever worker woke first,
  and the others idle for as long as those connections live (benchmarks/serve.py saw whole
  2-worker rounds run at one worker's rate). Here each worker process binds its own socket to
  the address with ``SO_REUSEPORT``, and the kernel hashes every new connection to one of
  them. The supervisor's socket is bound (so the address is held while workers restart) but
  never listens, so no connection waits on it. Elsewhere the shared socket is kept.

One process is run as uvicorn runs it (asyncio's own socket is not affected).
"""

from __future__ import annotations

import logging
import socket
import sys
from typing import Any

import uvicorn

log = logging.getLogger("uvicorn.error")
_PER_WORKER = sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def _reuseport_socket(
    family: int, addr: Any, kind: type[socket.socket] = socket.socket
) -> socket.socket:
    """A TCP socket bound to ``addr`` with SO_REUSEADDR, SO_REUSEPORT and TCP_NODELAY."""
    sock = kind(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(addr)
    return sock


class _WorkerSocket(socket.socket):
    """The supervisor's bound socket; a worker process that receives it (pickled, as uvicorn
    hands sockets to its workers) gets its own socket on the same address instead."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (_reuseport_socket, (self.family, self.getsockname()))


class NoDelayConfig(uvicorn.Config):
    """uvicorn's Config whose shared listening socket has TCP_NODELAY (and, on Linux with
    several workers, becomes one SO_REUSEPORT socket per worker)."""

    def bind_socket(self) -> socket.socket:
        if self.workers > 1 and _PER_WORKER and self.uds is None and self.fd is None:
            family = socket.AF_INET6 if self.host and ":" in self.host else socket.AF_INET
            try:
                sock = _reuseport_socket(family, (self.host, self.port), _WorkerSocket)
            except OSError as e:
                log.error(e)
                sys.exit(3)  # as uvicorn's own bind_socket: STARTUP_FAILURE
            sock.set_inheritable(True)
            log.info("Uvicorn running on http://%s:%d, one socket per worker", self.host, self.port)
            return sock
        sock = super().bind_socket()
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock


def run(app: str, *, host: str, port: int, workers: int = 1, **options: Any) -> None:
    """``uvicorn.run(app, ...)`` for an import string (``"module:attr"``), with the fixes above.

    ``options`` are uvicorn.Config's (factory, log_level, server_header, ...).
    """
    config = NoDelayConfig(app, host=host, port=port, workers=workers, **options)
    server = uvicorn.Server(config)
    if workers > 1:
        from uvicorn.supervisors import Multiprocess

        Multiprocess(config, sockets=[config.bind_socket()]).run()
    else:
        server.run()
