#!/usr/bin/env bash
# Run the whole test suite (what `make test` and CI run). Starts a throwaway PostgreSQL
# server for the database tests when the machine has one.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
if [ -x scripts/pg_test_server.sh ] && [ -z "${CHIPKIT_TEST_PG_URL:-}" ]; then
  # shellcheck disable=SC1090
  eval "$(scripts/pg_test_server.sh start)" || echo "test: no PostgreSQL server; postgres tests will skip" >&2
  trap 'scripts/pg_test_server.sh stop "${CHIPKIT_TEST_PG_DIR:-}" >/dev/null 2>&1 || true' EXIT
fi
# As root with apt (CI, `make test`), setup.sh installed Chromium: a missing browser then
# fails the browser tests instead of skipping them.
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then export CHIPKIT_REQUIRE_BROWSER=1; fi
"$VENV/bin/ruff" check src cli tests benchmarks
"$VENV/bin/ruff" format --check src cli tests benchmarks   # one layout: a diff shows only what changed
"$VENV/bin/mypy"   # --strict on src/chipkit (settings in pyproject.toml)
"$VENV/bin/python" -m pytest -n 2 -q "$@"
