//! The output filesystem: how many bytes a run leaves behind and needs at its peak, how
//! much room there is, and telling a failing filesystem (full, over quota, read-only, I/O
//! errors) from a failing run. A filesystem failure is the sweep's problem, not the run's:
//! the run is interrupted and resumable, never failed.

use crate::exit_code;
use std::path::Path;
use sweep_config::{RunConfig, n_params};

/// Why the output filesystem refused a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// ENOSPC
    NoSpace,
    /// EDQUOT
    Quota,
    /// EROFS
    ReadOnly,
    /// EIO
    Io,
}

/// (cause, errno, strerror text as io::Error and libtorch print it)
const CAUSES: &[(Cause, i32, &str)] = &[
    (Cause::NoSpace, 28, "No space left on device"),
    (Cause::Quota, 122, "Disk quota exceeded"),
    (Cause::ReadOnly, 30, "Read-only file system"),
    (Cause::Io, 5, "Input/output error"),
];

impl Cause {
    /// "no space left on device", for the sweep's last line.
    pub fn describe(self) -> &'static str {
        match self {
            Cause::NoSpace => "no space left on device",
            Cause::Quota => "disk quota exceeded",
            Cause::ReadOnly => "the output filesystem is read-only",
            Cause::Io => "I/O error on the output filesystem",
        }
    }

    /// What the user does about it, before rerunning.
    pub fn fix(self) -> &'static str {
        match self {
            Cause::NoSpace => "free space",
            Cause::Quota => "free space or raise the quota",
            Cause::ReadOnly => "make it writable (or use --out on another filesystem)",
            Cause::Io => "check the disk (dmesg)",
        }
    }

    /// The exit code by which a trial tells its sweep the cause (`exit_code::TRIAL_*`).
    pub fn trial_exit_code(self) -> i32 {
        i32::from(match self {
            Cause::NoSpace => exit_code::TRIAL_NO_SPACE,
            Cause::Quota => exit_code::TRIAL_QUOTA,
            Cause::ReadOnly => exit_code::TRIAL_READ_ONLY,
            Cause::Io => exit_code::TRIAL_IO,
        })
    }

    pub fn from_trial_exit_code(code: i32) -> Option<Cause> {
        CAUSES.iter().map(|(c, _, _)| *c).find(|c| c.trial_exit_code() == code)
    }
}

/// The filesystem cause of an error, read from its text: io::Error prints "(os error 28)",
/// libtorch and the C library print strerror's words.
pub fn classify(error_text: &str) -> Option<Cause> {
    CAUSES.iter().find(|(_, errno, words)| error_text.contains(&format!("(os error {errno})")) || error_text.contains(words)).map(|(c, _, _)| *c)
}

/// Free and total bytes of the filesystem holding `path` (or its nearest existing parent).
pub fn space(path: &Path) -> Option<(u64, u64)> {
    let existing = path.ancestors().find(|p| p.exists() && !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let s = nix::sys::statvfs::statvfs(existing).ok()?;
    let unit = s.fragment_size().max(1) as u64;
    Some((s.blocks_available() as u64 * unit, s.blocks() as u64 * unit))
}

/// Bytes of memory of this machine (MemTotal in /proc/meminfo).
pub fn memory_bytes() -> Option<u64> {
    meminfo("MemTotal")
}

/// Bytes of memory available now without swapping (MemAvailable in /proc/meminfo).
pub fn available_memory() -> Option<u64> {
    meminfo("MemAvailable")
}

fn meminfo(field: &str) -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kb: u64 = info.lines().find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))?.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb * 1024)
}

/// "0 B", "512 KB", "2.5 MB", "1.20 GB" (powers of 1000, as `df -H` prints them).
pub fn human_bytes(bytes: u64) -> String {
    let b = bytes as f64;
    match bytes {
        0..1_000 => format!("{bytes} B"),
        1_000..1_000_000 => format!("{:.0} KB", b / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1} MB", b / 1e6),
        _ => format!("{:.2} GB", b / 1e9),
    }
}

/// Files are stored in whole blocks of this size (ext4's and tmpfs's page), so a 300-byte
/// file takes 4 KB.
const BLOCK: u64 = 4096;

fn blocks(bytes: u64) -> u64 {
    bytes.div_ceil(BLOCK) * BLOCK
}

/// A loss plot as plotters draws it (800×600 PNG with two curves): 60–70 KB measured on
/// the feiniao sweep, 85–92 KB on the smoke sweep.
const LOSS_PNG_BYTES: u64 = 80_000;
/// summary.json with its findings: 2–4 KB.
const SUMMARY_BYTES: u64 = 3_000;
/// config.json: under 1 KB.
const CONFIG_BYTES: u64 = 900;

