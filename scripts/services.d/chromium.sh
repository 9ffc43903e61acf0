# Headless Chromium for the evidence report's rendering test, and ChromeDriver for the web
# console's browser tests: installed together from Debian's `chromium` and `chromium-driver`
# packages (one apt-get call, so both are the same version) when either is missing. Their
# "URLs" are the paths of the browser and of the driver; a test starts its own chromedriver
# on a free port, none runs as a daemon. Sourced by scripts/services with `set -euo pipefail`
# active: every command that may fail sits in an `if`.

warden_chromium_path() { command -v chromium || command -v chromium-browser || true; }
warden_chromedriver_path() { command -v chromedriver || true; }

if { [ -z "$(warden_chromium_path)" ] || [ -z "$(warden_chromedriver_path)" ]; } \
  && command -v apt-get >/dev/null 2>&1; then
  echo "installing Chromium and ChromeDriver" >&2
  if ! { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null 2>&1 \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1; }; }; then
    echo "could not install chromium and chromium-driver" >&2
  fi
fi

if [ -n "$(warden_chromium_path)" ]; then
  export WARDEN_TEST_CHROMIUM_URL="${WARDEN_TEST_CHROMIUM_URL:-$(warden_chromium_path)}"
else
  echo "service chromium is not available" >&2
  if [ "${CI:-}" = "true" ]; then exit 1; fi
  unset WARDEN_TEST_CHROMIUM_URL
fi

if [ -n "$(warden_chromedriver_path)" ]; then
  export WARDEN_TEST_CHROMEDRIVER_URL="${WARDEN_TEST_CHROMEDRIVER_URL:-$(warden_chromedriver_path)}"
else
  echo "service chromedriver is not available" >&2
  if [ "${CI:-}" = "true" ]; then exit 1; fi
  unset WARDEN_TEST_CHROMEDRIVER_URL
fi
