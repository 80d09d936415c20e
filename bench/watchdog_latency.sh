#!/bin/sh
# Bench of the watchdog's reaction time in the real daemon (SPEC section 5): a job
# allocating 10 MB every 100 ms under `if totalmem > 100 MB for 3 cycles then restart`
# at a 1 s cycle. A sampler reads /proc every ~2 ms and reports, per restart, the time
# from the first sample over the limit to the first sample where that process is dead
# (bound: 3 cycles + 50 ms), and every zombie seen at any sample (pid, how long).
# Everything runs inside its own PID namespace; nothing outside it is signalled.
#
# usage: bench/watchdog_latency.sh [ROUNDS=5] [CYCLE=1s]   (GSUP=path to use a build)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
rounds=${1:-5}
cycle=${2:-1s}
if [ -z "${GSUP:-}" ]; then
    (cd "$root" && cargo build --quiet --release --bin gsup)
    GSUP="$root/target/release/gsup"
fi
work=$(mktemp -d /tmp/gsup-wd-latency.XXXXXX)
mkdir -p "$work/services.d"
cat > "$work/services.d/leak.yaml" <<EOF
start_on: startup
exec: [python3, $root/tests/fixtures/leaky_poller.py, '10', '0.1', '400']
kill_timeout: 2s
checks:
  - if totalmem > 100 MB for 3 cycles then restart
EOF
cat > "$work/sampler.py" <<'EOF'
import os, sys, time
rounds, limit = int(sys.argv[1]), 100 << 20
page = os.sysconf("SC_PAGE_SIZE")
me = os.getpid()

def stat(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    rest = s[s.rfind(")") + 2:].split()
    return rest[0], int(rest[21]) * page, s[s.find("(") + 1:s.rfind(")")]

def leaker():
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/cmdline", "rb") as f:
                    if b"leaky_poller" in f.read():
                        return int(d)
            except OSError:
                pass
    return None

lat, zombies, samples, pid, cross = [], {}, 0, None, None
end = time.monotonic() + 60 + rounds * 10
while len(lat) < rounds and time.monotonic() < end:
    now = time.monotonic()
    samples += 1
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = stat(d)
            if st and st[0] == "Z":
                first, last = zombies.get(d, (now, now))
                zombies[d] = (first, now)
    if pid is None:
        pid = leaker()
        cross = None
    else:
        st = stat(pid)
        if st is None or st[0] == "Z":
            if cross is not None:
                lat.append((now - cross) * 1000)
                print(f"pid {pid}: dead {lat[-1]:.0f} ms after crossing 100 MB", flush=True)
            pid = None
        elif cross is None and st[1] > limit:
            cross = now
    time.sleep(0.002)
print(f"rounds {len(lat)}; latency ms: min {min(lat):.0f} max {max(lat):.0f} "
      f"mean {sum(lat)/len(lat):.0f}; samples {samples}")
print(f"zombies seen: {len(zombies)}" + "".join(
    f"; pid {p} for {(b - a) * 1000:.1f} ms" for p, (a, b) in zombies.items()))
EOF
cat > "$work/inner.sh" <<EOF
"$GSUP" daemon --config-dir "$work/services.d" --log-dir "$work/log" \
    --socket "$work/gsup.sock" --cycle "$cycle" 2> "$work/daemon.log" &
python3 "$work/sampler.py" "$rounds"
"$GSUP" --socket "$work/gsup.sock" shutdown > /dev/null
wait
EOF
echo "watchdog latency: $rounds restarts at cycle $cycle, work dir $work"
unshare --pid --fork --mount-proc --kill-child sh "$work/inner.sh"
grep -c "action: restart" "$work/daemon.log" | sed 's/^/restart actions logged: /'
rm -rf "$work"
