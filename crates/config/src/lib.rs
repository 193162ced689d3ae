//! The complete, plain settings of one training run (`RunConfig`), their defaults,
//! their validation and the arithmetic on them (exact parameter count, FLOPs per token).
//!
//! This crate knows nothing of YAML, grids, run folders or libtorch: the sweep crate
//! builds `RunConfig`s from a spec, the train crate consumes them.

mod arith;
mod pack;
pub mod schedule;
mod settings;

pub use arith::{ParamCount, flops_per_token, n_params};
pub use pack::{PER_MEMBER_SETTINGS, pack_key};
pub use schedule::{Schedule, lr_at};
pub use settings::{SETTING_NAMES, SettingError, ValueKind, setting_kind};

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
    /// The corpus, relative to the directory `sweep` runs in: a UTF-8 text file, a parquet
    /// or JSONL file, a glob (`shards/*.parquet`), a folder of such shards, or a nanoGPT data
    /// folder (train.bin, val.bin and meta.pkl for char-level sets).
    pub path: String,
    /// `text`, `parquet`, `jsonl` or `nanogpt`; recognised from `path` when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<SourceFormat>,
    /// `char` (one token per Unicode character), `bpe` (byte-level BPE trained here, or
    /// `tokenizer_path`) or `gpt2` (GPT-2's 50,257 tokens, shipped). Default char; a nanoGPT
    /// folder without meta.pkl is gpt2.
    #[serde(default)]
    pub tokenizer: TokenizerKind,
    /// BPE only: vocabulary size to train to (default 512).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vocab_size: Option<usize>,
    /// BPE only: use this HuggingFace `tokenizer.json` instead of training one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokenizer_path: Option<String>,
    /// Parquet: the column that holds the text. Default `text` (FineWeb's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_column: Option<String>,
    /// JSONL: the field that holds the text. Default `text`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_field: Option<String>,
    /// A validation source of its own (same forms as `path`); `val_fraction` is then unused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val: Option<String>,
    /// Share of the token stream (its tail) held out for validation. Default 0.1, as nanoGPT.
    #[serde(default = "default_val_fraction")]
    pub val_fraction: f64,
    /// Folder of the token cache. Default `<out>/.tokens` (`runs/.tokens`), shared by sweeps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<String>,
}

impl DataConfig {
    /// The parquet column or JSONL field the text is in, when the spec names one.
    pub fn field(&self) -> Option<&str> {
        self.text_column.as_deref().or(self.text_field.as_deref())
    }
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
    Gpt2,
}

/// How a corpus is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceFormat {
    Text,
    Parquet,
    Jsonl,
    Nanogpt,
}

