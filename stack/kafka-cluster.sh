# shellcheck shell=bash
# A three-node Apache Kafka cluster on 127.0.0.1 (./dev.sh up --cluster), from the same jars as the
# single-node broker of stack/kafka.sh (ensure_kafka_jars). Sourced by ./dev.sh after kafka.sh.
#
# Combined mode: each of the three nodes is a broker and a voter of a three-voter controller
# quorum (process.roles=broker,controller, a static controller.quorum.voters). Why not a separate
# controller: one controller process would be a single point of failure the replicated brokers do
# not have (it down, no leader can move and no broker can register), and three dedicated
# controllers would double the JVMs on a 2-core machine shared with PostgreSQL, Redis and the
# service. Kafka advises against combined mode where a broker's load could starve its controller;
# for a local stack the cost that matters is processes. It also makes the chaos faults real: a
# killed node takes a broker (its partition leaderships, perhaps a group coordinator) and a voter
# (perhaps the active controller) away at once, and the two left keep a quorum of 2 of 3.
#
# Every topic gets 3 replicas and needs 2 in sync to take a write (min.insync.replicas=2), the
# service's own topics included (src/kafka/replication.ts): one node may be lost at any moment.

KAFKA_CLUSTER_PORTS=(${RSVP_TOPK_CLUSTER_KAFKA_PORTS:-29192 29193 29194})
KAFKA_CLUSTER_CONTROLLER_PORTS=(${RSVP_TOPK_CLUSTER_KAFKA_CONTROLLER_PORTS:-29195 29196 29197})
KAFKA_CLUSTER_DIR="$LOCAL_DIR/cluster"
# Not the single node's id: a data folder formatted for one cluster is never taken for the other.
KAFKA_CLUSTER_CLUSTER_ID="rsvpTopkKafkaTrio00001"
KAFKA_CLUSTER_TEMPLATE="$ROOT_DIR/stack/kafka/cluster-node.properties.template"

kafka_cluster_node_dir() { echo "$KAFKA_CLUSTER_DIR/kafka-$1"; }
kafka_cluster_pid_file() { echo "$RUN_DIR/cluster-kafka-$1.pid"; }
kafka_cluster_log() { echo "$(kafka_cluster_node_dir "$1")/kafka.out"; }
kafka_cluster_port() { echo "${KAFKA_CLUSTER_PORTS[$(($1 - 1))]}"; }
kafka_cluster_controller_port() { echo "${KAFKA_CLUSTER_CONTROLLER_PORTS[$(($1 - 1))]}"; }

# host:port of the three brokers, comma-separated (what KAFKA_BROKERS holds).
kafka_cluster_brokers() {
  local port list=""
  for port in "${KAFKA_CLUSTER_PORTS[@]}"; do list="${list:+$list,}127.0.0.1:$port"; done
  echo "$list"
}

kafka_cluster_check_settings() {
  [ "${#KAFKA_CLUSTER_PORTS[@]}" -eq 3 ] ||
    die "RSVP_TOPK_CLUSTER_KAFKA_PORTS must name 3 ports, not '${KAFKA_CLUSTER_PORTS[*]}'"
  [ "${#KAFKA_CLUSTER_CONTROLLER_PORTS[@]}" -eq 3 ] ||
    die "RSVP_TOPK_CLUSTER_KAFKA_CONTROLLER_PORTS must name 3 ports, not '${KAFKA_CLUSTER_CONTROLLER_PORTS[*]}'"
}

kafka_cluster_check_node() {
  [[ "${1:-}" =~ ^[123]$ ]] || die "a Kafka cluster node is 1, 2 or 3, not '${1:-}'"
}

kafka_cluster_node_up() { pid_alive "$(kafka_cluster_pid_file "$1")"; }

# Any node runs (status and down care), or all three do.
kafka_cluster_any_up() {
  local n
  for n in 1 2 3; do kafka_cluster_node_up "$n" && return 0; done
  return 1
}
kafka_cluster_is_up() {
  local n
  for n in 1 2 3; do kafka_cluster_node_up "$n" || return 1; done
}

# The cluster was brought up here at least once (its data folders exist).
kafka_cluster_present() {
  compgen -G "$KAFKA_CLUSTER_DIR/kafka-[123]" >/dev/null || kafka_cluster_any_up
}

