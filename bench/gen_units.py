#!/usr/bin/env python3
"""Writes N realistic gsup unit files into DIR for bench/check.sh.

Jobs live in 20 groups (folders); within a group each job waits for one or two
earlier jobs (`started`, sometimes `and`/`or`), so the graph has long chains
and several waves. Every file has env, exec, respawn and Monit-style checks;
some have a pidfile, ready, kill settings or a stop_on. Deterministic (seeded).
Usage: gen_units.py DIR [N]
"""
import os
import random
import sys


def main():
    out = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    rng = random.Random(42)
    groups = 20
    names = []
    for i in range(n):
        group = f"group{i % groups:02d}"
        name = f"{group}/svc{i // groups:03d}"
        earlier = [m for m in names if m.startswith(group + "/")]
        lines = [
            f"description: Benchmark service {i} of {n}",
            "author: bench/gen_units.py",
        ]
        if not earlier:
            lines.append("start_on: runlevel [2345]")
        else:
            a = rng.choice(earlier[-5:])
            shape = rng.random()
            if shape < 0.6:
                lines.append(f"start_on: started {a}")
            elif shape < 0.8:
                b = rng.choice(earlier)
                lines.append(f"start_on: started {a} and started {b}")
            else:
                lines.append(f"start_on: (started {a} or starting {a}) and runlevel [2345]")
            if rng.random() < 0.3:
                lines.append(f"stop_on: stopped {a} or runlevel [016]")
        if rng.random() < 0.5 and not lines[-1].startswith("stop_on"):
            lines.append("stop_on: runlevel [06]")
        lines += [
            "env:",
            f"  SERVICE_ID: \"{i}\"",
            f"  QUEUE: \"queue-{i % 7}\"",
            f"  DATA_DIR: /srv/bench/{name}",
            "exec: [/usr/bin/env, python3, -c, \"import time; time.sleep(3600)\", $QUEUE]",
            "respawn: true",
            "respawn_limit: {count: 5, interval: 10s}",
            "kill_timeout: 10s",
        ]
        if rng.random() < 0.3:
            lines += [f"pidfile: /run/bench/svc{i}.pid", "ready: pidfile"]
        elif rng.random() < 0.3:
            lines += ["ready:", f"  tcp: \"127.0.0.1:{20000 + i}\""]
        lines += [
            "checks:",
            "  - if totalmem > 300 MB for 3 cycles then restart",
            "  - if cpu > 90% for 5 cycles then alert",
            "  - if 3 restarts within 5 cycles then stop",
        ]
        path = os.path.join(out, name + ".yaml")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        names.append(name)


if __name__ == "__main__":
    main()
