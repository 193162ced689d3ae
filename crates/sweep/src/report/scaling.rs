//! A sweep's runs as scaling-law observations, and what the fit says, in words: `sweep fit`,
//! a section of report.md, and the loss-against-compute chart (plots/scaling.svg, also in
//! index.html). N is a run's non-embedding parameters (total minus the token and position
//! embeddings; the LM head is tied), D the tokens it trained on, L its final val loss.

use crate::output::loss_csv;
use crate::output::run_dir::RunDir;
use crate::output::summary::Status;
pub use scaling::{Analysis, Estimate, Obs, RunPoints};
use std::fmt::Write;
use std::path::Path;

/// The fit's inputs from a sweep folder, and notes on what was left out beyond the runs'
/// own statuses (intermediate evaluations of decaying schedules).
pub struct Points {
    pub runs: Vec<RunPoints>,
    pub notes: Vec<String>,
}

/// Every run folder of `sweep_dir` as fit input: its final val loss at (N, D); with
/// `use_evals`, also each evaluation of a run whose learning rate does not decay (a cosine
/// cut short is not a shorter run, so those runs' evaluations are left out, and said so).
pub fn points(sweep_dir: &Path, use_evals: bool) -> anyhow::Result<Points> {
    let mut dirs: Vec<_> = std::fs::read_dir(sweep_dir)?.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    let (mut runs, mut decaying) = (Vec::new(), 0);
    for path in dirs {
        let dir = RunDir::new(path);
        let (Some(s), Ok(config)) = (dir.read_summary(), dir.read_config()) else { continue };
        let (Some(total), Some(vocab)) = (s.n_params, s.vocab_size) else { continue };
        let m = &config.model;
        let n_total = total as f64;
        let n = n_total - ((vocab + m.block_size) * m.embed_dim) as f64;
        let left_out = match (s.status, s.final_val_loss, s.tokens_seen) {
            (Status::Done, Some(l), Some(_)) if l.is_finite() => None,
            (Status::Done, _, _) => Some("without a final val loss".to_string()),
            (status, _, _) => Some(status.as_str().to_string()),
        };
        let mut obs = Vec::new();
        if let (None, Some(loss), Some(d)) = (&left_out, s.final_val_loss, s.tokens_seen) {
            obs.push(Obs { n, d: d as f64, loss });
            if use_evals {
                let t = &config.train;
                if t.min_lr() >= t.lr {
                    let rows = loss_csv::read(&dir.loss_csv()).unwrap_or_default();
                    obs.extend(rows.iter().filter(|r| r.step > 0 && r.tokens_seen < d && r.val_loss.is_finite()).map(|r| Obs {
                        n,
                        d: r.tokens_seen as f64,
                        loss: r.val_loss,
                    }));
                } else {
                    decaying += 1;
                }
            }
        }
        runs.push(RunPoints { run: dir.id(), obs, n_total, epochs: s.epochs.unwrap_or(0.0), left_out });
    }
    let mut notes = Vec::new();
    if decaying > 0 {
        notes.push(format!(
            "the evaluations before the end of {decaying} run(s) are left out: their learning rate decays over the run, and a schedule cut short is not a shorter run; only final losses count for them"
        ));
    }
    Ok(Points { runs, notes })
}

/// Whether a sweep has what a fit needs to be worth showing: at least two sizes and two
/// token budgets among five finished runs.
pub fn qualifies(points: &Points) -> bool {
    let used: Vec<&Obs> = points.runs.iter().filter(|r| r.left_out.is_none()).flat_map(|r| r.obs.first()).collect();
    let distinct = |f: fn(&Obs) -> f64| scaling::analysis::distinct(used.iter().map(|o| f(o)));
    used.len() >= 5 && distinct(|o| o.n) >= 2 && distinct(|o| o.d) >= 2
}

