//! What a sweep shows, the top floor (it may read every folder below): the ranked report
//! with its per-parameter tables, seed groups and noise-aware verdicts (`stats`), what
//! early termination saved and may have cost (`pruning`), loss plots and charts, the HTML page, the state of every run
//! now (`status`), the dry run's plan (`dry_run`) and `sweep run`'s last lines
//! (`sweep_end`). The scheduler reaches it only through `SWEEP_HOOKS`.

pub mod charts;
pub mod diagnosis;
pub mod dry_run;
pub mod html;
pub mod next;
pub mod pareto;
pub mod plot;
pub mod pruning;
pub mod savings;
pub mod scaling;
pub mod stats;
pub mod status;
pub mod sweep_end;
mod table;
mod text_table;

pub use table::*;

use crate::exec::hooks::Hooks;
use crate::output::loss_csv::LossRow;
use crate::output::run_dir::RunDir;

/// The hooks `sweep run` gives the scheduler: report.md and report.csv rewritten after
/// every finished run, and a pruned run's loss.png redrawn with where it stopped.
/// While it runs, index.html is rewritten as a live page; its seed spread feeds the stop rule.
pub const SWEEP_HOOKS: Hooks = Hooks { run_finished: write_sweep_reports, run_pruned: draw_pruned, live: write_live, seed_spread: seed_spread_of };

fn write_live(sweep_dir: &std::path::Path, progress: &crate::exec::hooks::Progress) -> anyhow::Result<()> {
    html::write_page(sweep_dir, Some(progress)).map(|_| ())
}

fn seed_spread_of(runs: &[crate::output::summary::Summary]) -> Option<f64> {
    stats::seed_spread(&stats::configs(runs, "val_loss", false))
}

fn draw_pruned(dir: &RunDir, title: &str, rows: &[LossRow]) {
    let _ = plot::write_loss_png(dir, title, rows, None);
}
