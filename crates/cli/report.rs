//! `sweep report`: prints the ranked table and per-parameter tables of a sweep folder.

use crate::args::ReportArgs;
use anyhow::Context;
use std::path::{Path, PathBuf};
use sweep::exit_code;
use sweep::plan::objectives::Objective;
use sweep::report::{self, Format, RankBy};

/// Runs the terminal table shows unless --top says otherwise.
const TERMINAL_TOP: usize = 10;

fn labels(objectives: &[Objective]) -> String {
    objectives.iter().map(Objective::label).collect::<Vec<_>>().join(", ")
}

pub fn report(a: ReportArgs) -> anyhow::Result<u8> {
    let dir = match a.sweep_dir {
        Some(d) => d,
        None => latest_sweep(Path::new("runs"))?,
    };
    let runs = sweep::output::run_dir::load_all(&dir)?;
    anyhow::ensure!(!runs.is_empty(), "{} holds no finished runs (no */summary.json); run `sweep run SPEC` first", dir.display());
    let format = a.format;
    let known = runs.iter().any(|s| s.metric(&a.by).is_some());
    anyhow::ensure!(
        known,
        "no run has a metric or parameter named {:?}; try val_loss, final_val_loss, perplexity, wall_seconds, tokens_per_second or a swept parameter",
        a.by
    );
    if a.pareto {
        let mut objectives = sweep::plan::spec::Spec::saved(&dir).map(|s| s.objectives).unwrap_or_default();
        if objectives.len() < 2 {
            objectives = vec![Objective::min("val_loss"), Objective::min("params")];
        }
        let front = report::pareto::of_runs(&runs, &objectives)
            .with_context(|| format!("no finished run in {} has a value for every objective ({})", dir.display(), labels(&objectives)))?;
        print!("{}", front.text());
        return Ok(exit_code::OK);
    }
    // The terminal shows the best 10 and says where the rest is; files get every run.
    let table = matches!(format, Format::Table);
    let top = a.top.or(if table { Some(TERMINAL_TOP) } else { None });
    let opts = RankBy { by: a.by, desc: a.desc, top };
    if table {
        println!("{}\n", dir.display());
    }
    print!("{}", report::render_sweep(&dir, &runs, &opts, format)?);
    if table && let Some(front) = report::pareto::of_runs(&runs, &sweep::plan::spec::Spec::saved(&dir).map(|s| s.objectives).unwrap_or_default()) {
        print!("\n{}", front.text());
    }
    if table && a.top.is_none() && runs.len() > TERMINAL_TOP {
        println!(
            "\nthe best {TERMINAL_TOP} of {} runs; every run is in {} and {} (--top N for more)",
            runs.len(),
            dir.join("report.md").display(),
            dir.join("index.html").display()
        );
    }
    if a.html {
        let page = report::html::write(&dir)?;
        eprintln!("HTML report: {}", page.display());
    }
    Ok(exit_code::OK)
}

/// The most recently modified sweep folder under `runs`.
pub(crate) fn latest_sweep(runs: &Path) -> anyhow::Result<PathBuf> {
    let entries = std::fs::read_dir(runs).with_context(|| format!("no sweep folder given and cannot read {}; pass one, e.g. runs/feiniao", runs.display()))?;
    entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .max()
        .map(|(_, p)| p)
        .ok_or_else(|| anyhow::anyhow!("no sweep folders in {}; run `sweep run SPEC` first", runs.display()))
}
