//! What the scheduler calls as runs finish, given by its caller. The report floor sits
//! above `exec`, so the scheduler reaches it only through these (the CLI passes
//! `report::SWEEP_HOOKS`; the scheduler's own tests leave them as no-ops or record calls),
//! as nextest's runner reaches its reporter through events.

use crate::output::loss_csv::LossRow;
use crate::output::run_dir::RunDir;
use std::path::Path;

#[derive(Clone, Copy, Debug)]
pub struct Hooks {
    /// After every finished run, with the sweep folder: rewrite the sweep's reports. An
    /// error that is a failing filesystem stops the sweep; any other is a warning.
    pub run_finished: fn(&Path) -> anyhow::Result<()>,
    /// A run early termination pruned: redraw its loss.png under `title` from its rows.
    pub run_pruned: fn(&RunDir, &str, &[LossRow]),
}

impl Default for Hooks {
    /// Nothing shown: for tests and for callers that report at the end themselves.
    fn default() -> Self {
        Hooks { run_finished: |_| Ok(()), run_pruned: |_, _, _| {} }
    }
}
