# shellcheck shell=bash
# A PostgreSQL 15 primary and one physical streaming replica, for the read replica
# (DATABASE_READ_URL, README "Read replica"), the cluster stack (`./dev.sh up --cluster`) and the
# tests and chaos that stop the replica. Sourced after stack/common.sh and stack/postgres.sh,
# whose helpers it uses (pg_bindir, as_pg_owner, ensure_postgres_binaries, load_secrets); it is
# separate from the single-node cluster of stack/postgres.sh and never touches it.
#
#   primary  127.0.0.1:$PG_CLUSTER_PORT          data in $PG_CLUSTER_DIR/postgres-primary
#   replica  127.0.0.1:$PG_CLUSTER_PORT + 1      data in $PG_CLUSTER_DIR/postgres-replica
#
# The replica is made with `pg_basebackup -R` (no extension): it streams the primary's WAL over
# the primary's Unix socket as the cluster's superuser (peer login, so no replication password
# exists anywhere), through a physical replication slot, so a replica stopped for a while catches
# up from the WAL the primary kept for it instead of needing a new base backup. The application
# role and database exist on the replica because the replica is a copy of the whole cluster.
#
# Each member's folder holds data/, socket/ and postgres.log, as the single node's does; the pid is
# PostgreSQL's own postmaster.pid. $PG_CLUSTER_DIR is shared with the other clustered parts (Kafka's
# brokers live beside), so only the two members' folders (and the pointer file) are ours: nothing
# here changes or removes anything else in it. As root the servers run as the `postgres` OS user:
# when that user cannot reach $PG_CLUSTER_DIR (a clone in a private folder) the members live under
# its home instead, and the pointer file $PG_CLUSTER_DIR/postgres-dir says where.
#
# Settings: RSVP_TOPK_CLUSTER_PG_PORT (default 25532; the replica takes the next port) and
# RSVP_TOPK_CLUSTER_PG_DIR (default $LOCAL_DIR/cluster; tests give their own).

PG_CLUSTER_PORT="${RSVP_TOPK_CLUSTER_PG_PORT:-25532}"
PG_CLUSTER_REPLICA_PORT="$((PG_CLUSTER_PORT + 1))"
PG_CLUSTER_DIR="${RSVP_TOPK_CLUSTER_PG_DIR:-$LOCAL_DIR/cluster}"
PG_CLUSTER_SLOT="rsvp_topk_replica"
# How long `up` and `pg_replica_start` wait for a state before giving up (the machine may be busy).
PG_CLUSTER_WAIT_SECONDS="${RSVP_TOPK_CLUSTER_WAIT_SECONDS:-120}"

# Sets the members' paths from the pointer file (or the default under $PG_CLUSTER_DIR).
pg_cluster_paths() {
  local base="$PG_CLUSTER_DIR"
  [ -s "$PG_CLUSTER_DIR/postgres-dir" ] && base="$(head -n1 "$PG_CLUSTER_DIR/postgres-dir")"
  PGC_BASE="$base"
  PGC_PRIMARY_DIR="$base/postgres-primary"
  PGC_PRIMARY_DATA="$PGC_PRIMARY_DIR/data"
  PGC_PRIMARY_SOCKET="$PGC_PRIMARY_DIR/socket"
  PGC_PRIMARY_LOG="$PGC_PRIMARY_DIR/postgres.log"
  PGC_REPLICA_DIR="$base/postgres-replica"
  PGC_REPLICA_DATA="$PGC_REPLICA_DIR/data"
  PGC_REPLICA_SOCKET="$PGC_REPLICA_DIR/socket"
  PGC_REPLICA_LOG="$PGC_REPLICA_DIR/postgres.log"
}
pg_cluster_paths

# As root: decides (once per cluster folder) where the members live, reachable by the postgres
# user. Outside, the folder name is short: a Unix socket's path may not exceed 107 bytes.
pg_cluster_choose_dir() {
  mkdir -p "$PG_CLUSTER_DIR"
  if ! is_root; then
    mkdir -p "$PGC_PRIMARY_DIR" "$PGC_REPLICA_DIR"
    return 0
  fi
  [ -s "$PG_CLUSTER_DIR/postgres-dir" ] && { pg_cluster_paths; return 0; }
  id postgres >/dev/null 2>&1 || die "the 'postgres' OS user is missing (it comes with the postgresql-15 package)"
  mkdir -p "$PGC_PRIMARY_DIR" "$PGC_REPLICA_DIR"
  chown postgres:postgres "$PGC_PRIMARY_DIR" "$PGC_REPLICA_DIR"
  if ! as_pg_owner test -w "$PGC_PRIMARY_DIR" 2>/dev/null; then
    rmdir "$PGC_PRIMARY_DIR" "$PGC_REPLICA_DIR" 2>/dev/null || true
    local home outside
    home="$(getent passwd postgres | cut -d: -f6)"
    [ -n "$home" ] && [ -d "$home" ] || home=/var/lib/postgresql
    outside="$home/rsvp-topk-cluster/$(printf '%s' "$PG_CLUSTER_DIR" | sha256sum | cut -c1-12)"
    say "  pg-cluster the postgres OS user cannot reach $PG_CLUSTER_DIR; its data goes to $outside"
    mkdir -p "$outside"
    chown postgres:postgres "$(dirname "$outside")" "$outside"
    chmod 700 "$outside"
    echo "$outside" >"$PG_CLUSTER_DIR/postgres-dir"
  fi
  pg_cluster_paths
}

