#!/bin/sh
# bench/trust.sh: the control socket under another user's abuse, in release.
#
# Runs tests/trust_fairness.rs (each daemon in its own PID namespace, the
# abuse client tests/fixtures/abuse.py run as `nobody` through setpriv) and
# prints its figures:
#   - 3000 half-sent requests of `nobody`, reopened as soon as the daemon
#     drops one: the worst of 50 root `gsup stop web` and of 50 `gsup start
#     web`, the daemon's RSS before and at most (VmRSS), its log's size;
#   - 300 connections of `nobody` asking `list` of 10,000 jobs and never
#     reading: the daemon's RSS before, at most and after, root's `gsup list`
#     before and at worst during, the log's size.
# Needs root, /usr/bin/python3, setpriv and unshare. PROFILE=dev for a debug
# build (the figures `cargo test` prints).
set -eu
cd "$(dirname "$0")/.."
PROFILE=${PROFILE:-release}
if [ "$PROFILE" = release ]; then
    set -- --release
else
    set --
fi
cargo test "$@" --test trust_fairness -- --nocapture --test-threads=1 2>&1 |
    grep -oE '(half-open flood|list flood).*|^test result.*'
