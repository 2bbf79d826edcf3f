#!/usr/bin/env bash
# Writes lokid's health for node_exporter's textfile collector (run every minute
# from cron or loki-health.timer as root or a loki-admin member):
#   loki_daemon_up                         1 if `loki status` answers
#   loki_audit_verify_ok                   1 if `loki enterprise audit verify` passes (HMAC chain intact)
#   loki_audit_verified_entries            entries verified in the last run
#   loki_health_last_run_timestamp_seconds when this last ran
# Usage: loki-health-textfile.sh [OUTPUT_DIR]   (default /var/lib/prometheus/node-exporter)
set -uo pipefail
dir=${1:-/var/lib/prometheus/node-exporter}
loki=${LOKI_BIN:-loki}
up=0; ok=0; entries=0
if $loki status --json >/dev/null 2>&1; then
  up=1
  if out=$($loki enterprise audit verify --json 2>/dev/null); then ok=1; fi
  entries=$(printf '%s' "${out:-}" | sed -n 's/.*"entries": *\([0-9]*\).*/\1/p' | head -1)
fi
tmp=$(mktemp "$dir/.loki.prom.XXXXXX")
cat >"$tmp" <<PROM
# HELP loki_daemon_up Whether lokid answered loki status.
# TYPE loki_daemon_up gauge
loki_daemon_up $up
# HELP loki_audit_verify_ok Whether the audit log HMAC chain verified (only while lokid is up).
# TYPE loki_audit_verify_ok gauge
$( [ "$up" = 1 ] && echo "loki_audit_verify_ok $ok" )
# HELP loki_audit_verified_entries Audit entries verified in the last run.
# TYPE loki_audit_verified_entries gauge
loki_audit_verified_entries ${entries:-0}
# HELP loki_health_last_run_timestamp_seconds When loki-health-textfile.sh last ran.
# TYPE loki_health_last_run_timestamp_seconds gauge
loki_health_last_run_timestamp_seconds $(date +%s)
PROM
chmod 0644 "$tmp"
mv "$tmp" "$dir/loki.prom"
