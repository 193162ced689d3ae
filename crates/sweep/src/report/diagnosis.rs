//! `sweep diagnose` of run folders: a finished run diagnosed afresh from its files, and
//! every run of a sweep folder with the sweep-level picture (findings a parameter value
//! explains), as text or JSON. (A nanoGPT log is read by `diagnose::nanogpt_log`.)

use crate::output::evidence;
use crate::output::run_dir::RunDir;
use crate::output::summary::Summary;
use anyhow::Context;
use diagnose::{Diagnosis, render_text};
use serde_json::json;
use std::path::Path;

/// A run folder's diagnosis, as text or JSON.
pub fn run_text(dir: &RunDir, json: bool) -> anyhow::Result<String> {
    let (summary, d) = diagnose_run(dir)?;
    Ok(if json {
        to_json(&json!({ "target": dir.path, "run_id": summary.run_id, "verdict": d.verdict, "findings": d.findings }))?
    } else {
        render_text(&dir.path.display().to_string(), &d)
    })
}

pub fn to_json(v: &serde_json::Value) -> anyhow::Result<String> {
    Ok(serde_json::to_string_pretty(v)? + "\n")
}

/// Diagnoses a finished run afresh from its files.
pub fn diagnose_run(dir: &RunDir) -> anyhow::Result<(Summary, Diagnosis)> {
    let summary = dir.read_summary().with_context(|| format!("{} has no readable summary.json; the run has not finished", dir.path.display()))?;
    let d = diagnose::diagnose(&evidence::from_run_dir(dir, &summary));
    Ok((summary, d))
}

pub fn sweep_text(path: &Path, json: bool) -> anyhow::Result<String> {
    let mut dirs: Vec<_> = std::fs::read_dir(path)
        .with_context(|| format!("reading {}", path.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| RunDir::new(p).summary().exists())
        .collect();
    dirs.sort();
    anyhow::ensure!(!dirs.is_empty(), "{} holds no finished runs (no */summary.json)", path.display());
    let mut summaries = Vec::new();
    for d in dirs {
        let (mut summary, diagnosis) = diagnose_run(&RunDir::new(&d))?;
        summary.verdict = Some(diagnosis.verdict);
        summary.findings = diagnosis.findings;
        summaries.push(summary);
    }
    let picture = crate::report::sweep_picture(&summaries);
    Ok(match json {
        false => {
            let mut out = String::new();
            for s in &summaries {
                let d = Diagnosis { verdict: s.verdict.clone().unwrap_or_default(), findings: s.findings.clone() };
                out.push_str(&render_text(&s.run_id, &d));
                out.push('\n');
            }
            out.push_str(&format!("across the sweep ({} runs):\n", summaries.len()));
            if picture.is_empty() {
                out.push_str("- no finding is shared by a group of runs\n");
            }
            for line in picture {
                out.push_str(&format!("- {line}\n"));
            }
            out
        }
        true => {
            let runs: Vec<_> =
                summaries.iter().map(|s| json!({ "run_id": s.run_id, "status": s.status, "verdict": s.verdict, "findings": s.findings })).collect();
            to_json(&json!({ "target": path, "runs": runs, "across_the_sweep": picture }))?
        }
    })
}
