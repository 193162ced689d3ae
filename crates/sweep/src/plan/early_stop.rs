//! `early_stop:` as written in the spec: the method (ASHA or median), its first step, its
//! reduction factor or quorum, the order decisions follow (plan or arrival), the noise the
//! report judges close calls by, and the steps at which a run is compared (its rungs) and
//! is expected to train. Which runs stop is `prune`'s decision; `exec::rung_watch` applies it.

use serde::{Deserialize, Serialize};

/// `early_stop:` as written in the spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EarlyStop {
    #[serde(default)]
    pub method: PruneMethod,
    /// The first step at which runs are compared (ASHA's first rung).
    pub min_steps: u64,
    /// ASHA: keep the best 1/reduction_factor at each rung; rungs are min_steps·factor^k.
    #[serde(default = "three")]
    pub reduction_factor: u64,
    /// Median: runs that must have reached a step before any run is pruned there.
    #[serde(default = "five")]
    pub min_runs: usize,
    /// Which runs a decision compares with: those before it in plan order (the same
    /// decisions on any machine and with any --jobs), or those that happened to arrive first.
    #[serde(default)]
    pub order: Order,
    /// The val-loss difference that is within seed-to-seed noise, for the report's list of
    /// pruned runs that may have been the best, when the sweep does not repeat seeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise: Option<f64>,
}

/// Against which runs a run is compared at a rung.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    /// Against exactly the runs before it in plan order (grid order, the order of random
    /// draws, TPE's proposal index): a run that reaches a rung before them waits there until
    /// they have reported at it or left the sweep. Reproducible; costs the waiting.
    #[default]
    Plan,
    /// Against whichever runs reached the rung before it (asynchronous ASHA, as Ray Tune's
    /// and Optuna's): no waiting, but the decisions depend on the machine's timing.
    Arrival,
}

impl Default for EarlyStop {
    fn default() -> Self {
        EarlyStop { method: PruneMethod::Asha, min_steps: 0, reduction_factor: 3, min_runs: 5, order: Order::Plan, noise: None }
    }
}

fn three() -> u64 {
    3
}
fn five() -> usize {
    5
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PruneMethod {
    #[default]
    Asha,
    Median,
}

impl EarlyStop {
    /// ASHA's rungs below `max_iters` (a run is never compared at its last step).
    pub fn rungs(&self, max_iters: u64) -> Vec<u64> {
        let mut rungs = Vec::new();
        let mut step = self.min_steps;
        while step > 0 && step < max_iters {
            rungs.push(step);
            step = step.saturating_mul(self.reduction_factor.max(2));
        }
        rungs
    }

    /// The steps at which a run with these settings is compared with the others.
    pub fn decision_steps(&self, max_iters: u64, eval_interval: u64) -> Vec<u64> {
        match self.method {
            PruneMethod::Asha => self.rungs(max_iters),
            PruneMethod::Median if eval_interval == 0 => Vec::new(),
            PruneMethod::Median => (self.min_steps.next_multiple_of(eval_interval)..max_iters).step_by(eval_interval as usize).collect(),
        }
    }

    /// The steps one run is expected to train if each decision keeps the share it aims
    /// for: ASHA 1/η at each rung; median half at the first step, none later (a rough
    /// lower figure: runs that beat the median early mostly keep beating it).
    pub fn expected_steps(&self, max_iters: u64, eval_interval: u64) -> f64 {
        let steps = self.decision_steps(max_iters, eval_interval);
        let Some(&first) = steps.first() else { return max_iters as f64 };
        match self.method {
            PruneMethod::Asha => {
                let eta = self.reduction_factor.max(2) as f64;
                let mut bounds = steps.clone();
                bounds.push(max_iters);
                let mut total = first as f64;
                for (k, pair) in bounds.windows(2).enumerate() {
                    total += (pair[1] - pair[0]) as f64 / eta.powi(k as i32 + 1);
                }
                total
            }
            PruneMethod::Median => first as f64 + (max_iters - first) as f64 / 2.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asha(min_steps: u64, eta: u64) -> EarlyStop {
        EarlyStop { min_steps, reduction_factor: eta, ..EarlyStop::default() }
    }

    #[test]
    fn rungs_and_expected_steps() {
        assert_eq!(asha(50, 3).rungs(250), [50, 150]);
        assert_eq!(asha(50, 2).rungs(250), [50, 100, 200]);
        assert_eq!(asha(300, 3).rungs(250), Vec::<u64>::new());
        // All train 50; 1/3 go on to 150 (100 more); 1/9 to 250.
        assert!((asha(50, 3).expected_steps(250, 50) - (50.0 + 100.0 / 3.0 + 100.0 / 9.0)).abs() < 1e-9);
        let median = EarlyStop { method: PruneMethod::Median, ..asha(100, 3) };
        assert_eq!(median.decision_steps(250, 50), [100, 150, 200]);
        assert_eq!(median.expected_steps(250, 50), 175.0);
    }
}
