//! Everything about a sweep that is not training, grouped by concern:
//! - `plan`: what to run (the YAML spec, its validation and expansion into runs);
//! - `exec`: how it runs (scheduler, trial processes, claims shared by several workers);
//! - `output`: what it leaves (run folders, summary.json, loss.csv, evidence for diagnosis);
//! - `report`: what it shows (the ranked report and loss plots).
//!
//! This crate never links libtorch; the `sweep` binary supplies the trial process.

pub mod error;
pub mod exec;
pub mod output;
pub mod plan;
pub mod report;

pub use error::{Problem, Problems, SpecError};
pub use output::run_dir::RunDir;
pub use output::summary::{Status, Summary};
pub use plan::spec::Spec;
pub use plan::{Plan, PlannedRun};
