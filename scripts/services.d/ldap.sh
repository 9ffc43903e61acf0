# OpenLDAP for the LDAP connector's tests: Warden's own slapd (not the system one), its
# config and database under ${TMPDIR:-/tmp}/warden-slapd, suffix dc=warden,dc=test, rootdn
# cn=admin,dc=warden,dc=test with a test-only password, on ldap://127.0.0.1:3890, seeded
# from scripts/ldap/seed.ldif. Exports WARDEN_TEST_LDAP_URL with the admin DN and password
# as the URL's userinfo. Sourced by scripts/services with `set -euo pipefail` active: every
# command that may fail sits in an `if`.

warden_ldap_dir="${TMPDIR:-/tmp}/warden-slapd"
warden_ldap_src="$(dirname "${BASH_SOURCE[0]}")/../ldap"
warden_ldap_root="cn=admin,dc=warden,dc=test"
warden_ldap_pw="warden-test-admin"
warden_ldap_hp="127.0.0.1:3890"
warden_ldap_url="ldap://${warden_ldap_root}:${warden_ldap_pw}@${warden_ldap_hp}"

# Up means: the admin binds and the seed's last entry is there.
warden_ldap_ping() {
  ldapsearch -x -LLL -o nettimeout=2 -H "ldap://${warden_ldap_hp}" -D "$warden_ldap_root" \
    -w "$warden_ldap_pw" -b "uid=a,ou=x,ou=people,dc=warden,dc=test" -s base 1.1 >/dev/null 2>&1
}
warden_ldap_bind() {
  ldapwhoami -x -o nettimeout=2 -H "ldap://${warden_ldap_hp}" -D "$warden_ldap_root" \
    -w "$warden_ldap_pw" >/dev/null 2>&1
}

if ! warden_ldap_ping; then
  if ! { [ -x /usr/sbin/slapd ] && command -v ldapadd >/dev/null 2>&1; }; then
    echo "installing OpenLDAP (slapd, ldap-utils)" >&2
    # No system directory is configured: the tests run their own instance below.
    if ! { echo "slapd slapd/no_configuration boolean true" | debconf-set-selections \
      && apt-get update -qq \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slapd ldap-utils >/dev/null; }; then
      echo "could not install slapd and ldap-utils" >&2
    fi
  fi
  if [ -x /usr/sbin/slapd ] && ! warden_ldap_bind; then
    echo "starting Warden's test slapd on ${warden_ldap_hp}" >&2
    if mkdir -p "$warden_ldap_dir/db" \
      && sed -e "s|@DIR@|${warden_ldap_dir}|g" -e "s|@ROOTPW@|${warden_ldap_pw}|g" \
        "$warden_ldap_src/slapd.conf" >"$warden_ldap_dir/slapd.conf"; then
      if ! /usr/sbin/slapd -f "$warden_ldap_dir/slapd.conf" -h "ldap://${warden_ldap_hp}/" -n warden-slapd; then
        echo "slapd did not start (see: slapd -d 1 -f $warden_ldap_dir/slapd.conf)" >&2
      fi
    fi
  fi
  if command -v ldapadd >/dev/null 2>&1 && warden_service_up ldap warden_ldap_bind; then
    # -c goes on past entries that already exist, so a half-seeded directory is completed.
    if ! ldapadd -c -x -H "ldap://${warden_ldap_hp}" -D "$warden_ldap_root" -w "$warden_ldap_pw" \
      -f "$warden_ldap_src/seed.ldif" >/dev/null 2>&1; then
      : # entries that already exist make ldapadd -c exit non-zero; the ping below decides
    fi
  fi
fi

if warden_ldap_ping; then
  export WARDEN_TEST_LDAP_URL="${WARDEN_TEST_LDAP_URL:-$warden_ldap_url}"
else
  echo "service ldap is not reachable" >&2
  if [ "${CI:-}" = "true" ]; then exit 1; fi
  unset WARDEN_TEST_LDAP_URL
fi
