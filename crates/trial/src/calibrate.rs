//! The plan's time estimate, measured on this machine: every distinct shape of run in the
//! plan is trained for a few steps here (`train::calibrate`), with the threads and the
//! number of simultaneous runs the sweep will use, and the start-up of a trial process is
//! timed; `sweep::plan::estimate` turns that into seconds per run. A shape that cannot be
//! timed here (too large to try in this process, a device that is missing) is estimated
//! from the FLOP rate of the shapes that were; its trial will say what is wrong with it.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};
use sweep::PlannedRun;
use sweep::plan::estimate::{self, Timing};
use sweep_config::{RunConfig, n_params};

/// Timing stops early for shapes slower than this (at least two steps are timed).
const BUDGET_PER_SHAPE: Duration = Duration::from_millis(300);

/// A shape is timed only if its training memory takes at most this share of the memory
/// available now: the sweep process must never be the one the out-of-memory killer picks.
const MAX_MEMORY_SHARE: f64 = 0.25;

/// Predicted seconds for each run, in the order given; None for every run when no shape
/// could be timed.
pub fn predict(runs: &[&PlannedRun], vocab_size: usize, jobs: usize, threads: usize) -> Vec<Option<f64>> {
    let mut shapes: Vec<(String, &RunConfig)> = Vec::new();
    for run in runs {
        let key = shape_key(&run.config);
        if !shapes.iter().any(|(k, _)| *k == key) {
            shapes.push((key, &run.config));
        }
    }
    let started = Instant::now();
    let trial_start_s = trial_start_seconds();
    train::set_threads(threads);
    // As many shapes at once as the sweep runs trials at once, so that they share the
    // machine as trials will (one intra-op thread each on a CPU; one at a time on a GPU).
    let parallel = if threads == 1 && !runs.iter().any(|r| on_gpu(&r.config)) { jobs.max(1) } else { 1 };
    let memory = sweep::output::disk::available_memory();
    let mut timings: HashMap<&str, Timing> = HashMap::new();
    for chunk in shapes.chunks(parallel) {
        let measured: Vec<Option<Timing>> = std::thread::scope(|s| {
            let handles: Vec<_> = chunk.iter().map(|(_, cfg)| s.spawn(move || time_one(cfg, vocab_size, trial_start_s, memory))).collect();
            handles.into_iter().map(|h| h.join().ok().flatten()).collect()
        });
        for ((key, _), timing) in chunk.iter().zip(measured) {
            if let Some(t) = timing {
                timings.insert(key.as_str(), t);
            }
        }
    }
    tracing::info!("timed {} of {} shapes in {:.1} s", timings.len(), shapes.len(), started.elapsed().as_secs_f64());

    let seconds: Vec<Option<f64>> = runs.iter().map(|r| timings.get(shape_key(&r.config).as_str()).map(|t| estimate::run_seconds(&r.config, t))).collect();
    // The shapes that could not be timed run at the median FLOP rate of those that were.
    let mut rates: Vec<f64> = runs.iter().zip(&seconds).filter_map(|(r, s)| Some(estimate::run_flops(&r.config, vocab_size) / (*s)?)).collect();
    rates.sort_by(f64::total_cmp);
    let Some(&median) = rates.get(rates.len() / 2) else { return vec![None; runs.len()] };
    runs.iter().zip(seconds).map(|(r, s)| Some(s.unwrap_or_else(|| estimate::run_flops(&r.config, vocab_size) / median + trial_start_s))).collect()
}

/// The shape's timing, or None when it is too large to try here or fails (its trial will
/// report why).
fn time_one(cfg: &RunConfig, vocab_size: usize, trial_start_s: f64, memory: Option<u64>) -> Option<Timing> {
    // Weights, gradients and AdamW moments, and the activations of one micro-batch (about
    // twenty floats per token and layer per unit of width, plus the logits).
    let (m, t) = (&cfg.model, &cfg.train);
    let activations = 4.0 * (t.batch_size * m.block_size) as f64 * (20.0 * (m.n_layers * m.embed_dim) as f64 + vocab_size as f64);
    let bytes = 16.0 * n_params(m, vocab_size).total as f64 + activations;
    if memory.is_none_or(|m| bytes > MAX_MEMORY_SHARE * m as f64) {
        return None;
    }
    let device = train::pick_device(&cfg.train.device).ok()?;
    let t = catch_unwind(AssertUnwindSafe(|| train::calibrate::time_shape(cfg, vocab_size, device, BUDGET_PER_SHAPE))).ok()?.ok()?;
    Some(Timing { step_s: t.step_s, eval_batch_s: t.eval_batch_s, sample_token_s: t.sample_token_s, trial_start_s })
}

fn on_gpu(cfg: &RunConfig) -> bool {
    train::pick_device(&cfg.train.device).is_ok_and(|d| d.is_cuda())
}

/// What the cost of a run depends on: its tensor shapes, whether dropout runs, the device.
fn shape_key(cfg: &RunConfig) -> String {
    let (m, t) = (&cfg.model, &cfg.train);
    format!(
        "{} {} {} {} {} {} {} {} {} {}",
        m.block_size,
        m.embed_dim,
        m.n_layers,
        m.n_heads,
        m.hidden_dim(),
        m.bias,
        m.dropout > 0.0,
        t.batch_size,
        t.grad_accum_steps,
        t.device
    )
}

/// Seconds to start a trial process and load libtorch, timed on `sweep --version`.
fn trial_start_seconds() -> f64 {
    let Ok(exe) = std::env::current_exe() else { return 0.0 };
    let start = Instant::now();
    let ok = std::process::Command::new(exe).arg("--version").stdout(std::process::Stdio::null()).status().is_ok_and(|s| s.success());
    if ok { start.elapsed().as_secs_f64() } else { 0.0 }
}
