# The offline build base: loki-node-base:local plus the host's npm (for `npm prune`
# in the build stages). Made by scripts/build-images.sh; never shipped.
ARG BASE=loki-node-base:local
FROM ${BASE}
COPY npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm && npm --version