pg_cluster_running() { # DATA
  [ -f "$1/postmaster.pid" ] && as_pg_owner "$PG_BIN/pg_ctl" -D "$1" status >/dev/null 2>&1
}

# psql as the cluster's superuser over a member's socket: `pg_cluster_psql primary|replica [psql args]`.
# For operations and tests (pausing the replica's replay, reading pg_stat_replication).
pg_cluster_psql() {
  local member="$1" socket port
  shift
  PG_BIN="${PG_BIN:-$(pg_bindir)}" || die "PostgreSQL 15 is not installed"
  case "$member" in
    primary) socket="$PGC_PRIMARY_SOCKET" port="$PG_CLUSTER_PORT" ;;
    replica) socket="$PGC_REPLICA_SOCKET" port="$PG_CLUSTER_REPLICA_PORT" ;;
    *) die "pg_cluster_psql takes primary or replica, not '$member'" ;;
  esac
  as_pg_owner env PG_APP_PASSWORD="${PG_APP_PASSWORD:-}" "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 \
    -h "$socket" -p "$port" -U "$(pg_superuser)" -d postgres "$@"
}

# Whether the application role can run a query on a member over TCP.
pg_cluster_app_answers() { # PORT
  PGPASSWORD="$PG_APP_PASSWORD" PGCONNECT_TIMEOUT=5 "$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$1" \
    -U "$APP_DB_USER" -d "$APP_DB_NAME" -c 'SELECT 1' >/dev/null 2>&1
}

# Polls `command…` until it succeeds, for at most PG_CLUSTER_WAIT_SECONDS.
pg_cluster_wait() { # COMMAND…
  local deadline
  deadline=$(($(date +%s) + PG_CLUSTER_WAIT_SECONDS))
  until "$@"; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

pg_cluster_primary_up() {
  if pg_cluster_running "$PGC_PRIMARY_DATA"; then
    say "  pg-primary already running on 127.0.0.1:$PG_CLUSTER_PORT"
  else
    as_pg_owner mkdir -p "$PGC_PRIMARY_DIR" "$PGC_PRIMARY_SOCKET"
    if [ ! -s "$PGC_PRIMARY_DATA/PG_VERSION" ]; then
      as_pg_owner "$PG_BIN/initdb" -D "$PGC_PRIMARY_DATA" -U "$(pg_superuser)" --auth-local=peer \
        --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >"$PGC_PRIMARY_DIR/initdb.log" 2>&1 ||
        { tail -n 20 "$PGC_PRIMARY_DIR/initdb.log" >&2; die "initdb of the cluster's primary failed"; }
      # Smaller than the single node's (this machine runs both); the replica inherits this file.
      # The slot keeps WAL for a stopped replica, up to max_slot_wal_keep_size (then it needs a new
      # base backup: `pg_cluster_down`, remove its data, `pg_cluster_up`).
      as_pg_owner tee -a "$PGC_PRIMARY_DATA/postgresql.conf" >/dev/null <<EOF

# --- rsvp-topk local cluster (stack/postgres-cluster.sh) ---
listen_addresses = '127.0.0.1'
shared_buffers = 128MB
work_mem = 16MB
max_wal_size = 2GB
wal_compression = on
max_connections = 100
wal_level = replica
max_wal_senders = 5
max_replication_slots = 5
max_slot_wal_keep_size = 4GB
hot_standby = on
# The replica tells the primary which rows its queries still read, so replaying a vacuum does not
# cancel an API query (a cancelled one would be answered from the primary anyway).
hot_standby_feedback = on
EOF
    fi
    as_pg_owner "$PG_BIN/pg_ctl" -D "$PGC_PRIMARY_DATA" -l "$PGC_PRIMARY_LOG" -w -t 60 \
      -o "-p $PG_CLUSTER_PORT -k $PGC_PRIMARY_SOCKET" start >/dev/null ||
      { tail -n 30 "$PGC_PRIMARY_LOG" >&2; die "the cluster's primary did not start (log: $PGC_PRIMARY_LOG)"; }
    say "  pg-primary started on 127.0.0.1:$PG_CLUSTER_PORT"
  fi
  # Same role and database as the single node, made idempotently; the password comes from the
  # environment, never from the command line.
  pg_cluster_psql primary <<'SQL' >/dev/null || die "creating the application role and database on the primary failed"
SET client_min_messages = warning;
\getenv app_password PG_APP_PASSWORD
SELECT 'CREATE ROLE rsvp_topk LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rsvp_topk') \gexec
ALTER ROLE rsvp_topk WITH LOGIN NOSUPERUSER CREATEDB NOCREATEROLE PASSWORD :'app_password';
SELECT 'CREATE DATABASE rsvp_topk OWNER rsvp_topk' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'rsvp_topk') \gexec
GRANT pg_read_all_stats TO rsvp_topk;
SQL
  pg_cluster_wait pg_cluster_app_answers "$PG_CLUSTER_PORT" ||
    die "the cluster's primary does not accept the application role (log: $PGC_PRIMARY_LOG)"
}

