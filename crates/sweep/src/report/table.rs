//! The ranked report of a sweep: runs sorted by a metric, and for each swept parameter
//! the mean and best of that metric per value. Rendered as a terminal table, Markdown,
//! CSV or JSON; `report.md` and `report.csv` are rewritten after every finished run.

use crate::output::run_dir::load_all;
use crate::output::run_dir::write_atomic;
use crate::output::summary::{Status, Summary};
use crate::plan::run_id::format_value;
use crate::report::pruning::{CloseCalls, close_calls};
use crate::report::stats;
use crate::report::text_table::{PLAIN, table};
use comfy_table::presets;

/// The text and Markdown reports give the diagnosis sentence of this many best runs.
const DIAGNOSED: usize = 5;
use serde::Serialize;
use serde_json::Value;
use std::cmp::Ordering;
use std::path::Path;

/// Output formats of `sweep report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Md,
    Csv,
    Json,
}

/// Ranking options: `by` is any summary field (`val_loss` = best_val_loss) or parameter.
#[derive(Debug, Clone)]
pub struct RankBy {
    pub by: String,
    pub desc: bool,
    pub top: Option<usize>,
}

impl Default for RankBy {
    fn default() -> Self {
        RankBy { by: "val_loss".into(), desc: false, top: None }
    }
}

/// Done runs first, then runs stopped early (pruned, interrupted), then diverged and failed
/// runs, whatever their numbers (a diverged run's best val loss may be its step-0 loss).
fn tier(s: &Summary) -> u8 {
    match s.status {
        Status::Done => 0,
        Status::Pruned | Status::Interrupted => 1,
        Status::Diverged | Status::Failed => 2,
    }
}

/// Summaries sorted best first within each tier; runs without the metric go last.
pub fn rank<'a>(runs: &'a [Summary], opts: &RankBy) -> Vec<&'a Summary> {
    let mut sorted: Vec<&Summary> = runs.iter().collect();
    sorted.sort_by(|a, b| {
        tier(a).cmp(&tier(b)).then_with(|| match (a.metric(&opts.by), b.metric(&opts.by)) {
            (Some(x), Some(y)) => {
                let o = compare(&x, &y);
                if opts.desc { o.reverse() } else { o }
            }
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => a.run_id.cmp(&b.run_id),
        })
    });
    sorted.truncate(opts.top.unwrap_or(usize::MAX));
    sorted
}

fn compare(a: &Value, b: &Value) -> Ordering {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        _ => a.to_string().cmp(&b.to_string()),
    }
}

/// Mean and best of the metric over the runs with one value of one parameter.
#[derive(Debug, Clone, Serialize)]
pub struct ValueStats {
    pub value: Value,
    pub runs: usize,
    pub mean: f64,
    pub best: f64,
    pub best_run: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ParamEffect {
    pub param: String,
    pub metric: String,
    pub values: Vec<ValueStats>,
    /// For a parameter drawn from a continuous range (more than `MAX_VALUES` distinct
    /// numbers): the lowest value, then the upper edge of each range its runs are grouped
    /// into; each value above is then a range such as "1e-4–3e-4".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bins: Option<Vec<f64>>,
}

/// More distinct values than this, all numbers, and a parameter's runs are grouped into
/// `BINS` ranges of about equal counts (random and TPE search draw a new value for every run).
pub const MAX_VALUES: usize = 8;
pub const BINS: usize = 4;

impl ParamEffect {
    /// Which of `values` a run's value falls in.
    pub fn position(&self, v: &Value) -> Option<usize> {
        let label = match &self.bins {
            None => v.clone(),
            Some(edges) => Value::String(bin_label(edges, bin_of(edges, v.as_f64()?))),
        };
        self.values.iter().position(|vs| vs.value == label)
    }
}

/// The range a number falls in, given the lowest value and the upper edges.
fn bin_of(edges: &[f64], x: f64) -> usize {
    (1..edges.len()).find(|&i| x <= edges[i]).unwrap_or(edges.len() - 1) - 1
}

/// "1e-4–3e-4": a range from its lower edge (the lowest value, or the previous range's
/// upper edge) to its own.
fn bin_label(edges: &[f64], bin: usize) -> String {
    // Three significant digits, in the run ids' notation: 9.000000000000001e-3 is 9e-3.
    let short = |x: f64| format_value(&serde_json::json!(format!("{x:.2e}").parse::<f64>().unwrap_or(x)));
    format!("{}–{}", short(edges[bin]), short(edges[bin + 1]))
}

/// The lowest value and the upper edges of `BINS` ranges of about equal counts, when the
/// values are more than `MAX_VALUES` distinct numbers; None otherwise.
fn bin_edges<'v>(values: impl Iterator<Item = &'v Value>) -> Option<Vec<f64>> {
    let mut xs: Vec<f64> = Vec::new();
    for v in values {
        xs.push(v.as_f64().filter(|x| x.is_finite())?);
    }
    xs.sort_by(f64::total_cmp);
    let mut distinct = xs.clone();
    distinct.dedup();
    if distinct.len() <= MAX_VALUES {
        return None;
    }
    let mut edges: Vec<f64> = std::iter::once(xs[0]).chain((1..=BINS).map(|b| xs[(b * xs.len()).div_ceil(BINS) - 1])).collect();
    edges.dedup();
    Some(edges)
}

