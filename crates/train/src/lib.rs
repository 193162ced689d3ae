//! A nanoGPT-equivalent decoder-only transformer and its training loop, on libtorch.
//!
//! This is the only crate that links tch. It knows nothing of YAML, grids, run folders
//! or CSV: `train()` reports each evaluation to an `Observer` and returns an `Outcome`.

pub mod calibrate;
pub mod checkpoint;
pub mod device;
pub mod error;
pub mod model;
pub mod optim;
pub mod packed;
pub mod sample;
pub mod trainer;

pub use device::pick_device;
pub use error::TrainError;
pub use model::Gpt;
pub use packed::{PackMember, train_packed};
pub use trainer::{EvalRow, Observer, Outcome, Snapshot, Stop, train};
