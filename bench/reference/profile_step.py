"""Where a training step of a small GPT spends its time, by libtorch operator.

Profiles steps of the reference model (train_ref.GPT, the same operators our Rust trainer
calls through libtorch) with torch.profiler and prints the operators by self CPU time, so
that a step's arithmetic (matrix products) can be told from everything else (softmax and
cross-entropy, LayerNorm, GELU, dropout, the optimizer, per-operator overhead).

    .venv/bin/python bench/reference/profile_step.py [--layers 2] [--width 64] [--batch 32] \
        [--block 64] [--dropout 0.1] [--threads 2] [--steps 30]
"""

import argparse, os, sys, types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402
from train_ref import GPT  # noqa: E402

ap = argparse.ArgumentParser()
for name, default in [("layers", 2), ("width", 64), ("batch", 32), ("block", 64), ("threads", 2), ("steps", 30), ("vocab", 1160)]:
    ap.add_argument(f"--{name}", type=int, default=default)
ap.add_argument("--dropout", type=float, default=0.1)
a = ap.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)
m = types.SimpleNamespace(embed_dim=a.width, n_layers=a.layers, n_heads=4, block_size=a.block, hidden_dim=4 * a.width, dropout=a.dropout, bias=False)
model = GPT(m, a.vocab)
opt = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=True)
data = torch.randint(a.vocab, (100_000,))


def step():
    starts = torch.randint(len(data) - a.block - 1, (a.batch,))
    x = torch.stack([data[s : s + a.block] for s in starts])
    y = torch.stack([data[s + 1 : s + 1 + a.block] for s in starts])
    loss = model(x, y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()


for _ in range(10):  # warm-up
    step()
with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
    for _ in range(a.steps):
        step()
print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=18))
