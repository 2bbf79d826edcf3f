#!/usr/bin/env bash
# Sets up Loki on a fresh Debian 12 machine: system packages, dockerd, npm
# dependencies, the build, and the offline sandbox base image. Idempotent.
# Run as root (apt, dockerd and debootstrap need it).
#   LOKI_SETUP_TEST_DEPS=1  also install what the test suite needs (prometheus/promtool,
#                           chromium, nginx for the TLS proxy test, wrk for the benches,
#                           docker-compose for the compose deployment test)
#   LOKI_SETUP_GVISOR=1     also install gVisor (runsc) and register it with dockerd
#                           (sandbox.runtime: runsc; see docs/DEPLOYMENT.md)
# Leaves the git work tree exactly as it found it (installs from the lock with `npm ci`).
set -euo pipefail
cd "$(dirname "$0")/.."

# sqlite3: online backups (docs/DEPLOYMENT.md); tini: PID 1 of the images scripts/build-images.sh builds.
APT_PACKAGES=(docker.io protobuf-compiler debootstrap git ca-certificates openssl tmux sqlite3 tini)
[ "${LOKI_SETUP_TEST_DEPS:-0}" = 1 ] && APT_PACKAGES+=(prometheus chromium nginx wrk systemd curl jq docker-compose)
[ "${LOKI_SETUP_GVISOR:-0}" = 1 ] && APT_PACKAGES+=(runsc)

log() { printf '\n== %s\n' "$*"; }
tree_state() { git status --porcelain 2>/dev/null || true; }
tree_before=$(tree_state)

missing=()
for p in "${APT_PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  log "starting dockerd"
  mkdir -p /var/log
  nohup dockerd >/var/log/loki-dockerd.log 2>&1 &
  for i in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { tail -20 /var/log/loki-dockerd.log; echo "dockerd did not start" >&2; exit 1; }
fi

if [ "${LOKI_SETUP_GVISOR:-0}" = 1 ]; then
  log "registering gVisor (runsc) with dockerd"
  ./scripts/register-runsc.sh
fi

log "npm ci (exactly package-lock.json; never rewrites it)"
# The lock records every platform's optional bindings (npm 11), so `npm ci`
# accepts it; `npm install` could rewrite the lock and dirty the work tree.
npm ci --no-audit --no-fund

log "build"
npm run build

image="${LOKI_SANDBOX_IMAGE:-loki-sandbox:latest}"
if docker image inspect "$image" >/dev/null 2>&1 && [ "${LOKI_REBUILD_IMAGE:-0}" != 1 ]; then
  log "sandbox image $image present"
else
  log "building the sandbox image $image (debootstrap, ~1-3 min)"
  home=$(mktemp -d /tmp/loki-setup-XXXXXX)
  node dist/daemon/src/main.js --home "$home" --log-level warn &
  pid=$!
  trap 'kill $pid 2>/dev/null || true; rm -rf "$home"' EXIT
  for i in $(seq 1 100); do [ -S "$home/run/admin.sock" ] && break; sleep 0.2; done
  node dist/cli/src/main.js --home "$home" sandbox build --tag "$image"
  kill "$pid"; wait "$pid" 2>/dev/null || true
fi
if [ "$(tree_state)" != "$tree_before" ]; then
  diff <(printf '%s\n' "$tree_before") <(tree_state) >&2 || true
  echo "setup changed the git work tree (see above); it must not" >&2
  exit 1
fi
log "setup complete"
