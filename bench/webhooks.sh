#!/usr/bin/env bash
# Webhook delivery benchmarks (issue 11):
#
#   bench/webhooks.sh [sqlite|postgres|both]      (default: both)
#
# Seeds 50 organisations and BENCH_EVENTS (default 2,000) open proposals, i.e. as many
# `proposal.received` events; registers a webhook per organisation pointing to a local
# receiver (bench/receiver.py, 204 at once) and queues one delivery per event. Then:
#   1. delivery throughput with one `mutua worker` process, then with two (events/s:
#      deliveries done / seconds until all are delivered);
#   2. by id (c=16, wrk) against a server that delivers in-process, first with nothing
#      queued, then with 1,000 deliveries due to a receiver that answers after 5 s.
# Needs wrk and python3; PostgreSQL at $BENCH_PG (database `mutua_bench` is recreated).
set -euo pipefail
cd "$(dirname "$0")/.."
BACKENDS=${1:-both}
EVENTS=${BENCH_EVENTS:-2000}
. bench/lib.sh
start_results webhooks- events
RECEIVER_PORT=18190
SLOW_PORT=18191
export MUTUA_WEBHOOK_ALLOW_HTTP=true MUTUA_WEBHOOK_ALLOW_PRIVATE=true MUTUA_LOGIN_PER_MINUTE=100000

for backend in sqlite postgres; do
    [ "$BACKENDS" = both ] || [ "$BACKENDS" = "$backend" ] || continue
    data=$(mktemp -d)
    if [ "$backend" = sqlite ]; then
        url="$data/mutua.db"
        sql() { python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); r=c.execute(sys.argv[2]).fetchall(); c.commit(); print(r[0][0] if r else '')" "$url" "$1"; }
        new_uuid="lower(hex(randomblob(4)))||'-'||lower(hex(randomblob(2)))||'-4'||substr(lower(hex(randomblob(2))),2)||'-a'||substr(lower(hex(randomblob(2))),2)||'-'||lower(hex(randomblob(6)))"
        stamp="strftime('%Y-%m-%d %H:%M:%f','now')"
    else
        psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS mutua_bench WITH (FORCE)" -c "CREATE DATABASE mutua_bench" >/dev/null
        url="$PG/mutua_bench?sslmode=disable"
        sql() { psql "$PG/mutua_bench" -qAtc "$1" | tail -1; }
        new_uuid="gen_random_uuid()::text"
        stamp="(now() at time zone 'utc')"
    fi
    echo "== $backend: seeding"
    DATABASE_URL="$url" MUTUA_DATA_DIR="$data" RUST_LOG=warn "$BIN" seed --orgs 50 --listings-per-org 1 \
        --seed 42 --out "$data/logins.csv" --open-proposals "$EVENTS" --proposals-out "$data/p.csv" >/dev/null
    python3 bench/receiver.py $RECEIVER_PORT & FAST=$!
    python3 bench/receiver.py $SLOW_PORT 5 & SLOW=$!
    env DATABASE_URL="$url" MUTUA_DATA_DIR="$data" MUTUA_BIND="127.0.0.1:$PORT" RUST_LOG=warn MUTUA_JOBS=false \
        "$BIN" serve > "$RESULTS/server-$backend.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
    tail -n +2 "$data/logins.csv" | while IFS=, read -r org email password _key; do
        token=$(curl -fs -X POST "http://127.0.0.1:$PORT/api/v1/auth/login" -H 'Content-Type: application/json' \
            -d "{\"email\":\"$email\",\"password\":\"$password\"}" | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
        curl -fs -o /dev/null -X POST "http://127.0.0.1:$PORT/api/v1/orgs/$org/webhooks" -H "Authorization: Bearer $token" \
            -H 'Content-Type: application/json' -d "{\"url\":\"http://127.0.0.1:$RECEIVER_PORT/\"}"
    done
    curl -fs "http://127.0.0.1:$PORT/api/v1/listings?limit=100" | grep -o '"id":"[^"]*","org_id"' | cut -d'"' -f4 > "$data/ids.txt"
    export BENCH_IDS="$data/ids.txt"
    sql "INSERT INTO webhook_deliveries (id, webhook_id, event_seq, status, attempts, next_attempt_at, created_at) \
         SELECT $new_uuid, w.id, e.seq, 'pending', 0, $stamp, $stamp FROM events e JOIN webhooks w ON w.org_id = e.org_id" >/dev/null
    queued=$(sql "SELECT COUNT(*) FROM webhook_deliveries")
    stop_server
    for workers in 1 2; do
        sql "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, delivered_at = NULL, claimed_by = NULL, lease_until = NULL" >/dev/null
        sql "DELETE FROM webhook_attempts" >/dev/null
        start=$(date +%s.%N)
        pids=()
        for _ in $(seq 1 $workers); do
            env DATABASE_URL="$url" MUTUA_DATA_DIR="$data" RUST_LOG=warn "$BIN" worker > /dev/null 2>&1 &
            pids+=($!)
        done
        while [ "$(sql "SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'delivered'")" -lt "$queued" ]; do sleep 0.2; done
        end=$(date +%s.%N)
        kill "${pids[@]}"; wait "${pids[@]}" 2>/dev/null || true
        attempts=$(sql "SELECT COUNT(*) FROM webhook_attempts")
        rate=$(python3 -c "print(round($queued / ($end - $start)))")
        echo "| $backend | $queued | deliveries, $workers worker(s) | $rate/s | | | attempts: $attempts |" >> "$SUMMARY"
        echo "$backend: $queued deliveries with $workers worker(s): $rate/s ($attempts attempts)"
    done
    # By id against a server that delivers in-process: nothing due, then 1,000 deliveries
    # due to a receiver that answers after 5 s.
    sql "UPDATE webhooks SET url = 'http://127.0.0.1:$SLOW_PORT/'" >/dev/null
    sql "DELETE FROM webhook_attempts" >/dev/null
    env DATABASE_URL="$url" MUTUA_DATA_DIR="$data" MUTUA_BIND="127.0.0.1:$PORT" RUST_LOG=warn \
        "$BIN" serve > "$RESULTS/server-$backend-slow.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
    run_wrk "$backend" "$EVENTS" listing-by-id-nothing-due /api/v1/listings bench/lua/listing.lua
    sql "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = $stamp, \
         claimed_by = NULL, lease_until = NULL WHERE id IN (SELECT id FROM webhook_deliveries ORDER BY id LIMIT 1000)" >/dev/null
    sleep 2
    run_wrk "$backend" "$EVENTS" listing-by-id-1000-due-to-slow /api/v1/listings bench/lua/listing.lua
    echo "$backend: deliveries attempted during the slow run: $(sql "SELECT COUNT(*) FROM webhook_attempts")" | tee -a "$RESULTS/slow.txt"
    stop_server
    kill $FAST $SLOW; wait $FAST $SLOW 2>/dev/null || true
    rm -rf "$data"
done
echo
cat "$SUMMARY"
