#!/bin/sh
# bench/http.sh [N]: the figures of `gsup daemon --http` with N jobs (default
# 1000): the page's size and time to serve, the daemon's CPU time per
# /metrics scrape, and `gsup status` latency while /metrics is scraped
# SCRAPE_HZ (50) times a second, against none. See bench/http_bench.py.
#
# Runs in its own `unshare --pid --fork --mount-proc` namespace: when it
# ends, the kernel kills whatever it started. Only loopback is used.
# GSUP=path picks the binary (default target/release/gsup: cargo build --release);
# GSUP_ARGS adds daemon options ("--containment subreaper").
# ROUNDS (15), STATUS_RUNS (300), SCRAPE_HZ (50) tune it.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
GSUP=${GSUP:-$ROOT/target/release/gsup}
[ -x "$GSUP" ] || { echo "no $GSUP: cargo build --release first" >&2; exit 1; }
WORK=$(mktemp -d /tmp/gsup-http-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
unshare --pid --fork --mount-proc --kill-child \
    python3 "$HERE/http_bench.py" "$GSUP" "$WORK" "${1:-1000}"