# Writes node n's server.properties and formats its storage the first time.
kafka_cluster_prepare_node() {
  local n="$1" dir voters="" i
  dir="$(kafka_cluster_node_dir "$n")"
  for i in 1 2 3; do voters="${voters:+$voters,}$i@127.0.0.1:$(kafka_cluster_controller_port "$i")"; done
  mkdir -p "$dir"
  sed -e "s|@NODE_ID@|$n|g" -e "s|@VOTERS@|$voters|g" -e "s|@PORT@|$(kafka_cluster_port "$n")|g" \
    -e "s|@CONTROLLER_PORT@|$(kafka_cluster_controller_port "$n")|g" -e "s|@DATA_DIR@|$dir|g" \
    "$KAFKA_CLUSTER_TEMPLATE" >"$dir/server.properties"
  [ -f "$dir/kraft-logs/meta.properties" ] && return 0
  # A static quorum: each node is formatted on its own, with the cluster id only.
  kafka_java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 kafka.tools.StorageTool format \
    -t "$KAFKA_CLUSTER_CLUSTER_ID" -c "$dir/server.properties" >"$dir/format.log" 2>&1 ||
    { tail -n 20 "$dir/format.log" >&2; die "formatting the storage of Kafka node $n failed"; }
}

# Starts node n's JVM in the background; prints the log line after which its start-up is logged.
kafka_cluster_launch() {
  local n="$1" log pid_file
  log="$(kafka_cluster_log "$n")"
  pid_file="$(kafka_cluster_pid_file "$n")"
  # The log is kept across restarts (a chaos run reads what happened around a kill).
  echo "== dev.sh: starting kafka node $n at $(date -u +%FT%TZ)" >>"$log"
  wc -l <"$log"
  # The subshell writes its own pid and then becomes the broker, so the pid file names the JVM.
  setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$pid_file" \
    java -Xms128m -Xmx512m -XX:+UseSerialGC -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$KAFKA_STACK_DIR/log4j2.properties" -cp "$KAFKA_LIBS/*" \
    kafka.Kafka "$(kafka_cluster_node_dir "$n")/server.properties" >>"$log" 2>&1 </dev/null &
}

# Waits until node n logs that it started (after line `from` of its log), or dies.
kafka_cluster_wait_started() {
  local n="$1" from="$2" timeout="${3:-180}" log pid_file
  log="$(kafka_cluster_log "$n")"
  pid_file="$(kafka_cluster_pid_file "$n")"
  for _ in $(seq 1 $((timeout * 10))); do
    tail -n +"$((from + 1))" "$log" | grep -q 'Kafka Server started' && return 0
    if [ -s "$pid_file" ] && ! pid_alive "$pid_file"; then
      tail -n 40 "$log" >&2
      die "Kafka node $n exited during start-up (log: $log)"
    fi
    sleep 0.1
  done
  tail -n 40 "$log" >&2
  die "Kafka node $n did not start within $timeout s (log: $log)"
}

kafka_cluster_up() {
  local started n i missing=() from=() jobs=()
  kafka_cluster_check_settings
  mkdir -p "$KAFKA_CLUSTER_DIR" "$RUN_DIR"
  if kafka_cluster_is_up; then
    say "  kafka cluster already running (pids $(kafka_cluster_pids)) on $(kafka_cluster_brokers)"
    return 0
  fi
  ensure_java
  ensure_kafka_jars
  started="$(now)"
  for n in 1 2 3; do kafka_cluster_node_up "$n" || missing+=("$n"); done
  # Formatting is a JVM each: side by side.
  for n in "${missing[@]}"; do
    kafka_cluster_prepare_node "$n" &
    jobs+=("$!")
  done
  wait "${jobs[@]}"
  for n in "${missing[@]}"; do
    [ -f "$(kafka_cluster_node_dir "$n")/kraft-logs/meta.properties" ] || die "Kafka node $n was not formatted"
  done
  # All at once: no node finishes starting before a quorum of voters is up.
  for n in "${missing[@]}"; do from+=("$(kafka_cluster_launch "$n")"); done
  for i in "${!missing[@]}"; do kafka_cluster_wait_started "${missing[$i]}" "${from[$i]}"; done
  # Readiness: all three registered, and a topic with 3 replicas has all 3 in sync.
  node "$ROOT_DIR/stack/kafka-cluster-ready.ts" "$(kafka_cluster_brokers)" 3 120 --replicated ||
    die "the Kafka cluster is not ready (logs: $KAFKA_CLUSTER_DIR/kafka-*/kafka.out)"
  say "  kafka cluster started (pids $(kafka_cluster_pids)) on $(kafka_cluster_brokers) in $(elapsed "$started") s"
}

