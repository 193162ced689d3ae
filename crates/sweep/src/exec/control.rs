//! What the threads of one worker share while a sweep runs (the trial threads, the signal
//! thread, the heartbeat thread and early termination's watcher): whether it is stopping
//! and why, the trial processes, the claims it holds, the runs early termination watches
//! and the ones it asked to stop, and the first output-filesystem failure.

use crate::exec::claim::Claim;
use crate::exec::runner::Children;
use crate::output::disk::Cause;
use crate::prune::Decision;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use sweep_config::RunConfig;

#[derive(Default)]
pub struct Control {
    pub stopping: AtomicBool,
    pub children: Arc<Children>,
    pub(crate) claims: Mutex<Vec<Arc<Claim>>>,
    /// Runs this worker trains, for early termination to look at.
    pub(crate) watched: Mutex<HashMap<String, Watched>>,
    /// Runs early termination asked to stop, with the decision that did.
    pub(crate) pruning: Mutex<HashMap<String, Decision>>,
    /// The first output-filesystem failure, which stopped the sweep.
    pub(crate) storage: Mutex<Option<StorageStop>>,
    /// The signal that stopped the sweep, in words, for the summaries of the runs it interrupted.
    pub stopped_by: Mutex<Option<String>>,
}

/// Why a sweep stopped on its output filesystem, for its last line.
#[derive(Debug, Clone, PartialEq)]
pub struct StorageStop {
    pub cause: Cause,
    /// The run whose write failed, or that did not fit.
    pub run_id: String,
    /// Bytes the next run needed, when the sweep stopped before starting it.
    pub needed: Option<u64>,
}

/// What early termination needs to know about a run this worker trains.
#[derive(Debug, Clone)]
pub struct Watched {
    pub(crate) max_iters: u64,
    pub(crate) eval_interval: u64,
    /// Continued with --resume-pruned: trained to the end, never pruned again.
    pub(crate) exempt: bool,
    /// The last step looked at.
    pub(crate) seen: Option<u64>,
}

impl Watched {
    pub fn new(config: &RunConfig, exempt: bool) -> Self {
        Watched { max_iters: config.train.max_iters, eval_interval: config.train.eval_interval, exempt, seen: None }
    }
}

/// A poisoned lock still holds what the panicking thread left, which is all we need.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Control {
    /// Starts no new trials and asks the running ones to save their state and stop
    /// (SIGINT: they checkpoint and record `interrupted`). Returns false if already stopping.
    pub fn stop(&self) -> bool {
        let first = !self.stopping.swap(true, Ordering::SeqCst);
        if first {
            self.children.stop_all();
        }
        first
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Stops the sweep because the output filesystem failed; the first cause is kept.
    pub(crate) fn stop_for_storage(&self, stop: StorageStop) {
        lock(&self.storage).get_or_insert(stop);
        self.stop();
    }

    /// Stops one run because early termination pruned it (it saves its state first).
    pub(crate) fn prune(&self, decision: Decision) {
        let id = decision.run.clone();
        lock(&self.pruning).insert(id.clone(), decision);
        self.children.stop_one(&id);
    }

    pub(crate) fn storage_failed(&self) -> bool {
        lock(&self.storage).is_some()
    }

    /// Holds a claim for the heartbeat thread to refresh.
    pub(crate) fn hold(&self, claim: Arc<Claim>) {
        lock(&self.claims).push(claim);
    }

    /// Stops refreshing a claim and gives it up (its file is removed).
    pub(crate) fn release(&self, claim: Arc<Claim>) {
        lock(&self.claims).retain(|c| !Arc::ptr_eq(c, &claim));
        if let Ok(claim) = Arc::try_unwrap(claim) {
            claim.release();
        }
    }
}
