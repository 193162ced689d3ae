//! The GPT: token + learned position embeddings, pre-LayerNorm blocks of causal
//! self-attention (libtorch's scaled_dot_product_attention) and a GELU MLP, a final
//! LayerNorm and an LM head tied to the token embedding. Variable names follow
//! nanoGPT's state_dict (`wte`, `wpe`, `h/{i}/attn/c_attn`, …).
//!
//! Mixed precision is done by hand, as torch.autocast(dtype=bfloat16) would: weights stay
//! float32; matmuls and attention run in `compute_kind`; LayerNorm, the residual stream
//! and the loss stay float32. (tch's `autocast` can only pick libtorch's default float16.)

use sweep_config::ModelConfig;
use tch::nn::{self, Init, Module};
use tch::{Kind, Tensor};

/// nanoGPT's init: N(0, 0.02) for every matrix.
const INIT_STD: f64 = 0.02;

#[derive(Debug)]
struct Linear {
    ws: Tensor,
    bs: Option<Tensor>,
}

impl Linear {
    fn new(p: &nn::Path, n_in: usize, n_out: usize, bias: bool, std: f64) -> Self {
        let ws = p.var("weight", &[n_out as i64, n_in as i64], Init::Randn { mean: 0.0, stdev: std });
        let bs = bias.then(|| p.zeros("bias", &[n_out as i64]));
        Linear { ws, bs }
    }
}

impl Module for Linear {
    /// Computes in the input's precision; the float32 weights are cast to it.
    fn forward(&self, xs: &Tensor) -> Tensor {
        let k = xs.kind();
        if k == self.ws.kind() {
            xs.linear(&self.ws, self.bs.as_ref())
        } else {
            xs.linear(&self.ws.to_kind(k), self.bs.as_ref().map(|b| b.to_kind(k)).as_ref())
        }
    }
}

/// LayerNorm with an optional bias (PyTorch's nn.LayerNorm cannot drop only the bias).
#[derive(Debug)]
struct LayerNorm {
    ws: Tensor,
    bs: Option<Tensor>,
    dim: i64,
}

impl LayerNorm {
    fn new(p: &nn::Path, dim: usize, bias: bool) -> Self {
        let ws = p.ones("weight", &[dim as i64]);
        let bs = bias.then(|| p.zeros("bias", &[dim as i64]));
        LayerNorm { ws, bs, dim: dim as i64 }
    }
}

impl LayerNorm {
    /// Normalises in float32 and returns the result in `out` precision.
    fn forward_as(&self, xs: &Tensor, out: Kind) -> Tensor {
        let ys = xs.to_kind(Kind::Float).layer_norm([self.dim], Some(&self.ws), self.bs.as_ref(), 1e-5, true);
        if out == Kind::Float { ys } else { ys.to_kind(out) }
    }
}

#[derive(Debug)]
struct CausalSelfAttention {
    c_attn: Linear,
    c_proj: Linear,
    n_heads: i64,
    dropout: f64,
}

impl CausalSelfAttention {
    fn new(p: &nn::Path, cfg: &ModelConfig) -> Self {
        let c = cfg.embed_dim;
        CausalSelfAttention {
            c_attn: Linear::new(&(p / "c_attn"), c, 3 * c, cfg.bias, INIT_STD),
            c_proj: Linear::new(&(p / "c_proj"), c, c, cfg.bias, residual_std(cfg)),
            n_heads: cfg.n_heads as i64,
            dropout: cfg.dropout,
        }
    }

    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let (b, t, c) = xs.size3().expect("attention input is (B, T, C)");
        let head = |x: Tensor| x.view([b, t, self.n_heads, c / self.n_heads]).transpose(1, 2);
        let qkv = self.c_attn.forward(xs).split(c, 2);
        let (q, k, v) = (head(qkv[0].shallow_clone()), head(qkv[1].shallow_clone()), head(qkv[2].shallow_clone()));
        let p = if train { self.dropout } else { 0.0 };
        let ys = Tensor::scaled_dot_product_attention(&q, &k, &v, None::<Tensor>, p, true, None, false);
        let ys = ys.transpose(1, 2).contiguous().view([b, t, c]);
        self.c_proj.forward(&ys).dropout(self.dropout, train)
    }
}

#[derive(Debug)]
struct Mlp {
    c_fc: Linear,
    c_proj: Linear,
    dropout: f64,
}

