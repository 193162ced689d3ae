//! The Slurm backend: a sweep submitted as one job array whose tasks are `sweep` workers
//! sharing the sweep folder through the same claim files as local workers. Slurm is the
//! distributed engine; this module maps a sweep onto it and keeps the guarantees (resume
//! after any kill, no run trained twice, every failure explained in the run's summary):
//! - `submit`: the job array submitted (or its script shown) for the runs to train;
//! - `script`: the readable `slurm/submit.sbatch` each submission writes;
//! - `cancel`: scancel of a sweep's arrays, waiting until their tasks are gone;
//! - `command`: sbatch, squeue, scancel, scontrol and sacct, and their answers parsed;
//! - `jobs`: `slurm/jobs.jsonl`, the job arrays submitted for a sweep folder;
//! - `settle`: runs whose array task ended without finishing them get Slurm's reason in
//!   their summary.json, and their claims are released so that any worker resumes them.

pub mod cancel;
pub mod command;
pub mod jobs;
pub mod script;
pub mod settle;
pub mod submit;

pub use crate::output::worker::Task;
pub use crate::plan::slurm::Settings;
