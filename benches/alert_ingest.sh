#!/usr/bin/env bash
# Alert ingest, Tocsin against Prometheus Alertmanager, in one run on this machine: the
# reference first (Alertmanager's own /api/v2/alerts, in memory), then Tocsin's durable
# Alertmanager webhook route on SQLite and on PostgreSQL, at batch sizes 1 and 100, with
# the load generator in ../shared/bench. Prints one JSON line per run and the load average.
#
#   benches/alert_ingest.sh [SECONDS]        (default 10; needs prometheus-alertmanager)
#
# PostgreSQL: the server TEST_DATABASE_URL names (default local, user postgres); the run
# uses a fresh database `tocsin_bench` on it.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
load=../shared/bench/alert_ingest_load.py
pg_server=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
command -v prometheus-alertmanager >/dev/null || {
    echo "needs Debian's prometheus-alertmanager: apt-get install -y prometheus-alertmanager" >&2
    exit 1
}
cargo build --release --quiet
bin=target/release/tocsin
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
key=bench-alertmanager-key
export CHECKOUT_ALERTMANAGER_KEY=$key TOCSIN_CONFIG=$PWD/tocsin.example.toml RUST_LOG=warn

serve() { # DATABASE_URL: starts Tocsin, sets $pid and $base once it listens
    DATABASE_URL=$1 TOCSIN_LISTEN=127.0.0.1:0 "$bin" serve > "$work/serve.out" 2> "$work/serve.err" &
    pid=$!
    for _ in $(seq 1 100); do
        grep -q '^listening on ' "$work/serve.out" 2>/dev/null && break
        sleep 0.1
    done
    base=$(sed -n 's/^listening on //p' "$work/serve.out")
    [ -n "$base" ] || { cat "$work/serve.err" >&2; exit 1; }
}

echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for batch in 1 100; do
    python3 "$load" --start-alertmanager --batch "$batch" --seconds "$seconds"
done
for backend in sqlite postgres; do
    if [ "$backend" = sqlite ]; then
        url="sqlite://$work/bench.db"
    else
        psql "$pg_server" -qc 'DROP DATABASE IF EXISTS tocsin_bench' -c 'CREATE DATABASE tocsin_bench' >/dev/null
        url="${pg_server%/*}/tocsin_bench"
    fi
    serve "$url"
    for batch in 1 100; do
        printf '%s ' "$backend"
        python3 "$load" --url "$base/api/v1/integrations/$key/alertmanager" --format am-webhook \
            --batch "$batch" --seconds "$seconds"
    done
    kill "$pid"
    wait "$pid" || true
done
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
