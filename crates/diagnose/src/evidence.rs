//! What diagnosis looks at. Every field is optional in spirit: empty or `None` means unknown.

/// One evaluation: train and val loss measured at a step.
#[derive(Debug, Clone, PartialEq)]
pub struct Eval {
    pub step: u64,
    pub train: f64,
    pub val: f64,
    /// Learning rate at that step, when recorded.
    pub lr: Option<f64>,
}

/// One training step's loss as logged (nanoGPT's `iter N: loss X, time Tms, mfu M%`).
#[derive(Debug, Clone, PartialEq)]
pub struct Iter {
    pub step: u64,
    pub loss: f64,
    pub ms: Option<f64>,
    /// MFU as the log printed it, as a fraction (nanoGPT divides by the A100's bf16 peak).
    pub mfu: Option<f64>,
}

pub use sweep_config::Schedule;

/// Parameter counts. `total` counts every trainable parameter once (tied head).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    pub total: u64,
    /// Token-embedding parameters, when known.
    pub token_embedding: Option<u64>,
    /// Position-embedding parameters, when known.
    pub position_embedding: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evidence {
    /// Run id, run name or file name: where a claimed size ("gpt2-124M") would be written.
    pub name: Option<String>,
    pub evals: Vec<Eval>,
    pub iters: Vec<Iter>,
    /// Step and loss where training stopped on a NaN or infinite loss.
    pub diverged: Option<(u64, f64)>,
    pub dropout: Option<f64>,
    pub schedule: Option<Schedule>,
    pub params: Option<Params>,
    /// Training tokens per optimizer step (batch × accumulation × block).
    pub tokens_per_step: Option<u64>,
    /// Tokens actually consumed; when None, last step × tokens_per_step.
    pub tokens_seen: Option<u64>,
    /// Tokens in the training split (unique tokens available).
    pub train_tokens: Option<u64>,
    pub block_size: Option<u64>,
    /// Training FLOPs per token (6N + attention, nanoGPT's estimate).
    pub flops_per_token: Option<f64>,
    /// Measured training throughput.
    pub tokens_per_second: Option<f64>,
    /// "cpu", or a GPU name such as "NVIDIA H100 80GB HBM3"; None when unknown.
    pub device: Option<String>,
    /// Where the device name came from when it was not measured ("--gpu", "the file name",
    /// "line 3 of the log"); None for a run's own record.
    pub device_source: Option<String>,
    /// The steps the run was planned for (max_iters), when known.
    pub planned_steps: Option<u64>,
    /// Gradient clipping's max norm (0 = off), when known.
    pub grad_clip: Option<f64>,
    /// The pretrained model a fine-tune started from (nanoGPT's `init_from = 'gpt2-xl'`):
    /// tokens per parameter against the compute-optimal ~20 does not apply then.
    pub pretrained: Option<String>,
    /// The dataset's name as configured (nanoGPT's `dataset`), e.g. "fineweb_edu_shard0".
    pub dataset: Option<String>,
    /// Generated samples (continuations of prompts).
    pub samples: Vec<String>,
    /// The training split as text, for verbatim-overlap checks.
    pub train_text: Option<String>,
}

impl Evidence {
    /// The last step the curve reached.
    pub fn last_step(&self) -> Option<u64> {
        let e = self.evals.last().map(|e| e.step);
        let i = self.iters.last().map(|i| i.step);
        e.max(i)
    }

    pub fn tokens_seen(&self) -> Option<u64> {
        self.tokens_seen.or_else(|| Some(self.last_step()? * self.tokens_per_step?))
    }

    /// Learning rate at a step: recorded with the evals, else from the schedule.
    pub fn lr_at(&self, step: u64) -> Option<f64> {
        self.evals.iter().find(|e| e.step == step).and_then(|e| e.lr).or_else(|| Some(self.schedule?.lr_at(step)))
    }
}
