//! Every exit code of `sweep` and of the trial processes it starts, with its meaning, in
//! one place (nextest's `exit_codes`). Only the binary ends the process with them; the
//! library returns them.

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

/// A trial process tells its sweep that the output filesystem failed by its exit code
/// alone (it may be unable to write a single byte of summary or log): 75 is EX_TEMPFAIL
/// ("try again later"), and each cause has its own code from there
/// (`output::disk::Cause::trial_exit_code`).
pub const TRIAL_NO_SPACE: u8 = 75;
/// Disk quota exceeded (EDQUOT).
pub const TRIAL_QUOTA: u8 = 76;
/// The output filesystem is read-only (EROFS).
pub const TRIAL_READ_ONLY: u8 = 77;
/// I/O error on the output filesystem (EIO).
pub const TRIAL_IO: u8 = 78;
