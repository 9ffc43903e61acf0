# Redis for the Redis connector's tests: 127.0.0.1:6379, default user, nothing on disk.
# Sourced by scripts/services with `set -euo pipefail` active: every command that may
# fail sits in an `if`.

warden_redis_url="redis://127.0.0.1:6379"
warden_redis_ping() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]; }

if ! warden_redis_ping; then
  if ! command -v redis-server >/dev/null 2>&1; then
    echo "installing Redis" >&2
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; }; then
      echo "could not install redis-server" >&2
    fi
  fi
  if command -v redis-server >/dev/null 2>&1; then
    echo "starting Redis" >&2
    mkdir -p /var/lib/redis /var/log/redis
    if ! redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" \
      --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log; then
      echo "redis-server did not start" >&2
    fi
  fi
fi

if warden_service_up redis warden_redis_ping; then
  export WARDEN_TEST_REDIS_URL="${WARDEN_TEST_REDIS_URL:-$warden_redis_url}"
else
  if [ "${CI:-}" = "true" ]; then exit 1; fi
  unset WARDEN_TEST_REDIS_URL
fi
