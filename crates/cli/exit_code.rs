//! The exit codes of `sweep`, in one place.

use std::process::ExitCode;

/// Every run is done (or the command succeeded).
pub const OK: u8 = 0;
/// The sweep finished but some runs failed or diverged.
pub const RUNS_FAILED: u8 = 1;
/// Usage, spec or data error: nothing was trained.
pub const USAGE: u8 = 2;
/// Stopped by Ctrl-C (128 + SIGINT, as shells report it); rerun to resume.
pub const INTERRUPTED: u8 = 130;

pub fn code(c: u8) -> ExitCode {
    ExitCode::from(c)
}
