//! What early termination saved in a sweep: the steps pruned runs did not train, and the
//! time those steps would have taken at each run's own speed.

use crate::output::summary::{Status, Summary};
use crate::plan::estimate;

#[derive(Debug, Clone, PartialEq)]
pub struct Savings {
    pub pruned: usize,
    /// Steps every run trained (or is training), and would have trained without pruning.
    pub steps_trained: u64,
    pub steps_full: u64,
    /// Seconds the pruned runs' remaining steps would have taken.
    pub seconds_saved: f64,
}

/// None when no run was pruned.
pub fn savings(runs: &[Summary]) -> Option<Savings> {
    let mut s = Savings { pruned: 0, steps_trained: 0, steps_full: 0, seconds_saved: 0.0 };
    for run in runs {
        let steps = run.steps.unwrap_or(0);
        s.steps_trained += steps;
        match (&run.pruned, run.status) {
            (Some(p), Status::Pruned) => {
                s.pruned += 1;
                let left = p.max_iters.saturating_sub(steps);
                s.steps_full += p.max_iters.max(steps);
                if steps > 0 {
                    s.seconds_saved += left as f64 * run.wall_seconds / steps as f64;
                }
            }
            _ => s.steps_full += steps,
        }
    }
    (s.pruned > 0).then_some(s)
}

impl Savings {
    /// "early termination pruned 41 of 64 runs: 6250 of 16000 steps trained (61% saved), about 4 min 10 s of run time saved (summed over runs)"
    pub fn line(&self, runs: usize) -> String {
        let saved = self.steps_full - self.steps_trained.min(self.steps_full);
        format!(
            "early termination pruned {} of {runs} runs: {} of {} steps trained ({:.0}% saved), {} of run time saved (summed over runs)",
            self.pruned,
            self.steps_trained,
            self.steps_full,
            100.0 * saved as f64 / self.steps_full.max(1) as f64,
            estimate::human(self.seconds_saved)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::summary::Pruned;

    #[test]
    fn counts_the_steps_and_time_pruned_runs_did_not_train() {
        let mut done = Summary::failed("a", Default::default(), 10.0, String::new());
        (done.status, done.steps) = (Status::Done, Some(100));
        let mut pruned = Summary::failed("b", Default::default(), 3.0, String::new());
        (pruned.status, pruned.steps) = (Status::Pruned, Some(30));
        pruned.pruned = Some(Pruned { at_step: 25, max_iters: 100, rule: String::new() });
        assert_eq!(savings(std::slice::from_ref(&done)), None);
        let s = savings(&[done, pruned]).unwrap();
        assert_eq!((s.pruned, s.steps_trained, s.steps_full), (1, 130, 200));
        assert!((s.seconds_saved - 7.0).abs() < 1e-9);
        assert!(s.line(2).starts_with("early termination pruned 1 of 2 runs: 130 of 200 steps trained (35% saved)"), "{}", s.line(2));
    }
}
