#!/bin/sh
# Entrypoint of a Sentinel on Kubernetes (deploy/kubernetes): writes its
# configuration on the first start only, since a Sentinel rewrites that file
# with what it learns (the current master, the other Sentinels) and must
# find it again after a restart. It announces itself, and names the Redis
# nodes, by their stable DNS names: pod addresses change.
#
# Environment: ANNOUNCE_HOSTNAME (this Sentinel's DNS name), INITIAL_MASTER
# (the DNS name of the node that is master at first), REDIS_PASSWORD.
set -eu
conf=/data/sentinel.conf
if [ ! -f "$conf" ]; then
  cat >"$conf" <<CONF
port 26379
sentinel resolve-hostnames yes
sentinel announce-hostnames yes
sentinel announce-ip ${ANNOUNCE_HOSTNAME:?}
sentinel monitor canvas ${INITIAL_MASTER:?} 6379 2
sentinel auth-pass canvas ${REDIS_PASSWORD:?}
sentinel down-after-milliseconds canvas 5000
sentinel failover-timeout canvas 60000
sentinel parallel-syncs canvas 1
CONF
fi
exec redis-server "$conf" --sentinel
