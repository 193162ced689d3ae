//! The layout of a run folder and reading/writing its JSON files atomically
//! (temporary file in the same folder, fsync, rename).

use crate::output::summary::Summary;
use anyhow::Context;
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};

/// `runs/<sweep>/<run id>/`.
#[derive(Debug, Clone, PartialEq)]
pub struct RunDir {
    pub path: PathBuf,
}

impl RunDir {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        RunDir { path: path.into() }
    }
    /// The full effective configuration (`sweep_config::RunConfig`).
    pub fn config(&self) -> PathBuf {
        self.path.join("config.json")
    }
    /// The GPU the run's trial was placed on, while it runs (`summary::GpuUse`).
    pub fn gpu(&self) -> PathBuf {
        self.path.join("gpu.json")
    }
    /// The tokenizer the run was trained with.
    pub fn tokenizer(&self) -> PathBuf {
        self.path.join("tokenizer.json")
    }
    pub fn loss_csv(&self) -> PathBuf {
        self.path.join("loss.csv")
    }
    /// The training loss of every logged step.
    pub fn steps_csv(&self) -> PathBuf {
        self.path.join("steps.csv")
    }
    pub fn loss_png(&self) -> PathBuf {
        self.path.join("loss.png")
    }
    /// Final weights, safetensors with nanoGPT's names.
    pub fn checkpoint(&self) -> PathBuf {
        self.path.join("model.safetensors")
    }
    pub fn samples(&self) -> PathBuf {
        self.path.join("samples.txt")
    }
    pub fn summary(&self) -> PathBuf {
        self.path.join("summary.json")
    }
    /// The full training state (weights, optimizer, step) for resuming an unfinished run.
    pub fn resume_state(&self) -> PathBuf {
        self.path.join("resume.safetensors")
    }
    /// Everything the trial processes printed (stdout and stderr), appended across attempts.
    pub fn log(&self) -> PathBuf {
        self.path.join("train.log")
    }
    /// Who trains the run now (`exec::claim` writes and reads it).
    pub fn claim(&self) -> PathBuf {
        self.path.join("claim.json")
    }
    /// Appends text to train.log (the sweep's own last words about a run).
    pub fn append_log(&self, text: &str) -> std::io::Result<()> {
        use std::io::Write;
        std::fs::OpenOptions::new().append(true).open(self.log())?.write_all(text.as_bytes())
    }

    /// The run's config.json, with the file named in the error when it cannot be read.
    pub fn read_config(&self) -> anyhow::Result<sweep_config::RunConfig> {
        use anyhow::Context;
        let text = std::fs::read_to_string(self.config()).with_context(|| format!("reading {}", self.config().display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", self.config().display()))
    }

    /// The token cache this run's corpus is in: `data.cache`, else `<out>/.tokens` where
    /// `<out>/<sweep>/<run>` is this folder.
    pub fn token_cache_root(&self, data: &sweep_config::DataConfig) -> PathBuf {
        let out = self.path.parent().and_then(Path::parent).unwrap_or(Path::new("."));
        corpus::cache::root(data, out)
    }

    pub fn id(&self) -> String {
        self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    }

    /// The summary, if the run has one that parses.
    pub fn read_summary(&self) -> Option<Summary> {
        let text = std::fs::read_to_string(self.summary()).ok()?;
        serde_json::from_str(&text).ok()
    }

    pub fn write_summary(&self, summary: &Summary) -> anyhow::Result<()> {
        write_json(&self.summary(), summary)
    }

    /// Removes the temporary files a write cut short leaves (`*.tmp.*`, `.tmp*`), so that a
    /// full disk gets back what it can.
    pub fn remove_temporary_files(&self) {
        let Ok(entries) = std::fs::read_dir(&self.path) else { return };
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().contains(".tmp") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }

    /// The last `n` lines of the run's log, for failure reasons.
    pub fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(self.log()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

/// Writes pretty JSON atomically.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> anyhow::Result<()> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    write_atomic(path, text.as_bytes())
}

/// Appends one line to a log of lines (`early_stop.jsonl`, `proposals.jsonl`) in one write,
/// synced. A last line a crash cut short is ended first, so that it does not swallow this one.
pub fn append_line(path: &Path, line: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::FileExt;
    let mut file = std::fs::OpenOptions::new().create(true).append(true).read(true).open(path).with_context(|| format!("opening {}", path.display()))?;
    let len = file.metadata().map_or(0, |m| m.len());
    let mut last = [b'\n'];
    if len > 0 {
        let _ = file.read_at(&mut last, len - 1);
    }
    let text = if last[0] == b'\n' { format!("{line}\n") } else { format!("\n{line}\n") };
    file.write_all(text.as_bytes()).and_then(|_| file.sync_data()).with_context(|| format!("appending to {}", path.display()))
}

/// Writes `bytes` to `path` so that readers see either the old file or the whole new one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    tmp.write_all(bytes).with_context(|| format!("writing {}", path.display()))?;
    // Temporary files are created 0600; results are for everyone who can read the folder.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file().set_permissions(std::fs::Permissions::from_mode(0o644)).with_context(|| format!("setting permissions of {}", path.display()))?;
    }
    tmp.as_file().sync_all().with_context(|| format!("syncing {}", path.display()))?;
    tmp.persist(path).with_context(|| format!("renaming into {}", path.display()))?;
    Ok(())
}

/// Reads every run folder's summary.json under `sweep_dir`, in folder-name order.
pub fn load_all(sweep_dir: &std::path::Path) -> anyhow::Result<Vec<Summary>> {
    let entries = std::fs::read_dir(sweep_dir).map_err(|e| anyhow::anyhow!("cannot read sweep folder {}: {e}", sweep_dir.display()))?;
    let mut dirs: Vec<_> = entries.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    Ok(dirs.into_iter().filter_map(|p| RunDir::new(p).read_summary()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::summary::Status;

    #[test]
    fn summary_round_trip_and_metric_lookup() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::new(dir.path());
        assert!(run.read_summary().is_none());
        let mut s = Summary::failed("lr1e-3", [("lr".to_string(), serde_json::json!(0.001))].into_iter().collect(), 1.5, "boom".into());
        s.status = Status::Done;
        s.best_val_loss = Some(2.5);
        run.write_summary(&s).unwrap();
        let back = run.read_summary().unwrap();
        assert_eq!(back, s);
        assert_eq!(back.metric("val_loss"), Some(serde_json::json!(2.5)));
        assert_eq!(back.metric("lr"), Some(serde_json::json!(0.001)));
        assert_eq!(back.metric("perplexity"), None);
        let text = std::fs::read_to_string(run.summary()).unwrap();
        assert!(text.contains("\"status\": \"done\""), "{text}");
        // No temporary files are left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
