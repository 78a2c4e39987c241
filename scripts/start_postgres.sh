#!/usr/bin/env bash
# Start a private PostgreSQL server for Kota Twin and print its URL as the last line.
#
#   scripts/start_postgres.sh DIR [PORT]
#
# DIR holds everything: data/ (the cluster, created on first use), pg.log, the unix
# socket and the port file. PORT defaults to $PGPORT or 25432 (below Linux's ephemeral
# range 32768-60999, so no client socket in TIME_WAIT can hold it); the server listens on
# 127.0.0.1 only, with trust authentication (a development/test server, not a
# production one). Running it again on a running DIR just prints the URL.
# As root the server runs as the `postgres` user (initdb refuses root) via runuser.
#
# Environment: PGBIN (binaries folder; default: for an existing cluster
# /usr/lib/postgresql/<its PG_VERSION>/bin, else the newest /usr/lib/postgresql/*/bin
# with initdb, else PATH), KOTA_PG_DB (database to create; default twin),
# KOTA_PG_FAST=1 (fsync=off and friends: fast for tests, NOT crash-safe).
set -euo pipefail

die() { echo "start_postgres.sh: $*" >&2; exit 1; }

[ $# -ge 1 ] && [ $# -le 2 ] || die "usage: start_postgres.sh DIR [PORT]"
DIR=$1
PORT=${2:-${PGPORT:-25432}}
DB=${KOTA_PG_DB:-twin}
[[ $PORT =~ ^[0-9]+$ ]] && [ "$PORT" -ge 1 ] && [ "$PORT" -le 65535 ] || die "bad port '$PORT'"
[[ $DB =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "bad database name '$DB' (letters, digits, _)"

if [ -z "${PGBIN:-}" ] && [ -f "$DIR/data/PG_VERSION" ]; then
  # an existing cluster only runs under the server of its own major version
  VERSION_BIN=/usr/lib/postgresql/$(cat "$DIR/data/PG_VERSION")/bin
  if [ -x "$VERSION_BIN/initdb" ]; then PGBIN=$VERSION_BIN; fi
fi
if [ -z "${PGBIN:-}" ]; then
  # the newest server install; a client-only install has bin/ without initdb
  PGBIN=$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true)
  PGBIN=${PGBIN%/initdb}
  if [ -z "$PGBIN" ] && command -v initdb >/dev/null 2>&1; then
    PGBIN=$(dirname "$(command -v initdb)")
  fi
fi
for tool in initdb pg_ctl psql createdb; do
  [ -n "$PGBIN" ] && [ -x "$PGBIN/$tool" ] || die "PostgreSQL server binaries not found \
(looked for $tool in /usr/lib/postgresql/*/bin and on PATH). Install them with \
'apt-get install postgresql' (make test does this) or set PGBIN."
done

if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || die "running as root but there is no 'postgres' user \
(the Debian postgresql package creates it)"
  command -v runuser >/dev/null 2>&1 || die "running as root needs runuser (util-linux)"
  as_pg() { runuser -u postgres -- "$@"; }
else
  as_pg() { "$@"; }
fi

mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
if [ "$(id -u)" = 0 ]; then
  chown postgres: "$DIR"
  as_pg test -w "$DIR" -a -x "$DIR" || die "user postgres cannot write to $DIR \
(a parent folder is private?); use a folder under /tmp"
fi
DATA=$DIR/data

if [ ! -f "$DATA/PG_VERSION" ]; then
  if [ -e "$DATA" ] && [ -n "$(ls -A "$DATA" 2>/dev/null)" ]; then
    die "$DATA exists but is not a PostgreSQL cluster; refusing to touch it"
  fi
  as_pg "$PGBIN/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
    --no-instructions >"$DIR/initdb.log" 2>&1 || { cat "$DIR/initdb.log" >&2; die "initdb failed"; }
fi

if as_pg "$PGBIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
  RUNNING_PORT=$(cat "$DIR/port" 2>/dev/null || echo "")
  if [ -n "$RUNNING_PORT" ] && [ $# -ge 2 ] && [ "$RUNNING_PORT" != "$PORT" ]; then
    die "a server is already running in $DIR on port $RUNNING_PORT; stop it first"
  fi
  PORT=${RUNNING_PORT:-$PORT}
else
  OPTS="-c listen_addresses=127.0.0.1 -p $PORT -k '$DIR'"
  if [ "${KOTA_PG_FAST:-0}" = 1 ]; then
    OPTS="$OPTS -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  fi
  as_pg "$PGBIN/pg_ctl" -D "$DATA" -l "$DIR/pg.log" -w -t 60 -o "$OPTS" start >/dev/null \
    || {
      tail -n 20 "$DIR/pg.log" >&2 || true
      if grep -q "already in use" "$DIR/pg.log" 2>/dev/null; then
        die "port $PORT is taken (another server, or a closed connection still in TIME_WAIT \
if the port is in the ephemeral range); pick another PORT"
      fi
      die "the server did not start (log: $DIR/pg.log)"
    }
  echo "$PORT" >"$DIR/port"
fi

if ! as_pg "$PGBIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1; then
  as_pg "$PGBIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres "$DB"
fi
echo "postgresql+psycopg://postgres@127.0.0.1:$PORT/$DB"
