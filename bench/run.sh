#!/usr/bin/env bash
# Benchmarks of the release build on this machine (see docs/BENCHMARKS.md).
#
#   bench/run.sh [sqlite|postgres|both]     (default: both)
#
# For each backend: seeds 1,000 / 10,000 / 100,000 listings (10 per organisation,
# seed 42), starts the server, and runs wrk (2 threads, 16 connections, 10 s, --latency)
# against the matches endpoint at every size, and against /healthz, one listing by id and
# the full-text search at 100,000 listings (with a warm result cache, then with the cache
# off). Every measured run follows a 2-second warm-up run of the same requests. Prints a Markdown table and keeps the raw wrk
# output under bench/results/. Needs wrk (Debian package `wrk`) and, for PostgreSQL, the
# server at $BENCH_PG (default postgres://postgres@127.0.0.1:5432) with rights to create
# the database `mutua_bench`.
set -euo pipefail
cd "$(dirname "$0")/.."

BACKENDS=${1:-both}
SIZES=${BENCH_SIZES:-"1000 10000 100000"}
. bench/lib.sh
start_results "" listings

# start_server BACKEND LABEL [VAR=VALUE…]   (uses $url and $data of the current size)
start_server() {
    local backend=$1 label=$2
    shift 2
    env DATABASE_URL="$url" MUTUA_DATA_DIR="$data" MUTUA_BIND="127.0.0.1:$PORT" RUST_LOG=warn \
        MUTUA_DB_POOL_SIZE="${BENCH_POOL:-8}" "$@" "$BIN" serve > "$RESULTS/server-$backend-$label.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
}

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
        logins="$data/logins.csv"
        echo "== $backend, $size listings: seeding"
        DATABASE_URL="$url" MUTUA_DATA_DIR="$data" RUST_LOG=warn \
            "$BIN" seed --orgs $((size / 10)) --listings-per-org 10 --seed 42 --out "$logins" | tee -a "$RESULTS/seed.txt"
        start_server "$backend" "$size"
        export BENCH_LOGINS="$logins" BENCH_IDS="$data/ids.txt"
        curl -fs "http://127.0.0.1:$PORT/api/v1/listings?limit=100" | grep -o '"id":"[^"]*","org_id"' \
            | cut -d'"' -f4 > "$BENCH_IDS"
        last=$([ "$size" = "$(echo "$SIZES" | awk '{print $NF}')" ] && echo yes || true)
        if [ -n "$last" ]; then
            run_wrk "$backend" "$size" healthz /healthz
            run_wrk "$backend" "$size" listing-by-id /api/v1/listings bench/lua/listing.lua
            # Each search word once, so the cached run measures a warm cache.
            while read -r word; do
                curl -fsG -o /dev/null "http://127.0.0.1:$PORT/api/v1/listings" --data-urlencode "q=$word"
            done < bench/search-words.txt
            run_wrk "$backend" "$size" search-cached /api/v1/listings bench/lua/search.lua
        fi
        run_wrk "$backend" "$size" matches /api/v1/orgs bench/lua/matches.lua
        stop_server
        if [ -n "$last" ]; then
            # The same searches with the result cache off: every request computes.
            start_server "$backend" "$size-nocache" MUTUA_SEARCH_CACHE_SIZE=0
            run_wrk "$backend" "$size" healthz-nocache /healthz
            run_wrk "$backend" "$size" listing-by-id-nocache /api/v1/listings bench/lua/listing.lua
            run_wrk "$backend" "$size" page-uncached "/api/v1/listings?limit=20"
            run_wrk "$backend" "$size" search-uncached /api/v1/listings bench/lua/search.lua
            run_wrk "$backend" "$size" search-hard /api/v1/listings bench/lua/search-hard.lua
            stop_server
        fi
        rm -rf "$data"
    done
done
echo
cat "$SUMMARY"
