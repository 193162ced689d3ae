//! `loss.csv`: one row per evaluation with a header; written row by row as training goes.

use serde::{Deserialize, Serialize};
use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

/// One evaluation. Column names are the header of loss.csv.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LossRow {
    pub step: u64,
    pub tokens_seen: u64,
    pub lr: f64,
    pub train_loss: f64,
    pub val_loss: f64,
    pub elapsed_s: f64,
}

pub const HEADER: &str = "step,tokens_seen,lr,train_loss,val_loss,elapsed_s";

/// Creates (or truncates) loss.csv with just the header.
pub fn create(path: &Path) -> std::io::Result<()> {
    std::fs::write(path, format!("{HEADER}\n"))
}

/// Appends one row and flushes it to disk, so a crash loses at most the row being written.
pub fn append(path: &Path, row: &LossRow) -> std::io::Result<()> {
    let mut file = OpenOptions::new().append(true).open(path)?;
    let mut w = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
    w.serialize(row).map_err(std::io::Error::other)?;
    let bytes = w.into_inner().map_err(|e| std::io::Error::other(e.to_string()))?;
    file.write_all(&bytes)?;
    file.sync_data()
}

/// Keeps the header and the rows with step < `step` (the rows a resumed run will not
/// produce again); a torn last line from a crash is dropped too. Rewritten atomically.
pub fn keep_before(path: &Path, step: u64) -> std::io::Result<()> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut out = format!("{HEADER}\n");
    for line in text.lines().skip(1) {
        if parse_line(line).is_some_and(|r| r.step < step) {
            out.push_str(line);
            out.push('\n');
        }
    }
    crate::output::run_dir::write_atomic(path, out.as_bytes()).map_err(std::io::Error::other)
}

/// One complete row, or None for a line cut short (by a crash, or because it is being
/// written as it is read).
fn parse_line(line: &str) -> Option<LossRow> {
    let fields: Vec<&str> = line.split(',').collect();
    if fields.len() != HEADER.split(',').count() {
        return None;
    }
    let number = |i: usize| fields[i].parse::<f64>().ok();
    Some(LossRow {
        step: fields[0].parse().ok()?,
        tokens_seen: fields[1].parse().ok()?,
        lr: number(2)?,
        train_loss: number(3)?,
        val_loss: number(4)?,
        elapsed_s: number(5)?,
    })
}

/// The complete rows of a loss.csv that may be being written (empty when it is missing).
pub fn read_complete(path: &Path) -> Vec<LossRow> {
    std::fs::read_to_string(path).unwrap_or_default().lines().skip(1).filter_map(parse_line).collect()
}

pub fn read(path: &Path) -> Result<Vec<LossRow>, csv::Error> {
    csv::Reader::from_path(path)?.deserialize().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_then_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("loss.csv");
        create(&path).unwrap();
        let rows = vec![
            LossRow { step: 0, tokens_seen: 0, lr: 1e-5, train_loss: 4.2, val_loss: 4.3, elapsed_s: 0.1 },
            LossRow { step: 50, tokens_seen: 3200, lr: 1e-3, train_loss: 2.5, val_loss: 2.7, elapsed_s: 1.5 },
        ];
        for r in &rows {
            append(&path, r).unwrap();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().next().unwrap(), HEADER);
        assert_eq!(text.lines().nth(2).unwrap(), "50,3200,0.001,2.5,2.7,1.5");
        assert_eq!(read(&path).unwrap(), rows);

        // Resuming at step 50 drops the step-50 row and a torn line.
        std::fs::write(&path, format!("{text}100,64")).unwrap();
        keep_before(&path, 50).unwrap();
        assert_eq!(read(&path).unwrap(), rows[..1]);
    }
}
