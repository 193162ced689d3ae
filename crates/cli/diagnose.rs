//! `sweep diagnose TARGET`: findings for a run folder, every run of a sweep folder (plus
//! the sweep-level picture; `sweep::report::diagnosis`), or a nanoGPT training log.

use crate::args::{DiagnoseArgs, DiagnoseFormat};
use anyhow::Context;
use diagnose::nanogpt_log::{Log, LogOptions};
use serde_json::json;
use std::path::Path;
use sweep::RunDir;
use sweep::exit_code;
use sweep::report::diagnosis;

pub fn diagnose(a: DiagnoseArgs) -> anyhow::Result<u8> {
    let target = a.target.clone();
    let json = a.format == DiagnoseFormat::Json;
    let text = if target.is_file() {
        diagnose_log(&target, a)?
    } else if RunDir::new(&target).config().exists() {
        diagnosis::run_text(&RunDir::new(&target), json)?
    } else if target.is_dir() {
        diagnosis::sweep_text(&target, json)?
    } else {
        anyhow::bail!("{} does not exist; give a run folder, a sweep folder or a nanoGPT log file", target.display());
    };
    print!("{text}");
    Ok(exit_code::OK)
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
        DiagnoseFormat::Text => diagnose::render_text(&path.display().to_string(), &d),
        DiagnoseFormat::Json => diagnosis::to_json(&json!({ "target": path, "verdict": d.verdict, "findings": d.findings }))?,
    })
}