/// The numeric metric the per-parameter tables use: the ranking metric when it is a
/// summary number, else val_loss.
fn effect_metric(runs: &[Summary], opts: &RankBy) -> String {
    let is_param = runs.iter().any(|s| s.params.contains_key(&opts.by));
    if is_param { "val_loss".into() } else { opts.by.clone() }
}

/// For each swept parameter, stats of the metric per value over runs that finished done.
pub fn param_effects(runs: &[Summary], opts: &RankBy) -> Vec<ParamEffect> {
    let metric = effect_metric(runs, opts);
    let desc = opts.desc && metric == opts.by;
    let done: Vec<(&Summary, f64)> = runs.iter().filter(|s| s.status == Status::Done).filter_map(|s| Some((s, s.metric(&metric)?.as_f64()?))).collect();
    let params: Vec<String> = runs.iter().flat_map(|s| s.params.keys().cloned()).fold(Vec::new(), |mut acc, k| {
        if !acc.contains(&k) {
            acc.push(k);
        }
        acc
    });
    params
        .into_iter()
        .map(|param| {
            let bins = bin_edges(done.iter().filter_map(|(s, _)| s.params.get(&param)));
            let mut values: Vec<ValueStats> = Vec::new();
            for (s, x) in &done {
                let Some(v) = s.params.get(&param) else { continue };
                let binned;
                let v = match &bins {
                    Some(edges) => {
                        let Some(x) = v.as_f64() else { continue };
                        binned = Value::String(bin_label(edges, bin_of(edges, x)));
                        &binned
                    }
                    None => v,
                };
                let better = |a: f64, b: f64| if desc { a > b } else { a < b };
                match values.iter_mut().find(|vs| &vs.value == v) {
                    Some(vs) => {
                        vs.mean += x;
                        vs.runs += 1;
                        if better(*x, vs.best) {
                            vs.best = *x;
                            vs.best_run = s.run_id.clone();
                        }
                    }
                    None => values.push(ValueStats { value: v.clone(), runs: 1, mean: *x, best: *x, best_run: s.run_id.clone() }),
                }
            }
            for vs in &mut values {
                vs.mean /= vs.runs as f64;
            }
            match &bins {
                // Ranges in the order of their edges.
                Some(edges) => values.sort_by_key(|vs| (0..edges.len() - 1).position(|b| Value::String(bin_label(edges, b)) == vs.value)),
                None => values.sort_by(|a, b| compare(&a.value, &b.value)),
            }
            ParamEffect { param, metric: metric.clone(), values, bins }
        })
        .filter(|e| !e.values.is_empty() && e.param != stats::SEED)
        .collect()
}

