//! A nanoGPT-equivalent decoder-only transformer and its training loop, on libtorch.
//!
//! This is the only crate that names tch (others link it through this one). It knows
//! nothing of YAML, grids, run folders or CSV: `train()` and `train_packed()` report each
//! evaluation to an `Observer` and return an `Outcome` per run.
//! - `model`: the GPT with nanoGPT's names; `optim`: AdamW whose state can be saved;
//! - `member`: one run's model and optimizer, built in one place (alone, packed, calibration);
//! - `run_loop`: the one training loop, over the members of a pack (a run alone is a pack of one);
//! - `trainer`: the public types and a lone run's arithmetic; `packed`: a pack's stacked model;
//! - `checkpoint`, `sample`, `device`, `calibrate` (a few steps of a shape timed), `error`.

pub mod calibrate;
pub mod checkpoint;
pub mod device;
pub mod error;
mod member;
pub mod model;
pub mod optim;
pub mod packed;
mod run_loop;
pub mod sample;
pub mod trainer;

pub use device::{pick_device, set_threads};
pub use error::TrainError;
pub use model::Gpt;
pub use packed::{PackMember, train_packed};
/// The libtorch device type, so that callers never name tch themselves.
pub use tch::Device;
pub use trainer::{EvalRow, Observer, Outcome, Snapshot, Stop, train};
