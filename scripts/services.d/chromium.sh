# Headless Chromium for the evidence report's rendering test: installed from Debian's
# `chromium` package when missing. Its "URL" is the browser's path. Sourced by
# scripts/services with `set -euo pipefail` active: every command that may fail sits in an
# `if`.

warden_chromium_path() { command -v chromium || command -v chromium-browser || true; }

if [ -z "$(warden_chromium_path)" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Chromium" >&2
  if ! { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null 2>&1 \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1; }; }; then
    echo "could not install chromium" >&2
  fi
fi

if [ -n "$(warden_chromium_path)" ]; then
  export WARDEN_TEST_CHROMIUM_URL="${WARDEN_TEST_CHROMIUM_URL:-$(warden_chromium_path)}"
else
  echo "service chromium is not available" >&2
  if [ "${CI:-}" = "true" ]; then exit 1; fi
  unset WARDEN_TEST_CHROMIUM_URL
fi
