# shellcheck shell=bash
# Prometheus and promtool from Debian's package 'prometheus'. promtool checks ops/alerts.yml and
# runs its unit tests (ops/alerts.test.yml) inside ./dev.sh test; `./dev.sh up prometheus` runs a
# Prometheus of our own on loopback that scrapes the service and evaluates ops/alerts.yml. It is
# optional: plain `up`, `test` and `demo` never start it.
#
# The package's maintainer scripts enable and start a system-wide prometheus on :9090 (as the
# 'prometheus' user, data in /var/lib/prometheus). We want only the two binaries: the install runs
# under a policy-rc.d that forbids starting services, and the system unit is disabled afterwards.

PROMETHEUS_PORT="${RSVP_TOPK_PROMETHEUS_PORT:-29090}"
PROMETHEUS_DIR="$LOCAL_DIR/prometheus"
PROMETHEUS_LOG="$PROMETHEUS_DIR/prometheus.log"
PROMETHEUS_PID_FILE="$RUN_DIR/prometheus.pid"
OPS_DIR="$ROOT_DIR/ops"

# Installs the package without letting it start (or keep enabled) a prometheus of the system's.
prometheus_apt_install() {
  local policy=/usr/sbin/policy-rc.d own_policy=0 status=0
  if is_root && [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# rsvp-topk dev.sh: installing prometheus for its binaries only; start no service\nexit 101\n' \
      >"$policy"
    chmod 755 "$policy"
    own_policy=1
  fi
  # A subshell, so that apt_install's `die` still lets us remove our policy-rc.d.
  (apt_install prometheus 'promtool (checks and tests ops/alerts.yml) and prometheus') || status=$?
  [ "$own_policy" = 1 ] && rm -f "$policy"
  [ "$status" = 0 ] || exit "$status"
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now prometheus.service >/dev/null 2>&1 || true
  elif [ -x /etc/init.d/prometheus ]; then
    /etc/init.d/prometheus stop >/dev/null 2>&1 || true
    if command -v update-rc.d >/dev/null 2>&1; then update-rc.d prometheus disable >/dev/null 2>&1 || true; fi
  fi
}

# promtool and prometheus on PATH (apt as root, otherwise a message naming the package), and
# RSVP_TOPK_PROMTOOL exported for the tests.
ensure_promtool() {
  if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
    if is_root && command -v apt-get >/dev/null 2>&1; then
      prometheus_apt_install
      hash -r
    else
      die "promtool is missing: install the Debian package 'prometheus' (or put promtool and prometheus on PATH)"
    fi
    command -v promtool >/dev/null 2>&1 || die "prometheus is installed but promtool is still not on PATH"
  fi
  RSVP_TOPK_PROMTOOL="$(command -v promtool)"
  export RSVP_TOPK_PROMTOOL
}

# ops/prometheus.yml with this checkout's ports and the rule file's absolute path (the copy lives
# under $PROMETHEUS_DIR, and Prometheus resolves rule_files against the config's own folder).
prometheus_config() {
  sed -e "s|127\.0\.0\.1:8088|127.0.0.1:$HTTP_PORT_DEFAULT|g" \
    -e "s|127\.0\.0\.1:9464|127.0.0.1:${METRICS_PORT:-9464}|g" \
    -e "s|^\(  *- \)alerts\.yml$|\1$OPS_DIR/alerts.yml|" \
    "$OPS_DIR/prometheus.yml"
}

prometheus_ready() {
  [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$PROMETHEUS_PORT/-/ready")" = 200 ]
}

prometheus_up() {
  mkdir -p "$PROMETHEUS_DIR" "$RUN_DIR"
  if pid_alive "$PROMETHEUS_PID_FILE"; then
    say "  prometheus already running (pid $(head -n1 "$PROMETHEUS_PID_FILE")) on 127.0.0.1:$PROMETHEUS_PORT"
    return 0
  fi
  ensure_promtool
  ensure_command curl curl
  local started
  started="$(now)"
  prometheus_config >"$PROMETHEUS_DIR/prometheus.yml"
  promtool check config "$PROMETHEUS_DIR/prometheus.yml" >"$PROMETHEUS_DIR/check.log" 2>&1 ||
    { cat "$PROMETHEUS_DIR/check.log" >&2; die "promtool check config failed for $PROMETHEUS_DIR/prometheus.yml"; }
  : >"$PROMETHEUS_LOG"
  # The subshell writes its own pid and then becomes prometheus, so the pid file names it.
  setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$PROMETHEUS_PID_FILE" \
    prometheus --config.file="$PROMETHEUS_DIR/prometheus.yml" --storage.tsdb.path="$PROMETHEUS_DIR/data" \
    --storage.tsdb.retention.time=7d --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" \
    >>"$PROMETHEUS_LOG" 2>&1 </dev/null &
  # /-/ready answers 200 once the TSDB is open and the rules are loaded (503 before).
  for _ in $(seq 1 600); do
    prometheus_ready && break
    if [ -s "$PROMETHEUS_PID_FILE" ] && ! pid_alive "$PROMETHEUS_PID_FILE"; then
      tail -n 20 "$PROMETHEUS_LOG" >&2
      die "prometheus exited during start-up (port 127.0.0.1:$PROMETHEUS_PORT taken? log: $PROMETHEUS_LOG)"
    fi
    sleep 0.1
  done
  prometheus_ready || { tail -n 20 "$PROMETHEUS_LOG" >&2; die "prometheus was not ready within 60 s"; }
  say "  prometheus started (pid $(head -n1 "$PROMETHEUS_PID_FILE")) on http://127.0.0.1:$PROMETHEUS_PORT in $(elapsed "$started") s"
}

prometheus_down() {
  if pid_alive "$PROMETHEUS_PID_FILE"; then
    say "  stopping prometheus (pid $(head -n1 "$PROMETHEUS_PID_FILE"))"
  fi
  stop_pid_file "$PROMETHEUS_PID_FILE" prometheus 30
}

prometheus_status() {
  if pid_alive "$PROMETHEUS_PID_FILE"; then
    echo "prometheus up    pid $(head -n1 "$PROMETHEUS_PID_FILE")  http://127.0.0.1:$PROMETHEUS_PORT  log $PROMETHEUS_LOG"
  else
    echo "prometheus down  (optional: ./dev.sh up prometheus)"
  fi
}