impl Mlp {
    fn new(p: &nn::Path, cfg: &ModelConfig) -> Self {
        let (c, h) = (cfg.embed_dim, cfg.hidden_dim());
        Mlp {
            c_fc: Linear::new(&(p / "c_fc"), c, h, cfg.bias, INIT_STD),
            c_proj: Linear::new(&(p / "c_proj"), h, c, cfg.bias, residual_std(cfg)),
            dropout: cfg.dropout,
        }
    }

    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        self.c_proj.forward(&self.c_fc.forward(xs).gelu("none")).dropout(self.dropout, train)
    }
}

/// GPT-2's scaled init for projections into the residual stream: 0.02 / sqrt(2 · n_layers).
fn residual_std(cfg: &ModelConfig) -> f64 {
    INIT_STD / (2.0 * cfg.n_layers as f64).sqrt()
}

#[derive(Debug)]
struct Block {
    ln_1: LayerNorm,
    attn: CausalSelfAttention,
    ln_2: LayerNorm,
    mlp: Mlp,
}

impl Block {
    fn new(p: &nn::Path, cfg: &ModelConfig) -> Self {
        Block {
            ln_1: LayerNorm::new(&(p / "ln_1"), cfg.embed_dim, cfg.bias),
            attn: CausalSelfAttention::new(&(p / "attn"), cfg),
            ln_2: LayerNorm::new(&(p / "ln_2"), cfg.embed_dim, cfg.bias),
            mlp: Mlp::new(&(p / "mlp"), cfg),
        }
    }

    /// `xs` is the float32 residual stream; attention and MLP compute in `compute`.
    fn forward_t(&self, xs: &Tensor, train: bool, compute: Kind) -> Tensor {
        let xs = xs + self.attn.forward_t(&self.ln_1.forward_as(xs, compute), train).to_kind(Kind::Float);
        &xs + self.mlp.forward_t(&self.ln_2.forward_as(&xs, compute), train).to_kind(Kind::Float)
    }
}

#[derive(Debug)]
pub struct Gpt {
    wte: Tensor,
    wpe: Tensor,
    h: Vec<Block>,
    ln_f: LayerNorm,
    dropout: f64,
    pub block_size: usize,
    pub vocab_size: usize,
    /// Precision of matmuls and attention: Float, or BFloat16 for mixed precision.
    pub compute_kind: Kind,
}

impl Gpt {
    /// Creates the model's variables under `p` (usually `vs.root()`).
    pub fn new(p: &nn::Path, cfg: &ModelConfig, vocab_size: usize) -> Self {
        let init = Init::Randn { mean: 0.0, stdev: INIT_STD };
        let e = cfg.embed_dim as i64;
        Gpt {
            wte: (p / "wte").var("weight", &[vocab_size as i64, e], init),
            wpe: (p / "wpe").var("weight", &[cfg.block_size as i64, e], init),
            h: (0..cfg.n_layers).map(|i| Block::new(&(p / "h" / i), cfg)).collect(),
            ln_f: LayerNorm::new(&(p / "ln_f"), cfg.embed_dim, cfg.bias),
            dropout: cfg.dropout,
            block_size: cfg.block_size,
            vocab_size,
            compute_kind: Kind::Float,
        }
    }

    /// Logits (B, T, vocab) for token ids `idx` (B, T), T ≤ block_size.
    pub fn forward_t(&self, idx: &Tensor, train: bool) -> Tensor {
        let (_, t) = idx.size2().expect("token ids are (B, T)");
        let pos = Tensor::arange(t, (Kind::Int64, idx.device()));
        let tok_emb = Tensor::embedding(&self.wte, idx, -1, false, false);
        let pos_emb = Tensor::embedding(&self.wpe, &pos, -1, false, false);
        let mut xs = (tok_emb + pos_emb).dropout(self.dropout, train);
        for block in &self.h {
            xs = block.forward_t(&xs, train, self.compute_kind);
        }
        // The LM head shares its weight with the token embedding (weight tying).
        let k = self.compute_kind;
        let logits = self.ln_f.forward_as(&xs, k).linear::<Tensor>(&self.wte.to_kind(k), None);
        if k == Kind::Float { logits } else { logits.to_kind(Kind::Float) }
    }

    /// Mean cross-entropy of predicting `targets` (B, T) from `idx` (B, T).
    pub fn loss(&self, idx: &Tensor, targets: &Tensor, train: bool) -> Tensor {
        let logits = self.forward_t(idx, train);
        let v = logits.size()[2];
        logits.view([-1, v]).cross_entropy_for_logits(&targets.view([-1]))
    }
}
