//! What early termination may have cost: the pruned runs that may have been the best. A
//! pruned run is a close call when its val loss at the step that stopped it was within the
//! seed-to-seed spread of a run kept at that step (the spread measured when seeds repeat,
//! otherwise `early_stop.noise` from the spec, otherwise 1% of the loss): another seed could
//! have swapped the two. `sweep run SPEC --resume-pruned` finishes them.

use crate::output::loss_csv::{self, LossRow};
use crate::output::run_dir::RunDir;
use crate::output::summary::{Status, Summary};
use crate::plan::spec::Spec;
use crate::report::stats;
use std::collections::HashMap;
use std::path::Path;

/// Where the spread a close call is judged by comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Spread {
    /// The pooled seed-to-seed standard deviation of the sweep's repeated seeds.
    Seeds(f64),
    /// `early_stop.noise` in the spec.
    Spec(f64),
    /// No repeats and no `noise:`: 1% of the pruned run's val loss.
    OnePercent,
}

impl Spread {
    fn of(self, val_loss: f64) -> f64 {
        match self {
            Spread::Seeds(x) | Spread::Spec(x) => x,
            Spread::OnePercent => 0.01 * val_loss.abs(),
        }
    }

    fn words(self) -> String {
        match self {
            Spread::Seeds(x) => format!("{x:.4}, the seed-to-seed spread measured where seeds repeat"),
            Spread::Spec(x) => format!("{x:.4}, early_stop.noise in the spec"),
            Spread::OnePercent => "1% of the loss: no seeds repeat and the spec gives no early_stop.noise".into(),
        }
    }
}

