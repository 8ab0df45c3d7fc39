# shellcheck shell=bash
# PostgreSQL 15 from Debian's packages: a cluster of our own, TCP on loopback, a Unix socket only
# in our own folder (for the superuser's peer login), and an application role that is not a
# superuser. As root the cluster belongs to the 'postgres' OS user, as initdb requires.
#
# The cluster lives in $LOCAL_DIR/postgres when its owner can reach it. A clone in a private
# folder (under /root, in a `mktemp -d` folder) is out of the postgres user's reach: its cluster
# then lives in that user's home, in a folder named after the clone's path. A pointer file in
# $LOCAL_DIR remembers where, so status, down and `down --purge` find it again.

PG_POINTER_FILE="$LOCAL_DIR/postgres-dir"

# Sets PG_DIR and the paths under it from the pointer file (or the default in $LOCAL_DIR).
pg_paths() {
  PG_DIR="$LOCAL_DIR/postgres"
  [ -s "$PG_POINTER_FILE" ] && PG_DIR="$(head -n1 "$PG_POINTER_FILE")"
  PG_DATA="$PG_DIR/data"
  PG_SOCKET_DIR="$PG_DIR/socket"
  PG_LOG="$PG_DIR/postgres.log"
}
pg_paths

# Where a clone at $ROOT_DIR keeps its cluster when the postgres user cannot reach $LOCAL_DIR:
# <postgres home>/rsvp-topk/<the clone's path, slashes as dashes>-<8 hex of its hash>.
pg_outside_dir() {
  local home slug hash
  home="$(getent passwd postgres | cut -d: -f6)"
  [ -n "$home" ] && [ -d "$home" ] || home=/var/lib/postgresql
  slug="$(printf '%s' "$LOCAL_DIR" | tr -c 'A-Za-z0-9._\n' '-' | sed 's/^-*//' | cut -c1-80)"
  hash="$(printf '%s' "$LOCAL_DIR" | sha256sum | cut -c1-8)"
  echo "$home/rsvp-topk/$slug-$hash"
}

# As root: decides (once per clone) where the cluster lives, and makes the folder its owner's.
pg_choose_dir() {
  is_root || return 0
  [ -s "$PG_POINTER_FILE" ] && return 0
  mkdir -p "$LOCAL_DIR/postgres"
  chown postgres:postgres "$LOCAL_DIR/postgres"
  if ! as_pg_owner test -w "$LOCAL_DIR/postgres" 2>/dev/null; then
    rmdir "$LOCAL_DIR/postgres" 2>/dev/null || true
    local outside
    outside="$(pg_outside_dir)"
    say "  postgres   the postgres OS user cannot reach $LOCAL_DIR; its data goes to $outside"
    mkdir -p "$outside"
    chown postgres:postgres "$(dirname "$outside")" "$outside"
    chmod 700 "$outside"
    echo "$outside" >"$PG_POINTER_FILE"
  fi
  pg_paths
}

pg_bindir() {
  local dir
  for dir in "${RSVP_TOPK_PG_BINDIR:-}" /usr/lib/postgresql/15/bin; do
    [ -n "$dir" ] && [ -x "$dir/pg_ctl" ] && { echo "$dir"; return 0; }
  done
  if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/pg_ctl" ]; then
    pg_config --bindir
    return 0
  fi
  return 1
}

ensure_postgres_binaries() {
  if ! PG_BIN="$(pg_bindir)"; then
    if is_root && command -v apt-get >/dev/null 2>&1; then
      ensure_command /usr/lib/postgresql/15/bin/pg_ctl postgresql-15
    else
      die "PostgreSQL 15 is missing: install the Debian package 'postgresql-15' (or set RSVP_TOPK_PG_BINDIR)"
    fi
    PG_BIN="$(pg_bindir)" || die "PostgreSQL 15 was installed but pg_ctl was not found"
  fi
  ensure_command psql postgresql-client-15
}

