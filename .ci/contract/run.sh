#!/usr/bin/env bash
# The contract, exact and guarded (issue 12). Everything starts from the committed
# openapi/openapi.json, unmodified, in throw-away environments under one mktemp folder:
#   1. openapi-python-client generates a Python client; mypy --strict checks flow.py's use
#      of it, and flow.py drives an end-to-end flow through it against a running server
#      (SQLite, then PostgreSQL): register, organisations, listings through moderation,
#      search, matches, proposal + counter-offer, accept, complete, endorse, checkpoint and
#      proofs verified in Python, a webhook to a local receiver with its signature checked,
#      typed problems.
#   2. openapi-typescript types + openapi-fetch calls (client.ts) must pass tsc --noEmit.
#   3. schemathesis against the server's /openapi.json (which must equal the committed one):
#      --checks all with every phase (stateful included) under one bearer token, then a run
#      with two organisations' users as peers for object_level_authorization. On both
#      backends (CONTRACT_FUZZ_POSTGRES=0: SQLite only).
# Every part runs even when an earlier one failed; the exit code is non-zero if any did.
# Knobs: CONTRACT_FUZZ_SECONDS (default 100), CONTRACT_OLA_SECONDS (60), CONTRACT_ST_SEED,
# CONTRACT_SKIP_POSTGRES=1, CONTRACT_SPEC (default openapi/openapi.json), CONTRACT_KEEP=1 (keep the temp folder and print its path),
# MUTUA_BIN (a server binary to use instead of target/debug/mutua).
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
here=.ci/contract
# The contract under test; CONTRACT_SPEC only for trying a regenerated copy before it is committed.
spec=$(realpath "${CONTRACT_SPEC:-openapi/openapi.json}")
started=$(date +%s)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mutua-contract.XXXXXX")
server_pids=()
databases=()
PG_HOST=127.0.0.1
PG_PORT=5432
cleanup() {
    for pid in "${server_pids[@]}"; do
        kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    done
    for db in "${databases[@]}"; do
        dropdb --if-exists -h "$PG_HOST" -p "$PG_PORT" -U postgres "$db" 2>/dev/null
    done
    if [ "${CONTRACT_KEEP:-0}" = 1 ]; then
        echo "contract: kept $tmp"
    else
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT

failed=()
fail() {
    failed+=("$1")
    echo "!! contract: FAILED: $1"
}
elapsed() { echo "$(($(date +%s) - started)) s"; }

# One copy of the contract for every part: openapi/openapi.json may be regenerated mid-run.
cp "$spec" "$tmp/openapi.json"
spec_src=$spec
spec=$tmp/openapi.json

# -------------------------------------------------------------------- the server binary
if [ -n "${MUTUA_BIN:-}" ]; then
    bin_src=$MUTUA_BIN
else
    [ -x target/debug/mutua ] || cargo build --quiet
    bin_src=target/debug/mutua
fi
# A copy, so a rebuild during the run cannot change the server under it.
cp "$bin_src" "$tmp/mutua"
mutua=$tmp/mutua

# -------------------------------------------------------------------- tools (pinned)
echo "== contract: Python tools (venv, $here/requirements.txt)"
python3 -m venv "$tmp/venv"
py=$tmp/venv/bin/python
"$py" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"

echo "== contract: openapi-python-client generate --path $spec_src"
mkdir -p "$tmp/gen"
# --fail-on-warning: a warning means the generator skipped or degraded part of the contract.
if (cd "$tmp/gen" && PATH="$tmp/venv/bin:$PATH" "$tmp/venv/bin/openapi-python-client" generate \
    --path "$spec" --meta setup --output-path "$tmp/gen/client" --fail-on-warning >"$tmp/gen/log" 2>&1); then
    "$py" -m pip install --quiet --disable-pip-version-check --no-deps "$tmp/gen/client"
    python_client=1
else
    cat "$tmp/gen/log"
    fail "openapi-python-client: no clean client from $spec_src"
    python_client=0
    # Without --fail-on-warning it may still produce one for the flow.
    if (cd "$tmp/gen" && PATH="$tmp/venv/bin:$PATH" "$tmp/venv/bin/openapi-python-client" generate \
        --path "$spec" --meta setup --output-path "$tmp/gen/client" --overwrite >/dev/null 2>&1); then
        "$py" -m pip install --quiet --disable-pip-version-check --no-deps "$tmp/gen/client" && python_client=1
    fi
fi

if [ "$python_client" = 1 ]; then
    echo "== contract: mypy --strict $here/flow.py (the generated client's signatures)"
    # E.g. a public operation whose generated signature demands AuthenticatedClient.
    if ! "$tmp/venv/bin/mypy" --strict --no-incremental --cache-dir "$tmp/mypy-cache" "$here/flow.py" >"$tmp/mypy.log" 2>&1; then
        cat "$tmp/mypy.log"
        # Name the operation of each error (the module whose sync_detailed is called there).
        "$py" - "$tmp/mypy.log" "$here/flow.py" <<'PY'
import re, sys
log, src = open(sys.argv[1]).read().splitlines(), open(sys.argv[2]).read().splitlines()
seen = {}
for line in log:
    m = re.match(r".*flow\.py:(\d+): error: (.*)", line)
    if not m:
        continue
    n, msg = int(m.group(1)), re.sub(r"\s+\[[a-z-]+\]$", "", m.group(2))
    op = next((c.group(1) for i in range(n - 1, max(n - 6, 0) - 1, -1) if (c := re.search(r"(\w+)\.sync_detailed", src[i]))), "?")
    seen.setdefault(msg, []).append(op)
for msg, ops in seen.items():
    print(f"mypy: {msg}: {', '.join(sorted(set(ops)))}")
PY
        fail "mypy: flow.py does not type-check against the generated client"
    fi
fi

echo "== contract: openapi-typescript + openapi-fetch, tsc --noEmit ($here/client.ts)"
mkdir -p "$tmp/ts"
cp "$here/package.json" "$here/tsconfig.json" "$here/client.ts" "$tmp/ts/"
if (cd "$tmp/ts" && npm install --silent --no-audit --no-fund --no-update-notifier >npm.log 2>&1); then
    if (cd "$tmp/ts" && ./node_modules/.bin/openapi-typescript "$spec" -o schema.ts >gen.log 2>&1); then
        if ! (cd "$tmp/ts" && ./node_modules/.bin/tsc -p tsconfig.json); then
            fail "tsc: client.ts does not type-check against openapi-typescript's types"
        fi
    else
        cat "$tmp/ts/gen.log"
        fail "openapi-typescript could not generate types from $spec_src"
    fi
else
    cat "$tmp/ts/npm.log"
    fail "npm install of $here/package.json"
fi
echo "-- contract: tools and static checks done after $(elapsed)"

# -------------------------------------------------------------------- servers
free_port() { "$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Generous limits: a fuzzer sends thousands of requests from one address and one user;
# capacity bounds are lifted so that no 503 comes from load rather than from a bug.
server_env=(
    MUTUA_LOG_FORMAT=json
    RUST_LOG=warn
    MUTUA_WEBHOOK_ALLOW_HTTP=true
    MUTUA_WEBHOOK_ALLOW_PRIVATE=true
    MUTUA_WRITE_LIMIT=0
    MUTUA_SEARCH_LIMIT=0
    MUTUA_MATCHES_LIMIT=0
    MUTUA_REPORT_LIMIT=0
    MUTUA_LOGIN_PER_MINUTE=1000000
    MUTUA_REGISTER_PER_HOUR=1000000
    MUTUA_LOGIN_MAX_FAILURES=1000000
    MUTUA_LOGIN_ACCOUNT_MAX_FAILURES=1000000
    MUTUA_LISTING_QUOTA=1000000
    MUTUA_SUBMISSIONS_PER_DAY=1000000
    MUTUA_OPEN_PROPOSALS_PER_PARTNER=1000000
    MUTUA_DECLINES_BEFORE_COOLDOWN=0
    MUTUA_SEARCH_CONCURRENCY=0
    MUTUA_MATCHES_CONCURRENCY=0
    MUTUA_BULKHEAD_WAIT_MS=60000
    MUTUA_HASHING_WAIT_MS=60000
    MUTUA_DB_TIMEOUT_SECS=30
)

# start_server NAME [DATABASE_URL]: sets $base and $db_env
start_server() {
    local name=$1 url=${2:-}
    local dir=$tmp/$name port
    mkdir -p "$dir/data"
    port=$(free_port)
    db_env=(MUTUA_DATA_DIR="$dir/data")
    [ -n "$url" ] && db_env+=(DATABASE_URL="$url")
    env "${server_env[@]}" "${db_env[@]}" MUTUA_BIND="127.0.0.1:$port" "$mutua" serve >"$dir/server.log" 2>&1 &
    server_pids+=($!)
    server_pid=$!
    base=http://127.0.0.1:$port
    for _ in $(seq 1 120); do
        if curl -fsS "$base/readyz" >/dev/null 2>&1; then
            return 0
        fi
        if ! kill -0 "$server_pid" 2>/dev/null; then
            break
        fi
        sleep 0.5
    done
    tail -20 "$dir/server.log"
    return 1
}

stop_server() {
    kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
}

admin_email=admin@contract.example
export MUTUA_ADMIN_PASSWORD
MUTUA_ADMIN_PASSWORD=$("$py" -c 'import secrets; print(secrets.token_urlsafe(24))')

# python_flow NAME: the end-to-end flow against $base; leaves tokens in $tmp/NAME/state.json
python_flow() {
    local name=$1
    echo "== contract: Python flow ($name) with the generated client"
    if ! env "${db_env[@]}" "$mutua" create-admin --email "$admin_email" >"$tmp/$name/admin.log" 2>&1; then
        cat "$tmp/$name/admin.log"
        fail "create-admin ($name)"
        return
    fi
    if [ "$python_client" != 1 ]; then
        fail "Python flow ($name): no generated client"
        return
    fi
    if ! "$py" "$here/flow.py" --base-url "$base" --admin-email "$admin_email" --state-out "$tmp/$name/state.json"; then
        fail "Python flow ($name)"
    fi
}

# fuzz NAME: both schemathesis runs against $base with the tokens of python_flow NAME
fuzz() {
    local name=$1 dir=$tmp/$1/st
    mkdir -p "$dir"
    echo "== contract: served /openapi.json equals $spec_src ($name)"
    if ! curl -fsS "$base/openapi.json" -o "$dir/served.json" ||
        ! "$py" -c 'import json, sys; sys.exit(json.load(open(sys.argv[1])) != json.load(open(sys.argv[2])))' \
            "$dir/served.json" "$spec"; then
        fail "the served /openapi.json differs from $spec_src (as the run began; $name); schemathesis tests the served one"
    fi
    if [ ! -s "$tmp/$name/state.json" ]; then
        fail "schemathesis ($name): the flow made no users and organisations to fuzz with"
        return
    fi
    local alice bob seed=()
    alice=$("$py" -c 'import json, sys; print(json.load(open(sys.argv[1]))["alice_token"])' "$tmp/$name/state.json")
    bob=$("$py" -c 'import json, sys; print(json.load(open(sys.argv[1]))["bob_token"])' "$tmp/$name/state.json")
    [ -n "${CONTRACT_ST_SEED:-}" ] && seed=(--seed "$CONTRACT_ST_SEED")
    # Logout and refresh end the run's own session (every later request would be 401);
    # they are the only operations left out.
    local common=(
        --checks all
        --phases examples,coverage,fuzzing,stateful
        --exclude-path-regex '/auth/(logout|refresh)$'
        --output-sanitize false
        --no-color
    )

    # st_hooks.py: a fresh Idempotency-Key for every request, no made-up cursors (decisions 1, 2);
    # schemathesis.toml: what positive_data_acceptance accepts (decision 3).
    local st_env=(SCHEMATHESIS_HOOKS="$root/$here/st_hooks.py")

    echo "== contract: schemathesis --checks all, all phases, one bearer token ($name, ${CONTRACT_FUZZ_SECONDS:-100} s)"
    # The token as the spec's `bearer` scheme, not `-H`: a static header is sent on every request,
    # also on the coverage phase's ones without Authorization (a false missing_required_header).
    { cat "$here/schemathesis.toml" && cat <<EOF
[auth.openapi.bearer]
bearer = "$alice"
EOF
    } >"$dir/all.toml"
    (cd "$dir" && env "${st_env[@]}" CONTRACT_HOOKS_STATS="$dir/all.hooks" "$tmp/venv/bin/st" \
        --config-file "$dir/all.toml" run "$base/openapi.json" "${common[@]}" "${seed[@]}" \
        --max-time "${CONTRACT_FUZZ_SECONDS:-100}" \
        --report ndjson --report-ndjson-path "$dir/all.ndjson" >"$dir/all.txt" 2>&1)
    local rc_all=$?

    echo "== contract: schemathesis object_level_authorization, organisations A and B as peers ($name, ${CONTRACT_OLA_SECONDS:-60} s)"
    "$py" - "$dir/wfc.json" "$alice" "$bob" <<'PY'
import json, sys
path, alice, bob = sys.argv[1:]
users = [("alice", alice), ("bob", bob)]
doc = {"auth": [{"name": n, "fixedHeaders": [{"name": "Authorization", "value": f"Bearer {t}"}]} for n, t in users]}
json.dump(doc, open(path, "w"))
PY
    { cat "$here/schemathesis.toml" && cat <<EOF
[auth.wfc]
path = "$dir/wfc.json"
peers = ["alice", "bob"]
EOF
    } >"$dir/ola.toml"
    (cd "$dir" && env "${st_env[@]}" CONTRACT_HOOKS_STATS="$dir/ola.hooks" "$tmp/venv/bin/st" \
        --config-file "$dir/ola.toml" run "$base/openapi.json" \
        "${common[@]}" "${seed[@]}" --max-time "${CONTRACT_OLA_SECONDS:-60}" \
        --report ndjson --report-ndjson-path "$dir/ola.ndjson" >"$dir/ola.txt" 2>&1)
    local rc_ola=$?

    for run in all ola; do
        echo "-- schemathesis ($name, $run): $(grep -E '^=+ .*(passed|failures?|errors?|warnings?).* in [0-9.]+s =+$' "$dir/$run.txt" | tail -1)"
        grep -E '^Seed: ' "$dir/$run.txt" || true
        echo "   hooks: $(cat "$dir/$run.hooks" 2>/dev/null || echo 'NOT LOADED')"
        [ -s "$dir/$run.hooks" ] || fail "schemathesis ($name, $run): st_hooks.py did not run"
        if grep -q 'object_level_authorization. will not run' "$dir/$run.txt"; then
            fail "schemathesis ($name, $run): object_level_authorization did not run"
        fi
    done
    # The deduplicated findings of both runs; the full output is in all.txt / ola.txt.
    "$py" "$here/st_summary.py" "$dir/all.ndjson" "$dir/ola.ndjson"
    if [ "$rc_all" != 0 ] || [ "$rc_ola" != 0 ]; then
        if [ ! -s "$dir/all.ndjson" ] || [ ! -s "$dir/ola.ndjson" ]; then
            tail -30 "$dir/all.txt" "$dir/ola.txt"
        fi
        fail "schemathesis ($name): findings (exit codes $rc_all, $rc_ola)"
    fi
}

echo "== contract: server on SQLite"
if start_server sqlite; then
    python_flow sqlite
    fuzz sqlite
    stop_server
else
    fail "the server did not become ready on SQLite"
fi
echo "-- contract: SQLite done after $(elapsed)"

if [ "${CONTRACT_SKIP_POSTGRES:-0}" != 1 ]; then
    echo "== contract: server on PostgreSQL"
    if ! pg_isready -q -h "$PG_HOST" -p "$PG_PORT"; then
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
        for _ in $(seq 1 30); do
            pg_isready -q -h "$PG_HOST" -p "$PG_PORT" && break
            sleep 1
        done
    fi
    db=mutua_contract_$$
    if createdb -h "$PG_HOST" -p "$PG_PORT" -U postgres "$db"; then
        databases+=("$db")
        if start_server postgres "postgres://postgres@$PG_HOST:$PG_PORT/$db?sslmode=disable"; then
            python_flow postgres
            [ "${CONTRACT_FUZZ_POSTGRES:-1}" = 1 ] && fuzz postgres
            stop_server
        else
            fail "the server did not become ready on PostgreSQL"
        fi
    else
        fail "createdb $db"
    fi
    echo "-- contract: PostgreSQL done after $(elapsed)"
fi

echo "== contract: done in $(elapsed)"
if [ "${#failed[@]}" -gt 0 ]; then
    echo "contract: ${#failed[@]} part(s) failed:"
    printf '  - %s\n' "${failed[@]}"
    exit 1
fi
echo "contract: every part passed"
