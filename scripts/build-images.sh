#!/usr/bin/env bash
# Builds the loki-gateway and lokid container images with no registry, the same
# way `loki sandbox build` makes the sandbox base: debootstrap a Debian bookworm
# root filesystem, add the host's node, `docker import` it as loki-node-base:local,
# then run the multi-stage Dockerfiles in deploy/docker/ on top of it.
#
#   scripts/build-images.sh            # → loki-gateway:<version>, lokid:<version> (+ :latest)
#   LOKI_IMAGE_TAG=dev scripts/build-images.sh   # → loki-gateway:dev, lokid:dev only
#   LOKI_REBUILD_BASE=1 ...            # re-debootstrap the base
#   LOKI_IMAGES="gateway lokid nginx"  # which images (default: gateway lokid; nginx for compose)
#   LOKI_IMAGE_BASE=node:20-bookworm-slim LOKI_IMAGE_BUILD_BASE=node:20-bookworm ...
#                                      # on a host that can pull: skip debootstrap
#
# Needs root (debootstrap), docker, and a built tree (`npm ci && npm run build`;
# the images take the host's node_modules, whose native addons `npm ci` built for
# this node and glibc, and prune the dev dependencies offline).
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '\n== %s\n' "$*"; }

version=$(node -p "require('./package.json').version")
tag=${LOKI_IMAGE_TAG:-$version}
base=${LOKI_IMAGE_BASE:-loki-node-base:local}
build_base=${LOKI_IMAGE_BUILD_BASE:-loki-node-build:local}
images=${LOKI_IMAGES:-gateway lokid}

[ -f dist/gateway/src/main.js ] && [ -d node_modules ] || { echo "build first: npm ci && npm run build" >&2; exit 1; }
command -v tini-static >/dev/null || [ -x /usr/bin/tini-static ] || { echo "tini is not installed (apt-get install tini)" >&2; exit 1; }

mirror() {
  local f m
  for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
    [ -f "$f" ] || continue
    m=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit} /^deb / && $0 ~ / bookworm / {for (i=2;i<=NF;i++) if ($i ~ /^https?:/) {print $i; exit}}' "$f")
    [ -n "$m" ] && { echo "$m"; return; }
  done
  echo http://deb.debian.org/debian
}

if [ "$base" = loki-node-base:local ] && { [ "${LOKI_REBUILD_BASE:-0}" = 1 ] || ! docker image inspect "$base" >/dev/null 2>&1; }; then
  [ "$(id -u)" = 0 ] || { echo "debootstrap needs root" >&2; exit 1; }
  command -v debootstrap >/dev/null || { echo "debootstrap is not installed (apt-get install debootstrap)" >&2; exit 1; }
  root=$(mktemp -d /tmp/loki-node-base-XXXXXX)
  trap 'rm -rf "$root"' EXIT
  log "debootstrap bookworm (minbase + ca-certificates + git) from $(mirror)"
  debootstrap --variant=minbase --include=ca-certificates,git bookworm "$root" "$(mirror)" >/dev/null
  install -m 0755 "$(readlink -f "$(command -v node)")" "$root/usr/local/bin/node"
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* "$root"/usr/share/man/*
  log "importing $base (node $(node --version))"
  tar --numeric-owner -C "$root" -c . | docker import \
    --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin:/bin:/sbin' \
    --change 'CMD ["node"]' --change 'LABEL loki.image=node-base' - "$base" >/dev/null
  rm -rf "$root"
  trap - EXIT
fi

if [ "$build_base" = loki-node-build:local ]; then
  log "build base $build_base (+ the host's npm)"
  npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
  DOCKER_CLI_HINTS=false docker build -q -f deploy/docker/build-base.Dockerfile --build-arg "BASE=$base" -t "$build_base" "$(dirname "$npm_dir")" >/dev/null
fi

# The Dockerfiles copy tini from the context (dist/ is git-ignored build output).
mkdir -p dist/docker
install -m 0755 "$(command -v tini-static || echo /usr/bin/tini-static)" dist/docker/tini-static

for img in $images; do
  case "$img" in
    gateway) name=loki-gateway; file=deploy/docker/gateway.Dockerfile ;;
    lokid) name=lokid; file=deploy/docker/lokid.Dockerfile ;;
    nginx)
      name=loki-nginx; file=deploy/compose/nginx.Dockerfile
      # Debian's nginx, fetched by the host's apt (the only repository reachable offline).
      rm -rf dist/docker/nginx-debs && mkdir -p dist/docker/nginx-debs
      # nginx and what it needs beyond the base (iproute2 & co.): the dependency closure
      # minus what the base already has at the same version.
      have=$(docker run --rm --entrypoint dpkg-query "$base" -W -f '${Package}=${Version}\n')
      want=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances nginx \
        | grep -E '^[a-z0-9]' | sort -u)
      debs=()
      for p in $want; do
        v=$(apt-cache policy "$p" | awk '/Candidate:/ {print $2}')
        [ -n "$v" ] && [ "$v" != "(none)" ] || continue
        grep -qx "$p=$v" <<<"$have" || debs+=("$p")
      done
      (cd dist/docker/nginx-debs && apt-get download -qq "${debs[@]}" >/dev/null)
      ;;
    *) echo "unknown image $img (gateway, lokid, nginx)" >&2; exit 2 ;;
  esac
  log "building $name:$tag"
  DOCKER_CLI_HINTS=false docker build -q -f "$file" --build-arg "BUILD_BASE=$build_base" --build-arg "RUNTIME_BASE=$base" \
    --label "org.opencontainers.image.version=$version" -t "$name:$tag" $([ -z "${LOKI_IMAGE_TAG:-}" ] && echo "-t $name:latest") . >/dev/null
  echo "$name:$tag $(docker image inspect -f '{{.Size}}' "$name:$tag" | awk '{printf "%.0f MB", $1/1048576}')"
done
