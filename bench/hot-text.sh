#!/bin/sh
# bench/hot-text.sh: which functions `gsup status JOB` runs outside the
# binary's `.text.hot` section (link/hot-text.ld), and how many 64 kB windows
# of code it touches. Run it after changing the status path: every function
# it lists costs the command a page fault (docs/performance.md, "Hot text").
#
#   bench/hot-text.sh            (needs valgrind and python3; GSUP=path picks the binary)
#
# The daemon runs in its own `unshare --pid --fork --mount-proc` namespace
# with three jobs; the status command runs once under callgrind.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
GSUP=${GSUP:-$HERE/../target/release/gsup}
for tool in valgrind python3 unshare; do
    command -v "$tool" >/dev/null || { echo "hot-text: needs $tool (apt-get install -y valgrind python3)" >&2; exit 2; }
done
[ -x "$GSUP" ] || { echo "hot-text: no binary at $GSUP (cargo build --release)" >&2; exit 2; }

OUT=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$OUT"' EXIT

unshare --pid --fork --mount-proc sh -eu -c '
    GSUP=$1 OUT=$2
    mkdir -p "$OUT/services.d"
    for j in web db worker; do
        printf "exec: [sleep, \"1000\"]\nstart_on: startup\n" >"$OUT/services.d/$j.yaml"
    done
    "$GSUP" daemon --config-dir "$OUT/services.d" --log-dir "$OUT/log" \
        --socket "$OUT/gsup.sock" 2>"$OUT/daemon.err" &
    daemon=$!
    i=0
    until "$GSUP" status db --socket "$OUT/gsup.sock" 2>/dev/null | grep -q running; do
        i=$((i + 1)); [ $i -lt 200 ] || { echo "hot-text: daemon did not start" >&2; exit 1; }
        sleep 0.05
    done
    valgrind --tool=callgrind --dump-instr=yes --callgrind-out-file="$OUT/cg.out" \
        "$GSUP" status db --socket "$OUT/gsup.sock" >"$OUT/status.out" 2>"$OUT/valgrind.err"
    kill "$daemon"; wait
' sh "$GSUP" "$OUT"

python3 - "$GSUP" "$OUT/cg.out" <<'EOF'
import re, subprocess, sys
binary, cg = sys.argv[1], sys.argv[2]
main = None
for line in subprocess.run(["nm", binary], capture_output=True, text=True).stdout.splitlines():
    p = line.split()
    if len(p) == 3 and p[2] == "main":
        main = int(p[0], 16)
sections = {}
for line in subprocess.run(["readelf", "-SW", binary], capture_output=True, text=True).stdout.splitlines():
    m = re.match(r"\s*\[\s*\d+\]\s+(\S+)\s+\S+\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)", line)
    if m:
        sections[m.group(1)] = (int(m.group(2), 16), int(m.group(3), 16))
code = [v for k, v in sections.items() if k.startswith(".text") or k in (".init", ".fini", ".plt")]
hot = sections.get(".text.hot", (0, 0))
# callgrind names an object or a function once, then refers to it by number;
# cost lines follow the `ob=` (object) and `fn=` (function) they belong to.
# Ours is the object holding `main` (valgrind may not know its name).
fn_names, obj, current, costs = {}, None, None, {}
for line in open(cg):
    m = re.match(r"^(c?)(ob|fn)=\((\d+)\)(?: (.*))?", line)
    if m:
        called, kind, num, name = m.groups()
        if kind == "fn" and name:
            fn_names[num] = name.strip()
        if not called:
            if kind == "ob":
                obj = num
            else:
                current = fn_names.get(num)
        continue
    m = re.match(r"^(0x[0-9a-f]+) ", line)
    if m and current is not None:
        costs.setdefault(obj, {}).setdefault(current, set()).add(int(m.group(1), 16))
addrs = next((fns for fns in costs.values() if "main" in fns), {})
if main is None or "main" not in addrs:
    sys.exit("hot-text: main not found in the profile")
base = min(addrs["main"]) - main
in_code = lambda off: any(s <= off < s + n for s, n in code)
ran = {}
for fn, aa in addrs.items():
    offs = [a - base for a in aa if in_code(a - base)]
    if offs:
        ran[fn] = offs
windows = {off >> 16 for offs in ran.values() for off in offs}
text = sections.get(".text", (0, 0))
outside = sorted((min(offs), fn) for fn, offs in ran.items()
                 if any(text[0] <= o < text[0] + text[1] for o in offs))
print(f"status path: {len(ran)} functions of the binary, in {len(windows)} 64 kB windows of code")
print(f".text.hot: {hot[1]} bytes; {len(outside)} functions run in .text instead")
for off, fn in outside:
    print(f"  {off:#x} {fn}")
EOF
