#!/bin/sh
# bench/reexec.sh [N] [ROUNDS]: how long clients wait while `gsup reexec`
# replaces a daemon with N jobs (default 1000), ROUNDS times (default 5).
#
# In its own `unshare --pid --fork --mount-proc --kill-child` namespace:
# starts `gsup daemon` on N `sleep` jobs, waits until all run, then for
# each round runs `gsup list` in a tight loop in the background (each call
# timed) while `gsup reexec` runs, and prints the time `gsup reexec` took
# (until the new image answers) and the slowest `gsup list` that overlapped
# it: the window in which no daemon answers, as a client sees it. Checks
# that the jobs' pids are the same after every round.
# GSUP=path picks the binary (default target/release/gsup).
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
GSUP=${GSUP:-$ROOT/target/release/gsup}
N=${1:-1000}
ROUNDS=${2:-5}

[ -x "$GSUP" ] || { echo "build it: cargo build --release" >&2; exit 1; }
if [ "${GSUP_REEXEC_INNER:-}" != 1 ]; then
    exec env GSUP_REEXEC_INNER=1 GSUP="$GSUP" timeout 300 \
        unshare --pid --fork --mount-proc --kill-child sh "$0" "$N" "$ROUNDS"
fi

W=$(mktemp -d /tmp/gsup-reexec.XXXXXX)
mkdir "$W/s"
i=1
while [ "$i" -le "$N" ]; do
    printf 'exec: [sleep, "100000"]\nstart_on: startup\n' >"$W/s/job$i.yaml"
    i=$((i + 1))
done
"$GSUP" daemon --config-dir "$W/s" --log-dir "$W/log" --socket "$W/g.sock" 2>"$W/daemon.err" &
G="$GSUP --socket $W/g.sock"
until [ "$($G list 2>/dev/null | grep -c start/running)" -eq "$N" ]; do sleep 0.1; done
now_ms() { date +%s%N | awk '{ printf "%.1f", $1 / 1e6 }'; }
$G list --json | sed 's/.*"pid":\([0-9]*\).*/\1/' | sort >"$W/pids.before"

r=1
while [ "$r" -le "$ROUNDS" ]; do
    rm -f "$W/stop" "$W/lat"
    (
        while [ ! -e "$W/stop" ]; do
            a=$(now_ms)
            $G list >/dev/null 2>&1 || echo "list failed" >>"$W/lat"
            b=$(now_ms)
            echo "$a $b" | awk '{ printf "%.1f\n", $2 - $1 }' >>"$W/lat"
        done
    ) &
    ASKER=$!
    sleep 0.3
    a=$(now_ms)
    $G reexec
    b=$(now_ms)
    sleep 0.3
    touch "$W/stop"
    wait "$ASKER"
    worst=$(grep -v failed "$W/lat" | sort -n | tail -1)
    failed=$(grep -c failed "$W/lat" || true)
    calls=$(wc -l <"$W/lat")
    echo "round $r: gsup reexec took $(echo "$a $b" | awk '{ printf "%.1f", $2 - $1 }') ms; slowest of $calls concurrent gsup list: $worst ms; failed: $failed"
    $G list --json | sed 's/.*"pid":\([0-9]*\).*/\1/' | sort >"$W/pids.after"
    cmp -s "$W/pids.before" "$W/pids.after" || echo "round $r: PIDS CHANGED"
    r=$((r + 1))
done
# `gsup list` of N jobs alone, for comparison.
a=$(now_ms); $G list >/dev/null; b=$(now_ms)
echo "gsup list of $N jobs, no reexec: $(echo "$a $b" | awk '{ printf "%.1f", $2 - $1 }') ms"
$G shutdown >/dev/null
