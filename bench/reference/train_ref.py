"""PyTorch reference trainer for benchmarks.

Our own code, written to mirror crates/train (model.rs, optim.rs, trainer.rs) step for
step, so that a benchmark can compare our Rust/libtorch trainer with plain PyTorch on the
same RunConfig: the same GPT (pre-LN, causal SDPA, exact-erf GELU, tied LM head, nanoGPT
init), AdamW on two parameter groups, warmup + cosine lr, gradient accumulation and
clipping, train/val evaluation, bf16 autocast on CUDA, and the same log lines. Random
streams differ from the Rust side; the distributions are the same. Only torch is needed.

Usage (from the repository root; data.path is relative to the current directory):

    .venv/bin/python bench/reference/train_ref.py runs/<sweep>/<run>/config.json \
        [--threads N] [--device cpu|cuda] [--compile] [--no-eval]
"""

import time

T0 = time.time()  # startup_s counts from here, before torch is imported

import argparse, contextlib, json, math, resource, sys, warnings  # noqa: E402

warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

MODEL = dict(block_size=64, embed_dim=128, n_layers=4, n_heads=4, hidden_dim=None, dropout=0.1, bias=False)
TRAIN = dict(batch_size=32, grad_accum_steps=1, max_iters=500, lr=1e-3, min_lr=None, warmup_iters=50,
             lr_decay_iters=None, weight_decay=0.1, beta1=0.9, beta2=0.99, grad_clip=1.0, eval_interval=50,
             eval_iters=20, checkpoint_interval=None, seed=1337, device="auto")
DATA = dict(path=None, tokenizer="char", vocab_size=None, tokenizer_path=None, val_fraction=0.1)
EVAL_STREAM, DROPOUT_STREAM = 0x9E3779B97F4A7C15, 0xD1B54A32D192ED03  # as trainer.rs
U64 = (1 << 64) - 1


def fail(msg):
    print(f"train_ref: {msg}", file=sys.stderr, flush=True)
    sys.exit(2)


def section(cfg, name, defaults):
    given = cfg.get(name) or {}
    unknown = set(given) - set(defaults)
    if unknown:
        fail(f"unknown {name} setting(s) in config: {', '.join(sorted(unknown))}")
    return argparse.Namespace(**{**defaults, **{k: v for k, v in given.items() if v is not None}})


