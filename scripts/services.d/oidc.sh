# OpenID Connect provider for the web console's sign-in tests: oidc-provider (Node.js) from
# scripts/oidc on http://127.0.0.1:9660 (also its issuer; WARDEN_OIDC_PORT moves it), with
# the test client "warden-console" and the sign-in steps that scripts/oidc/provider.mjs
# describes. Installs Node.js and npm from Debian when missing, and the pinned npm packages
# (npm ci) when node_modules is missing or older than package-lock.json. Starts the provider
# detached, pid and log in ${TMPDIR:-/tmp}/warden-oidc/provider-<port>.*, unless it answers
# already; one that this file started from other sources than the current ones is restarted.
# Exports WARDEN_TEST_OIDC_URL (the issuer) and WARDEN_TEST_AXE_URL, the path of axe-core's
# axe.min.js (installed by the same npm ci) for the console's accessibility test. Sourced by
# scripts/services with `set -euo pipefail` active: every command that may fail sits in an
# `if` or `||`.

warden_oidc_src="$(dirname "${BASH_SOURCE[0]}")/../oidc"
if ! warden_oidc_src=$(cd "$warden_oidc_src" 2>/dev/null && pwd -P); then warden_oidc_src=""; fi
warden_oidc_port="${WARDEN_OIDC_PORT:-9660}"
warden_oidc_url="http://127.0.0.1:${warden_oidc_port}"
warden_oidc_run="${TMPDIR:-/tmp}/warden-oidc"

# oidc-provider 9 needs URL.parse (Node.js 20.18 or later).
warden_oidc_node() {
  node -e 'process.exit(typeof URL.parse === "function" ? 0 : 1)' >/dev/null 2>&1 \
    && command -v npm >/dev/null 2>&1
}
# Up means: the discovery document answers and names this issuer.
warden_oidc_ping() {
  node -e '
    const issuer = process.argv[1];
    fetch(`${issuer}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(2000) })
      .then((r) => r.json())
      .then((d) => process.exit(d.issuer === issuer ? 0 : 1), () => process.exit(1));
  ' "$warden_oidc_url" >/dev/null 2>&1
}
# What the running provider was started from.
warden_oidc_stamp() {
  cat "$warden_oidc_src/provider.mjs" "$warden_oidc_src/package-lock.json" | sha256sum | cut -d' ' -f1
}

if ! { command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; } \
  && command -v apt-get >/dev/null 2>&1; then
  echo "installing Node.js and npm" >&2
  if ! { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null 2>&1 \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null 2>&1; }; }; then
    echo "could not install nodejs and npm" >&2
  fi
fi

warden_oidc_up=""
if [ -z "$warden_oidc_src" ] || [ ! -f "$warden_oidc_src/package-lock.json" ]; then
  echo "scripts/oidc/package-lock.json is missing" >&2
elif ! warden_oidc_node; then
  echo "the OIDC provider needs Node.js 20.18 or later and npm (found $(node --version 2>/dev/null || echo no node))" >&2
else
  if [ ! -f "$warden_oidc_src/node_modules/.package-lock.json" ] \
    || [ "$warden_oidc_src/package-lock.json" -nt "$warden_oidc_src/node_modules/.package-lock.json" ]; then
    echo "installing scripts/oidc's npm packages" >&2
    if ! (cd "$warden_oidc_src" && npm ci --silent --no-audit --no-fund >/dev/null 2>&1); then
      echo "npm ci failed in scripts/oidc (run it there to see why)" >&2
    fi
  fi

  warden_oidc_stamp_now=$(warden_oidc_stamp 2>/dev/null) || warden_oidc_stamp_now=""
  warden_oidc_pid=$(cat "$warden_oidc_run/provider-${warden_oidc_port}.pid" 2>/dev/null) || warden_oidc_pid=""
  warden_oidc_stamp_then=$(cat "$warden_oidc_run/provider-${warden_oidc_port}.stamp" 2>/dev/null) || warden_oidc_stamp_then=""
  if [ -n "$warden_oidc_pid" ] && [ "$warden_oidc_stamp_then" != "$warden_oidc_stamp_now" ] \
    && tr '\0' ' ' <"/proc/$warden_oidc_pid/cmdline" 2>/dev/null | grep -q 'provider\.mjs'; then
    echo "restarting the OIDC provider: scripts/oidc changed since it started" >&2
    if kill "$warden_oidc_pid" 2>/dev/null; then
      for _ in $(seq 1 20); do
        if [ ! -e "/proc/$warden_oidc_pid" ]; then break; fi
        sleep 0.25
      done
    fi
  fi

  if ! warden_oidc_ping && [ -f "$warden_oidc_src/node_modules/oidc-provider/package.json" ]; then
    echo "starting the OIDC provider on ${warden_oidc_url}" >&2
    if mkdir -p "$warden_oidc_run" \
      && printf '%s\n' "$warden_oidc_stamp_now" >"$warden_oidc_run/provider-${warden_oidc_port}.stamp"; then
      # setsid execs in place (a background job is no group leader), so $! is node's pid;
      # its own session keeps it running after the sourcing shell ends.
      if command -v setsid >/dev/null 2>&1; then
        nohup setsid node "$warden_oidc_src/provider.mjs" "$warden_oidc_port" \
          >"$warden_oidc_run/provider-${warden_oidc_port}.log" 2>&1 </dev/null &
      else
        nohup node "$warden_oidc_src/provider.mjs" "$warden_oidc_port" \
          >"$warden_oidc_run/provider-${warden_oidc_port}.log" 2>&1 </dev/null &
      fi
      warden_oidc_pid=$!
      echo "$warden_oidc_pid" >"$warden_oidc_run/provider-${warden_oidc_port}.pid" || true
      for _ in $(seq 1 40); do
        if warden_oidc_ping || [ ! -e "/proc/$warden_oidc_pid" ]; then break; fi
        sleep 0.5
      done
    fi
    if ! warden_oidc_ping; then
      echo "the OIDC provider did not answer (log: $warden_oidc_run/provider-${warden_oidc_port}.log)" >&2
    fi
  fi
  if warden_oidc_ping; then warden_oidc_up=1; fi
fi

if [ -n "$warden_oidc_up" ]; then
  export WARDEN_TEST_OIDC_URL="$warden_oidc_url"
else
  echo "service oidc is not available" >&2
  if [ "${CI:-}" = "true" ]; then exit 1; fi
  unset WARDEN_TEST_OIDC_URL
fi

if [ -n "$warden_oidc_src" ] && [ -f "$warden_oidc_src/node_modules/axe-core/axe.min.js" ]; then
  export WARDEN_TEST_AXE_URL="${WARDEN_TEST_AXE_URL:-$warden_oidc_src/node_modules/axe-core/axe.min.js}"
else
  echo "service axe is not available" >&2
  if [ "${CI:-}" = "true" ]; then exit 1; fi
  unset WARDEN_TEST_AXE_URL
fi
