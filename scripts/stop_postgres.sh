#!/usr/bin/env bash
# Stop the server that scripts/start_postgres.sh started in DIR (fast shutdown).
#
#   scripts/stop_postgres.sh DIR
#
# The data stays in DIR/data; start_postgres.sh DIR starts it again. Stopping a server
# that is not running is not an error.
set -euo pipefail

die() { echo "stop_postgres.sh: $*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: stop_postgres.sh DIR"
DATA=$1/data
[ -f "$DATA/PG_VERSION" ] || die "no PostgreSQL cluster in $DATA"

if [ -z "${PGBIN:-}" ]; then
  # the cluster's own major version first; else the newest server install (a
  # client-only install also has a bin/ folder, without pg_ctl)
  PGBIN=/usr/lib/postgresql/$(cat "$DATA/PG_VERSION")/bin
  if [ ! -x "$PGBIN/pg_ctl" ]; then
    PGBIN=$(ls -d /usr/lib/postgresql/*/bin/pg_ctl 2>/dev/null | sort -V | tail -n 1 || true)
    PGBIN=${PGBIN%/pg_ctl}
  fi
  if [ -z "$PGBIN" ] && command -v pg_ctl >/dev/null 2>&1; then
    PGBIN=$(dirname "$(command -v pg_ctl)")
  fi
fi
[ -n "$PGBIN" ] && [ -x "$PGBIN/pg_ctl" ] || die "pg_ctl not found (set PGBIN)"

if [ "$(id -u)" = 0 ]; then
  as_pg() { runuser -u postgres -- "$@"; }
else
  as_pg() { "$@"; }
fi

if as_pg "$PGBIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
  as_pg "$PGBIN/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null
  echo "stopped the server in $DATA"
else
  echo "no server running in $DATA"
fi
