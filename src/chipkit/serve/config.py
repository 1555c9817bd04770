"""What a service instance needs to know: the database, the keys, where it is reached."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_MAX_UPLOAD = 20 * 1024 * 1024


@dataclass
class ServeConfig:
    """Settings of one service instance (every process of a deployment gets the same).

    ``db``: a SQLite file or a ``postgresql://`` URL (``$CHIPKIT_DB`` when unset).
    ``keys``: an issuing keyring directory (plates, chips and verification) or ``bundle``:
    a verifier bundle (verification only); ``verifier`` may be given already loaded.
    ``public_url``: the address users reach (``https://...`` makes cookies Secure and adds
    HSTS). ``trusted_proxies``: addresses whose ``X-Forwarded-For``/``-Proto`` are believed.
    ``data_dir``: where uploads and job outputs go. ``clock``: Unix seconds (tests fake it).
    ``sweep_secs``: how often the SLA sweep runs while the server runs (every process may
    sweep; a case changed by one is skipped by the other). ``threads``: request handler
    threads per process (the process's default thread limiter is set to it when the app
    starts); the database pool keeps as many connections open, so no request opens one.
    ``fast_paths``: answer ``POST /api/v1/verify`` in raw ASGI (the same rules, a third of
    the cost; off only to compare it with the FastAPI route).
    """

    db: str | os.PathLike[str] | None = None
    keys: Path | None = None
    bundle: Path | None = None
    verifier: Any = None
    public_url: str | None = None
    trusted_proxies: tuple[str, ...] = ()
    max_upload: int = DEFAULT_MAX_UPLOAD
    data_dir: Path | None = None
    clock: Callable[[], int] = field(default=lambda: int(time.time()))
    password_hasher: Any = None  # argon2.PasswordHasher; None: the Argon2id defaults
    pin_hasher: Any = None
    office: str | None = None  # verifier bundle pin (office fingerprint)
    sweep_secs: int = 60  # SLA timers and rating windows checked this often (0: never)
    threads: int = 16  # request handler threads per process; the database pool holds as many
    fast_paths: bool = True  # POST /api/v1/verify without the framework (chipkit.serve.fast)

    @property
    def https(self) -> bool:
        return bool(self.public_url and self.public_url.lower().startswith("https://"))
