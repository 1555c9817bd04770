#!/usr/bin/env bash
# The long fuzz run (issue 9, "Keep fuzzing"): every target of tests/fuzz/targets.py in its
# own process for SECONDS (default 300) or MAX_EXECS executions (default 1,000,000), then
# the figures (executions, crashes, hangs over 2 s, peak RSS) are written into
# docs/threat-model.md between the fuzz markers. Crash inputs go to fuzz-out/.
#   [JOBS=2] [ATHERIS_SECONDS=120] scripts/fuzz.sh [SECONDS] [MAX_EXECS] [TARGET...]
# JOBS: processes at once; ATHERIS_SECONDS: then a coverage-guided atheris run per target
# (pip install -e '.[fuzz]'), off by default.
# The short run is part of the test suite: pytest tests/fuzz.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
SECONDS_PER_TARGET="${1:-300}"
MAX_EXECS="${2:-1000000}"
shift $(( $# > 2 ? 2 : $# ))
if [ "${ATHERIS_SECONDS:-0}" != "0" ] && ! "$VENV/bin/python" -c "import atheris" 2>/dev/null; then
  "$VENV/bin/pip" install -q 'atheris>=2.3'   # the 'fuzz' extra of pyproject.toml
fi
exec "$VENV/bin/python" tests/fuzz/longrun.py all "$@" --seconds "$SECONDS_PER_TARGET" \
  --max-execs "$MAX_EXECS" --jobs "${JOBS:-1}" --atheris-seconds "${ATHERIS_SECONDS:-0}" \
  --out fuzz-out --write-docs
