//! Training one run: what a caller sees (`train`, `Observer`, `EvalRow`, `Snapshot`,
//! `Stop`, `Outcome`) and the lone run's arithmetic: random windows as batches, a step of
//! gradient accumulation, clipping and AdamW (decoupled weight decay on matrices), and the
//! evaluation in eval mode. The loop itself (warmup + cosine learning rate, periodic
//! evaluation, divergence, checkpoints, stops) is `run_loop`'s, shared with packs.

use crate::checkpoint;
use crate::error::TrainError;
use crate::member;
use crate::model::Gpt;
use crate::optim::AdamW;
use crate::run_loop::{self, Engine, Live};
use corpus::{TokenData, TokenRange};
use rand::{Rng, SeedableRng, rngs::StdRng};
use sweep_config::{ParamCount, RunConfig};
use tch::{Device, Tensor, nn};

/// One evaluation: the numbers written to loss.csv.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalRow {
    pub step: u64,
    pub tokens_seen: u64,
    pub lr: f64,
    pub train_loss: f64,
    pub val_loss: f64,
    pub elapsed_s: f64,
}

/// Receives progress while training runs, and may save or stop it.
pub trait Observer {
    fn on_eval(&mut self, row: &EvalRow);
    /// A human-readable progress line in nanoGPT's format.
    fn on_log(&mut self, _line: &str) {}
    /// The training loss of a logged step (every LOG_INTERVAL steps, and a diverging one).
    fn on_step(&mut self, _step: u64, _loss: f64) {}
    /// Every checkpoint_interval steps and when stopping early: a chance to save the
    /// whole training state (`Snapshot::save`).
    fn on_checkpoint(&mut self, _snapshot: &Snapshot) -> Result<(), TrainError> {
        Ok(())
    }
    /// Polled before every step; true stops training (after a checkpoint) as Interrupted.
    fn should_stop(&mut self) -> bool {
        false
    }
}

/// The training state between two steps: everything a resumed run needs.
pub struct Snapshot<'a> {
    /// The step the resumed run starts with (steps 0..next_step are done).
    pub next_step: u64,
    pub elapsed_s: f64,
    pub(crate) vs: &'a nn::VarStore,
    pub(crate) opt: &'a AdamW,
}

impl Snapshot<'_> {
    pub fn save(&self, path: &std::path::Path) -> Result<(), TrainError> {
        checkpoint::save_resume(path, self.vs, self.opt, self.next_step, self.elapsed_s)
    }
}

/// Why training ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Stop {
    Finished,
    /// The training loss became NaN, infinite, or exploded far above a uniform guess.
    Diverged {
        step: u64,
        loss: f64,
    },
    /// `Observer::should_stop` asked to stop; the state after `next_step` steps was checkpointed.
    Interrupted {
        next_step: u64,
    },
}

pub struct Outcome {
    pub stop: Stop,
    /// Evaluations made by this call (a resumed run's earlier ones are not repeated).
    pub rows: Vec<EvalRow>,
    pub params: ParamCount,
    pub vocab_size: usize,
    /// Optimizer steps taken in total, including those before a resume.
    pub steps: u64,
    pub tokens_seen: u64,
    /// Seconds of training in total, including those before a resume.
    pub train_seconds: f64,
    /// The step this call started from (0, or where it resumed).
    pub resumed_at: u64,
    pub vs: nn::VarStore,
    pub model: Gpt,
    pub device: Device,
}

/// Training steps between nanoGPT-style "iter" log lines.
pub(crate) const LOG_INTERVAL: u64 = 10;

/// Separates the random streams: training batches, evaluation batches and dropout.
pub(crate) const EVAL_STREAM: u64 = 0x9E37_79B9_7F4A_7C15;
pub(crate) const DROPOUT_STREAM: u64 = 0xD1B5_4A32_D192_ED03;

/// A loss this many times the uniform-guess loss ln(vocab) means training blew up even
/// if it is still finite (a fresh model starts at about 1×).
const DIVERGED_OVER_UNIFORM: f64 = 3.0;

/// When a training loss means the run diverged; shared by lone and packed training.
pub(crate) struct Divergence {
    above: f64,
}

impl Divergence {
    pub(crate) fn new(vocab_size: usize) -> Self {
        Divergence { above: DIVERGED_OVER_UNIFORM * (vocab_size.max(2) as f64).ln() }
    }

    /// Not finite, or (after warmup) far above a uniform guess.
    pub(crate) fn blew_up(&self, loss: f64, step: u64, warmup_iters: u64) -> bool {
        !loss.is_finite() || (step >= warmup_iters && loss > self.above)
    }

    /// The train.log line that says why the run stops.
    pub(crate) fn line(&self, loss: f64, step: u64) -> String {
        format!("loss {loss} at step {step} is not finite or above {:.2} ({DIVERGED_OVER_UNIFORM}× the uniform-guess loss); stopping (diverged)", self.above)
    }
}

