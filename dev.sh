#!/usr/bin/env bash
# rsvp-topk developer entry point: the local stack, the tests and the demo.
# Run `./dev.sh help` for the commands.
set -euo pipefail

# shellcheck source=stack/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/stack/common.sh"
# shellcheck source=stack/node.sh
. "$ROOT_DIR/stack/node.sh"
# shellcheck source=stack/kafka.sh
. "$ROOT_DIR/stack/kafka.sh"
# shellcheck source=stack/kafka-cluster.sh
. "$ROOT_DIR/stack/kafka-cluster.sh"
# shellcheck source=stack/postgres.sh
. "$ROOT_DIR/stack/postgres.sh"
# shellcheck source=stack/postgres-cluster.sh
. "$ROOT_DIR/stack/postgres-cluster.sh"
# shellcheck source=stack/redis.sh
. "$ROOT_DIR/stack/redis.sh"
# shellcheck source=stack/redis-cluster.sh
. "$ROOT_DIR/stack/redis-cluster.sh"
# shellcheck source=stack/python.sh
. "$ROOT_DIR/stack/python.sh"
# shellcheck source=stack/chromium.sh
. "$ROOT_DIR/stack/chromium.sh"
# shellcheck source=stack/prometheus.sh
. "$ROOT_DIR/stack/prometheus.sh"

usage() {
  cat <<EOF
Usage: ./dev.sh COMMAND

  demo [--once]
            the main job: bring the stack up, run the service on a generated RSVP stream and
            print the live top 10 until Ctrl-C; --once exits 0 when the top 10 matches the stream.
            Stops what it started. (./dev.sh demo --help for its options)
  bench [--quick]
            the benchmark suite: ingest, raw Kafka and COPY limits, freshness, top-k latency;
            prints a table and writes bench/results/latest.json (see BENCHMARKS.md)
  chaos [--quick] [--only NAME…]
            the chaos suite: real service processes under faults (SIGKILLs, PostgreSQL, Kafka
            and Redis stopped, hostile messages), each checked against the counting contract;
            prints a table (./dev.sh chaos --help for the scenarios)
  chaos --cluster [--quick] [--only NAME…]
            the clustered stack's chaos scenarios against what 'up --cluster' started, which
            must be up: kafka-broker-kill, pg-replica-stop, redis-master-kill,
            ingest-rolling-restart (each checked exact against the contract)
  test      install what is missing, bring the stack up if needed, type-check, lint and run every
            test (unit and integration); leaves the stack as it found it
  up [COMPONENT…]
            start Kafka $KAFKA_VERSION, PostgreSQL 15 and three Redis 7 nodes on 127.0.0.1
            (idempotent; installs what is missing); COMPONENT is kafka, postgres or redis, or
            prometheus: optional, never started unless named, it scrapes the service and
            evaluates ops/alerts.yml (ops/README.md)
  up --cluster
            the clustered stack instead (not used by demo or test): three Kafka brokers, each also
            a voter of the controller quorum, then a PostgreSQL primary+replica and a Redis
            Cluster when stack/postgres-cluster.sh and stack/redis-cluster.sh provide them
            (idempotent; waits until a topic with 3 replicas has all 3 in sync)
  down --cluster [--purge]
            stop exactly what 'up --cluster' started; --purge also removes the cluster's data
  down [--purge] [COMPONENT…]
            stop exactly the processes 'up' started (by their pid files); --purge also removes
            their data (PostgreSQL's cluster wherever it lives, Kafka's logs, Redis's folders,
            Prometheus's TSDB); without COMPONENT also stops prometheus if it runs
  status    show what runs, with pids, ports and log files (the clustered stack's parts too, once
            it was brought up here)
  logs [kafka|postgres|redis|prometheus]
            print the last lines of the stack's logs
  env       print export lines for the service:  eval "\$(./dev.sh env)"
  env --cluster
            the same for the clustered stack: its KAFKA_BROKERS (all three), DATABASE_URL and
            DATABASE_READ_URL, REDIS_CLUSTER, the rest as for the single node
  help      this text

Ports (each can be moved with the variable in brackets):
  Kafka 127.0.0.1:$KAFKA_PORT [RSVP_TOPK_KAFKA_PORT], controller $KAFKA_CONTROLLER_PORT [RSVP_TOPK_KAFKA_CONTROLLER_PORT]
  Kafka cluster (--cluster) 127.0.0.1:${KAFKA_CLUSTER_PORTS[*]} [RSVP_TOPK_CLUSTER_KAFKA_PORTS],
    controllers ${KAFKA_CLUSTER_CONTROLLER_PORTS[*]} [RSVP_TOPK_CLUSTER_KAFKA_CONTROLLER_PORTS]
  PostgreSQL 127.0.0.1:$PG_PORT [RSVP_TOPK_PG_PORT]
  Redis 127.0.0.1:${REDIS_PORTS[*]} [RSVP_TOPK_REDIS_PORTS, space-separated]
  Redis Cluster (--cluster) 127.0.0.1:${REDIS_CLUSTER_PORTS[*]}, bus port + 10000 [RSVP_TOPK_CLUSTER_REDIS_PORTS]
  HTTP API 127.0.0.1:$HTTP_PORT_DEFAULT [RSVP_TOPK_HTTP_PORT]
  Prometheus (optional) 127.0.0.1:$PROMETHEUS_PORT [RSVP_TOPK_PROMETHEUS_PORT]
Data, logs, pid files and generated passwords live in $LOCAL_DIR (git-ignored).
EOF
}

kafka_is_up() { pid_alive "$KAFKA_PID_FILE"; }
postgres_is_up() { PG_BIN="$(pg_bindir 2>/dev/null)" && pg_running; }
redis_is_up() {
  local port
  for port in "${REDIS_PORTS[@]}"; do pid_alive "$(redis_pid_file "$port")" || return 1; done
}

# `up` and `down` take component names (kafka, postgres, redis, prometheus); none means the
# stack's three (prometheus is optional: `up` starts it only when named).
components() {
  local component
  [ $# -eq 0 ] && set -- postgres redis kafka
  for component in "$@"; do
    case "$component" in
      kafka | postgres | redis | prometheus) echo "$component" ;;
      *) die "unknown component '$component' (kafka, postgres, redis or prometheus)" ;;
    esac
  done
}

