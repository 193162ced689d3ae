//! The spec's `stop: {patience_runs: K, min_delta: d}` for random and TPE sweeps, and its
//! decision, pure: a search stops proposing once K runs have finished since the best val
//! loss last improved by more than the threshold (the seed-to-seed spread when the sweep
//! measured one, else `min_delta`), as Ray Tune's plateau stopper and Optuna's Terminator
//! stop a search that no longer pays. `exec::scheduler` applies it.

use serde::{Deserialize, Serialize};

/// `stop:` as written in the spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct StopRule {
    /// Finished runs without an improvement after which the search stops proposing.
    pub patience_runs: usize,
    /// The improvement that counts when the sweep has no seed-to-seed spread to go by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_delta: Option<f64>,
}

/// Why a search stopped proposing.
#[derive(Debug, Clone, PartialEq)]
pub struct Stopped {
    /// Finished runs when it stopped.
    pub after: usize,
    /// The best val loss and the run that reached it.
    pub best: f64,
    pub best_run: String,
    /// The improvement that would have counted, and where it came from.
    pub threshold: f64,
    pub threshold_from: &'static str,
    /// Finished runs since the best.
    pub since: usize,
}

impl StopRule {
    /// The threshold: the measured seed-to-seed spread, else min_delta, else 0.
    pub fn threshold(&self, seed_spread: Option<f64>) -> (f64, &'static str) {
        match (seed_spread, self.min_delta) {
            (Some(sd), _) => (sd, "the seed-to-seed spread"),
            (None, Some(d)) => (d, "min_delta"),
            (None, None) => (0.0, "no seed-to-seed spread measured yet and no min_delta"),
        }
    }

    /// Whether to stop, given the finished runs' (id, best val loss) in the order they
    /// finished (failed runs left out; a diverged one as infinity).
    pub fn decide(&self, finished: &[(String, f64)], seed_spread: Option<f64>) -> Option<Stopped> {
        let (threshold, from) = self.threshold(seed_spread);
        let mut best: Option<(usize, f64)> = None;
        for (i, (_, loss)) in finished.iter().enumerate() {
            // An improvement counts when it beats the best by more than the threshold.
            match best {
                None if loss.is_finite() => best = Some((i, *loss)),
                Some((_, b)) if *loss < b - threshold => best = Some((i, *loss)),
                _ => {}
            }
        }
        let (at, loss) = best?;
        let since = finished.len() - 1 - at;
        (since >= self.patience_runs).then(|| Stopped {
            after: finished.len(),
            best: loss,
            best_run: finished[at].0.clone(),
            threshold,
            threshold_from: from,
            since,
        })
    }
}

impl Stopped {
    /// The last line of `sweep run` when the rule stopped the search, with the runs the
    /// sweep trained in all (those already training when it stopped finish).
    pub fn line(&self, patience: usize, trained: usize, n_runs: usize) -> String {
        let finishing = trained.saturating_sub(self.after);
        format!(
            "stopped proposing after {} finished run(s): the best val loss {:.4} ({}) has not improved by more than {:.4} ({}) in the {} run(s) since (stop.patience_runs {patience}); {trained} trained{}, {} of n_runs {n_runs} not trained",
            self.after,
            self.best,
            self.best_run,
            self.threshold,
            self.threshold_from,
            self.since,
            if finishing > 0 { format!(" ({finishing} of them already training when it stopped)") } else { String::new() },
            n_runs.saturating_sub(trained)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(losses: &[f64]) -> Vec<(String, f64)> {
        losses.iter().enumerate().map(|(i, l)| (format!("r{i}"), *l)).collect()
    }

    #[test]
    fn stops_after_patience_runs_without_an_improvement_beyond_the_threshold() {
        let rule = StopRule { patience_runs: 3, min_delta: Some(0.05) };
        // 2.0 is best at run 2; 1.98 and 1.97 are within 0.05 of it: no improvement.
        let l = [3.0, 2.5, 2.0, 1.98, 2.2];
        assert_eq!(rule.decide(&runs(&l), None), None, "two runs since the best");
        let stopped = rule.decide(&runs(&[3.0, 2.5, 2.0, 1.98, 2.2, 1.97]), None).unwrap();
        assert_eq!((stopped.after, stopped.best, stopped.best_run.as_str(), stopped.threshold_from), (6, 2.0, "r2", "min_delta"));
        // The seed-to-seed spread, when measured, is the threshold instead.
        assert_eq!(rule.decide(&runs(&[3.0, 2.5, 2.0, 1.98, 2.2, 1.97]), Some(0.01)), None, "1.98 beats 2.0 by more than 0.01");
        // A diverged run is never the best.
        assert_eq!(rule.decide(&runs(&[f64::INFINITY, f64::INFINITY, f64::INFINITY, f64::INFINITY]), None), None);
        let line = stopped.line(3, 7, 40);
        assert!(
            line.contains("in the 3 run(s) since (stop.patience_runs 3); 7 trained (1 of them already training when it stopped), 33 of n_runs 40 not trained"),
            "{line}"
        );
    }
}
