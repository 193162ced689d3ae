//! `sweep diagnose TARGET`: findings for a run folder, every run of a sweep folder (plus
//! the sweep-level picture), or a nanoGPT training log.

use crate::args::{DiagnoseArgs, DiagnoseFormat};
use crate::exit_code;
use anyhow::Context;
use diagnose::nanogpt_log::{Log, LogOptions};
use diagnose::{Diagnosis, render_text};
use serde_json::json;
use std::path::Path;
use sweep::output::evidence;
use sweep::{RunDir, Summary};

pub fn diagnose(a: DiagnoseArgs) -> anyhow::Result<u8> {
    let target = a.target.clone();
    let text = if target.is_file() {
        diagnose_log(&target, a)?
    } else if target.join("config.json").exists() {
        let (summary, d) = diagnose_run(&RunDir::new(&target))?;
        match a.format {
            DiagnoseFormat::Text => render_text(&target.display().to_string(), &d),
            DiagnoseFormat::Json => to_json(&json!({ "target": target, "run_id": summary.run_id, "verdict": d.verdict, "findings": d.findings }))?,
        }
    } else if target.is_dir() {
        diagnose_sweep(&target, a.format)?
    } else {
        anyhow::bail!("{} does not exist; give a run folder, a sweep folder or a nanoGPT log file", target.display());
    };
    print!("{text}");
    Ok(exit_code::OK)
}

fn to_json(v: &serde_json::Value) -> anyhow::Result<String> {
    Ok(serde_json::to_string_pretty(v)? + "\n")
}

/// Diagnoses a finished run afresh from its files.
fn diagnose_run(dir: &RunDir) -> anyhow::Result<(Summary, Diagnosis)> {
    let summary = dir.read_summary().with_context(|| format!("{} has no readable summary.json; the run has not finished", dir.path.display()))?;
    let d = diagnose::diagnose(&evidence::from_run_dir(dir, &summary));
    Ok((summary, d))
}

fn diagnose_sweep(path: &Path, format: DiagnoseFormat) -> anyhow::Result<String> {
    let mut dirs: Vec<_> = std::fs::read_dir(path)
        .with_context(|| format!("reading {}", path.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.join("summary.json").exists())
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
    let picture = sweep::report::sweep_picture(&summaries);
    Ok(match format {
        DiagnoseFormat::Text => {
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
        DiagnoseFormat::Json => {
            let runs: Vec<_> =
                summaries.iter().map(|s| json!({ "run_id": s.run_id, "status": s.status, "verdict": s.verdict, "findings": s.findings })).collect();
            to_json(&json!({ "target": path, "runs": runs, "across_the_sweep": picture }))?
        }
    })
}

fn diagnose_log(path: &Path, a: DiagnoseArgs) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let log = Log::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let train_tokens = match (&a.train_tokens, &a.train_bin) {
        (Some(n), _) => Some(*n),
        (None, Some(bin)) => Some(std::fs::metadata(bin).with_context(|| format!("reading {}", bin.display()))?.len() / 2),
        _ => None,
    };
    let read = |p: &Option<std::path::PathBuf>| -> anyhow::Result<Option<String>> {
        p.as_ref().map(|p| std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))).transpose()
    };
    let opts = LogOptions {
        name: a.name,
        tokens_per_iter: a.tokens_per_iter,
        batch_size: a.batch_size,
        block_size: a.block_size,
        grad_accum: a.grad_accum,
        train_tokens,
        dropout: a.dropout,
        lr: a.lr,
        min_lr: a.min_lr,
        warmup_iters: a.warmup_iters,
        lr_decay_iters: a.lr_decay_iters,
        gpu: a.gpu,
        samples: read(&a.samples)?.into_iter().collect(),
        train_text: read(&a.train_text)?,
    };
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let d = diagnose::diagnose(&log.evidence(&file_name, opts));
    Ok(match a.format {
        DiagnoseFormat::Text => render_text(&path.display().to_string(), &d),
        DiagnoseFormat::Json => to_json(&json!({ "target": path, "verdict": d.verdict, "findings": d.findings }))?,
    })
}
