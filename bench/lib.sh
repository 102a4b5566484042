# Shared by bench/run.sh, bench/log.sh and bench/limits.sh (sourced from the repository
# root): the common settings, the release build, the results folder and summary, the
# server's stop, one wrk measurement after a warm-up, and its line in the summary.

DURATION=${BENCH_DURATION:-10s}
CONNECTIONS=${BENCH_CONNECTIONS:-16}
PG=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
PORT=${BENCH_PORT:-18080}
# The per-caller rate limits stay on (their counting is part of what is measured), with
# quotas no benchmark reaches: wrk sends every request from one address.
export MUTUA_WRITE_LIMIT=${MUTUA_WRITE_LIMIT:-1000000000}
export MUTUA_REPORT_LIMIT=${MUTUA_REPORT_LIMIT:-1000000000}
export MUTUA_SEARCH_LIMIT=${MUTUA_SEARCH_LIMIT:-1000000000}
export MUTUA_MATCHES_LIMIT=${MUTUA_MATCHES_LIMIT:-1000000000}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }

# BENCH_BIN measures another build (e.g. of an older commit) instead of building this tree.
if [ -z "${BENCH_BIN:-}" ]; then cargo build --release --quiet; fi
BIN=${BENCH_BIN:-${CARGO_TARGET_DIR:-target}/release/mutua}

# start_results PREFIX SIZE_COLUMN   — a fresh bench/results/<PREFIX><time>/ with its summary
start_results() {
    RESULTS=bench/results/$1$(date -u +%Y%m%dT%H%M%SZ)
    mkdir -p "$RESULTS"
    SUMMARY="$RESULTS/summary.md"
    echo "| backend | $2 | endpoint | req/s | p50 | p99 |" > "$SUMMARY"
    echo "|---|---|---|---|---|---|" >> "$SUMMARY"
}

SERVER=""
stop_server() { [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null; SERVER=""; }
trap stop_server EXIT

# record BACKEND SIZE NAME OUT   — adds the wrk output OUT to the summary and prints it
record() {
    local rps p50 p99 errors
    rps=$(awk '/^Requests\/sec/ {print $2}' "$4")
    p50=$(awk '$1 == "50%" {print $2}' "$4")
    p99=$(awk '$1 == "99%" {print $2}' "$4")
    errors=$(awk '/Non-2xx or 3xx responses/ {print $5}' "$4")
    echo "| $1 | $2 | $3 | ${rps%.*} | $p50 | $p99 |${errors:+ non-2xx: $errors}" >> "$SUMMARY"
    echo "$1 $2 $3: $rps req/s, p50 $p50, p99 $p99${errors:+, NON-2xx: $errors}"
}

# run_wrk BACKEND SIZE NAME PATH [LUA]   (after a 2-second warm-up run that is not recorded)
run_wrk() {
    local out="$RESULTS/$1-$2-$3.txt"
    wrk -t2 -c"$CONNECTIONS" -d2s ${5:+-s "$5"} "http://127.0.0.1:$PORT$4" > /dev/null
    wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency ${5:+-s "$5"} "http://127.0.0.1:$PORT$4" > "$out"
    record "$1" "$2" "$3" "$out"
}
