#!/bin/sh
# Entrypoint of a data node (compose's redis-master, redis-replica and
# redis-replica2; Kubernetes' redis-0..2): starts it in the role the
# Sentinels give it now, not the one it was deployed with, so a node that
# comes back after a failover rejoins as the new master's replica at once.
#
# A node the Sentinels still name as master is waited for a while first: if
# it crashed, its append-only file may be up to a second behind what its
# replicas acknowledged, and starting it as master before the Sentinels
# promote a replica would make the replicas resync from it and lose those
# placements. Only when no failover happens (no replica could take over)
# does it start as master. With an empty volume (a node replaced, a disk
# lost) it never does while the Sentinels know a replica: an empty master
# would wipe every replica that resyncs from it. It waits for the failover
# instead, and after EMPTY_WAIT_SECONDS (600) exits so that the
# orchestrator restarts it (and shows it restarting) rather than guess.
#
#   data-node.sh DEFAULT_MASTER_HOST|"" [redis-server arguments...]
# (an empty host: a master by default, otherwise a replica of that host)
#
# SENTINEL_HOSTS lists the Sentinels (default: compose's three). Each is
# given SENTINEL_TIMEOUT_SECONDS (2) to answer, and the one that answered
# last is asked first: a Sentinel whose host is gone but whose name still
# resolves costs one timeout, once. Where addresses change at every restart
# (pods rescheduled), ANNOUNCE_HOSTNAME is this node's stable DNS name: it
# announces itself by it, and the Sentinels name masters by it. Without it
# (compose), nodes go by address. REDIS_MAXMEMORY caps its memory (about
# two thirds of the container's: a full Redis refuses writes instead of
# being killed). TLS and the users come from the environment
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
empty_wait_seconds=${EMPTY_WAIT_SECONDS:-600}
ask_seconds=${SENTINEL_TIMEOUT_SECONDS:-2}
tls=""
[ -z "${REDIS_TLS_DIR:-}" ] || tls="--tls --cacert $REDIS_TLS_DIR/ca.crt"

# ask_sentinels COMMAND...: the answer of the first Sentinel that gives one
# (in $answer), the one that answered last asked first. Not a subshell, so
# that it remembers which one that was.
answered=""
ask_sentinels() {
  for sentinel in $answered $sentinels; do
    # shellcheck disable=SC2086 # the TLS options are several words
    if answer=$(timeout "$ask_seconds" redis-cli $tls -h "$sentinel" -p 26379 "$@" 2>/dev/null) \
      && [ -n "$answer" ]; then
      answered=$sentinel
      return 0
    fi
  done
  answer=""
  return 1
}

# named_master: "host port" of the master the Sentinels name, in $master
# (empty when none answers).
named_master() {
  master=""
  ask_sentinels sentinel get-master-addr-by-name canvas || return 0
  [ "$(echo "$answer" | wc -l)" = 2 ] && master=$(echo "$answer" | paste -sd' ' -)
  return 0
}

# known_replicas: how many replicas the Sentinels know the master to have
# (up or down), in $replicas.
known_replicas() {
  replicas=0
  ask_sentinels sentinel master canvas || return 0
  replicas=$(echo "$answer" | awk 'previous == "num-slaves" { print; exit } { previous = $0 }')
  replicas=${replicas:-0}
}

# wait_for_failover SECONDS: until the Sentinels name another master, or
# SECONDS have passed.
wait_for_failover() {
  deadline=$(($(date +%s) + $1))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    sleep 1
    named_master
    [ -n "$master" ] && [ "${master%% *}" != "$me" ] && return 0
  done
  return 1
}

if [ -n "${ANNOUNCE_HOSTNAME:-}" ]; then
  me=$ANNOUNCE_HOSTNAME
  set -- "$@" --replica-announce-ip "$me"
else
  me=$(hostname -i | cut -d' ' -f1)
fi
named_master
if [ -n "$master" ] && [ "${master%% *}" = "$me" ]; then
  if [ -d /data/appendonlydir ] || [ -s /data/dump.rdb ]; then
    # Restarted while still named master: give the Sentinels time to fail over.
    wait_for_failover "$settle_seconds" || true
  else
    known_replicas
    if [ "$replicas" -gt 0 ]; then
      echo "data-node.sh: named master with an empty volume while the Sentinels know $replicas replica(s): waiting for them to promote one" >&2
      wait_for_failover "$empty_wait_seconds" || {
        echo "data-node.sh: no failover in ${empty_wait_seconds}s; refusing to start as an empty master" >&2
        exit 1
      }
    fi
  fi
fi
if [ -n "$master" ] && [ "${master%% *}" != "$me" ]; then
  echo "data-node.sh: starting as a replica of ${master%% *}" >&2
  # shellcheck disable=SC2086 # "host port"
  exec redis-server /data/redis.conf --replicaof $master "$@"
elif [ -z "$master" ] && [ -n "$default_master" ]; then
  # By address where there is no stable name to announce (compose): a
  # replica resolves its master's name at every reconnection, blocking.
  [ -n "${ANNOUNCE_HOSTNAME:-}" ] || default_master=$(address_of "$default_master")
  echo "data-node.sh: no Sentinel answered; starting as a replica of $default_master" >&2
  exec redis-server /data/redis.conf --replicaof "$default_master" 6379 "$@"
else
  echo "data-node.sh: starting as master" >&2
  exec redis-server /data/redis.conf "$@"
fi
