//! The learning-rate schedule: linear warmup, then cosine decay to min_lr (nanoGPT's get_lr).
//! Shared by training and by diagnosis (which recomputes lr at a plateau).

use crate::TrainConfig;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    pub lr: f64,
    pub min_lr: f64,
    pub warmup_iters: u64,
    pub lr_decay_iters: u64,
}

impl Schedule {
    pub fn from_config(t: &TrainConfig) -> Self {
        Schedule { lr: t.lr, min_lr: t.min_lr(), warmup_iters: t.warmup_iters, lr_decay_iters: t.lr_decay_iters() }
    }
}

impl Schedule {
    /// Learning rate for optimizer step `step` (0-based).
    pub fn lr_at(&self, step: u64) -> f64 {
        lr_at(step, self)
    }
}

/// Learning rate for optimizer step `step` (0-based).
pub fn lr_at(step: u64, s: &Schedule) -> f64 {
    // 1) Linear warmup for warmup_iters steps.
    if step < s.warmup_iters {
        return s.lr * (step + 1) as f64 / (s.warmup_iters + 1) as f64;
    }
    // 2) Past the end of decay: hold min_lr.
    if step >= s.lr_decay_iters {
        return s.min_lr;
    }
    // 3) In between: cosine from lr down to min_lr.
    let ratio = (step - s.warmup_iters) as f64 / (s.lr_decay_iters - s.warmup_iters) as f64;
    let coeff = 0.5 * (1.0 + (std::f64::consts::PI * ratio).cos());
    s.min_lr + coeff * (s.lr - s.min_lr)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Schedule = Schedule { lr: 1e-3, min_lr: 1e-4, warmup_iters: 100, lr_decay_iters: 1100 };

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn warmup_is_linear_and_ends_at_peak() {
        assert!(close(lr_at(0, &S), 1e-3 / 101.0));
        assert!(close(lr_at(49, &S), 1e-3 * 50.0 / 101.0));
        // First step after warmup is the top of the cosine: exactly lr.
        assert!(close(lr_at(100, &S), 1e-3));
    }

    #[test]
    fn cosine_midpoint_is_halfway_between_lr_and_min_lr() {
        assert!(close(lr_at(600, &S), (1e-3 + 1e-4) / 2.0));
        assert!(lr_at(300, &S) > lr_at(600, &S) && lr_at(600, &S) > lr_at(900, &S));
    }

    #[test]
    fn ends_at_min_lr_and_stays_there() {
        assert!(close(lr_at(1100, &S), 1e-4));
        assert!(close(lr_at(5000, &S), 1e-4));
        assert!(lr_at(1099, &S) > 1e-4);
    }

    #[test]
    fn no_decay_window_gives_min_lr_after_warmup() {
        let s = Schedule { lr_decay_iters: 100, ..S };
        assert!(close(lr_at(100, &s), 1e-4));
    }
}
