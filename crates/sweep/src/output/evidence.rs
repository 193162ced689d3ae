//! Gathers what diagnosis needs from a run folder: config.json, loss.csv, the iter lines
//! of train.log, samples.txt, summary numbers and the training split's text.

use crate::output::loss_csv;
use crate::output::run_dir::RunDir;
use crate::output::summary::{Status, Summary};
use corpus::Tokenizer;
use diagnose::nanogpt_log::Log;
use diagnose::{Eval, Evidence, Params, Schedule};
use std::path::Path;
use sweep_config::{RunConfig, flops_per_token};

/// Evidence for the run in `dir`; whatever cannot be read is left unknown.
pub fn from_run_dir(dir: &RunDir, summary: &Summary) -> Evidence {
    let config: Option<RunConfig> = dir.read_config().ok();
    let evals = loss_csv::read(&dir.loss_csv())
        .map(|rows| rows.into_iter().map(|r| Eval { step: r.step, train: r.train_loss, val: r.val_loss, lr: Some(r.lr) }).collect())
        .unwrap_or_default();
    let iters = std::fs::read_to_string(dir.log()).ok().and_then(|t| Log::parse(&t).ok()).map(|l| l.iters).unwrap_or_default();
    let mut e = Evidence {
        name: Some(summary.run_id.clone()),
        evals,
        iters,
        tokens_seen: summary.tokens_seen,
        train_tokens: summary.train_tokens,
        tokens_per_second: summary.tokens_per_second,
        device: summary.device.clone(),
        ..Default::default()
    };
    if summary.status == Status::Diverged {
        // The non-finite step, else the last logged one (the loss that exploded).
        e.diverged = e.iters.iter().find(|i| !i.loss.is_finite()).or(e.iters.last()).map(|i| (i.step, i.loss));
    }
    let Some(config) = config else { return e };
    let (m, t) = (&config.model, &config.train);
    e.dropout = Some(m.dropout);
    e.schedule = Some(Schedule { lr: t.lr, min_lr: t.min_lr(), warmup_iters: t.warmup_iters, lr_decay_iters: t.lr_decay_iters() });
    e.tokens_per_step = Some(t.tokens_per_step(m.block_size));
    e.block_size = Some(m.block_size as u64);
    e.planned_steps = Some(t.max_iters);
    e.grad_clip = Some(t.grad_clip);
    e.dataset = Path::new(&config.data.path).file_name().map(|f| f.to_string_lossy().into_owned());
    if let (Some(total), Some(vocab)) = (summary.n_params, summary.vocab_size) {
        e.params = Some(Params { total, token_embedding: Some((vocab * m.embed_dim) as u64), position_embedding: Some((m.block_size * m.embed_dim) as u64) });
        e.flops_per_token = Some(flops_per_token(m, vocab));
    }
    e.samples = read_samples(&dir.samples(), &config.sample.prompts);
    e.train_text = train_text(dir, &config);
    e
}

/// The continuations in samples.txt, each without its section header and prompt.
fn read_samples(path: &Path, prompts: &[String]) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(path) else { return Vec::new() };
    text.split("--- sample ")
        .skip(1)
        .enumerate()
        .filter_map(|(i, section)| {
            let body = section.split_once('\n')?.1.trim_end();
            let prompt = prompts.get(i).map(String::as_str).unwrap_or_default();
            Some(body.strip_prefix(prompt).unwrap_or(body).to_string())
        })
        .filter(|s| !s.is_empty())
        .collect()
}

/// Training splits longer than this are not decoded to look for memorised spans (the
/// search is over the whole text, in memory).
const MAX_TRAIN_TOKENS_SEARCHED: usize = 4 << 20;

/// The training split as text, decoded from the token cache with the run's own tokenizer;
/// None for a corpus too large to search or no longer cached.
fn train_text(dir: &RunDir, config: &RunConfig) -> Option<String> {
    let tokenizer = Tokenizer::load(&dir.tokenizer()).ok()?;
    let cached = corpus::cache::open(&config.data, &dir.token_cache_root(&config.data)).ok()?;
    let data = cached.token_data(config.data.val_fraction).ok()?;
    (data.train.len() <= MAX_TRAIN_TOKENS_SEARCHED).then(|| tokenizer.decode(&data.train.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_lose_headers_and_prompts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("samples.txt");
        std::fs::write(
            &path,
            "--- sample 1 (prompt \"夏天\", temperature 0.8, top_k 40) ---\n夏天的飞鸟\n\n--- sample 2 (prompt \"\", temperature 0.8, top_k 40) ---\nabc\n\n",
        )
        .unwrap();
        assert_eq!(read_samples(&path, &["夏天".into(), String::new()]), ["的飞鸟", "abc"]);
    }
}
