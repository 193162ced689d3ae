//! Early termination: which running runs are clearly losing and should stop. `early_stop:`
//! in the spec picks asynchronous successive halving (`asha`: at rungs min_steps·η^k a run
//! goes on only if its val loss is in the best 1/η of the runs that reached that step) or
//! median pruning (`median`: from min_steps on, at every evaluation, a run stops if its val
//! loss is worse than the median of the others' at the same step). Runs are only ever
//! compared at equal steps. Every decision is appended to `early_stop.jsonl` in the sweep
//! folder (`log`), so that a user can see why a run stopped and a resumed sweep never
//! decides the same step twice. The scheduler applies the decisions (`exec::pruner`).

pub mod log;

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

/// Continue or stop, at one step of one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Continue,
    Prune,
    /// Not a comparison: the user continued this pruned run with --resume-pruned.
    Resume,
}

/// One comparison of a run with the others at the same step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub run: String,
    pub step: u64,
    /// This run's val loss at `step`; None when it was NaN or infinite (JSON has no such
    /// numbers), which counts as the worst.
    pub val_loss: Option<f64>,
    pub verdict: Verdict,
    /// Why, in words: "best 2 of 7 at step 100 go on (cutoff 2.3012); this run 2.4500".
    pub rule: String,
    /// The val loss to beat (ASHA's cutoff, the median), when there was one.
    pub cutoff: Option<f64>,
    /// The other runs' val loss at this step, as the decision saw them.
    pub compared_with: Vec<(String, Option<f64>)>,
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

    /// Compares `value`, this run's val loss at `step`, with `others` (the val loss of every
    /// other run that reached `step`). A NaN or infinite loss counts as the worst.
    pub fn decide(&self, run: &str, step: u64, value: f64, others: &[(String, f64)]) -> Decision {
        let worst = |x: f64| if x.is_finite() { x } else { f64::INFINITY };
        let (verdict, cutoff, rule) = match self.method {
            PruneMethod::Asha => {
                let mut all: Vec<f64> = others.iter().map(|(_, v)| worst(*v)).chain([worst(value)]).collect();
                all.sort_by(f64::total_cmp);
                let keep = (all.len() / self.reduction_factor.max(2) as usize).max(1);
                let cutoff = all[keep - 1];
                let verdict = if worst(value) <= cutoff { Verdict::Continue } else { Verdict::Prune };
                let rule = format!(
                    "asha rung {step}: the best {keep} of {} at step {step} go on (1 in {}; cutoff {cutoff:.4}); this run {value:.4}",
                    runs(all.len()),
                    self.reduction_factor
                );
                (verdict, Some(cutoff), rule)
            }
            PruneMethod::Median if others.len() < self.min_runs => {
                let rule = format!("median at step {step}: {} other run(s) reached it, fewer than min_runs {}; goes on", others.len(), self.min_runs);
                (Verdict::Continue, None, rule)
            }
            PruneMethod::Median => {
                let mut all: Vec<f64> = others.iter().map(|(_, v)| worst(*v)).collect();
                all.sort_by(f64::total_cmp);
                let n = all.len();
                let median = if n % 2 == 1 { all[n / 2] } else { (all[n / 2 - 1] + all[n / 2]) / 2.0 };
                let verdict = if worst(value) <= median { Verdict::Continue } else { Verdict::Prune };
                let rule = format!("median at step {step}: median of {n} other runs {median:.4}; this run {value:.4}");
                (verdict, Some(median), rule)
            }
        };
        let finite = |x: f64| x.is_finite().then_some(x);
        Decision {
            run: run.to_string(),
            step,
            val_loss: finite(value),
            verdict,
            rule,
            cutoff: cutoff.and_then(finite),
            compared_with: others.iter().map(|(r, v)| (r.clone(), finite(*v))).collect(),
        }
    }
}

/// "1 run", "7 runs".
fn runs(n: usize) -> String {
    if n == 1 { "1 run".into() } else { format!("{n} runs") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asha(min_steps: u64, eta: u64) -> EarlyStop {
        EarlyStop { method: PruneMethod::Asha, min_steps, reduction_factor: eta, min_runs: 5 }
    }

    fn others(values: &[f64]) -> Vec<(String, f64)> {
        values.iter().enumerate().map(|(i, v)| (format!("r{i}"), *v)).collect()
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

    #[test]
    fn asha_keeps_the_best_share_of_those_that_arrived() {
        let a = asha(50, 3);
        // The first run at a rung always goes on.
        assert_eq!(a.decide("x", 50, 9.0, &[]).verdict, Verdict::Continue);
        // With fewer than η·2 runs only the best goes on.
        assert_eq!(a.decide("x", 50, 2.0, &others(&[1.0])).verdict, Verdict::Prune);
        assert_eq!(a.decide("x", 50, 1.0, &others(&[2.0, 3.0])).verdict, Verdict::Continue);
        // 6 runs: the best 2 go on.
        let d = a.decide("x", 50, 1.5, &others(&[1.0, 2.0, 3.0, 4.0, 5.0]));
        assert_eq!((d.verdict, d.cutoff), (Verdict::Continue, Some(1.5)));
        assert_eq!(a.decide("x", 50, 2.5, &others(&[1.0, 2.0, 3.0, 4.0, 5.0])).verdict, Verdict::Prune);
        // A diverged run counts as the worst.
        assert_eq!(a.decide("x", 50, f64::NAN, &others(&[5.0, 6.0])).verdict, Verdict::Prune);
        assert_eq!(a.decide("x", 50, 9.0, &others(&[f64::NAN, f64::INFINITY])).verdict, Verdict::Continue);
    }

    #[test]
    fn median_waits_for_min_runs_then_prunes_above_the_median() {
        let m = EarlyStop { method: PruneMethod::Median, min_steps: 50, reduction_factor: 3, min_runs: 3 };
        assert_eq!(m.decide("x", 50, 9.0, &others(&[1.0, 2.0])).verdict, Verdict::Continue);
        let d = m.decide("x", 50, 2.6, &others(&[1.0, 2.0, 3.0, 4.0]));
        assert_eq!((d.verdict, d.cutoff), (Verdict::Prune, Some(2.5)));
        assert_eq!(m.decide("x", 50, 2.5, &others(&[1.0, 2.0, 3.0, 4.0])).verdict, Verdict::Continue);
    }
}
