#!/usr/bin/env bash
# Times the same membership change as the connector's latency example with bare ldapmodify
# against the test directory: N adds and N deletes of bob in cn=payments, one ldapmodify
# process (connect, bind, modify, unbind) each, then the same 2N changes in one process
# (one connection and bind, like the connector's shared connection). Usage: scripts/ldap/latency.sh [N]
set -euo pipefail
n=${1:-200}
h=ldap://127.0.0.1:3890
d=cn=admin,dc=warden,dc=test
w=warden-test-admin
g=cn=payments,ou=groups,dc=warden,dc=test
m=uid=bob,ou=people,dc=warden,dc=test
add=$(printf 'dn: %s\nchangetype: modify\nadd: member\nmember: %s\n' "$g" "$m")
del=$(printf 'dn: %s\nchangetype: modify\ndelete: member\nmember: %s\n' "$g" "$m")
ta=0; td=0
for _ in $(seq 1 "$n"); do
  t0=$(date +%s%N); ldapmodify -x -H "$h" -D "$d" -w "$w" >/dev/null <<<"$add"
  t1=$(date +%s%N); ldapmodify -x -H "$h" -D "$d" -w "$w" >/dev/null <<<"$del"
  t2=$(date +%s%N)
  ta=$((ta + t1 - t0)); td=$((td + t2 - t1))
done
# The same 2N changes through one ldapmodify process: one connection, one bind.
batch=$(for _ in $(seq 1 "$n"); do printf '%s\n\n%s\n\n' "$add" "$del"; done)
t0=$(date +%s%N); ldapmodify -x -H "$h" -D "$d" -w "$w" >/dev/null <<<"$batch"; t1=$(date +%s%N)
tb=$((t1 - t0))
awk -v n="$n" -v b="$tb" 'BEGIN { printf "ldapmodify one process, %d changes: mean %.3f ms per change\n", 2*n, b/(2*n)/1e6 }'
awk -v n="$n" -v a="$ta" -v d="$td" 'BEGIN {
  printf "ldapmodify add    n=%d mean %.3f ms\nldapmodify delete n=%d mean %.3f ms\n", n, a/n/1e6, n, d/n/1e6 }'
