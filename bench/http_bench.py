#!/usr/bin/env python3
"""The figures of `gsup daemon --http` with N jobs (run through bench/http.sh).

Starts a daemon with N `sleep` jobs and --http on a free loopback port, then:
  page     size of / and the time to serve it (fresh snapshot, and cached)
  metrics  daemon CPU time per /metrics scrape (fresh snapshot each time):
           the sum of every daemon thread's on-CPU nanoseconds
           (/proc/PID/task/*/schedstat) before and after one scrape, and
           the main thread's (the supervisor's loop) alone
  status   `gsup status JOB`, `gsup status -v JOB` (socket) and `gsup list`
           latency, idle and while /metrics is scraped SCRAPE_HZ times a second
Usage: http_bench.py GSUP WORKDIR [N]. Prints one line per figure.
"""
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

GSUP, WORK = sys.argv[1], sys.argv[2]
N = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
ROUNDS = int(os.environ.get("ROUNDS", "15"))
STATUS_RUNS = int(os.environ.get("STATUS_RUNS", "300"))
SCRAPE_HZ = float(os.environ.get("SCRAPE_HZ", "50"))
MAX_AGE = 1.05  # the server reuses a snapshot younger than 1 s


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def daemon_cpu_ns(pid, only=None):
    """On-CPU ns of the daemon's threads (of thread `only` alone, if given)."""
    total = 0
    for t in [str(only)] if only else os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{t}/schedstat") as f:
                total += int(f.read().split()[0])
        except OSError:
            pass
    return total


def process_ticks(pid):
    """utime + stime of the whole daemon, exited threads included (ticks)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def cgroup2_root():
    """Where the cgroup2 hierarchy is mounted (None without one)."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            if right.split()[:1] == ["cgroup2"]:
                return left.split()[4]
    return None


def read_costs(pids):
    """Microseconds per os.pread at offset 0 of each file kind, over the
    kept-open files of `pids` (the jobs' main processes) and their groups;
    the median of 5 passes. A file the kernel does not offer is left out,
    and the cgroup files when the jobs share one group (no cgroups)."""
    root = cgroup2_root()
    rels = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/cgroup") as f:
                rels[pid] = next(l[3:].strip() for l in f if l.startswith("0::"))
        except (OSError, StopIteration):
            pass
    if len(set(rels.values())) < len(pids) // 2:
        root = None
    files = {"/dev/null (the syscall alone)": [], "proc stat": [], "proc statm": [],
             "proc children": [], "cgroup cpu.stat": [], "cgroup memory.current": [],
             "cgroup cgroup.procs": []}
    for pid in pids:
        def add(kind, path):
            try:
                files[kind].append(os.open(path, os.O_RDONLY | os.O_CLOEXEC))
            except OSError:
                pass
        add("/dev/null (the syscall alone)", "/dev/null")
        add("proc stat", f"/proc/{pid}/stat")
        add("proc statm", f"/proc/{pid}/statm")
        add("proc children", f"/proc/{pid}/task/{pid}/children")
        rel = rels.get(pid)
        if root and rel:
            for name in ["cpu.stat", "memory.current", "cgroup.procs"]:
                add(f"cgroup {name}", f"{root}{rel}/{name}")
    out = []
    for kind, fds in files.items():
        if not fds:
            continue
        passes = []
        for _ in range(5):
            t0 = time.perf_counter()
            for fd in fds:
                os.pread(fd, 4096, 0)
            passes.append((time.perf_counter() - t0) / len(fds))
        out.append(f"{kind} {statistics.median(passes) * 1e6:.2f} us (n={len(fds)})")
        for fd in fds:
            os.close(fd)
    return out


def fetch(url):
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=10) as r:
        body = r.read()
    return body, time.perf_counter() - t0


def ms(xs):
    xs = sorted(xs)
    p99 = xs[min(len(xs) - 1, int(len(xs) * 0.99))]
    return f"median {statistics.median(xs) * 1e3:.2f} ms, p99 {p99 * 1e3:.2f} ms, max {xs[-1] * 1e3:.2f} ms (n={len(xs)})"


