"""Running the app on uvicorn, one process or several, without the 40 ms Nagle stall.

With ``workers > 1`` uvicorn binds the listening socket itself as ``socket.socket(AF_INET)``,
protocol 0; asyncio then never sets ``TCP_NODELAY`` on the accepted connections (it checks for
``IPPROTO_TCP``), so the response body, written after the headers, waits for the client's
delayed ACK: about 40 ms added to every request on Linux, behind nginx or not
(benchmarks/serve.py measured a bare app's p50 go from 6 ms to 44 ms). Here the listening
socket gets ``TCP_NODELAY``, which Linux copies to every accepted socket. One process is run
as uvicorn runs it (asyncio's own socket is not affected).
"""

from __future__ import annotations

import socket
from typing import Any

import uvicorn


class NoDelayConfig(uvicorn.Config):
    """uvicorn's Config whose shared listening socket has TCP_NODELAY."""

    def bind_socket(self) -> socket.socket:
        sock = super().bind_socket()
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock


def run(app: str, *, host: str, port: int, workers: int = 1, **options: Any) -> None:
    """``uvicorn.run(app, ...)`` for an import string (``"module:attr"``), with the fix above.

    ``options`` are uvicorn.Config's (factory, log_level, server_header, ...).
    """
    config = NoDelayConfig(app, host=host, port=port, workers=workers, **options)
    server = uvicorn.Server(config)
    if workers > 1:
        from uvicorn.supervisors import Multiprocess

        Multiprocess(config, sockets=[config.bind_socket()]).run()
    else:
        server.run()