cmd_up() {
  local started list component
  [ "${1:-}" = --cluster ] && { shift; cmd_up_cluster "$@"; return; }
  started="$(now)"
  list="$(components "$@")"
  say "bringing the local stack up (data in $LOCAL_DIR)"
  ensure_deps
  for component in $list; do "${component}_up"; done
  say "stack up in $(elapsed "$started") s; run: eval \"\$(./dev.sh env)\""
}

cmd_down() {
  local list component purge=0
  [[ " $* " == *" --cluster "* ]] && { cmd_down_cluster "$@"; return; }
  if [ "${1:-}" = --purge ]; then
    purge=1
    shift
  fi
  # A plain `down` stops an optional Prometheus too: nothing would be left for it to scrape.
  [ $# -eq 0 ] && set -- postgres redis kafka prometheus
  list="$(components "$@")"
  say "stopping the local stack"
  for component in prometheus kafka redis postgres; do
    grep -qx "$component" <<<"$list" && "${component}_down"
  done
  if [ "$purge" = 1 ]; then
    grep -qx kafka <<<"$list" && { say "  removing kafka data in $KAFKA_DATA"; rm -rf "$KAFKA_DATA"; }
    grep -qx redis <<<"$list" && { say "  removing redis data in $REDIS_DIR"; rm -rf "$REDIS_DIR"; }
    grep -qx postgres <<<"$list" && postgres_purge
    grep -qx prometheus <<<"$list" && { say "  removing prometheus data in $PROMETHEUS_DIR"; rm -rf "$PROMETHEUS_DIR"; }
  fi
  return 0
}

cmd_status() {
  kafka_status
  postgres_status
  redis_status
  prometheus_status
  if kafka_cluster_present; then
    kafka_cluster_status
    if declare -F pg_cluster_status >/dev/null; then pg_cluster_status; fi
    if declare -F redis_cluster_status >/dev/null; then redis_cluster_status; fi
  fi
}

# The clustered stack (`up --cluster`): Kafka's three brokers always, PostgreSQL's primary+replica
# and the Redis Cluster when their scripts define them. Printed in start order.
cluster_parts() {
  echo kafka_cluster
  if declare -F pg_cluster_up >/dev/null; then echo pg_cluster; fi
  if declare -F redis_cluster_up >/dev/null; then echo redis_cluster; fi
}

cmd_up_cluster() {
  [ $# -eq 0 ] || die "up --cluster takes no component"
  local started part
  started="$(now)"
  say "bringing the clustered stack up (data in $LOCAL_DIR/cluster)"
  ensure_deps
  for part in $(cluster_parts); do "${part}_up"; done
  say "clustered stack up in $(elapsed "$started") s; run: eval \"\$(./dev.sh env --cluster)\""
}

# Stops what `up --cluster` starts, in the reverse order; --purge then removes its data.
cmd_down_cluster() {
  local arg part purge=0
  for arg in "$@"; do
    case "$arg" in
      --cluster) ;;
      --purge) purge=1 ;;
      *) die "down --cluster takes --purge only, not '$arg'" ;;
    esac
  done
  say "stopping the clustered stack"
  for part in $(cluster_parts | tac); do "${part}_down"; done
  if [ "$purge" = 1 ]; then
    for part in $(cluster_parts | tac); do "${part}_purge"; done
  fi
  return 0
}

