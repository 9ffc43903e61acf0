#!/usr/bin/env bash
# Walks one access request through the running test RT with REST2 and saves the real
# responses and webhook deliveries as the RT adapter's test fixtures:
# alice opens a ticket, Warden comments and writes back, bob approves, Warden writes back,
# bob resolves. Resets RT to its seeded database first so ids are the same every run.
#
# Usage: capture-fixtures.sh [OUT_DIR]   (default crates/warden-itsm-adapters/tests/fixtures/rt)
# Needs: RT up (rt.sh up) with its default webhook URL, port 18080 free for the receiver.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:-$here/../../../crates/warden-itsm-adapters/tests/fixtures/rt}
B=http://127.0.0.1:${WARDEN_RT_PORT:-8091}/REST/2.0
W=warden:warden-rt-test-password
BOB=bob:bob-rt-test-password
ALICE=alice:alice-rt-test-password
work=$(mktemp -d)
mkdir -p "$out"

"$here/rt.sh" reset
python3 "$here/receiver.py" 18080 "$work/received.jsonl" &
receiver=$!
trap 'kill "$receiver" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 40); do
  if ss -Htln 'sport = :18080' | grep -q .; then break; fi
  sleep 0.1
done

pretty() { python3 -m json.tool --indent 2; }
# call USER METHOD PATH [JSON]: prints the body, fails on a non-2xx status
call() {
  local user=$1 method=$2 path=$3 body=${4:-}
  local args=(-s -u "$user" -X "$method" -o "$work/body" -w '%{http_code}')
  if [ -n "$body" ]; then args+=(-H 'Content-Type: application/json' --data-binary "$body"); fi
  local code
  code=$(curl "${args[@]}" "$B$path")
  case "$code" in 2??) cat "$work/body" ;; *) echo "$method $path: HTTP $code: $(cat "$work/body")" >&2; return 1 ;; esac
}
deliveries() { [ -f "$work/received.jsonl" ] && wc -l < "$work/received.jsonl" || echo 0; }
wait_deliveries() { # count
  for _ in $(seq 1 50); do
    if [ "$(deliveries)" -ge "$1" ]; then return 0; fi
    sleep 0.1
  done
  echo "expected $1 webhook deliveries, got $(deliveries)" >&2
  return 1
}

# 1. the requester opens the ticket (webhook: rt.ticket.create)
call "$ALICE" POST /ticket '{
  "Queue": "Access Requests",
  "Subject": "read access to payments-db",
  "Requestor": "alice@example.com",
  "CustomFields": {
    "Requested For": "alice@example.com",
    "Target System": "payments-db",
    "Access Level": "read",
    "Purpose": "investigate INC-42",
    "Access Duration": "2h"
  }
}' | pretty > "$out/create-response.json"
id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$out/create-response.json")
wait_deliveries 1

# 2. Warden (re-reads, decides) comments and writes back: no webhook, it is Warden's own change
call "$W" POST "/ticket/$id/comment" '{"Subject": "Warden", "ContentType": "text/plain",
  "Content": "Needs 1 approval from payments-leads (set Approval to approved or rejected)."}' \
  | pretty > "$out/comment-response.json"
call "$W" PUT "/ticket/$id" '{"CustomFields": {"Approval": "pending", "Warden Status": "pending approval"}}' \
  | pretty > "$out/update-response.json"

# 3. a field the user may not change: HTTP 200 all the same, the refusal is in the messages
call "$BOB" PUT "/ticket/$id" '{"CustomFields": {"Warden Status": "granted"}}' \
  | pretty > "$out/update-denied-response.json"

# 4. the approver approves (webhook: rt.ticket.customfield)
call "$BOB" PUT "/ticket/$id" '{"CustomFields": {"Approval": "approved"}}' | pretty > "$out/approve-response.json"
wait_deliveries 2

# 5. Warden writes back the grant
call "$W" PUT "/ticket/$id" '{"CustomFields": {"Warden Status": "granted until 2026-11-29T15:00:00Z"}}' > /dev/null

# 6. the approver resolves the ticket (webhook: rt.ticket.status)
call "$BOB" PUT "/ticket/$id" '{"Status": "resolved"}' | pretty > "$out/resolve-response.json"
wait_deliveries 3

# 7. what the adapter reads back
call "$W" GET "/ticket/$id" | pretty > "$out/ticket.json"
call "$W" GET "/ticket/$id/history?per_page=100&fields=Type,Field,OldValue,NewValue,Creator,Created,Data&fields%5BCreator%5D=Name,EmailAddress" \
  | pretty > "$out/history.json"
approval_txn=$(python3 -c '
import json, sys
h = json.load(open(sys.argv[1]))
print([t["id"] for t in h["items"] if t["Type"] == "CustomField" and t["NewValue"] == "approved"][0])' "$out/history.json")
call "$W" GET "/transaction/$approval_txn" | pretty > "$out/transaction.json"
call "$W" GET "/user/bob" | pretty > "$out/user.json"
since=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["Created"].replace("T"," ").rstrip("Z"))' "$out/ticket.json")
call "$W" GET "/tickets?query=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' \
  "Queue = 'Access Requests' AND LastUpdated >= '$since'")&orderby=LastUpdated&order=ASC&fields=Subject,Status,LastUpdated,CustomFields" \
  | pretty > "$out/search.json"

# webhook deliveries, exactly as received (raw_body is what the signature covers)
python3 - "$work/received.jsonl" "$out" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
for r in recs:
    assert r["sig_ok"] and r["fresh"], r
names = {"rt.ticket.create": "webhook-delivery-create.json", "rt.ticket.customfield": "webhook-delivery.json",
         "rt.ticket.status": "webhook-delivery-status.json"}
for r in recs:
    with open(f"{sys.argv[2]}/{names[r['body']['type']]}", "w") as f:
        json.dump({"method": r["method"], "path": r["path"], "headers": r["headers"],
                   "raw_body": r["raw_body"], "body": r["body"]}, f, indent=2)
        f.write("\n")
print(f"{len(recs)} webhook deliveries, all signed and fresh", file=sys.stderr)
PY
echo "fixtures written to $out" >&2
