//! `early_stop.jsonl` in the sweep folder: one early-termination decision per line, appended
//! by whichever worker made it (O_APPEND, one write per line, synced). A line cut short
//! by a crash is skipped when read; the decision is then made again from the same data.

use crate::prune::Decision;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

pub fn path(sweep_dir: &Path) -> PathBuf {
    sweep_dir.join("early_stop.jsonl")
}

/// Appends one decision.
pub fn append(sweep_dir: &Path, decision: &Decision) -> anyhow::Result<()> {
    let path = path(sweep_dir);
    let mut line = serde_json::to_string(decision)?;
    line.push('\n');
    let mut file =
        std::fs::OpenOptions::new().create(true).append(true).read(true).open(&path).map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?;
    // A line a crash cut short is ended first, so that it does not swallow this one.
    let len = file.metadata().map_or(0, |m| m.len());
    let mut last = [b'\n'];
    if len > 0 {
        use std::os::unix::fs::FileExt;
        let _ = file.read_at(&mut last, len - 1);
    }
    if last[0] != b'\n' {
        line.insert(0, '\n');
    }
    file.write_all(line.as_bytes()).and_then(|_| file.sync_data()).map_err(|e| anyhow::anyhow!("cannot append to {}: {e}", path.display()))
}

/// Every complete decision, in the order they were made.
pub fn read(sweep_dir: &Path) -> Vec<Decision> {
    std::fs::read_to_string(path(sweep_dir)).unwrap_or_default().lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

/// The decision made for each (run, step), the first when there are several.
pub fn by_run_step(sweep_dir: &Path) -> HashMap<(String, u64), Decision> {
    let mut out = HashMap::new();
    for d in read(sweep_dir) {
        out.entry((d.run.clone(), d.step)).or_insert(d);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prune::Verdict;

    #[test]
    fn appends_and_skips_a_torn_line() {
        let dir = tempfile::tempdir().unwrap();
        let d = Decision {
            run: "a".into(),
            step: 50,
            val_loss: 2.0,
            verdict: Verdict::Prune,
            rule: "r".into(),
            cutoff: Some(1.5),
            compared_with: vec![("b".into(), 1.5)],
        };
        append(dir.path(), &d).unwrap();
        std::fs::OpenOptions::new().append(true).open(path(dir.path())).unwrap().write_all(b"{\"run\":\"b\",\"st").unwrap();
        assert_eq!(read(dir.path()), std::slice::from_ref(&d));
        append(dir.path(), &d).unwrap();
        assert_eq!(read(dir.path()), [d.clone(), d.clone()]);
        assert_eq!(by_run_step(dir.path())[&("a".to_string(), 50)], d);
    }
}
