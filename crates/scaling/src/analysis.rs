//! From a sweep's runs to what a researcher plans with: the fitted law with bootstrap
//! intervals (runs resampled, not eval rows), the compute-optimal N and D and the predicted
//! loss at the sweep's largest budget and at 10× and 100× it, the tokens per parameter at
//! the optimum, IsoFLOP minima when runs share budgets (approach 2), and every reason the
//! fit may not be trusted.

use crate::fit::{Law, Obs, fit, refit};
use crate::isoflop::{self, IsoFlop};
use rand::{Rng, SeedableRng};
use serde::Serialize;

/// Bootstrap resamples.
pub const RESAMPLES: usize = 200;
/// Epochs above which a run's tokens are no longer fresh data.
pub const MAX_EPOCHS: f64 = 4.0;

/// One run as the fit sees it: its observations (its final loss; with `use_evals`, its
/// evaluations too) and what decides whether it may be used.
#[derive(Debug, Clone, PartialEq)]
pub struct RunPoints {
    pub run: String,
    pub obs: Vec<Obs>,
    /// N with embeddings, reported beside N.
    pub n_total: f64,
    pub epochs: f64,
    /// Why it is left out (diverged, pruned, failed, not finished), when it is.
    pub left_out: Option<String>,
}

/// A value and its bootstrap interval (2.5th and 97.5th percentiles).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    pub value: f64,
    pub low: f64,
    pub high: f64,
}

impl Estimate {
    fn of(value: f64, samples: &mut [f64]) -> Estimate {
        samples.sort_by(f64::total_cmp);
        let at = |q: f64| samples.get(((samples.len() as f64 - 1.0) * q).round() as usize).copied().unwrap_or(value);
        Estimate { value, low: at(0.025), high: at(0.975) }
    }

    /// Whether the interval is wider than the value itself.
    pub fn wide(&self) -> bool {
        (self.high - self.low) > self.value.abs()
    }
}

/// The compute-optimal allocation for a budget (C = 6·N·D).
#[derive(Debug, Clone, Serialize)]
pub struct Optimum {
    pub flops: f64,
    /// "the sweep's largest budget", "10×", "100×", or "the budget asked".
    pub label: String,
    pub n: Estimate,
    pub d: Estimate,
    pub loss: Estimate,
    pub tokens_per_param: Estimate,
}

/// Everything `sweep fit` says.
#[derive(Debug, Clone, Serialize)]
pub struct Analysis {
    pub law: Law,
    pub e: Estimate,
    pub a: Estimate,
    pub alpha: Estimate,
    pub b: Estimate,
    pub beta: Estimate,
    pub optima: Vec<Optimum>,
    pub isoflop: Option<IsoFlop>,
    /// Runs used, distinct sizes and token budgets among them.
    pub runs_used: usize,
    pub sizes: usize,
    pub budgets: usize,
    pub points: usize,
    /// Runs left out, each with why.
    pub left_out: Vec<(String, String)>,
    /// Why the fit may not be trusted.
    pub warnings: Vec<String>,
    /// The bootstrap resamples' laws, for intervals on any prediction.
    #[serde(skip)]
    pub laws: Vec<Law>,
}

impl Analysis {
    /// The loss of a run of N non-embedding parameters trained on D tokens, with its interval.
    pub fn predict(&self, n: f64, d: f64) -> Estimate {
        Estimate::of(self.law.loss(n, d), &mut self.laws.iter().map(|l| l.loss(n, d)).filter(|x| x.is_finite()).collect::<Vec<_>>())
    }

    /// The compute-optimal loss at `flops`, with its interval.
    pub fn predict_optimal(&self, flops: f64) -> Estimate {
        let at = |l: &Law| {
            let (n, d) = optimal(l, flops);
            l.loss(n, d)
        };
        Estimate::of(at(&self.law), &mut self.laws.iter().map(at).filter(|x| x.is_finite()).collect::<Vec<_>>())
    }
}

/// The compute-optimal N and D for `flops` under `law` (minimising L with 6·N·D fixed):
/// N = G·(C/6)^(β/(α+β)), G = (αA/(βB))^(1/(α+β)).
pub fn optimal(law: &Law, flops: f64) -> (f64, f64) {
    let (a, b) = (law.alpha, law.beta);
    let g = (a * law.a / (b * law.b)).powf(1.0 / (a + b));
    let n = g * (flops / 6.0).powf(b / (a + b));
    (n, flops / 6.0 / n)
}

