//! One trial process of a sweep (`sweep trial RUN_DIR…`, hidden), and the plan's timing:
//! the only crate besides the binary that uses both `train` (libtorch) and `sweep` (run
//! folders). It never names tch itself; `train` does.
//! - `run`: the whole trial: one run, or a pack of same-shape runs in one model;
//! - `observer`: loss.csv, steps.csv, train.log lines and snapshots as training reports them;
//! - `resume`: where a run folder's saved state resumes, the corpus it trains on;
//! - `finish`: what a trained run leaves (checkpoint, samples, loss.png, summary with its diagnosis);
//! - `record`: summary.json for every attempt, and the exit code that tells the sweep a
//!   failing filesystem;
//! - `calibrate`: a few steps of each shape of a plan timed here, for the plan's estimate.

pub mod calibrate;
mod finish;
mod observer;
mod record;
mod resume;
mod run;

pub use run::trial;
