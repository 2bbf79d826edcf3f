# loki-gateway image. Build offline with scripts/build-images.sh (no registry needed),
# or on a host that can pull:
#   docker build -f deploy/docker/gateway.Dockerfile \
#     --build-arg BUILD_BASE=node:20-bookworm --build-arg RUNTIME_BASE=node:20-bookworm-slim -t loki-gateway .
# after `npm ci && npm run build` (the context is the repository; see .dockerignore).
ARG BUILD_BASE=loki-node-build:local
ARG RUNTIME_BASE=loki-node-base:local

# --- build: production dependencies only (native addons as built by `npm ci` on the host) ---
FROM ${BUILD_BASE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY node_modules ./node_modules
RUN npm prune --omit=dev --offline --no-audit --no-fund --ignore-scripts \
 && rm -rf node_modules/.cache \
 && find node_modules -mindepth 1 -maxdepth 1 -type d -empty -delete
COPY dist/common ./dist/common
COPY dist/proto ./dist/proto
COPY dist/client ./dist/client
COPY dist/gateway ./dist/gateway
# The web dashboard's hashed assets (npm run build → scripts/build-web.mjs).
COPY dist/web ./dist/web
COPY dist/docker/tini-static /tini

# --- runtime: node, tini as PID 1, a non-root user in the group that may open gateway.sock ---
FROM ${RUNTIME_BASE}
COPY --from=build /tini /usr/local/bin/tini
COPY --from=build /app /app
# Same ids as the daemon image: gateway.sock is 0660 group loki-gateway (10002).
RUN (getent group loki-gateway || groupadd --system --gid 10002 loki-gateway) \
 && (getent passwd loki-gateway || useradd --system --uid 10002 --gid 10002 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin loki-gateway)
ENV NODE_ENV=production \
    LOKI_API_HOST=0.0.0.0 \
    LOKI_API_PORT=57374 \
    LOKI_DAEMON_SOCKET=/run/loki/gateway.sock
USER 10002:10002
EXPOSE 57374
LABEL org.opencontainers.image.title="loki-gateway" loki.image=gateway
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.LOKI_API_PORT||57374)+'/healthz/live').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["/usr/local/bin/tini", "--", "node", "/app/dist/gateway/src/main.js"]
