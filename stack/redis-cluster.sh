# shellcheck shell=bash
# A Redis Cluster of three masters on 127.0.0.1 (./dev.sh up --cluster): the cache of the service
# when REDIS_CLUSTER names it instead of REDIS_RING (src/cache/cluster.ts). Sourced by ./dev.sh
# after redis.sh, whose ACL users and commands it shares: the 'default' user is off, the service's
# user may touch only keys under rsvp-topk:, the admin user is for operations and tests. A cache:
# no persistence, and no replicas (a master that dies costs the hits of its slots, read from
# PostgreSQL meanwhile; a replica would double the processes on a 2-core machine).
#
# Every variable can be moved, so a test runs its own cluster beside this one:
#   RSVP_TOPK_CLUSTER_REDIS_PORTS  the three ports (each also uses port + 1000 for the cluster bus)
#   RSVP_TOPK_LOCAL_DIR            where data (cluster/redis-<port>), pid files and passwords live

REDIS_CLUSTER_PORTS=(${RSVP_TOPK_CLUSTER_REDIS_PORTS:-26479 26480 26481})
REDIS_CLUSTER_DIR="$LOCAL_DIR/cluster"
# The ring's commands, and what ioredis's Cluster client sends besides: CLUSTER SLOTS (the slot
# map), CLUSTER INFO (its ready check, and the service's health check of each master) and ASKING
# (a key read while its slot migrates). README shows the same.
REDIS_CLUSTER_APP_COMMANDS="$REDIS_APP_COMMANDS +cluster|slots +cluster|info +asking"
# How long a master may be silent before the others flag it as failing. Short, for a local stack:
# a master that comes back is taken back by the others after twice this.
REDIS_CLUSTER_NODE_TIMEOUT_MS=3000

redis_cluster_node_dir() { echo "$REDIS_CLUSTER_DIR/redis-$1"; }
redis_cluster_pid_file() { echo "$RUN_DIR/cluster-redis-$1.pid"; }

redis_cluster_check_settings() {
  [ "${#REDIS_CLUSTER_PORTS[@]}" -eq 3 ] ||
    die "RSVP_TOPK_CLUSTER_REDIS_PORTS must name 3 ports, not '${REDIS_CLUSTER_PORTS[*]}'"
}

redis_cluster_check_port() {
  local port="${1:-}" known
  for known in "${REDIS_CLUSTER_PORTS[@]}"; do [ "$port" = "$known" ] && return 0; done
  die "'$port' is not a port of the Redis Cluster (${REDIS_CLUSTER_PORTS[*]})"
}

# Runs redis-cli against one node as the admin user (the service's user may not run CLUSTER MEET,
# ADDSLOTS or SHUTDOWN).
redis_cluster_admin_cli() {
  local port="$1"
  shift
  REDISCLI_AUTH="$REDIS_ADMIN_PASSWORD" redis-cli -h 127.0.0.1 -p "$port" --user "$ADMIN_REDIS_USER" "$@"
}

redis_cluster_node_up() { pid_alive "$(redis_cluster_pid_file "$1")"; }

redis_cluster_any_up() {
  local port
  for port in "${REDIS_CLUSTER_PORTS[@]}"; do redis_cluster_node_up "$port" && return 0; done
  return 1
}

# One field of CLUSTER INFO on a node, empty when the node does not answer.
redis_cluster_info_field() {
  redis_cluster_admin_cli "$1" CLUSTER INFO 2>/dev/null | tr -d '\r' | sed -n "s/^$2://p"
}

# Starts one node (its configuration is written each time: the passwords are the checkout's) and
# waits until it answers the service's user. Its cluster state (nodes.conf) survives restarts.
redis_cluster_start_node() {
  local port="$1" dir pid_file
  dir="$(redis_cluster_node_dir "$port")"
  pid_file="$(redis_cluster_pid_file "$port")"
  redis_cluster_node_up "$port" && return 0
  redis_start_server "$port" "$dir" "$pid_file" "$REDIS_CLUSTER_APP_COMMANDS" "cluster-enabled yes
# The bus port defaults to port + 10000, which for these ports lies in Linux's ephemeral range
# (32768-60999): an outgoing connection can hold it and the node then cannot start.
cluster-port $((port + 1000))
cluster-config-file nodes.conf
cluster-node-timeout $REDIS_CLUSTER_NODE_TIMEOUT_MS
# The masters that are up keep serving their slots while one is down (the default stops the
# whole cluster): a cache that loses a third of its hits, not all of them.
cluster-require-full-coverage no" ||
    die "the Redis Cluster node on port $port does not answer AUTH + PING"
}

# Waits until every node running says cluster_state:ok with all 16384 slots assigned and the
# three masters known: the cluster serves every key it has a master for.
redis_cluster_wait_ok() {
  local timeout="${1:-60}" port state ready
  for _ in $(seq 1 $((timeout * 10))); do
    ready=1
    for port in "${REDIS_CLUSTER_PORTS[@]}"; do
      redis_cluster_node_up "$port" || continue
      state="$(redis_cluster_admin_cli "$port" CLUSTER INFO 2>/dev/null | tr -d '\r')"
      grep -qx 'cluster_state:ok' <<<"$state" && grep -qx 'cluster_slots_assigned:16384' <<<"$state" &&
        grep -qx 'cluster_known_nodes:3' <<<"$state" || { ready=0 && break; }
    done
    [ "$ready" = 1 ] && return 0
    sleep 0.1
  done
  for port in "${REDIS_CLUSTER_PORTS[@]}"; do
    say "  redis cluster node $port: $(redis_cluster_info_field "$port" cluster_state || true)"
  done
  die "the Redis Cluster is not ready after $timeout s (logs: $REDIS_CLUSTER_DIR/redis-*/redis.log)"
}

