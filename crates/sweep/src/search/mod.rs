//! Which run to train next. A `Proposer` hands the scheduler one run at a time given what
//! has finished, so that the scheduler is one loop for every method: `Fixed` walks a list
//! known in advance (the grid's combinations, the seeded draws of `method: random`, or of a
//! `tpe` sweep whose n_runs is within its random start);
//! `Adaptive` (`method: tpe`) proposes from the finished and pruned runs with `tpe`,
//! recording each proposal in the sweep folder (`proposals`) so that a resumed sweep
//! continues the same sequence and several workers never hand out the same proposal.

pub mod proposals;
pub mod tpe;

use crate::output::summary::Status;
use crate::plan::{Plan, PlannedRun};
use std::collections::VecDeque;

pub trait Proposer: Send {
    /// The next run to train, or None when there is none left to propose.
    fn next(&mut self) -> anyhow::Result<Option<PlannedRun>>;
    /// Runs still to hand out: exact for a fixed list, the most for adaptive methods.
    fn remaining(&self) -> usize;
    /// Takes up to `max` more runs that `fits` accepts, to train packed with one just handed
    /// out; adaptive methods propose one run at a time and pack nothing.
    fn take_mates(&mut self, _fits: &dyn Fn(&PlannedRun) -> bool, _max: usize) -> Vec<PlannedRun> {
        Vec::new()
    }
}

/// Which finished runs a sweep trains again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rerun {
    /// `--retry-failed`: runs whose summary says failed.
    pub failed: bool,
    /// `--resume-pruned`: runs stopped by early termination, continued from their checkpoint.
    pub pruned: bool,
}

impl Rerun {
    /// Whether a run folder whose summary says `status` (None: no readable summary) is trained.
    pub fn wants(self, status: Option<Status>) -> bool {
        match status {
            None | Some(Status::Interrupted) => true,
            Some(Status::Failed) => self.failed,
            Some(Status::Pruned) => self.pruned,
            Some(Status::Done | Status::Diverged) => false,
        }
    }
}

/// Hands out runs known in advance, in order.
pub struct Fixed(VecDeque<PlannedRun>);

impl Fixed {
    pub fn new(runs: impl IntoIterator<Item = PlannedRun>) -> Self {
        Fixed(runs.into_iter().collect())
    }
}

impl Proposer for Fixed {
    fn next(&mut self) -> anyhow::Result<Option<PlannedRun>> {
        Ok(self.0.pop_front())
    }
    fn remaining(&self) -> usize {
        self.0.len()
    }
    fn take_mates(&mut self, fits: &dyn Fn(&PlannedRun) -> bool, max: usize) -> Vec<PlannedRun> {
        let mut mates = Vec::new();
        let mut rest = VecDeque::with_capacity(self.0.len());
        for run in self.0.drain(..) {
            if mates.len() < max && fits(&run) { mates.push(run) } else { rest.push_back(run) }
        }
        self.0 = rest;
        mates
    }
}

/// Runs that stand for those TPE has not proposed yet, in estimates and the dry run: the
/// plan's random draws that are not among the `known` runs, as many as the budget has left.
/// Empty for methods whose runs are all known in advance.
pub fn stand_ins(plan: &Plan, known: &[PlannedRun]) -> Vec<PlannedRun> {
    if !plan.adaptive() {
        return Vec::new();
    }
    plan.runs.iter().filter(|r| !known.iter().any(|k| k.id == r.id)).take(plan.n_runs.saturating_sub(known.len())).cloned().collect()
}
