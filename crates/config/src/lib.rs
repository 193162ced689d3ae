//! The complete, plain settings of one training run (`RunConfig`), their defaults,
//! their validation and the arithmetic on them (exact parameter count, FLOPs per token).
//!
//! This crate knows nothing of YAML, grids, run folders or libtorch: the sweep crate
//! builds `RunConfig`s from a spec, the train crate consumes them.

mod arith;
pub mod schedule;
mod settings;

pub use arith::{ParamCount, flops_per_token, n_params};
pub use schedule::{Schedule, lr_at};
pub use settings::{SETTING_NAMES, SettingError};

use serde::{Deserialize, Serialize};

/// Everything needed to reproduce one run. Saved as `config.json` in the run folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    pub data: DataConfig,
    pub model: ModelConfig,
    pub train: TrainConfig,
    #[serde(default)]
    pub sample: SampleConfig,
}

/// Where the text comes from and how it becomes tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// Path of a UTF-8 text file, relative to the directory `sweep` runs in.
    pub path: String,
    /// `char` (one token per Unicode character) or `bpe` (byte-level BPE).
    #[serde(default)]
    pub tokenizer: TokenizerKind,
    /// BPE only: vocabulary size to train to (default 512).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vocab_size: Option<usize>,
    /// BPE only: use this HuggingFace `tokenizer.json` instead of training one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokenizer_path: Option<String>,
    /// Share of the token stream (its tail) held out for validation. Default 0.1, as nanoGPT.
    #[serde(default = "default_val_fraction")]
    pub val_fraction: f64,
}

fn default_val_fraction() -> f64 {
    0.1
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenizerKind {
    #[default]
    Char,
    Bpe,
}

/// Shape of the decoder-only transformer (nanoGPT's GPTConfig, minus vocab_size,
/// which comes from the tokenizer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// Context length in tokens. Default 64.
    pub block_size: usize,
    /// Width of the residual stream (nanoGPT's n_embd). Default 128.
    pub embed_dim: usize,
    /// Number of transformer blocks. Default 4.
    pub n_layers: usize,
    /// Attention heads per block; must divide embed_dim. Default 4.
    pub n_heads: usize,
    /// MLP hidden width; `None` means 4 × embed_dim, as in GPT-2.
    pub hidden_dim: Option<usize>,
    /// Dropout probability on attention, residual and embedding outputs. Default 0.1.
    pub dropout: f64,
    /// Biases in Linear and LayerNorm layers. Default false (nanoGPT's train.py default).
    pub bias: bool,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig { block_size: 64, embed_dim: 128, n_layers: 4, n_heads: 4, hidden_dim: None, dropout: 0.1, bias: false }
    }
}

impl ModelConfig {
    /// A very small model for tests: 2 layers, 32 wide, context 16.
    pub fn tiny() -> Self {
        ModelConfig { block_size: 16, embed_dim: 32, n_layers: 2, n_heads: 2, hidden_dim: None, dropout: 0.0, bias: false }
    }

    /// The MLP hidden width actually used.
    pub fn hidden_dim(&self) -> usize {
        self.hidden_dim.unwrap_or(4 * self.embed_dim)
    }
}

/// Optimisation settings. Defaults follow nanoGPT's shakespeare_char config, scaled to a CPU.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Sequences per micro-batch. Default 32.
    pub batch_size: usize,
    /// Micro-batches accumulated per optimizer step. Default 1.
    pub grad_accum_steps: usize,
    /// Optimizer steps to train for. Default 500.
    pub max_iters: u64,
    /// Peak learning rate after warmup. Default 1e-3 (small models tolerate a high lr).
    pub lr: f64,
    /// Learning rate at the end of cosine decay. Default lr/10, as Chinchilla suggests.
    pub min_lr: Option<f64>,
    /// Steps of linear warmup from 0 to lr. Default 50.
    pub warmup_iters: u64,
    /// Step where cosine decay reaches min_lr; `None` means max_iters.
    pub lr_decay_iters: Option<u64>,
    /// AdamW weight decay, applied to weight matrices only. Default 0.1.
    pub weight_decay: f64,
    /// AdamW beta1. Default 0.9.
    pub beta1: f64,
    /// AdamW beta2. Default 0.99 (nanoGPT: a bit higher than 0.95 because few tokens per step).
    pub beta2: f64,
    /// Clip the global gradient norm to this value; 0 disables clipping. Default 1.0.
    pub grad_clip: f64,
    /// Evaluate train and val loss every this many steps (and at the first and last). Default 50.
    pub eval_interval: u64,
    /// Batches averaged per evaluation. Default 20.
    pub eval_iters: u64,
    /// Save the full training state every this many steps, for resuming after a crash or
    /// Ctrl-C; `None` means every eval_interval steps.
    pub checkpoint_interval: Option<u64>,
    /// Seed for weights, batches and dropout. Default 1337, as nanoGPT.
    pub seed: u64,
    /// `auto` (CUDA when available, else CPU), `cpu`, `cuda` or `cuda:N`. Default auto.
    pub device: String,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            batch_size: 32,
            grad_accum_steps: 1,
            max_iters: 500,
            lr: 1e-3,
            min_lr: None,
            warmup_iters: 50,
            lr_decay_iters: None,
            weight_decay: 0.1,
            beta1: 0.9,
            beta2: 0.99,
            grad_clip: 1.0,
            eval_interval: 50,
            eval_iters: 20,
            checkpoint_interval: None,
            seed: 1337,
            device: "auto".to_string(),
        }
    }
}

