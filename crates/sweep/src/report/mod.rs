//! What a sweep shows: the ranked report with its per-parameter tables, seed groups and
//! noise-aware verdicts (`stats`), what early termination saved, loss plots, and the state
//! of every run now (`status`).

pub mod charts;
pub mod html;
pub mod plot;
pub mod savings;
pub mod stats;
pub mod status;
mod table;

pub use table::*;
