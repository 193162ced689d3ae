//! Autoregressive generation with temperature and top-k, cropping the context to block_size;
//! and samples.txt's text: a header and a continuation for each prompt.

use crate::Gpt;
use corpus::Tokenizer;
use sweep_config::SampleConfig;
use tch::{Device, Kind, Tensor};

/// Continues `prompt` by `max_new_tokens` token ids.
pub fn generate(model: &Gpt, prompt: &[u32], max_new_tokens: usize, temperature: f64, top_k: Option<usize>, device: Device) -> Vec<u32> {
    let _guard = tch::no_grad_guard();
    let mut ids: Vec<i64> = prompt.iter().map(|&i| i64::from(i)).collect();
    if ids.is_empty() {
        ids.push(0);
    }
    let start = ids.len();
    for _ in 0..max_new_tokens {
        let ctx = &ids[ids.len().saturating_sub(model.block_size)..];
        let idx = Tensor::from_slice(ctx).to(device).unsqueeze(0);
        let logits = model.forward_t(&idx, false).select(1, -1).squeeze_dim(0) / temperature;
        let logits = match top_k {
            Some(k) if k < model.vocab_size => {
                let (top, _) = logits.topk(k as i64, -1, true, true);
                let floor = top.select(0, -1);
                logits.where_self(&logits.ge_tensor(&floor), &Tensor::from(f64::NEG_INFINITY).to_device(device))
            }
            _ => logits,
        };
        let next = logits.softmax(-1, Kind::Float).multinomial(1, true);
        ids.push(i64::try_from(next).unwrap_or(0));
    }
    // The generated ids follow the prompt (an empty prompt's placeholder id is dropped).
    let mut out: Vec<u32> = prompt.to_vec();
    out.extend(ids[start..].iter().map(|&i| i as u32));
    out
}

/// Continues each prompt as `s` says (length, temperature, top-k), after seeding libtorch's
/// generator with `seed`: samples.txt's text, a header line before each continuation. A
/// prompt the tokenizer cannot encode says so in its place.
pub fn samples_text(s: &SampleConfig, tokenizer: &Tokenizer, model: &Gpt, device: Device, prompts: &[String], seed: u64) -> String {
    tch::manual_seed(seed as i64);
    let mut text = String::new();
    for (i, prompt) in prompts.iter().enumerate() {
        text.push_str(&format!(
            "--- sample {} (prompt {:?}, temperature {}, top_k {}) ---\n",
            i + 1,
            prompt,
            s.temperature,
            s.top_k.map_or("all".into(), |k| k.to_string())
        ));
        match tokenizer.encode(prompt) {
            Ok(ids) => {
                let out = generate(model, &ids, s.max_new_tokens, s.temperature, s.top_k, device);
                text.push_str(&tokenizer.decode(&out));
            }
            Err(e) => text.push_str(&format!("(cannot encode this prompt: {e})")),
        }
        text.push_str("\n\n");
    }
    text
}
