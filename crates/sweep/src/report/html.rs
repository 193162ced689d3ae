//! `index.html` in a sweep folder: one page that works from the file system, with no server
//! and no network (inline CSS, a few lines of inline JavaScript to sort the table, SVG charts
//! in `plots/` beside it). It shows the ranked runs (click a header to sort; each row links
//! to the run's files), the noise-aware verdicts, the best runs' curves overlaid, the metric
//! against each parameter, a heatmap over the two most important parameters, parallel
//! coordinates of every run, parameter importance, and the best runs' samples side by side.
//! It opens with what the sweep found (the best configuration and its curve, the verdicts
//! that stand out of the noise, the Pareto front when the spec has several objectives, the
//! fit when there is one). While `sweep run` trains, the page is live: a banner says how
//! many runs are done, running and pending, with the running runs' latest val loss, and the
//! page reloads itself every 30 s until the sweep ends and the page is written without it.

use crate::exec::hooks::{LIVE_EVERY_S, Progress};
use crate::output::loss_csv::{self, LossRow};
use crate::output::run_dir::{RunDir, write_atomic};
use crate::output::summary::{Status, Summary};
use crate::plan::run_id::format_value;
use crate::report::{RankBy, charts, param_effects, rank, stats, verdict};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Runs whose curves are overlaid and whose samples are shown.
pub const TOP_K: usize = 8;

/// Escapes text for HTML.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// `text` with its `backquoted` parts as <code> (verdicts quote spec lines that way).
fn code_spans(text: &str) -> String {
    text.split('`').enumerate().map(|(i, part)| if i % 2 == 1 { format!("<code>{part}</code>") } else { part.to_string() }).collect()
}

/// Each parameter's share of the variance of the metric over finished runs: the variance of
/// its per-value means (weighted by runs) over the total variance, a main-effects functional
/// ANOVA. On a full grid the shares add up to at most 1; the rest is interactions and noise.
pub fn importance(runs: &[Summary], metric: &str) -> Vec<(String, f64)> {
    let done: Vec<(&Summary, f64)> =
        runs.iter().filter(|s| s.status == Status::Done).filter_map(|s| Some((s, s.metric(metric)?.as_f64()?))).filter(|r| r.1.is_finite()).collect();
    let n = done.len() as f64;
    if done.len() < 2 {
        return Vec::new();
    }
    let mean = done.iter().map(|r| r.1).sum::<f64>() / n;
    let total = done.iter().map(|r| (r.1 - mean).powi(2)).sum::<f64>() / n;
    let effects = param_effects(runs, &RankBy { by: metric.into(), ..Default::default() });
    let mut out: Vec<(String, f64)> = effects
        .iter()
        .filter(|e| e.values.len() > 1)
        .map(|e| {
            let between = e.values.iter().map(|v| v.runs as f64 / n * (v.mean - mean).powi(2)).sum::<f64>();
            (e.param.clone(), if total > 0.0 { between / total } else { 0.0 })
        })
        .collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1));
    out
}

/// Writes `index.html` and its charts in `plots/`, as the sweep ended; returns the page's path.
pub fn write(sweep_dir: &Path) -> anyhow::Result<PathBuf> {
    write_page(sweep_dir, None)
}

/// The live banner: where the sweep stands, and the running runs' latest val loss.
fn live_banner(sweep_dir: &Path, done: usize, p: &Progress) -> String {
    let latest: Vec<String> = p
        .running
        .iter()
        .map(|id| {
            let rows = loss_csv::read_complete(&RunDir::new(sweep_dir.join(id)).loss_csv());
            match rows.last() {
                Some(r) => format!("<li>{}: val loss {:.4} at step {}</li>", escape(id), r.val_loss, r.step),
                None => format!("<li>{}: no evaluation yet</li>", escape(id)),
            }
        })
        .collect();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    format!(
        "<div id=\"live\" class=\"live\"><strong>Live: this sweep is running.</strong> {done} run(s) finished, {} running, {} pending. \
         This page was written at {} UTC and reloads itself every {LIVE_EVERY_S} s until the sweep ends.<ul>{}</ul></div>\n",
        p.running.len(),
        p.pending,
        clock(now),
        latest.join("")
    )
}