impl SourceFormat {
    pub fn name(self) -> &'static str {
        match self {
            SourceFormat::Text => "text",
            SourceFormat::Parquet => "parquet",
            SourceFormat::Jsonl => "JSONL",
            SourceFormat::Nanogpt => "nanoGPT .bin",
        }
    }
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
    /// Evaluations a run makes: at step 0, every eval_interval steps, and at the last step.
    pub fn n_evals(&self) -> u64 {
        let every = self.eval_interval.max(1);
        self.max_iters / every + 1 + u64::from(!self.max_iters.is_multiple_of(every))
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
                format: None,
                vocab_size: None,
                tokenizer_path: None,
                text_column: None,
                text_field: None,
                val: None,
                val_fraction: default_val_fraction(),
                cache: None,
            },
            model: ModelConfig::default(),
            train: TrainConfig::default(),
            sample: SampleConfig::default(),
        }
    }

    /// Every problem with this config, each tied to the setting it is about; empty when valid.
    pub fn problems(&self) -> Vec<ConfigProblem> {
        let m = &self.model;
        let t = &self.train;
        let mut out = Vec::new();
        let mut need = |ok: bool, key: &'static str, value: String, rule: &str| {
            if !ok {
                out.push(ConfigProblem { key, value, rule: rule.to_string() })
            }
        };
        need(m.block_size > 0, "block_size", m.block_size.to_string(), "must be at least 1");
        need(m.n_layers > 0, "n_layers", m.n_layers.to_string(), "must be at least 1");
        need(m.n_heads > 0, "n_heads", m.n_heads.to_string(), "must be at least 1");
        need(
            m.n_heads == 0 || (m.embed_dim > 0 && m.embed_dim.is_multiple_of(m.n_heads)),
            "embed_dim",
            m.embed_dim.to_string(),
            &format!("is not divisible by n_heads {}; pick embed_dim a multiple of n_heads", m.n_heads),
        );
        need(m.hidden_dim() > 0, "hidden_dim", m.hidden_dim().to_string(), "must be at least 1");
        need((0.0..1.0).contains(&m.dropout), "dropout", m.dropout.to_string(), "must be in [0, 1)");
        need(t.batch_size > 0, "batch_size", t.batch_size.to_string(), "must be at least 1");
        need(t.grad_accum_steps > 0, "grad_accum_steps", t.grad_accum_steps.to_string(), "must be at least 1");
        need(t.max_iters > 0, "max_iters", t.max_iters.to_string(), "must be at least 1");
        let lr_ok = t.lr > 0.0 && t.lr.is_finite();
        need(lr_ok, "lr", t.lr.to_string(), "must be a positive number");
        // The default min_lr is lr / 10: a bad lr is reported once, as lr.
        if lr_ok || t.min_lr.is_some() {
            need(t.min_lr() >= 0.0 && t.min_lr() <= t.lr, "min_lr", t.min_lr().to_string(), &format!("must be between 0 and lr {}", t.lr));
        }
        need(t.weight_decay >= 0.0, "weight_decay", t.weight_decay.to_string(), "must not be negative");
        need((0.0..1.0).contains(&t.beta1), "beta1", t.beta1.to_string(), "must be in [0, 1)");
        need((0.0..1.0).contains(&t.beta2), "beta2", t.beta2.to_string(), "must be in [0, 1)");
        need(t.grad_clip >= 0.0, "grad_clip", t.grad_clip.to_string(), "must not be negative (0 disables clipping)");
        need(t.eval_interval > 0, "eval_interval", t.eval_interval.to_string(), "must be at least 1");
        need(t.eval_iters > 0, "eval_iters", t.eval_iters.to_string(), "must be at least 1");
        need(
            t.device == "auto" || t.device == "cpu" || t.device == "cuda" || t.device.strip_prefix("cuda:").is_some_and(|n| n.parse::<usize>().is_ok()),
            "device",
            format!("{:?}", t.device),
            "must be auto, cpu, cuda or cuda:N",
        );
        let v = self.data.val_fraction;
        need(v > 0.0 && v < 1.0, "data.val_fraction", v.to_string(), "must be between 0 and 1 (exclusive)");
        let s = &self.sample;
        need(s.temperature > 0.0 && s.temperature.is_finite(), "sample.temperature", s.temperature.to_string(), "must be positive");
        need(s.top_k != Some(0), "sample.top_k", "0".into(), "must be at least 1 (or left out to keep every token)");
        let d = &self.data;
        if d.tokenizer == TokenizerKind::Bpe {
            let vocab = d.vocab_size.unwrap_or_default();
            need(d.vocab_size.is_none_or(|v| v > 256), "data.vocab_size", vocab.to_string(), "must be larger than 256 for tokenizer: bpe (the byte alphabet)");
        } else {
            need(d.vocab_size.is_none(), "data.vocab_size", d.vocab_size.unwrap_or_default().to_string(), "only applies to tokenizer: bpe");
            need(
                d.tokenizer_path.is_none(),
                "data.tokenizer_path",
                format!("{:?}", d.tokenizer_path.as_deref().unwrap_or_default()),
                "only applies to tokenizer: bpe",
            );
        }
        out
    }
}

/// One thing wrong with a config: the setting (`dropout`, or `sample.top_k` for the
/// sections outside the settings), its value as the config holds it, and the rule broken.
/// Displays as "dropout 1 must be in [0, 1)".
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigProblem {
    pub key: &'static str,
    pub value: String,
    pub rule: String,
}

impl std::fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {}", self.key, self.value, self.rule)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn evals_count_the_first_and_last_step() {
        let mut t = TrainConfig { max_iters: 250, eval_interval: 50, ..TrainConfig::default() };
        assert_eq!(t.n_evals(), 6);
        t.max_iters = 260;
        assert_eq!(t.n_evals(), 7);
    }

    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(RunConfig::with_data("x.txt").problems(), Vec::<ConfigProblem>::new());
    }

    #[test]
    fn every_problem_is_reported() {
        let mut c = RunConfig::with_data("x.txt");
        c.model.embed_dim = 30;
        c.model.n_heads = 4;
        c.model.dropout = 1.0;
        c.train.lr = -1.0;
        let p: Vec<String> = c.problems().iter().map(|p| p.to_string()).collect();
        assert!(p.iter().any(|m| m.contains("embed_dim 30 is not divisible by n_heads 4")), "{p:?}");
        assert!(p.iter().any(|m| m.contains("dropout 1 must be in [0, 1)")), "{p:?}");
        assert!(p.iter().any(|m| m.contains("lr -1 must be a positive number")), "{p:?}");
        // A negative lr is not reported a second time through the min_lr derived from it.
        assert_eq!(p.len(), 3, "{p:?}");
        c.train.min_lr = Some(-0.5);
        assert!(c.problems().iter().any(|p| p.key == "min_lr"));
    }

    #[test]
    fn config_round_trips_through_json() {
        let c = RunConfig::with_data("data/feiniao.txt");
        let s = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<RunConfig>(&s).unwrap(), c);
    }
}
