#!/usr/bin/env bash
# Two builds of `sweep` train the same small sweeps; their losses must agree. For a change
# that must not change training (a refactor of the trainer or the packed loop): build the
# commit before it, copy its binary aside, build the change, then
#   BEFORE=/tmp/sweep_before bash bench/same_losses.sh
# Trains data/feiniao.txt: 8 runs alone (embed_dim × lr × dropout, --no-pack, 2 at a time)
# and 4 runs packed into one model (lr × seed, --pack 4), with each binary, and compares
# every run's loss.csv (step, tokens, lr, train and val loss: every column but the elapsed
# time), steps.csv and samples.txt. Prints one line per run; exits 1 if any differs.
# About a minute on 2 CPU cores.
set -euo pipefail
cd "$(dirname "$0")/.."
before=${BEFORE:?set BEFORE to the sweep binary to compare with}
after=${AFTER:-target/release/sweep}
out=${OUT:-target/bench-same-losses}
rm -rf "$out"
mkdir -p "$out"

cat > "$out/lone.yaml" <<'YAML'
name: lone
data:
  path: data/feiniao.txt
  tokenizer: char
  val_fraction: 0.1
settings:
  block_size: 32
  n_layers: 1
  n_heads: 2
  batch_size: 16
  max_iters: 60
  warmup_iters: 10
  eval_interval: 20
  eval_iters: 5
grid:
  embed_dim: [32, 64]
  lr: [1e-3, 3e-3]
  dropout: [0.0, 0.1]
sample:
  prompts: ["夏天的飞鸟"]
  max_new_tokens: 40
YAML
sed -e 's/^name: lone/name: pack/' -e 's/  embed_dim: \[32, 64\]/  embed_dim: [32]/' -e 's/  dropout: \[0.0, 0.1\]/  seed: [1, 2]/' "$out/lone.yaml" > "$out/pack.yaml"

for side in before after; do
    bin=$before
    [ "$side" = after ] && bin=$after
    "$bin" run "$out/lone.yaml" --out "$out/$side" --jobs 2 --no-pack > "$out/$side-lone.log"
    "$bin" run "$out/pack.yaml" --out "$out/$side" --jobs 1 --pack 4 > "$out/$side-pack.log"
done

differ=0
for dir in "$out"/before/lone/*/ "$out"/before/pack/*/; do
    [ -f "$dir/loss.csv" ] || continue
    rel=${dir#"$out"/before/}
    other="$out/after/$rel"
    same=yes
    cmp -s <(cut -d, -f1-5 "$dir/loss.csv") <(cut -d, -f1-5 "$other/loss.csv") || same="no (loss.csv)"
    [ "$same" = yes ] && { cmp -s "$dir/steps.csv" "$other/steps.csv" || same="no (steps.csv)"; }
    [ "$same" = yes ] && { cmp -s "$dir/samples.txt" "$other/samples.txt" || same="no (samples.txt)"; }
    echo "${rel%/}: identical: $same"
    [ "$same" = yes ] || differ=1
done
exit $differ