/// Fits `runs` and says what the fit supports; None when fewer than five observations
/// remain (the law has five parameters). `extra_budget` adds an optimum for a budget given.
pub fn analyse(runs: &[RunPoints], extra_budget: Option<f64>, seed: u64) -> Option<Analysis> {
    let mut left_out: Vec<(String, String)> = runs.iter().filter_map(|r| Some((r.run.clone(), r.left_out.clone()?))).collect();
    let used: Vec<&RunPoints> = runs.iter().filter(|r| r.left_out.is_none() && !r.obs.is_empty()).collect();
    let obs: Vec<Obs> = used.iter().flat_map(|r| r.obs.iter().copied()).collect();
    let (law, _) = fit(&obs)?;
    // Bootstrap over runs: a resample draws runs with replacement, each with all its points.
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let laws: Vec<Law> = (0..RESAMPLES)
        .filter_map(|_| {
            let sample: Vec<Obs> = (0..used.len()).flat_map(|_| used[rng.random_range(0..used.len())].obs.iter().copied()).collect();
            refit(&sample, &law).map(|f| f.0)
        })
        .collect();
    let est = |value: f64, f: &dyn Fn(&Law) -> f64| Estimate::of(value, &mut laws.iter().map(f).filter(|x| x.is_finite()).collect::<Vec<_>>());
    let max_flops = obs.iter().map(|o| 6.0 * o.n * o.d).fold(0.0, f64::max);
    let mut budgets = vec![(max_flops, "the sweep's largest budget".to_string()), (10.0 * max_flops, "10×".into()), (100.0 * max_flops, "100×".into())];
    if let Some(c) = extra_budget {
        budgets.push((c, "the budget asked".into()));
    }
    let optima = budgets
        .into_iter()
        .map(|(c, label)| {
            let (n, d) = optimal(&law, c);
            Optimum {
                flops: c,
                label,
                n: est(n, &|l| optimal(l, c).0),
                d: est(d, &|l| optimal(l, c).1),
                loss: est(law.loss(n, d), &|l| {
                    let (n, d) = optimal(l, c);
                    l.loss(n, d)
                }),
                tokens_per_param: est(d / n, &|l| {
                    let (n, d) = optimal(l, c);
                    d / n
                }),
            }
        })
        .collect();
    let (sizes, n_budgets) = (distinct(obs.iter().map(|o| o.n)), distinct(obs.iter().map(|o| o.d)));
    let mut a = Analysis {
        law,
        e: est(law.e, &|l| l.e),
        a: est(law.a, &|l| l.a),
        alpha: est(law.alpha, &|l| l.alpha),
        b: est(law.b, &|l| l.b),
        beta: est(law.beta, &|l| l.beta),
        optima,
        isoflop: isoflop::fit(&obs),
        runs_used: used.len(),
        sizes,
        budgets: n_budgets,
        points: obs.len(),
        left_out: Vec::new(),
        warnings: Vec::new(),
        laws: Vec::new(),
    };
    if sizes < 3 {
        a.warnings.push(format!("only {sizes} model size(s): N's exponent α cannot be pinned down; train at least 3 sizes"));
    }
    if n_budgets < 3 {
        a.warnings.push(format!("only {n_budgets} token budget(s): D's exponent β cannot be pinned down; train at least 3 lengths"));
    }
    for (name, e) in [("α", a.alpha), ("β", a.beta)] {
        if e.value > 1.5 {
            a.warnings.push(format!(
                "{name} = {:.2} is far above what language models show (about 0.2 to 0.8): the runs do not trace a scaling law; do not plan from it",
                e.value
            ));
        }
    }
    let lowest = obs.iter().map(|o| o.loss).fold(f64::INFINITY, f64::min);
    if a.e.value < 0.05 * lowest {
        a.warnings.push(format!(
            "E went to {:.3}, next to nothing against the lowest loss {lowest:.3}: the runs do not show where the loss levels off, so the law is a plain power law and its extrapolation falls too fast; train larger or longer runs",
            a.e.value
        ));
    }
    for (name, e) in [("E", a.e), ("α", a.alpha), ("β", a.beta)] {
        if e.wide() {
            a.warnings.push(format!("{name}'s interval [{:.3}, {:.3}] is wider than its value {:.3}: the sweep cannot tell it", e.low, e.high, e.value));
        }
    }
    let repeated: Vec<&str> = used.iter().filter(|r| r.epochs > MAX_EPOCHS).map(|r| r.run.as_str()).collect();
    if !repeated.is_empty() {
        a.warnings.push(format!(
            "{} run(s) repeat their data more than {MAX_EPOCHS} times ({}): their D is not fresh tokens, so the law bends; use more text or shorter runs",
            repeated.len(),
            repeated.iter().take(4).copied().collect::<Vec<_>>().join(", ")
        ));
    }
    if !left_out.is_empty() {
        a.warnings.push(format!("{} run(s) left out: {}", left_out.len(), summarize_reasons(&left_out)));
    }
    if let Some(iso) = &a.isoflop {
        let from_law = a.beta.value / (a.alpha.value + a.beta.value);
        if (iso.exponent - from_law).abs() > 0.15 {
            a.warnings.push(format!("the two approaches disagree: IsoFLOP minima give N_opt ∝ C^{:.2}, the fitted law C^{from_law:.2}", iso.exponent));
        }
    }
    left_out.sort();
    a.left_out = left_out;
    a.laws = laws;
    Some(a)
}

/// How many different values there are, counting values within 2% of each other as one
/// (sizes or token counts of one setting differ a little between runs).
pub fn distinct(values: impl Iterator<Item = f64>) -> usize {
    let mut v: Vec<f64> = values.collect();
    v.sort_by(f64::total_cmp);
    v.dedup_by(|x, y| (*x / *y - 1.0).abs() < 0.02);
    v.len()
}

/// "2 diverged, 3 pruned".
fn summarize_reasons(left: &[(String, String)]) -> String {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for (_, why) in left {
        match counts.iter_mut().find(|(w, _)| w == why) {
            Some(c) => c.1 += 1,
            None => counts.push((why.clone(), 1)),
        }
    }
    counts.iter().map(|(w, n)| format!("{n} {w}")).collect::<Vec<_>>().join(", ")
}
