# lokid image. Build offline with scripts/build-images.sh, or (with a registry):
#   docker build -f deploy/docker/lokid.Dockerfile \
#     --build-arg BUILD_BASE=node:20-bookworm --build-arg RUNTIME_BASE=node:20-bookworm -t lokid .
#
# What it needs from Docker, exactly (docs/DEPLOYMENT.md, "docker-compose"):
# - the engine socket: -v /var/run/docker.sock:/var/run/docker.sock. That is
#   root-equivalent on the host; lokid uses it only to create, inspect, exec, stop
#   and remove its own labelled sandbox containers and to import the base image.
# - root in the container (uid 0): it chowns each workspace to the sandbox user
#   (64000:64000) and its sockets to the loki-admin / loki-gateway groups.
# - LOKI_HOME and the socket dir bind-mounted at the SAME path as on the host
#   (/var/lib/loki, /run/loki): lokid asks the engine to bind-mount workspaces and
#   agent sockets into sandboxes by path, and the engine resolves paths on the host.
#   The agent-runner too: lokid.yaml's sandbox.runner_in_home copies it from /app
#   (which the host does not have) into LOKI_HOME at start.
# It needs no --privileged and no added capabilities. No VOLUME here: an anonymous volume
# would sit at another host path (the engine could not bind from it) and outlive the container.
ARG BUILD_BASE=loki-node-build:local
ARG RUNTIME_BASE=loki-node-base:local

FROM ${BUILD_BASE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY node_modules ./node_modules
RUN npm prune --omit=dev --offline --no-audit --no-fund --ignore-scripts \
 && rm -rf node_modules/.cache \
 && find node_modules -mindepth 1 -maxdepth 1 -type d -empty -delete
COPY dist/common ./dist/common
COPY dist/proto ./dist/proto
COPY dist/daemon ./dist/daemon
COPY dist/client ./dist/client
COPY dist/cli ./dist/cli
COPY dist/agent-runner ./dist/agent-runner
COPY deploy/seccomp ./deploy/seccomp
COPY deploy/docker/lokid.yaml /etc/loki/lokid.yaml
COPY dist/docker/tini-static /tini

FROM ${RUNTIME_BASE}
COPY --from=build /tini /usr/local/bin/tini
COPY --from=build /app /app
COPY --from=build /etc/loki /etc/loki
# The groups whose members may open admin.sock / gateway.sock (same gids as the gateway image).
RUN (getent group loki-admin || groupadd --system --gid 10001 loki-admin) \
 && (getent group loki-gateway || groupadd --system --gid 10002 loki-gateway) \
 && ln -s /app/dist/cli/src/main.js /usr/local/bin/loki \
 && ln -s /app/dist/daemon/src/main.js /usr/local/bin/lokid
ENV NODE_ENV=production \
    LOKI_HOME=/var/lib/loki \
    LOKI_RUN_DIR=/run/loki \
    LOKI_SOCKET=/run/loki/admin.sock
USER 0:0
LABEL org.opencontainers.image.title="lokid" loki.image=daemon
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "/app/dist/cli/src/main.js", "status", "--json"]
ENTRYPOINT ["/usr/local/bin/tini", "--", "node", "/app/dist/daemon/src/main.js", "--config", "/etc/loki/lokid.yaml"]
