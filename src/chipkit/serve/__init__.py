"""chipkit serve: the district service (accounts, roles, a JSON API) over chipkit.cases.

    from chipkit.serve import create_app, ServeConfig
    app = create_app(ServeConfig(db="cases.sqlite", bundle=Path("verifier-bundle.json")))

Run it with ``chipkit serve`` or any ASGI server (uvicorn, gunicorn with uvicorn workers,
granian). Every process keeps its state in the database, so several processes against one
PostgreSQL database are one service. See docs/serve.md.
"""

from __future__ import annotations

from chipkit.serve.accounts import Accounts, User
from chipkit.serve.app import create_app
from chipkit.serve.config import ServeConfig
from chipkit.serve.pins import check_pin, issue_pins, slips_csv, slips_pdf
from chipkit.serve.store import open_database
from chipkit.serve.trust import load_verifier

__all__ = [
    "Accounts",
    "ServeConfig",
    "User",
    "check_pin",
    "create_app",
    "issue_pins",
    "load_verifier",
    "open_database",
    "slips_csv",
    "slips_pdf",
]