fn sci(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    if x.abs() < 1e-6 {
        return "≈0".into(); // a parameter the fit drove to nothing (E collapsing)
    }
    let e = x.abs().log10().floor() as i32;
    if (-2..4).contains(&e) { format!("{x:.3}") } else { format!("{:.2}e{e}", x / 10f64.powi(e)) }
}

fn shown(e: &Estimate) -> String {
    format!("{} [{}, {}]", sci(e.value), sci(e.low), sci(e.high))
}

/// `sweep fit`'s text (also report.md's section, as Markdown when `md`).
pub fn render(name: &str, a: &Analysis, points: &Points, md: bool) -> String {
    let mut out = String::new();
    let (h, li) = if md { ("### ", "- ") } else { ("", "  ") };
    let _ = writeln!(
        out,
        "{h}Scaling law of sweep {name}: L(N, D) = E + A/N^α + B/D^β, fitted to {} run(s) ({} point(s); {} size(s) × {} token budget(s))",
        a.runs_used, a.points, a.sizes, a.budgets
    );
    if md {
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "{li}N: non-embedding parameters (token and position embeddings left out; with them, {}–{}); D: tokens trained; L: final val loss",
        sci(points.runs.iter().map(|r| r.n_total).fold(f64::INFINITY, f64::min)),
        sci(points.runs.iter().map(|r| r.n_total).fold(0.0, f64::max))
    );
    let _ = writeln!(
        out,
        "{li}method: Hoffmann et al.'s approach 3 (Huber loss, δ 1e-3, on log-loss residuals; L-BFGS from 4500 starts, the best kept); [95% intervals] from {} bootstrap resamples of runs",
        scaling::analysis::RESAMPLES
    );
    let _ = writeln!(out, "{li}E {}  (the loss no size or data removes)", shown(&a.e));
    let _ = writeln!(out, "{li}A {}  α {}", shown(&a.a), shown(&a.alpha));
    let _ = writeln!(out, "{li}B {}  β {}", shown(&a.b), shown(&a.beta));
    if md {
        out.push('\n');
        let _ = writeln!(out, "| budget (FLOPs, C = 6·N·D) | N (non-embedding) | D (tokens) | tokens per parameter | predicted loss |");
        let _ = writeln!(out, "|---|---|---|---|---|");
    } else {
        let _ = writeln!(out, "compute-optimal (C = 6·N·D; Chinchilla's tokens per parameter is about 20):");
    }
    for o in &a.optima {
        let budget = format!("{} ({})", sci(o.flops), o.label);
        if md {
            let _ = writeln!(out, "| {budget} | {} | {} | {} | {} |", shown(&o.n), shown(&o.d), shown(&o.tokens_per_param), shown(&o.loss));
        } else {
            let _ =
                writeln!(out, "  {budget}: N {}, D {}, {} tokens per parameter; loss {}", shown(&o.n), shown(&o.d), shown(&o.tokens_per_param), shown(&o.loss));
        }
    }
    if md {
        out.push('\n');
    }
    match &a.isoflop {
        Some(iso) => {
            let _ = writeln!(
                out,
                "{li}IsoFLOP minima (approach 2) at {} budget(s): N_opt ∝ C^{:.2}; the fitted law says C^{:.2}",
                iso.minima.len(),
                iso.exponent,
                a.beta.value / (a.alpha.value + a.beta.value)
            );
        }
        None => {
            let _ = writeln!(out, "{li}IsoFLOP minima (approach 2): none; they need runs of at least 3 sizes at equal compute, with the best size inside them");
        }
    }
    for note in &points.notes {
        let _ = writeln!(out, "{li}note: {note}");
    }
    if a.warnings.is_empty() {
        let _ = writeln!(out, "{li}no warning: enough sizes and budgets, intervals narrower than the values, fresh data");
    }
    for w in &a.warnings {
        let _ = writeln!(out, "{li}warning: {w}");
    }
    for (run, why) in &a.left_out {
        let _ = writeln!(out, "{li}left out: {run} ({why})");
    }
    out
}

