#!/usr/bin/env bash
# Request Tracker 5 (Debian 12 packages, SQLite, standalone Starlet server on 127.0.0.1) as
# the real ITSM Warden's tests talk to. See README.md next to this file.
#
# Usage: rt.sh up|install|configure|seed|start|stop|restart|reset|status
#   up       install, configure, seed once and start, whatever is missing; quick when up
#   reset    stop, put back the database as it was right after seeding, start
# Env: WARDEN_RT_PORT (8091), WARDEN_RT_STATE (/var/lib/warden-services/rt),
#      WARDEN_RT_WEBHOOK_URL (http://127.0.0.1:18080/v1/itsm/rt),
#      WARDEN_RT_WEBHOOK_SECRET (a fixed whsec_ test value)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RT_PORT=${WARDEN_RT_PORT:-8091}
RT_STATE=${WARDEN_RT_STATE:-/var/lib/warden-services/rt}
WEBHOOK_URL=${WARDEN_RT_WEBHOOK_URL:-http://127.0.0.1:18080/v1/itsm/rt}
WEBHOOK_SECRET=${WARDEN_RT_WEBHOOK_SECRET:-whsec_d2FyZGVuLXJ0LXdlYmhvb2stdGVzdC1zZWNyZXQtMzI=}
# Fixed test values; initialdata.pl holds the same passwords.
RT_ROOT_PW=warden-rt-root-password
WARDEN_USER=warden
WARDEN_PW=warden-rt-test-password
DATAFILE=$here/initialdata.pl
DB=/var/lib/dbconfig-common/sqlite3/request-tracker5/rtdb
ETC=/etc/request-tracker5
SITE_CONF=$ETC/RT_SiteConfig.d/99-warden.pm
RT_SERVER=/usr/share/request-tracker5/libexec/rt-server
BASE=http://127.0.0.1:$RT_PORT

say() { echo "rt: $*" >&2; }

installed() {
  [ "$(dpkg-query -W -f='${Status}\n' request-tracker5 rt5-db-sqlite rt5-standalone 2>/dev/null \
    | grep -c 'install ok installed' || true)" = 3 ]
}

install() {
  if installed; then return 0; fi
  say "installing request-tracker5 (takes a few minutes the first time)"
  debconf-set-selections <<SEL
request-tracker5 request-tracker5/rtname string rt.test
request-tracker5 request-tracker5/organization string test.local
request-tracker5 request-tracker5/correspondaddress string rt@localhost
request-tracker5 request-tracker5/commentaddress string rt-comment@localhost
request-tracker5 request-tracker5/webbaseurl string http://127.0.0.1:${RT_PORT}
request-tracker5 request-tracker5/webpath string /rt
request-tracker5 request-tracker5/handle-siteconfig-permissions boolean true
request-tracker5 request-tracker5/install-cronjobs boolean false
request-tracker5 request-tracker5/dbconfig-install boolean true
request-tracker5 request-tracker5/database-type select sqlite3
request-tracker5 request-tracker5/initial-root-password password ${RT_ROOT_PW}
SEL
  if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -print -quit)" ]; then
    apt-get update -q >&2
  fi
  # exim4 comes in as the MTA; RT never mails here (MailCommand testfile below), and a
  # policy-rc.d that forbids service starts is fine because RT runs standalone.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    request-tracker5 rt5-db-sqlite rt5-standalone rt5-clients >&2
}

site_config() {
  cat <<CFG
# Written by warden scripts/itsm/rt/rt.sh; rewritten when the settings change.
Set(\$WebPath, "");
Set(\$WebDomain, "127.0.0.1");
Set(\$WebPort, ${RT_PORT});
Set(\$WebBaseURL, "http://127.0.0.1:${RT_PORT}");
Set(\$LogToSTDERR, "info");
Set(\$LogToSyslog, undef);
Set(\$LogToFile, undef);
Set(\$MailCommand, "testfile");
Set(\$WardenWebhookURL, '${WEBHOOK_URL}');
Set(\$WardenWebhookSecret, '${WEBHOOK_SECRET}');
1;
CFG
}

# Prints "changed" when the file was (re)written, so the caller restarts the server.
configure() {
  # Both go into a single-quoted Perl string: refuse anything that could leave it.
  case "$WEBHOOK_URL$WEBHOOK_SECRET" in
    *"'"* | *'\'* | *$'\n'*) say "webhook url or secret holds a quote, backslash or newline"; return 1 ;;
  esac
  # Debian creates RT_SiteConfig.pm 0600 root:root, unreadable for the www-data server.
  chgrp www-data "$ETC/RT_SiteConfig.pm" && chmod 640 "$ETC/RT_SiteConfig.pm"
  if [ -f "$SITE_CONF" ] && [ "$(site_config)" = "$(cat "$SITE_CONF")" ]; then return 0; fi
  site_config > "$SITE_CONF.new"
  chgrp www-data "$SITE_CONF.new" && chmod 640 "$SITE_CONF.new"
  mv "$SITE_CONF.new" "$SITE_CONF"
  echo changed
}

data_hash() { sha256sum "$DATAFILE" | cut -d' ' -f1; }

seeded() {
  [ -f "$RT_STATE/rtdb.golden" ] && [ "$(cat "$RT_STATE/seeded" 2>/dev/null)" = "$(data_hash)" ]
}

