//! `sweep sample RUN_DIR`: loads a run's checkpoint and generates text from prompts.

use crate::args::SampleArgs;
use anyhow::Context;
use corpus::Tokenizer;
use sweep::RunDir;
use sweep::exit_code;
use sweep_config::RunConfig;

pub fn sample(a: SampleArgs) -> anyhow::Result<u8> {
    let dir = RunDir::new(&a.run_dir);
    if dir.path.join("sweep.json").exists() {
        let example = sweep::output::run_dir::load_all(&dir.path).ok().and_then(|runs| runs.into_iter().find(|s| s.status == sweep::Status::Done));
        anyhow::bail!(
            "{} is a sweep folder; give one of its run folders{}",
            dir.path.display(),
            example.map(|s| format!(", e.g. {}", dir.path.join(s.run_id).display())).unwrap_or_default()
        );
    }
    let config_text = std::fs::read_to_string(dir.config()).with_context(|| format!("{} is not a run folder (no config.json)", dir.path.display()))?;
    let mut config: RunConfig = serde_json::from_str(&config_text).with_context(|| format!("parsing {}", dir.config().display()))?;
    anyhow::ensure!(dir.checkpoint().exists(), "{} has no checkpoint (model.safetensors); the run did not finish", dir.path.display());
    let tokenizer = Tokenizer::load(&dir.tokenizer())?;
    let device = train::pick_device(&a.device)?;
    let (_vs, model) = train::checkpoint::load(&dir.checkpoint(), &config.model, tokenizer.vocab_size(), device)?;
    let s = &mut config.sample;
    s.max_new_tokens = a.max_new_tokens.unwrap_or(s.max_new_tokens);
    s.temperature = a.temperature.unwrap_or(s.temperature);
    s.top_k = a.top_k.or(s.top_k);
    anyhow::ensure!(s.top_k != Some(0), "--top-k must be at least 1 (got 0)");
    anyhow::ensure!(s.temperature > 0.0, "--temperature must be positive (got {})", s.temperature);
    let prompts = if a.prompt.is_empty() { config.sample.prompts.clone() } else { a.prompt.clone() };
    for p in &prompts {
        tokenizer.encode(p).map_err(|e| anyhow::anyhow!("prompt {p:?}: {e}"))?;
    }
    print!("{}", train::sample::samples_text(&config.sample, &tokenizer, &model, device, &prompts, a.seed));
    Ok(exit_code::OK)
}
