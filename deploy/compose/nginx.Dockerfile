# nginx for the compose TLS proxy, built offline like the other images
# (scripts/build-images.sh with LOKI_IMAGES=nginx): Debian's nginx from the
# host's apt mirror on the debootstrapped base. With a registry, any nginx image
# (e.g. nginx:1.27) works with the same config files.
ARG RUNTIME_BASE=loki-node-base:local
FROM ${RUNTIME_BASE}
COPY dist/docker/nginx-debs /tmp/debs
RUN dpkg -i /tmp/debs/*.deb && rm -rf /tmp/debs /etc/nginx/sites-enabled /etc/nginx/conf.d/* \
 && ln -sf /dev/stdout /var/log/nginx/access.log \
 && mkdir -p /etc/nginx/tls
STOPSIGNAL SIGQUIT
EXPOSE 80 443
# bash, not sh: /dev/tcp is bash's (Debian's sh, dash, has none and the check never passed).
HEALTHCHECK --interval=10s --timeout=3s --retries=3 CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/443"]
ENTRYPOINT ["nginx", "-g", "daemon off;"]
