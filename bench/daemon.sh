#!/bin/sh
# bench/daemon.sh: gsup's daemon performance targets, against the bare
# fork/exec floor (bench/bare_loop.c) and runit / s6 when installed.
#
#   bench/daemon.sh coldstart [N]   time until N `sleep` jobs run (default 1000)
#   bench/daemon.sh memory [N]      PSS of the supervisor with N jobs running
#   bench/daemon.sh restart [R]     SIGKILL the main process: time to its replacement (R rounds)
#   bench/daemon.sh status [N]      hyperfine of one status query with N jobs
#   bench/daemon.sh status-pair [N] gsup and runit side by side, N jobs each, one
#                                   status query of each (and /bin/true) interleaved
#   bench/daemon.sh idle [N]        supervisor wakeups in IDLE_SECS (10) s with N jobs
#   bench/daemon.sh all [N]
#
# Every measurement runs in its own `unshare --pid --fork --mount-proc`
# namespace: when it ends, the kernel kills whatever it started. Nothing is
# signalled outside it. Each step has a deadline (TIMEOUT, default 120 s).
# GSUP=path picks the binary (default target/release/gsup: cargo build --release);
# SUPS="bare gsup runit s6" picks the contenders. Work files live on a tmpfs
# private to each namespace (BENCH_DISK=1: on the disk under /tmp instead).
# ROUNDS=N: rounds of status-pair (default 1000). GSUP_ARGS="..." adds
# flags to `gsup daemon` (GSUP_ARGS="--containment subreaper": no cgroups).
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
GSUP=${GSUP:-$ROOT/target/release/gsup}
SUPS=${SUPS:-bare gsup runit s6}
# Extra `gsup daemon` flags, split into words (e.g. "--containment subreaper").
GSUP_ARGS=${GSUP_ARGS:-}
TIMEOUT=${TIMEOUT:-120}
IDLE_SECS=${IDLE_SECS:-10}

say() { printf '%s\n' "$*"; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f ms", (b - a) / 1e6 }'; }
have() { command -v "$1" >/dev/null 2>&1; }

# ---- inside a namespace: one measurement for one supervisor ---------------

# Writes N services for KIND under $W and starts the supervisor; sets SUP_COMMS
# (the comm names of the supervisor's own processes) and returns once started.
sup_start() { # KIND N
    kind=$1 n=$2 i=1
    case $kind in
    gsup)
        mkdir -p "$W/services.d"
        while [ "$i" -le "$n" ]; do
            printf 'exec: [sleep, "100000"]\nstart_on: startup\n' >"$W/services.d/job$i.yaml"
            i=$((i + 1))
        done
        SUP_COMMS=""
        T0=$("$BL" now)
        "$GSUP" daemon --config-dir "$W/services.d" --log-dir "$W/log" \
            --socket "$W/gsup.sock" $GSUP_ARGS 2>"$W/daemon.err" &
        GSUP_PID=$!
        ;;
    runit | s6)
        mkdir -p "$W/sv"
        while [ "$i" -le "$n" ]; do
            mkdir "$W/sv/job$i"
            printf '#!/bin/sh\nexec sleep 100000\n' >"$W/sv/job$i/run"
            chmod +x "$W/sv/job$i/run"
            i=$((i + 1))
        done
        T0=$("$BL" now)
        if [ "$kind" = runit ]; then
            SUP_COMMS="runsvdir runsv"
            runsvdir "$W/sv" >/dev/null 2>&1 &
        else
            SUP_COMMS="s6-svscan s6-supervise"
            s6-svscan -c $((n + 100)) "$W/sv" >/dev/null 2>&1 &
        fi
        ;;
    esac
}

# Pids of the supervisor's own processes (not its jobs).
sup_pids() {
    [ -z "${GSUP_PID:-}" ] || printf '%s\n' "$GSUP_PID"
    for c in $SUP_COMMS; do
        for d in /proc/[0-9]*; do
            [ "$(cat "$d/comm" 2>/dev/null)" = "$c" ] && printf '%s\n' "${d#/proc/}"
        done
    done
    return 0
}

gsupc() { "$GSUP" --socket "$W/gsup.sock" "$@"; }

