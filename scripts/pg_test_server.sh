#!/usr/bin/env bash
# Start (or stop) a throwaway PostgreSQL cluster for the cases tests.
#
#   eval "$(scripts/pg_test_server.sh start)"   # exports CHIPKIT_TEST_PG_URL and CHIPKIT_TEST_PG_DIR
#   scripts/pg_test_server.sh stop "$CHIPKIT_TEST_PG_DIR"
#
# The cluster lives in a fresh temp directory, listens on 127.0.0.1 only, on a free port,
# with trust authentication for local connections (it is a test server: no secrets). As root,
# initdb/postgres refuse to run, so they run as the `postgres` user.
# Needs the PostgreSQL server binaries (Debian: apt-get install -y postgresql).
# Exit codes: 0 started/stopped, 3 no PostgreSQL binaries found, 1 anything else.
set -euo pipefail

find_bin() {
  local name=$1 d
  if [ -n "${PG_BINDIR:-}" ] && [ -x "$PG_BINDIR/$name" ]; then echo "$PG_BINDIR/$name"; return 0; fi
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/$name" ]; then echo "$d/$name"; return 0; fi
  done
  command -v "$name" 2>/dev/null && return 0
  return 1
}

as_owner() {
  # run a command as the cluster owner (postgres when we are root)
  if [ "$(id -u)" = 0 ]; then
    if command -v runuser >/dev/null 2>&1; then runuser -u postgres -- "$@"; else su postgres -s /bin/sh -c "$(printf '%q ' "$@")"; fi
  else
    "$@"
  fi
}

free_port() {
  python3 - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

cmd=${1:-start}
case "$cmd" in
  start)
    INITDB=$(find_bin initdb) || { echo "pg_test_server: no initdb found (install Debian's postgresql package)" >&2; exit 3; }
    PG_CTL=$(find_bin pg_ctl) || { echo "pg_test_server: no pg_ctl found" >&2; exit 3; }
    if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
      useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    fi
    DIR=$(mktemp -d /tmp/chipkit-pg.XXXXXX)
    chmod 755 "$DIR"
    [ "$(id -u)" = 0 ] && chown postgres "$DIR"
    PORT=$(free_port)
    as_owner "$INITDB" -D "$DIR/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 \
      || as_owner "$INITDB" -D "$DIR/data" -U postgres -A trust -E UTF8 --no-locale >"$DIR/initdb.log" 2>&1 \
      || { echo "pg_test_server: initdb failed, see $DIR/initdb.log" >&2; exit 1; }
    as_owner "$PG_CTL" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100" \
      start >/dev/null \
      || { echo "pg_test_server: server did not start, see $DIR/server.log" >&2; exit 1; }
    URL="postgresql://postgres@127.0.0.1:$PORT/postgres"
    echo "export CHIPKIT_TEST_PG_URL=$URL"
    echo "export CHIPKIT_TEST_PG_DIR=$DIR"
    ;;
  stop)
    DIR=${2:-${CHIPKIT_TEST_PG_DIR:-}}
    [ -n "$DIR" ] && [ -d "$DIR/data" ] || { echo "pg_test_server: usage: $0 stop DIR" >&2; exit 1; }
    PG_CTL=$(find_bin pg_ctl) || exit 3
    as_owner "$PG_CTL" -D "$DIR/data" -m fast -w stop >/dev/null || true
    rm -rf "$DIR"
    ;;
  *)
    echo "usage: $0 start | stop DIR" >&2; exit 1 ;;
esac
