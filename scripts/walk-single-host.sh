#!/usr/bin/env bash
# Walks docs/DEPLOYMENT.md's "Single host with systemd" path end to end (CI runs it):
# install as the docs say, start the binaries exactly as the units would (their
# ExecStart, Environment=, User=/groups, without systemd: test/deploy/systemd-real.test.ts
# runs the units themselves under a real systemd, hardening included), run a
# `script` session through the gateway, reload the config with SIGHUP, back up the
# store online and restore it into a fresh LOKI_HOME, and find the session there.
#
# Everything the docs put under /etc/loki, /usr/local/bin, /var/lib/loki, /run/loki
# goes under a scratch root ($WALK_ROOT, default a temp dir) so the host is not
# changed; the system accounts (loki-admin, loki-gateway) are created for real, as
# the docs say. Needs root, dockerd, the build and the sandbox image (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
R=${WALK_ROOT:-$(mktemp -d /tmp/loki-walk-XXXXXX)}
mkdir -p "$R" && chmod 0755 "$R"
step() { printf '\n== walk: %s\n' "$*"; }
fail() { echo "walk FAILED: $*" >&2; for f in "$R"/*.log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -30 "$f" >&2; }; done; exit 1; }
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  # Session workspaces are loop-mounted file systems (sessions.workspace.enforce: mount): unmount them first.
  [ -n "${WALK_KEEP:-}" ] || { findmnt -rn -o TARGET | grep "^$R/" | sort -r | xargs -r umount -l 2>/dev/null || true; rm -rf "$R"; }
}
trap cleanup EXIT
# The unit's paths, under the scratch root.
at() { sed -e "s#/etc/loki#$R/etc/loki#g" -e "s#/usr/local/bin#$R/usr/local/bin#g" -e "s#/var/lib/loki#$R/var/lib/loki#g" -e "s#/run/loki#$R/run/loki#g"; }
unit_env() { sed -n 's/^Environment=//p' "$1" | at; }
unit_exec() { sed -n 's/^ExecStart=//p' "$1" | at; }
wait_for() { local what=$1; shift; for _ in $(seq 1 150); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done; fail "timed out waiting for $what"; }

[ -f dist/daemon/src/main.js ] || fail "build first (scripts/setup.sh)"
docker image inspect loki-sandbox:latest >/dev/null 2>&1 || fail "no loki-sandbox:latest (scripts/setup.sh builds it)"

step "1. install the binaries (symlinks into /usr/local/bin)"
mkdir -p "$R/usr/local/bin"
ln -sf "$repo/dist/daemon/src/main.js"  "$R/usr/local/bin/lokid"
ln -sf "$repo/dist/gateway/src/main.js" "$R/usr/local/bin/loki-gateway"
ln -sf "$repo/dist/cli/src/main.js"     "$R/usr/local/bin/loki"
"$R/usr/local/bin/loki" --version >/dev/null || fail "loki does not run through its symlink"

step "2. accounts"
getent group loki-admin   >/dev/null || groupadd --system loki-admin
getent passwd loki-gateway >/dev/null || useradd --system --user-group --no-create-home \
  --home-dir /nonexistent --shell /usr/sbin/nologin loki-gateway

step "3. config and units"
install -d -m 0755 "$R/etc/loki" "$R/etc/systemd/system"
install -m 0644 deploy/systemd/lokid.yaml "$R/etc/loki/lokid.yaml"
install -m 0644 deploy/systemd/lokid.service deploy/systemd/loki-gateway.service "$R/etc/systemd/system/"
"$R/usr/local/bin/lokid" --check-config --config "$R/etc/loki/lokid.yaml" | grep -q 'config OK' || fail "lokid --check-config"

step "4. start lokid and loki-gateway as their units would"
# RuntimeDirectory=loki (0755) and StateDirectory=loki (0700), as systemd makes them.
install -d -m 0755 "$R/run" "$R/run/loki" "$R/var" "$R/var/lib"
install -d -m 0700 "$R/var/lib/loki"
unit=$R/etc/systemd/system/lokid.service
# shellcheck disable=SC2046
env -i PATH="$PATH" $(unit_env "$unit") $(unit_exec "$unit") >"$R/lokid.log" 2>&1 &
lokid_pid=$!; pids+=("$lokid_pid")
export LOKI_SOCKET=$R/run/loki/admin.sock
wait_for "admin.sock" "$R/usr/local/bin/loki" status
[ "$(stat -c '%a %G' "$R/run/loki/gateway.sock")" = "660 loki-gateway" ] || fail "gateway.sock is $(stat -c '%a %G' "$R/run/loki/gateway.sock")"

unit=$R/etc/systemd/system/loki-gateway.service
port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
groups=$(sed -n 's/^SupplementaryGroups=//p' "$unit")
# shellcheck disable=SC2046
env -i PATH="$PATH" $(unit_env "$unit") LOKI_API_PORT="$port" \
  setpriv --reuid="$(sed -n 's/^User=//p' "$unit")" --regid="$(sed -n 's/^Group=//p' "$unit")" --groups="$groups" \
  --no-new-privs --inh-caps=-all --bounding-set=-all -- $(unit_exec "$unit") >"$R/gateway.log" 2>&1 &
gw_pid=$!; pids+=("$gw_pid")
base=http://127.0.0.1:$port
wait_for "the gateway" curl -fsS "$base/healthz/ready"

step "5. a token and a project"
token=$("$R/usr/local/bin/loki" enterprise token generate walk --role admin | sed -n 's/^Token: *//p')
[ -n "$token" ] || fail "no token"
# The token goes in on stdin, never in curl's argv (every local user can read /proc/<pid>/cmdline).
api() { printf 'Authorization: Bearer %s\n' "$token" | curl -fsS -H @- "$@"; }
proj=$R/srv/demo
git init -q -b main "$proj"
git -C "$proj" -c user.name=walk -c user.email=walk@loki.invalid commit -q --allow-empty -m init
"$R/usr/local/bin/loki" projects register "$proj" --name demo >/dev/null
[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/api/status")" = 401 ] || fail "/api/status without a token is not 401"
api "$base/api/status" >/dev/null || fail "/api/status with a token"

step "6. a script session through the gateway"
sid=$(api -H 'content-type: application/json' \
  -d '{"prompt":"walk","provider":"script","project":"demo","plan":[{"write":"hello.txt","content":"hello from the walk\n"},{"run":"cat hello.txt"}]}' \
  "$base/api/control/start" | jq -r '.session.id // .id')
[ -n "$sid" ] && [ "$sid" != null ] || fail "no session id"
state=
for _ in $(seq 1 300); do
  state=$(api "$base/api/sessions/$sid" | jq -r '.session.state // .state')
  case "$state" in completed) break ;; failed|stopped) fail "session $sid ended $state" ;; esac
  sleep 0.5
