#!/usr/bin/env bash
# Sets up Loki on a fresh Debian 12 machine: system packages, dockerd, npm
# dependencies, the build, and the offline sandbox base image. Idempotent.
# Run as root (apt, dockerd and debootstrap need it).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(docker.io protobuf-compiler debootstrap git ca-certificates openssl tmux)
[ "${LOKI_SETUP_TEST_DEPS:-0}" = 1 ] && APT_PACKAGES+=(prometheus chromium)

log() { printf '\n== %s\n' "$*"; }

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

log "npm install (from package-lock.json)"
# `npm ci` refuses this lock: npm 11 omits the other-platform optional bindings of
# unrs-resolver (used by the lint resolver) and then reports them "missing".
# `npm install` installs the same locked versions and tolerates that.
npm install --no-audit --no-fund

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
log "setup complete"
