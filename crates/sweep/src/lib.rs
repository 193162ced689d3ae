//! Everything about a sweep that is not training, grouped by concern:
//! - `plan`: what to run (the YAML spec, its validation and expansion into runs);
//! - `search`: which run next (the grid or random list, or TPE proposals from results);
//! - `prune`: which running runs to stop early (ASHA, median) and why;
//! - `exec`: how it runs (scheduler, trial processes, claims shared by several workers);
//! - `output`: what it leaves (run folders, summary.json, loss.csv, evidence for diagnosis);
//! - `report`: what it shows (the ranked report and loss plots).
//!
//! This crate never links libtorch; the `sweep` binary supplies the trial process.

pub mod error;
pub mod exec;
pub mod output;
pub mod plan;
pub mod prune;
pub mod report;
pub mod search;

pub use error::{Problem, Problems, SpecError};
pub use output::run_dir::RunDir;
pub use output::summary::{Status, Summary};
pub use plan::spec::Spec;
pub use plan::{Plan, PlannedRun};
