#!/usr/bin/env bash
# The GPU checks of issue 26, on a machine with one NVIDIA GPU and PyTorch 2.11 but no Rust:
# build `sweep` elsewhere, copy the binary to gpu-bin/sweep (git-ignored), and run
#   bash bench/gpu.sh            (from the repository root; under 8 minutes on an H100)
# It prints:
#  (a) the MFU of a GPT-2-small-shaped trial (12 layers, 768 wide, block 1024, GPT-2's
#      vocabulary, bf16) and its tokens/s, from the steady steps of its train.log;
#  (b) eight tiny feiniao trials one at a time, eight at once on the GPU (--trials-per-gpu 8)
#      and packed by eight (--pack 8): wall times and the ratios to one at a time;
#  (c) for three shapes, the trial's peak GPU memory (nvidia-smi's used memory of the trial
#      process, sampled every 0.2 s) against the placement estimate of `sweep run --dry-run`.
# Targets (issue 26): MFU >= 45% on an H100; packed >= 5x faster than one at a time; the
# estimate within 25% of the peak.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
sweep=$root/${SWEEP:-gpu-bin/sweep}
out=${OUT:-$root/gpu-bin/bench}
torch_lib=$(python3 -c 'import torch, os; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
export LD_LIBRARY_PATH=$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
rm -rf "$out"
mkdir -p "$out/sweeps"
cd "$out"
ln -sfn "$root/data" data
nvidia-smi --query-gpu=index,name,memory.total,memory.free --format=csv,noheader
now() { date +%s.%N; }
since() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$(now)"; }

echo "== (a) GPT-2 small shape, bf16"
cat > sweeps/gpt2small.yaml <<'YAML'
name: gpt2small
data:
  path: data/tinyshakespeare.txt
  tokenizer: gpt2
settings:
  block_size: 1024
  embed_dim: 768
  n_layers: 12
  n_heads: 12
  dropout: 0.0
  batch_size: 16
  max_iters: 120
  warmup_iters: 10
  eval_interval: 120
  eval_iters: 2
  device: cuda
grid:
  lr: [0.0006]
sample:
  prompts: ["ROMEO:"]
  max_new_tokens: 20
YAML
"$sweep" run sweeps/gpt2small.yaml --out runs --no-pack > a.log 2>&1 || { tail -20 a.log; exit 1; }
python3 - runs/gpt2small/lr6e-4 <<'PY'
import json, re, sys
d = sys.argv[1]
s = json.load(open(f"{d}/summary.json"))
log = open(f"{d}/train.log").read()
# nanoGPT-style lines: "iter N: loss X, time T ms"; the steady steps are those after 20.
times = [float(t) for n, t in re.findall(r"iter (\d+): loss [\d.]+, time ([\d.]+)ms", log) if int(n) > 20]
name = s.get("device", "")
peaks = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "L40S": 362e12, "A10": 125e12}
peak = next((v for k, v in peaks.items() if k in name), None)
tokens_per_step = 16 * 1024
flops_per_token = s["gflops"] * 1e9 / s["tokens_per_second"] if s.get("tokens_per_second") else None
if times and flops_per_token:
    step = sorted(times)[len(times) // 2] / 1e3
    tps = tokens_per_step / step
    mfu = f"{100 * tps * flops_per_token / peak:.1f}%" if peak else "unknown (no peak for this GPU)"
    print(f"device: {name}; {s['n_params'] / 1e6:.1f}M parameters; median step {step * 1e3:.1f} ms; {tps:,.0f} tokens/s; MFU {mfu}")
else:
    print(f"no step times found in {d}/train.log; summary: {s.get('tokens_per_second')} tokens/s, {s.get('gflops')} GFLOP/s")
PY

echo "== (b) eight tiny feiniao trials"
cat > sweeps/tiny8.yaml <<'YAML'
name: tiny8
data:
  path: data/feiniao.txt
settings:
  block_size: 64
  embed_dim: 64
  n_layers: 2
  n_heads: 2
  batch_size: 32
  max_iters: 300
  eval_interval: 100
  eval_iters: 10
  device: cuda
grid:
  lr: [0.001, 0.002, 0.003, 0.004]
  seed: [1, 2]
sample:
  prompts: ["夏天的飞鸟"]
  max_new_tokens: 20
YAML
declare -A wall
for mode in "one:--jobs 1 --no-pack" "eight:--jobs 8 --trials-per-gpu 8 --no-pack" "packed:--pack 8"; do
    label=${mode%%:*}
    sed "s/^name: .*/name: tiny8_$label/" sweeps/tiny8.yaml > "sweeps/tiny8_$label.yaml"
    t0=$(now)
    # shellcheck disable=SC2086
    "$sweep" run "sweeps/tiny8_$label.yaml" --out runs ${mode#*:} > "b_$label.log" 2>&1 || { tail -20 "b_$label.log"; exit 1; }
    wall[$label]=$(since "$t0")
    echo "$label: ${wall[$label]} s"
done
python3 -c "import sys; one, eight, packed = map(float, sys.argv[1:]); print(f'eight at once: {one / eight:.2f}x faster than one at a time; packed by eight: {one / packed:.2f}x')" \
    "${wall[one]}" "${wall[eight]}" "${wall[packed]}"

echo "== (c) peak GPU memory against the estimate"
printf '%-10s %14s %14s %8s\n' shape "estimate MB" "peak MB" "ratio"
for shape in "small:64:128:4:32:256" "medium:256:384:6:16:256" "large:1024:768:12:8:50257"; do
    IFS=: read -r name block embed layers batch vocab <<<"$shape"
    tok=char
    [ "$vocab" = 50257 ] && tok=gpt2
    cat > "sweeps/mem_$name.yaml" <<YAML
name: mem_$name
data:
  path: data/tinyshakespeare.txt
  tokenizer: $tok
settings:
  block_size: $block
  embed_dim: $embed
  n_layers: $layers
  n_heads: 4
  dropout: 0.0
  batch_size: $batch
  max_iters: 40
  eval_interval: 40
  eval_iters: 2
  device: cuda
grid:
  seed: [1]
YAML
    estimate=$("$sweep" run "sweeps/mem_$name.yaml" --out runs --dry-run --no-pack | awk '/^seed1 /{print $NF}')
    "$sweep" run "sweeps/mem_$name.yaml" --out runs --no-pack > "c_$name.log" 2>&1 &
    pid=$!
    peak=0
    while kill -0 "$pid" 2>/dev/null; do
        used=$(nvidia-smi --query-compute-apps=used_memory --format=csv,noheader,nounits | awk '{s += $1} END {print s + 0}')
        [ "$used" -gt "$peak" ] && peak=$used
        sleep 0.2
    done
    wait "$pid" || { tail -20 "c_$name.log"; exit 1; }
    python3 -c "import sys; e, p = float(sys.argv[2]), float(sys.argv[3]); print(f'{sys.argv[1]:<10} {e:14.0f} {p:14.0f} {e / p if p else float(\"nan\"):8.2f}')" "$name" "$estimate" "$peak"
done
