#!/usr/bin/env bash
# The effect of the glibc malloc thresholds that `sweep run` gives its trial processes
# (crates/sweep/src/exec/runner.rs, MALLOC_TUNING): the same 8 tiny runs (2 layers, 64
# wide, block 64, batch 32, 40 steps, dropout 0, on data/feiniao.txt) trained with glibc's
# defaults (SWEEP_NO_MALLOC_TUNING=1) and with the thresholds. Prints, for each, the wall
# time, the median of the runs' `iter 30` step times, and the system CPU seconds.
# About 1 minute on 2 CPU cores. Usage: bash bench/malloc_thresholds.sh (after cargo xtask build)
set -euo pipefail
cd "$(dirname "$0")/.."
sweep=${SWEEP:-target/release/sweep}
out=${OUT:-target/bench-malloc}
rm -rf "$out"
mkdir -p "$out"
cat > "$out/tiny.yaml" <<'YAML'
name: tiny
data:
  path: data/feiniao.txt
  tokenizer: char
settings:
  n_layers: 2
  embed_dim: 64
  n_heads: 4
  block_size: 64
  batch_size: 32
  dropout: 0.0
  max_iters: 40
  warmup_iters: 10
  eval_interval: 40
  eval_iters: 4
  device: cpu
grid:
  lr: [1e-3, 3e-3]
  seed: [1, 2, 3, 4]
YAML
for mode in defaults thresholds; do
    if [ "$mode" = defaults ]; then export SWEEP_NO_MALLOC_TUNING=1; else unset SWEEP_NO_MALLOC_TUNING; fi
    /usr/bin/env time -f "%e %S" -o "$out/$mode.time" "$sweep" run "$out/tiny.yaml" --no-pack --jobs 2 --out "$out/$mode" > /dev/null
    ms=$(grep -h '^iter 30:' "$out/$mode"/tiny/*/train.log | sed 's/.*time \([0-9.]*\)ms/\1/' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    read -r wall sys < "$out/$mode.time"
    echo "glibc $mode: 8 runs in $wall s wall, median step (iter 30) $ms ms, $sys s system CPU"
done
