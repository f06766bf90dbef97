#!/bin/sh
# Entrypoint of a Redis data node (compose's redis-master, redis-replica and
# redis-replica2; Kubernetes' redis-0..2): starts it in the role the
# Sentinels give it now, not the one it was deployed with, so a node that
# comes back after a failover rejoins as the new master's replica at once.
#
# A node the Sentinels still name as master is waited for a while first: if
# it crashed, its append-only file may be up to a second behind what its
# replicas acknowledged, and starting it as master before the Sentinels
# promote a replica would make the replicas resync from it and lose those
# placements. Only when no failover happens (no replica could take over)
# does it start as master.
#
#   data-node.sh DEFAULT_MASTER_HOST|"" [redis-server arguments...]
# (an empty host: a master by default, otherwise a replica of that host)
#
# SENTINEL_HOSTS lists the Sentinels (default: compose's three). Where
# addresses change at every restart (pods rescheduled), ANNOUNCE_HOSTNAME is
# this node's stable DNS name: it announces itself by it, and the Sentinels
# name masters by it. Without it (compose), nodes go by address. REDIS_MAXMEMORY caps its memory
# (about two thirds of the container's: a full Redis refuses writes instead
# of being killed). TLS and the users come from the environment
# (redis/secure.sh).
set -eu
here=/usr/local/etc/redis
. "$here/secure.sh"
default_master=$1
shift
{
  cat "$here/redis.conf" "$here/replicated.conf"
  data_node_security 6379
  [ -z "${REDIS_MAXMEMORY:-}" ] || echo "maxmemory $REDIS_MAXMEMORY"
} >/data/redis.conf
chmod 600 /data/redis.conf # it holds the users' passwords
sentinels=${SENTINEL_HOSTS:-sentinel1 sentinel2 sentinel3}
settle_seconds=${SENTINEL_SETTLE_SECONDS:-15}
tls=""
[ -z "${REDIS_TLS_DIR:-}" ] || tls="--tls --cacert $REDIS_TLS_DIR/ca.crt"

named_master() { # "host port" from the first Sentinel that answers
  for sentinel in $sentinels; do
    # A Sentinel that is gone but still resolves must not hold the start up.
    # shellcheck disable=SC2086 # the TLS options are several words
    answer=$(timeout 3 redis-cli $tls -h "$sentinel" -p 26379 \
      sentinel get-master-addr-by-name canvas 2>/dev/null) || continue
    [ "$(echo "$answer" | wc -l)" = 2 ] && { echo "$answer" | paste -sd' ' -; return 0; }
  done
  return 1
}

if [ -n "${ANNOUNCE_HOSTNAME:-}" ]; then
  me=$ANNOUNCE_HOSTNAME
  set -- "$@" --replica-announce-ip "$me"
else
  me=$(hostname -i | cut -d' ' -f1)
fi
master=$(named_master || true)
if [ -n "$master" ] && [ "${master%% *}" = "$me" ] && [ -d /data/appendonlydir ]; then
  # Restarted while still named master: give the Sentinels time to fail over.
  waited=0
  while [ "$waited" -lt "$settle_seconds" ]; do
    sleep 1
    waited=$((waited + 1))
    master=$(named_master || true)
    [ "${master%% *}" != "$me" ] && break
  done
fi
if [ -n "$master" ] && [ "${master%% *}" != "$me" ]; then
  # shellcheck disable=SC2086 # "host port"
  exec redis-server /data/redis.conf --replicaof $master "$@"
elif [ -z "$master" ] && [ -n "$default_master" ]; then
  # By address where there is no stable name to announce (compose): a
  # replica resolves its master's name at every reconnection, blocking.
  [ -n "${ANNOUNCE_HOSTNAME:-}" ] || default_master=$(address_of "$default_master")
  exec redis-server /data/redis.conf --replicaof "$default_master" 6379 "$@"
else
  exec redis-server /data/redis.conf "$@"
fi
