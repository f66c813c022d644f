#!/usr/bin/env bash
# A throwaway PostgreSQL server for the verification tests (tests/verification/), which run every
# test against SQLite and against the PostgreSQL that SASARAN_TEST_DATABASE_URL names.
#
#   eval "$(bash scripts/ci-postgres.sh start)"   # prints the export lines; the server runs on
#   ...                                           # a free loopback port, its files in a temp dir
#   bash scripts/ci-postgres.sh stop              # stops it and removes the directory
#
# Debian's `postgresql` package is installed when missing (needs root and apt-get). The cluster is
# made with initdb and started with pg_ctl as the `postgres` user, so it needs no system service and
# never touches another cluster. Where PostgreSQL cannot be had, nothing is exported and the
# PostgreSQL variants of the tests skip with a visible reason. `--durable` keeps fsync on (the
# benchmarks); the default turns it off, as a test cluster thrown away after the run may.
set -euo pipefail

say() { echo "ci-postgres: $*" >&2; }

pg_bin() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

install_postgres() {
  [ -n "$(pg_bin)" ] && return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    say "PostgreSQL is not installed and cannot be (not root or no apt-get)"
    return 1
  fi
  say "installing postgresql"
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq postgresql >/dev/null; } || return 1
  [ -n "$(pg_bin)" ]
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

as_postgres() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

start() {
  local durable=0
  [ "${1:-}" = "--durable" ] && durable=1
  if ! install_postgres; then
    say "WARNING: no PostgreSQL; the PostgreSQL variants of the verification tests will skip"
    return 0
  fi
  local bin dir port options
  bin="$(pg_bin)"
  dir="$(mktemp -d "${TMPDIR:-/tmp}/sasaran-pg.XXXXXX")"
  chmod 755 "$dir"
  [ "$(id -u)" = 0 ] && chown postgres: "$dir"
  port="$(free_port)"
  as_postgres "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log"
  options="-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200"
  if [ "$durable" = 0 ]; then
    options="$options -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  fi
  as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -o "$options" -w -t 60 start >&2
  as_postgres "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres sasaran_test
  say "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port ($dir)"
  echo "export SASARAN_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:$port/sasaran_test"
  echo "export SASARAN_TEST_PG_DIR=$dir"
}

stop() {
  local dir="${SASARAN_TEST_PG_DIR:-${1:-}}"
  [ -n "$dir" ] && [ -d "$dir/data" ] || return 0
  as_postgres "$(pg_bin)/pg_ctl" -D "$dir/data" -m fast -w stop >&2 || true
  rm -rf "$dir"
}

case "${1:-}" in
  start) shift; start "$@" ;;
  stop) shift; stop "$@" ;;
  *) echo "usage: $0 start [--durable] | stop [DIR]" >&2; exit 2 ;;
esac
