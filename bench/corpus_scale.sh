#!/usr/bin/env bash
# Real corpora at scale, on this machine:
# 1. Tokenizing into the token cache: a text corpus of about 256 MB (tinyshakespeare
#    repeated) with `sweep prepare`, with the GPT-2 and the char tokenizer: seconds and MB/s.
# 2. A trial's memory and start-up against the corpus's size: two char-level nanoGPT
#    folders (train.bin, val.bin, meta.pkl), 4 MB and 4 GB (tinyshakespeare's char ids,
#    repeated; real bytes on disk, not a sparse file), and three runs on each (seeds 1-3),
#    alternating. Prints each run's peak resident memory (summary.json's peak_rss_mb), the
#    seconds it took to open its corpus (data_load_seconds) and its wall time, and how long
#    `sweep prepare` took to check each folder (once: the ids are scanned, then reused).
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

echo "== 2. a trial's memory and start-up: a 4 MB and a 4 GB nanoGPT folder (char-level, meta.pkl)"
# tinyshakespeare's char ids (vocab 65), from the cache entry the char prepare made, with
# the meta.pkl nanoGPT's shakespeare_char/prepare.py would write: a small model's own
# memory stays small, so the corpus's share would show.
unit=$(ls runs/.tokens/big.txt-*/tokenizer.json | xargs grep -l '"type":"char"' | head -1 | xargs dirname)/train/000000.bin
mkdir -p data/small data/large
python3 - "$unit" "$OLDPWD/data/tinyshakespeare.txt" <<'PY'
import pickle, sys
unit = open(sys.argv[1], 'rb').read()
chars = sorted(set(open(sys.argv[2], encoding='utf-8').read()))
meta = {'vocab_size': len(chars), 'itos': dict(enumerate(chars)), 'stoi': {c: i for i, c in enumerate(chars)}}
for name, size in [('small', 4 << 20), ('large', 4 << 30)]:
    pickle.dump(meta, open(f'data/{name}/meta.pkl', 'wb'))
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
  max_iters: 200
  eval_interval: 50
  eval_iters: 10
grid:
  seed: [1, 2, 3]
sample:
  prompts: ["ROMEO:"]
  max_new_tokens: 20
YAML
    t0=$(now)
    "$sweep" prepare "sweeps/$name.yaml" > "prepare_$name.log"
    t1=$(now)
    python3 -c "print(f'$name: sweep prepare (ids checked once) {$t1-$t0:.2f} s')"
done
# Three runs on each, one at a time, alternating.
printf '%-6s %-6s %12s %14s %17s %10s\n' corpus run "train tokens" "peak RSS MB" "data load s" "run s"
for seed in 1 2 3; do
    for name in small large; do
        sed "s/seed: \[1, 2, 3\]/seed: [$seed]/" "sweeps/$name.yaml" > "sweeps/${name}_$seed.yaml"
        sed -i "s/^name: .*/name: ${name}_$seed/" "sweeps/${name}_$seed.yaml"
        "$sweep" run "sweeps/${name}_$seed.yaml" --out runs --jobs 1 > "run_${name}_$seed.log" 2>&1
        s=runs/${name}_$seed/seed$seed/summary.json
        printf '%-6s %-6s %12s %14.1f %17.4f %10.2f\n' "$name" "seed$seed" "$(field "$s" train_tokens)" \
            "$(field "$s" peak_rss_mb)" "$(field "$s" data_load_seconds)" "$(field "$s" wall_seconds)"
    done
done
rm -rf data/large
