#!/bin/sh
# Entrypoint of a Sentinel (compose's sentinel1..3, Kubernetes'
# redis-sentinel-0..2): writes its configuration on the first start only,
# since a Sentinel rewrites that file with what it learns (the current
# master, the other Sentinels) and must find it again after a restart:
# written anew, it would watch the node that was master at first, which
# after a failover is a replica. With ANNOUNCE_HOSTNAME (Kubernetes, where
# pod addresses change) it announces itself, and names the Redis nodes, by
# their stable DNS names; without (compose), by address.
#
# Environment: ANNOUNCE_HOSTNAME (this Sentinel's DNS name), INITIAL_MASTER
# (the DNS name of the node that is master at first), DOWN_AFTER_MS (how
# long a silent master is given before the failover: 5000), and TLS and the
# passwords (redis/secure.sh). Changing them later takes a fresh volume: the
# file is written once.
set -eu
. /usr/local/etc/redis/secure.sh
conf=/data/sentinel.conf
if [ ! -s "$conf" ]; then
  if [ -n "${ANNOUNCE_HOSTNAME:-}" ]; then
    # Pod addresses change (Kubernetes): everyone by DNS name.
    naming="sentinel resolve-hostnames yes
sentinel announce-hostnames yes
sentinel announce-ip $ANNOUNCE_HOSTNAME"
    master=${INITIAL_MASTER:?}
  else
    # Addresses (compose): the first master's resolved once, here.
    naming=""
    master=$(address_of "${INITIAL_MASTER:?}")
    [ -n "$master" ] || { echo "sentinel.sh: cannot resolve $INITIAL_MASTER" >&2; exit 1; }
  fi
  {
    sentinel_security 26379
    [ -z "$naming" ] || echo "$naming"
    cat <<CONF
sentinel monitor canvas $master 6379 2
sentinel auth-user canvas sentinel
sentinel auth-pass canvas $REDIS_SENTINEL_PASSWORD
sentinel down-after-milliseconds canvas ${DOWN_AFTER_MS:-5000}
sentinel failover-timeout canvas 60000
sentinel parallel-syncs canvas 1
CONF
  } >"$conf.new"
  chmod 600 "$conf.new" # it holds the Sentinels' password
  mv "$conf.new" "$conf"
fi
exec redis-server "$conf" --sentinel