kafka_cluster_pids() {
  local n list=""
  for n in 1 2 3; do
    kafka_cluster_node_up "$n" && list="${list:+$list }$(head -n1 "$(kafka_cluster_pid_file "$n")")"
  done
  echo "${list:-none}"
}

# All nodes get SIGTERM together: each then hands its leaderships over in a controlled shutdown,
# which needs the quorum, so one left alone at the end could wait for it in vain.
kafka_cluster_down() {
  local n stopping=() jobs=()
  for n in 1 2 3; do
    if kafka_cluster_node_up "$n"; then
      say "  stopping kafka node $n (pid $(head -n1 "$(kafka_cluster_pid_file "$n")"))"
      stopping+=("$n")
    fi
  done
  for n in "${stopping[@]}"; do
    stop_pid_file "$(kafka_cluster_pid_file "$n")" "kafka node $n" 60 &
    jobs+=("$!")
  done
  [ "${#jobs[@]}" -eq 0 ] || wait "${jobs[@]}"
  for n in 1 2 3; do rm -f "$(kafka_cluster_pid_file "$n")"; done
}

kafka_cluster_purge() {
  kafka_cluster_any_up && die "the Kafka cluster runs: ./dev.sh down --cluster first"
  local n
  for n in 1 2 3; do
    [ -d "$(kafka_cluster_node_dir "$n")" ] || continue
    say "  removing kafka node $n data in $(kafka_cluster_node_dir "$n")"
    rm -rf "$(kafka_cluster_node_dir "$n")"
  done
}

kafka_cluster_status() {
  local n pid_file
  for n in 1 2 3; do
    pid_file="$(kafka_cluster_pid_file "$n")"
    if pid_alive "$pid_file"; then
      echo "kafka-$n    up    pid $(head -n1 "$pid_file")  127.0.0.1:$(kafka_cluster_port "$n") (controller $(kafka_cluster_controller_port "$n"))  log $(kafka_cluster_log "$n")"
    else
      echo "kafka-$n    down  (cluster node, 127.0.0.1:$(kafka_cluster_port "$n"))"
    fi
  done
}

kafka_cluster_env() {
  echo "export KAFKA_BROKERS='$(kafka_cluster_brokers)'"
}

# For chaos: node n dies at once, as in a power cut (no controlled shutdown, no flush).
kafka_broker_kill() {
  local n="${1:-}" pid_file pid
  kafka_cluster_check_node "$n"
  pid_file="$(kafka_cluster_pid_file "$n")"
  if ! pid_alive "$pid_file"; then
    say "  kafka node $n is not running"
    rm -f "$pid_file"
    return 0
  fi
  pid="$(head -n1 "$pid_file")"
  kill -9 "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  rm -f "$pid_file"
  say "  kafka node $n (pid $pid) killed"
}

# Starts node n again (or for the first time) and waits until it is registered with the
# controller again: the metadata names all three brokers.
kafka_broker_start() {
  local n="${1:-}" from started
  kafka_cluster_check_node "$n"
  kafka_cluster_check_settings
  if kafka_cluster_node_up "$n"; then
    say "  kafka node $n already running (pid $(head -n1 "$(kafka_cluster_pid_file "$n")"))"
    return 0
  fi
  ensure_java
  ensure_kafka_jars
  started="$(now)"
  mkdir -p "$RUN_DIR"
  kafka_cluster_prepare_node "$n"
  from="$(kafka_cluster_launch "$n")"
  kafka_cluster_wait_started "$n" "$from"
  node "$ROOT_DIR/stack/kafka-cluster-ready.ts" "$(kafka_cluster_brokers)" 3 120 ||
    die "Kafka node $n started but did not register with the cluster (log: $(kafka_cluster_log "$n"))"
  say "  kafka node $n started (pid $(head -n1 "$(kafka_cluster_pid_file "$n")")) in $(elapsed "$started") s"
}