/// Whether the best value of a parameter beats the next best by more than seed noise:
/// "dropout = 0 beats 0.2 by 0.1050 (± 0.0200 seed noise): real", "n_layers = 2 vs 1: 0.0040
/// apart, within seed noise (± 0.0300): no difference", or without repeats the gap and that
/// it cannot be told from noise. `spread` is the pooled seed-to-seed standard deviation.
pub fn verdict(effect: &ParamEffect, desc: bool, spread: Option<f64>) -> Option<String> {
    if effect.values.len() < 2 {
        return None;
    }
    let mut by_mean: Vec<&ValueStats> = effect.values.iter().collect();
    by_mean.sort_by(|a, b| if desc { b.mean.total_cmp(&a.mean) } else { a.mean.total_cmp(&b.mean) });
    let (best, next) = (by_mean[0], by_mean[1]);
    // A best value with one finished run (a drawn number, or the one survivor of pruning)
    // has no average to speak of: the ranking already says it.
    if best.runs < 2 {
        return None;
    }
    let (p, b, n) = (&effect.param, format_value(&best.value), format_value(&next.value));
    let gap = (best.mean - next.mean).abs();
    let others = if by_mean.len() > 2 { " (the next best)" } else { "" };
    Some(match stats::judge(gap, spread, best.runs, next.runs) {
        (stats::Noise::Real, Some(se)) => format!("{p} = {b} beats {n}{others} by {gap:.4} {} (± {se:.4} seed noise): real", effect.metric),
        (stats::Noise::WithinNoise, Some(se)) => {
            format!("{p} = {b} vs {n}{others}: {gap:.4} apart, within seed noise (± {se:.4}): no difference")
        }
        _ => {
            let small = gap < stats::SMALL_GAP * best.mean.abs();
            let hint = if small { "; add `seed: [1, 2, 3]` to the grid to tell" } else { "" };
            format!(
                "{p} = {b} is best on average ({} {:.4} vs {:.4} for {n}{others}, {gap:.4} apart); without seed repeats this gap cannot be told from noise{hint}",
                effect.metric, best.mean, next.mean
            )
        }
    })
}

const COLUMNS: &[&str] = &["rank", "run", "status", "val_loss", "final_val", "train_loss", "ppl", "params", "epochs", "seconds", "GFLOP/s", "findings", "note"];

fn cells(rank: usize, s: &Summary) -> Vec<String> {
    let f = |v: Option<f64>, digits: usize| v.map_or("-".to_string(), |x| format!("{x:.digits$}"));
    vec![
        rank.to_string(),
        s.run_id.clone(),
        s.status_text(),
        f(s.best_val_loss, 4),
        f(s.final_val_loss, 4),
        f(s.final_train_loss, 4),
        f(s.perplexity, 2),
        s.n_params.map_or("-".into(), |n| format!("{:.3}M", n as f64 / 1e6)),
        f(s.epochs, 2),
        format!("{:.1}", s.wall_seconds),
        f(s.gflops, 1),
        s.finding_codes().join(","),
        s.error
            .as_deref()
            .or(s.pruned.as_ref().map(|p| p.rule.as_str()))
            .or(s.imported_from.as_deref())
            .and_then(|e| e.lines().next())
            .map(|e| if s.imported_from.as_deref() == Some(e) { format!("imported from {e}") } else { e.chars().take(100).collect() })
            .unwrap_or_else(|| if s.packed_with.is_empty() { String::new() } else { format!("packed with {} other run(s)", s.packed_with.len()) }),
    ]
}