/// What one run writes to disk.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunBytes {
    /// What a finished run occupies: weights, loss curve, samples, summary and the rest.
    pub finished: u64,
    /// The most it occupies on the way: the training state (weights and two AdamW moments,
    /// 12 bytes per parameter) twice while a checkpoint replaces the last one, or once
    /// beside the final weights at the end.
    pub peak: u64,
    /// What a run pruned by early termination occupies: its training state (kept for
    /// --resume-pruned) instead of the final weights.
    pub pruned: u64,
}

/// The bytes a run of `cfg` writes, with a tokenizer.json of `tokenizer_bytes`.
pub fn run_bytes(cfg: &RunConfig, vocab_size: usize, tokenizer_bytes: u64) -> RunBytes {
    let (m, t, s) = (&cfg.model, &cfg.train, &cfg.sample);
    let params = n_params(m, vocab_size).total as u64;
    let n_tensors = 3 + m.n_layers as u64 * if m.bias { 12 } else { 6 };
    let weights = 4 * params + 120 * n_tensors;
    let state = 12 * params + 3 * 120 * n_tensors;
    let evals = t.n_evals();
    let loss_csv = 50 + 70 * evals;
    let train_log = 300 + 40 * (t.max_iters / 10 + 1) + 50 * evals;
    // Up to 4 bytes a token (UTF-8), plus a header line per prompt.
    let samples = s.prompts.iter().map(|p| 100 + p.len() as u64 + 4 * s.max_new_tokens as u64).sum::<u64>();
    // steps.csv: a row per logged step (every 10).
    let steps_csv = 16 + 25 * (t.max_iters / 10 + 1);
    let small = [CONFIG_BYTES, tokenizer_bytes, loss_csv, steps_csv, train_log, SUMMARY_BYTES, LOSS_PNG_BYTES, samples].into_iter().map(blocks).sum::<u64>();
    let finished = blocks(weights) + small;
    let peak = (2 * blocks(state)).max(blocks(state) + blocks(weights)) + small;
    let pruned = blocks(state) + small;
    RunBytes { finished, peak, pruned }
}

/// What the sweep folder itself holds beside the runs: sweep.json, report.md, report.csv,
/// index.html and its charts in plots/.
pub fn sweep_files_bytes(n_runs: usize, n_params: usize) -> u64 {
    let n = n_runs as u64;
    let reports = blocks(1_000) + 2 * blocks(600 + 260 * n);
    // index.html (a table row per run) and its SVG charts, measured on the demo sweep: the two
    // curve overlays, heatmap, importance, parallel coordinates (a line per run), and a chart
    // per swept parameter.
    let page = blocks(4_000 + 1_300 * n) + 2 * blocks(17_000) + 2 * blocks(5_000) + blocks(4_500 + 200 * n) + n_params as u64 * blocks(12_500);
    reports + page
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_are_read_from_error_text_and_round_trip_through_exit_codes() {
        assert_eq!(classify("writing runs/x/loss.csv: No space left on device (os error 28)"), Some(Cause::NoSpace));
        assert_eq!(classify("failed printing to stdout: Read-only file system (os error 30)"), Some(Cause::ReadOnly));
        assert_eq!(classify("(os error 122)"), Some(Cause::Quota));
        assert_eq!(classify("out of memory"), None);
        for c in [Cause::NoSpace, Cause::Quota, Cause::ReadOnly, Cause::Io] {
            assert_eq!(Cause::from_trial_exit_code(c.trial_exit_code()), Some(c));
        }
        assert_eq!(Cause::from_trial_exit_code(2), None);
        assert_eq!(Cause::from_trial_exit_code(80), None);
    }

    #[test]
    fn bytes_read_as_df_prints_them() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(2_500_000), "2.5 MB");
        assert_eq!(human_bytes(84_180_992), "84.2 MB");
    }

    #[test]
    fn a_run_peaks_at_two_training_states() {
        let cfg = RunConfig::with_data("x");
        let params = n_params(&cfg.model, 100).total as u64;
        let b = run_bytes(&cfg, 100, 500);
        assert!(b.finished > 4 * params && b.finished < 4 * params + 200_000, "{b:?}");
        assert!(b.peak > 24 * params && b.peak < 24 * params + 200_000, "{b:?}");
    }

    #[test]
    fn space_of_a_folder_that_does_not_exist_yet_is_its_parents() {
        let dir = tempfile::tempdir().unwrap();
        let (free, total) = space(&dir.path().join("runs/sweep")).unwrap();
        assert!(free <= total && total > 0);
    }
}
