#!/usr/bin/env bash
# Early termination against the full grid on the feiniao demo (sweeps/feiniao.yaml, 64
# runs), each setting ROUNDS times (default 3), alternating so that a slow spell of the
# machine falls on every setting alike: the full grid; ASHA (min_steps 50, reduction_factor
# 3) and ASHA (min_steps 100, reduction_factor 2) in plan order, the default; and ASHA 50/3
# in arrival order. Prints, for each setting, the median and range over the rounds of the
# wall time, the steps trained, the runs pruned and the best run's rank in the full grid;
# whether every round pruned the same runs; and how long plan order held runs at rungs.
# About 65 minutes on 2 CPU cores. Usage: bash bench/early_stop.sh (after cargo xtask build)
set -euo pipefail
cd "$(dirname "$0")/.."
sweep=${SWEEP:-target/release/sweep}
out=${OUT:-target/bench-early-stop}
rounds=${ROUNDS:-3}
# Another spec (whose eval_interval divides 50 and 100) may stand in for a quick check.
base_spec=${SPEC:-sweeps/feiniao.yaml}
rm -rf "$out"
mkdir -p "$out/specs"

# The spec's grid under another name, with an early_stop: block when given one.
spec() {
    sed "s/^name: .*/name: $1/" "$base_spec" > "$out/specs/$1.yaml"
    if [ -n "${2:-}" ]; then
        printf 'early_stop:\n  method: asha\n  min_steps: %s\n  reduction_factor: %s\n  order: %s\n' "$2" "$3" "$4" >> "$out/specs/$1.yaml"
    fi
}

settings=("grid" "asha50x3 50 3 plan" "asha100x2 100 2 plan" "asha50x3_arrival 50 3 arrival")
for round in $(seq "$rounds"); do
    for setting in "${settings[@]}"; do
        read -r base rest <<< "$setting"
        name="${base}_r$round"
        # shellcheck disable=SC2086
        spec "$name" $rest
        start=$(date +%s.%N)
        "$sweep" run "$out/specs/$name.yaml" --out "$out/runs" > "$out/$name.log"
        end=$(date +%s.%N)
        echo "$base $round $start $end" >> "$out/times.txt"
        echo "round $round: $base done in $(python3 -c "print(f'{$end - $start:.0f}')") s" >&2
    done
done

python3 - "$out" <<'PY'
import json, pathlib, re, statistics, sys
out = pathlib.Path(sys.argv[1])
rows = [l.split() for l in (out / "times.txt").read_text().splitlines()]
settings = list(dict.fromkeys(r[0] for r in rows))
def runs(name):
    return [json.loads(p.read_text()) for p in sorted((out / "runs" / name).glob("*/summary.json"))]
grid = runs("grid_r1")
rank = {s["run_id"]: i + 1 for i, s in enumerate(sorted(grid, key=lambda s: s["best_val_loss"]))}
best_grid = min(s["best_val_loss"] for s in grid)
same_grid = all({s["run_id"]: s["best_val_loss"] for s in runs(f"grid_r{r[1]}")} == {s["run_id"]: s["best_val_loss"] for s in grid} for r in rows if r[0] == "grid")
def spread(xs, fmt):
    return f"{fmt(statistics.median(xs))} ({fmt(min(xs))}–{fmt(max(xs))})"
print(f"{len(rows) // len(settings)} rounds of each setting, alternating; median (range)")
print(f"{'setting':<17} {'wall s':>16} {'steps':>22} {'pruned':>13} {'held s':>13}  best run's rank in the grid; same pruned runs every round")
for base in settings:
    mine = [r for r in rows if r[0] == base]
    walls, steps, pruned, held, ranks, sets, bests = [], [], [], [], [], [], []
    for r in mine:
        name = f"{base}_r{r[1]}"
        rs = runs(name)
        walls.append(float(r[3]) - float(r[2]))
        steps.append(sum(s["steps"] for s in rs))
        pruned.append(sum(s["status"] == "pruned" for s in rs))
        log = (out / f"{name}.log").read_text()
        m = re.search(r"held runs at their rungs for (\d+) s", log)
        held.append(int(m.group(1)) if m else 0)
        best = min(rs, key=lambda s: s["best_val_loss"])
        ranks.append(rank[best["run_id"]])
        bests.append(f"{best['run_id']} {best['best_val_loss']:.4f}")
        sets.append(frozenset(s["run_id"] for s in rs if s["status"] == "pruned"))
    same = "yes" if len(set(sets)) == 1 else f"no ({len(set(sets))} different sets)"
    i = lambda x: f"{x:.0f}"
    print(f"{base:<17} {spread(walls, i):>16} {spread(steps, i):>22} {spread(pruned, i):>13} {spread(held, i):>13}  #{spread(ranks, i)}; {same}")
    print(f"{'':<17} best runs: {', '.join(bests)}")
print(f"the full grid's best val loss {best_grid:.4f}; every grid round gave the same losses: {'yes' if same_grid else 'no'}")
PY
