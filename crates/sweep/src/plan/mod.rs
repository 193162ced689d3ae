//! What to run: the spec as written in YAML, its validation and expansion into a `Plan`
//! of complete run configs, and the run ids that name them. Nothing here trains, writes
//! run folders or reads results.

pub mod build;
pub mod run_id;
pub mod spec;

pub use build::{Plan, PlannedRun};
