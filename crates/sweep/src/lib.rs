//! Everything about a sweep that is not training, in floors: each folder imports only from
//! the folders below it (`tests/floors.rs` checks every `use crate::…`), lowest first:
//! 1. `output`: what a run leaves on disk (run folders, summary.json, loss.csv, who
//!    trained it, the bytes it takes, diagnosis evidence read back);
//! 2. `plan`: what to run (the YAML spec with its `early_stop:` and `slurm:` sections,
//!    validation, expansion into runs, estimates);
//! 3. `search`: which run next (the plan's list, or TPE proposals from results);
//! 4. `prune`: which running runs to stop early (ASHA, median) and why;
//! 5. `exec`: how it runs (scheduler, jobs, trial processes, claims, Slurm);
//! 6. `report`: what it shows (the ranked report, HTML, plots, status, the dry run).
//!
//! Below them all, at the crate root: `error` (spec problems) and `exit_code`. This crate
//! never links libtorch; the `sweep` binary supplies the trial process.

pub mod error;
pub mod exec;
pub mod exit_code;
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