# Waits until `gsup list` shows N jobs start/running; prints the time.
gsup_wait_running() { # N
    deadline=$(($(date +%s) + TIMEOUT))
    while [ "$(gsupc list 2>/dev/null | grep -c ' start/running')" -lt "$1" ]; do
        [ "$(date +%s)" -lt "$deadline" ] || { say "gsup: timeout waiting for $1 running"; return 1; }
        sleep 0.01
    done
    "$BL" now
}

measure_coldstart() { # KIND N
    if [ "$1" = bare ]; then
        "$BL" coldstart "$2" && "$BL" coldstart-vfork "$2" && "$BL" coldstart-sync "$2"
        return
    fi
    sup_start "$1" "$2"
    t1=$("$BL" waitcomm sleep "$2" "$TIMEOUT") || { say "$1: timeout"; return 1; }
    line="$1 coldstart $2: $(ms "$T0" "$t1") until $2 jobs exec'd"
    if [ "$1" = gsup ]; then
        t2=$(gsup_wait_running "$2") || return 1
        line="$line, $(ms "$T0" "$t2") until \`gsup list\` shows $2 start/running"
    fi
    say "$line"
}

measure_memory() { # KIND N
    sup_start "$1" "$2"
    "$BL" waitcomm sleep "$2" "$TIMEOUT" >/dev/null || { say "$1: timeout"; return 1; }
    [ "$1" != gsup ] || gsup_wait_running "$2" >/dev/null
    sleep 1 # let the supervisor settle after the burst (not a synchronisation)
    pss=0 rss=0 procs=0
    for p in $(sup_pids); do
        kb=$(awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup")
        r=$(awk '/^Rss:/ { print $2 }' "/proc/$p/smaps_rollup")
        pss=$((pss + kb)) rss=$((rss + r)) procs=$((procs + 1))
    done
    say "$1 memory with $2 jobs: PSS $((pss / 1024)) MiB ($pss kB), RSS $((rss / 1024)) MiB, in $procs supervisor processes"
}

measure_status() { # KIND N
    if [ "$1" = bare ]; then
        # The floor: the start and exit of a dynamically linked C program that
        # does nothing (ld.so, libc's CPU-feature set-up), as `sv` pays too.
        cmd=/bin/true
        say "bare status floor: $cmd"
    else
        sup_start "$1" "$2"
        "$BL" waitcomm sleep "$2" "$TIMEOUT" >/dev/null || { say "$1: timeout"; return 1; }
        mid=job$(($2 / 2))
        case $1 in
        gsup) gsup_wait_running "$2" >/dev/null; cmd="$GSUP --socket $W/gsup.sock status $mid" ;;
        runit) cmd="sv status $W/sv/$mid" ;;
        s6) cmd="s6-svstat $W/sv/$mid" ;;
        esac
        say "$1 status with $2 jobs: $($cmd | head -1)"
    fi
    hyperfine -N --warmup 20 --runs 300 --style basic --export-json "$W/status.json" "$cmd" 2>&1 |
        grep -E 'Time|Range' | sed "s/^/  $1: /"
    python3 -c 'import json, sys; r = json.load(open(sys.argv[1]))["results"][0]; print("  %s: median %.3f ms" % (sys.argv[2], r["median"] * 1000))' "$W/status.json" "$1"
}

# gsup and runit in one namespace, N jobs each; their status commands (and
# /bin/true) are timed in turn by `bare_loop interleave`, so that the load
# of a shared machine falls on both alike. Only KIND=pair.
measure_status_pair() { # pair N
    have runsvdir || { say "status-pair: skipped (apt-get install -y runit)"; return 0; }
    sup_start gsup "$2"
    sup_start runit "$2"
    "$BL" waitcomm sleep $(($2 * 2)) "$TIMEOUT" >/dev/null || { say "status-pair: timeout"; return 1; }
    gsup_wait_running "$2" >/dev/null || return 1
    mid=job$(($2 / 2))
    say "status-pair with $2 jobs each: $("$GSUP" --socket "$W/gsup.sock" status "$mid") | $(sv status "$W/sv/$mid")"
    "$BL" interleave "${ROUNDS:-1000}" -- /bin/true -- "$GSUP" --socket "$W/gsup.sock" status "$mid" \
        -- "$(command -v sv)" status "$W/sv/$mid" | awk -v n="${ROUNDS:-1000}" '
        { m[NR] = $1; $1 = ""; c[NR] = $0 }
        END {
            printf "  median of %d, interleaved: /bin/true %.3f ms, gsup %.3f ms, runit %.3f ms: gsup/runit %.3fx\n", n, m[1], m[2], m[3], m[2] / m[3]
        }'
}

