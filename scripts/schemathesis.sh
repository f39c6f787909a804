#!/usr/bin/env bash
# API fuzzing: runs schemathesis against the OpenAPI document of a real `tocsin serve`
# (fresh temporary SQLite, the example configuration, an admin API token) with every check
# on. Exits non-zero on any failure. The server is stopped and the scratch directory
# removed on exit.
#
#   scripts/schemathesis.sh                      # the CI run (bounded examples)
#   MAX_EXAMPLES=200 scripts/schemathesis.sh     # a longer run
#   TOCSIN_BIN=target/release/tocsin scripts/schemathesis.sh -- --phases fuzzing
#
# Anything after `--` goes to `schemathesis run` unchanged.
set -euo pipefail

SCHEMATHESIS_VERSION=4.32.5
MAX_EXAMPLES=${MAX_EXAMPLES:-25}
SEED=${SEED:-20261126}
ROOT=$(cd "$(dirname "$0")/.." && pwd)

if ! python3 -m schemathesis.cli --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
    python3 -m pip install --quiet "schemathesis==$SCHEMATHESIS_VERSION"
fi

if [[ -z "${TOCSIN_BIN:-}" ]]; then
    (cd "$ROOT" && cargo build --quiet --bin tocsin)
    TOCSIN_BIN=$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug/tocsin
fi

SCRATCH=$(mktemp -d)
SERVER_PID=
cleanup() {
    if [[ -n "$SERVER_PID" ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$SCRATCH"
}
trap cleanup EXIT

cp "$ROOT/tocsin.example.toml" "$SCRATCH/tocsin.toml"
export TOCSIN_CONFIG="$SCRATCH/tocsin.toml"
export DATABASE_URL="sqlite://$SCRATCH/tocsin.db"
export TOCSIN_LISTEN=127.0.0.1:0
export CHECKOUT_ALERTMANAGER_KEY=schemathesis-alertmanager-key
export CHECKOUT_PAGERDUTY_KEY=schemathesis-pagerduty-key
export CHECKOUT_UPTIME_KEY=schemathesis-uptime-key
export CHECKOUT_BACKUP_HEARTBEAT_KEY=schemathesis-heartbeat-key
export GITHUB_WEBHOOK_SECRET=schemathesis-github-webhook-secret
export RUST_LOG=${RUST_LOG:-warn}

"$TOCSIN_BIN" migrate >/dev/null
TOKEN=$("$TOCSIN_BIN" token create --name schemathesis --role admin | tail -n 1)

"$TOCSIN_BIN" serve >"$SCRATCH/stdout" 2>"$SCRATCH/stderr" &
SERVER_PID=$!
URL=
for _ in $(seq 1 300); do
    URL=$(sed -n 's/^listening on //p' "$SCRATCH/stdout" | head -n 1)
    [[ -n "$URL" ]] && break
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "tocsin serve exited before listening:" >&2
        cat "$SCRATCH/stderr" >&2
        exit 1
    fi
    sleep 0.1
done
if [[ -z "$URL" ]]; then
    echo "tocsin serve did not say where it listens within 30 s" >&2
    exit 1
fi
echo "tocsin serve at $URL"

extra=()
if [[ "${1:-}" == "--" ]]; then
    shift
    extra=("$@")
fi

status=0
# From the scratch directory: schemathesis keeps its cache (.schemathesis/) where it runs.
cd "$SCRATCH"
python3 -m schemathesis.cli --config-file "$ROOT/scripts/schemathesis.toml" run "$URL/api/v1/openapi.json" \
    --url "$URL" \
    --header "Authorization: Bearer $TOKEN" \
    --checks all \
    --max-examples "$MAX_EXAMPLES" \
    --seed "$SEED" \
    --workers 1 `# two workers crash hypothesis on CPython 3.11 (ast.parse in threads)` \
    --request-timeout 10 \
    --suppress-health-check too_slow,filter_too_much \
    --report junit --report-dir "${REPORT_DIR:-$ROOT/target/schemathesis}" \
    "${extra[@]}" || status=$?

if grep -q "panicked" "$SCRATCH/stderr"; then
    echo "tocsin serve panicked during the run:" >&2
    grep -A5 "panicked" "$SCRATCH/stderr" >&2
    status=1
fi
exit "$status"
