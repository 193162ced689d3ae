//! What a sweep shows: the ranked report with its per-parameter tables, and loss plots.

pub mod plot;
mod table;

pub use table::*;