/// HH:MM:SS of a Unix time, UTC.
fn clock(secs: u64) -> String {
    format!("{:02}:{:02}:{:02}", secs / 3600 % 24, secs / 60 % 60, secs % 60)
}

/// Writes `index.html`: live (with the banner, reloading itself) while `live` is given.
pub fn write_page(sweep_dir: &Path, live: Option<&Progress>) -> anyhow::Result<PathBuf> {
    let runs = crate::output::run_dir::load_all(sweep_dir)?;
    let name = sweep_dir.file_name().map_or("sweep".into(), |n| n.to_string_lossy().into_owned());
    let plots = sweep_dir.join("plots");
    std::fs::create_dir_all(&plots)?;
    let opts = RankBy::default();
    let metric = "val_loss";
    let ranked = rank(&runs, &opts);
    let configs = stats::configs(&runs, metric, false);
    let spread = stats::seed_spread(&configs);
    let effects = param_effects(&runs, &opts);
    let shares = importance(&runs, metric);
    let curves: Vec<(String, Vec<LossRow>)> = ranked
        .iter()
        .filter(|s| s.status == Status::Done)
        .take(TOP_K)
        .map(|s| (s.run_id.clone(), loss_csv::read_complete(&RunDir::new(sweep_dir.join(&s.run_id)).loss_csv())))
        .collect();
    let pick = |f: fn(&LossRow) -> f64| -> Vec<(String, Vec<(u64, f64)>)> {
        curves.iter().map(|(id, rows)| (id.clone(), rows.iter().map(|r| (r.step, f(r))).collect())).collect()
    };
    let mut html = String::new();
    let figure = |file: &str, alt: &str| format!("<figure><img src=\"plots/{file}\" alt=\"{}\"></figure>\n", escape(alt));

    // Header.
    let count = |st: Status| runs.iter().filter(|s| s.status == st).count();
    let counts: Vec<String> = [Status::Done, Status::Pruned, Status::Interrupted, Status::Diverged, Status::Failed]
        .into_iter()
        .filter(|&st| count(st) > 0)
        .map(|st| format!("{} {}", count(st), st.as_str()))
        .collect();
    if let Some(p) = live {
        html.push_str(&live_banner(sweep_dir, runs.iter().filter(|s| s.imported_from.is_none()).count(), p));
    }
    html.push_str(&format!("<h1>sweep {}</h1>\n<p>{} runs: {}. Ranked by best val loss, lowest first; ", escape(&name), runs.len(), counts.join(", ")));
    html.push_str(&match spread {
        Some(sd) => format!(
            "seed-to-seed spread of val loss ± {sd:.4} (pooled over {} configurations run with several seeds).</p>\n",
            configs.iter().filter(|c| c.std.is_some()).count()
        ),
        None => {
            "no configuration was run with several seeds, so gaps between runs cannot be told from noise (add <code>seed: [1, 2, 3]</code> to the grid).</p>\n"
                .into()
        }
    });

    // What the sweep found, before the full table.
    let objectives = crate::plan::spec::Spec::saved(sweep_dir).map(|s| s.objectives).unwrap_or_default();
    let front = crate::report::pareto::of_runs(&runs, &objectives);
    // The fit (L-BFGS over bootstrap resamples) is drawn once, when the sweep has ended,
    // not every time the live page is rewritten.
    let scaling = if live.is_some() { None } else { crate::report::scaling::of_sweep(sweep_dir, false, None)? };
    found(&mut html, sweep_dir, &plots, &ranked, &effects, spread, front.as_ref(), scaling.is_some())?;

    // The ranked table.
    let params: Vec<String> = runs.iter().flat_map(|s| s.params.keys().cloned()).fold(Vec::new(), |mut acc, k| {
        if !acc.contains(&k) {
            acc.push(k);
        }
        acc
    });
    html.push_str("<h2>Runs</h2>\n<p class=\"hint\">Click a column header to sort by it; click again to reverse.</p>\n<table id=\"runs\">\n<thead><tr>");
    let mut heads: Vec<(&str, bool)> = vec![("rank", true), ("run", false), ("status", false), ("best val", true)];
    // The configuration's mean ± std over seeds only says something when seeds repeat.
    let seeds = spread.is_some();
    if seeds {
        heads.push(("config mean ± std", true));
    }
    heads.extend([("final val", true), ("train", true), ("params", true), ("epochs", true), ("seconds", true)]);
    let param_heads: Vec<(&str, bool)> = params.iter().map(|p| (p.as_str(), true)).collect();
    heads.extend(param_heads);
    heads.extend([("findings", false), ("note", false), ("files", false)]);
    for (h, num) in &heads {
        html.push_str(&format!("<th data-type=\"{}\">{}</th>", if *num { "num" } else { "text" }, escape(h)));
    }
    html.push_str("</tr></thead>\n<tbody>\n");
    for (i, s) in ranked.iter().enumerate() {
        let num = |v: Option<f64>, d: usize| match v {
            Some(x) if x.is_finite() => format!("<td data-sort=\"{x}\">{x:.d$}</td>"),
            _ => "<td data-sort=\"\">-</td>".into(),
        };
        let config = configs.iter().find(|c| c.runs.iter().any(|r| r.0 == s.run_id));
        let config_cell = match config {
            _ if !seeds => String::new(),
            Some(c) => format!(
                "<td data-sort=\"{}\">{}</td>",
                c.mean,
                escape(&c.std.map_or(format!("{:.4}", c.mean), |sd| format!("{:.4} ± {sd:.4} ({})", c.mean, c.runs.len())))
            ),
            None => "<td data-sort=\"\">-</td>".into(),
        };
        let imported = s.imported_from.as_deref().map(|from| format!("imported from {from} (warm_start:), not trained here"));
        let note = s.error.as_deref().or(s.pruned.as_ref().map(|p| p.rule.as_str())).or(imported.as_deref()).and_then(|e| e.lines().next()).unwrap_or_default();
        let dir = RunDir::new(sweep_dir.join(&s.run_id));
        let mut files: Vec<String> =
            [("loss.csv", dir.loss_csv()), ("loss.png", dir.loss_png()), ("samples.txt", dir.samples()), ("summary.json", dir.summary())]
                .into_iter()
                .filter(|(_, p)| p.exists())
                .map(|(label, _)| format!("<a href=\"{}/{label}\">{label}</a>", escape(&s.run_id)))
                .collect();
        if let Some(from) = &s.imported_from {
            files.push(format!("<a href=\"{}\">original</a>", escape(&relative_link(sweep_dir, Path::new(from)))));
        }
        html.push_str(&format!(
            "<tr class=\"{}\"><td data-sort=\"{}\">{}</td><td>{}</td><td>{}</td>{}{}{}{}<td data-sort=\"{}\">{}</td>{}<td data-sort=\"{}\">{:.1}</td>",
            s.status.as_str(),
            i + 1,
            i + 1,
            escape(&s.run_id),
            escape(&s.status_text()),
            num(s.best_val_loss, 4),
            config_cell,
            num(s.final_val_loss, 4),
            num(s.final_train_loss, 4),
            s.n_params.unwrap_or(0),
            s.n_params.map_or("-".into(), |n| format!("{:.3}M", n as f64 / 1e6)),
            num(s.epochs, 2),
            s.wall_seconds,
            s.wall_seconds
        ));
        for p in &params {
            let v = s.params.get(p);
            let sort = v.and_then(Value::as_f64).map_or_else(|| v.map(format_value).unwrap_or_default(), |x| x.to_string());
            html.push_str(&format!("<td data-sort=\"{}\">{}</td>", escape(&sort), escape(&v.map(format_value).unwrap_or_default())));
        }
        html.push_str(&format!(
            "<td title=\"{}\">{}</td><td>{}</td><td>{}</td></tr>\n",
            escape(s.verdict.as_deref().unwrap_or_default()),
            escape(&s.finding_codes().join(", ")),
            escape(note),
            files.join(" ")
        ));
    }
    html.push_str("</tbody>\n</table>\n");

    // The diagnosis of the best runs, one sentence each.
    let diagnosed: Vec<&Summary> = ranked.iter().copied().filter(|s| s.verdict.is_some()).take(TOP_K).collect();
    if !diagnosed.is_empty() {
        html.push_str(&format!("<h2>Diagnosis of the best {} runs</h2>\n<ul>\n", diagnosed.len()));
        for s in diagnosed {
            html.push_str(&format!("<li><strong>{}</strong>: {}</li>\n", escape(&s.run_id), code_spans(&escape(s.verdict.as_deref().unwrap_or_default()))));
        }
        html.push_str(
            "</ul>\n<p class=\"hint\">Each run's findings, with their evidence, are in its summary.json and in <code>sweep diagnose RUN_DIR</code>.</p>\n",
        );
    }

    // Early termination: what it saved, and the pruned runs that may have been the best.
    if let Some(saved) = crate::report::savings::savings(&runs) {
        html.push_str(&format!(
            "<h2>Early termination</h2>\n<p>{}; the decisions, with the runs each was compared with, are in early_stop.jsonl.</p>\n",
            escape(&saved.line(runs.len()))
        ));
        if let Some(close) = crate::report::pruning::close_calls(sweep_dir, &runs) {
            html.push_str(&format!("<p id=\"close-calls\">{}.</p>\n", code_spans(&escape(&close.headline()))));
            if !close.calls.is_empty() {
                html.push_str("<ul>\n");
                for line in close.lines() {
                    html.push_str(&format!("<li>{}</li>\n", escape(&line)));
                }
                html.push_str("</ul>\n");
            }
        }
    }

    // What each parameter did.
    if !effects.is_empty() {
        let verdicts: Vec<String> = effects.iter().filter_map(|e| verdict(e, false, spread)).collect();
        html.push_str(&format!("<h2 id=\"effects\">What each parameter did</h2>\n{}<div class=\"grid\">\n", bullets(&verdicts)));
        // A parameter with one value among the finished runs has nothing to show.
        for e in effects.iter().filter(|e| e.values.len() > 1) {
            let labels: Vec<String> = e.values.iter().map(|v| format_value(&v.value)).collect();
            let points: Vec<(usize, f64)> = runs
                .iter()
                .filter(|s| s.status == Status::Done)
                .filter_map(|s| Some((s.params.get(&e.param).and_then(|v| e.position(v))?, s.metric(metric)?.as_f64()?)))
                .collect();
            let file = format!("param_{}.svg", e.param);
            charts::param_chart(&plots.join(&file), &charts::ParamPoints { param: e.param.clone(), metric: metric.into(), labels, runs: points })?;
            html.push_str(&figure(&file, &format!("{metric} by {}", e.param)));
        }
        html.push_str("</div>\n<p class=\"hint\">Every finished run is a dot; the line joins the mean per value, with ± one standard deviation where a value has several runs.</p>\n");
    }

    // The Pareto front, when the spec judges runs by several objectives.
    if let Some(f) = &front {
        let file = "pareto.svg";
        charts::pareto(&plots.join(file), &f.objectives[0].label(), &f.objectives[1].label(), &f.points())?;
        html.push_str("<h2 id=\"pareto\">Pareto front</h2>\n");
        html.push_str(&figure(file, "the first two objectives of every finished run, the Pareto front joined"));
    }

    // The scaling law, when the sweep spans sizes and token budgets.
    if let Some((points, fit)) = scaling {
        std::fs::write(plots.join("scaling.svg"), crate::report::scaling::chart_svg(&fit, &points)?)?;
        html.push_str("<h2 id=\"scaling\">Scaling law</h2>\n");
        html.push_str(&format!("<pre style=\"white-space: pre-wrap\">{}</pre>\n", escape(&crate::report::scaling::render(&name, &fit, &points, false))));
        html.push_str(&figure("scaling.svg", "loss against compute, with the fitted frontier and its predictions"));
    }

    // Curves.
    html.push_str(&format!("<h2>Loss curves of the best {} runs</h2>\n", curves.len()));
    charts::overlay(&plots.join("val_top.svg"), "val loss of the best runs", "val loss (nats / token)", &pick(|r| r.val_loss))?;
    charts::overlay(&plots.join("train_top.svg"), "train loss of the best runs", "train loss (nats / token)", &pick(|r| r.train_loss))?;
    html.push_str(&figure("val_top.svg", "val loss curves of the best runs"));
    html.push_str(&figure("train_top.svg", "train loss curves of the best runs"));

    // Two parameters at once.
    let two: Vec<&crate::report::ParamEffect> = shares.iter().filter_map(|(p, _)| effects.iter().find(|e| &e.param == p)).take(2).collect();
    if let [a, b] = two[..] {
        let (la, lb): (Vec<String>, Vec<String>) =
            (a.values.iter().map(|v| format_value(&v.value)).collect(), b.values.iter().map(|v| format_value(&v.value)).collect());
        let mut cells: Vec<(usize, usize, f64)> = Vec::new();
        for s in runs.iter().filter(|s| s.status == Status::Done) {
            let (Some(i), Some(j), Some(x)) =
                (s.params.get(&a.param).and_then(|v| a.position(v)), s.params.get(&b.param).and_then(|v| b.position(v)), s.best_val_loss)
            else {
                continue;
            };
            match cells.iter_mut().find(|c| c.0 == i && c.1 == j) {
                Some(c) => c.2 = c.2.min(x),
                None => cells.push((i, j, x)),
            }
        }
        charts::heatmap(&plots.join("heatmap.svg"), &format!("best val loss by {} and {}", a.param, b.param), (&a.param, &la), (&b.param, &lb), &cells)?;
        html.push_str(&format!("<h2>{} and {} together</h2>\n", escape(&a.param), escape(&b.param)));
        html.push_str(&figure("heatmap.svg", "heatmap of best val loss over two parameters"));
        html.push_str("<p class=\"hint\">The two parameters that explain the most variance; each cell is the best val loss of the finished runs with those two values.</p>\n");
    }

    // Every run.
    let axes: Vec<(String, Vec<String>)> = effects.iter().map(|e| (e.param.clone(), e.values.iter().map(|v| format_value(&v.value)).collect())).collect();
    let lines: Vec<(Vec<usize>, f64)> = runs
        .iter()
        .filter(|s| s.status == Status::Done)
        .filter_map(|s| {
            let idx = effects.iter().map(|e| s.params.get(&e.param).and_then(|v| e.position(v))).collect::<Option<Vec<usize>>>()?;
            Some((idx, s.best_val_loss?))
        })
        .collect();
    if !axes.is_empty() {
        charts::parallel(&plots.join("parallel.svg"), &axes, "best val loss", &lines, true)?;
        html.push_str("<h2>Every run</h2>\n");
        html.push_str(&figure("parallel.svg", "parallel coordinates of every run"));
    }

    // Importance.
    if !shares.is_empty() {
        charts::importance(&plots.join("importance.svg"), &shares)?;
        html.push_str("<h2>Parameter importance</h2>\n");
        html.push_str(&figure("importance.svg", "parameter importance"));
        html.push_str("<p class=\"hint\">Method: a main-effects functional ANOVA over the finished runs. A parameter's share is the variance of its per-value means of best val loss (each weighted by its runs) over the total variance; what the shares leave is interactions and seed noise. Read it on full grids; on random draws the values are unevenly covered.</p>\n");
    }

    // Samples.
    let samples: Vec<(String, String)> =
        curves.iter().filter_map(|(id, _)| Some((id.clone(), std::fs::read_to_string(RunDir::new(sweep_dir.join(id)).samples()).ok()?))).collect();
    if !samples.is_empty() {
        html.push_str("<h2>What the best runs write</h2>\n<div class=\"samples\">\n");
        for (id, text) in &samples {
            let text: String = text.chars().take(1200).collect();
            html.push_str(&format!("<div><h3>{}</h3><pre>{}</pre></div>\n", escape(id), escape(&text)));
        }
        html.push_str("</div>\n");
    }

    // Each run's own plot, on demand.
    html.push_str("<h2>Each run's loss curve</h2>\n");
    for s in &ranked {
        if RunDir::new(sweep_dir.join(&s.run_id)).loss_png().exists() {
            html.push_str(&format!(
                "<details><summary>{id}{verdict}</summary><img loading=\"lazy\" src=\"{id}/loss.png\" alt=\"loss curve of {id}\"></details>\n",
                id = escape(&s.run_id),
                verdict = s.verdict.as_deref().map(|v| format!(": {}", escape(v))).unwrap_or_default()
            ));
        }
    }
    let refresh = if live.is_some() { format!("<meta http-equiv=\"refresh\" content=\"{LIVE_EVERY_S}\">\n") } else { String::new() };
    let page = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n{refresh}<title>sweep {}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n{html}<script>\n{SCRIPT}</script>\n</body>\n</html>\n",
        escape(&name)
    );
    let path = sweep_dir.join("index.html");
    write_atomic(&path, page.as_bytes())?;
    Ok(path)
}

