# shellcheck shell=sh
# Sourced by scripts/backup and scripts/restore (POSIX sh: they also run in
# the Redis image, which has no bash): finds the Redis master the way the app
# does, from the same variables.
#
#   REDIS_SENTINELS (host:port,…) + REDIS_MASTER_NAME (canvas): ask the Sentinels
#   REDIS_URL (redis://[user:password@]host:port[/db])
#   REDIS_HOST + REDIS_PORT (6379)
#   REDIS_PASSWORD: the password, unless the URL has one
#
# Sets redis_host, redis_port and, for redis-cli, REDISCLI_AUTH.

fail() {
  echo "$*" >&2
  exit 1
}

locate_master() {
  redis_host="" redis_port=""
  if [ -n "${REDIS_SENTINELS:-}" ]; then
    for sentinel in $(echo "$REDIS_SENTINELS" | tr ',' ' '); do
      answer=$(redis-cli -h "${sentinel%:*}" -p "${sentinel##*:}" \
        sentinel get-master-addr-by-name "${REDIS_MASTER_NAME:-canvas}" 2>/dev/null) || continue
      redis_host=$(echo "$answer" | sed -n 1p)
      redis_port=$(echo "$answer" | sed -n 2p)
      [ -n "$redis_port" ] && break
    done
    [ -n "$redis_port" ] || fail "no Sentinel in REDIS_SENTINELS named the master"
  elif [ -n "${REDIS_URL:-}" ]; then
    rest=${REDIS_URL#*://}
    case "$rest" in
      *@*)
        userinfo=${rest%%@*}
        rest=${rest#*@}
        case "$userinfo" in *:*) REDIS_PASSWORD=${userinfo#*:} ;; esac
        ;;
    esac
    rest=${rest%%/*}
    redis_host=${rest%:*}
    redis_port=${rest##*:}
    [ "$redis_port" != "$rest" ] || redis_port=6379
  elif [ -n "${REDIS_HOST:-}" ]; then
    redis_host=$REDIS_HOST
    redis_port=${REDIS_PORT:-6379}
  else
    fail "set REDIS_SENTINELS, REDIS_URL or REDIS_HOST (the app's variables)"
  fi
  if [ -n "${REDIS_PASSWORD:-}" ]; then
    REDISCLI_AUTH=$REDIS_PASSWORD
    export REDISCLI_AUTH
  fi
}

cli() { # cli COMMAND…: on the master
  redis-cli --no-auth-warning -h "$redis_host" -p "$redis_port" "$@"
}