/// Trains a model on `data` as `cfg` says; from scratch, or from the training state saved
/// at `resume_from` (an error there means that file cannot be used). The loop is the one
/// every way of training shares (`run_loop`), with this run alone in it.
pub fn train(
    cfg: &RunConfig,
    data: &TokenData,
    device: Device,
    observer: &mut dyn Observer,
    resume_from: Option<&std::path::Path>,
) -> Result<Outcome, TrainError> {
    member::check(cfg)?;
    let member = member::build(cfg, data.vocab_size, device, resume_from)?;
    let first_step = member.first_step;
    let live = vec![Live::new(0, cfg, observer, member)];
    let mut results = run_loop::run(&mut Alone, live, data, device, first_step);
    results.pop().map_or_else(|| Err(TrainError::Config("not trained".into())), |(_, r)| r)
}

/// A run trained alone: its own model's forward and its own AdamW.
struct Alone;

impl Engine for Alone {
    fn estimate(&self, live: &[Live], ids: &Tokens, step: u64) -> Result<Vec<f64>, TrainError> {
        live.iter().map(|l| estimate_loss(&l.member.model, ids, l.cfg, step)).collect()
    }

    fn train_step(&mut self, live: &mut [Live], lrs: &[f64], ids: &Tokens, rngs: &mut [StdRng]) -> Result<Vec<f64>, tch::TchError> {
        live.iter_mut().zip(lrs).zip(rngs).map(|((l, &lr), rng)| train_step(&l.member.model, &mut l.member.opt, lr, ids, l.cfg, rng)).collect()
    }

    fn packed(&self) -> bool {
        false
    }
}

/// A split's tokens and the device batches go to: windows are read from the (memory-mapped)
/// tokens on the CPU and copied to the device one batch at a time, as nanoGPT's get_batch
/// does, so the corpus is never held whole in memory or on the GPU.
pub(crate) struct Tokens<'a> {
    pub range: &'a TokenRange,
    pub device: Device,
}

/// A batch of `batch_size` random windows: inputs (B, T) and next-token targets (B, T).
/// Window starts are uniform over the split (nanoGPT's get_batch), so a window may span
/// two documents or two shards.
pub(crate) fn batch(ids: &Tokens, batch_size: usize, block_size: usize, rng: &mut StdRng) -> (Tensor, Tensor) {
    let n = ids.range.len();
    let max_start = n - block_size - 1; // corpus::tokens::check_fits guarantees n > block_size
    let starts: Vec<usize> = (0..batch_size).map(|_| rng.random_range(0..=max_start)).collect();
    let (mut x, mut y) = (Vec::with_capacity(batch_size * block_size), Vec::with_capacity(batch_size * block_size));
    let mut window = vec![0u32; block_size + 1];
    for start in starts {
        ids.range.read(start, &mut window);
        x.extend(window[..block_size].iter().map(|&i| i64::from(i)));
        y.extend(window[1..].iter().map(|&i| i64::from(i)));
    }
    let shape = [batch_size as i64, block_size as i64];
    (Tensor::from_slice(&x).view(shape).to(ids.device), Tensor::from_slice(&y).view(shape).to(ids.device))
}

/// One optimizer step over grad_accum_steps micro-batches; returns the mean loss.
pub(crate) fn train_step(model: &Gpt, opt: &mut AdamW, lr: f64, ids: &Tokens, cfg: &RunConfig, rng: &mut StdRng) -> Result<f64, tch::TchError> {
    let t = &cfg.train;
    opt.zero_grad();
    let mut total = 0.0;
    for _ in 0..t.grad_accum_steps {
        let (x, y) = batch(ids, t.batch_size, cfg.model.block_size, rng);
        let loss = model.loss(&x, &y, true);
        let scaled = &loss / t.grad_accum_steps as f64;
        scaled.f_backward()?;
        total += f64::try_from(&loss)?;
    }
    if t.grad_clip > 0.0 {
        opt.clip_grad_norm(t.grad_clip);
    }
    opt.step(lr);
    Ok(total / t.grad_accum_steps as f64)
}

/// Mean loss over eval_iters batches with dropout off; the batches depend only on the seed.
fn estimate_loss(model: &Gpt, ids: &Tokens, cfg: &RunConfig, step: u64) -> Result<f64, TrainError> {
    let t = &cfg.train;
    let _guard = tch::no_grad_guard();
    let mut rng = StdRng::seed_from_u64(t.seed ^ EVAL_STREAM);
    let mut total = 0.0;
    for _ in 0..t.eval_iters {
        let (x, y) = batch(ids, t.batch_size, cfg.model.block_size, &mut rng);
        let loss = model.loss(&x, &y, false);
        total += f64::try_from(&loss).map_err(|e| TrainError::torch(step, e))?;
    }
    Ok(total / t.eval_iters as f64)
}
