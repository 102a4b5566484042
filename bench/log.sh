#!/usr/bin/env bash
# Benchmarks of the transparency log's read endpoints (see docs/BENCHMARKS.md).
#
#   bench/log.sh [sqlite|postgres|both]     (default: both)
#
# For each backend and each log size in $BENCH_LOG_SIZES (default 10,000 and 1,000,000
# leaves): seeds a fresh database with 100 organisations and that many synthetic
# `agreement.accepted` leaves (`mutua seed --log-leaves`), starts the server and runs wrk
# (2 threads, $BENCH_CONNECTIONS connections, $BENCH_DURATION, --latency, after a 2-second
# warm-up) against
#   checkpoint   GET /api/v1/transparency/checkpoint (root from O(log n) stored hashes + an Ed25519 signature)
#   inclusion    GET /api/v1/transparency/proofs/inclusion?leaf_index=<random>  (bench/lua/inclusion.lua)
#   consistency  GET /api/v1/transparency/proofs/consistency?first=<random>     (bench/lua/consistency.lua)
#   healthz      GET /healthz, the same run's ceiling for comparison
#   events       GET /api/v1/orgs/{id}/events?limit=100, the first page of a random receiving
#                organisation's feed (about 200 `proposal.received` events each), with its
#                key (bench/lua/events.lua)
#   accept       POST /api/v1/proposals/{id}/accept, each of $BENCH_PROPOSALS (default 20,000)
#                seeded open proposals once, as its receiver (bench/lua/accept.lua): one
#                agreement, its item rows and one appended leaf per request. The 2-second
#                warm-up accepts other proposals than the measured run.
# Prints a Markdown table and keeps the raw wrk output under bench/results/. Needs wrk and,
# for PostgreSQL, the server at $BENCH_PG (database `mutua_bench` is recreated).
set -euo pipefail
cd "$(dirname "$0")/.."

BACKENDS=${1:-both}
SIZES=${BENCH_LOG_SIZES:-"10000 1000000"}
. bench/lib.sh
start_results "log-" leaves

for backend in sqlite postgres; do
    [ "$BACKENDS" = both ] || [ "$BACKENDS" = "$backend" ] || continue
    for size in $SIZES; do
        data=$(mktemp -d)
        if [ "$backend" = sqlite ]; then
            url="$data/mutua.db"
        else
            psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS mutua_bench WITH (FORCE)" -c "CREATE DATABASE mutua_bench" >/dev/null
            url="$PG/mutua_bench?sslmode=disable"
        fi
        echo "== $backend, $size log leaves: seeding"
        DATABASE_URL="$url" MUTUA_DATA_DIR="$data" RUST_LOG=warn \
            "$BIN" seed --orgs 100 --listings-per-org 1 --seed 42 --log-leaves "$size" \
            --out "$data/logins.csv" --open-proposals "${BENCH_PROPOSALS:-20000}" \
            --proposals-out "$data/proposals.csv" | tee -a "$RESULTS/seed.txt"
        # The warm-up accepts the first 3,000 proposals, the measured run the others.
        head -n 3001 "$data/proposals.csv" > "$data/proposals-warmup.csv"
        { head -n 1 "$data/proposals.csv"; tail -n +3002 "$data/proposals.csv"; } > "$data/proposals-measured.csv"
        env DATABASE_URL="$url" MUTUA_DATA_DIR="$data" MUTUA_BIND="127.0.0.1:$PORT" RUST_LOG=warn \
            MUTUA_DB_POOL_SIZE="${BENCH_POOL:-8}" "$BIN" serve > "$RESULTS/server-$backend-$size.log" 2>&1 &
        SERVER=$!
        for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
        export BENCH_LOG_SIZE="$size"
        run_wrk "$backend" "$size" healthz /healthz
        run_wrk "$backend" "$size" checkpoint /api/v1/transparency/checkpoint
        run_wrk "$backend" "$size" inclusion /api/v1/transparency/proofs/inclusion bench/lua/inclusion.lua
        run_wrk "$backend" "$size" consistency /api/v1/transparency/proofs/consistency bench/lua/consistency.lua
        export BENCH_RECEIVERS="$data/proposals.csv"
        run_wrk "$backend" "$size" events /api/v1/orgs bench/lua/events.lua
        BENCH_PROPOSALS="$data/proposals-warmup.csv" BENCH_THREADS=2 \
            wrk -t2 -c"$CONNECTIONS" -d2s -s bench/lua/accept.lua "http://127.0.0.1:$PORT" > /dev/null
        out="$RESULTS/$backend-$size-accept.txt"
        BENCH_PROPOSALS="$data/proposals-measured.csv" BENCH_THREADS=2 \
            wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s bench/lua/accept.lua "http://127.0.0.1:$PORT" > "$out"
        record "$backend" "$size" accept "$out"
        # Every proof the run asked for must have verified: spot-check a few with the CLI.
        key=$(curl -fs "http://127.0.0.1:$PORT/api/v1/transparency/public-key" | sed 's/.*"verifier_key":"\([^"]*\)".*/\1/')
        "$BIN" verify inclusion --leaf-index $((size / 3)) --server "http://127.0.0.1:$PORT" --key "$key" \
            | tee -a "$RESULTS/verify.txt" | tail -1
        stop_server
        rm -rf "$data"
    done
done
echo
cat "$SUMMARY"