measure_idle() { # KIND N
    sup_start "$1" "$2"
    "$BL" waitcomm sleep "$2" "$TIMEOUT" >/dev/null || { say "$1: timeout"; return 1; }
    [ "$1" != gsup ] || gsup_wait_running "$2" >/dev/null
    sleep 2 # past the start burst
    pids=$(sup_pids)
    before=0 after=0
    for p in $pids; do
        before=$((before + $(awk '/ctxt_switches/ { s += $2 } END { print s }' "/proc/$p/status")))
    done
    sleep "$IDLE_SECS"
    for p in $pids; do
        after=$((after + $(awk '/ctxt_switches/ { s += $2 } END { print s }' "/proc/$p/status")))
    done
    say "$1 idle with $2 jobs: $((after - before)) context switches in ${IDLE_SECS} s over $(echo $pids | wc -w) supervisor processes"
}

measure_restart() { # KIND R
    if [ "$1" = bare ]; then "$BL" restart "$2" "$W/stamp"; return; fi
    case $1 in
    gsup)
        mkdir -p "$W/services.d"
        printf 'exec: [%s, stamp, %s]\nstart_on: startup\nrespawn: true\nrespawn_delay: 0s\nrespawn_limit: {count: 100000, interval: 1s}\n' \
            "$BL" "$W/stamp" >"$W/services.d/victim.yaml"
        "$GSUP" daemon --config-dir "$W/services.d" --log-dir "$W/log" \
            --socket "$W/gsup.sock" $GSUP_ARGS 2>"$W/daemon.err" &
        ;;
    runit | s6)
        mkdir -p "$W/sv/victim"
        printf '#!/bin/sh\nexec %s stamp %s\n' "$BL" "$W/stamp" >"$W/sv/victim/run"
        chmod +x "$W/sv/victim/run"
        if [ "$1" = runit ]; then runsvdir "$W/sv" >/dev/null 2>&1 & else s6-svscan "$W/sv" >/dev/null 2>&1 & fi
        ;;
    esac
    old=$("$BL" waitstamp "$W/stamp" 0 "$TIMEOUT") || { say "$1: never started"; return 1; }
    i=1 all=""
    while [ "$i" -le "$2" ]; do
        pid=""
        for d in /proc/[0-9]*; do
            [ "$(cat "$d/cmdline" 2>/dev/null | tr '\0' ' ')" = "$BL stamp $W/stamp " ] && pid=${d#/proc/}
        done
        [ -n "$pid" ] || { say "$1: no victim process"; return 1; }
        t0=$("$BL" kill "$pid")
        new=$("$BL" waitstamp "$W/stamp" "$old" "$TIMEOUT") || { say "$1: no restart after round $i"; return 1; }
        all="$all $((new - t0))"
        old=$new
        i=$((i + 1))
    done
    say "$1 restart (kill -> new process running), $2 rounds:" \
        "$(printf '%s\n' $all | sort -n | awk '{ a[NR] = $1 } END { printf "min %.2f ms, median %.2f ms, max %.2f ms", a[1] / 1e6, a[int((NR + 1) / 2)] / 1e6, a[NR] / 1e6 }')," \
        "first $(printf '%s\n' $all | awk 'NR == 1 { printf "%.2f ms", $1 / 1e6 }')," \
        "tenth $(printf '%s\n' $all | awk 'NR == 10 { printf "%.2f ms", $1 / 1e6 }')"
}

# ---- outside: set up, then one namespace per (measure, supervisor) --------

