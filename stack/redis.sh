# shellcheck shell=bash
# Three Redis 7 servers from Debian's packages, the nodes of the service's cache ring. The 'default'
# user is off. The service's user may run only the commands the ring uses, on keys under
# rsvp-topk: (least privilege: no FLUSHALL, no CONFIG, no other service's keys); an admin user is
# for operations and tests. They are a cache: no persistence.

# What the service's cache ring sends (src/cache/ring.ts, redis-node.ts); README shows the same.
REDIS_APP_COMMANDS="+ping +mget +set +del +unlink +scan"

REDIS_DIR="$LOCAL_DIR/redis"

redis_node_dir() { echo "$REDIS_DIR/$1"; }
redis_pid_file() { echo "$RUN_DIR/redis-$1.pid"; }

redis_cli() {
  local port="$1"
  shift
  REDISCLI_AUTH="$REDIS_APP_PASSWORD" redis-cli -h 127.0.0.1 -p "$port" --user "$APP_REDIS_USER" "$@"
}

# Writes a node's configuration (each time: the passwords are the checkout's), starts it, and
# waits until it answers the service's user; on failure prints its log's end and returns 1.
#   redis_start_server PORT DIR PID_FILE APP_COMMANDS [EXTRA_CONFIG]
# EXTRA_CONFIG (lines) is what a cluster node adds; the ring's and the cluster's nodes share the rest.
redis_start_server() {
  local port="$1" dir="$2" pid_file="$3" app_commands="$4" extra="${5:-}"
  mkdir -p "$dir" "$RUN_DIR"
  (
    umask 077
    cat >"$dir/redis.conf" <<EOF
bind 127.0.0.1
port $port
protected-mode yes
daemonize yes
pidfile $pid_file
logfile $dir/redis.log
dir $dir
save ""
appendonly no
maxmemory 256mb
maxmemory-policy allkeys-lru
$extra
user default off
user $APP_REDIS_USER on >$REDIS_APP_PASSWORD resetkeys ~rsvp-topk:* resetchannels -@all $app_commands
user $ADMIN_REDIS_USER on >$REDIS_ADMIN_PASSWORD ~* &* +@all
EOF
  )
  rm -f "$pid_file"
  redis-server "$dir/redis.conf" >/dev/null || die "redis-server on port $port did not start (log: $dir/redis.log)"
  for _ in $(seq 1 100); do
    [ "$(redis_cli "$port" PING 2>/dev/null)" = PONG ] && return 0
    sleep 0.05
  done
  tail -n 20 "$dir/redis.log" >&2
  return 1
}

redis_up_one() {
  local port="$1" dir pid_file started
  dir="$(redis_node_dir "$port")"
  pid_file="$(redis_pid_file "$port")"
  if pid_alive "$pid_file"; then
    say "  redis      already running (pid $(head -n1 "$pid_file")) on 127.0.0.1:$port"
    return 0
  fi
  started="$(now)"
  redis_start_server "$port" "$dir" "$pid_file" "$REDIS_APP_COMMANDS" ||
    die "redis on port $port does not answer AUTH + PING"
  say "  redis      started (pid $(head -n1 "$pid_file")) on 127.0.0.1:$port in $(elapsed "$started") s"
}

redis_up() {
  ensure_command redis-server redis-server
  ensure_command redis-cli redis-tools
  load_secrets
  local port
  for port in "${REDIS_PORTS[@]}"; do redis_up_one "$port"; done
}

redis_down() {
  local port pid_file
  for port in "${REDIS_PORTS[@]}"; do
    pid_file="$(redis_pid_file "$port")"
    pid_alive "$pid_file" && say "  stopping redis on $port (pid $(head -n1 "$pid_file"))"
    stop_pid_file "$pid_file" "redis $port" 10
  done
}

redis_status() {
  local port pid_file
  for port in "${REDIS_PORTS[@]}"; do
    pid_file="$(redis_pid_file "$port")"
    if pid_alive "$pid_file"; then
      echo "redis      up    pid $(head -n1 "$pid_file")  127.0.0.1:$port  log $(redis_node_dir "$port")/redis.log"
    else
      echo "redis      down  127.0.0.1:$port"
    fi
  done
}
