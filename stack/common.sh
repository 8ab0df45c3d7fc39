# shellcheck shell=bash
# Shared settings and helpers for the local stack. Sourced by ./dev.sh; not run on its own.
#
# Everything the stack writes lives under $LOCAL_DIR (git-ignored): the pinned Node, Kafka's jars,
# each server's data, logs and pid files, and the generated passwords. Ports are project-chosen
# loopback ports; each can be moved with the variable named beside it.

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCAL_DIR="${RSVP_TOPK_LOCAL_DIR:-$ROOT_DIR/.local}"
RUN_DIR="$LOCAL_DIR/run"

NODE_VERSION="24.21.0"
KAFKA_VERSION="4.1.2"

KAFKA_PORT="${RSVP_TOPK_KAFKA_PORT:-29092}"
KAFKA_CONTROLLER_PORT="${RSVP_TOPK_KAFKA_CONTROLLER_PORT:-29093}"
PG_PORT="${RSVP_TOPK_PG_PORT:-25432}"
REDIS_PORTS=(${RSVP_TOPK_REDIS_PORTS:-26379 26380 26381})
HTTP_PORT_DEFAULT="${RSVP_TOPK_HTTP_PORT:-8088}"

APP_DB_USER="rsvp_topk"
APP_DB_NAME="rsvp_topk"
APP_REDIS_USER="rsvp_topk"
# Operations and tests only (SHUTDOWN, CLIENT PAUSE, keys of other services); never the service.
ADMIN_REDIS_USER="rsvp_topk_admin"

say() { printf '%s\n' "$*" >&2; }
die() { printf 'dev.sh: %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" = 0 ]; }

# Seconds since the epoch with milliseconds, for the "took N s" lines.
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# A pid file names a process we started; it counts only while that process is alive.
pid_alive() {
  local file="$1" pid
  [ -s "$file" ] || return 1
  pid="$(head -n1 "$file")"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null
}

# Stops the process named by a pid file: SIGTERM, a grace period, then SIGKILL.
stop_pid_file() {
  local file="$1" name="$2" grace="${3:-30}" pid
  if ! pid_alive "$file"; then
    rm -f "$file"
    return 0
  fi
  pid="$(head -n1 "$file")"
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 $((grace * 10))); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "  $name (pid $pid) ignored SIGTERM for ${grace}s; sending SIGKILL"
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}

# Passwords are made once per checkout and kept in a file only the owner can read.
SECRETS_FILE="$LOCAL_DIR/secrets.env"
load_secrets() {
  local name
  mkdir -p "$LOCAL_DIR"
  (umask 077 && touch "$SECRETS_FILE")
  # shellcheck disable=SC1090
  . "$SECRETS_FILE"
  # A secret added later (REDIS_ADMIN_PASSWORD) is made for a checkout that has the others.
  for name in PG_APP_PASSWORD REDIS_APP_PASSWORD REDIS_ADMIN_PASSWORD; do
    if [ -z "${!name:-}" ]; then
      printf '%s=%s\n' "$name" "$(od -An -N18 -tx1 /dev/urandom | tr -d ' \n')" >>"$SECRETS_FILE"
    fi
  done
  # shellcheck disable=SC1090
  . "$SECRETS_FILE"
}

# Installs a Debian package with apt-get as root (once per checkout, apt-get update first), or
# stops with a message naming the package to install.
apt_install() {
  local package="$1" why="$2"
  if is_root && command -v apt-get >/dev/null 2>&1; then
    say "installing $package (apt) for $why"
    if [ ! -f "$LOCAL_DIR/.apt-updated" ]; then
      DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null || die "apt-get update failed"
      mkdir -p "$LOCAL_DIR" && touch "$LOCAL_DIR/.apt-updated"
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$package" >/dev/null ||
      die "apt-get install $package failed"
    hash -r
  else
    die "$why is missing: install the Debian package '$package' (or its equivalent) and run this again"
  fi
}

# apt-get when we may, otherwise a message naming the package to install.
ensure_command() {
  local cmd="$1" package="$2"
  command -v "$cmd" >/dev/null 2>&1 && return 0
  apt_install "$package" "$cmd"
  command -v "$cmd" >/dev/null 2>&1 || die "$package is installed but $cmd is still not on PATH"
}