impl TrainConfig {
    pub fn min_lr(&self) -> f64 {
        self.min_lr.unwrap_or(self.lr / 10.0)
    }
    pub fn checkpoint_interval(&self) -> u64 {
        self.checkpoint_interval.unwrap_or(self.eval_interval).max(1)
    }
    pub fn lr_decay_iters(&self) -> u64 {
        self.lr_decay_iters.unwrap_or(self.max_iters)
    }
    /// Tokens consumed by one optimizer step.
    pub fn tokens_per_step(&self, block_size: usize) -> u64 {
        (self.batch_size * self.grad_accum_steps * block_size) as u64
    }
}

/// Text generated at the end of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SampleConfig {
    /// Prompts to continue; an empty prompt starts from the first token of the vocabulary.
    pub prompts: Vec<String>,
    /// New tokens generated per prompt. Default 200.
    pub max_new_tokens: usize,
    /// Softmax temperature; lower is more conservative. Default 0.8.
    pub temperature: f64,
    /// Keep only the k most likely tokens; `None` keeps all. Default 40.
    pub top_k: Option<usize>,
}

impl Default for SampleConfig {
    fn default() -> Self {
        SampleConfig { prompts: vec![String::new()], max_new_tokens: 200, temperature: 0.8, top_k: Some(40) }
    }
}

impl RunConfig {
    /// A complete config with defaults everywhere but the data path.
    pub fn with_data(path: impl Into<String>) -> Self {
        RunConfig {
            data: DataConfig {
                path: path.into(),
                tokenizer: TokenizerKind::Char,
                vocab_size: None,
                tokenizer_path: None,
                val_fraction: default_val_fraction(),
            },
            model: ModelConfig::default(),
            train: TrainConfig::default(),
            sample: SampleConfig::default(),
        }
    }

    /// Every problem with this config, one sentence each; empty when it is valid.
    pub fn problems(&self) -> Vec<String> {
        let m = &self.model;
        let t = &self.train;
        let mut out = Vec::new();
        let mut need = |ok: bool, msg: String| {
            if !ok {
                out.push(msg)
            }
        };
        need(m.block_size > 0, "block_size must be at least 1".into());
        need(m.n_layers > 0, "n_layers must be at least 1".into());
        need(m.n_heads > 0, "n_heads must be at least 1".into());
        need(
            m.n_heads == 0 || (m.embed_dim > 0 && m.embed_dim.is_multiple_of(m.n_heads)),
            format!("embed_dim {} is not divisible by n_heads {}; pick embed_dim a multiple of n_heads", m.embed_dim, m.n_heads),
        );
        need(m.hidden_dim() > 0, "hidden_dim must be at least 1".into());
        need((0.0..1.0).contains(&m.dropout), format!("dropout {} must be in [0, 1)", m.dropout));
        need(t.batch_size > 0, "batch_size must be at least 1".into());
        need(t.grad_accum_steps > 0, "grad_accum_steps must be at least 1".into());
        need(t.max_iters > 0, "max_iters must be at least 1".into());
        need(t.lr > 0.0 && t.lr.is_finite(), format!("lr {} must be a positive number", t.lr));
        need(t.min_lr() >= 0.0 && t.min_lr() <= t.lr, format!("min_lr {} must be between 0 and lr {}", t.min_lr(), t.lr));
        need(t.weight_decay >= 0.0, format!("weight_decay {} must not be negative", t.weight_decay));
        need((0.0..1.0).contains(&t.beta1), format!("beta1 {} must be in [0, 1)", t.beta1));
        need((0.0..1.0).contains(&t.beta2), format!("beta2 {} must be in [0, 1)", t.beta2));
        need(t.grad_clip >= 0.0, format!("grad_clip {} must not be negative (0 disables clipping)", t.grad_clip));
        need(t.eval_interval > 0, "eval_interval must be at least 1".into());
        need(t.eval_iters > 0, "eval_iters must be at least 1".into());
        need(
            t.device == "auto" || t.device == "cpu" || t.device == "cuda" || t.device.strip_prefix("cuda:").is_some_and(|n| n.parse::<usize>().is_ok()),
            format!("device {:?} must be auto, cpu, cuda or cuda:N", t.device),
        );
        let v = self.data.val_fraction;
        need(v > 0.0 && v < 1.0, format!("val_fraction {v} must be between 0 and 1 (exclusive)"));
        need(self.sample.temperature > 0.0, format!("temperature {} must be positive", self.sample.temperature));
        need(self.sample.top_k != Some(0), "top_k must be at least 1 (or omitted)".into());
        if self.data.tokenizer == TokenizerKind::Bpe {
            need(self.data.vocab_size.is_none_or(|v| v > 256), "bpe vocab_size must be larger than 256 (the byte alphabet)".into());
        } else {
            need(self.data.vocab_size.is_none(), "vocab_size only applies to tokenizer: bpe".into());
            need(self.data.tokenizer_path.is_none(), "tokenizer_path only applies to tokenizer: bpe".into());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(RunConfig::with_data("x.txt").problems(), Vec::<String>::new());
    }

    #[test]
    fn every_problem_is_reported() {
        let mut c = RunConfig::with_data("x.txt");
        c.model.embed_dim = 30;
        c.model.n_heads = 4;
        c.model.dropout = 1.0;
        c.train.lr = -1.0;
        let p = c.problems();
        assert!(p.iter().any(|m| m.contains("embed_dim 30 is not divisible by n_heads 4")), "{p:?}");
        assert!(p.iter().any(|m| m.contains("dropout 1 must be in [0, 1)")), "{p:?}");
        assert!(p.iter().any(|m| m.contains("lr -1 must be a positive number")), "{p:?}");
    }

    #[test]
    fn config_round_trips_through_json() {
        let c = RunConfig::with_data("data/feiniao.txt");
        let s = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<RunConfig>(&s).unwrap(), c);
    }
}
