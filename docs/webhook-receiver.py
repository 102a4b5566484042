#!/usr/bin/env python3
"""A tiny local webhook receiver for trying Mutua's webhooks (standard library only).

    MUTUA_WEBHOOK_SECRET=whsec_… python3 docs/webhook-receiver.py [PORT]   (default 9000)

Checks each request's Mutua-Signature (any v1 of the header, timestamp under five minutes
old), prints the event's type and resource id, skips repeats by event id (delivery is at
least once), and answers 204. Set MUTUA_RECEIVER_DOWN=1 to answer 503 instead, to watch the
retries. Register it as http://127.0.0.1:PORT/ on a server started with
MUTUA_WEBHOOK_ALLOW_HTTP=true MUTUA_WEBHOOK_ALLOW_PRIVATE=true (local development only).
"""
import hashlib
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

SECRET = os.environ["MUTUA_WEBHOOK_SECRET"].encode()
DOWN = os.environ.get("MUTUA_RECEIVER_DOWN") == "1"
seen = set()


def verified(header: str, body: bytes) -> bool:
    parts = [p.split("=", 1) for p in header.split(",") if "=" in p]
    t = next((v for k, v in parts if k == "t"), "0")
    expected = hmac.new(SECRET, t.encode() + b"." + body, hashlib.sha256).hexdigest()
    fresh = abs(time.time() - int(t)) < 300
    return fresh and any(hmac.compare_digest(v, expected) for k, v in parts if k == "v1")


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if DOWN:
            self.send_response(503)
            self.end_headers()
            return
        if not verified(self.headers.get("Mutua-Signature", ""), body):
            print("rejected: bad signature", flush=True)
            self.send_response(400)
            self.end_headers()
            return
        event = json.loads(body)
        repeat = event["id"] in seen
        seen.add(event["id"])
        print(("repeat " if repeat else "") + event["type"], event["data"].get("id"), flush=True)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


port = int(sys.argv[1]) if len(sys.argv) > 1 else 9000
print(f"listening on http://127.0.0.1:{port}/", flush=True)
HTTPServer(("127.0.0.1", port), Receiver).serve_forever()