pg_cluster_system_id() { # DATA
  as_pg_owner "$PG_BIN/pg_controldata" -D "$1" 2>/dev/null | sed -n 's/^Database system identifier: *//p'
}

# Makes the replica's data from the primary: a base backup that writes standby.signal and
# primary_conninfo (-R), streams the WAL written meanwhile (-X stream) and creates the slot (-C).
pg_cluster_base_backup() {
  say "  pg-replica base backup from the primary"
  as_pg_owner rm -rf "$PGC_REPLICA_DATA"
  as_pg_owner mkdir -p "$PGC_REPLICA_DIR" "$PGC_REPLICA_SOCKET"
  # A slot left by an earlier replica (its data was removed) would make -C fail; it is inactive.
  pg_cluster_psql primary -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
    WHERE slot_name = '$PG_CLUSTER_SLOT' AND NOT active" >/dev/null ||
    die "could not drop the old replication slot $PG_CLUSTER_SLOT"
  as_pg_owner "$PG_BIN/pg_basebackup" -h "$PGC_PRIMARY_SOCKET" -p "$PG_CLUSTER_PORT" -U "$(pg_superuser)" \
    -D "$PGC_REPLICA_DATA" -R -X stream -C -S "$PG_CLUSTER_SLOT" --checkpoint=fast \
    >"$PGC_REPLICA_DIR/basebackup.log" 2>&1 ||
    { tail -n 20 "$PGC_REPLICA_DIR/basebackup.log" >&2; die "pg_basebackup of the replica failed"; }
}

pg_cluster_replica_in_recovery() {
  [ "$(pg_cluster_psql replica -Atc 'SELECT pg_is_in_recovery()' 2>/dev/null)" = t ]
}
pg_cluster_replica_streaming() {
  [ "$(pg_cluster_psql replica -Atc 'SELECT status FROM pg_stat_wal_receiver' 2>/dev/null)" = streaming ]
}

# Starts the replica (making it first if it has no data, or data of another primary) and waits
# until it is in recovery, streaming from the primary, and the application role can query it.
# The primary must be running.
pg_replica_start() {
  ensure_postgres_binaries
  load_secrets
  pg_cluster_choose_dir
  pg_cluster_running "$PGC_PRIMARY_DATA" || die "the cluster's primary is not running (pg_cluster_up starts both)"
  if ! pg_cluster_running "$PGC_REPLICA_DATA"; then
    if [ ! -s "$PGC_REPLICA_DATA/PG_VERSION" ] ||
      [ "$(pg_cluster_system_id "$PGC_REPLICA_DATA")" != "$(pg_cluster_system_id "$PGC_PRIMARY_DATA")" ]; then
      pg_cluster_base_backup
    fi
    as_pg_owner mkdir -p "$PGC_REPLICA_SOCKET"
    as_pg_owner "$PG_BIN/pg_ctl" -D "$PGC_REPLICA_DATA" -l "$PGC_REPLICA_LOG" -w -t 60 \
      -o "-p $PG_CLUSTER_REPLICA_PORT -k $PGC_REPLICA_SOCKET" start >/dev/null ||
      { tail -n 30 "$PGC_REPLICA_LOG" >&2; die "the cluster's replica did not start (log: $PGC_REPLICA_LOG)"; }
    say "  pg-replica started on 127.0.0.1:$PG_CLUSTER_REPLICA_PORT"
  fi
  pg_cluster_wait pg_cluster_replica_in_recovery ||
    die "the replica on $PG_CLUSTER_REPLICA_PORT is not in recovery (log: $PGC_REPLICA_LOG)"
  pg_cluster_wait pg_cluster_replica_streaming ||
    die "the replica does not stream from the primary (log: $PGC_REPLICA_LOG)"
  pg_cluster_wait pg_cluster_app_answers "$PG_CLUSTER_REPLICA_PORT" ||
    die "the replica does not accept the application role (log: $PGC_REPLICA_LOG)"
}