const STYLE: &str = "body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; padding: 0 1em; color: #222; }
table { border-collapse: collapse; font-size: 13px; display: block; overflow-x: auto; }
th, td { padding: 3px 8px; border-bottom: 1px solid #e4e4e4; text-align: left; white-space: nowrap; }
th { cursor: pointer; background: #f4f4f4; position: sticky; top: 0; }
th.asc::after { content: ' ▲'; } th.desc::after { content: ' ▼'; }
tr.failed, tr.diverged { color: #a33; } tr.pruned, tr.interrupted { color: #777; }
.grid { display: flex; flex-wrap: wrap; gap: 8px; }
figure { margin: 0.5em 0; } img { max-width: 100%; }
.samples { display: grid; grid-template-columns: repeat(auto-fill, minmax(270px, 1fr)); gap: 12px; }
.samples pre { white-space: pre-wrap; background: #fafafa; border: 1px solid #eee; padding: 8px; font-size: 12px; max-height: 320px; overflow: auto; }
.hint { color: #666; font-size: 13px; }
.live { background: #fff6d8; border: 1px solid #e6c65c; padding: 8px 12px; margin-bottom: 1em; }
.found { background: #f3f8ff; border: 1px solid #cfe0f5; padding: 4px 16px 12px; }
";

/// A list of sentences, their `backquoted` parts as code.
fn bullets(items: &[String]) -> String {
    format!("<ul>\n{}</ul>\n", items.iter().map(|v| format!("<li>{}</li>\n", code_spans(&escape(v)))).collect::<String>())
}

/// A link from the sweep folder's page to `to` (absolute, or relative to the working folder).
fn relative_link(sweep_dir: &Path, to: &Path) -> String {
    let abs = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let (from, to) = (abs(sweep_dir), abs(to));
    let common = from.components().zip(to.components()).take_while(|(a, b)| a == b).count();
    let ups = from.components().count() - common;
    let rest: Vec<String> = to.components().skip(common).map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    std::iter::repeat_n("..".to_string(), ups).chain(rest).collect::<Vec<_>>().join("/")
}

/// "What the sweep found": the best run's configuration and curve, the verdicts that
/// stand out of the noise, the Pareto front's table, and a pointer to the fit.
#[allow(clippy::too_many_arguments)]
fn found(
    html: &mut String,
    sweep_dir: &Path,
    plots: &Path,
    ranked: &[&Summary],
    effects: &[crate::report::ParamEffect],
    spread: Option<f64>,
    front: Option<&crate::report::pareto::Front>,
    has_fit: bool,
) -> anyhow::Result<()> {
    let Some(best) = ranked.iter().find(|s| s.status == Status::Done) else { return Ok(()) };
    html.push_str("<section class=\"found\" id=\"found\">\n<h2>What the sweep found</h2>\n");
    let settings: Vec<String> = best.params.iter().map(|(k, v)| format!("<code>{}: {}</code>", escape(k), escape(&format_value(v)))).collect();
    html.push_str(&format!(
        "<p>Best run: <strong>{}</strong>, best val loss {:.4}{}{}.</p>\n",
        escape(&best.run_id),
        best.best_val_loss.unwrap_or(f64::NAN),
        best.best_step.map(|s| format!(" at step {s}")).unwrap_or_default(),
        if settings.is_empty() { String::new() } else { format!(", with {}", settings.join(", ")) }
    ));
    if let Some(v) = &best.verdict {
        html.push_str(&format!("<p>{}</p>\n", code_spans(&escape(v))));
    }
    let rows = loss_csv::read_complete(&RunDir::new(sweep_dir.join(&best.run_id)).loss_csv());
    if !rows.is_empty() {
        let series = vec![
            ("val".to_string(), rows.iter().map(|r| (r.step, r.val_loss)).collect()),
            ("train".to_string(), rows.iter().map(|r| (r.step, r.train_loss)).collect()),
        ];
        charts::overlay(&plots.join("best.svg"), &format!("{}: loss", best.run_id), "loss (nats / token)", &series)?;
        html.push_str("<figure><img src=\"plots/best.svg\" alt=\"the best run's loss curves\"></figure>\n");
    }
    // Only the effects that stand out of seed noise; the rest are listed further down.
    let real: Vec<String> = effects.iter().filter_map(|e| verdict(e, false, spread)).filter(|v| v.ends_with(": real")).collect();
    if real.is_empty() {
        html.push_str(&format!(
            "<p>No parameter's effect stands out of seed-to-seed noise{}; what each did is <a href=\"#effects\">below</a>.</p>\n",
            if spread.is_none() { " (no configuration was run with several seeds, so none can)" } else { "" }
        ));
    } else {
        html.push_str(&format!("<h3>Effects beyond seed noise</h3>\n{}", bullets(&real)));
    }
    if let Some(f) = front {
        let (head, rows) = f.cells();
        html.push_str(&format!("<h3>Pareto front</h3>\n<p>{}.</p>\n<table id=\"pareto-front\"><thead><tr>", escape(&f.headline())));
        for h in &head {
            html.push_str(&format!("<th>{}</th>", escape(h)));
        }
        html.push_str("</tr></thead><tbody>\n");
        for row in rows {
            html.push_str(&format!("<tr>{}</tr>\n", row.iter().map(|c| format!("<td>{}</td>", escape(c))).collect::<String>()));
        }
        html.push_str("</tbody></table>\n<p class=\"hint\">The chart is <a href=\"#pareto\">below</a>.</p>\n");
    }
    if has_fit {
        html.push_str("<p>The sweep spans model sizes and token budgets: its <a href=\"#scaling\">scaling law</a> is fitted below.</p>\n");
    }
    html.push_str("</section>\n");
    Ok(())
}

/// Sorting the table by a clicked header: numbers by their data-sort value, text as text.
const SCRIPT: &str = "document.querySelectorAll('#runs th').forEach((th, col) => {
  th.addEventListener('click', () => {
    const body = document.querySelector('#runs tbody');
    const numeric = th.dataset.type === 'num';
    const asc = !th.classList.contains('asc');
    document.querySelectorAll('#runs th').forEach(h => h.classList.remove('asc', 'desc'));
    th.classList.add(asc ? 'asc' : 'desc');
    const key = row => { const c = row.children[col]; return c.dataset.sort !== undefined ? c.dataset.sort : c.textContent; };
    const rows = Array.from(body.rows);
    rows.sort((a, b) => {
      let x = key(a), y = key(b);
      if (numeric) {
        const fx = parseFloat(x), fy = parseFloat(y);
        if (isNaN(fx) && isNaN(fy)) return 0;
        if (isNaN(fx)) return 1;
        if (isNaN(fy)) return -1;
        return asc ? fx - fy : fy - fx;
      }
      return asc ? x.localeCompare(y) : y.localeCompare(x);
    });
    rows.forEach(r => body.appendChild(r));
  });
});
";

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn summary(id: &str, lr: f64, loss: Option<f64>) -> Summary {
        let mut s = Summary::failed(id, [("lr".to_string(), json!(lr))].into_iter().collect(), 1.0, "out of memory".into());
        if let Some(l) = loss {
            (s.status, s.error, s.best_val_loss) = (Status::Done, None, Some(l));
        }
        s
    }

    fn sweep(runs: &[Summary]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for s in runs {
            let run = RunDir::new(dir.path().join(&s.run_id));
            std::fs::create_dir_all(&run.path).unwrap();
            run.write_summary(s).unwrap();
            loss_csv::create(&run.loss_csv()).unwrap();
        }
        dir
    }

    #[test]
    fn a_single_run_and_a_sweep_where_every_run_failed_still_make_a_page() {
        for runs in [vec![summary("lr1e-3", 1e-3, Some(2.0))], vec![summary("a", 1e-3, None), summary("b", 1e-2, None)]] {
            let dir = sweep(&runs);
            let page = std::fs::read_to_string(write(dir.path()).unwrap()).unwrap();
            assert_eq!(page.matches("<tr class=").count(), runs.len(), "{page}");
            assert!(page.contains("</html>"));
        }
    }

    #[test]
    fn the_best_runs_verdicts_are_listed_in_rank_order() {
        let mut runs = vec![summary("worse", 1e-2, Some(3.0)), summary("better", 1e-3, Some(2.0)), summary("quiet", 3e-3, Some(2.5))];
        runs[0].verdict = Some("Overfit from step 150 of 250 (val then rose 0.056): <more data> will help.".into());
        runs[1].verdict = Some("Still improving at step 250 (val 0.010 lower than at step 200): a healthy run.".into());
        let dir = sweep(&runs);
        let page = std::fs::read_to_string(write(dir.path()).unwrap()).unwrap();
        let list = &page[page.find("<h2>Diagnosis of the best 2 runs</h2>").expect("the diagnosis section")..];
        let (better, worse) = (list.find("<strong>better</strong>: Still improving").unwrap(), list.find("<strong>worse</strong>: Overfit").unwrap());
        assert!(better < worse, "ranked best first");
        assert!(list.contains("&lt;more data&gt;"), "verdicts are escaped");
        assert!(!list[..list.find("</ul>").unwrap()].contains("quiet"), "a run without a verdict is not listed");
    }

    #[test]
    fn importance_is_the_share_of_variance_of_each_main_effect() {
        // lr moves the loss by 1.0, dropout by 0.2, on a full 2×2 grid: variances 0.25 and 0.01.
        let run = |lr: f64, d: f64, loss: f64| {
            let mut s = summary(&format!("{lr}_{d}"), lr, Some(loss));
            s.params.insert("dropout".into(), json!(d));
            s
        };
        let runs = vec![run(1.0, 0.0, 2.0), run(1.0, 0.1, 2.2), run(2.0, 0.0, 3.0), run(2.0, 0.1, 3.2)];
        let shares = importance(&runs, "val_loss");
        assert_eq!(shares[0].0, "lr");
        assert!((shares[0].1 - 0.25 / 0.26).abs() < 1e-12, "{shares:?}");
        assert!((shares[1].1 - 0.01 / 0.26).abs() < 1e-12, "{shares:?}");
    }
}
