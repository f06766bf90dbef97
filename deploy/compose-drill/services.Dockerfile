# Stand-ins for the compose file's upstream images, built by
# scripts/compose-drill where a registry cannot be reached: Debian's
# packages of the same programs, each stage tagged with the exact name the
# compose file uses (`docker build --target redis -t redis:7.2-alpine`).
# They start the way the upstream images do (entrypoint, default
# arguments, working directory), so the compose file runs unchanged.
# Versions are Debian bookworm's, older than the upstream tags (Redis 7.0,
# nginx 1.22, Prometheus 2.42): the compose file uses nothing newer.
FROM debian:bookworm-slim AS services
LABEL canvas.standin=true
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      redis-server redis-tools nginx gettext-base wget ca-certificates \
      prometheus prometheus-alertmanager prometheus-redis-exporter prometheus-nginx-exporter \
 && rm -rf /var/lib/apt/lists/*

# redis:7.2-alpine: redis-server and redis-cli on the PATH, /data.
FROM services AS redis
RUN mkdir -p /data
WORKDIR /data
CMD ["redis-server"]

# nginx:1.27-alpine: nginx, envsubst, getent, wget, and its `nginx` user.
FROM services AS nginx
RUN useradd --system --no-create-home --shell /usr/sbin/nologin nginx \
 && chown -R nginx /var/lib/nginx
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]

# prom/prometheus
FROM services AS prometheus
RUN mkdir -p /prometheus
WORKDIR /prometheus
ENTRYPOINT ["/usr/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]

# prom/alertmanager
FROM services AS alertmanager
RUN mkdir -p /alertmanager
WORKDIR /alertmanager
ENTRYPOINT ["/usr/bin/prometheus-alertmanager"]
CMD ["--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager"]

# oliver006/redis_exporter
FROM services AS redis-exporter
ENTRYPOINT ["/usr/bin/prometheus-redis-exporter"]

# nginx/nginx-prometheus-exporter
FROM services AS nginx-exporter
ENTRYPOINT ["/usr/bin/prometheus-nginx-exporter"]
