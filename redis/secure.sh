# shellcheck shell=sh
# Sourced by redis/data-node.sh, redis/sentinel.sh and scripts/cluster (POSIX
# sh: it runs in the Redis image): the TLS and ACL part of a data node's or
# a Sentinel's configuration, printed from the environment.
#
#   REDIS_TLS_DIR               ca.crt, redis.crt, redis.key (scripts/redis-certs,
#                               or cert-manager's Secret); unset: plain TCP
#   REDIS_PASSWORD              the app's user, `canvas`
#   REDIS_REPLICATION_PASSWORD  replicas to their master, user `replica`
#   REDIS_SENTINEL_PASSWORD     Sentinels to the data nodes and to each other,
#                               user `sentinel`
#   REDIS_BACKUP_PASSWORD       scripts/backup and scripts/restore, user `backup`
#   REDIS_MONITOR_PASSWORD      the Prometheus exporter, user `monitor`
#   REDIS_KEY_PREFIX            the keys and channels the app and backups may
#                               touch (canvas)
#
# Every user may run only what its job needs: the app cannot FLUSHALL, CONFIG
# or touch keys outside its prefix; a replica can only replicate; the
# default (unauthenticated) user is off on data nodes. The Sentinels' user
# may also pause writes, for redis/prestop.sh, which hands the master's
# role over the way a Sentinel would.

# tls_settings PORT: listen on PORT with TLS only (no plain TCP port), and
# speak TLS to other nodes (replication, Sentinels).
tls_settings() {
  [ -n "${REDIS_TLS_DIR:-}" ] || { echo "port $1"; return 0; }
  cat <<CONF
port 0
tls-port $1
tls-cert-file $REDIS_TLS_DIR/redis.crt
tls-key-file $REDIS_TLS_DIR/redis.key
tls-ca-cert-file $REDIS_TLS_DIR/ca.crt
tls-auth-clients no
tls-replication yes
CONF
}

# data_node_security PORT: TLS, the users, and how a replica authenticates.
data_node_security() {
  prefix=${REDIS_KEY_PREFIX:-canvas}
  tls_settings "$1"
  cat <<CONF
user default off
user canvas on >${REDIS_PASSWORD:?} resetkeys ~$prefix:* resetchannels &$prefix:* +@all -@dangerous -@admin +role
user replica on >${REDIS_REPLICATION_PASSWORD:?} -@all +psync +replconf +ping
user sentinel on >${REDIS_SENTINEL_PASSWORD:?} allchannels -@all +multi +slaveof +ping +exec +subscribe +config|rewrite +role +publish +info +client|setname +client|kill +script|kill +client|pause +client|unpause
user backup on >${REDIS_BACKUP_PASSWORD:?} resetkeys ~$prefix:* resetchannels &$prefix:* -@all +sync +psync +replconf +ping +role +info +select +scan +get +unlink +restore +publish
user monitor on >${REDIS_MONITOR_PASSWORD:?} -@all +ping +info +role +config|get +client|list +client|info +slowlog +latency +memory|stats +memory|usage +select +cluster|info
masteruser replica
masterauth $REDIS_REPLICATION_PASSWORD
CONF
}

# sentinel_security PORT: TLS, the Sentinels' own user (for each other;
# `sentinel auth-user`/`auth-pass` name the one they reach the data nodes
# as, set after `sentinel monitor`), and a default user that may only ask
# where the master is, which every client does without a password.
sentinel_security() {
  tls_settings "$1"
  cat <<CONF
user default on nopass -@all +ping +auth +hello +role +client|setname +sentinel|get-master-addr-by-name +sentinel|masters +sentinel|master +sentinel|slaves +sentinel|replicas +sentinel|sentinels
user sentinel on >${REDIS_SENTINEL_PASSWORD:?} allkeys allchannels +@all
sentinel sentinel-user sentinel
sentinel sentinel-pass $REDIS_SENTINEL_PASSWORD
CONF
}

# address_of NAME: its IPv4 address (NAME itself if it is one), for the
# entrypoints, which resolve names once at start where addresses are stable
# (compose): Redis and Sentinel resolve a host name with a blocking lookup,
# and a lookup of a node that just died can stall them for seconds (seen:
# 5 s, the resolver's timeout, long enough for Sentinel's TILT mode).
address_of() {
  if command -v getent >/dev/null 2>&1; then
    getent ahostsv4 "$1" | awk 'NR == 1 { print $1 }'
  else
    nslookup "$1" 2>/dev/null |
      awk '/^Name:/ { found = 1 } found && /^Address/ { sub(/^Address( [0-9]+)?: */, ""); print; exit }'
  fi
}
