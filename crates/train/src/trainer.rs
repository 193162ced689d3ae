//! The training loop: AdamW with decoupled weight decay on matrices, warmup + cosine
//! learning rate, gradient accumulation and clipping, periodic train/val evaluation in
//! eval mode, divergence detection, and resumable checkpoints. Reports through an
//! `Observer`, which decides where snapshots go.

use crate::checkpoint;
use crate::error::TrainError;
use crate::model::Gpt;
use crate::optim::AdamW;
use corpus::TokenData;
use rand::{Rng, SeedableRng, rngs::StdRng};
use std::time::Instant;
use sweep_config::{ParamCount, RunConfig, Schedule, lr_at, n_params};
use tch::{Device, Kind, Tensor, nn};

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
/// at `resume_from` (an error there means that file cannot be used).
pub fn train(
    cfg: &RunConfig,
    data: &TokenData,
    device: Device,
    observer: &mut dyn Observer,
    resume_from: Option<&std::path::Path>,
) -> Result<Outcome, TrainError> {
    let problems = cfg.problems();
    if !problems.is_empty() {
        return Err(TrainError::Config(problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("; ")));
    }
    let (m, t) = (&cfg.model, &cfg.train);
    tch::manual_seed(t.seed as i64);
    let vs = nn::VarStore::new(device);
    let mut model = Gpt::new(&vs.root(), m, data.vocab_size);
    // bf16 mixed precision on CUDA (every GPU this tool targets, Ampere and later, has bf16).
    if device.is_cuda() {
        model.compute_kind = Kind::BFloat16;
    }
    let params = n_params(m, data.vocab_size);
    let mut opt = AdamW::new(&vs, t);
    let (first_step, elapsed_before) = match resume_from {
        Some(path) => checkpoint::load_resume(path, &vs, &mut opt)?,
        None => (0, 0.0),
    };
    observer.on_log(&format!("number of parameters: {:.2}M", params.without_position() as f64 / 1e6));

    let train_ids = to_tensor(&data.train, device);
    let val_ids = to_tensor(&data.val, device);
    let schedule = Schedule::from_config(t);
    let tokens_per_step = t.tokens_per_step(m.block_size);
    observer.on_log(&format!("tokens per iteration will be: {tokens_per_step}"));
    let divergence = Divergence::new(data.vocab_size);

    let start = Instant::now();
    let elapsed = || elapsed_before + start.elapsed().as_secs_f64();
    let mut rows = Vec::new();
    let mut stop = Stop::Finished;
    let mut steps = first_step;
    let (mut last_log, mut last_logged_steps) = (Instant::now(), first_step);
    for step in first_step..=t.max_iters {
        if step > first_step && observer.should_stop() {
            observer.on_checkpoint(&Snapshot { next_step: step, elapsed_s: elapsed(), vs: &vs, opt: &opt })?;
            observer.on_log(&format!("interrupted: training state after step {step} saved"));
            stop = Stop::Interrupted { next_step: step };
            break;
        }
        let lr = lr_at(step, &schedule);
        if step % t.eval_interval == 0 || step == t.max_iters {
            let train_loss = estimate_loss(&model, &train_ids, cfg, step)?;
            let val_loss = estimate_loss(&model, &val_ids, cfg, step)?;
            let row = EvalRow { step, tokens_seen: step * tokens_per_step, lr, train_loss, val_loss, elapsed_s: elapsed() };
            observer.on_log(&format!("step {step}: train loss {train_loss:.4}, val loss {val_loss:.4}"));
            observer.on_eval(&row);
            rows.push(row);
        }
        if step == t.max_iters {
            break;
        }
        // Every random draw of this step depends on (seed, step) only, so a resumed run
        // replays exactly what an uninterrupted one would have done.
        tch::manual_seed((t.seed ^ DROPOUT_STREAM).wrapping_add(step) as i64);
        let mut rng = StdRng::seed_from_u64(t.seed.wrapping_add(step));
        let loss = train_step(&model, &mut opt, lr, &train_ids, cfg, &mut rng).map_err(|e| TrainError::torch(step, e))?;
        steps = step + 1;
        let blew_up = divergence.blew_up(loss, step, t.warmup_iters);
        if step % LOG_INTERVAL == 0 || blew_up {
            let ms = last_log.elapsed().as_secs_f64() * 1e3 / (steps - last_logged_steps).max(1) as f64;
            observer.on_log(&format!("iter {step}: loss {loss:.4}, time {ms:.2}ms"));
            observer.on_step(step, loss);
            (last_log, last_logged_steps) = (Instant::now(), steps);
        }
        if blew_up {
            observer.on_log(&divergence.line(loss, step));
            stop = Stop::Diverged { step, loss };
            break;
        }
        if steps % t.checkpoint_interval() == 0 && steps < t.max_iters {
            observer.on_checkpoint(&Snapshot { next_step: steps, elapsed_s: elapsed(), vs: &vs, opt: &opt })?;
        }
    }
    Ok(Outcome {
        stop,
        rows,
        params,
        vocab_size: data.vocab_size,
        steps,
        tokens_seen: steps * tokens_per_step,
        train_seconds: elapsed(),
        resumed_at: first_step,
        vs,
        model,
        device,
    })
}

pub(crate) fn to_tensor(ids: &[u32], device: Device) -> Tensor {
    let ids: Vec<i64> = ids.iter().map(|&i| i64::from(i)).collect();
    Tensor::from_slice(&ids).to(device)
}

/// A batch of `batch_size` random windows: inputs (B, T) and next-token targets (B, T).
pub(crate) fn batch(ids: &Tensor, batch_size: usize, block_size: usize, rng: &mut StdRng) -> (Tensor, Tensor) {
    let n = ids.size()[0] as usize;
    let max_start = n - block_size - 1; // TokenData::check_fits guarantees n > block_size
    let starts: Vec<i64> = (0..batch_size).map(|_| rng.random_range(0..=max_start) as i64).collect();
    let device = ids.device();
    let offsets = Tensor::arange(block_size as i64, (Kind::Int64, device)).unsqueeze(0);
    let idx = Tensor::from_slice(&starts).to(device).unsqueeze(1) + offsets;
    let flat = idx.view([-1]);
    let x = ids.index_select(0, &flat).view([batch_size as i64, block_size as i64]);
    let y = ids.index_select(0, &(flat + 1)).view([batch_size as i64, block_size as i64]);
    (x, y)
}

/// One optimizer step over grad_accum_steps micro-batches; returns the mean loss.
pub(crate) fn train_step(model: &Gpt, opt: &mut AdamW, lr: f64, ids: &Tensor, cfg: &RunConfig, rng: &mut StdRng) -> Result<f64, tch::TchError> {
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
fn estimate_loss(model: &Gpt, ids: &Tensor, cfg: &RunConfig, step: u64) -> Result<f64, TrainError> {
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
