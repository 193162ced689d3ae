//! Hoffmann et al.'s approach 2: runs grouped by compute (C = 6·N·D, within 10%); in each
//! group of at least three sizes, a parabola in log N through the losses gives the size with
//! the lowest loss; a line through log N_opt against log C gives N_opt ∝ C^a.

use crate::fit::Obs;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct IsoFlop {
    /// Each budget and its loss-minimising N.
    pub minima: Vec<(f64, f64)>,
    /// a in N_opt ∝ C^a.
    pub exponent: f64,
}

/// Least squares: y = c0 + c1·x + c2·x² (None when singular).
fn parabola(points: &[(f64, f64)]) -> Option<[f64; 3]> {
    let mut m = [[0.0f64; 4]; 3];
    for &(x, y) in points {
        let xs = [1.0, x, x * x];
        for i in 0..3 {
            for j in 0..3 {
                m[i][j] += xs[i] * xs[j];
            }
            m[i][3] += xs[i] * y;
        }
    }
    // Gaussian elimination with partial pivoting.
    for c in 0..3 {
        let p = (c..3).max_by(|&a, &b| m[a][c].abs().total_cmp(&m[b][c].abs()))?;
        m.swap(c, p);
        if m[c][c].abs() < 1e-12 {
            return None;
        }
        for r in 0..3 {
            if r != c {
                let f = m[r][c] / m[c][c];
                let pivot = m[c];
                for (x, p) in m[r].iter_mut().zip(pivot).skip(c) {
                    *x -= f * p;
                }
            }
        }
    }
    Some([m[0][3] / m[0][0], m[1][3] / m[1][1], m[2][3] / m[2][2]])
}

pub fn fit(obs: &[Obs]) -> Option<IsoFlop> {
    let mut sorted: Vec<&Obs> = obs.iter().collect();
    sorted.sort_by(|a, b| (a.n * a.d).total_cmp(&(b.n * b.d)));
    let mut groups: Vec<Vec<&Obs>> = Vec::new();
    for o in sorted {
        match groups.last_mut() {
            Some(g) if (o.n * o.d) / (g[0].n * g[0].d) < 1.1 => g.push(o),
            _ => groups.push(vec![o]),
        }
    }
    let mut minima = Vec::new();
    for g in groups {
        let mut sizes: Vec<f64> = g.iter().map(|o| o.n).collect();
        sizes.sort_by(f64::total_cmp);
        sizes.dedup_by(|a, b| (*a / *b - 1.0).abs() < 0.02);
        if sizes.len() < 3 {
            continue;
        }
        let pts: Vec<(f64, f64)> = g.iter().map(|o| (o.n.ln(), o.loss)).collect();
        let [_, c1, c2] = parabola(&pts)?;
        if c2 <= 0.0 {
            continue; // no minimum inside: the sizes do not bracket it
        }
        let log_n = -c1 / (2.0 * c2);
        let (lo, hi) = (sizes[0].ln(), sizes[sizes.len() - 1].ln());
        if log_n < lo || log_n > hi {
            continue;
        }
        let c = g.iter().map(|o| 6.0 * o.n * o.d).sum::<f64>() / g.len() as f64;
        minima.push((c, log_n.exp()));
    }
    if minima.len() < 2 {
        return None;
    }
    let xs: Vec<f64> = minima.iter().map(|m| m.0.ln()).collect();
    let ys: Vec<f64> = minima.iter().map(|m| m.1.ln()).collect();
    let (mx, my) = (xs.iter().sum::<f64>() / xs.len() as f64, ys.iter().sum::<f64>() / ys.len() as f64);
    let slope = xs.iter().zip(&ys).map(|(x, y)| (x - mx) * (y - my)).sum::<f64>() / xs.iter().map(|x| (x - mx).powi(2)).sum::<f64>();
    Some(IsoFlop { minima, exponent: slope })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isoflop_minima_follow_the_law_they_come_from() {
        // L = 1.7 + 400/N^0.34 + 410/D^0.28: the optimum grows as C^(0.28/0.62) = C^0.45.
        let law = crate::fit::Law { e: 1.7, a: 400.0, alpha: 0.34, b: 410.0, beta: 0.28 };
        let mut obs = Vec::new();
        for c in [1e15, 1e16, 1e17] {
            for k in -4..=4 {
                let n = crate::analysis::optimal(&law, c).0 * 2f64.powf(k as f64 / 2.0);
                let d = c / 6.0 / n;
                obs.push(Obs { n, d, loss: law.loss(n, d) });
            }
        }
        let iso = fit(&obs).unwrap();
        assert_eq!(iso.minima.len(), 3);
        assert!((iso.exponent - 0.28 / 0.62).abs() < 0.03, "{}", iso.exponent);
    }
}
