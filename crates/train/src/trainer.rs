//! The training loop: AdamW with decoupled weight decay on matrices, warmup + cosine
//! learning rate, gradient accumulation and clipping, periodic train/val evaluation in
//! eval mode, and divergence detection. Reports through an `Observer`; writes no files.

use crate::error::TrainError;
use crate::model::{Gpt, DECAY_GROUP, NO_DECAY_GROUP};
use crate::schedule::{lr_at, Schedule};
use corpus::TokenData;
use rand::{rngs::StdRng, Rng, SeedableRng};
use std::time::Instant;
use sweep_config::{n_params, ParamCount, RunConfig};
use tch::{nn, nn::OptimizerConfig, Device, Kind, Tensor};

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

/// Receives progress while training runs.
pub trait Observer {
    fn on_eval(&mut self, row: &EvalRow);
    /// A human-readable progress line in nanoGPT's format.
    fn on_log(&mut self, _line: &str) {}
}

/// Why training ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Stop {
    Finished,
    /// The training loss became NaN or infinite at this step.
    Diverged { step: u64, loss: f64 },
}

pub struct Outcome {
    pub stop: Stop,
    pub rows: Vec<EvalRow>,
    pub params: ParamCount,
    pub vocab_size: usize,
    /// Optimizer steps taken.
    pub steps: u64,
    pub tokens_seen: u64,
    pub train_seconds: f64,
    pub vs: nn::VarStore,
    pub model: Gpt,
    pub device: Device,
}

/// Training steps between nanoGPT-style "iter" log lines.
const LOG_INTERVAL: u64 = 10;

/// Separates the batch streams of training and of evaluation so that every evaluation
/// of a run sees the same batches.
const EVAL_STREAM: u64 = 0x9E37_79B9_7F4A_7C15;

/// Trains a fresh model on `data` as `cfg` says.
pub fn train(cfg: &RunConfig, data: &TokenData, device: Device, observer: &mut dyn Observer) -> Result<Outcome, TrainError> {
    let problems = cfg.problems();
    if !problems.is_empty() {
        return Err(TrainError::Config(problems.join("; ")));
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
    observer.on_log(&format!("number of parameters: {:.2}M", params.without_position() as f64 / 1e6));

    let mut opt = nn::AdamW { beta1: t.beta1, beta2: t.beta2, wd: t.weight_decay, eps: 1e-8, amsgrad: false }
        .build(&vs, t.lr)
        .map_err(|e| TrainError::torch(0, e))?;
    opt.zero_grad(); // registers the variables, so the groups exist
    opt.set_weight_decay_group(DECAY_GROUP, t.weight_decay);
    opt.set_weight_decay_group(NO_DECAY_GROUP, 0.0);

    let train_ids = to_tensor(&data.train, device);
    let val_ids = to_tensor(&data.val, device);
    let schedule = Schedule::from_config(t);
    let tokens_per_step = t.tokens_per_step(m.block_size);
    observer.on_log(&format!("tokens per iteration will be: {tokens_per_step}"));

    let start = Instant::now();
    let mut rows = Vec::new();
    let mut stop = Stop::Finished;
    let mut steps = 0;
    let (mut last_log, mut last_logged_steps) = (Instant::now(), 0);
    for step in 0..=t.max_iters {
        let lr = lr_at(step, &schedule);
        if step % t.eval_interval == 0 || step == t.max_iters {
            let train_loss = estimate_loss(&model, &train_ids, cfg, step)?;
            let val_loss = estimate_loss(&model, &val_ids, cfg, step)?;
            let row = EvalRow { step, tokens_seen: step * tokens_per_step, lr, train_loss, val_loss, elapsed_s: start.elapsed().as_secs_f64() };
            observer.on_log(&format!("step {step}: train loss {train_loss:.4}, val loss {val_loss:.4}"));
            observer.on_eval(&row);
            rows.push(row);
        }
        if step == t.max_iters {
            break;
        }
        opt.set_lr(lr);
        let mut rng = StdRng::seed_from_u64(t.seed.wrapping_add(step));
        let loss = train_step(&model, &mut opt, &train_ids, cfg, &mut rng).map_err(|e| TrainError::torch(step, e))?;
        steps = step + 1;
        if step % LOG_INTERVAL == 0 || !loss.is_finite() {
            let ms = last_log.elapsed().as_secs_f64() * 1e3 / (steps - last_logged_steps) as f64;
            observer.on_log(&format!("iter {step}: loss {loss:.4}, time {ms:.2}ms"));
            (last_log, last_logged_steps) = (Instant::now(), steps);
        }
        if !loss.is_finite() {
            observer.on_log(&format!("loss is not finite at step {step}; stopping (diverged)"));
            stop = Stop::Diverged { step, loss };
            break;
        }
    }
    Ok(Outcome {
        stop,
        rows,
        params,
        vocab_size: data.vocab_size,
        steps,
        tokens_seen: steps * tokens_per_step,
        train_seconds: start.elapsed().as_secs_f64(),
        vs,
        model,
        device,
    })
}

fn to_tensor(ids: &[u32], device: Device) -> Tensor {
    let ids: Vec<i64> = ids.iter().map(|&i| i64::from(i)).collect();
    Tensor::from_slice(&ids).to(device)
}

/// A batch of `batch_size` random windows: inputs (B, T) and next-token targets (B, T).
fn batch(ids: &Tensor, batch_size: usize, block_size: usize, rng: &mut StdRng) -> (Tensor, Tensor) {
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
fn train_step(model: &Gpt, opt: &mut nn::Optimizer, ids: &Tensor, cfg: &RunConfig, rng: &mut StdRng) -> Result<f64, tch::TchError> {
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
    opt.step();
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
