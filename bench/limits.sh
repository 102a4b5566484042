#!/usr/bin/env bash
# What the per-caller rate limits cost (see docs/API-DESIGN.md, "Rate limits").
#
#   bench/limits.sh [sqlite|postgres|both]     (default: sqlite)
#
# Seeds $BENCH_LIMIT_SIZE listings (default 10,000; 10 per organisation, seed 42) and runs
# wrk against the cached full-text search (one anonymous client address: every request
# counts in the `search` class) and one listing by id (no limited class) three times:
#   off          every limit 0 (turned off)
#   leased       quotas too large to be reached, leases of 32 (the default): one counter
#                upsert per 32 searches
#   per-request  the same quotas, MUTUA_RATE_LIMIT_LEASE=1: one counter upsert per search
# Each measured run follows a 2-second warm-up; results go to bench/results/limits-<time>/.
set -euo pipefail
cd "$(dirname "$0")/.."

BACKENDS=${1:-sqlite}
SIZE=${BENCH_LIMIT_SIZE:-10000}
# A port and a database of its own, so it can run beside bench/run.sh.
BENCH_PORT=${BENCH_PORT:-18090}
DB=mutua_bench_limits
. bench/lib.sh
start_results limits- variant
HUGE=1000000000

start_server() {
    local label=$1
    shift
    env DATABASE_URL="$url" MUTUA_DATA_DIR="$data" MUTUA_BIND="127.0.0.1:$PORT" RUST_LOG=warn \
        MUTUA_DB_POOL_SIZE="${BENCH_POOL:-8}" "$@" "$BIN" serve > "$RESULTS/server-$backend-$label.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
    kill -0 "$SERVER" 2>/dev/null || { echo "the server did not start: $RESULTS/server-$backend-$label.log" >&2; exit 1; }
}

for backend in sqlite postgres; do
    [ "$BACKENDS" = both ] || [ "$BACKENDS" = "$backend" ] || continue
    data=$(mktemp -d)
    if [ "$backend" = sqlite ]; then
        url="$data/mutua.db"
    else
        psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB" >/dev/null
        url="$PG/$DB?sslmode=disable"
    fi
    echo "== $backend, $SIZE listings: seeding"
    DATABASE_URL="$url" MUTUA_DATA_DIR="$data" RUST_LOG=warn \
        "$BIN" seed --orgs $((SIZE / 10)) --listings-per-org 10 --seed 42 --out "$data/logins.csv" > /dev/null
    export BENCH_IDS="$data/ids.txt"
    for variant in off leased per-request; do
        case $variant in
            off) start_server off MUTUA_WRITE_LIMIT=0 MUTUA_REPORT_LIMIT=0 MUTUA_SEARCH_LIMIT=0 MUTUA_MATCHES_LIMIT=0 ;;
            leased) start_server leased MUTUA_SEARCH_LIMIT=$HUGE MUTUA_MATCHES_LIMIT=$HUGE MUTUA_WRITE_LIMIT=$HUGE ;;
            per-request) start_server per-request MUTUA_SEARCH_LIMIT=$HUGE MUTUA_MATCHES_LIMIT=$HUGE \
                MUTUA_WRITE_LIMIT=$HUGE MUTUA_RATE_LIMIT_LEASE=1 ;;
        esac
        [ -s "$BENCH_IDS" ] || curl -fs "http://127.0.0.1:$PORT/api/v1/listings?limit=100" \
            | grep -o '"id":"[^"]*","org_id"' | cut -d'"' -f4 > "$BENCH_IDS"
        while read -r word; do
            curl -fsG -o /dev/null "http://127.0.0.1:$PORT/api/v1/listings" --data-urlencode "q=$word"
        done < bench/search-words.txt
        run_wrk "$backend" "$variant" search-cached /api/v1/listings bench/lua/search.lua
        run_wrk "$backend" "$variant" listing-by-id /api/v1/listings bench/lua/listing.lua
        stop_server
    done
    rm -rf "$data"
    [ "$backend" = sqlite ] || psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null
done
echo
cat "$SUMMARY"
