//! Timing a few training steps of a run's shape on this machine, so that the plan's time
//! estimate comes from what this machine does rather than an assumed FLOP rate. Runs the
//! same model, optimizer step, evaluation batch and sampling step as a real trial, on
//! random tokens; nothing is saved.

use crate::error::TrainError;
use crate::member::{self, Member};
use crate::trainer::{batch, train_step};
use rand::{Rng, SeedableRng, rngs::StdRng};
use std::time::{Duration, Instant};
use sweep_config::RunConfig;
use tch::Device;

/// Seconds per unit of work for one shape of run, measured here.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShapeTiming {
    /// One optimizer step (all its micro-batches, clipping and AdamW).
    pub step_s: f64,
    /// One evaluation batch (forward only, dropout off).
    pub eval_batch_s: f64,
    /// One generated token (a forward pass over up to block_size tokens of one sequence).
    pub sample_token_s: f64,
}

/// Steps run before timing: the first ones allocate and warm caches.
const WARMUP_STEPS: usize = 3;
/// Timing stops after this many steps, or earlier once `budget` has passed (at least
/// `MIN_TIMED_STEPS`).
const MIN_TIMED_STEPS: usize = 3;
const MAX_TIMED_STEPS: usize = 10;

/// Times `cfg`'s shape: a fresh model of that shape, trained for a few steps on random
/// tokens of `vocab_size`, with the intra-op threads the caller has set.
pub fn time_shape(cfg: &RunConfig, vocab_size: usize, device: Device, budget: Duration) -> Result<ShapeTiming, TrainError> {
    let (m, t) = (&cfg.model, &cfg.train);
    let Member { model, mut opt, .. } = member::build(cfg, vocab_size, device, None)?;
    let mut rng = StdRng::seed_from_u64(t.seed);
    let n_tokens = (4 * m.block_size * t.batch_size).max(4 * (m.block_size + 1));
    let ids: Vec<u32> = (0..n_tokens).map(|_| rng.random_range(0..vocab_size as u32)).collect();
    let range = corpus::TokenRange::from_vec(ids);
    let ids = crate::trainer::Tokens { range: &range, device };
    let torch = |e| TrainError::torch(0, e);

    for _ in 0..WARMUP_STEPS {
        train_step(&model, &mut opt, t.lr, &ids, cfg, &mut rng).map_err(torch)?;
    }
    // The median step: robust to a step slowed by something else on the machine.
    let start = Instant::now();
    let mut times = Vec::new();
    while times.len() < MIN_TIMED_STEPS || (times.len() < MAX_TIMED_STEPS && start.elapsed() < budget) {
        let t0 = Instant::now();
        train_step(&model, &mut opt, t.lr, &ids, cfg, &mut rng).map_err(torch)?;
        times.push(t0.elapsed().as_secs_f64());
    }
    let step_s = median(&mut times);

    let _guard = tch::no_grad_guard();
    let time = |f: &mut dyn FnMut() -> Result<(), TrainError>| -> Result<f64, TrainError> {
        f()?;
        let mut times = Vec::new();
        for _ in 0..5 {
            let t0 = Instant::now();
            f()?;
            times.push(t0.elapsed().as_secs_f64());
        }
        Ok(median(&mut times))
    };
    let eval_batch_s = time(&mut || {
        let (x, y) = batch(&ids, t.batch_size, m.block_size, &mut rng);
        f64::try_from(&model.loss(&x, &y, false)).map(|_| ()).map_err(torch)
    })?;
    // Generation at full context, as most of a sample's tokens are.
    let prompt: Vec<u32> = (0..m.block_size).map(|i| (i % vocab_size) as u32).collect();
    const SAMPLE_TOKENS: usize = 4;
    let sample_token_s = time(&mut || {
        crate::sample::generate(&model, &prompt, SAMPLE_TOKENS, 1.0, Some(40), device);
        Ok(())
    })? / SAMPLE_TOKENS as f64;
    Ok(ShapeTiming { step_s, eval_batch_s, sample_token_s })
}

fn median(times: &mut [f64]) -> f64 {
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}
