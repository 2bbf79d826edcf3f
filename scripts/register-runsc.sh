#!/usr/bin/env bash
# Registers gVisor's runsc with dockerd as the runtime "runsc" (sandbox.runtime: runsc).
# `--network=none` is required: Loki sandboxes run with `--network none`, which
# runsc otherwise refuses ("cannot run with network enabled in root network namespace").
# `--oci-seccomp` is required too: without it runsc ignores the container's
# seccomp profile (the Loki profile's denials, e.g. unshare, would not apply).
# `--host-uds=open` lets a sandbox connect to the host unix sockets lokid
# bind-mounts into it (the model proxy socket); it cannot see any other.
# Merges into /etc/docker/daemon.json (other keys kept) and reloads a running
# dockerd with SIGHUP (runtimes are reloadable; running containers are untouched).
set -euo pipefail
conf=${DOCKER_DAEMON_JSON:-/etc/docker/daemon.json}
runsc=$(command -v runsc || true)
[ -n "$runsc" ] || { echo "runsc is not installed (apt-get install runsc)" >&2; exit 1; }
mkdir -p "$(dirname "$conf")"
node - "$conf" "$runsc" <<'JS'
const fs = require('node:fs');
const [conf, path] = process.argv.slice(2);
const cur = fs.existsSync(conf) ? JSON.parse(fs.readFileSync(conf, 'utf8') || '{}') : {};
const want = { path, runtimeArgs: ['--network=none', '--oci-seccomp', '--host-uds=open'] };
if (JSON.stringify(cur.runtimes?.runsc) === JSON.stringify(want)) process.exit(0);
cur.runtimes = { ...(cur.runtimes ?? {}), runsc: want };
fs.writeFileSync(`${conf}.tmp`, `${JSON.stringify(cur, null, 2)}\n`, { mode: 0o644 });
fs.renameSync(`${conf}.tmp`, conf);
JS
if pid=$(pidof dockerd); then
  if ! docker info --format '{{json .Runtimes}}' | grep -q -- '--host-uds=open'; then
    kill -HUP $pid
    for _ in $(seq 1 50); do docker info --format '{{json .Runtimes}}' | grep -q -- '--host-uds=open' && break; sleep 0.2; done
  fi
  docker info --format '{{json .Runtimes}}' | grep -q -- '--host-uds=open' || { echo "dockerd did not pick up the runsc runtime" >&2; exit 1; }
fi
echo "runsc registered with dockerd ($conf)"
