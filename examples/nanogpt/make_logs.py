#!/usr/bin/env python3
"""Writes the synthetic nanoGPT training logs in this folder (made up, not from real runs).

Each log has the lines nanoGPT's train.py prints (the echoed config, `tokens per iteration
will be`, `number of parameters`, `step N: train loss X, val loss Y`, `iter N: loss X,
time Tms, mfu M%`) and a curve of a known shape, so the tests in
crates/diagnose/tests/nanogpt_logs.rs can check exact numbers:

  fineweb_125M_rtx4070.log  plateau: val stops improving at 13,500 of 14,500 steps with the lr still
                            3x min_lr, ~190 tokens per parameter, one shard of FineWeb-Edu
  owt_30M_healthy.log       healthy: still falling at the end, lr decayed, ~20 tokens per parameter
  shakespeare_char.log      overfitting: val rises 0.09 from step 2,250, ~82 epochs of 1M characters
  gpt2_124M_h100.log        too few steps: 400 steps of a 124M model, still falling fast
  diverged.log              diverged: the loss becomes NaN at iter 730

Run: python3 examples/nanogpt/make_logs.py   (standard library only; deterministic)
"""
import math
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))


def cosine_lr(it, lr, min_lr, warmup, decay):
    if it < warmup:
        return lr * (it + 1) / (warmup + 1)
    if it > decay:
        return min_lr
    ratio = (it - warmup) / (decay - warmup)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (lr - min_lr)


def write(name, config_path, config, overrides, tokens_per_iter, params_m, evals, iters, tail=""):
    """evals: [(step, train, val)], iters: [(it, loss, ms, mfu)] with mfu None for -100%."""
    lines = [f"Overriding config with {config_path}:"]
    lines += config.strip("\n").split("\n")
    lines += [f"Overriding: {o}" for o in overrides]
    lines.append(f"tokens per iteration will be: {tokens_per_iter:,}")
    lines.append("Initializing a new model from scratch")
    lines.append(f"number of parameters: {params_m:.2f}M")
    lines.append("using fused AdamW: True")
    by_step = {}
    for e in evals:
        by_step.setdefault(e[0], []).append(("eval", e))
    for i in iters:
        by_step.setdefault(i[0], []).append(("iter", i))
    best = math.inf
    for step in sorted(by_step):
        for kind, x in by_step[step]:
            if kind == "eval":
                _, train, val = x
                lines.append(f"step {step}: train loss {train:.4f}, val loss {val:.4f}")
                if val < best:
                    best = val
                    if step > 0:
                        lines.append(f"saving checkpoint to {config_out_dir(config)}")
            else:
                _, loss, ms, mfu = x
                mfu_text = "-100.00" if mfu is None else f"{mfu * 100:.2f}"
                lines.append(f"iter {step}: loss {loss:.4f}, time {ms:.2f}ms, mfu {mfu_text}%")
    text = "\n".join(lines) + "\n" + tail
    with open(os.path.join(HERE, name), "w") as f:
        f.write(text)


def config_out_dir(config):
    for line in config.split("\n"):
        if line.startswith("out_dir"):
            return line.split("=", 1)[1].strip().strip("'")
    return "out"


def iter_lines(steps, every, loss_at, ms, mfu, rng, noise):
    out = []
    for it in range(0, steps + 1, every):
        out.append((it, loss_at(it) + rng.uniform(-noise, noise), ms * (8.0 if it == 0 else 1.0), None if it == 0 else mfu + rng.uniform(-0.0005, 0.0005)))
    return out


def plateau():
    rng = random.Random(1)
    # val = L + A * (t/1000)^-a through (500, 6.0), (10000, 3.62), (13500, 3.5655): solved below.
    def fit():
        lo, hi = 0.05, 3.0
        for _ in range(200):
            a = (lo + hi) / 2
            p = lambda t: (t / 1000.0) ** -a
            A = (3.62 - 3.5655) / (p(10000) - p(13500))
            L = 3.62 - A * p(10000)
            if L + A * p(500) > 6.0:
                hi = a
            else:
                lo = a
        return L, A, a
    L, A, a = fit()
    val = lambda t: 10.989 if t == 0 else L + A * (t / 1000.0) ** -a
    evals = []
    for t in range(0, 14501, 500):
        v = {14000: 3.5665, 14500: 3.5695}.get(t, val(t))
        if t == 13500:
            v = 3.5655
        # Train keeps falling after val's minimum, as on repeated data.
        train = val(t) + 0.02 if t <= 13500 else val(13500) + 0.02 - 0.002 * (t - 13500) / 500
        evals.append((t, train, v))
    config = """
# GPT "125M" on one shard of FineWeb-Edu
out_dir = 'out-fineweb-125M'
wandb_run_name = 'gpt-125M'
dataset = 'fineweb_edu_shard0'
batch_size = 16
block_size = 1024
gradient_accumulation_steps = 32
n_layer = 12
n_head = 6
n_embd = 384
dropout = 0.1
learning_rate = 1e-3
min_lr = 1e-4
warmup_iters = 700
lr_decay_iters = 20000
max_iters = 20000
eval_interval = 500
log_interval = 100
"""
    iters = iter_lines(14500, 100, lambda t: val(max(t, 100)) + 0.02, 4423.0, 0.114, rng, 0.03)
    write("fineweb_125M_rtx4070.log", "config/train_fineweb_125M.py", config, [], 524288, 40.56, evals, iters)