class Attention(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.c_attn = nn.Linear(m.embed_dim, 3 * m.embed_dim, bias=m.bias)
        self.c_proj = nn.Linear(m.embed_dim, m.embed_dim, bias=m.bias)
        self.n_heads, self.p = m.n_heads, m.dropout

    def forward(self, x):
        B, T, C = x.shape
        heads = (t.view(B, T, self.n_heads, C // self.n_heads).transpose(1, 2) for t in self.c_attn(x).split(C, 2))
        q, k, v = heads
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=self.p if self.training else 0.0, is_causal=True)
        return F.dropout(self.c_proj(y.transpose(1, 2).contiguous().view(B, T, C)), self.p, self.training)


class Block(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.ln_1 = nn.LayerNorm(m.embed_dim, eps=1e-5, bias=m.bias)
        self.ln_2 = nn.LayerNorm(m.embed_dim, eps=1e-5, bias=m.bias)
        self.attn = Attention(m)
        self.mlp = nn.ModuleDict(dict(c_fc=nn.Linear(m.embed_dim, m.hidden_dim, bias=m.bias),
                                      c_proj=nn.Linear(m.hidden_dim, m.embed_dim, bias=m.bias)))
        self.p = m.dropout

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        h = self.mlp.c_proj(F.gelu(self.mlp.c_fc(self.ln_2(x)), approximate="none"))
        return x + F.dropout(h, self.p, self.training)


class GPT(nn.Module):
    def __init__(self, m, vocab_size):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(vocab_size, m.embed_dim), nn.Embedding(m.block_size, m.embed_dim)
        self.h = nn.ModuleList(Block(m) for _ in range(m.n_layers))
        self.ln_f = nn.LayerNorm(m.embed_dim, eps=1e-5, bias=m.bias)
        self.p = m.dropout
        for name, p in self.named_parameters():  # nanoGPT's init, as model.rs
            if p.dim() < 2:  # biases 0, LayerNorm gains 1
                nn.init.zeros_(p) if name.endswith("bias") else nn.init.ones_(p)
            else:
                std = 0.02 / math.sqrt(2 * m.n_layers) if name.endswith("c_proj.weight") else 0.02
                nn.init.normal_(p, 0.0, std)

    def forward(self, idx, targets):
        pos = torch.arange(idx.shape[1], device=idx.device)
        x = F.dropout(self.wte(idx) + self.wpe(pos), self.p, self.training)
        for block in self.h:
            x = block(x)
        logits = F.linear(self.ln_f(x), self.wte.weight).float()  # LM head tied to wte
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1))


def main():
    ap = argparse.ArgumentParser(description="PyTorch reference trainer mirroring crates/train.")
    ap.add_argument("config")
    ap.add_argument("--threads", type=int)
    ap.add_argument("--device", choices=["cpu", "cuda"])
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--no-eval", action="store_true")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
        torch.set_num_interop_threads(1)
    with open(a.config, encoding="utf-8") as f:
        cfg = json.load(f)
    d, m, t = section(cfg, "data", DATA), section(cfg, "model", MODEL), section(cfg, "train", TRAIN)
    m.hidden_dim = m.hidden_dim or 4 * m.embed_dim
    if d.tokenizer != "char":
        fail(f"tokenizer {d.tokenizer!r} is not supported by the reference trainer; only 'char' is")
    if d.path is None:
        fail("config has no data.path")
    # Device, as crates/train/src/device.rs (but falling back to CPU when CUDA is missing).
    if a.device:
        dev = a.device
    else:
        dev = "cuda" if t.device.startswith("cuda") or t.device == "auto" else "cpu"
        dev = dev if dev == "cpu" or torch.cuda.is_available() else "cpu"
    if dev == "cuda":
        if not torch.cuda.is_available():
            fail("--device cuda but CUDA is not available")
        dev = t.device if t.device.startswith("cuda:") and not a.device else "cuda"
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    device = torch.device(dev)

    # Corpus: char vocabulary = sorted distinct code points of the whole text; the first
    # floor(n * (1 - val_fraction)) tokens train, the rest validate (corpus/src/data.rs).
    with open(d.path, encoding="utf-8", newline="") as f:
        text = f.read()
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    ids = torch.tensor([index[c] for c in text], dtype=torch.long)
    n_train = min(math.floor(len(ids) * (1.0 - d.val_fraction)), len(ids))
    train_ids, val_ids = ids[:n_train].to(device), ids[n_train:].to(device)
    vocab = len(chars)
    if min(len(train_ids), len(val_ids)) < m.block_size + 1:
        fail(f"{d.path}: {len(train_ids)} train / {len(val_ids)} val tokens, too short for block_size {m.block_size}")
    print(f"vocab size {vocab}, {len(train_ids)} train tokens, {len(val_ids)} val tokens", flush=True)

    torch.manual_seed(t.seed)
    raw = GPT(m, vocab).to(device)
    n_params = sum(p.numel() for p in raw.parameters())
    print(f"number of parameters: {(n_params - raw.wpe.weight.numel()) / 1e6:.2f}M", flush=True)
    print(f"tokens per iteration will be: {t.batch_size * t.grad_accum_steps * m.block_size}", flush=True)
    groups = [{"params": [p for p in raw.parameters() if p.dim() >= 2], "weight_decay": t.weight_decay},
              {"params": [p for p in raw.parameters() if p.dim() < 2], "weight_decay": 0.0}]
    kw = dict(lr=t.lr, betas=(t.beta1, t.beta2), eps=1e-8)
    try:
        opt, impl = torch.optim.AdamW(groups, fused=True, **kw), "fused"
    except (RuntimeError, ValueError, TypeError):
        opt, impl = torch.optim.AdamW(groups, foreach=True, **kw), "foreach"
    print(f"optimizer: torch.optim.AdamW ({impl}) on {device}", flush=True)
    model = torch.compile(raw) if a.compile else raw

    def amp():  # bf16 mixed precision on CUDA, as model.rs's compute_kind
        return torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else contextlib.nullcontext()

    min_lr = t.min_lr if t.min_lr is not None else t.lr / 10
    decay_iters = t.lr_decay_iters if t.lr_decay_iters is not None else t.max_iters

    def lr_at(step):  # config/src/schedule.rs
        if step < t.warmup_iters:
            return t.lr * (step + 1) / (t.warmup_iters + 1)
        if step >= decay_iters:
            return min_lr
        ratio = (step - t.warmup_iters) / (decay_iters - t.warmup_iters)
        return min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (t.lr - min_lr)

    gen = torch.Generator()

    def batch(data):  # batch_size random windows and their next-token targets
        starts = torch.randint(0, len(data) - m.block_size, (t.batch_size,), generator=gen).to(device)
        idx = starts.unsqueeze(1) + torch.arange(m.block_size, device=device)
        return data[idx], data[idx + 1]

    @torch.no_grad()
    def estimate_loss(data):  # the same eval batches at every evaluation, dropout off
        gen.manual_seed(t.seed ^ EVAL_STREAM)
        model.eval()
        total = 0.0
        for _ in range(t.eval_iters):
            with amp():
                total += model(*batch(data)).item()
        model.train()
        return total / t.eval_iters

    diverged_above = 3.0 * math.log(max(vocab, 2))
    val_losses, steps = [], 0
    start = last_log = time.perf_counter()
    startup_s, last_logged = time.time() - T0, 0
    for step in range(t.max_iters + 1):
        lr = lr_at(step)
        if step == t.max_iters or (not a.no_eval and step % t.eval_interval == 0):
            train_loss, val_loss = estimate_loss(train_ids), estimate_loss(val_ids)
            val_losses.append(val_loss)
            print(f"step {step}: train loss {train_loss:.4f}, val loss {val_loss:.4f}", flush=True)
        if step == t.max_iters:
            break
        torch.manual_seed(((t.seed ^ DROPOUT_STREAM) + step) & U64)
        gen.manual_seed((t.seed + step) & U64)
        for g in opt.param_groups:
            g["lr"] = lr
        opt.zero_grad(set_to_none=True)
        total = 0.0
        for _ in range(t.grad_accum_steps):
            with amp():
                loss = model(*batch(train_ids))
            (loss / t.grad_accum_steps).backward()
            total += loss.item()
        if t.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(raw.parameters(), t.grad_clip)
        opt.step()
        loss, steps = total / t.grad_accum_steps, step + 1
        blew_up = not math.isfinite(loss) or (step >= t.warmup_iters and loss > diverged_above)
        if step % 10 == 0 or blew_up:
            ms = (time.perf_counter() - last_log) * 1e3 / max(steps - last_logged, 1)
            print(f"iter {step}: loss {loss:.4f}, time {ms:.2f}ms", flush=True)
            last_log, last_logged = time.perf_counter(), steps
        if blew_up:
            print(f"diverged at step {step}", flush=True)
            sys.exit(1)
    train_s = time.perf_counter() - start
    result = dict(final_val_loss=val_losses[-1], best_val_loss=min(val_losses), steps=steps,
                  startup_s=round(startup_s, 3), train_s=round(train_s, 3),
                  peak_rss_mib=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                  peak_cuda_mib=round(torch.cuda.max_memory_allocated() / 2**20, 1) if device.type == "cuda" else None,
                  optimizer=impl, n_params=n_params)
    print("result: " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
