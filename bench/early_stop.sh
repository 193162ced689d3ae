#!/usr/bin/env bash
# Early termination against the full grid on the feiniao demo (sweeps/feiniao.yaml, 64
# runs): the same grid trained three ways, one after the other: in full, with ASHA
# (min_steps 50, reduction_factor 3) and with ASHA (min_steps 100, reduction_factor 2).
# Prints, for each, the wall time, the steps trained, the best run and its val loss.
# About 15 minutes on 2 CPU cores. Usage: bash bench/early_stop.sh (after cargo xtask build)
set -euo pipefail
cd "$(dirname "$0")/.."
sweep=${SWEEP:-target/release/sweep}
out=${OUT:-target/bench-early-stop}
rm -rf "$out"
mkdir -p "$out/specs"

# The feiniao grid under another name, with an early_stop: block when given one.
spec() {
    sed "s/^name: feiniao$/name: $1/" sweeps/feiniao.yaml > "$out/specs/$1.yaml"
    if [ -n "${2:-}" ]; then
        printf 'early_stop:\n  method: asha\n  min_steps: %s\n  reduction_factor: %s\n' "$2" "$3" >> "$out/specs/$1.yaml"
    fi
}
spec grid
spec asha50x3 50 3
spec asha100x2 100 2

for name in grid asha50x3 asha100x2; do
    start=$(date +%s.%N)
    "$sweep" run "$out/specs/$name.yaml" --out "$out/runs" > "$out/$name.log"
    end=$(date +%s.%N)
    echo "$name $start $end" >> "$out/times.txt"
done

python3 - "$out" <<'PY'
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
times = {l.split()[0]: float(l.split()[2]) - float(l.split()[1]) for l in (out / "times.txt").read_text().splitlines()}
def runs(name):
    return [json.loads(p.read_text()) for p in sorted((out / "runs" / name).glob("*/summary.json"))]
grid = runs("grid")
best_grid = min(grid, key=lambda s: s["best_val_loss"])
rank = {s["run_id"]: i + 1 for i, s in enumerate(sorted(grid, key=lambda s: s["best_val_loss"]))}
print(f"{'sweep':<10} {'wall s':>7} {'steps':>6} {'pruned':>6}  best run (val loss; its rank in the full grid)")
for name in ["grid", "asha50x3", "asha100x2"]:
    rs = runs(name)
    steps = sum(s["steps"] for s in rs)
    pruned = sum(s["status"] == "pruned" for s in rs)
    best = min(rs, key=lambda s: s["best_val_loss"])
    gap = best["best_val_loss"] - best_grid["best_val_loss"]
    print(f"{name:<10} {times[name]:>7.0f} {steps:>6} {pruned:>6}  {best['run_id']} ({best['best_val_loss']:.4f}; #{rank[best['run_id']]}, {gap:+.4f} from the grid's best)")
PY
