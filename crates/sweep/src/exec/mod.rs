//! How a sweep runs: the scheduler loop, the trial runner that isolates each training (or
//! pack of same-shape trainings, `packing`) in a child process, the pruner that stops runs
//! early termination prunes, the claim files that let several workers share one sweep, and
//! the Slurm backend (`slurm`) whose array tasks are such workers. It reads and writes run
//! folders only through `output`.

pub mod claim;
pub mod eta;
pub mod packing;
pub mod pruner;
pub mod runner;
pub mod scheduler;
pub mod slurm;