if [ "${1:-}" = __inner ]; then
    shift
    W=$1 BL=$2 GSUP=$3 TIMEOUT=$4 IDLE_SECS=$5 measure=$6 kind=$7 arg=$8
    W=$W/$measure-$kind
    mkdir -p "$W"
    # A private tmpfs (this namespace's own mount): unit files and job logs
    # are not timed against the host disk's state (ext4 inode allocation on a
    # churned /tmp cost gsup ~2 ms per new log file in one run).
    [ "${BENCH_DISK:-}" = 1 ] || mount -t tmpfs -o size=512m gsup-bench "$W"
    "measure_$(echo "$measure" | tr - _)" "$kind" "$arg"
    rc=$?
    # Untimed: a daemon shut down removes its cgroup domain; one ended with
    # the namespace would leave it, empty, in the host's cgroup tree.
    if [ -S "$W/gsup.sock" ]; then
        timeout 60 "$GSUP" --socket "$W/gsup.sock" shutdown >/dev/null 2>&1 || true
        [ -z "${GSUP_PID:-}" ] || wait "$GSUP_PID" 2>/dev/null || true
    fi
    exit $rc
fi

cmd=${1:-}
arg=${2:-}
case $cmd in
coldstart | memory | status | idle | status-pair) arg=${arg:-1000} ;;
restart) arg=${arg:-20} ;;
all) arg=${arg:-1000} ;;
*) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
[ "$(id -u)" = 0 ] || { say "needs root (PID namespaces)"; exit 2; }

WORK=$(mktemp -d /tmp/gsup-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT INT TERM
BL=$WORK/bare_loop
cc -O2 -o "$BL" "$HERE/bare_loop.c"

[ -x "$GSUP" ] || say "# no $GSUP: run \`cargo build --release\` first (gsup rows show TBD)"
# The daemon is usable when `gsup daemon` stays up and answers `gsup list`.
gsup_works() {
    [ -x "$GSUP" ] || return 1
    unshare --pid --fork --mount-proc --kill-child sh -c '
        d=$(mktemp -d); mkdir "$d/s"
        "$1" daemon --config-dir "$d/s" --log-dir "$d/l" --socket "$d/sock" 2>/dev/null &
        i=0
        while [ $i -lt 200 ]; do
            "$1" --socket "$d/sock" list >/dev/null 2>&1 && {
                "$1" --socket "$d/sock" shutdown >/dev/null 2>&1 # its cgroup domain goes with it
                wait $!; rm -rf "$d"; exit 0
            }
            kill -0 $! 2>/dev/null || break
            sleep 0.05; i=$((i + 1))
        done
        rm -rf "$d"; exit 1' sh "$GSUP"
}

run_one() { # MEASURE KIND
    case $2 in
    pair) gsup_works || { say "status-pair: TBD (no working \`gsup daemon\` in $GSUP yet)"; return 0; } ;;
    bare) [ "$1" != memory ] && [ "$1" != idle ] || return 0 ;;
    gsup) gsup_works || { say "gsup $1: TBD (no working \`gsup daemon\` in $GSUP yet)"; return 0; } ;;
    runit) have runsvdir || { say "runit $1: skipped (apt-get install -y runit)"; return 0; } ;;
    s6) have s6-svscan || { say "s6 $1: skipped (apt-get install -y s6)"; return 0; } ;;
    esac
    timeout --signal=KILL $((TIMEOUT + IDLE_SECS + 60)) \
        unshare --pid --fork --mount-proc --kill-child \
        sh "$0" __inner "$WORK" "$BL" "$GSUP" "$TIMEOUT" "$IDLE_SECS" "$1" "$2" "$arg" ||
        say "$2 $1: failed (exit $?)"
}

say "# $(date -u +%FT%TZ) $(uname -r), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$cmd" = all ]; then measures="coldstart memory restart status status-pair idle"; else measures=$cmd; fi
for m in $measures; do
    a=$arg
    [ "$m" != restart ] || [ "$cmd" != all ] || arg=20
    if [ "$m" = status-pair ]; then
        run_one "$m" pair
    else
        for k in $SUPS; do run_one "$m" "$k"; done
    fi
    arg=$a
done
