//! Seeds and noise. Runs that differ only in `seed` are one configuration: its metric is
//! their mean ± standard deviation, and the pooled seed-to-seed spread says whether the gap
//! between two values of a parameter is larger than what another seed would change. Without
//! repeats the spread is unknown, and the verdicts say so.

use crate::output::summary::{Status, Summary};
use crate::plan::run_id::format_value;
use indexmap::IndexMap;
use serde::Serialize;
use serde_json::Value;

/// The setting whose values are repeats of one configuration.
pub const SEED: &str = "seed";

/// Runs of one configuration (every swept value but the seed).
#[derive(Debug, Clone, Serialize)]
pub struct Config {
    /// The swept values without the seed.
    pub params: IndexMap<String, Value>,
    /// Its finished runs' ids and metric values, best first.
    pub runs: Vec<(String, f64)>,
    pub mean: f64,
    /// Sample standard deviation over seeds (None with one run).
    pub std: Option<f64>,
}

impl Config {
    /// "lr=1e-3, dropout=0.1" (or "all runs" when nothing but the seed is swept).
    pub fn label(&self) -> String {
        if self.params.is_empty() {
            return "all runs".into();
        }
        self.params.iter().map(|(k, v)| format!("{k}={}", format_value(v))).collect::<Vec<_>>().join(", ")
    }

    /// "2.3456 ± 0.0123 (3 seeds)" or "2.3456 (1 run)".
    pub fn shown(&self) -> String {
        match self.std {
            Some(sd) => format!("{:.4} ± {sd:.4} ({} seeds)", self.mean, self.runs.len()),
            None => format!("{:.4} (1 run)", self.mean),
        }
    }
}

/// The finished (`done`) runs with the metric, grouped by configuration, best mean first
/// (highest first when `desc`).
pub fn configs(runs: &[Summary], metric: &str, desc: bool) -> Vec<Config> {
    let mut out: Vec<Config> = Vec::new();
    for s in runs.iter().filter(|s| s.status == Status::Done) {
        let Some(x) = s.metric(metric).and_then(|v| v.as_f64()).filter(|x| x.is_finite()) else { continue };
        let params: IndexMap<String, Value> = s.params.iter().filter(|(k, _)| *k != SEED).map(|(k, v)| (k.clone(), v.clone())).collect();
        match out.iter_mut().find(|c| c.params == params) {
            Some(c) => c.runs.push((s.run_id.clone(), x)),
            None => out.push(Config { params, runs: vec![(s.run_id.clone(), x)], mean: 0.0, std: None }),
        }
    }
    for c in &mut out {
        let xs: Vec<f64> = c.runs.iter().map(|r| r.1).collect();
        (c.mean, c.std) = mean_std(&xs);
        c.runs.sort_by(|a, b| if desc { b.1.total_cmp(&a.1) } else { a.1.total_cmp(&b.1) });
    }
    out.sort_by(|a, b| if desc { b.mean.total_cmp(&a.mean) } else { a.mean.total_cmp(&b.mean) });
    out
}

/// Mean and sample standard deviation (None for fewer than two values).
pub fn mean_std(xs: &[f64]) -> (f64, Option<f64>) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n.max(1.0);
    let std = (xs.len() > 1).then(|| (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt());
    (mean, std)
}

/// The seed-to-seed standard deviation pooled over every configuration run with more than
/// one seed (each weighted by its degrees of freedom); None without repeats.
pub fn seed_spread(configs: &[Config]) -> Option<f64> {
    let (mut ss, mut dof) = (0.0, 0usize);
    for c in configs {
        if let Some(sd) = c.std {
            ss += sd * sd * (c.runs.len() - 1) as f64;
            dof += c.runs.len() - 1;
        }
    }
    (dof > 0).then(|| (ss / dof as f64).sqrt())
}

/// Whether a gap between two value means is larger than seed noise.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Noise {
    /// More than twice the standard error of the difference: another seed would not undo it.
    Real,
    /// Within twice the standard error: no difference the sweep can show.
    WithinNoise,
    /// No seed repeats: the spread is unknown.
    Unknown,
}

/// The gap between two value means and its standard error under seed noise `spread`, when
/// the means average `n_a` and `n_b` runs.
pub fn judge(gap: f64, spread: Option<f64>, n_a: usize, n_b: usize) -> (Noise, Option<f64>) {
    match spread {
        None => (Noise::Unknown, None),
        Some(sd) => {
            let se = sd * (1.0 / n_a.max(1) as f64 + 1.0 / n_b.max(1) as f64).sqrt();
            (if gap.abs() > 2.0 * se { Noise::Real } else { Noise::WithinNoise }, Some(se))
        }
    }
}

/// A gap smaller than this share of the metric is "small": without repeats the verdict
/// suggests seeds for it (seed-to-seed spreads of small models are often about 1%).
pub const SMALL_GAP: f64 = 0.01;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(lr: f64, seed: u64, loss: f64) -> Summary {
        let params = [("lr".to_string(), json!(lr)), ("seed".to_string(), json!(seed))].into_iter().collect();
        let mut s = Summary::failed(&format!("lr{lr}_seed{seed}"), params, 1.0, String::new());
        (s.status, s.error, s.best_val_loss) = (Status::Done, None, Some(loss));
        s
    }

    #[test]
    fn seeds_of_one_configuration_average_and_spread_pools() {
        let runs = vec![run(1e-3, 1, 2.0), run(1e-3, 2, 2.2), run(1e-3, 3, 2.1), run(1e-2, 1, 2.5), run(1e-2, 2, 2.7)];
        let c = configs(&runs, "val_loss", false);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].label(), "lr=1e-3");
        assert!((c[0].mean - 2.1).abs() < 1e-12);
        assert!((c[0].std.unwrap() - 0.1).abs() < 1e-12, "sample std of 2.0, 2.2, 2.1");
        assert!((c[1].std.unwrap() - 0.2f64.hypot(0.0) / 2f64.sqrt()).abs() < 1e-12);
        assert_eq!(c[0].runs[0].0, "lr0.001_seed1", "best seed first");
        // Pooled: (0.1² · 2 + 0.1414² · 1) / 3.
        let pooled = ((0.01 * 2.0 + 0.02) / 3.0f64).sqrt();
        assert!((seed_spread(&c).unwrap() - pooled).abs() < 1e-12);
        assert_eq!(c[0].shown(), "2.1000 ± 0.1000 (3 seeds)");
    }

    #[test]
    fn a_gap_is_real_only_beyond_twice_its_standard_error() {
        // se = 0.1 · sqrt(1/3 + 1/3) = 0.0816…
        let (noise, se) = judge(0.2, Some(0.1), 3, 3);
        assert_eq!(noise, Noise::Real);
        assert!((se.unwrap() - 0.1 * (2.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert_eq!(judge(0.1, Some(0.1), 3, 3).0, Noise::WithinNoise);
        assert_eq!(judge(0.1, None, 3, 3), (Noise::Unknown, None));
    }
}
