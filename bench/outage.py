#!/usr/bin/env python3
"""Writes under load while bench/outage.sh stops and starts PostgreSQL, then checks the
answers against what was stored. Run by bench/outage.sh, not on its own.

Each of --writers threads creates organisations (`POST /api/v1/orgs`, a fresh name and
Idempotency-Key per request) as fast as the server answers and records name, status,
problem type and time taken. Meanwhile the outage plan (stop/start commands given as
arguments, with pauses) runs. Afterwards:
  - every 201 must be stored (no acknowledged write lost);
  - every 503 `/problems/unavailable` must not be stored (no write reported failed that
    was committed);
  - every 503 `/problems/outcome-unknown` is retried with its Idempotency-Key once the
    database is back and must then be stored exactly once;
  - no other status may occur;
  - while the database is down, refusals come promptly (no 5-second pool waits; only the
    resolution of a commit whose answer was lost may wait, up to the pool time-out);
  - the server recovers without a restart.
Prints a summary; exits 1 on any violation.
"""

import argparse
import http.client
import json
import subprocess
import sys
import threading
import time
import uuid


def request(port, method, path, body=None, token=None, headers=None, timeout=15):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    h = {"Content-Type": "application/json"}
    if token:
        h["Authorization"] = "Bearer " + token
    h.update(headers or {})
    conn.request(method, path, json.dumps(body) if body is not None else None, h)
    resp = conn.getresponse()
    text = resp.read().decode()
    conn.close()
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    return resp.status, parsed, dict(resp.getheaders())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--psql", required=True, help="psql command prefix for the database")
    ap.add_argument("--writers", type=int, default=8)
    ap.add_argument("--plan", required=True,
                    help="';'-separated steps: a number pauses (s), else a shell command")
    args = ap.parse_args()

    email = f"outage-{uuid.uuid4().hex[:8]}@mutua.example"
    password = "outage-password-2026"
    status, _, _ = request(args.port, "POST", "/api/v1/auth/register",
                           {"email": email, "password": password, "display_name": "Outage"})
    assert status == 201, status
    status, tokens, _ = request(args.port, "POST", "/api/v1/auth/login",
                                {"email": email, "password": password})
    assert status == 200, status
    token = tokens["access_token"]

    results = []  # (name, key, status, type, seconds, started_at)
    lock = threading.Lock()
    stop = threading.Event()
    down = threading.Event()
    epoch = time.monotonic()

    def writer(n):
        i = 0
        while not stop.is_set():
            name = f"outage-{n}-{i}-{uuid.uuid4().hex[:6]}"
            key = uuid.uuid4().hex
            started = time.monotonic()
            try:
                status, body, _ = request(args.port, "POST", "/api/v1/orgs",
                                          {"name": name, "industry": "outage-test"},
                                          token, {"Idempotency-Key": key})
                kind = (body or {}).get("type", "")
            except Exception as e:  # a connection error is an answer too: record it
                status, kind = 0, type(e).__name__
            took = time.monotonic() - started
            with lock:
                results.append((name, key, status, kind, took, started - epoch, down.is_set()))
            i += 1
            if status != 201:
                time.sleep(0.02)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(args.writers)]
    for t in threads:
        t.start()
    timeline = []
    for step in args.plan.split(";"):
        step = step.strip()
        try:
            time.sleep(float(step))
            continue
        except ValueError:
            pass
        if " stop" in step:
            down.set()
        timeline.append((round(time.monotonic() - epoch, 2), step))
        subprocess.run(step, shell=True, check=True, stdout=subprocess.DEVNULL)
        if " start" in step:
            down.clear()
    # Recovery: the first 201 after the last start.
    last_start = timeline[-1][0] if timeline else 0
    time.sleep(1)
    stop.set()
    for t in threads:
        t.join()

    stored = set(subprocess.run(
        args.psql + " -Atc \"SELECT name FROM orgs WHERE industry = 'outage-test'\"",
        shell=True, check=True, capture_output=True, text=True).stdout.split())

    problems = []
    acked = [r for r in results if r[2] == 201]
    failed = [r for r in results if r[2] == 503 and r[3] == "/problems/unavailable"]
    unknown = [r for r in results if r[2] == 503 and r[3] == "/problems/outcome-unknown"]
    other = [r for r in results if r not in acked and r not in failed and r not in unknown]
    lost = [r for r in acked if r[0] not in stored]
    misreported = [r for r in failed if r[0] in stored]
    if lost:
        problems.append(f"{len(lost)} acknowledged writes were not stored: {lost[:3]}")
    if misreported:
        problems.append(f"{len(misreported)} writes answered 503 were stored: {misreported[:3]}")
    if other:
        kinds = sorted({(r[2], r[3]) for r in other})
        problems.append(f"{len(other)} answers of other kinds: {kinds}")
    for name, key, *_ in unknown:
        status, _, headers = request(args.port, "POST", "/api/v1/orgs",
                                     {"name": name, "industry": "outage-test"},
                                     token, {"Idempotency-Key": key})
        if status != 201:
            problems.append(f"retrying an unknown outcome gave {status}")
    if unknown:
        counts = subprocess.run(
            args.psql + " -Atc \"SELECT name, COUNT(*) FROM orgs WHERE industry = 'outage-test'"
            " GROUP BY name HAVING COUNT(*) > 1\"",
            shell=True, check=True, capture_output=True, text=True).stdout.strip()
        if counts:
            problems.append(f"stored twice after the retry: {counts}")

    # Refusals must be prompt; resolving a lost commit may wait (up to the pool time-out).
    during = sorted(r[4] for r in results if r[6] and r in failed)
    slow = [t for t in during if t > 1.5]
    if slow:
        problems.append(f"{len(slow)} answers during the outage took over 1.5 s (max {max(slow):.2f} s)")
    recovered = [r[5] + r[4] for r in acked if r[5] >= last_start]
    recovery = (min(recovered) - last_start) if recovered else None
    if recovery is None:
        problems.append("no write succeeded after the last start")

    def pct(values, p):
        return values[min(len(values) - 1, int(len(values) * p))] if values else 0

    print(f"timeline: {timeline}")
    print(f"requests: {len(results)}; acknowledged (201): {len(acked)}, all stored: {not lost}")
    print(f"answered failed (503 unavailable): {len(failed)}, none stored: {not misreported}")
    print(f"outcome unknown (503 outcome-unknown): {len(unknown)}, retried with their key")
    print(f"other answers: {len(other)}")
    print(f"refusals while down: {len(during)}, p50 {pct(during, 0.5) * 1000:.1f} ms, "
          f"p99 {pct(during, 0.99) * 1000:.1f} ms, max {(during[-1] if during else 0) * 1000:.1f} ms")
    print(f"first acknowledged write after the last start: "
          f"{'%.2f s' % recovery if recovery is not None else 'none'}")
    for p in problems:
        print("FAILED: " + p)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
