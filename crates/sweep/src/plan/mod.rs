//! What to run: the spec as written in YAML (`spec`, read through `yaml`), its expansion
//! into a `Plan` of complete run configs (`build`) with the run ids that name them, the
//! corpus checked against the runs (`corpus`), all of it at once (`check`), and what the
//! plan will cost (`estimate`). Nothing here trains, writes run folders or reads results.

pub mod build;
pub mod check;
pub mod constraints;
pub mod corpus;
pub mod early_stop;
pub mod estimate;
pub mod gpu_memory;
pub mod objectives;
pub mod run_id;
pub mod slurm;
pub mod space;
pub mod spec;
pub mod stop_rule;
mod yaml;

pub use build::{Plan, PlannedRun};
pub use check::{Checked, check};
