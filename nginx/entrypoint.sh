#!/bin/sh
# The nginx container's entrypoint (compose): renders canvas.conf.template
# with the environment, runs nginx, and reloads it whenever an address of
# the app containers (UPSTREAM_HOSTS) changes. nginx resolves upstream names
# once, when it reads its configuration, so app containers recreated with
# new addresses (`docker compose up -d --force-recreate`) would otherwise
# get 502s until nginx restarts. A reload is graceful: open WebSockets stay
# on the old workers until they close.
set -eu
template=/etc/nginx/canvas/canvas.conf.template
mkdir -p /etc/nginx/conf.d
# shellcheck disable=SC2016 # the names, not their values
envsubst '${CANVAS_UPSTREAMS} ${HTTP_PORT} ${HTTPS_PORT} ${REDIRECT_HTTP} ${STATUS_PORT} ${TLS_CERT} ${TLS_KEY} ${CACHE_DIR}' \
  <"$template" >/etc/nginx/conf.d/canvas.conf

addresses() { # the upstreams' addresses, one line, in a stable order
  for host in ${UPSTREAM_HOSTS:-}; do
    getent hosts "$host" | awk '{ print $1 }' || true
  done | sort | tr '\n' ' '
}

nginx -g 'daemon off;' &
nginx=$!
# docker stop sends TERM: nginx's graceful stop is QUIT.
trap 'kill -QUIT "$nginx" 2>/dev/null' TERM INT QUIT
known=$(addresses)
while kill -0 "$nginx" 2>/dev/null; do
  sleep 2 &
  wait $! || true
  now=$(addresses)
  if [ "$now" != "$known" ]; then
    echo "entrypoint: upstream addresses now [$now], were [$known]: reloading nginx"
    # A name that does not resolve yet fails the reload (nginx keeps the
    # old configuration); the next change tries again.
    nginx -s reload || true
    known=$now
  fi
done
wait "$nginx"
