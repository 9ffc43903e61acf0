# Request Tracker 5 on 127.0.0.1:8091 for the RT adapter's tests (sourced by scripts/services).
# scripts/itsm/rt/rt.sh installs, configures, seeds once and starts it; it runs as its own
# process so none of its failures can end the sourcing shell. Fixed test credentials below
# match scripts/itsm/rt/initialdata.pl.
if scripts/itsm/rt/rt.sh up; then
  export WARDEN_TEST_RT_URL="http://127.0.0.1:${WARDEN_RT_PORT:-8091}"
  export WARDEN_TEST_RT_USER=warden
  export WARDEN_TEST_RT_PASSWORD=warden-rt-test-password
  export WARDEN_TEST_RT_WEBHOOK_SECRET="${WARDEN_RT_WEBHOOK_SECRET:-whsec_d2FyZGVuLXJ0LXdlYmhvb2stdGVzdC1zZWNyZXQtMzI=}"
  export WARDEN_TEST_RT_WEBHOOK_URL="${WARDEN_RT_WEBHOOK_URL:-http://127.0.0.1:18080/v1/itsm/rt}"
  export WARDEN_TEST_RT_APPROVER=bob
  export WARDEN_TEST_RT_APPROVER_PASSWORD=bob-rt-test-password
  export WARDEN_TEST_RT_APPROVER2=carol
  export WARDEN_TEST_RT_APPROVER2_PASSWORD=carol-rt-test-password
  export WARDEN_TEST_RT_REQUESTER=alice
  export WARDEN_TEST_RT_REQUESTER_PASSWORD=alice-rt-test-password
else
  echo "service rt is not reachable" >&2
  if [ "${CI:-}" = "true" ]; then exit 1; fi
  unset WARDEN_TEST_RT_URL WARDEN_TEST_RT_USER WARDEN_TEST_RT_PASSWORD WARDEN_TEST_RT_WEBHOOK_SECRET \
    WARDEN_TEST_RT_WEBHOOK_URL WARDEN_TEST_RT_APPROVER WARDEN_TEST_RT_APPROVER_PASSWORD \
    WARDEN_TEST_RT_APPROVER2 WARDEN_TEST_RT_APPROVER2_PASSWORD WARDEN_TEST_RT_REQUESTER \
    WARDEN_TEST_RT_REQUESTER_PASSWORD
fi
