# Shared by bench/run.sh and bench/log.sh (sourced): the server's stop, one wrk
# measurement after a warm-up, and its line in the summary. Expects $RESULTS, $SUMMARY,
# $CONNECTIONS, $DURATION and $PORT.

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
