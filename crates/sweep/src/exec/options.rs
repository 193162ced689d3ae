//! What one worker's sweep is asked to do (`run_sweep`'s options, read by the scheduler and
//! by each job): trials at once, reruns, retries, packing, the quota of an array task,
//! the predicted cost of each run, and the hooks that show results.

use crate::exec::hooks::Hooks;
use crate::exec::packing::Packing;
use crate::search::Rerun;
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Trials at once.
    pub jobs: usize,
    /// Which finished runs to train again (failed, pruned).
    pub rerun: Rerun,
    /// The plan stops runs early (set by `run_sweep` from the plan).
    pub early_stop: bool,
    /// Draw a progress bar on stderr (when it is a terminal).
    pub progress: bool,
    /// Extra attempts for a trial that fails.
    pub max_retries: u32,
    /// Tokens in the vocabulary, for the bytes a run will write.
    pub vocab_size: usize,
    /// Predicted seconds of each pending run (by id), from the plan's estimate; the
    /// progress bar's time left scales them by how long finished runs took against theirs.
    pub predicted_s: Arc<HashMap<String, f64>>,
    /// Whether `predicted_s` is in seconds (timed on this machine) or relative costs.
    pub predicted_in_seconds: bool,
    /// Which runs train packed into one model (off for adaptive methods and early stopping).
    pub packing: Packing,
    /// Jobs (runs or packs) this worker trains before it only takes over runs whose worker
    /// died; None: no limit. A Slurm array task trains one, leaving the rest to other tasks.
    pub quota: Option<usize>,
    /// What to call as runs finish (the report); no-ops by default.
    pub hooks: Hooks,
}
