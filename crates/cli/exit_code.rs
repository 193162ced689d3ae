//! The exit codes of `sweep`, in one place.

use std::process::ExitCode;

/// Every run is done (or the command succeeded).
pub const OK: u8 = 0;
/// The sweep finished but some runs failed or diverged.
pub const RUNS_FAILED: u8 = 1;
/// Usage, spec or data error: nothing was trained.
pub const USAGE: u8 = 2;
/// The output filesystem failed (full, over quota, read-only, I/O errors) or has no room
/// for the next run: the sweep stopped, its runs are interrupted; free space and rerun.
pub const STORAGE: u8 = 3;
/// Stopped by Ctrl-C (128 + SIGINT, as shells report it); rerun to resume.
pub const INTERRUPTED: u8 = 130;

pub fn code(c: u8) -> ExitCode {
    ExitCode::from(c)
}
