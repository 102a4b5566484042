#!/usr/bin/env bash
# Capacity measurements of the release build (issue 10, "Failing fast, recovering alone" and
# the bulkhead):
#
#   bench/capacity.sh [postgres|sqlite]      (default: postgres)
#
# Seeds BENCH_SIZE listings (default 10,000; 10 per organisation, seed 42), starts the
# server (2 workers, pool of 8) and measures, each after a 2-second warm-up unless it runs
# beside a load:
#   1. the queue: /healthz, by id at c=4 and at c=16, matches at c=16;
#   2. the bulkhead: /healthz and by id (c=4 each) alone, then while 32 connections send
#      cache-busting one- and two-letter searches (bench/lua/search-cold.lua);
#   3. a login storm: by id (c=8) alone, then beside 16 connections logging in with the
#      right password (Argon2id, 19 MiB per hash; bench/lua/login.lua);
#   4. memory: the server's RSS before and after 30 s of all of it at once.
# BENCH_BIN measures another binary (e.g. a build of an older commit); the knobs of
# bench/lib.sh apply (BENCH_DURATION, default 8s here, BENCH_PG, BENCH_PORT).
set -euo pipefail
cd "$(dirname "$0")/.."

BACKEND=${1:-postgres}
SIZE=${BENCH_SIZE:-10000}
BENCH_DURATION=${BENCH_DURATION:-8s}
. bench/lib.sh
start_results capacity- listings
SECONDS_EACH=${DURATION%s}

data=$(mktemp -d)
if [ "$BACKEND" = sqlite ]; then
    url="$data/mutua.db"
else
    psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS mutua_bench WITH (FORCE)" -c "CREATE DATABASE mutua_bench" >/dev/null
    url="$PG/mutua_bench?sslmode=disable"
fi
export BENCH_LOGINS="$data/logins.csv" BENCH_IDS="$data/ids.txt"
echo "== $BACKEND, $SIZE listings: seeding"
DATABASE_URL="$url" MUTUA_DATA_DIR="$data" RUST_LOG=warn \
    "$BIN" seed --orgs $((SIZE / 10)) --listings-per-org 10 --seed 42 --out "$BENCH_LOGINS" | tee -a "$RESULTS/seed.txt"

env DATABASE_URL="$url" MUTUA_DATA_DIR="$data" MUTUA_BIND="127.0.0.1:$PORT" RUST_LOG=warn \
    MUTUA_WORKERS=2 MUTUA_DB_POOL_SIZE="${BENCH_POOL:-8}" \
    MUTUA_LOGIN_PER_MINUTE=100000000 MUTUA_REGISTER_PER_HOUR=100000000 \
    "$BIN" serve > "$RESULTS/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
curl -fs "http://127.0.0.1:$PORT/api/v1/listings?limit=100" | grep -o '"id":"[^"]*","org_id"' \
    | cut -d'"' -f4 > "$BENCH_IDS"

rss() { awk '/^VmRSS/ {printf "%d MB", $2 / 1024}' "/proc/$SERVER/status"; }

# beside NAME CONNECTIONS PATH LUA   — a background load for one measurement and a margin
beside() {
    wrk -t1 -c"$2" -d$((SECONDS_EACH + 3))s --latency -s "$4" "http://127.0.0.1:$PORT$3" \
        > "$RESULTS/$BACKEND-$SIZE-$1.txt" &
    LOAD=$!
    sleep 2
}

# during BENCH_NAME CONNECTIONS PATH [LUA]   — one measurement without warm-up
during() {
    local out="$RESULTS/$BACKEND-$SIZE-$1.txt"
    wrk -t1 -c"$2" -d"$DURATION" --latency ${4:+-s "$4"} "http://127.0.0.1:$PORT$3" > "$out"
    record "$BACKEND" "$SIZE" "$1" "$out"
}

echo "RSS after start: $(rss)" | tee -a "$RESULTS/rss.txt"

echo "== 1. the queue"
run_wrk "$BACKEND" "$SIZE" healthz /healthz
CONNECTIONS=4 run_wrk "$BACKEND" "$SIZE" listing-by-id-c4 /api/v1/listings bench/lua/listing.lua
run_wrk "$BACKEND" "$SIZE" listing-by-id-c16 /api/v1/listings bench/lua/listing.lua
run_wrk "$BACKEND" "$SIZE" matches /api/v1/orgs bench/lua/matches.lua

echo "== 2. the bulkhead"
during healthz-c4-alone 4 /healthz
during listing-by-id-c4-alone 4 /api/v1/listings bench/lua/listing.lua
beside search-hammer-1 32 /api/v1/listings bench/lua/search-cold.lua
during healthz-c4-hammered 4 /healthz
wait "$LOAD"; record "$BACKEND" "$SIZE" search-hammer-1 "$RESULTS/$BACKEND-$SIZE-search-hammer-1.txt"
beside search-hammer-2 32 /api/v1/listings bench/lua/search-cold.lua
during listing-by-id-c4-hammered 4 /api/v1/listings bench/lua/listing.lua
wait "$LOAD"; record "$BACKEND" "$SIZE" search-hammer-2 "$RESULTS/$BACKEND-$SIZE-search-hammer-2.txt"

echo "== 3. a login storm"
during listing-by-id-c8-alone 8 /api/v1/listings bench/lua/listing.lua
beside login-storm 16 /api/v1/listings bench/lua/login.lua
during listing-by-id-c8-storm 8 /api/v1/listings bench/lua/listing.lua
wait "$LOAD"; record "$BACKEND" "$SIZE" login-storm "$RESULTS/$BACKEND-$SIZE-login-storm.txt"

echo "== 4. memory under the mixed load (30 s)"
echo "RSS before the mixed load: $(rss)" | tee -a "$RESULTS/rss.txt"
pids=()
for spec in "4 bench/lua/listing.lua" "4 bench/lua/search.lua" "4 bench/lua/search-cold.lua" \
            "4 bench/lua/matches.lua" "4 bench/lua/login.lua"; do
    set -- $spec
    wrk -t1 -c"$1" -d30s -s "$2" "http://127.0.0.1:$PORT/api/v1/listings" > /dev/null &
    pids+=($!)
done
for t in 10 20; do sleep 10; echo "RSS after ${t} s: $(rss)" | tee -a "$RESULTS/rss.txt"; done
wait "${pids[@]}"
echo "RSS after the mixed load: $(rss)" | tee -a "$RESULTS/rss.txt"
sleep 5
echo "RSS 5 s later: $(rss)" | tee -a "$RESULTS/rss.txt"

stop_server
rm -rf "$data"
echo
cat "$SUMMARY"
cat "$RESULTS/rss.txt"
