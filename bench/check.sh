#!/usr/bin/env bash
# Times `gsup check` over 1000 generated unit files (target: median < 100 ms).
# Usage: bench/check.sh [N_FILES] [RUNS]   (from the repository root or anywhere)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
n="${1:-1000}"
runs="${2:-30}"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT

python3 "$here/gen_units.py" "$dir" "$n"
echo "generated $(find "$dir" -name '*.yaml' | wc -l) unit files in $dir"

(cd "$root" && cargo build --release --quiet)
gsup="${CARGO_TARGET_DIR:-$root/target}/release/gsup"

# One run for the record: its summary line, and its exit code.
set +e
"$gsup" check --config-dir "$dir" > "$dir.out"
code=$?
set -e
echo "gsup check: exit $code, $(tail -n 1 "$dir.out"), $(grep -c '^  [0-9]*:' "$dir.out") waves"
rm -f "$dir.out"

if [ -z "${NO_HYPERFINE:-}" ] && command -v hyperfine > /dev/null; then
    hyperfine --warmup 3 --runs "$runs" --ignore-failure --export-json "$dir/h.json" \
        "$gsup check --config-dir $dir" > /dev/null
    python3 - "$dir/h.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
print(f"median {r['median'] * 1000:.1f} ms, mean {r['mean'] * 1000:.1f} ms, "
      f"min {r['min'] * 1000:.1f} ms, max {r['max'] * 1000:.1f} ms over {len(r['times'])} runs")
PY
else
    times=()
    for _ in $(seq "$runs"); do
        t0=$(date +%s%N)
        "$gsup" check --config-dir "$dir" > /dev/null || true
        t1=$(date +%s%N)
        times+=($(( (t1 - t0) / 1000 )))
    done
    median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    echo "median $(( median / 1000 )).$(( median % 1000 / 100 )) ms over $runs runs"
fi
