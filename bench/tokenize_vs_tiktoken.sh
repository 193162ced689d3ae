#!/usr/bin/env bash
# GPT-2 tokenizing throughput: `sweep prepare` (the tokenizers crate, units in parallel with
# rayon) with 1 and 2 threads, against Python's tiktoken as nanoGPT's prepare.py uses it
# (encode_ordinary per document, a multiprocessing pool of 1 and 2 processes), on the same
# text: tinyshakespeare repeated to about 32 MB, documents split at blank lines. Then what a
# 20-run sweep spends on tokenizing now (once, then each trial opens the cache).
# Needs .venv with tiktoken (cargo xtask test installs it). About 2 minutes on 2 CPU cores.
# Usage: bash bench/tokenize_vs_tiktoken.sh (after cargo xtask build)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
sweep=$PWD/${SWEEP:-target/release/sweep}
py=$PWD/.venv/bin/python
out=${OUT:-target/bench-tokenize}
rm -rf "$out"
mkdir -p "$out/data" "$out/tiktoken"
cd "$out"
now() { date +%s.%N; }
for i in $(seq 29); do cat "$root/data/tinyshakespeare.txt"; done > data/text.txt
bytes=$(stat -c %s data/text.txt)
echo "text: $bytes bytes ($(nproc) cores)"
for threads in 1 2; do
    rm -rf "t$threads" && mkdir -p "t$threads/sweeps" && ln -s ../data "t$threads/data"
    printf 'name: tok\ndata:\n  path: data/text.txt\n  tokenizer: gpt2\ngrid:\n  lr: [0.001]\n' > "t$threads/sweeps/tok.yaml"
    t0=$(now)
    (cd "t$threads" && RAYON_NUM_THREADS=$threads "$sweep" prepare sweeps/tok.yaml > /dev/null)
    t1=$(now)
    python3 -c "print(f'sweep prepare, {$threads} thread(s): {$t1-$t0:.1f} s, {$bytes/1e6/($t1-$t0):.1f} MB/s')"
done
TIKTOKEN_CACHE_DIR=$PWD/tiktoken "$py" - "$root" "$bytes" <<'PY'
import hashlib, shutil, sys, time
from multiprocessing import Pool
root, nbytes = sys.argv[1], int(sys.argv[2])
for name in ['vocab.bpe', 'encoder.json']:
    url = 'https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/' + name
    shutil.copy(f'{root}/data/gpt2/{name}', 'tiktoken/' + hashlib.sha1(url.encode()).hexdigest())
import tiktoken
enc = tiktoken.get_encoding('gpt2')
docs = open('data/text.txt', encoding='utf-8').read().split('\n\n')
def encode(doc):
    return len(enc.encode_ordinary(doc))
for procs in [1, 2]:
    t0 = time.time()
    with Pool(procs) as pool:
        n = sum(pool.map(encode, docs, chunksize=256))
    t = time.time() - t0
    print(f'tiktoken, {procs} process(es): {t:.1f} s, {nbytes / 1e6 / t:.1f} MB/s ({n} tokens, {len(docs)} documents)')
PY
# A 20-run sweep over the prepared corpus: the trials open the cache (data_load_seconds).
mkdir -p t2/sweeps
cat > t2/sweeps/twenty.yaml <<'YAML'
name: twenty
data:
  path: data/text.txt
  tokenizer: gpt2
settings:
  block_size: 32
  embed_dim: 32
  n_layers: 1
  n_heads: 2
  batch_size: 4
  max_iters: 5
  eval_interval: 5
  eval_iters: 1
grid:
  seed: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]
sample:
  prompts: ["ROMEO:"]
  max_new_tokens: 5
YAML
t0=$(now)
(cd t2 && "$sweep" run sweeps/twenty.yaml --no-pack > twenty.log 2>&1)
t1=$(now)
python3 - "$t0" "$t1" <<'PY'
import glob, json, sys
loads = [json.load(open(p)).get('data_load_seconds', 0) for p in glob.glob('t2/runs/twenty/*/summary.json')]
print(f'20-run sweep on the prepared corpus: {len(loads)} runs, {float(sys.argv[2]) - float(sys.argv[1]):.1f} s in all; '
      f'tokenizing 0 s (cached by the prepare above), opening the cache {sum(loads):.4f} s summed over the trials')
PY
