#!/bin/sh
# bench/cgroup.sh [N]: the cost of one cgroup per job at cold start.
#
# Makes a cgroup for the bench under the cgroup2 mount, runs
# examples/cgroup_churn.rs in it inside `unshare --pid --fork --mount-proc`
# (N groups: create, spawn N sleeps placed in them, N unplaced for a
# baseline, cgroup.kill, remove), then kills whatever is left in the bench's
# cgroup and removes it. Needs root and a writable cgroup2.
# Build first: cargo build --release --example cgroup_churn
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
BIN=${BIN:-$ROOT/target/release/examples/cgroup_churn}
N=${1:-1000}

[ -x "$BIN" ] || { echo "build it: cargo build --release --example cgroup_churn" >&2; exit 1; }
MOUNT=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") { print $5; exit } break } }' /proc/self/mountinfo)
[ -n "$MOUNT" ] || { echo "no cgroup2 mounted" >&2; exit 1; }
G=$MOUNT/gsup-bench-$$
mkdir "$G"

cleanup() {
    echo 1 > "$G/cgroup.kill" 2>/dev/null || true
    i=0
    while grep -q '^populated 1' "$G/cgroup.events" 2>/dev/null && [ $i -lt 1000 ]; do
        sleep 0.01; i=$((i + 1))
    done
    find "$G" -depth -type d -exec rmdir {} + 2>/dev/null || true
}
trap cleanup EXIT

echo "kernel $(uname -r), cgroup2 at $MOUNT, N=$N"
GSUP_BENCH_CGROUP=$G unshare --pid --fork --mount-proc --kill-child "$BIN" "$N"
