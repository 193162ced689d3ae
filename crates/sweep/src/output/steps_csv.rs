//! `steps.csv`: the training loss of every logged step (nanoGPT's `iter N: loss X` lines,
//! every 10 steps), for the thin train-loss line of loss.png. Appended as training goes
//! without an fsync per row (a crash costs at most the rows since the last checkpoint, which
//! a resumed run writes again); trimmed to the resumed step like loss.csv.

use std::io::Write;
use std::path::Path;

pub const HEADER: &str = "step,train_loss";

/// Creates (or truncates) steps.csv with just the header.
pub fn create(path: &Path) -> std::io::Result<()> {
    std::fs::write(path, format!("{HEADER}\n"))
}

/// Appends rows to one run's steps.csv through a file opened once, at its first row (after
/// the trial has created or trimmed the file), not once per logged step.
pub struct Appender {
    path: std::path::PathBuf,
    file: Option<std::fs::File>,
}

impl Appender {
    pub fn new(path: &Path) -> Self {
        Appender { path: path.to_path_buf(), file: None }
    }

    /// Appends one step's loss (creating the file with its header when it is missing).
    pub fn append(&mut self, step: u64, loss: f64) -> std::io::Result<()> {
        if self.file.is_none() {
            let fresh = !self.path.exists();
            let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&self.path)?;
            if fresh {
                file.write_all(format!("{HEADER}\n").as_bytes())?;
            }
            self.file = Some(file);
        }
        match self.file.as_mut() {
            Some(file) => file.write_all(format!("{step},{loss}\n").as_bytes()),
            None => Ok(()),
        }
    }
}

/// Keeps the rows before `step` (the ones a resumed run will not log again); a missing file
/// stays missing.
pub fn keep_before(path: &Path, step: u64) -> std::io::Result<()> {
    let Ok(text) = std::fs::read_to_string(path) else { return Ok(()) };
    let mut out = format!("{HEADER}\n");
    for (s, loss) in parse(&text) {
        if s < step {
            out.push_str(&format!("{s},{loss}\n"));
        }
    }
    crate::output::run_dir::write_atomic(path, out.as_bytes()).map_err(std::io::Error::other)
}

/// Every complete row: (step, train loss); none when the file is missing.
pub fn read(path: &Path) -> Vec<(u64, f64)> {
    parse(&std::fs::read_to_string(path).unwrap_or_default())
}

fn parse(text: &str) -> Vec<(u64, f64)> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let (s, loss) = l.split_once(',')?;
            Some((s.trim().parse().ok()?, loss.trim().parse().ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_append_and_a_resume_trims_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("steps.csv");
        let mut rows = Appender::new(&path);
        for s in [0, 10, 20, 30] {
            rows.append(s, 4.0 - s as f64 / 100.0).unwrap();
        }
        drop(rows);
        std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(b"40,3.").unwrap();
        assert_eq!(read(&path).len(), 5, "a torn last row still parses as far as it goes");
        keep_before(&path, 20).unwrap();
        assert_eq!(read(&path), [(0, 4.0), (10, 3.9)]);
        create(&path).unwrap();
        assert!(read(&path).is_empty());
    }
}
