//! Trains one small GPT on a text file with the train crate directly (no spec, no run
//! folder) and prints nanoGPT-style progress and a sample:
//!
//!   cargo run --release --example train_one -- data/feiniao.txt 200

use corpus::{TokenData, Tokenizer, read_text};
use sweep_config::{ModelConfig, RunConfig};
use train::{EvalRow, Observer};

struct Print;

impl Observer for Print {
    fn on_eval(&mut self, _row: &EvalRow) {}
    fn on_log(&mut self, line: &str) {
        println!("{line}");
    }
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_else(|| "data/feiniao.txt".into());
    let steps: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(200);
    let mut cfg = RunConfig::with_data(&path);
    cfg.model = ModelConfig { block_size: 32, embed_dim: 64, n_layers: 2, n_heads: 4, ..ModelConfig::default() };
    cfg.train.max_iters = steps;
    let text = read_text(path.as_ref())?;
    let tokenizer = Tokenizer::build(&cfg.data, &text)?;
    let data = TokenData::split(&tokenizer, &text, cfg.data.val_fraction)?;
    data.check_fits(path.as_ref(), cfg.model.block_size, Some(cfg.data.val_fraction))?;
    let device = train::pick_device("auto")?;
    let out = train::train(&cfg, &data, device, &mut Print, None)?;
    let prompt = tokenizer.encode(text.chars().take(2).collect::<String>().as_str())?;
    let ids = train::sample::generate(&out.model, &prompt, 100, 0.8, Some(40), device);
    println!("---\n{}", tokenizer.decode(&ids));
    Ok(())
}