/// The chart of loss against compute, log–log: every run, the fitted frontier (the
/// compute-optimal loss) with its interval band, and the predicted points at 10× and 100×.
pub fn chart_svg(a: &Analysis, points: &Points) -> anyhow::Result<String> {
    use plotters::prelude::*;
    let obs: Vec<(f64, f64)> = points.runs.iter().filter(|r| r.left_out.is_none()).flat_map(|r| r.obs.first()).map(|o| (6.0 * o.n * o.d, o.loss)).collect();
    let far = a.optima.iter().map(|o| o.flops).fold(0.0, f64::max);
    let c_lo = obs.iter().map(|p| p.0).fold(f64::INFINITY, f64::min) / 2.0;
    let c_hi = far * 2.0;
    let frontier: Vec<(f64, f64, f64, f64)> = (0..=60)
        .map(|i| {
            let c = c_lo * (c_hi / c_lo).powf(i as f64 / 60.0);
            let (n, d) = scaling::optimal(&a.law, c);
            let band = a.predict_optimal(c);
            (c, a.law.loss(n, d), band.low, band.high)
        })
        .collect();
    let l_lo = frontier.iter().map(|f| f.2).chain(obs.iter().map(|p| p.1)).fold(f64::INFINITY, f64::min) * 0.95;
    let l_hi = obs.iter().map(|p| p.1).fold(0.0, f64::max) * 1.05;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (720, 440)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("loss against compute: runs, fitted frontier (95% band), predictions", ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d((c_lo..c_hi).log_scale(), (l_lo..l_hi).log_scale())?;
        chart.configure_mesh().x_desc("training FLOPs (6·N·D)").y_desc("final val loss").x_label_formatter(&|x| format!("{x:.0e}")).draw()?;
        let band: Vec<(f64, f64)> = frontier.iter().map(|f| (f.0, f.3)).chain(frontier.iter().rev().map(|f| (f.0, f.2))).collect();
        chart.draw_series(std::iter::once(Polygon::new(band, RGBColor(31, 119, 180).mix(0.15))))?;
        chart
            .draw_series(LineSeries::new(frontier.iter().map(|f| (f.0, f.1)), RGBColor(31, 119, 180).stroke_width(2)))?
            .label("compute-optimal loss (fit)")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], RGBColor(31, 119, 180)));
        chart
            .draw_series(obs.iter().map(|&(c, l)| Circle::new((c, l), 4, BLACK.filled())))?
            .label("runs")
            .legend(|(x, y)| Circle::new((x + 8, y), 4, BLACK.filled()));
        chart
            .draw_series(
                a.optima.iter().filter(|o| o.label != "the sweep's largest budget").map(|o| Cross::new((o.flops, o.loss.value), 6, RED.stroke_width(2))),
            )?
            .label("predicted at 10× and 100×")
            .legend(|(x, y)| Cross::new((x + 8, y), 5, RED.stroke_width(2)));
        chart.configure_series_labels().position(SeriesLabelPosition::UpperRight).border_style(BLACK).background_style(WHITE.mix(0.9)).draw()?;
        root.present()?;
    }
    Ok(svg)
}

/// The fit of these points (None with fewer than five usable observations), with `budget`
/// FLOPs among the optima when given; the bootstrap is seeded, so the same runs give the
/// same intervals.
pub fn analyse(p: &Points, budget: Option<f64>) -> Option<Analysis> {
    scaling::analyse(&p.runs, budget, 1)
}

/// The fit of a sweep folder, when it qualifies (else None): its points and analysis.
pub fn of_sweep(sweep_dir: &Path, use_evals: bool, budget: Option<f64>) -> anyhow::Result<Option<(Points, Analysis)>> {
    let p = points(sweep_dir, use_evals)?;
    if !qualifies(&p) {
        return Ok(None);
    }
    Ok(analyse(&p, budget).map(|a| (p, a)))
}
