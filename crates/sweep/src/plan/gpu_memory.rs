//! A trial's GPU memory, estimated before it runs, for placing trials on GPUs: fp32
//! weights, gradients and AdamW's two moments; bf16 activations kept for the backward pass
//! (per layer, with SDPA's fused attention: no T×T scores); the logits and their fp32
//! softmax; a fixed allowance for the CUDA context; and a stated margin. A pack counts as
//! the sum of its members. `bench/gpu.sh` compares it with the measured peak.

use sweep_config::{RunConfig, n_params};

/// The CUDA context and cuBLAS/cuDNN workspaces of one trial process, before any tensor:
/// an allowance, not a measurement (bench/gpu.sh measures it on a GPU).
pub const CONTEXT_BYTES: u64 = 600 << 20;

/// On everything but the context: the caching allocator's rounding and fragmentation, and
/// temporaries the sum below leaves out.
pub const MARGIN: f64 = 1.25;

/// The parts of the estimate, in bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GpuMemory {
    /// Weights, gradients and AdamW's moments: 16 bytes per parameter (fp32).
    pub states: u64,
    /// Activations the backward pass keeps, bf16, for one micro-batch.
    pub activations: u64,
    /// Logits in bf16 and their fp32 log-softmax and gradient: 10 bytes per logit.
    pub logits: u64,
}

impl GpuMemory {
    pub fn of(cfg: &RunConfig, vocab_size: usize) -> GpuMemory {
        let (m, t) = (&cfg.model, &cfg.train);
        let params = n_params(m, vocab_size).total;
        let tokens = (t.batch_size * m.block_size) as u64;
        let (d, hidden) = (m.embed_dim as u64, m.hidden_dim() as u64);
        // Per token and layer, 2 bytes each: the two LayerNorm inputs and outputs (4d), q, k
        // and v (3d), the attention output (d), the MLP's input, its hidden pre- and
        // post-GELU (2 hidden); dropout masks (1 byte) on the attention output, the MLP
        // output and the residual adds when dropout is on.
        let per_layer = 2 * (9 * d + 2 * hidden) + if m.dropout > 0.0 { 3 * d } else { 0 };
        // The embeddings' sum and the final LayerNorm.
        let outside = 2 * 3 * d;
        GpuMemory { states: 16 * params, activations: tokens * (m.n_layers as u64 * per_layer + outside), logits: 10 * tokens * vocab_size as u64 }
    }

    /// The estimate: the parts with the margin, plus the context.
    pub fn total(&self) -> u64 {
        ((self.states + self.activations + self.logits) as f64 * MARGIN) as u64 + CONTEXT_BYTES
    }
}

/// The estimate for a trial of these runs (one, or a pack): its members' parts summed, one
/// context.
pub fn trial_bytes<'a>(configs: impl IntoIterator<Item = &'a RunConfig>, vocab_size: usize) -> u64 {
    let parts: u64 = configs
        .into_iter()
        .map(|c| {
            let g = GpuMemory::of(c, vocab_size);
            g.states + g.activations + g.logits
        })
        .sum();
    (parts as f64 * MARGIN) as u64 + CONTEXT_BYTES
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GPT-2 small (124 M parameters with its 50,257 tokens), batch 12 × 1024, as nanoGPT
    /// trains it: 2.0 GB of states, 3.9 GB of activations over 12 layers, 6.2 GB of logits; with
    /// the margin and the context, 15.7 GB. (Unmeasured: bench/gpu.sh measures the peak.)
    #[test]
    fn gpt2_small_is_estimated_from_its_parts() {
        let mut cfg = RunConfig::with_data("x");
        (cfg.model.block_size, cfg.model.embed_dim, cfg.model.n_layers, cfg.model.n_heads, cfg.model.dropout) = (1024, 768, 12, 12, 0.0);
        cfg.train.batch_size = 12;
        let g = GpuMemory::of(&cfg, 50257);
        let params = n_params(&cfg.model, 50257).total;
        assert!((123_000_000..125_000_000).contains(&params), "{params}");
        assert_eq!(g.states, 16 * params);
        let tokens = 12 * 1024;
        assert_eq!(g.activations, tokens * (12 * 2 * (9 * 768 + 2 * 3072) + 6 * 768));
        assert_eq!(g.logits, 10 * tokens * 50257);
        let total = g.total() as f64 / 1e9;
        assert!((15.5..16.0).contains(&total), "{total:.2} GB");
        // A pack of two: twice the parts, one context.
        assert_eq!(trial_bytes([&cfg, &cfg], 50257), (2.0 * (g.states + g.activations + g.logits) as f64 * MARGIN) as u64 + CONTEXT_BYTES);
    }
}