# Starts the nodes that are down, forms the cluster the first time (three masters, the slots
# split evenly, no replicas), and waits until every node says cluster_state:ok. Idempotent.
redis_cluster_up() {
  local started port fresh=0 formed=0 addresses=()
  redis_cluster_check_settings
  ensure_command redis-server redis-server
  ensure_command redis-cli redis-tools
  load_secrets
  started="$(now)"
  for port in "${REDIS_CLUSTER_PORTS[@]}"; do
    redis_cluster_start_node "$port"
    addresses+=("127.0.0.1:$port")
    if [ "$(redis_cluster_info_field "$port" cluster_known_nodes)" = 1 ] &&
      [ "$(redis_cluster_info_field "$port" cluster_slots_assigned)" = 0 ]; then
      fresh=$((fresh + 1))
    else
      formed=$((formed + 1))
    fi
  done
  if [ "$fresh" -eq 3 ]; then
    say "  redis cluster: forming it from ${addresses[*]}"
    REDISCLI_AUTH="$REDIS_ADMIN_PASSWORD" redis-cli --user "$ADMIN_REDIS_USER" --cluster create "${addresses[@]}" \
      --cluster-replicas 0 --cluster-yes >"$REDIS_CLUSTER_DIR/create.log" 2>&1 ||
      { tail -n 20 "$REDIS_CLUSTER_DIR/create.log" >&2; die "redis-cli --cluster create failed"; }
  elif [ "$fresh" -gt 0 ]; then
    # A node that lost its nodes.conf beside others that remember the cluster: mending that by
    # hand is an operator's call; for a local stack, start again.
    die "the Redis Cluster is half formed ($fresh of 3 nodes know no cluster): run redis_cluster_down and redis_cluster_purge (./dev.sh down --purge --cluster), then up again"
  fi
  redis_cluster_wait_ok
  say "  redis cluster up (pids $(redis_cluster_pids)) on ${addresses[*]} in $(elapsed "$started") s"
}

redis_cluster_pids() {
  local port list=""
  for port in "${REDIS_CLUSTER_PORTS[@]}"; do
    redis_cluster_node_up "$port" && list="${list:+$list }$(head -n1 "$(redis_cluster_pid_file "$port")")"
  done
  echo "${list:-none}"
}

redis_cluster_down() {
  local port pid_file
  for port in "${REDIS_CLUSTER_PORTS[@]}"; do
    pid_file="$(redis_cluster_pid_file "$port")"
    redis_cluster_node_up "$port" && say "  stopping redis cluster node $port (pid $(head -n1 "$pid_file"))"
    stop_pid_file "$pid_file" "redis cluster node $port" 10
  done
}

# Removes the nodes' folders (their nodes.conf: the cluster is formed again at the next up).
redis_cluster_purge() {
  redis_cluster_any_up && die "the Redis Cluster runs: ./dev.sh down --cluster first"
  local port
  for port in "${REDIS_CLUSTER_PORTS[@]}"; do
    [ -d "$(redis_cluster_node_dir "$port")" ] || continue
    say "  removing redis cluster node $port data in $(redis_cluster_node_dir "$port")"
    rm -rf "$(redis_cluster_node_dir "$port")"
  done
  rm -f "$REDIS_CLUSTER_DIR/create.log"
}

redis_cluster_status() {
  local port pid_file
  [ -s "$SECRETS_FILE" ] && load_secrets
  for port in "${REDIS_CLUSTER_PORTS[@]}"; do
    pid_file="$(redis_cluster_pid_file "$port")"
    if pid_alive "$pid_file"; then
      echo "redis-$port  up    pid $(head -n1 "$pid_file")  127.0.0.1:$port  cluster_state:$(redis_cluster_info_field "$port" cluster_state || true)  log $(redis_cluster_node_dir "$port")/redis.log"
    else
      echo "redis-$port  down  (cluster master, 127.0.0.1:$port)"
    fi
  done
}

# The service's settings for the cluster: seed nodes with the service's user. The service takes
# exactly one of REDIS_RING and REDIS_CLUSTER, so this unsets the ring: print it after print_env.
redis_cluster_env() {
  load_secrets
  local port seeds=""
  for port in "${REDIS_CLUSTER_PORTS[@]}"; do
    seeds="${seeds:+$seeds,}redis://$APP_REDIS_USER:$REDIS_APP_PASSWORD@127.0.0.1:$port"
  done
  echo "unset REDIS_RING REDIS_RING_FILE"
  echo "export REDIS_CLUSTER='$seeds'"
}

# For tests and chaos: the master on `port` dies at once (SIGKILL: no goodbye to clients or to the
# other masters), with whatever it held.
redis_master_kill() {
  local port="${1:-}" pid_file pid
  redis_cluster_check_port "$port"
  pid_file="$(redis_cluster_pid_file "$port")"
  if ! pid_alive "$pid_file"; then
    say "  redis cluster node $port is not running"
    rm -f "$pid_file"
    return 0
  fi
  pid="$(head -n1 "$pid_file")"
  kill -9 "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  rm -f "$pid_file"
  say "  redis cluster node $port (pid $pid) killed"
}

# Starts the master on `port` again (empty: no persistence; its slots are its own still, from its
# nodes.conf) and waits until every node says cluster_state:ok.
redis_master_start() {
  local port="${1:-}" started
  redis_cluster_check_port "$port"
  load_secrets
  started="$(now)"
  redis_cluster_start_node "$port"
  redis_cluster_wait_ok
  say "  redis cluster node $port up (pid $(head -n1 "$(redis_cluster_pid_file "$port")")) in $(elapsed "$started") s"
}
