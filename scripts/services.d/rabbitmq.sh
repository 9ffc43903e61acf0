# RabbitMQ for the RabbitMQ connector's tests: AMQP on 127.0.0.1:5672 and the management
# API on 127.0.0.1:15672, both as guest/guest (which RabbitMQ only accepts from
# loopback). Sourced by scripts/services with `set -euo pipefail` active: every command
# that may fail sits in an `if`.

warden_rabbitmq_amqp_up() { (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; }
warden_rabbitmq_api_up() {
  curl -fsS -o /dev/null -u guest:guest http://127.0.0.1:15672/api/overview 2>/dev/null
}

warden_rabbitmq_ok=true
if ! command -v curl >/dev/null 2>&1; then
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl >/dev/null; }; then
    echo "could not install curl" >&2
  fi
fi
if ! warden_rabbitmq_amqp_up; then
  if ! command -v rabbitmq-server >/dev/null 2>&1; then
    echo "installing RabbitMQ" >&2
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server >/dev/null; }; then
      echo "could not install rabbitmq-server" >&2
    fi
  fi
  if command -v rabbitmq-server >/dev/null 2>&1; then
    echo "starting RabbitMQ" >&2
    if ! rabbitmq-server -detached >/dev/null 2>&1; then
      echo "rabbitmq-server did not start" >&2
    fi
  fi
  if ! warden_service_up rabbitmq-amqp warden_rabbitmq_amqp_up; then warden_rabbitmq_ok=false; fi
fi

if [ "$warden_rabbitmq_ok" = true ] && ! warden_rabbitmq_api_up; then
  # The management plugin serves the API the connector uses; enabling it on a running
  # node starts it without a restart.
  echo "enabling the RabbitMQ management plugin" >&2
  if ! rabbitmq-plugins enable rabbitmq_management >/dev/null 2>&1; then
    echo "rabbitmq-plugins enable rabbitmq_management failed" >&2
  fi
  if ! warden_service_up rabbitmq-management warden_rabbitmq_api_up; then warden_rabbitmq_ok=false; fi
fi

if [ "$warden_rabbitmq_ok" = true ]; then
  export WARDEN_TEST_RABBITMQ_URL="${WARDEN_TEST_RABBITMQ_URL:-http://guest:guest@127.0.0.1:15672}"
  export WARDEN_TEST_AMQP_URL="${WARDEN_TEST_AMQP_URL:-amqp://127.0.0.1:5672}"
else
  if [ "${CI:-}" = "true" ]; then exit 1; fi
  unset WARDEN_TEST_RABBITMQ_URL WARDEN_TEST_AMQP_URL
fi