# Stops only the replica (fast shutdown); the primary keeps its WAL in the slot until it returns.
pg_replica_stop() {
  PG_BIN="$(pg_bindir)" || return 0
  if pg_cluster_running "$PGC_REPLICA_DATA"; then
    say "  stopping pg-replica"
    as_pg_owner "$PG_BIN/pg_ctl" -D "$PGC_REPLICA_DATA" -m fast -w -t 60 stop >/dev/null ||
      die "the cluster's replica did not stop (log: $PGC_REPLICA_LOG)"
  fi
}

# Starts the primary and the replica (idempotent) and returns once both are really ready.
pg_cluster_up() {
  local started
  started="$(now)"
  ensure_postgres_binaries
  load_secrets
  pg_cluster_choose_dir
  pg_cluster_primary_up
  pg_replica_start
  say "  pg-cluster ready in $(elapsed "$started") s: primary 127.0.0.1:$PG_CLUSTER_PORT, replica 127.0.0.1:$PG_CLUSTER_REPLICA_PORT (streaming)"
}

# Stops the replica, then the primary (so the replica does not log a lost primary on the way out).
pg_cluster_down() {
  PG_BIN="$(pg_bindir)" || return 0
  pg_replica_stop
  if pg_cluster_running "$PGC_PRIMARY_DATA"; then
    say "  stopping pg-primary"
    as_pg_owner "$PG_BIN/pg_ctl" -D "$PGC_PRIMARY_DATA" -m fast -w -t 60 stop >/dev/null ||
      die "the cluster's primary did not stop (log: $PGC_PRIMARY_LOG)"
  fi
}

# Stops both and removes their data, wherever it lives; $PG_CLUSTER_DIR goes too once it is empty.
pg_cluster_purge() {
  pg_cluster_down
  if [ "$PGC_BASE" != "$PG_CLUSTER_DIR" ] && [ -d "$PGC_BASE" ]; then
    say "  removing pg-cluster data in $PGC_BASE"
    rm -rf "$PGC_BASE"
    rmdir "$(dirname "$PGC_BASE")" 2>/dev/null || true
  elif [ -d "$PGC_PRIMARY_DIR" ] || [ -d "$PGC_REPLICA_DIR" ]; then
    say "  removing pg-cluster data in $PGC_PRIMARY_DIR and $PGC_REPLICA_DIR"
    rm -rf "$PGC_PRIMARY_DIR" "$PGC_REPLICA_DIR"
  fi
  rm -f "$PG_CLUSTER_DIR/postgres-dir"
  rmdir "$PG_CLUSTER_DIR" 2>/dev/null || true
  pg_cluster_paths
}

pg_cluster_status() {
  PG_BIN="$(pg_bindir)" || { echo "pg-cluster not installed"; return 0; }
  if pg_cluster_running "$PGC_PRIMARY_DATA"; then
    echo "pg-primary up    pid $(head -n1 "$PGC_PRIMARY_DATA/postmaster.pid")  127.0.0.1:$PG_CLUSTER_PORT  log $PGC_PRIMARY_LOG"
  else
    echo "pg-primary down"
  fi
  if pg_cluster_running "$PGC_REPLICA_DATA"; then
    local receiver
    receiver="$(pg_cluster_psql replica -Atc "SELECT coalesce((SELECT status FROM pg_stat_wal_receiver), 'not streaming')
      || ', replayed ' || coalesce(pg_last_wal_replay_lsn()::text, '?')" 2>/dev/null || echo '?')"
    echo "pg-replica up    pid $(head -n1 "$PGC_REPLICA_DATA/postmaster.pid")  127.0.0.1:$PG_CLUSTER_REPLICA_PORT  $receiver  log $PGC_REPLICA_LOG"
  else
    echo "pg-replica down"
  fi
}

# Export lines for the service: writes and LISTEN go to the primary, the API's reads to the replica.
pg_cluster_env() {
  load_secrets
  cat <<EOF
export DATABASE_URL='postgres://$APP_DB_USER:$PG_APP_PASSWORD@127.0.0.1:$PG_CLUSTER_PORT/$APP_DB_NAME'
export DATABASE_READ_URL='postgres://$APP_DB_USER:$PG_APP_PASSWORD@127.0.0.1:$PG_CLUSTER_REPLICA_PORT/$APP_DB_NAME'
EOF
}
