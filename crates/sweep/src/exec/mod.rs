//! How a sweep runs, one file per concern (after nextest's `runner/`):
//! - `scheduler`: the main loop (`run_sweep`), heartbeats, the time left; `options`: its input;
//! - `pending`: what is left to do in a sweep folder, conflicts, orphaned runs;
//! - `job`: one run or pack: admission, the run folder made ready, retries, the claim;
//! - `control`: what a worker's threads share (stopping, trials, claims, prunes);
//! - `signals`: Ctrl-C, SIGTERM and Slurm's SIGUSR1;
//! - `hooks`: what the caller (the report) is told as runs finish;
//! - `rung_watch`: early termination applied while runs train (`prune` decides);
//! - `runner`: each trial (or pack, `packing`) in its own child process;
//! - `claim`: claim files that let several workers share one sweep;
//! - `workers`: trials at once, threads each, packing, from the flags and the machine;
//! - `eta`: time left; `slurm`: the Slurm backend, whose array tasks are such workers;
//! - `warm_start`: finished runs of earlier sweeps brought in before training.
//!
//! It reads and writes run folders only through `output`, and never calls `report`.

pub mod claim;
pub mod control;
pub mod eta;
pub mod gpu;
pub mod hooks;
pub mod job;
pub mod options;
pub mod packing;
pub mod pending;
pub mod rung_watch;
pub mod runner;
pub mod scheduler;
pub mod signals;
pub mod slurm;
pub mod warm_start;
pub mod workers;

#[cfg(test)]
pub mod fake;
#[cfg(test)]
mod tests;
