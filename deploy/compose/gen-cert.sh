#!/usr/bin/env bash
# Makes a self-signed TLS certificate for the nginx proxy (docker-compose):
#   deploy/compose/gen-cert.sh [DIR] [HOSTNAME]   (default: deploy/compose/tls, localhost)
# Replace it with a real certificate in production (docs/RUNBOOK.md, "Rotate TLS certificates").
set -euo pipefail
dir=${1:-"$(dirname "$0")/tls"}
host=${2:-localhost}
mkdir -p "$dir"
umask 077
openssl req -x509 -newkey rsa:2048 -sha256 -days 365 -nodes \
  -subj "/CN=$host" -addext "subjectAltName=DNS:$host,DNS:localhost,IP:127.0.0.1" \
  -keyout "$dir/tls.key" -out "$dir/tls.crt" 2>/dev/null
chmod 0644 "$dir/tls.crt"
# nginx's master process reads the key as root. In docker-compose it has no CAP_DAC_OVERRIDE,
# so root must own the key: a key of another user's, mode 0640, is "Permission denied".
chmod 0640 "$dir/tls.key"
echo "wrote $dir/tls.crt and $dir/tls.key for $host"
if [ "$(id -u)" != 0 ]; then
  echo "note: for docker-compose, make root own the key: sudo chown root: $dir/tls.key (nginx reads it as root without CAP_DAC_OVERRIDE)" >&2
fi
