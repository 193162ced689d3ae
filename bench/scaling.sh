#!/usr/bin/env bash
# A scaling-law fit on a real CPU sweep, checked against a larger run it never saw.
# Trains tinyshakespeare (char-level, data/tinyshakespeare.txt) at 4 sizes (embed_dim 48,
# 64, 96, 128; 4 layers; 0.11 M to 0.79 M non-embedding parameters) × 3 token budgets
# (400, 800, 1600 steps of 16 × 64 tokens: 0.4 M to 1.6 M tokens, at most 1.6 epochs), each
# run with its own cosine schedule to its end; then one held-out run larger in both N and D
# (embed_dim 160: 1.23 M parameters; 2000 steps: 2.0 M tokens). `sweep fit` fits the 12 runs
# and predicts the held-out run's final val loss from its N and D; the script prints the
# prediction, its interval, the run's real loss and the error.
# Wall time on 2 CPU cores: see BENCHMARKS.md. Usage: bash bench/scaling.sh (after cargo xtask build)
set -euo pipefail
cd "$(dirname "$0")/.."
sweep=$PWD/${SWEEP:-target/release/sweep}
out=${OUT:-target/bench-scaling}
mkdir -p "$out"
spec() { # name, extra settings, grid
    cat <<YAML
name: $1
data:
  path: data/tinyshakespeare.txt
  tokenizer: char
settings:
  n_layers: 4
  n_heads: 4
  block_size: 64
  batch_size: 16
  lr: 0.002
  warmup_iters: 50
  dropout: 0.0
  eval_iters: 20
$2
grid:
$3
sample:
  prompts: ["ROMEO:"]
  max_new_tokens: 40
YAML
}
spec scaling_grid "" "  embed_dim: [48, 64, 96, 128]
  max_iters: [400, 800, 1600]" > "$out/grid.yaml"
spec scaling_heldout "  embed_dim: 160
  max_iters: 2000" "  seed: [1337]" > "$out/heldout.yaml"
start=$(date +%s)
"$sweep" run "$out/grid.yaml" --out "$out/runs" --jobs 2 > "$out/grid.log" 2>&1
grid_done=$(date +%s)
"$sweep" run "$out/heldout.yaml" --out "$out/runs" --jobs 1 > "$out/heldout.log" 2>&1
end=$(date +%s)
echo "trained: the grid in $((grid_done - start)) s, the held-out run in $((end - grid_done)) s, $((end - start)) s in all"
"$sweep" fit "$out/runs/scaling_grid"
heldout=$out/runs/scaling_heldout/seed1337/summary.json
"$sweep" fit "$out/runs/scaling_grid" --format json --predict-run "$out/runs/scaling_heldout/seed1337" > "$out/fit.json"
python3 - "$out/fit.json" "$heldout" <<'PY'
import json, sys
fit, run = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
p = fit["prediction"]
real = run["final_val_loss"]
err = (p["loss"]["value"] - real) / real
print(f"held-out run: N {p['n']:.3e} non-embedding parameters, D {p['d']:.3e} tokens; predicted final val loss "
      f"{p['loss']['value']:.4f} [{p['loss']['low']:.4f}, {p['loss']['high']:.4f}], real {real:.4f}: error {100 * err:+.2f}%")
PY