cmd_logs() {
  local which="${1:-all}" port
  case "$which" in
    kafka | all) [ -f "$KAFKA_LOG" ] && { echo "== kafka ($KAFKA_LOG)"; tail -n 40 "$KAFKA_LOG"; } ;;&
    postgres | all) [ -f "$PG_LOG" ] && { echo "== postgres ($PG_LOG)"; tail -n 40 "$PG_LOG"; } ;;&
    redis | all)
      for port in "${REDIS_PORTS[@]}"; do
        [ -f "$(redis_node_dir "$port")/redis.log" ] &&
          { echo "== redis $port"; tail -n 20 "$(redis_node_dir "$port")/redis.log"; }
      done
      ;;&
    prometheus | all)
      [ -f "$PROMETHEUS_LOG" ] && { echo "== prometheus ($PROMETHEUS_LOG)"; tail -n 40 "$PROMETHEUS_LOG"; }
      ;;
    kafka | postgres | redis) ;;
    *) die "logs takes kafka, postgres, redis or prometheus, not '$which'" ;;
  esac
  return 0
}

print_env() {
  load_secrets
  local ring="" port
  for port in "${REDIS_PORTS[@]}"; do
    ring="${ring:+$ring,}redis://$APP_REDIS_USER:$REDIS_APP_PASSWORD@127.0.0.1:$port"
  done
  cat <<EOF
export KAFKA_BROKERS='127.0.0.1:$KAFKA_PORT'
export KAFKA_TOPIC='${KAFKA_TOPIC:-rsvps}'
export KAFKA_GROUP_ID='${KAFKA_GROUP_ID:-rsvp-topk}'
export DATABASE_URL='postgres://$APP_DB_USER:$PG_APP_PASSWORD@127.0.0.1:$PG_PORT/$APP_DB_NAME'
export REDIS_RING='$ring'
export HTTP_PORT='$HTTP_PORT_DEFAULT'
EOF
  if [ -x "$NODE_HOME/bin/node" ]; then
    echo "export PATH='$NODE_HOME/bin':\"\$PATH\""
  fi
}

cmd_env() {
  [ -s "$SECRETS_FILE" ] || say "note: the stack has never been brought up here; run ./dev.sh up first"
  if [ "${1:-}" = --cluster ]; then print_cluster_env; else print_env; fi
}

# The service's settings for the clustered stack: the lines of its parts (which may also unset a
# variable, as REDIS_RING for REDIS_CLUSTER) replace those of the single node; the rest (topic,
# group, HTTP port) stays, and the PATH line comes last.
print_cluster_env() {
  local cluster names line name
  cluster="$(kafka_cluster_env)"
  if declare -F pg_cluster_env >/dev/null; then cluster+=$'\n'"$(pg_cluster_env)"; fi
  if declare -F redis_cluster_env >/dev/null; then cluster+=$'\n'"$(redis_cluster_env)"; fi
  names=" $(sed -nE -e 's/^export ([A-Za-z_][A-Za-z0-9_]*)=.*/\1/p' -e 's/^unset (.*)/\1/p' <<<"$cluster" | tr '\n' ' ') "
  while IFS= read -r line; do
    name="$(sed -nE 's/^export ([A-Za-z_][A-Za-z0-9_]*)=.*/\1/p' <<<"$line")"
    [ "$name" = PATH ] && continue
    [ -n "$name" ] && [[ "$names" == *" $name "* ]] && continue
    echo "$line"
  done <<<"$(print_env)"
  echo "$cluster"
  print_env | grep '^export PATH=' || true
}