def main():
    conf = os.path.join(WORK, "services.d")
    os.makedirs(conf, exist_ok=True)
    for i in range(N):
        with open(os.path.join(conf, f"job{i}.yaml"), "w") as f:
            f.write('exec: [sleep, "100000"]\nstart_on: startup\n')
    port = free_port()
    sock = os.path.join(WORK, "gsup.sock")
    err = open(os.path.join(WORK, "daemon.err"), "w")
    d = subprocess.Popen(
        [GSUP, "daemon", "--config-dir", conf, "--log-dir", os.path.join(WORK, "log"),
         "--socket", sock, "--http", f"127.0.0.1:{port}", *os.environ.get("GSUP_ARGS", "").split()],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
    gsup = lambda *a: subprocess.run([GSUP, "--socket", sock, *a], capture_output=True, text=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        out = gsup("list").stdout
        if out.count("start/running") == N:
            break
        time.sleep(0.2)
    else:
        sys.exit(f"the {N} jobs did not all start")
    base = f"http://127.0.0.1:{port}"
    print(f"jobs: {N}, daemon pid {d.pid}, gsup {GSUP}")

    fresh, cached, size = [], [], 0
    for _ in range(ROUNDS):
        time.sleep(MAX_AGE)
        body, t = fetch(base + "/")
        fresh.append(t)
        size = len(body)
        cached.append(fetch(base + "/")[1])
    print(f"page /: {size} bytes ({size / N:.0f} per job)")
    print(f"page / fresh snapshot: {ms(fresh)}")
    print(f"page / cached snapshot: {ms(cached)}")

    cpu, loop, cpu_cached, wall = [], [], [], []
    ticks0 = process_ticks(d.pid)
    for _ in range(ROUNDS):
        time.sleep(MAX_AGE)
        c0, l0 = daemon_cpu_ns(d.pid), daemon_cpu_ns(d.pid, d.pid)
        body, t = fetch(base + "/metrics")
        c1, l1 = daemon_cpu_ns(d.pid), daemon_cpu_ns(d.pid, d.pid)
        fetch(base + "/metrics")
        c2 = daemon_cpu_ns(d.pid)
        cpu.append((c1 - c0) / 1e9)
        loop.append((l1 - l0) / 1e9)
        cpu_cached.append((c2 - c1) / 1e9)
        wall.append(t)
    ticks = process_ticks(d.pid) - ticks0
    hz = os.sysconf("SC_CLK_TCK")
    lines = body.count(b"\n")
    print(f"/metrics: {len(body)} bytes, {lines} lines")
    print(f"/metrics daemon CPU per scrape, fresh snapshot: {ms(cpu)}")
    print(f"  of which the loop's thread (snapshot, socket I/O): {ms(loop)}")
    print(f"  cross-check, the process's utime+stime over the {ROUNDS} rounds "
          f"(one fresh and one cached scrape each): {ticks / hz / ROUNDS * 1e3:.1f} ms a round")
    print(f"/metrics daemon CPU per scrape, cached snapshot: {ms(cpu_cached)}")
    print(f"/metrics wall time, fresh snapshot: {ms(wall)}")

    mains = [o["pid"] for o in map(__import__("json").loads, gsup("list", "--json").stdout.splitlines())
             if o.get("pid")]
    for line in read_costs(mains):
        print(f"pread, {line}")

    def latencies(args):
        xs = []
        for _ in range(STATUS_RUNS):
            t0 = time.perf_counter()
            r = subprocess.run([GSUP, "--socket", sock, *args], stdout=subprocess.DEVNULL)
            xs.append(time.perf_counter() - t0)
            if r.returncode != 0:
                sys.exit(f"gsup {' '.join(args)} failed")
        return xs

    cases = [["status", "job1"], ["status", "-v", "job1"], ["list"]]
    idle = {tuple(c): latencies(c) for c in cases}
    stop = threading.Event()
    scrapes = [0]

    def scraper():
        period = 1.0 / SCRAPE_HZ
        nxt = time.perf_counter()
        while not stop.is_set():
            fetch(base + "/metrics")
            scrapes[0] += 1
            nxt += period
            time.sleep(max(0.0, nxt - time.perf_counter()))

    th = threading.Thread(target=scraper)
    t0 = time.perf_counter()
    th.start()
    busy = {tuple(c): latencies(c) for c in cases}
    stop.set()
    th.join()
    rate = scrapes[0] / (time.perf_counter() - t0)
    for c in cases:
        name = "gsup " + " ".join(c)
        print(f"{name}: idle: {ms(idle[tuple(c)])}")
        print(f"{name}: scraped {rate:.0f}/s: {ms(busy[tuple(c)])}")
    d.terminate()
    d.wait(timeout=60)


main()
