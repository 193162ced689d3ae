//! The spec's `objectives:`: which summary.json fields a sweep is judged by, each minimised
//! unless written `max:` (`objectives: [val_loss, params]`, `[val_loss, {max: tokens_per_second}]`).
//! One objective, val_loss, is the default; with several the report shows the Pareto front
//! (`report::pareto`) and TPE splits its runs by it (`search::tpe`).

use crate::output::summary::Summary;
use serde::{Deserialize, Serialize};

/// One objective: a summary.json field (or `val_loss`, `params`) and its direction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Objective {
    pub name: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub maximize: bool,
}

/// The numeric fields of summary.json an objective may name, with the two short names.
pub const FIELDS: &[&str] = &[
    "val_loss",
    "best_val_loss",
    "final_val_loss",
    "final_train_loss",
    "perplexity",
    "params",
    "n_params",
    "n_params_no_pos",
    "tokens_seen",
    "epochs",
    "steps",
    "wall_seconds",
    "tokens_per_second",
    "gflops",
    "peak_rss_mb",
];

impl Objective {
    pub fn min(name: &str) -> Objective {
        Objective { name: name.into(), maximize: false }
    }

    /// The field summary.json stores it under.
    pub fn field(&self) -> &str {
        match self.name.as_str() {
            "val_loss" => "best_val_loss",
            "params" => "n_params",
            other => other,
        }
    }

    /// Its value for a run, finite, or None.
    pub fn value(&self, s: &Summary) -> Option<f64> {
        s.metric(self.field())?.as_f64().filter(|x| x.is_finite())
    }

    /// Its value made lower-is-better (negated for `max:`).
    pub fn cost(&self, s: &Summary) -> Option<f64> {
        self.value(s).map(|x| if self.maximize { -x } else { x })
    }

    /// `val_loss` or `max: tokens_per_second`.
    pub fn label(&self) -> String {
        if self.maximize { format!("max: {}", self.name) } else { self.name.clone() }
    }
}

/// The objectives of a spec: what it lists, else val_loss alone.
pub fn or_default(objectives: &[Objective]) -> Vec<Objective> {
    if objectives.is_empty() { vec![Objective::min("val_loss")] } else { objectives.to_vec() }
}

/// Whether cost vector `a` dominates `b`: no worse in every objective, better in one.
pub fn dominates(a: &[f64], b: &[f64]) -> bool {
    a.iter().zip(b).all(|(x, y)| x <= y) && a.iter().zip(b).any(|(x, y)| x < y)
}

/// Each point's non-domination rank (0: the Pareto front, 1: the front once it is removed,
/// …), lower-is-better costs. Points are visited in lexicographic order, so that only
/// points before one can dominate it, and each joins the first front none of whose members
/// dominates it (the sequential-search non-dominated sort of Zhang et al. 2015).
pub fn pareto_ranks(costs: &[Vec<f64>]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..costs.len()).collect();
    order.sort_by(|&a, &b| costs[a].iter().zip(&costs[b]).map(|(x, y)| x.total_cmp(y)).find(|o| o.is_ne()).unwrap_or(std::cmp::Ordering::Equal));
    let mut fronts: Vec<Vec<usize>> = Vec::new();
    let mut rank = vec![0; costs.len()];
    for i in order {
        let k = fronts.iter().position(|f| !f.iter().any(|&j| dominates(&costs[j], &costs[i]))).unwrap_or(fronts.len());
        if k == fronts.len() {
            fronts.push(Vec::new());
        }
        fronts[k].push(i);
        rank[i] = k;
    }
    rank
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn pareto_ranks_equal_a_brute_force_peeling_of_fronts() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for case in 0..200 {
            let (n, k) = (rng.random_range(1..40), rng.random_range(2..4));
            // Few distinct values, so that ties and duplicates happen.
            let costs: Vec<Vec<f64>> = (0..n).map(|_| (0..k).map(|_| rng.random_range(0..6) as f64).collect()).collect();
            // Brute force: peel off the points no remaining point dominates.
            let mut want = vec![usize::MAX; n];
            let mut level = 0;
            while want.contains(&usize::MAX) {
                let left: Vec<usize> = (0..n).filter(|&i| want[i] == usize::MAX).collect();
                let front: Vec<usize> = left.iter().copied().filter(|&i| !left.iter().any(|&j| dominates(&costs[j], &costs[i]))).collect();
                for i in front {
                    want[i] = level;
                }
                level += 1;
            }
            assert_eq!(pareto_ranks(&costs), want, "case {case}: {costs:?}");
        }
    }
}