done
[ "$state" = completed ] || fail "session $sid is $state, not completed"
echo "session $sid completed"

step "7. reload the config with SIGHUP (ExecReload)"
sed -i 's/^log_level: info/log_level: debug/' "$R/etc/loki/lokid.yaml"
kill -HUP "$lokid_pid"
wait_for "lokid to log the reload" grep -q '"log_level":"debug".*config reloaded\|config reloaded.*"log_level":"debug"' "$R/lokid.log"
kill -HUP "$gw_pid"
wait_for "the gateway to log the reload" grep -q 'configuration reloaded' "$R/gateway.log"
api "$base/api/status" >/dev/null || fail "gateway after reload"

step "8. back up online (sqlite3 .backup, the audit log and its key)"
b=$R/backup; mkdir -p "$b"
sqlite3 "$R/var/lib/loki/state/loki.db" ".backup '$b/loki.db'"
cp -a "$R/var/lib/loki/dashboard/audit" "$b/audit"
install -m 0600 "$R/var/lib/loki/state/audit.key" "$b/audit.key"

step "9. restore into a fresh LOKI_HOME and find the session"
kill "$gw_pid" "$lokid_pid"; wait "$gw_pid" "$lokid_pid" 2>/dev/null || true; pids=()
fresh=$R/restored
install -d -m 0700 "$fresh" "$fresh/state" "$fresh/dashboard"
install -m 0600 "$b/loki.db" "$fresh/state/loki.db"
install -m 0600 "$b/audit.key" "$fresh/state/audit.key"
cp -a "$b/audit" "$fresh/dashboard/audit"
env -i PATH="$PATH" LOKI_HOME="$fresh" "$R/usr/local/bin/lokid" >"$R/restored.log" 2>&1 &
pids+=("$!")
export LOKI_SOCKET=$fresh/run/admin.sock
wait_for "the restored lokid" "$R/usr/local/bin/loki" status
"$R/usr/local/bin/loki" sessions list --all --json | jq -e --arg id "$sid" '.sessions | map(select(.id == $id and .state == "completed")) | length == 1' >/dev/null \
  || fail "session $sid not found in the restored store"
"$R/usr/local/bin/loki" enterprise audit verify | grep -q '^OK' || fail "audit verify after restore"
echo "session $sid found completed in the restored store; audit chain verified"
step "done"