fn render_text(runs: &[Summary], opts: &RankBy, preset: &str, heading: &dyn Fn(&str) -> String, close: Option<&CloseCalls>) -> String {
    let ranked = rank(runs, opts);
    let mut header: Vec<String> = COLUMNS.iter().map(|s| s.to_string()).collect();
    let extra = !COLUMNS.contains(&opts.by.as_str()) && opts.by != "best_val_loss";
    if extra {
        header.insert(3, opts.by.clone());
    }
    let rows = ranked
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut c = cells(i + 1, s);
            if extra {
                c.insert(3, s.metric(&opts.by).map_or("-".into(), |v| format_value(&v)));
            }
            c
        })
        .collect();
    let order = if opts.desc { "highest first" } else { "lowest first" };
    let shown = match opts.top {
        Some(k) if k < runs.len() => format!("top {k} of {} runs", runs.len()),
        _ => format!("{} runs", runs.len()),
    };
    let mut out = format!("{}\n{}\n", heading(&format!("{shown} ranked by {} ({order})", opts.by)), table(preset, header, rows));
    let diagnosed: Vec<&Summary> = ranked.iter().copied().filter(|s| s.verdict.is_some()).take(DIAGNOSED).collect();
    if !diagnosed.is_empty() {
        out.push_str(&format!("\n{}\n", heading(&format!("diagnosis of the best {} runs", diagnosed.len()))));
        for s in diagnosed {
            out.push_str(&format!("- {}: {}\n", s.run_id, s.verdict.as_deref().unwrap_or_default()));
        }
    }
    let metric = effect_metric(runs, opts);
    let desc = opts.desc && metric == opts.by;
    let configs = stats::configs(runs, &metric, desc);
    let spread = stats::seed_spread(&configs);
    if let Some(sd) = spread {
        let header = vec!["configuration".to_string(), format!("{metric} mean ± std"), "seeds".into(), "best run".into()];
        let rows = configs
            .iter()
            .map(|c| {
                vec![c.label(), c.std.map_or(format!("{:.4}", c.mean), |s| format!("{:.4} ± {s:.4}", c.mean)), c.runs.len().to_string(), c.runs[0].0.clone()]
            })
            .collect();
        out.push_str(&format!(
            "\n{}\n{}\n\nseed-to-seed spread of {metric}: ± {sd:.4} (standard deviation pooled over the configurations with repeats)\n",
            heading("configurations over seeds"),
            table(preset, header, rows)
        ));
    }
    for effect in param_effects(runs, opts) {
        let header = vec![effect.param.clone(), "runs".into(), format!("mean {}", effect.metric), format!("best {}", effect.metric), "best run".into()];
        let rows = effect
            .values
            .iter()
            .map(|v| vec![format_value(&v.value), v.runs.to_string(), format!("{:.4}", v.mean), format!("{:.4}", v.best), v.best_run.clone()])
            .collect();
        out.push_str(&format!("\n{}\n{}\n", heading(&format!("by {}", effect.param)), table(preset, header, rows)));
        if let Some(v) = verdict(&effect, desc, spread) {
            out.push_str(&format!("\n{v}\n"));
        }
    }
    let picture = sweep_picture(runs);
    if !picture.is_empty() {
        out.push_str(&format!("\n{}\n", heading("across the sweep")));
        for line in picture {
            out.push_str(&format!("- {line}\n"));
        }
    }
    if let Some(saved) = crate::report::savings::savings(runs) {
        out.push_str(&format!(
            "\n{}\n{}; the decisions, with the runs each was compared with, are in early_stop.jsonl.\n",
            heading("early termination"),
            saved.line(runs.len())
        ));
        if let Some(close) = close {
            out.push_str(&close.text());
        }
    }
    let not_done = runs.iter().filter(|s| s.status != Status::Done).count();
    if not_done > 0 {
        out.push_str(&format!("\n{not_done} run(s) did not finish (failed, diverged, interrupted or pruned) and are left out of the per-parameter tables.\n"));
    }
    out
}

pub fn render(runs: &[Summary], opts: &RankBy, format: Format) -> anyhow::Result<String> {
    render_with(runs, opts, format, None)
}

/// The report of the runs of `sweep_dir`, with what early termination may have cost (the
/// pruned runs that may have been the best, read from their loss.csv).
pub fn render_sweep(sweep_dir: &Path, runs: &[Summary], opts: &RankBy, format: Format) -> anyhow::Result<String> {
    let close = close_calls(sweep_dir, runs);
    render_with(runs, opts, format, close.as_ref())
}

