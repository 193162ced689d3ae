//! Parsing the text nanoGPT's train.py prints: `step N: train loss X, val loss Y`,
//! `iter N: loss X, time Tms, mfu M%`, `number of parameters: P M`, `tokens per iteration
//! will be: N`, and the settings it echoes (`Overriding config with FILE:` followed by the
//! file's `key = value` lines, and `Overriding: key = value`). Other lines are ignored.

use crate::{Eval, Evidence, Iter, Params, Schedule};
use regex::Regex;
use std::collections::HashMap;

/// What a log says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Log {
    pub evals: Vec<Eval>,
    pub iters: Vec<Iter>,
    /// "number of parameters: 10.65M": nanoGPT's count without position embeddings.
    pub params_no_pos: Option<u64>,
    pub tokens_per_iter: Option<u64>,
    /// Echoed settings, later lines overriding earlier ones (as nanoGPT applies them).
    pub settings: HashMap<String, String>,
    /// The first line (1-based) that names a GPU, and the GPU as `mfu::PEAK_FLOPS` names it.
    pub gpu_line: Option<(usize, &'static str)>,
}

/// What the user adds or overrides on the command line.
#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    pub name: Option<String>,
    pub tokens_per_iter: Option<u64>,
    pub batch_size: Option<u64>,
    pub block_size: Option<u64>,
    pub grad_accum: Option<u64>,
    pub train_tokens: Option<u64>,
    pub dropout: Option<f64>,
    pub lr: Option<f64>,
    pub min_lr: Option<f64>,
    pub warmup_iters: Option<u64>,
    pub lr_decay_iters: Option<u64>,
    /// GPU model the run used, e.g. "H100", to rescale the logged MFU.
    pub gpu: Option<String>,
    pub samples: Vec<String>,
    pub train_text: Option<String>,
}

fn num(s: &str) -> Option<f64> {
    match s.trim().to_ascii_lowercase().as_str() {
        "nan" => Some(f64::NAN),
        "inf" | "+inf" => Some(f64::INFINITY),
        "-inf" => Some(f64::NEG_INFINITY),
        t => t.replace(',', "").parse().ok(),
    }
}

/// A Python literal from a config line: quotes and comments stripped.
fn python_value(raw: &str) -> String {
    let v = raw.split('#').next().unwrap_or_default().trim();
    v.trim_matches(|c| c == '\'' || c == '"').to_string()
}

