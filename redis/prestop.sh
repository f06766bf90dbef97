#!/bin/sh
# A data node's preStop hook (Kubernetes runs it before it stops the pod:
# a rollout, a node drain): when this node is the master, hand the role to
# a replica first, so that stopping it costs a moment of held placements
# instead of the Sentinels' down-after (5 s) plus the failover, all of it
# refused.
#
# 1. Writes here are paused (CLIENT PAUSE WRITE), and the replicas asked
#    until each has processed every write: the replica the Sentinels pick
#    has every placement, and none is acknowledged here that it lacks.
# 2. A Sentinel is asked to fail over (SENTINEL FAILOVER).
# 3. As soon as a replica says it is master (a Sentinel learns it up to a
#    second later), this node becomes its replica and lifts the pause: the
#    writes held meanwhile get READONLY, and the app, which takes that as
#    "the master moved", goes to the new master (whose ROLE this node now
#    names, server/src/backend/redis/locate.rs).
# Anything that fails on the way lifts the pause and lets the stop go on as
# it would have (the Sentinels fail over once the node is gone). Within
# PRESTOP_SECONDS (20), under the pod's grace period (30).
#
# Environment as data-node.sh's: SENTINEL_HOSTS, REDIS_TLS_DIR, and REDIS_SENTINEL_PASSWORD (it acts as a Sentinel would,
# with the Sentinels' user; the password goes by REDISCLI_AUTH, never on a
# command line).
set -u
sentinels=${SENTINEL_HOSTS:-sentinel1 sentinel2 sentinel3}
budget=${PRESTOP_SECONDS:-20}
tls=""
[ -z "${REDIS_TLS_DIR:-}" ] || tls="--tls --cacert $REDIS_TLS_DIR/ca.crt"
REDISCLI_AUTH=${REDIS_SENTINEL_PASSWORD:?}
export REDISCLI_AUTH
deadline=$(($(date +%s) + budget))

now_ms() { # milliseconds since the epoch (whole seconds where date lacks %N)
  now=$(date +%s%N)
  case $now in
    *[!0-9]*) echo $(($(date +%s) * 1000)) ;;
    *) echo $((now / 1000000)) ;;
  esac
}
started=$(now_ms)
say() { echo "prestop.sh: $(($(now_ms) - started)) ms: $*" >&2; }
here() { # here COMMAND...: on this node, as the Sentinels' user
  # shellcheck disable=SC2086 # the TLS options are several words
  timeout 2 redis-cli $tls --user sentinel -p 6379 "$@"
}
# (POSIX sh has no local variables: the helpers' own have names of their own.)
sentinel() { # sentinel HOST COMMAND...
  # shellcheck disable=SC2086
  timeout 2 redis-cli $tls --user sentinel -p 26379 -h "$@"
}

node() { # node HOST PORT COMMAND...: on another data node
  node_host=$1 node_port=$2
  shift 2
  # shellcheck disable=SC2086
  timeout 2 redis-cli $tls --user sentinel -h "$node_host" -p "$node_port" "$@"
}
field() { # field NAME: its value in INFO's text on stdin
  tr -d '\r' | sed -n "s/^$1://p"
}

[ "$(here role | head -1)" = master ] || exit 0
# "host port" of each replica, as they announce themselves.
replicas=$(here info replication | tr -d '\r' |
  sed -n 's/^slave[0-9]*:ip=\([^,]*\),port=\([0-9]*\),.*/\1 \2/p')
[ -n "$replicas" ] || { say "master without a connected replica: nothing to hand over"; exit 0; }

here client pause $((budget * 1000)) write >/dev/null || { say "cannot pause writes"; exit 0; }
trap 'here client unpause >/dev/null' EXIT
offset=$(here info replication | field master_repl_offset)
say "writes paused at offset $offset"

echo "$replicas" | while read -r host port; do
  while [ "$(date +%s)" -lt "$deadline" ]; do
    [ "$(node "$host" "$port" info replication | field slave_repl_offset)" -ge "$offset" ] 2>/dev/null && break
    sleep 0.01
  done
done
say "the replicas have every write"

asked=""
for host in $sentinels; do
  if [ "$(sentinel "$host" sentinel failover canvas 2>/dev/null)" = OK ]; then
    asked=$host
    break
  fi
done
[ -n "$asked" ] || { say "no Sentinel would fail over"; exit 0; }
say "asked $asked to fail over"

while [ "$(date +%s)" -lt "$deadline" ]; do
  for replica in $(echo "$replicas" | tr ' ' ':'); do
    host=${replica%:*} port=${replica##*:}
    if [ "$(node "$host" "$port" role 2>/dev/null | head -1)" = master ]; then
      # This node and the other replicas follow it at once (the Sentinels
      # would tell the others a second later): the new master acknowledges
      # writes only once a replica has them, and this node is about to go.
      here slaveof "$host" "$port" >/dev/null
      for other in $(echo "$replicas" | tr ' ' ':'); do
        [ "$other" = "$replica" ] || node "${other%:*}" "${other##*:}" slaveof "$host" "$port" >/dev/null
      done
      here client unpause >/dev/null
      say "handed over to $host"
      # Stopped once another replica is in sync with it (two: this node
      # and another), not before.
      wanted=$(echo "$replicas" | wc -l)
      [ "$wanted" -le 2 ] || wanted=2
      while [ "$(date +%s)" -lt "$deadline" ]; do
        in_sync=$(node "$host" "$port" info replication | tr -d '\r' | grep -c '^slave[0-9]*:.*state=online')
        [ "$in_sync" -ge "$wanted" ] && break
        sleep 0.05
      done
      say "$host has $in_sync replica(s) in sync"
      exit 0
    fi
  done
done
say "no replica was promoted in ${budget}s"
