//! What a plan will cost in time: each run's seconds from timings measured on this machine
//! for its shape (see `train::calibrate`), and the sweep's wall time when `jobs` runs share
//! the machine, started in the order given (the scheduler's: longest first, or plan order).

use sweep_config::{RunConfig, flops_per_token};

/// Seconds per unit of work for one shape of run, measured on this machine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    /// One optimizer step.
    pub step_s: f64,
    /// One evaluation batch.
    pub eval_batch_s: f64,
    /// One generated sample token.
    pub sample_token_s: f64,
    /// Everything in a trial that is not steps, evaluations or sampling: process start,
    /// loading libtorch and the corpus, writing the checkpoint, plot and summary.
    pub trial_start_s: f64,
}

/// Tokens generated at the end of a run.
pub fn n_sample_tokens(cfg: &RunConfig) -> u64 {
    (cfg.sample.prompts.len() * cfg.sample.max_new_tokens) as u64
}

/// FLOPs of a whole run (nanoGPT's 6N-plus-attention per token): training steps, forward
/// and backward, and evaluations, forward only (a third of the cost per token).
pub fn run_flops(cfg: &RunConfig, vocab_size: usize) -> f64 {
    let (m, t) = (&cfg.model, &cfg.train);
    let train_tokens = (t.max_iters * t.tokens_per_step(m.block_size)) as f64;
    let eval_tokens = (cfg.train.n_evals() * 2 * t.eval_iters) as f64 * (t.batch_size * m.block_size) as f64;
    flops_per_token(m, vocab_size) * (train_tokens + eval_tokens / 3.0)
}

/// Predicted seconds of one trial of `cfg` with these timings.
pub fn run_seconds(cfg: &RunConfig, t: &Timing) -> f64 {
    let steps = cfg.train.max_iters as f64 * t.step_s;
    let evals = (cfg.train.n_evals() * 2 * cfg.train.eval_iters) as f64 * t.eval_batch_s;
    let samples = n_sample_tokens(cfg) as f64 * t.sample_token_s;
    steps + evals + samples + t.trial_start_s
}

/// Wall time of runs taking `seconds` each, started in this order on `jobs` workers, each
/// run going to the first worker that is free (the scheduler's order).
pub fn makespan(seconds: &[f64], jobs: usize) -> f64 {
    makespan_after(&[], seconds, jobs)
}

/// The same, when some workers are still busy for `busy` seconds each.
pub fn makespan_after(busy: &[f64], seconds: &[f64], jobs: usize) -> f64 {
    let mut free_at = vec![0.0_f64; jobs.max(busy.len()).max(1)];
    free_at[..busy.len()].copy_from_slice(busy);
    for s in seconds {
        let first = free_at.iter_mut().min_by(|a, b| a.total_cmp(b)).expect("at least one worker");
        *first += s;
    }
    free_at.into_iter().fold(0.0, f64::max)
}

/// "about 40 s", "about 7 min 05 s", "about 2 h 03 min", "under a second": a duration
/// to plan by.
pub fn human(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match s {
        0 => "under a second".to_string(),
        1..60 => format!("about {s} s"),
        60..3600 => format!("about {} min {:02} s", s / 60, s % 60),
        _ => format!("about {} h {:02} min", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_seconds_adds_every_part() {
        let mut c = RunConfig::with_data("x");
        (c.train.max_iters, c.train.eval_interval, c.train.eval_iters) = (100, 50, 4);
        (c.sample.prompts, c.sample.max_new_tokens) = (vec!["a".into(), "b".into()], 10);
        let t = Timing { step_s: 0.01, eval_batch_s: 0.002, sample_token_s: 0.001, trial_start_s: 0.5 };
        // 100 steps + 3 evals × 2 splits × 4 batches + 20 tokens + start
        let want = 1.0 + 24.0 * 0.002 + 0.02 + 0.5;
        assert!((run_seconds(&c, &t) - want).abs() < 1e-12);
    }

    #[test]
    fn makespan_follows_the_scheduler_order() {
        assert_eq!(makespan(&[4.0, 1.0, 1.0, 1.0], 2), 4.0);
        assert_eq!(makespan(&[1.0, 1.0, 1.0, 4.0], 2), 5.0);
        assert_eq!(makespan(&[2.0, 3.0], 1), 5.0);
        assert_eq!(makespan(&[], 2), 0.0);
        assert_eq!(makespan_after(&[3.0], &[1.0, 1.0], 2), 3.0);
    }

    #[test]
    fn durations_read_as_a_person_says_them() {
        assert_eq!(human(0.2), "under a second");
        assert_eq!(human(40.4), "about 40 s");
        assert_eq!(human(425.0), "about 7 min 05 s");
        assert_eq!(human(7380.0), "about 2 h 03 min");
    }
}
