//! What the scheduler calls as runs finish, given by its caller. The report floor sits
//! above `exec`, so the scheduler reaches it only through these (the CLI passes
//! `report::SWEEP_HOOKS`; the scheduler's own tests leave them as no-ops or record calls),
//! as nextest's runner reaches its reporter through events.

use crate::output::loss_csv::LossRow;
use crate::output::run_dir::RunDir;
use crate::output::summary::Summary;
use std::path::Path;

/// Where a sweep stands while it runs, for the live page.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Progress {
    /// Runs this worker trains now.
    pub running: Vec<String>,
    /// Runs it has still to start (for TPE, the most it may propose).
    pub pending: usize,
}

#[derive(Clone, Copy, Debug)]
pub struct Hooks {
    /// After every finished run, with the sweep folder: rewrite the sweep's reports. An
    /// error that is a failing filesystem stops the sweep; any other is a warning.
    pub run_finished: fn(&Path) -> anyhow::Result<()>,
    /// A run early termination pruned: redraw its loss.png under `title` from its rows.
    pub run_pruned: fn(&RunDir, &str, &[LossRow]),
    /// While the sweep runs (after each finished run and at most every `LIVE_EVERY_S`):
    /// rewrite the live page with where it stands.
    pub live: fn(&Path, &Progress) -> anyhow::Result<()>,
    /// The seed-to-seed spread of val loss over these runs, when seeds repeat (the stop
    /// rule's threshold; the report's statistics compute it).
    pub seed_spread: fn(&[Summary]) -> Option<f64>,
}

/// Seconds between rewrites of the live page while no run finishes.
pub const LIVE_EVERY_S: u64 = 30;

impl Default for Hooks {
    /// Nothing shown: for tests and for callers that report at the end themselves.
    fn default() -> Self {
        Hooks { run_finished: |_| Ok(()), run_pruned: |_, _, _| {}, live: |_, _| Ok(()), seed_spread: |_| None }
    }
}
