//! Everything about a sweep that is not training: the YAML spec, its expansion into a
//! validated plan of runs, run folders and their files, the scheduler that runs trials
//! in isolated processes, loss plots and the ranked report.
//!
//! This crate never links libtorch; the `sweep` binary supplies the trial process.

pub mod claim;
pub mod error;
pub mod evidence;
pub mod loss_csv;
pub mod plan;
pub mod plot;
pub mod report;
pub mod run_dir;
pub mod run_id;
pub mod runner;
pub mod scheduler;
pub mod spec;
pub mod summary;

pub use error::{Problem, Problems, SpecError};
pub use plan::{Plan, PlannedRun};
pub use run_dir::RunDir;
pub use spec::Spec;
pub use summary::{Status, Summary};
