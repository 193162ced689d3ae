//! The corpus as the plan sees it: read and tokenized once for the whole sweep (every run
//! sees the same tokens), then checked against every run (long enough for its block_size)
//! and the spec's sample prompts (the tokenizer can encode them), with problems at the
//! spec lines that caused them.

use crate::error::Problem;
use crate::plan::Plan;
use crate::plan::spec::{Places, Spec};
use corpus::{DataError, TokenData, Tokenizer, read_text};
use std::path::PathBuf;

/// The sweep's corpus, tokenized and split.
pub struct Corpus {
    pub path: PathBuf,
    pub tokenizer: Tokenizer,
    pub data: TokenData,
}

/// Reads and tokenizes the spec's corpus, or says at `data.path`'s line why it cannot.
pub fn load(spec: &Spec, places: &Places) -> Result<Corpus, Problem> {
    let path = PathBuf::from(&spec.data.path);
    let at_path = |e: DataError| Problem { line: places.line("data.path"), message: e.to_string() };
    let text = read_text(&path).map_err(at_path)?;
    let tokenizer = Tokenizer::build(&spec.data, &text).map_err(|e| {
        let line = places.line("data.tokenizer_path").or(places.line("data.vocab_size")).or(places.line("data.path"));
        Problem { line, message: e.to_string() }
    })?;
    let data = TokenData::split(&tokenizer, &text, spec.data.val_fraction).map_err(at_path)?;
    Ok(Corpus { path, tokenizer, data })
}

/// Problems between the corpus and the runs or prompts: a block_size the text is too short
/// for (at that block_size's line), a prompt the tokenizer cannot encode (at the prompt).
pub fn check(corpus: &Corpus, plan: &Plan, spec: &Spec, places: &Places) -> Vec<Problem> {
    let mut problems: Vec<Problem> = Vec::new();
    // Every block_size the spec asks for, whether or not its runs have other problems, so
    // that fixing those does not reveal this one only afterwards.
    let block_sizes: Vec<(u64, Option<usize>)> = match (spec.grid.get("block_size"), spec.space.get("block_size")) {
        (Some(values), _) => values.iter().enumerate().filter_map(|(i, v)| Some((v.as_u64()?, places.line(&format!("grid.block_size[{i}]"))))).collect(),
        // Drawn: every value a run may get (a list), or the largest (a range).
        (None, Some(dist)) => {
            let line = places.line("space.block_size");
            match dist {
                crate::plan::space::Dist::Choice(values) => values.iter().filter_map(|v| Some((v.as_u64()?, line))).collect(),
                crate::plan::space::Dist::IntUniform(_, hi) => vec![(*hi, line)],
                _ => Vec::new(),
            }
        }
        (None, None) => {
            let fixed = spec.settings.get("block_size").and_then(|v| v.as_u64());
            let default = plan.runs.first().map_or(sweep_config::ModelConfig::default().block_size, |r| r.config.model.block_size) as u64;
            vec![(fixed.unwrap_or(default), places.line("settings.block_size"))]
        }
    };
    for (block_size, line) in block_sizes {
        if let Err(e) = corpus.data.check_fits(&corpus.path, block_size as usize, spec.data.val_fraction) {
            problems.push(Problem { line: line.or(places.line("data.path")), message: e.to_string() });
        }
    }
    for (i, prompt) in spec.sample.prompts.iter().enumerate() {
        if let Err(e) = corpus.tokenizer.encode(prompt) {
            let why = match e {
                DataError::UnknownChars { chars } => {
                    format!(
                        "has characters that {} never uses, so the char tokenizer cannot encode them: {chars}; use characters from the corpus",
                        corpus.path.display()
                    )
                }
                other => format!("cannot be encoded: {other}"),
            };
            problems.push(Problem {
                line: places.line(&format!("sample.prompts[{i}]")).or(places.line("sample.prompts")),
                message: format!("sample.prompts[{i}] {prompt:?} {why}"),
            });
        }
    }
    problems
}
