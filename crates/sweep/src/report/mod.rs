//! What a sweep shows: the ranked report with its per-parameter tables, what early
//! termination saved, loss plots, and the state of every run now (`status`).

pub mod plot;
pub mod savings;
pub mod status;
mod table;

pub use table::*;
