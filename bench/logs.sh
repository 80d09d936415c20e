#!/bin/sh
# Bench of job log throughput (SPEC section 7): a writer prints numbered 64-byte
# lines as fast as it can, MB megabytes, into gsup's log thread (examples/log_bench.rs:
# a LogHub and a writer child, through a real pipe), straight into a file, and into
# runit's svlogd and s6's s6-log, on a tmpfs. Prints MB/s and the logger's CPU
# seconds per GB (the log thread's for gsup), each run REPEAT times.
# Every logger rotates at MAX bytes and keeps KEEP files.
#
# usage: bench/logs.sh [MB=1000] [REPEAT=3] [MAX=100000000] [KEEP=5]
# needs: apt-get install -y runit s6   (svlogd, s6-log; skipped when missing)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
mb=${1:-1000}
repeat=${2:-3}
max=${3:-100000000}
keep=${4:-5}
bytes=$((mb * 1000000))

(cd "$root" && cargo build --quiet --release --example log_bench)
bin="$root/target/release/examples/log_bench"
tmpfs=/dev/shm
[ -d "$tmpfs" ] || tmpfs=/tmp
work=$(mktemp -d "$tmpfs/gsup-logs-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "log bench: $mb MB of 64-byte lines, rotate at $max bytes keeping $keep, in $work ($(df -T "$work" | awk 'NR==2 {print $2}'))"

fresh() { rm -rf "$work/d"; mkdir -p "$work/d"; }

i=0
while [ "$i" -lt "$repeat" ]; do
    i=$((i + 1))
    fresh; "$bin" direct "$work/d/direct.log" "$bytes"
    fresh; "$bin" gsup "$work/d" "$bytes" "$max" "$keep"
    fresh; TIMESTAMPS=1 "$bin" gsup "$work/d" "$bytes" "$max" "$keep"
    if command -v svlogd >/dev/null; then
        fresh; printf 's%s\nn%s\n' "$max" "$keep" >"$work/d/config"
        "$bin" pipe "$bytes" svlogd "$work/d"
    fi
    if command -v s6-log >/dev/null; then
        fresh; "$bin" pipe "$bytes" s6-log "n$keep" "s$max" "$work/d"
        fresh; "$bin" pipe "$bytes" s6-log -b "n$keep" "s$max" "$work/d"
    fi
done
