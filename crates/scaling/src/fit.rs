//! Fitting L(N, D) = E + A/N^α + B/D^β as Hoffmann et al.'s approach 3: in log space,
//! log L = LSE(a − α·log N, b − β·log D, e) with A = eᵃ, B = eᵇ, E = eᵉ; the Huber loss
//! (δ = 1e-3) of the residuals against the log of the observed losses, minimised with
//! L-BFGS (argmin) from every start of a grid, the best kept.

use argmin::core::{CostFunction, Error, Executor, Gradient, State};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use serde::Serialize;

/// Hoffmann et al.'s δ.
pub const HUBER_DELTA: f64 = 1e-3;

/// One observation: N (non-embedding parameters), D (tokens trained) and the loss.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Obs {
    pub n: f64,
    pub d: f64,
    pub loss: f64,
}

/// A fitted law.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Law {
    pub e: f64,
    pub a: f64,
    pub alpha: f64,
    pub b: f64,
    pub beta: f64,
}

impl Law {
    pub fn loss(&self, n: f64, d: f64) -> f64 {
        self.e + self.a / n.powf(self.alpha) + self.b / d.powf(self.beta)
    }

    fn from_params(p: &[f64]) -> Law {
        Law { a: p[0].exp(), alpha: p[1], b: p[2].exp(), beta: p[3], e: p[4].exp() }
    }

    fn params(&self) -> Vec<f64> {
        vec![self.a.ln(), self.alpha, self.b.ln(), self.beta, self.e.ln()]
    }
}

fn huber(r: f64, delta: f64) -> (f64, f64) {
    if r.abs() <= delta { (0.5 * r * r, r) } else { (delta * (r.abs() - 0.5 * delta), delta * r.signum()) }
}

/// The objective and its gradient over the observations, in (a, α, b, β, e).
struct Objective<'a> {
    obs: &'a [(f64, f64, f64)],
    delta: f64,
}

impl Objective<'_> {
    fn value_and_gradient(&self, p: &[f64]) -> (f64, Vec<f64>) {
        let (a, alpha, b, beta, e) = (p[0], p[1], p[2], p[3], p[4]);
        let mut total = 0.0;
        let mut g = vec![0.0; 5];
        for &(log_n, log_d, log_l) in self.obs {
            let terms = [a - alpha * log_n, b - beta * log_d, e];
            let m = terms.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let w: Vec<f64> = terms.iter().map(|t| (t - m).exp()).collect();
            let sum: f64 = w.iter().sum();
            let lse = m + sum.ln();
            let (h, dh) = huber(lse - log_l, self.delta);
            total += h;
            let s: Vec<f64> = w.iter().map(|x| x / sum).collect();
            g[0] += dh * s[0];
            g[1] -= dh * s[0] * log_n;
            g[2] += dh * s[1];
            g[3] -= dh * s[1] * log_d;
            g[4] += dh * s[2];
        }
        (total, g)
    }
}

impl CostFunction for Objective<'_> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, p: &Vec<f64>) -> Result<f64, Error> {
        Ok(self.value_and_gradient(p).0)
    }
}

impl Gradient for Objective<'_> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;
    fn gradient(&self, p: &Vec<f64>) -> Result<Vec<f64>, Error> {
        Ok(self.value_and_gradient(p).1)
    }
}

/// The law and its objective from one start.
fn descend(obs: &[(f64, f64, f64)], start: Vec<f64>) -> Option<(f64, Vec<f64>)> {
    let problem = Objective { obs, delta: HUBER_DELTA };
    let solver = LBFGS::new(MoreThuenteLineSearch::new(), 7).with_tolerance_cost(1e-14).ok()?.with_tolerance_grad(1e-12).ok()?;
    let res = Executor::new(problem, solver).configure(|s| s.param(start).max_iters(500)).run().ok()?;
    let state = res.state();
    let best = state.get_best_param()?.clone();
    let cost = state.get_best_cost();
    (cost.is_finite() && best.iter().all(|x| x.is_finite())).then_some((cost, best))
}

/// Hoffmann et al.'s grid of starts: α, β ∈ {0, 0.5, …, 2}, e ∈ {−1, −0.5, …, 1},
/// a, b ∈ {0, 5, …, 25}.
fn grid() -> Vec<Vec<f64>> {
    let mut starts = Vec::new();
    for a in [0.0, 5.0, 10.0, 15.0, 20.0, 25.0] {
        for b in [0.0, 5.0, 10.0, 15.0, 20.0, 25.0] {
            for e in [-1.0, -0.5, 0.0, 0.5, 1.0] {
                for alpha in [0.0, 0.5, 1.0, 1.5, 2.0] {
                    for beta in [0.0, 0.5, 1.0, 1.5, 2.0] {
                        starts.push(vec![a, alpha, b, beta, e]);
                    }
                }
            }
        }
    }
    starts
}

fn logs(obs: &[Obs]) -> Vec<(f64, f64, f64)> {
    obs.iter().filter(|o| o.n > 0.0 && o.d > 0.0 && o.loss > 0.0).map(|o| (o.n.ln(), o.d.ln(), o.loss.ln())).collect()
}

/// The best law from the whole grid of starts, and its objective; None without at least
/// five usable observations (five parameters).
pub fn fit(obs: &[Obs]) -> Option<(Law, f64)> {
    let obs = logs(obs);
    if obs.len() < 5 {
        return None;
    }
    best_of(&obs, grid())
}

/// The best law from starts near `near` (a bootstrap resample's refit).
pub fn refit(obs: &[Obs], near: &Law) -> Option<(Law, f64)> {
    let obs = logs(obs);
    if obs.len() < 5 {
        return None;
    }
    let p = near.params();
    let mut starts = vec![p.clone()];
    for (i, step) in [(1, 0.3), (3, 0.3)] {
        for sign in [-1.0, 1.0] {
            let mut q = p.clone();
            q[i] += sign * step;
            starts.push(q);
        }
    }
    // E from the grid's range too, so that a resample is not held at the full fit's E.
    for e in [-1.0, -0.5, 0.0, 0.5, 1.0] {
        let mut q = p.clone();
        q[4] = e;
        starts.push(q);
    }
    best_of(&obs, starts)
}

fn best_of(obs: &[(f64, f64, f64)], starts: Vec<Vec<f64>>) -> Option<(Law, f64)> {
    use rayon::prelude::*;
    starts
        .into_par_iter()
        .filter_map(|s| descend(obs, s))
        .min_by(|x, y| x.0.total_cmp(&y.0))
        .map(|(cost, p)| (Law::from_params(&p), cost))
        .filter(|(l, _)| l.alpha > 0.0 && l.beta > 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gradient_matches_finite_differences() {
        let obs = [(10.0, 20.0, 1.2f64.ln()), (12.0, 21.0, 1.0f64.ln()), (14.0, 19.0, 1.1f64.ln())];
        let o = Objective { obs: &obs, delta: 0.05 };
        let p = vec![5.0, 0.4, 7.0, 0.3, 0.1];
        let (_, g) = o.value_and_gradient(&p);
        for i in 0..5 {
            let (mut up, mut down) = (p.clone(), p.clone());
            up[i] += 1e-6;
            down[i] -= 1e-6;
            let numeric = (o.value_and_gradient(&up).0 - o.value_and_gradient(&down).0) / 2e-6;
            assert!((numeric - g[i]).abs() < 1e-6, "d/dp{i}: {numeric} vs {}", g[i]);
        }
    }
}
