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
# nginx (the image's `nginx` user, uid 101 in Debian's package) reads the key.
chmod 0640 "$dir/tls.key"
echo "wrote $dir/tls.crt and $dir/tls.key for $host"
