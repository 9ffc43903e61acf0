# MariaDB for the MariaDB connector's tests: checks 127.0.0.1:3306, installs and starts the
# server where it is missing or down, and exports WARDEN_TEST_MARIADB_URL (root, empty
# password over TCP). Sourced by scripts/services with `set -euo pipefail` active, so every
# command that may fail sits in an `if` or ends in `|| true`.

warden_mariadb_url="mysql://root@127.0.0.1:3306/"

warden_mariadb_ping() {
  if command -v mariadb-admin >/dev/null 2>&1; then
    mariadb-admin --protocol=tcp -h 127.0.0.1 -P 3306 -u root --connect-timeout=2 ping >/dev/null 2>&1
  else
    (exec 3<>/dev/tcp/127.0.0.1/3306) >/dev/null 2>&1
  fi
}

if [ -n "${WARDEN_TEST_MARIADB_URL:-}" ] && [ "$WARDEN_TEST_MARIADB_URL" != "$warden_mariadb_url" ]; then
  # Someone points the tests at another server: leave it to them.
  :
elif warden_mariadb_ping; then
  export WARDEN_TEST_MARIADB_URL="$warden_mariadb_url"
else
  if ! command -v mysqld >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    echo "installing MariaDB" >&2
    if ! { DEBIAN_FRONTEND=noninteractive apt-get install -y -q mariadb-server mariadb-client >/dev/null 2>&1 \
      || { apt-get update -q >/dev/null 2>&1 \
        && DEBIAN_FRONTEND=noninteractive apt-get install -y -q mariadb-server mariadb-client >/dev/null 2>&1; }; }; then
      echo "could not install mariadb-server" >&2
    fi
  fi
  if command -v mysqld >/dev/null 2>&1; then
    echo "starting MariaDB" >&2
    if ! service mariadb start >/dev/null 2>&1; then
      if command -v mysqld_safe >/dev/null 2>&1; then
        # In a session of its own, so the server outlives the shell that started it.
        (setsid mysqld_safe --bind-address=127.0.0.1 --port=3306 </dev/null >/dev/null 2>&1 &) || true
      fi
    fi
  fi
  if warden_service_up mariadb warden_mariadb_ping; then
    # A fresh Debian install lets root in only over the local socket: give root@127.0.0.1
    # an empty password over TCP, as the tests expect (a test machine only).
    if ! mariadb -h 127.0.0.1 -P 3306 --protocol=tcp -u root -e "SELECT 1" >/dev/null 2>&1; then
      mariadb -u root -e "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
        GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;" >/dev/null 2>&1 || true
    fi
    export WARDEN_TEST_MARIADB_URL="$warden_mariadb_url"
  else
    if [ "${CI:-}" = "true" ]; then exit 1; fi
    unset WARDEN_TEST_MARIADB_URL
  fi
fi

# Databases and admin users left by interrupted test runs (each test makes its own, named
# `wt_<run>`, and its accounts `wt_<run>_…`) are dropped here. A database that a run going on
# now may be using is left alone: only one whose tables are all over an hour old goes, then
# the accounts whose run's database is gone.
if [ -n "${WARDEN_TEST_MARIADB_URL:-}" ] && [ "$WARDEN_TEST_MARIADB_URL" = "$warden_mariadb_url" ] \
  && command -v mariadb >/dev/null 2>&1; then
  warden_mariadb_sql() { mariadb -h 127.0.0.1 -P 3306 --protocol=tcp -u root -N -B -e "$1" 2>/dev/null || true; }
  warden_mariadb_sql "SELECT CONCAT('DROP DATABASE IF EXISTS \`', s.SCHEMA_NAME, '\`;')
      FROM information_schema.SCHEMATA s WHERE s.SCHEMA_NAME LIKE 'wt\\_%'
       AND EXISTS (SELECT 1 FROM information_schema.TABLES t WHERE t.TABLE_SCHEMA = s.SCHEMA_NAME)
       AND NOT EXISTS (SELECT 1 FROM information_schema.TABLES t WHERE t.TABLE_SCHEMA = s.SCHEMA_NAME
                       AND t.CREATE_TIME > NOW() - INTERVAL 1 HOUR)" \
    | while read -r stmt; do warden_mariadb_sql "$stmt" >/dev/null; done
  warden_mariadb_sql "SELECT CONCAT('DROP USER IF EXISTS ''', User, '''@''', Host, ''';') FROM mysql.global_priv
      WHERE User LIKE 'wt\\_%' AND (CASE WHEN User LIKE 'wt\\_adm\\_%'
        THEN CONCAT('wt_', SUBSTRING_INDEX(User, '_', -1)) ELSE SUBSTRING_INDEX(User, '_', 2) END) NOT IN
        (SELECT SCHEMA_NAME FROM information_schema.SCHEMATA)" \
    | while read -r stmt; do warden_mariadb_sql "$stmt" >/dev/null; done
  unset -f warden_mariadb_sql
fi
unset -f warden_mariadb_ping
unset warden_mariadb_url
