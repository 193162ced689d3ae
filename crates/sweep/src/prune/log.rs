//! `early_stop.jsonl` in the sweep folder: one early-termination decision per line, appended
//! by whichever worker made it (O_APPEND, one write per line, synced), and one `resume`
//! line per run continued with --resume-pruned. A line cut short by a crash is skipped when
//! read; the decision is then made again from the same data.

use crate::prune::Decision;
use crate::prune::Verdict;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

pub fn path(sweep_dir: &Path) -> PathBuf {
    sweep_dir.join("early_stop.jsonl")
}

/// Appends one decision.
pub fn append(sweep_dir: &Path, decision: &Decision) -> anyhow::Result<()> {
    crate::output::run_dir::append_line(&path(sweep_dir), &serde_json::to_string(decision)?)
}

/// Every complete decision, in the order they were made.
pub fn read(sweep_dir: &Path) -> Vec<Decision> {
    std::fs::read_to_string(path(sweep_dir)).unwrap_or_default().lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

/// The decision made for each (run, step), the first when there are several; runs
/// continued with --resume-pruned are left out (they are not compared again).
pub fn by_run_step(sweep_dir: &Path) -> HashMap<(String, u64), Decision> {
    let mut out = HashMap::new();
    for d in read(sweep_dir).into_iter().filter(|d| d.verdict != Verdict::Resume) {
        out.entry((d.run.clone(), d.step)).or_insert(d);
    }
    out
}

/// Runs continued with --resume-pruned: trained to the end, never pruned again, even
/// after an interruption.
pub fn resumed(sweep_dir: &Path) -> HashSet<String> {
    read(sweep_dir).into_iter().filter(|d| d.verdict == Verdict::Resume).map(|d| d.run).collect()
}

/// The step of the first prune decision for `run` at or before `step`, if any.
pub fn pruned_by(sweep_dir: &Path, run: &str, step: u64) -> Option<Decision> {
    read(sweep_dir).into_iter().find(|d| d.run == run && d.verdict == Verdict::Prune && d.step <= step)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn appends_and_skips_a_torn_line() {
        let dir = tempfile::tempdir().unwrap();
        let d = Decision {
            run: "a".into(),
            step: 50,
            val_loss: Some(2.0),
            verdict: Verdict::Prune,
            rule: "r".into(),
            cutoff: Some(1.5),
            compared_with: vec![("b".into(), Some(1.5)), ("c".into(), None)],
        };
        append(dir.path(), &d).unwrap();
        std::fs::OpenOptions::new().append(true).open(path(dir.path())).unwrap().write_all(b"{\"run\":\"b\",\"st").unwrap();
        assert_eq!(read(dir.path()), std::slice::from_ref(&d));
        append(dir.path(), &d).unwrap();
        assert_eq!(read(dir.path()), [d.clone(), d.clone()]);
        assert_eq!(by_run_step(dir.path())[&("a".to_string(), 50)], d);
    }
}