/// One pruned run that may have been the best.
#[derive(Debug, Clone, PartialEq)]
pub struct CloseCall {
    pub run_id: String,
    /// The step that stopped it, and its val loss there.
    pub step: u64,
    pub val_loss: f64,
    /// The worst run kept at that step, and its val loss there.
    pub kept: String,
    pub kept_val_loss: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CloseCalls {
    pub spread: Spread,
    /// Runs pruned in all.
    pub pruned: usize,
    pub calls: Vec<CloseCall>,
}

/// The close calls of a sweep folder's pruned runs; None when no run was pruned.
pub fn close_calls(sweep_dir: &Path, runs: &[Summary]) -> Option<CloseCalls> {
    let rows: HashMap<String, Vec<LossRow>> =
        runs.iter().map(|s| (s.run_id.clone(), loss_csv::read_complete(&RunDir::new(sweep_dir.join(&s.run_id)).loss_csv()))).collect();
    let noise = Spec::saved(sweep_dir).ok().and_then(|spec| spec.early_stop?.noise);
    let spread = match (stats::seed_spread(&stats::configs(runs, "val_loss", false)), noise) {
        (Some(sd), _) => Spread::Seeds(sd),
        (None, Some(n)) => Spread::Spec(n),
        (None, None) => Spread::OnePercent,
    };
    find(runs, &rows, spread)
}

/// The close calls among `runs`, with each run's loss.csv rows in `rows`.
pub fn find(runs: &[Summary], rows: &HashMap<String, Vec<LossRow>>, spread: Spread) -> Option<CloseCalls> {
    let at = |id: &str, step: u64| rows.get(id)?.iter().find(|r| r.step == step).map(|r| r.val_loss).filter(|v| v.is_finite());
    let pruned_at = |s: &Summary| s.pruned.as_ref().filter(|_| s.status == Status::Pruned).map(|p| p.at_step);
    let pruned: Vec<(&Summary, u64)> = runs.iter().filter_map(|s| Some((s, pruned_at(s)?))).collect();
    if pruned.is_empty() {
        return None;
    }
    let mut calls = Vec::new();
    for (run, step) in &pruned {
        let Some(val_loss) = at(&run.run_id, *step) else { continue };
        // Kept at `step`: every other run that reported there and was not stopped there.
        let worst_kept = runs
            .iter()
            .filter(|k| k.run_id != run.run_id && pruned_at(k) != Some(*step))
            .filter_map(|k| Some((k.run_id.clone(), at(&k.run_id, *step)?)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((kept, kept_val_loss)) = worst_kept
            && val_loss - kept_val_loss <= spread.of(val_loss)
        {
            calls.push(CloseCall { run_id: run.run_id.clone(), step: *step, val_loss, kept, kept_val_loss });
        }
    }
    calls.sort_by(|a, b| (a.val_loss - a.kept_val_loss).total_cmp(&(b.val_loss - b.kept_val_loss)));
    Some(CloseCalls { spread, pruned: pruned.len(), calls })
}

impl CloseCalls {
    /// The lead sentence: how many pruned runs may have been the best, by what spread.
    pub fn headline(&self) -> String {
        match self.calls.len() {
            0 => format!("none of the {} pruned run(s) was within the noise ({}) of a run kept at the step that stopped it", self.pruned, self.spread.words()),
            n => format!(
                "{n} of the {} pruned run(s) may have been the best: at the step that stopped them their val loss was within the noise ({}) of a run that was kept; `sweep run SPEC --resume-pruned` finishes them",
                self.pruned,
                self.spread.words()
            ),
        }
    }

    /// One line per close call: "lr0.4 at step 20: 2.4500 against 2.4400 (lr0.3, kept), +0.0100".
    pub fn lines(&self) -> Vec<String> {
        self.calls
            .iter()
            .map(|c| {
                format!(
                    "{} at step {}: {:.4} against {:.4} ({}, kept), {:+.4}",
                    c.run_id,
                    c.step,
                    c.val_loss,
                    c.kept_val_loss,
                    c.kept,
                    c.val_loss - c.kept_val_loss
                )
            })
            .collect()
    }

    /// The headline and the lines, as a Markdown or plain-text list.
    pub fn text(&self) -> String {
        let mut out = format!("{}.\n", self.headline());
        for line in self.lines() {
            out.push_str(&format!("- {line}\n"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::summary::Pruned;

    fn run(id: &str, status: Status, pruned_at: Option<u64>) -> Summary {
        let mut s = Summary::failed(id, Default::default(), 1.0, String::new());
        s.status = status;
        s.pruned = pruned_at.map(|at_step| Pruned { at_step, max_iters: 100, rule: String::new() });
        s
    }

    fn curve(points: &[(u64, f64)]) -> Vec<LossRow> {
        points.iter().map(|&(step, v)| LossRow { step, tokens_seen: step, lr: 0.0, train_loss: v, val_loss: v, elapsed_s: 0.0 }).collect()
    }

    #[test]
    fn a_pruned_run_within_the_noise_of_a_kept_one_may_have_been_the_best() {
        // At step 20: a 2.00, b 2.10 kept; c 2.105 pruned (within 0.01 of b), d 2.50 pruned.
        let runs = vec![run("a", Status::Done, None), run("b", Status::Done, None), run("c", Status::Pruned, Some(20)), run("d", Status::Pruned, Some(20))];
        let rows: HashMap<String, Vec<LossRow>> = [
            ("a", curve(&[(0, 3.0), (20, 2.00), (40, 1.90)])),
            ("b", curve(&[(0, 3.0), (20, 2.10), (40, 1.80)])),
            ("c", curve(&[(0, 3.0), (20, 2.105)])),
            ("d", curve(&[(0, 3.0), (20, 2.50)])),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let found = find(&runs, &rows, Spread::Spec(0.01)).unwrap();
        assert_eq!(found.pruned, 2);
        assert_eq!(found.calls.len(), 1);
        let c = &found.calls[0];
        assert_eq!((c.run_id.as_str(), c.step, c.kept.as_str()), ("c", 20, "b"));
        assert!(found.headline().starts_with("1 of the 2 pruned run(s) may have been the best"), "{}", found.headline());
        assert_eq!(found.lines(), ["c at step 20: 2.1050 against 2.1000 (b, kept), +0.0050"]);

        // With a tighter noise nothing is close; 1% of the loss (0.021) catches c again.
        assert!(find(&runs, &rows, Spread::Spec(0.001)).unwrap().calls.is_empty());
        assert_eq!(find(&runs, &rows, Spread::OnePercent).unwrap().calls.len(), 1);
        // A run pruned at a later step was kept at an earlier one.
        let later = vec![run("a", Status::Pruned, Some(40)), run("c", Status::Pruned, Some(20))];
        let calls = find(&later, &rows, Spread::Spec(0.2)).unwrap().calls;
        assert_eq!(calls.iter().map(|c| (c.run_id.as_str(), c.kept.as_str())).collect::<Vec<_>>(), [("c", "a")]);
        // No pruned run: nothing to say.
        assert!(find(&runs[..2], &rows, Spread::OnePercent).is_none());
    }
}
