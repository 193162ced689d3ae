#!/usr/bin/env bash
# Real corpora at scale, on this machine:
# 1. Tokenizing into the token cache: a text corpus of about 256 MB (tinyshakespeare
#    repeated) with `sweep prepare`, with the GPT-2 and the char tokenizer: seconds and MB/s.
# 2. A trial's memory and start-up against the corpus's size: two nanoGPT folders of GPT-2
#    ids, 4 MB and 4 GB (the GPT-2 ids of tinyshakespeare, repeated; real bytes on disk,
#    not a sparse file), one identical run on each. Prints each run's peak resident memory
#    (summary.json's peak_rss_mb), the seconds it took to open its corpus
#    (data_load_seconds), its wall time, and how long `sweep run` took to check the folder
#    the first time (a one-off: the ids are scanned once, then the cache is reused).
# Needs about 4.5 GB of free disk under $OUT. About 5 minutes on 2 CPU cores.
# Usage: bash bench/corpus_scale.sh (after cargo xtask build)
set -euo pipefail
cd "$(dirname "$0")/.."
sweep=$PWD/${SWEEP:-target/release/sweep}
out=${OUT:-target/bench-corpus-scale}
rm -rf "$out"
mkdir -p "$out/data" "$out/sweeps"
cd "$out"

now() { date +%s.%N; }
field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2"; }

echo "== 1. tokenizing about 256 MB of text into the cache ($(nproc) cores)"
for i in $(seq 230); do cat "$OLDPWD/data/tinyshakespeare.txt"; done > data/big.txt
ls -l data/big.txt | awk '{printf "corpus: %s bytes\n", $5}'
for tok in gpt2 char; do
    printf 'name: big_%s\ndata:\n  path: data/big.txt\n  tokenizer: %s\ngrid:\n  lr: [0.001]\n' "$tok" "$tok" > "sweeps/big_$tok.yaml"
    t0=$(now)
    "$sweep" prepare "sweeps/big_$tok.yaml" | sed "s/^/$tok: /"
    t1=$(now)
    "$sweep" prepare "sweeps/big_$tok.yaml" | sed "s/^/$tok again: /"
    t2=$(now)
    python3 -c "print(f'$tok: first prepare {$t1-$t0:.1f} s, second (cache reused) {$t2-$t1:.2f} s')"
done
rm -f data/big.txt

echo "== 2. a trial's memory and start-up: a 4 MB and a 4 GB nanoGPT folder of GPT-2 ids"
# One copy of tinyshakespeare's GPT-2 ids, from the cache entry the gpt2 prepare made.
unit=$(ls runs/.tokens/big.txt-*/train/000000.bin | head -1)
mkdir -p data/small data/large
# 4 MB and 4 GB of uint16 ids: whole copies of the unit, then cut to size.
python3 - "$unit" <<'PY'
import os, sys
unit = open(sys.argv[1], 'rb').read()
for name, size in [('small', 4 << 20), ('large', 4 << 30)]:
    for split, n in [('train.bin', size), ('val.bin', size // 10)]:
        n -= n % 2
        with open(f'data/{name}/{split}', 'wb') as f:
            left = n
            while left > 0:
                chunk = unit[:left]
                f.write(chunk)
                left -= len(chunk)
PY
ls -l data/small/train.bin data/large/train.bin | awk '{printf "%s: %s bytes\n", $9, $5}'
printf '%-6s %12s %10s %14s %17s %10s\n' corpus "train tokens" "check s" "peak RSS MB" "data load s" "run s"
for name in small large; do
    cat > "sweeps/$name.yaml" <<YAML
name: $name
data:
  path: data/$name
settings:
  block_size: 64
  embed_dim: 64
  n_layers: 2
  n_heads: 2
  batch_size: 8
  max_iters: 50
  eval_interval: 25
  eval_iters: 5
grid:
  lr: [0.001]
sample:
  prompts: ["ROMEO:"]
  max_new_tokens: 20
YAML
    t0=$(now)
    "$sweep" prepare "sweeps/$name.yaml" > "prepare_$name.log"
    t1=$(now)
    "$sweep" run "sweeps/$name.yaml" --out runs > "run_$name.log" 2>&1
    s=runs/$name/lr1e-3/summary.json
    printf '%-6s %12s %10.2f %14.1f %17.4f %10.2f\n' "$name" "$(field "$s" train_tokens)" "$(python3 -c "print($t1-$t0)")" \
        "$(field "$s" peak_rss_mb)" "$(field "$s" data_load_seconds)" "$(field "$s" wall_seconds)"
done
rm -rf data/large
