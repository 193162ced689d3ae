//! Closed-form arithmetic on a model shape: exact parameter count and training FLOPs
//! per token, both as nanoGPT computes them.

use crate::ModelConfig;
use serde::{Deserialize, Serialize};

/// Parameter count split the way people talk about model size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParamCount {
    /// Every trainable parameter (the LM head is tied to the token embedding, counted once).
    pub total: u64,
    /// Token embedding (shared with the LM head).
    pub token_embedding: u64,
    /// Learned position embedding.
    pub position_embedding: u64,
}

impl ParamCount {
    /// What nanoGPT prints as "number of parameters": total minus position embeddings.
    pub fn without_position(&self) -> u64 {
        self.total - self.position_embedding
    }
    /// Parameters outside both embeddings (Kaplan's N).
    pub fn non_embedding(&self) -> u64 {
        self.total - self.position_embedding - self.token_embedding
    }
}

/// Exact parameter count of the GPT built by the train crate for this shape.
pub fn n_params(m: &ModelConfig, vocab_size: usize) -> ParamCount {
    let (c, h, v, t) = (m.embed_dim as u64, m.hidden_dim() as u64, vocab_size as u64, m.block_size as u64);
    let b = u64::from(m.bias);
    let layer_norm = c + b * c;
    let attn = (c * 3 * c + b * 3 * c) + (c * c + b * c);
    let mlp = (c * h + b * h) + (h * c + b * c);
    let block = 2 * layer_norm + attn + mlp;
    let token_embedding = v * c;
    let position_embedding = t * c;
    ParamCount { total: token_embedding + position_embedding + m.n_layers as u64 * block + layer_norm, token_embedding, position_embedding }
}

/// Training FLOPs per token (forward + backward), nanoGPT's `estimate_mfu`:
/// 6·N + 12·L·H·Q·T with N the parameters without position embeddings.
pub fn flops_per_token(m: &ModelConfig, vocab_size: usize) -> f64 {
    let n = n_params(m, vocab_size).without_position() as f64;
    let (l, c, t) = (m.n_layers as f64, m.embed_dim as f64, m.block_size as f64);
    6.0 * n + 12.0 * l * c * t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpt2_small_matches_published_count() {
        // GPT-2 124M as nanoGPT builds it (bias=True, vocab 50257, block 1024):
        // nanoGPT prints "number of parameters: 123.65M" (without position embeddings),
        // and 124,439,808 in total (HF's GPT2LMHeadModel with tied head).
        let m = ModelConfig { block_size: 1024, embed_dim: 768, n_layers: 12, n_heads: 12, hidden_dim: None, dropout: 0.0, bias: true };
        let p = n_params(&m, 50257);
        assert_eq!(p.total, 124_439_808);
        assert_eq!(p.without_position(), 124_439_808 - 1024 * 768);
    }
}