cmd_test() {
  local started failures=0
  started="$(now)"
  ensure_deps
  up_for_this_run
  eval "$(print_env)"
  # The record-shape tests write with the Java client from the broker's own jars.
  ensure_jdk
  export RSVP_TOPK_KAFKA_LIBS="$KAFKA_LIBS"
  export_redis_admin
  # schemathesis checks the API against its own OpenAPI document.
  ensure_python_tools
  export RSVP_TOPK_SCHEMATHESIS="$VENV_DIR/bin/st"
  # The live page is tested in a real browser (sets RSVP_TOPK_CHROMIUM).
  ensure_chromium
  # promtool checks and unit-tests ops/alerts.yml (exports RSVP_TOPK_PROMTOOL).
  ensure_promtool
  cd "$ROOT_DIR"
  say "== type-check (tsc)"
  npm run -s typecheck || failures=$((failures + 1))
  say "== lint (biome)"
  npm run -s lint || failures=$((failures + 1))
  say "== tests (node:test, unit then integration)"
  node --test --test-reporter=spec --test-concurrency=1 --test-timeout=600000 \
    'test/unit/**/*.test.ts' 'test/integration/**/*.test.ts' || failures=$((failures + 1))
  say "dev.sh test: $failures failing stage(s) in $(elapsed "$started") s"
  [ "$failures" -eq 0 ]
}

# Starts the parts of the stack that are down, and on exit stops only those.
up_for_this_run() {
  local start_kafka=0 start_postgres=0 start_redis=0
  kafka_is_up || start_kafka=1
  postgres_is_up || start_postgres=1
  redis_is_up || start_redis=1
  if [ $((start_kafka + start_postgres + start_redis)) -gt 0 ]; then
    trap 'restore_stack '"$start_kafka $start_postgres $start_redis" EXIT
    cmd_up
  fi
}

restore_stack() {
  local status=$?
  say "stopping the parts of the stack this run started"
  [ "$1" = 1 ] && kafka_down
  [ "$3" = 1 ] && redis_down
  [ "$2" = 1 ] && postgres_down
  exit "$status"
}

cmd_demo() {
  ensure_deps
  up_for_this_run
  eval "$(print_env)"
  cd "$ROOT_DIR"
  node scripts/demo.ts "$@"
}

# Tests and the chaos suite stop Redis nodes and look at keys the service may not touch; the bench
# suite reads the Redis version (INFO), which the service's user may not either.
export_redis_admin() {
  load_secrets
  export RSVP_TOPK_REDIS_ADMIN_USER="$ADMIN_REDIS_USER" RSVP_TOPK_REDIS_ADMIN_PASSWORD="$REDIS_ADMIN_PASSWORD"
}

cmd_chaos() {
  [ "${1:-}" = --cluster ] && { shift; cmd_chaos_cluster "$@"; return; }
  ensure_deps
  up_for_this_run
  eval "$(print_env)"
  export_redis_admin
  cd "$ROOT_DIR"
  node chaos/run.ts "$@"
}

# Against the clustered stack `up --cluster` started (it is not brought up here: three JVMs take
# most of a minute). PostgreSQL and Redis are the single node's when the cluster has none.
cmd_chaos_cluster() {
  ensure_deps
  kafka_cluster_is_up || die "the Kafka cluster is not up: run ./dev.sh up --cluster first"
  if ! declare -F pg_cluster_up >/dev/null; then
    postgres_is_up || die "PostgreSQL is not up: run ./dev.sh up postgres (the cluster has none of its own)"
  fi
  if ! declare -F redis_cluster_up >/dev/null; then
    redis_is_up || die "Redis is not up: run ./dev.sh up redis (the cluster has none of its own)"
  fi
  eval "$(print_cluster_env)"
  export_redis_admin
  cd "$ROOT_DIR"
  node chaos/run.ts --cluster "$@"
}

cmd_bench() {
  ensure_deps
  ensure_command wrk wrk # the top-k benchmark's load generator
  up_for_this_run
  eval "$(print_env)"
  export_redis_admin
  cd "$ROOT_DIR"
  node bench/suite.ts "$@"
}

main() {
  local command="${1:-help}"
  shift || true
  case "$command" in
    up) cmd_up "$@" ;;
    down) cmd_down "$@" ;;
    status) cmd_status "$@" ;;
    logs) cmd_logs "$@" ;;
    env) cmd_env "$@" ;;
    test) cmd_test "$@" ;;
    demo) cmd_demo "$@" ;;
    bench) cmd_bench "$@" ;;
    chaos) cmd_chaos "$@" ;;
    help | -h | --help) usage ;;
    *) usage >&2; die "unknown command '$command'" ;;
  esac
}

main "$@"