impl Log {
    /// Parses log text; fails only when no `step N: train loss …` line is found.
    pub fn parse(text: &str) -> Result<Log, String> {
        let step = Regex::new(r"^step (\d+): train loss (\S+), val loss (\S+)").expect("regex");
        let iter = Regex::new(r"^iter (\d+): loss ([^,]+), time ([\d.]+)ms(?:, mfu (-?[\d.]+)%)?").expect("regex");
        let params = Regex::new(r"^number of parameters: ([\d.]+)M").expect("regex");
        let tokens = Regex::new(r"^tokens per iteration will be: ([\d,]+)").expect("regex");
        let assign = Regex::new(r"^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.+)$").expect("regex");
        let mut log = Log::default();
        let mut in_config_file = false;
        for (i, line) in text.lines().enumerate() {
            let line = line.trim_end();
            // A GPU named in a comment, a setting or a printed line (not in the numbers).
            let numeric_setting = assign.captures(line.trim()).is_some_and(|c| num(&python_value(&c[2])).is_some());
            if log.gpu_line.is_none() && !numeric_setting && !step.is_match(line) && !iter.is_match(line) && !tokens.is_match(line) {
                log.gpu_line = crate::mfu::gpu_named_in(line).map(|g| (i + 1, g));
            }
            if let Some(c) = step.captures(line) {
                in_config_file = false;
                if let (Ok(s), Some(t), Some(v)) = (c[1].parse(), num(&c[2]), num(&c[3])) {
                    log.evals.push(Eval { step: s, train: t, val: v, lr: None });
                }
            } else if let Some(c) = iter.captures(line) {
                in_config_file = false;
                if let (Ok(s), Some(l)) = (c[1].parse(), num(&c[2])) {
                    let mfu = c.get(4).and_then(|m| num(m.as_str())).filter(|m| *m >= 0.0).map(|m| m / 100.0);
                    log.iters.push(Iter { step: s, loss: l, ms: num(&c[3]), mfu });
                }
            } else if let Some(c) = params.captures(line) {
                log.params_no_pos = num(&c[1]).map(|m| (m * 1e6).round() as u64);
            } else if let Some(c) = tokens.captures(line) {
                log.tokens_per_iter = num(&c[1]).map(|t| t as u64);
            } else if line.starts_with("Overriding config with ") {
                in_config_file = true;
            } else if let Some(rest) = line.strip_prefix("Overriding: ") {
                if let Some(c) = assign.captures(rest.trim()) {
                    log.settings.insert(c[1].to_string(), python_value(&c[2]));
                }
            } else if in_config_file && let Some(c) = assign.captures(line.trim()) {
                log.settings.insert(c[1].to_string(), python_value(&c[2]));
            }
        }
        // Two runs appended to one file: the last one (from its step 0) is the one read.
        let restart = |steps: Vec<u64>| steps.windows(2).rposition(|w| w[1] < w[0]).map_or(0, |i| i + 1);
        let from = restart(log.evals.iter().map(|e| e.step).collect());
        log.evals.drain(..from);
        let from = restart(log.iters.iter().map(|i| i.step).collect());
        log.iters.drain(..from);
        if log.evals.is_empty() {
            return Err("no `step N: train loss X, val loss Y` lines found; is this a nanoGPT training log?".into());
        }
        Ok(log)
    }

    fn get(&self, key: &str) -> Option<f64> {
        self.settings.get(key).and_then(|v| num(v))
    }

