#!/bin/sh
# The part of bench/watchdog.sh that runs as PID 1 of a fresh PID namespace: starts the
# sleepers, runs the measurements. When it exits, the kernel ends every process it left.
set -eu
root=$1 work=$2 procs=$3 cycles=$4 monit_s=$5 sysinfo_bin=$6
bin="$root/target/release/examples/watchdog_cycle"
mkdir -p "$work/pids"
i=1
while [ "$i" -le "$procs" ]; do
    sleep 100000 &
    echo $! > "$work/pids/p$i.pid"
    i=$((i + 1))
done

# Room for the watchdog's kept-open descriptors (it uses at most half the soft limit).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || ulimit -n 65536 2>/dev/null || true
echo "soft RLIMIT_NOFILE: $(ulimit -n)"
echo "== gsup watchdog, one job per process (like $procs Monit 'check process')"
"$bin" "$work/pids" "$cycles"
WATCHDOG_UNCACHED=1 "$bin" "$work/pids" "$cycles"
echo "== gsup watchdog, one job whose tree holds all $procs processes"
"$bin" --tree $$ "$cycles"
if [ -n "$sysinfo_bin" ]; then
    echo "== sysinfo refresh_processes_specifics(Some(pids)) for the same pids"
    "$sysinfo_bin" "$work/pids" "$cycles"
fi
echo "== ways to read one process (per-file costs)"
"$root/target/release/examples/watchdog_procread" "$work/pids" "$cycles"

if command -v strace >/dev/null; then
    echo "== files opened by 3 cycles (strace -e openat)"
    strace -f -qq -e trace=openat,open,pread64,getdents64 -o "$work/strace.txt" \
        "$bin" "$work/pids" 3 >/dev/null
    scans=$(grep -c 'open[a-z]*([^"]*"/proc",' "$work/strace.txt" || true)
    pids_read=$(grep -o '"/proc/[0-9]*/' "$work/strace.txt" | sort -u | wc -l)
    stat_opens=$(grep -c '"/proc/[0-9]*/stat"' "$work/strace.txt" || true)
    preads=$(grep -c '^[0-9]* *pread64' "$work/strace.txt" || true)
    echo "opens of /proc itself (a scan): $scans; distinct pids opened: $pids_read (watched: $procs)"
    echo "/proc/PID/stat opens over the setup count + 3 cycles: $stat_opens; preads: $preads"
fi

if [ "$monit_s" -gt 0 ] && command -v monit >/dev/null; then
    echo "== monit $(monit -V | head -1 | sed 's/.*version //'), set daemon 1, same checks, ${monit_s}s"
    rc="$work/monitrc"
    {
        echo "set daemon 1"
        echo "set logfile $work/monit.log"
        echo "set idfile $work/monit.id"
        echo "set statefile $work/monit.state"
        echo "set pidfile $work/monit.pid"
        i=1
        while [ "$i" -le "$procs" ]; do
            echo "check process p$i with pidfile $work/pids/p$i.pid"
            echo "  if totalmem > 300 MB for 3 cycles then alert"
            i=$((i + 1))
        done
    } > "$rc"
    chmod 600 "$rc"
    monit -I -c "$rc" >"$work/monit.out" 2>&1 &
    mpid=$!
    ticks() { awk '{ print $14 + $15 }' "/proc/$mpid/stat"; }
    hz=$(getconf CLK_TCK)
    sleep 5            # let it parse the control file and settle: not measured
    t0=$(ticks)
    sleep "$monit_s"
    t1=$(ticks)
    kill "$mpid" 2>/dev/null || true
    awk -v a="$t0" -v b="$t1" -v hz="$hz" -v s="$monit_s" 'BEGIN {
        cpu = (b - a) / hz;
        printf "monit: %.2f CPU-s in %d s = %.2f CPU-s per 30 s, %.1f ms CPU per 1 s cycle\n",
               cpu, s, cpu * 30 / s, cpu / s * 1000 }'
    tail -n 3 "$work/monit.log" 2>/dev/null | sed 's/^/monit log: /' || true
fi
