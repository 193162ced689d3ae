//! What a trial starts from: the run folder's config.json and swept values, the corpus and
//! tokenizer it trains on, and where its saved state resumes (loss.csv and steps.csv
//! trimmed to match), or fresh logs when it starts over.

use crate::observer::say;
use crate::record::Params;
use anyhow::Context;
use corpus::{TokenData, Tokenizer};
use std::path::Path;
use sweep::output::loss_csv;
use sweep::output::run_dir::RunDir;
use sweep::output::steps_csv;
use sweep_config::RunConfig;
use train::Device;

/// loss.csv and steps.csv for a run that starts from step 0.
pub(crate) fn fresh_logs(dir: &RunDir) -> anyhow::Result<()> {
    loss_csv::create(&dir.loss_csv()).with_context(|| format!("creating {}", dir.loss_csv().display()))?;
    steps_csv::create(&dir.steps_csv()).with_context(|| format!("creating {}", dir.steps_csv().display()))
}

/// The swept values of this run, from sweep.json's grid or space; empty when unknown.
pub(crate) fn read_params(dir: &RunDir) -> Params {
    let spec = dir.path.parent().and_then(|sweep_dir| sweep::Spec::saved(sweep_dir).ok());
    match (spec, dir.read_config().ok()) {
        (Some(spec), Some(config)) => spec.swept_keys().into_iter().filter_map(|k| Some((k.clone(), config.get(&k)?))).collect(),
        _ => Default::default(),
    }
}

/// How long this trial process took to open its corpus (`inputs`), for summary.json. One
/// process opens one corpus, once (a pack's members share it).
pub(crate) static DATA_LOAD_SECONDS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();

/// This process's peak resident memory in MB (VmHWM in /proc/self/status), where Linux says.
pub(crate) fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb / 1024.0)
}

/// The tokenizer and the corpus a run trains on, on the device it asks for. The corpus is
/// memory-mapped from the token cache `sweep run` filled before it started the trial; the
/// cache must hold the sources as they are now, tokenized by this run's tokenizer.
pub(crate) fn inputs(dir: &RunDir, config: &RunConfig) -> anyhow::Result<(Device, Tokenizer, TokenData)> {
    let start = std::time::Instant::now();
    crate::record::fake_cuda_oom(dir)?;
    let device = train::pick_device(&config.train.device)?;
    let tokenizer = Tokenizer::load(&dir.tokenizer())?;
    let cached = corpus::cache::open(&config.data, &dir.token_cache_root(&config.data))?;
    if cached.manifest.tokenizer != tokenizer.fingerprint()? {
        let what = format!("the corpus {} in the token cache", config.data.path);
        return Err(corpus::DataError::TokenizerMismatch { what, cache: cached.dir }.into());
    }
    let data = cached.token_data(config.data.val_fraction)?;
    let val_fraction = cached.manifest.val.is_none().then_some(config.data.val_fraction);
    data.check_fits(Path::new(&config.data.path), config.model.block_size, val_fraction)?;
    let _ = DATA_LOAD_SECONDS.set(start.elapsed().as_secs_f64());
    Ok((device, tokenizer, data))
}

/// The step a run folder's saved state resumes at (its loss.csv trimmed to match), or None
/// to start over: no state, or one that cannot be read (a warning says so).
pub(crate) fn resume_point(dir: &RunDir, prefix: &str) -> anyhow::Result<Option<u64>> {
    if !dir.resume_state().exists() {
        return Ok(None);
    }
    match train::checkpoint::resume_step(&dir.resume_state()) {
        Ok(step) => {
            loss_csv::keep_before(&dir.loss_csv(), step).with_context(|| format!("trimming {}", dir.loss_csv().display()))?;
            steps_csv::keep_before(&dir.steps_csv(), step).with_context(|| format!("trimming {}", dir.steps_csv().display()))?;
            Ok(Some(step))
        }
        Err(e) => {
            say(&format!("{prefix}warning: {e:#}; restarting this run from scratch"));
            Ok(None)
        }
    }
}

/// train.log's first line for an attempt: where it starts, on what, with how much data.
pub(crate) fn start_line(dir: &RunDir, device: Device, data: &TokenData, step: Option<u64>) -> String {
    let on = train::device::device_name(device);
    match step {
        Some(step) => format!("run {} (pid {}): resuming at step {step} on {on}", dir.id(), std::process::id()),
        None => format!(
            "run {} (pid {}): starting at step 0 on {on}: {} train tokens, {} val tokens, vocab {}",
            dir.id(),
            std::process::id(),
            data.train.len(),
            data.val.len(),
            data.vocab_size
        ),
    }
}

/// Whether a training error means the saved state at `dir` cannot be used (start over).
pub(crate) fn unusable_state(e: &train::TrainError, dir: &RunDir) -> bool {
    matches!(e, train::TrainError::Checkpoint { path, .. } if Path::new(path) == dir.resume_state())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_or_unreadable_state_starts_over_and_logs_start_fresh() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = RunDir::new(tmp.path().join("run"));
        std::fs::create_dir_all(&dir.path).unwrap();
        assert_eq!(resume_point(&dir, "").unwrap(), None, "no saved state");
        std::fs::write(dir.resume_state(), b"not safetensors").unwrap();
        assert_eq!(resume_point(&dir, "").unwrap(), None, "a state that cannot be read");
        fresh_logs(&dir).unwrap();
        assert!(loss_csv::read(&dir.loss_csv()).unwrap().is_empty());
        assert!(dir.steps_csv().exists());
    }

    #[test]
    fn params_come_from_the_sweep_spec_and_the_run_config() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = RunDir::new(tmp.path().join("lr1e-2"));
        std::fs::create_dir_all(&dir.path).unwrap();
        assert!(read_params(&dir).is_empty(), "no sweep.json: unknown");
        let plan = sweep::Plan::from_spec_text("name: s\ndata:\n  path: d.txt\ngrid:\n  lr: [0.01]\n").unwrap();
        let spec = sweep::Spec::parse("name: s\ndata:\n  path: d.txt\ngrid:\n  lr: [0.01]\n").spec;
        sweep::output::run_dir::write_json(&tmp.path().join("sweep.json"), &spec).unwrap();
        sweep::output::run_dir::write_json(&dir.config(), &plan.runs[0].config).unwrap();
        assert_eq!(read_params(&dir).get("lr"), Some(&serde_json::json!(0.01)));
        assert_eq!(dir.read_config().unwrap(), plan.runs[0].config);
    }
}