    /// Evidence from the log, with `opts` filling in or overriding what the log lacks.
    pub fn evidence(&self, file_name: &str, opts: LogOptions) -> Evidence {
        let int = |key: &str| self.get(key).map(|v| v as u64);
        let block_size = opts.block_size.or(int("block_size"));
        let batch_size = opts.batch_size.or(int("batch_size"));
        let grad_accum = opts.grad_accum.or(int("gradient_accumulation_steps"));
        let from_shape = match (batch_size, block_size) {
            (Some(b), Some(t)) => Some(b * t * grad_accum.unwrap_or(1)),
            _ => None,
        };
        let tokens_per_step = opts.tokens_per_iter.or(self.tokens_per_iter).or(from_shape);
        let lr = opts.lr.or(self.get("learning_rate"));
        let constant = self.settings.get("decay_lr").is_some_and(|v| v == "False");
        let schedule = match (lr, opts.min_lr.or(self.get("min_lr")), opts.warmup_iters.or(int("warmup_iters")), opts.lr_decay_iters.or(int("lr_decay_iters")))
        {
            // decay_lr = False: nanoGPT holds the lr (no warmup either).
            (Some(lr), ..) if constant => Some(Schedule { lr, min_lr: lr, warmup_iters: 0, lr_decay_iters: 0 }),
            (Some(lr), Some(min_lr), Some(w), Some(d)) => Some(Schedule { lr, min_lr, warmup_iters: w, lr_decay_iters: d }),
            _ => None,
        };
        let position = match (block_size, int("n_embd")) {
            (Some(t), Some(c)) => Some(t * c),
            _ => None,
        };
        let params = self.params_no_pos.map(|p| Params { total: p + position.unwrap_or(0), token_embedding: None, position_embedding: position });
        let gpu_from_file = crate::mfu::gpu_named_in(file_name);
        // The file name is the user's own words for this run; a comment in the log may be
        // a stock config's ("on 8X A100 40GB"), so it comes second.
        // A run on the CPU or Apple's GPU says so in its settings.
        let host = self.settings.get("device").filter(|d| *d == "cpu" || d.starts_with("mps")).cloned();
        let (device, device_source) = match (opts.gpu, gpu_from_file, self.gpu_line) {
            (None, _, _) if host.is_some() => (host, Some("the log's device setting".to_string())),
            // "rtx4070" or "4090" as the table names them; a name it does not know as given.
            (Some(g), _, _) => {
                (Some(crate::mfu::gpu_named_in(&g).filter(|_| crate::mfu::peak_flops(&g).is_none()).map_or(g, str::to_string)), Some("--gpu".to_string()))
            }
            (None, Some(g), _) => (Some(g.to_string()), Some("the file name".to_string())),
            (None, None, Some((line, g))) => (Some(g.to_string()), Some(format!("line {line} of the log"))),
            _ => (None, None),
        };
        let name = opts
            .name
            .or_else(|| self.settings.get("wandb_run_name").cloned())
            .or_else(|| self.settings.get("out_dir").cloned())
            .or_else(|| Some(file_name.to_string()));
        Evidence {
            name,
            evals: self.evals.clone(),
            iters: self.iters.clone(),
            diverged: None,
            dropout: opts.dropout.or(self.get("dropout")),
            schedule,
            params,
            tokens_per_step,
            tokens_seen: None,
            train_tokens: opts.train_tokens,
            block_size,
            flops_per_token: None,
            tokens_per_second: None,
            device,
            device_source,
            dataset: self.settings.get("dataset").cloned(),
            grad_clip: self.get("grad_clip"),
            pretrained: self.settings.get("init_from").filter(|v| v.starts_with("gpt2")).cloned(),
            planned_steps: int("max_iters"),
            samples: opts.samples,
            train_text: opts.train_text,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_lines_nanogpt_prints() {
        let text = "\
Overriding config with config/train_x.py:
# a comment
out_dir = 'out-x'
dropout = 0.2 # regularise
learning_rate = 1e-3
Overriding: max_iters = 500
tokens per iteration will be: 16,384
found vocab_size = 65 (inside data/x/meta.pkl)
number of parameters: 10.65M
step 0: train loss 4.2874, val loss 4.2823
iter 0: loss 4.2649, time 3271.44ms, mfu -100.00%
iter 10: loss 3.2476, time 24.63ms, mfu 15.12%
garbage line
step 250: train loss 1.9659, val loss 2.0719
";
        let log = Log::parse(text).unwrap();
        assert_eq!(log.evals.len(), 2);
        assert_eq!(log.evals[1], Eval { step: 250, train: 1.9659, val: 2.0719, lr: None });
        assert_eq!(log.iters[0].mfu, None, "nanoGPT's -100% placeholder is not an MFU");
        assert_eq!(log.iters[1].mfu, Some(0.1512));
        assert_eq!(log.params_no_pos, Some(10_650_000));
        assert_eq!(log.tokens_per_iter, Some(16384));
        assert_eq!(log.settings["dropout"], "0.2");
        assert_eq!(log.settings["out_dir"], "out-x");
        assert_eq!(log.settings["max_iters"], "500");
        assert!(!log.settings.contains_key("found vocab_size"));
        let e = log.evidence("train.log", LogOptions::default());
        assert_eq!(e.name.as_deref(), Some("out-x"));
        assert_eq!(e.dropout, Some(0.2));
        assert_eq!(e.tokens_seen(), Some(250 * 16384));
        assert!(e.schedule.is_none(), "min_lr and warmup are not in this log: no schedule is guessed");
    }

    #[test]
    fn a_file_without_step_lines_is_an_error() {
        assert!(Log::parse("hello\niter 1: loss 2.0, time 1ms\n").unwrap_err().contains("no `step N"));
    }
}
