//! What a sweep shows: the ranked report with its per-parameter tables, what early
//! termination saved, and loss plots.

pub mod plot;
pub mod savings;
mod table;

pub use table::*;