def healthy():
    rng = random.Random(2)
    lr = lambda t: cosine_lr(t, 6e-4, 6e-5, 100, 1200)
    # A power law, plus the drop that comes as the lr decays.
    val = lambda t: 10.982 if t == 0 else 3.1 + 3.2 * (t / 100.0) ** -0.6 - 0.05 * (1 - lr(t) / 6e-4)
    evals = [(t, val(t) - 0.01 + rng.uniform(-0.002, 0.002), val(t) + rng.uniform(-0.002, 0.002)) for t in range(0, 1201, 100)]
    config = """
# 6 layers, 384 wide, ~20 tokens per parameter of OpenWebText
out_dir = 'out-owt-30M'
wandb_run_name = 'owt-30M'
dataset = 'openwebtext'
batch_size = 12
block_size = 1024
gradient_accumulation_steps = 40
n_layer = 6
n_head = 6
n_embd = 384
dropout = 0.0
learning_rate = 6e-4
min_lr = 6e-5
warmup_iters = 100
lr_decay_iters = 1200
max_iters = 1200
eval_interval = 100
log_interval = 50
"""
    iters = iter_lines(1200, 50, lambda t: val(max(t, 50)), 1950.0, 0.381, rng, 0.03)
    write("owt_30M_healthy.log", "config/train_owt_30M.py", config, [], 491520, 29.94, evals, iters)


def overfit():
    rng = random.Random(3)
    base = lambda t: 1.47 + 2.8 * math.exp(-t / 300.0)
    val = lambda t: 4.2874 if t == 0 else (base(t) if t <= 2250 else base(2250) + 0.00004 * (t - 2250))
    train = lambda t: 4.2860 if t == 0 else base(t) - 0.00012 * t
    evals = []
    for t in range(0, 5001, 250):
        v = 1.4697 if t == 2250 else val(t)
        evals.append((t, train(t), v))
    config = """
# train a miniature character-level shakespeare model
# good for debugging and playing on macbooks and such; here on 1x A100 40GB
out_dir = 'out-shakespeare-char'
eval_interval = 250
eval_iters = 200
log_interval = 50
dataset = 'shakespeare_char'
gradient_accumulation_steps = 1
batch_size = 64
block_size = 256
n_layer = 6
n_head = 6
n_embd = 384
dropout = 0.2
learning_rate = 1e-3
max_iters = 5000
lr_decay_iters = 5000
min_lr = 1e-4
beta2 = 0.99
warmup_iters = 100
"""
    iters = iter_lines(5000, 50, lambda t: train(t) + 0.04, 28.0, 0.221, rng, 0.03)
    write("shakespeare_char.log", "config/train_shakespeare_char.py", config, [], 16384, 10.65, evals, iters)


def short():
    rng = random.Random(4)
    val = lambda t: 10.9871 if t == 0 else 5.0 + 2.9 * (t / 100.0) ** -0.45
    evals = [(t, val(t) - 0.005, val(t)) for t in range(0, 401, 100)]
    config = """
# config for training GPT-2 (124M) down to very nice loss of ~2.85 on 1 node of 8X A100 40GB
wandb_run_name = 'gpt2-124M'
batch_size = 12
block_size = 1024
gradient_accumulation_steps = 40
max_iters = 600000
lr_decay_iters = 600000
eval_interval = 100
eval_iters = 200
log_interval = 10
weight_decay = 1e-1
"""
    # The file name says H100; the stock config's comment names the A100s it was written
    # for: the file name, the user's own words, wins.
    iters = iter_lines(400, 10, lambda t: min(val(max(t, 10)), 10.95) + 0.01, 3650.0, 1.18, rng, 0.05)
    write("gpt2_124M_h100.log", "config/train_gpt2.py", config, ["dataset = 'openwebtext'", "learning_rate = 6e-4", "min_lr = 6e-5", "warmup_iters = 2000"], 491520, 123.59, evals, iters)


def diverged():
    rng = random.Random(5)
    evals = [(0, 4.1741, 4.1702), (250, 2.1032, 2.1498), (500, 1.9512, 2.0203), (750, math.nan, math.nan), (1000, math.nan, math.nan)]
    losses = {700: 2.4, 710: 3.9, 720: 11.7, 730: math.nan, 740: math.nan}
    iters = []
    for it in range(0, 1001, 10):
        loss = losses.get(it, math.nan if it > 730 else 4.2 * math.exp(-it / 120.0) + 1.9 + rng.uniform(-0.03, 0.03))
        iters.append((it, loss, 31.0, None if it == 0 else 0.182))
    config = """
out_dir = 'out-lr-1e-2'
dataset = 'shakespeare_char'
batch_size = 64
block_size = 256
n_layer = 6
n_head = 6
n_embd = 384
dropout = 0.0
learning_rate = 1e-2
min_lr = 1e-3
warmup_iters = 10
lr_decay_iters = 1000
max_iters = 1000
grad_clip = 0.0
"""
    write("diverged.log", "config/train_lr_1e-2.py", config, [], 16384, 10.65, evals, iters)


if __name__ == "__main__":
    plateau()
    healthy()
    overfit()
    short()
    diverged()
