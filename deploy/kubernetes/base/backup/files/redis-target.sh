# shellcheck shell=sh
# Sourced by scripts/backup and scripts/restore (POSIX sh: they also run in
# the Redis image, which has no bash): finds the Redis master the way the app
# does, from the same variables.
#
#   REDIS_SENTINELS (host:port,…) + REDIS_MASTER_NAME (canvas): ask the Sentinels
#   REDIS_URL (redis://[user:password@]host:port[/db])
#   REDIS_HOST + REDIS_PORT (6379)
#   REDIS_USERNAME, REDIS_PASSWORD: the ACL user and its password, unless the
#   URL has them
#   REDIS_TLS (true, or a rediss:// URL) and REDIS_TLS_CA_FILE (or
#   REDIS_TLS_DIR/ca.crt): Sentinels and master over TLS
#
# Sets redis_host, redis_port, tls (redis-cli's TLS options) and, for
# redis-cli, REDISCLI_AUTH.

fail() {
  echo "$*" >&2
  exit 1
}

locate_master() {
  redis_host="" redis_port="" tls=""
  case "${REDIS_URL:-}" in rediss://*) REDIS_TLS=true ;; esac
  if [ "${REDIS_TLS:-false}" = true ]; then
    ca=${REDIS_TLS_CA_FILE:-${REDIS_TLS_DIR:+$REDIS_TLS_DIR/ca.crt}}
    tls="--tls${ca:+ --cacert $ca}"
  fi
  if [ -n "${REDIS_SENTINELS:-}" ]; then
    for sentinel in $(echo "$REDIS_SENTINELS" | tr ',' ' '); do
      # shellcheck disable=SC2086 # the TLS options are several words
      answer=$(timeout 5 redis-cli $tls -h "${sentinel%:*}" -p "${sentinel##*:}" \
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
        case "$userinfo" in
          *:*)
            REDIS_PASSWORD=${userinfo#*:}
            [ -z "${userinfo%%:*}" ] || REDIS_USERNAME=${userinfo%%:*}
            ;;
        esac
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

cli() { # cli COMMAND…: on the master, as the configured user
  # shellcheck disable=SC2086 # the TLS options are several words
  redis-cli --no-auth-warning $tls ${REDIS_USERNAME:+--user "$REDIS_USERNAME"} \
    -h "$redis_host" -p "$redis_port" "$@"
}
