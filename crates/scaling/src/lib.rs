//! Scaling laws fitted across a sweep: L(N, D) = E + A/N^α + B/D^β by Hoffmann et al.'s
//! approach 3 (`fit`: Huber loss on log residuals, L-BFGS from a grid of starts), with
//! bootstrap intervals over runs, the compute-optimal N and D and the losses predicted at
//! larger budgets (`analysis`), and approach 2's IsoFLOP minima (`isoflop`).
//!
//! Pure numbers: no run folders, no libtorch. The sweep crate turns runs into
//! `RunPoints` and renders what `analyse` returns.

pub mod analysis;
pub mod fit;
pub mod isoflop;

pub use analysis::{Analysis, Estimate, Optimum, RunPoints, analyse, optimal};
pub use fit::{Law, Obs};