fn render_with(runs: &[Summary], opts: &RankBy, format: Format, close: Option<&CloseCalls>) -> anyhow::Result<String> {
    Ok(match format {
        Format::Table => render_text(runs, opts, PLAIN, &|h| h.to_string(), close),
        Format::Md => render_text(runs, opts, presets::ASCII_MARKDOWN, &|h| format!("## {h}\n"), close),
        Format::Csv => render_csv(runs, opts)?,
        Format::Json => {
            let ranked = rank(runs, opts);
            let effects = param_effects(runs, opts);
            let metric = effect_metric(runs, opts);
            let desc = opts.desc && metric == opts.by;
            let configs = stats::configs(runs, &metric, desc);
            let spread = stats::seed_spread(&configs);
            let verdicts: Vec<String> = effects.iter().filter_map(|e| verdict(e, desc, spread)).collect();
            serde_json::to_string_pretty(&serde_json::json!({
                "by": opts.by, "desc": opts.desc, "runs": ranked, "by_param": effects, "verdicts": verdicts,
                "configs": configs, "seed_spread": spread, "across_the_sweep": sweep_picture(runs)
            }))? + "\n"
        }
    })
}

fn render_csv(runs: &[Summary], opts: &RankBy) -> anyhow::Result<String> {
    let params: Vec<String> = runs.first().map(|s| s.params.keys().cloned().collect()).unwrap_or_default();
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = [
        "rank",
        "run_id",
        "status",
        "best_val_loss",
        "best_step",
        "final_val_loss",
        "final_train_loss",
        "perplexity",
        "n_params",
        "tokens_seen",
        "epochs",
        "wall_seconds",
        "tokens_per_second",
        "gflops",
        "findings",
        "verdict",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    header.extend(params.iter().cloned());
    header.extend(["config_mean_val_loss".to_string(), "config_std_val_loss".into(), "config_runs".into()]);
    header.push("error".into());
    // Each run's configuration (its values but the seed) over seeds.
    let configs = stats::configs(runs, "val_loss", false);
    let config_of = |id: &str| configs.iter().find(|c| c.runs.iter().any(|r| r.0 == id));
    w.write_record(&header)?;
    let num = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
    let int = |v: Option<u64>| v.map(|x| x.to_string()).unwrap_or_default();
    for (i, s) in rank(runs, opts).into_iter().enumerate() {
        let mut rec = vec![
            (i + 1).to_string(),
            s.run_id.clone(),
            s.status.as_str().into(),
            num(s.best_val_loss),
            int(s.best_step),
            num(s.final_val_loss),
            num(s.final_train_loss),
            num(s.perplexity),
            int(s.n_params),
            int(s.tokens_seen),
            num(s.epochs),
            s.wall_seconds.to_string(),
            num(s.tokens_per_second),
            num(s.gflops),
            s.finding_codes().join(" "),
            s.verdict.clone().unwrap_or_default(),
        ];
        rec.extend(params.iter().map(|p| s.params.get(p).map(format_value).unwrap_or_default()));
        let c = config_of(&s.run_id);
        rec.extend([
            c.map(|c| c.mean.to_string()).unwrap_or_default(),
            c.and_then(|c| c.std).map(|x| x.to_string()).unwrap_or_default(),
            c.map(|c| c.runs.len().to_string()).unwrap_or_default(),
        ]);
        rec.push(s.error.clone().or(s.pruned.as_ref().map(|p| format!("pruned at step {}: {}", p.at_step, p.rule))).unwrap_or_default());
        w.write_record(&rec)?;
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}

/// Sweep-level statements tying findings (and failures) to parameter values.
pub fn sweep_picture(runs: &[Summary]) -> Vec<String> {
    use diagnose::sweep_level::{RunFindings, patterns};
    let view: Vec<RunFindings> = runs
        .iter()
        .map(|s| {
            let mut codes: std::collections::BTreeSet<String> = s.finding_codes().into_iter().map(str::to_string).collect();
            if s.status == Status::Failed {
                codes.insert("failed".into());
            }
            if s.status == Status::Diverged {
                codes.insert("diverged".into());
            }
            RunFindings { params: s.params.iter().map(|(k, v)| (k.as_str(), v)).collect(), codes }
        })
        .collect();
    // Pruned and interrupted runs were not diagnosed: "no other run did" must not count them.
    let view: Vec<RunFindings> =
        view.into_iter().zip(runs).filter(|(_, s)| !matches!(s.status, Status::Pruned | Status::Interrupted)).map(|(v, _)| v).collect();
    if view.len() < 2 { Vec::new() } else { patterns(&view) }
}

/// Rewrites `report.md` and `report.csv` in the sweep folder, ranked by val_loss.
pub fn write_sweep_reports(sweep_dir: &Path) -> anyhow::Result<()> {
    let runs = load_all(sweep_dir)?;
    let opts = RankBy::default();
    let mut md = render_sweep(sweep_dir, &runs, &opts, Format::Md)?;
    let objectives = crate::plan::spec::Spec::saved(sweep_dir).map(|s| s.objectives).unwrap_or_default();
    if let Some(front) = crate::report::pareto::of_runs(&runs, &objectives) {
        let (head, rows) = front.cells();
        md.push_str(&format!("\n## Pareto front\n\n{}.\n\n{}\n", front.headline(), table(presets::ASCII_MARKDOWN, head, rows)));
    }
    if let Some((points, fit)) = crate::report::scaling::of_sweep(sweep_dir, false, None)? {
        let name = sweep_dir.file_name().map_or("sweep".into(), |n| n.to_string_lossy().into_owned());
        md.push_str("\n## Scaling law\n\n");
        md.push_str(&crate::report::scaling::render(&name, &fit, &points, true));
    }
    write_atomic(&sweep_dir.join("report.md"), md.as_bytes())?;
    write_atomic(&sweep_dir.join("report.csv"), render(&runs, &opts, Format::Csv)?.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(id: &str, lr: f64, dropout: f64, loss: Option<f64>) -> Summary {
        let params = [("lr".to_string(), json!(lr)), ("dropout".to_string(), json!(dropout))].into_iter().collect();
        let mut s = Summary::failed(id, params, 1.0, "out of memory".into());
        if let Some(l) = loss {
            s.status = Status::Done;
            s.error = None;
            s.best_val_loss = Some(l);
            s.final_val_loss = Some(l + 0.5);
        }
        s
    }

    fn runs() -> Vec<Summary> {
        vec![
            run("lr1e-3_do0", 1e-3, 0.0, Some(2.0)),
            run("lr1e-3_do0.1", 1e-3, 0.1, Some(1.8)),
            run("lr1e-2_do0", 1e-2, 0.0, Some(2.6)),
            run("lr1e-2_do0.1", 1e-2, 0.1, None),
        ]
    }

    #[test]
    fn ranks_best_first_and_failed_last() {
        let r = runs();
        let ids: Vec<&str> = rank(&r, &RankBy::default()).iter().map(|s| s.run_id.as_str()).collect();
        assert_eq!(ids, ["lr1e-3_do0.1", "lr1e-3_do0", "lr1e-2_do0", "lr1e-2_do0.1"]);
        let desc = RankBy { desc: true, top: Some(2), ..Default::default() };
        let ids: Vec<&str> = rank(&r, &desc).iter().map(|s| s.run_id.as_str()).collect();
        assert_eq!(ids, ["lr1e-2_do0", "lr1e-3_do0"]);
        let by_lr = RankBy { by: "lr".into(), ..Default::default() };
        assert_eq!(rank(&r, &by_lr)[0].params["lr"], json!(1e-3));
    }

    #[test]
    fn per_parameter_means_and_bests() {
        let effects = param_effects(&runs(), &RankBy::default());
        let lr = &effects[0];
        assert_eq!(lr.param, "lr");
        assert_eq!(lr.values.len(), 2);
        assert_eq!((lr.values[0].runs, lr.values[0].mean, lr.values[0].best), (2, 1.9, 1.8));
        assert_eq!(lr.values[0].best_run, "lr1e-3_do0.1");
        assert_eq!(lr.values[1].runs, 1, "the failed run is left out");
        assert_eq!(
            verdict(lr, false, None).unwrap(),
            "lr = 1e-3 is best on average (val_loss 1.9000 vs 2.6000 for 1e-2, 0.7000 apart); without seed repeats this gap cannot be told from noise"
        );
        // Best by the one run it has: no claim about an average.
        assert_eq!(verdict(lr, true, None), None);
        // With a seed spread: se = 0.1 · sqrt(1/2 + 1/1) = 0.1225; 0.7 is real, and 0.2 would not be.
        assert_eq!(verdict(lr, false, Some(0.1)).unwrap(), "lr = 1e-3 beats 1e-2 by 0.7000 val_loss (± 0.1225 seed noise): real");
        assert_eq!(verdict(lr, false, Some(0.5)).unwrap(), "lr = 1e-3 vs 1e-2: 0.7000 apart, within seed noise (± 0.6124): no difference");
    }

    #[test]
    fn a_parameter_drawn_from_a_range_is_grouped_into_four_ranges() {
        let runs: Vec<Summary> = (1..=12).map(|i| run(&format!("r{i}"), i as f64 * 1e-3, 0.0, Some(3.0 - i as f64 * 0.1))).collect();
        let lr = param_effects(&runs, &RankBy::default()).into_iter().find(|e| e.param == "lr").unwrap();
        let labels: Vec<String> = lr.values.iter().map(|v| v.value.as_str().unwrap().to_string()).collect();
        assert_eq!(labels, ["1e-3–3e-3", "3e-3–6e-3", "6e-3–9e-3", "9e-3–0.012"]);
        assert_eq!(lr.values.iter().map(|v| v.runs).collect::<Vec<_>>(), [3, 3, 3, 3]);
        assert_eq!(lr.position(&json!(0.0105)), Some(3));
        assert_eq!(lr.position(&json!(1e-3)), Some(0));
        // Eight distinct values or fewer stay values.
        let few: Vec<Summary> = (1..=8).map(|i| run(&format!("r{i}"), i as f64 * 1e-3, 0.0, Some(2.0))).collect();
        assert!(param_effects(&few, &RankBy::default())[0].bins.is_none());
    }

    #[test]
    fn markdown_report() {
        let md = render(&runs(), &RankBy::default(), Format::Md).unwrap();
        assert!(md.starts_with("## 4 runs ranked by val_loss (lowest first)"), "{md}");
        assert!(md.contains("| 1    | lr1e-3_do0.1 | done   | 1.8000"), "{md}");
        assert!(md.contains("## by dropout"), "{md}");
        assert!(md.contains("1 run(s) did not finish"), "{md}");
    }

    #[test]
    fn csv_report_has_params_and_errors() {
        let mut runs = runs();
        let best = runs.iter_mut().find(|s| s.run_id == "lr1e-3_do0.1").unwrap();
        best.verdict = Some("Still improving at step 250: a healthy run, grow it.".into());
        let csv = render(&runs, &RankBy::default(), Format::Csv).unwrap();
        let mut lines = csv.lines();
        assert!(lines.next().unwrap().ends_with(",findings,verdict,lr,dropout,config_mean_val_loss,config_std_val_loss,config_runs,error"));
        assert_eq!(lines.next().unwrap(), "1,lr1e-3_do0.1,done,1.8,,2.3,,,,,,1,,,,\"Still improving at step 250: a healthy run, grow it.\",1e-3,0.1,1.8,,1,");
        assert!(csv.lines().last().unwrap().ends_with(",out of memory"));
    }
}
