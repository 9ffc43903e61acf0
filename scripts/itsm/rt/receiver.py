#!/usr/bin/env python3
"""Webhook receiver for trying the RT scrip by hand: verifies Standard Webhooks signatures
(webhook-id / webhook-timestamp / webhook-signature, v1 = HMAC-SHA256 over "id.timestamp.body"
keyed with the base64 part of the whsec_ secret) and appends each delivery as a JSON line.

Usage: receiver.py PORT [OUT.jsonl]   (secret: $WARDEN_RT_WEBHOOK_SECRET or the test default)
"""
import base64, hashlib, hmac, http.server, json, os, sys, time

SECRET = os.environ.get("WARDEN_RT_WEBHOOK_SECRET", "whsec_d2FyZGVuLXJ0LXdlYmhvb2stdGVzdC1zZWNyZXQtMzI=")
KEY = base64.b64decode(SECRET[len("whsec_"):]) if SECRET.startswith("whsec_") else SECRET.encode()
OUT = sys.argv[2] if len(sys.argv) > 2 else "received.jsonl"


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        mid, ts, sig = (self.headers.get(h) for h in ("webhook-id", "webhook-timestamp", "webhook-signature"))
        signed = f"{mid}.{ts}.".encode() + body
        expected = base64.b64encode(hmac.new(KEY, signed, hashlib.sha256).digest()).decode()
        ok = any(hmac.compare_digest(s.split(",", 1)[1], expected) for s in (sig or "").split() if s.startswith("v1,"))
        fresh = ts is not None and ts.isdigit() and abs(time.time() - int(ts)) < 300
        rec = {"method": "POST", "path": self.path, "headers": dict(self.headers), "sig_ok": ok, "fresh": fresh,
               "raw_body": body.decode("utf-8", "replace"), "body": json.loads(body or b"null")}
        with open(OUT, "a") as f:
            f.write(json.dumps(rec) + "\n")
        self.send_response(204 if ok and fresh else 401)
        self.end_headers()

    def log_message(self, *a):
        pass


http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
