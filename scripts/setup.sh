#!/usr/bin/env bash
# Set up chipkit on a fresh machine: system packages (when run as root with apt), then a
# virtual environment in .venv with chipkit and the given extras installed from pyproject.toml.
# Usage: scripts/setup.sh [EXTRAS]      e.g. scripts/setup.sh test
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
VENV="${VENV:-.venv}"
PYTHON="${PYTHON:-python3}"

# System packages: a CJK font for plates (fonts-wqy-microhei), the ZBar library that pyzbar
# needs (libzbar0), for the test suite a PostgreSQL server, poppler-utils (PDF checks) and
# Debian's headless browser for the pages' browser tests (chromium, chromium-driver), and for
# the service benchmark (benchmarks/serve.py; extras test or bench) the wrk load generator.
want=(fonts-wqy-microhei libzbar0)
if [ "$extras" = "test" ]; then want+=(postgresql poppler-utils chromium chromium-driver wrk); fi
if [ "$extras" = "bench" ]; then want+=(postgresql wrk); fi
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: please install these system packages (or pass --font to plates): ${missing[*]}" >&2
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
spec="."
[ -n "$extras" ] && spec=".[${extras}]"
"$VENV/bin/python" -m pip install -q -e "$spec" 2>&1 | grep -v "^WARNING: Location" || true
"$VENV/bin/python" -c "import chipkit, chipkit_cli" || { echo "setup: chipkit did not install" >&2; exit 1; }

# The pages' browser assets (docs/pages.md): npm packages from package-lock.json, built by
# esbuild into src/chipkit/serve/static/build (nothing is fetched at run time).
case ",$extras," in
  *,serve,*|*,test,*)
    if command -v npm >/dev/null; then
      npm ci --no-audit --no-fund --loglevel=error >/dev/null && npm run -s build \
        || { echo "setup: building the pages' assets failed (npm ci && npm run build)" >&2; exit 1; }
    else
      echo "setup: npm not found: the web pages need their assets built; install Node.js >= 18" \
        "and npm (Debian: apt-get install nodejs npm), then run: npm ci && npm run build" >&2
    fi
    ;;
esac
echo "setup: ready ($VENV/bin/chipkit)"
