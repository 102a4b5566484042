#!/usr/bin/env bash
# The outage test (issue 10, "Failing fast, recovering alone"): a PostgreSQL cluster of its
# own on another port, writes under load while it is stopped and started twice (once
# `-m fast`, as an orderly shutdown; once `-m immediate`, as a crash, which loses the
# answers of commits in flight), then bench/outage.py checks every answer against what
# was stored. About 40 s; needs PostgreSQL's server binaries (initdb, pg_ctl) and python3.
#
#   bench/outage.sh                  (release build of this tree)
#   BENCH_BIN=path/to/mutua bench/outage.sh
#
# Exits non-zero if an acknowledged write was lost, a write answered as failed was stored,
# an answer while the database was down took over 1.5 s, or the server did not recover.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_PORT=${OUTAGE_PG_PORT:-55432}
PORT=${BENCH_PORT:-18090}
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)}
if [ -z "${BENCH_BIN:-}" ]; then cargo build --release --quiet; fi
BIN=${BENCH_BIN:-${CARGO_TARGET_DIR:-target}/release/mutua}

cluster=$(mktemp -d /tmp/mutua-outage-XXXXXX)
data=$(mktemp -d)
RESULTS=bench/results/outage-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$RESULTS"
# initdb and the server refuse to run as root: run them as the postgres user then.
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres "$cluster"
pg_ctl_do() { as_pg "$PG_BIN/pg_ctl" -D "$cluster/db" -l "$cluster/log" -w "$@"; }
SERVER=""
cleanup() {
    [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null || true
    pg_ctl_do stop -m immediate >/dev/null 2>&1 || true
    rm -rf "$cluster" "$data"
}
trap cleanup EXIT

as_pg "$PG_BIN/initdb" -D "$cluster/db" -U postgres --auth=trust >/dev/null
start_pg="$PG_BIN/pg_ctl -D $cluster/db -l $cluster/log -w -o '-p $PG_PORT -k /tmp' start"
pg_ctl_do -o "-p $PG_PORT -k /tmp" start >/dev/null
psql="psql -h 127.0.0.1 -p $PG_PORT -U postgres"
$psql -qc "CREATE DATABASE mutua_outage" postgres

url="postgres://postgres@127.0.0.1:$PG_PORT/mutua_outage?sslmode=disable"
# Every writer sends from this one address: without a write quota it never reaches, the
# per-client write limit (300 a minute) would answer most of them 429.
env DATABASE_URL="$url" MUTUA_DATA_DIR="$data" MUTUA_BIND="127.0.0.1:$PORT" RUST_LOG=warn \
    MUTUA_DB_BREAKER_OPEN_MS=500 MUTUA_LOGIN_PER_MINUTE=100000 MUTUA_REGISTER_PER_HOUR=100000 \
    MUTUA_WRITE_LIMIT=1000000000 \
    "$BIN" serve > "$RESULTS/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done

wrap() { if [ "$(id -u)" = 0 ]; then echo "runuser -u postgres -- $*"; else echo "$*"; fi; }
stop_fast=$(wrap "$PG_BIN/pg_ctl -D $cluster/db -w stop -m fast")
stop_crash=$(wrap "$PG_BIN/pg_ctl -D $cluster/db -w stop -m immediate")
start=$(wrap "$start_pg")
set +e
python3 bench/outage.py --port "$PORT" --psql "$psql mutua_outage" --writers "${OUTAGE_WRITERS:-8}" \
    --plan "3; $stop_fast; 3; $start; 5; $stop_crash; 3; $start; 5" | tee "$RESULTS/summary.txt"
verdict=${PIPESTATUS[0]}
set -e
echo "server log (warnings):"
sed -E 's/\x1b\[[0-9;]*m//g; s/^[0-9T:.Z-]+ +//' "$RESULTS/server.log" | grep -E "^(WARN|ERROR)" \
    | cut -c1-150 | sort | uniq -c | sort -rn | head -12
kill -0 "$SERVER" && echo "the server kept running (no restart)"
exit $verdict