# Seeds once per version of initialdata.pl, always onto the database as the package made
# it, and keeps the result as the golden copy `reset` goes back to.
seed() {
  if seeded; then return 0; fi
  stop
  if [ ! -f "$RT_STATE/rtdb.pristine" ]; then
    if [ "$(sqlite3 "$DB" "SELECT count(*) FROM Queues WHERE Name = 'Access Requests'")" != 0 ]; then
      say "$DB was already seeded by something else; reinstall request-tracker5 or remove that queue"
      return 1
    fi
    cp -p "$DB" "$RT_STATE/rtdb.pristine"
  fi
  cp -p "$RT_STATE/rtdb.pristine" "$DB"
  say "seeding from $DATAFILE"
  # insert runs every initialdata block even if one fails: check its log for errors.
  runuser -u www-data -- /usr/sbin/rt-setup-database-5 --action insert --datafile "$DATAFILE" \
    > "$RT_STATE/seed.log" 2>&1
  if grep -Eq '\[(error|critical)\]|Couldn|ERROR' "$RT_STATE/seed.log"; then
    say "seeding failed, see $RT_STATE/seed.log"
    return 1
  fi
  cp -p "$DB" "$RT_STATE/rtdb.golden"
  data_hash > "$RT_STATE/seeded"
}

listening() { [ "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$BASE/REST/2.0/" || true)" = 401 ]; }

logged_in() {
  [ "$(curl -s -m 10 -o /dev/null -w '%{http_code}' -u "$WARDEN_USER:$WARDEN_PW" \
      "$BASE/REST/2.0/queues/all" || true)" = 200 ]
}

server_pid() {
  local pid
  pid=$(cat "$RT_STATE/rt-server.pid" 2>/dev/null || true)
  if [ -n "$pid" ] && grep -qs rt-server "/proc/$pid/cmdline"; then echo "$pid"; return 0; fi
  # Started some other way (e.g. by hand): the rt-server listening on our port.
  pid=$(ss -Htlnp "sport = :$RT_PORT" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n 1 | cut -d= -f2 || true)
  if [ -n "$pid" ] && grep -qs rt-server "/proc/$pid/cmdline"; then echo "$pid"; fi
}

start() {
  if listening; then return 0; fi
  if ss -Htln "sport = :$RT_PORT" | grep -q .; then
    say "port $RT_PORT is taken by something other than RT"
    return 1
  fi
  say "starting RT on $BASE"
  # setsid execs in place (a background job is no group leader), so $! is the Starlet
  # master; it must not hold the caller's stdout (a $(...) around us would never end) nor
  # the lock of `up` (fd 9), which would then stay taken for as long as RT runs.
  setsid setpriv --reuid=www-data --regid=www-data --init-groups \
    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/var/www LANG=C.UTF-8 \
    "$RT_SERVER" --host 127.0.0.1 --port "$RT_PORT" --max-workers 3 \
    > "$RT_STATE/rt-server.log" 2>&1 < /dev/null 9>&- &
  echo $! > "$RT_STATE/rt-server.pid"
  for _ in $(seq 1 240); do
    if listening; then return 0; fi
    if ! kill -0 "$(cat "$RT_STATE/rt-server.pid")" 2>/dev/null; then break; fi
    sleep 0.25
  done
  say "RT did not come up, see $RT_STATE/rt-server.log"
  return 1
}

stop() {
  local pid
  pid=$(server_pid)
  rm -f "$RT_STATE/rt-server.pid"
  if [ -z "$pid" ]; then return 0; fi
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 40); do
    if ! kill -0 "$pid" 2>/dev/null; then return 0; fi
    sleep 0.25
  done
  kill -KILL "$pid" 2>/dev/null || true
}

restart() { stop; start; }

reset() {
  if [ ! -f "$RT_STATE/rtdb.golden" ]; then say "not seeded yet"; return 1; fi
  stop
  cp -p "$RT_STATE/rtdb.golden" "$DB"
  start
}

status() {
  if listening && logged_in; then echo "up: $BASE (pid $(server_pid))"; else echo down; return 1; fi
}

ready() {
  installed && listening && logged_in && seeded && [ "$(site_config)" = "$(cat "$SITE_CONF" 2>/dev/null)" ]
}

up() {
  if ready; then return 0; fi
  if [ "$(id -u)" != 0 ]; then say "RT needs setting up, which needs root"; return 1; fi
  # Two test runs starting at once must not install, seed or start twice.
  exec 9> "$RT_STATE/lock"
  flock 9
  if ready; then return 0; fi
  install
  local changed
  changed=$(configure)
  seed
  if [ -n "$changed" ]; then restart; else start; fi
  if logged_in; then return 0; fi
  # Seeded marker but a database without our data (e.g. the package recreated it).
  say "the warden account does not log in; going back to the seeded database"
  reset
  logged_in || { say "the warden account still does not log in"; return 1; }
}

mkdir -p "$RT_STATE"
case "${1:-}" in
  up | install | configure | seed | start | stop | restart | reset | status) "$1" ;;
  *) echo "usage: $0 up|install|configure|seed|start|stop|restart|reset|status" >&2; exit 2 ;;
esac
