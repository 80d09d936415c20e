#!/bin/sh
# Bench of the watchdog cycle (SPEC section 5): 1000 watched processes, one totalmem
# check each. Reports gsup's CPU per cycle (examples/watchdog_cycle.rs, getrusage),
# sysinfo's cost for the same pids (bench/watchdog_sysinfo), which files a cycle opens
# (strace), and Monit's CPU with the same processes and checks when monit is installed.
# Everything runs inside its own PID namespace; nothing outside it is signalled.
#
# usage: bench/watchdog.sh [PROCS=1000] [CYCLES=200] [MONIT_SECONDS=30 (0: skip Monit)]
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
procs=${1:-1000}
cycles=${2:-200}
monit_s=${3:-30}

(cd "$root" && cargo build --quiet --release --example watchdog_cycle --example watchdog_procread)
if (cd "$root/bench/watchdog_sysinfo" && cargo build --quiet --release --offline) 2>/dev/null \
   || (cd "$root/bench/watchdog_sysinfo" && cargo build --quiet --release) 2>/dev/null; then
    sysinfo_bin="$root/bench/watchdog_sysinfo/target/release/watchdog_sysinfo"
else
    sysinfo_bin=""
fi
work=$(mktemp -d /tmp/gsup-watchdog-bench.XXXXXX)
echo "watchdog bench: $procs processes, $cycles cycles, work dir $work"
unshare --pid --fork --mount-proc sh "$root/bench/watchdog_inner.sh" \
    "$root" "$work" "$procs" "$cycles" "$monit_s" "$sysinfo_bin"
rm -rf "$work"
