//! The search space of `method: random` and `method: tpe`: each swept setting is a list of
//! values (one is picked) or a distribution (`uniform`, `log_uniform`, `int_uniform`,
//! `choice`). Owns drawing from it with a portable, seeded generator (ChaCha8 through
//! rand 0.9: the same seed gives the same draws on every machine; a rand upgrade that
//! changed its sampling would be seen by the reproducibility tests) and rounding drawn
//! numbers to three significant digits, so that run ids and configs stay readable.

use indexmap::IndexMap;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How one swept setting is drawn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dist {
    /// A real number in [low, high], every part of the range equally likely.
    Uniform(f64, f64),
    /// A positive real number in [low, high], every factor of ten equally likely (for lr).
    LogUniform(f64, f64),
    /// A whole number in [low, high], both included.
    IntUniform(u64, u64),
    /// One of these values.
    Choice(Vec<Value>),
}

/// Swept settings in spec order.
pub type Space = IndexMap<String, Dist>;

/// The generator for a search seed and a stream (0 for the random sequence; proposal
/// index + 1 for a model-based proposal, so that each proposal has its own draws).
pub fn rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// Rounds to three significant digits (`0.0012345` → `0.00123`).
pub fn round3(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let digits = 2 - x.abs().log10().floor() as i32;
    let scale = 10f64.powi(digits);
    let rounded = (x * scale).round() / scale;
    // Through text, so that 0.1 + noise prints as 0.1.
    format!("{rounded:.prec$}", prec = digits.max(0) as usize).parse().unwrap_or(rounded)
}

impl Dist {
    /// One value drawn from this distribution.
    pub fn sample(&self, rng: &mut impl Rng) -> Value {
        match self {
            Dist::Uniform(lo, hi) => number(round3(lo + (hi - lo) * rng.random::<f64>()).clamp(*lo, *hi)),
            Dist::LogUniform(lo, hi) => number(round3((lo.ln() + (hi.ln() - lo.ln()) * rng.random::<f64>()).exp()).clamp(*lo, *hi)),
            Dist::IntUniform(lo, hi) => Value::from(rng.random_range(*lo..=*hi)),
            Dist::Choice(values) => values[rng.random_range(0..values.len())].clone(),
        }
    }

    /// Whether `value` could have been drawn from this distribution.
    pub fn contains(&self, value: &Value) -> bool {
        match (self, value.as_f64()) {
            (Dist::Uniform(lo, hi) | Dist::LogUniform(lo, hi), Some(x)) => (*lo..=*hi).contains(&x),
            (Dist::IntUniform(lo, hi), _) => value.as_u64().is_some_and(|x| (*lo..=*hi).contains(&x)),
            (Dist::Choice(values), _) => values.contains(value),
            _ => false,
        }
    }

    /// How many distinct values it can give, when that is a small finite number.
    pub fn distinct(&self) -> Option<u64> {
        match self {
            Dist::Uniform(..) | Dist::LogUniform(..) => None,
            Dist::IntUniform(lo, hi) => (hi - lo).checked_add(1),
            Dist::Choice(values) => Some(values.len() as u64),
        }
    }
}

fn number(x: f64) -> Value {
    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
}

/// One point of the space: a value for every swept setting, in space order.
pub fn sample(space: &Space, rng: &mut impl Rng) -> IndexMap<String, Value> {
    space.iter().map(|(k, d)| (k.clone(), d.sample(rng))).collect()
}

/// How many distinct points the space has, when finite (every setting a list or integers).
pub fn size(space: &Space) -> Option<u64> {
    space.values().try_fold(1u64, |n, d| d.distinct().map(|k| n.saturating_mul(k)))
}

/// Every point of a finite space with at most `limit` points, in space order.
pub fn points(space: &Space, limit: u64) -> Option<Vec<IndexMap<String, Value>>> {
    if size(space)? > limit {
        return None;
    }
    let mut out = vec![IndexMap::new()];
    for (key, dist) in space {
        let values: Vec<Value> = match dist {
            Dist::Choice(values) => values.clone(),
            Dist::IntUniform(lo, hi) => (*lo..=*hi).map(Value::from).collect(),
            Dist::Uniform(..) | Dist::LogUniform(..) => return None,
        };
        out = out
            .into_iter()
            .flat_map(|p| {
                values.iter().map(move |v| {
                    let mut p = p.clone();
                    p.insert(key.clone(), v.clone());
                    p
                })
            })
            .collect();
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rounds_to_three_significant_digits() {
        assert_eq!(round3(0.0012345), 0.00123);
        assert_eq!(round3(0.29999), 0.3);
        assert_eq!(round3(123.456), 123.0);
        assert_eq!(round3(0.0), 0.0);
    }

    #[test]
    fn same_seed_same_draws_and_streams_differ() {
        let space: Space = [("lr".to_string(), Dist::LogUniform(1e-4, 1e-2)), ("n_layers".to_string(), Dist::IntUniform(1, 4))].into_iter().collect();
        let draw = |seed, stream| (0..5).map(|_| sample(&space, &mut rng(seed, stream))).collect::<Vec<_>>();
        let mut a = rng(7, 0);
        let mut b = rng(7, 0);
        let xs: Vec<_> = (0..10).map(|_| sample(&space, &mut a)).collect();
        let ys: Vec<_> = (0..10).map(|_| sample(&space, &mut b)).collect();
        assert_eq!(xs, ys);
        assert_ne!(draw(7, 0), draw(7, 1));
        assert_eq!(size(&space), None);
        let finite: Space = [("bs".to_string(), Dist::Choice(vec![json!(16), json!(32)])), ("L".to_string(), Dist::IntUniform(1, 3))].into_iter().collect();
        assert_eq!(size(&finite), Some(6));
        let all = points(&finite, 10).unwrap();
        assert_eq!(all.len(), 6);
        assert!(all.iter().all(|p| finite.iter().all(|(k, d)| d.contains(&p[k]))));
        assert_eq!(points(&finite, 5), None);
        assert_eq!(points(&space, 1000), None);
        assert_eq!(Dist::IntUniform(0, u64::MAX).distinct(), None);
    }
}
