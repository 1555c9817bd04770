"""A minimal HTTP/1.1 keep-alive client on asyncio streams, for the stateful workflow phase
(each step needs the previous answer: wrk's Lua cannot carry it across requests).

httpx spends ~3 ms of client CPU per request on this machine and capped the old benchmark
near 300 req/s; this client does only what the workflow needs (JSON bodies, headers,
Content-Length responses) and costs a fraction of that.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any


class Conn:
    """One keep-alive connection to host:port (reconnects when the server closed it)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.r: asyncio.StreamReader | None = None
        self.w: asyncio.StreamWriter | None = None

    async def _open(self) -> None:
        self.r, self.w = await asyncio.open_connection(self.host, self.port)

    async def close(self) -> None:
        if self.w is not None:
            self.w.close()
            self.r = self.w = None

    async def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        """A JSON request: (status, parsed JSON body or None)."""
        data = b"" if body is None else json.dumps(body).encode()
        hs = dict(headers or {})
        if body is not None:
            hs["Content-Type"] = "application/json"
        return await self.raw(method, path, data, hs)

    async def raw(
        self, method: str, path: str, data: bytes, headers: dict[str, str]
    ) -> tuple[int, Any]:
        """Any body: (status, parsed JSON body or None)."""
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        head.append(f"Content-Length: {len(data)}")
        raw = ("\r\n".join(head) + "\r\n\r\n").encode() + data
        for attempt in (0, 1):
            if self.w is None:
                await self._open()
            assert self.r is not None and self.w is not None
            try:
                self.w.write(raw)
                await self.w.drain()
                line = await self.r.readuntil(b"\r\n\r\n")
                break
            except (ConnectionError, asyncio.IncompleteReadError):
                await self.close()
                if attempt:
                    raise
        lines = line.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        hdrs = {}
        for h in lines[1:]:
            k, _, v = h.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        payload = await self.r.readexactly(int(hdrs.get("content-length", "0")))
        if hdrs.get("connection", "").lower() == "close":
            await self.close()
        ctype = hdrs.get("content-type", "")
        return status, json.loads(payload) if payload and "json" in ctype else None
