//! Early termination: which running runs are clearly losing and should stop. `early_stop:`
//! in the spec picks asynchronous successive halving (`asha`: at rungs min_steps·η^k a run
//! goes on only if its val loss is in the best 1/η of the runs that reached that step) or
//! median pruning (`median`: from min_steps on, at every evaluation, a run stops if its val
//! loss is worse than the median of the others' at the same step). Runs are only ever
//! compared at equal steps. Every decision is appended to `early_stop.jsonl` in the sweep
//! folder (`log`), so that a user can see why a run stopped and a resumed sweep never
//! decides the same step twice. The spec's section is `plan::early_stop`; the scheduler
//! applies the decisions (`exec::rung_watch`).

pub mod log;

pub use crate::plan::early_stop::{EarlyStop, Order, PruneMethod};
use serde::{Deserialize, Serialize};

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

/// The policy: compares `value`, this run's val loss at `step`, with `others` (the val loss of every
/// other run that reached `step`). A NaN or infinite loss counts as the worst.
pub fn decide(es: &EarlyStop, run: &str, step: u64, value: f64, others: &[(String, f64)]) -> Decision {
    let worst = |x: f64| if x.is_finite() { x } else { f64::INFINITY };
    let (verdict, cutoff, rule) = match es.method {
        PruneMethod::Asha => {
            let mut all: Vec<f64> = others.iter().map(|(_, v)| worst(*v)).chain([worst(value)]).collect();
            all.sort_by(f64::total_cmp);
            let keep = (all.len() / es.reduction_factor.max(2) as usize).max(1);
            let cutoff = all[keep - 1];
            let verdict = if worst(value) <= cutoff { Verdict::Continue } else { Verdict::Prune };
            let rule = format!(
                "asha rung {step}: the best {keep} of {} at step {step} go on (1 in {}; cutoff {cutoff:.4}); this run {value:.4}",
                runs(all.len()),
                es.reduction_factor
            );
            (verdict, Some(cutoff), rule)
        }
        PruneMethod::Median if others.len() < es.min_runs => {
            let rule = format!("median at step {step}: {} other run(s) reached it, fewer than min_runs {}; goes on", others.len(), es.min_runs);
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

/// "1 run", "7 runs".
fn runs(n: usize) -> String {
    if n == 1 { "1 run".into() } else { format!("{n} runs") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asha(min_steps: u64, eta: u64) -> EarlyStop {
        EarlyStop { min_steps, reduction_factor: eta, ..EarlyStop::default() }
    }

    fn others(values: &[f64]) -> Vec<(String, f64)> {
        values.iter().enumerate().map(|(i, v)| (format!("r{i}"), *v)).collect()
    }

    #[test]
    fn asha_keeps_the_best_share_of_those_that_arrived() {
        let a = asha(50, 3);
        // The first run at a rung always goes on.
        assert_eq!(decide(&a, "x", 50, 9.0, &[]).verdict, Verdict::Continue);
        // With fewer than η·2 runs only the best goes on.
        assert_eq!(decide(&a, "x", 50, 2.0, &others(&[1.0])).verdict, Verdict::Prune);
        assert_eq!(decide(&a, "x", 50, 1.0, &others(&[2.0, 3.0])).verdict, Verdict::Continue);
        // 6 runs: the best 2 go on.
        let d = decide(&a, "x", 50, 1.5, &others(&[1.0, 2.0, 3.0, 4.0, 5.0]));
        assert_eq!((d.verdict, d.cutoff), (Verdict::Continue, Some(1.5)));
        assert_eq!(decide(&a, "x", 50, 2.5, &others(&[1.0, 2.0, 3.0, 4.0, 5.0])).verdict, Verdict::Prune);
        // A diverged run counts as the worst.
        assert_eq!(decide(&a, "x", 50, f64::NAN, &others(&[5.0, 6.0])).verdict, Verdict::Prune);
        assert_eq!(decide(&a, "x", 50, 9.0, &others(&[f64::NAN, f64::INFINITY])).verdict, Verdict::Continue);
    }

    #[test]
    fn median_waits_for_min_runs_then_prunes_above_the_median() {
        let m = EarlyStop { method: PruneMethod::Median, min_steps: 50, min_runs: 3, ..EarlyStop::default() };
        assert_eq!(decide(&m, "x", 50, 9.0, &others(&[1.0, 2.0])).verdict, Verdict::Continue);
        let d = decide(&m, "x", 50, 2.6, &others(&[1.0, 2.0, 3.0, 4.0]));
        assert_eq!((d.verdict, d.cutoff), (Verdict::Prune, Some(2.5)));
        assert_eq!(decide(&m, "x", 50, 2.5, &others(&[1.0, 2.0, 3.0, 4.0])).verdict, Verdict::Continue);
    }
}