# Runs a PostgreSQL program as the cluster's owner (from /: the caller's folder may be private).
as_pg_owner() {
  if is_root; then
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

pg_superuser() { if is_root; then echo postgres; else id -un; fi; }

pg_running() { [ -f "$PG_DATA/postmaster.pid" ] && as_pg_owner "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; }

pg_admin_psql() {
  as_pg_owner env PG_APP_PASSWORD="$PG_APP_PASSWORD" psql -X -q -v ON_ERROR_STOP=1 \
    -h "$PG_SOCKET_DIR" -p "$PG_PORT" -U "$(pg_superuser)" -d postgres "$@"
}

postgres_up() {
  ensure_postgres_binaries
  load_secrets
  if pg_running; then
    say "  postgres   already running on 127.0.0.1:$PG_PORT"
    return 0
  fi
  local started
  started="$(now)"
  if is_root; then
    id postgres >/dev/null 2>&1 || die "the 'postgres' OS user is missing (it comes with the postgresql-15 package)"
    pg_choose_dir
    mkdir -p "$PG_DIR"
    chown postgres:postgres "$PG_DIR"
    as_pg_owner test -w "$PG_DIR" || die "the postgres OS user cannot write $PG_DIR"
  else
    mkdir -p "$PG_DIR"
  fi
  as_pg_owner mkdir -p "$PG_SOCKET_DIR"
  if [ ! -s "$PG_DATA/PG_VERSION" ]; then
    as_pg_owner "$PG_BIN/initdb" -D "$PG_DATA" -U "$(pg_superuser)" --auth-local=peer --auth-host=scram-sha-256 \
      --encoding=UTF8 --locale=C.UTF-8 >"$PG_DIR/initdb.log" 2>&1 ||
      { tail -n 20 "$PG_DIR/initdb.log" >&2; die "initdb failed"; }
    # Tuned for a small shared machine that ingests in large batches; durability stays on.
    as_pg_owner tee -a "$PG_DATA/postgresql.conf" >/dev/null <<EOF

# --- rsvp-topk local stack ---
listen_addresses = '127.0.0.1'
shared_buffers = 512MB
work_mem = 32MB
maintenance_work_mem = 256MB
max_wal_size = 4GB
checkpoint_timeout = 15min
wal_compression = on
max_connections = 100
EOF
  fi
  # Per-statement figures for the benchmarks (BENCHMARKS.md); added to clusters made before it.
  if ! as_pg_owner grep -q '^shared_preload_libraries' "$PG_DATA/postgresql.conf"; then
    as_pg_owner tee -a "$PG_DATA/postgresql.conf" >/dev/null <<EOF
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = top
EOF
  fi
  as_pg_owner "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 60 \
    -o "-p $PG_PORT -k $PG_SOCKET_DIR" start >/dev/null ||
    { tail -n 30 "$PG_LOG" >&2; die "PostgreSQL did not start (log: $PG_LOG)"; }
  # The app role and database are (re)made idempotently; the password comes from the environment,
  # never from the command line.
  pg_admin_psql <<'SQL' || die "creating the application role and database failed"
\getenv app_password PG_APP_PASSWORD
SELECT 'CREATE ROLE rsvp_topk LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rsvp_topk') \gexec
ALTER ROLE rsvp_topk WITH LOGIN NOSUPERUSER CREATEDB NOCREATEROLE PASSWORD :'app_password';
SELECT 'CREATE DATABASE rsvp_topk OWNER rsvp_topk' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'rsvp_topk') \gexec
GRANT pg_read_all_stats TO rsvp_topk;
\connect rsvp_topk
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
SQL
  # Ready means the application role can log in over TCP and run a query.
  for _ in $(seq 1 100); do
    PGPASSWORD="$PG_APP_PASSWORD" psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U "$APP_DB_USER" -d "$APP_DB_NAME" \
      -c 'SELECT 1' >/dev/null 2>&1 && break
    sleep 0.1
  done
  PGPASSWORD="$PG_APP_PASSWORD" psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U "$APP_DB_USER" -d "$APP_DB_NAME" \
    -c 'SELECT 1' >/dev/null || die "PostgreSQL does not accept the application role"
  say "  postgres   started on 127.0.0.1:$PG_PORT in $(elapsed "$started") s"
}

postgres_down() {
  PG_BIN="$(pg_bindir)" || return 0
  if pg_running; then
    say "  stopping postgres"
    as_pg_owner "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >/dev/null ||
      die "PostgreSQL did not stop (log: $PG_LOG)"
  fi
}

# Removes the cluster's data (PostgreSQL must be stopped), wherever it lives, and the pointer to it.
postgres_purge() {
  if [ -d "$PG_DIR" ]; then
    say "  removing postgres data in $PG_DIR"
    rm -rf "$PG_DIR"
  fi
  rm -f "$PG_POINTER_FILE"
  pg_paths
}

postgres_status() {
  PG_BIN="$(pg_bindir)" || { echo "postgres   not installed"; return 0; }
  if pg_running; then
    echo "postgres   up    pid $(head -n1 "$PG_DATA/postmaster.pid")  127.0.0.1:$PG_PORT  log $PG_LOG"
  else
    echo "postgres   down"
  fi
}
