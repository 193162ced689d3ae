//! The corpus as the plan sees it: its token counts and tokenizer, checked against every
//! run (long enough for its block_size) and the spec's sample prompts (the tokenizer can
//! encode them), with problems at the spec lines that caused them.
//!
//! Checking a spec writes nothing: exact counts come from the token cache when the corpus
//! is there, or (a dry run) from tokenizing a small corpus in memory, else they are
//! estimated from bytes (a nanoGPT folder's are exact). `sweep run` then tokenizes the
//! corpus into the cache once (`prepare`, corpus::cache) before it trains.

use crate::error::Problem;
use crate::plan::Plan;
use crate::plan::spec::{Places, Spec};
use corpus::cache::{self, Built};
use corpus::source::Source;
use corpus::{DataError, Tokenizer};
use std::path::{Path, PathBuf};
use sweep_config::{SourceFormat, TokenizerKind};

/// A dry run tokenizes an uncached corpus of at most this many bytes in memory for exact
/// counts; a larger one is estimated.
pub const EXACT_IN_MEMORY_BYTES: u64 = 64 << 20;
/// Bytes of text tokenized to estimate a large corpus's bytes per token.
const SAMPLE_BYTES: u64 = 1 << 20;

/// How the plan may reach the corpus when it checks a spec; neither writes anything.
pub enum Access {
    /// The cache at this root if it is there, else exact counts by tokenizing a small corpus
    /// in memory, else estimates (`--dry-run`).
    Look { root: PathBuf },
    /// The cache at this root if it is there, else estimates: the quick first check of
    /// `sweep run` and `sweep prepare`, which then tokenize into the cache (`prepare`).
    Validate { root: PathBuf },
}

/// The sweep's corpus, as far as the plan needs it.
pub struct Corpus {
    pub path: PathBuf,
    /// None only for an estimate over a char or trained-BPE vocabulary not built yet.
    pub tokenizer: Option<Tokenizer>,
    pub counts: Counts,
    /// What `Access::Prepare` tokenized just now, and the cache entry.
    pub built: Option<(Built, PathBuf)>,
    pub cache_dir: Option<PathBuf>,
}

/// Train and val token counts and the vocabulary, exact or estimated.
#[derive(Debug, Clone, PartialEq)]
pub struct Counts {
    pub n_train: u64,
    pub n_val: u64,
    pub vocab_size: usize,
    /// How the counts were found: "cached", "tokenized in memory", or the estimate's basis.
    pub basis: Basis,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Basis {
    Cached,
    InMemory,
    /// A nanoGPT folder's sizes: exact counts, its ids not checked yet.
    FileSizes,
    /// Estimated from the corpus's bytes at this many bytes per token (from a sample).
    Estimated {
        bytes: u64,
        bytes_per_token: f64,
    },
}

impl Counts {
    pub fn exact(&self) -> bool {
        !matches!(self.basis, Basis::Estimated { .. })
    }
}

/// The data config with what the spec leaves to the data filled in: a nanoGPT folder
/// without meta.pkl holds GPT-2 ids, so its tokenizer is gpt2 unless the spec says.
pub fn settle(spec: &mut Spec, places: &Places) {
    let written = places.line("data.tokenizer").is_some();
    let path = Path::new(&spec.data.path);
    let nanogpt = spec.data.format == Some(SourceFormat::Nanogpt) || (path.is_dir() && path.join("train.bin").is_file());
    if nanogpt && !written && !path.join("meta.pkl").is_file() {
        spec.data.tokenizer = TokenizerKind::Gpt2;
    }
}

/// The corpus's counts and tokenizer, or the problem at the data line it is about.
pub fn load(spec: &Spec, places: &Places, access: &Access) -> Result<Corpus, Problem> {
    let data = &spec.data;
    let path = PathBuf::from(&data.path);
    let at = |e: DataError| problem_at(&e, data, places);
    let (Access::Look { root } | Access::Validate { root }) = access;
    if let Some(p) = cache::look(data, root).map_err(at)? {
        return Ok(cached(path, p, data.val_fraction));
    }
    let (train, val) = cache::sources(data).map_err(at)?;
    let bytes = train.bytes() + val.as_ref().map_or(0, Source::bytes);
    if matches!(access, Access::Look { .. }) && bytes <= EXACT_IN_MEMORY_BYTES && train.format != SourceFormat::Nanogpt {
        let (tok, d) = cache::in_memory(data).map_err(at)?;
        let counts = Counts { n_train: d.train.len() as u64, n_val: d.val.len() as u64, vocab_size: d.vocab_size, basis: Basis::InMemory };
        return Ok(Corpus { path, counts, built: None, cache_dir: None, tokenizer: Some(tok) });
    }
    estimate(data, &train, val.as_ref(), bytes).map(|(tokenizer, counts)| Corpus { path, tokenizer, counts, built: None, cache_dir: None }).map_err(at)
}

/// The corpus tokenized into the cache at `root` (what is missing or changed), then checked
/// against the runs and prompts with its exact counts: `sweep run` and `sweep prepare`,
/// after `check` passed. Problems are at the spec's data lines.
pub fn prepare(spec: &Spec, places: &Places, plan: &Plan, root: &Path, progress: &indicatif::ProgressBar) -> Result<Corpus, Vec<Problem>> {
    let data = &spec.data;
    let p = cache::prepare(data, root, progress).map_err(|e| vec![problem_at(&e, data, places)])?;
    let built = p.built.clone().map(|b| (b, p.dir.clone()));
    let mut corpus = cached(PathBuf::from(&data.path), p, data.val_fraction);
    corpus.built = built;
    let problems = check(&corpus, plan, spec, places);
    if problems.is_empty() { Ok(corpus) } else { Err(problems) }
}

fn cached(path: PathBuf, p: cache::Prepared, val_fraction: f64) -> Corpus {
    let (n_train, n_val) = p.counts(val_fraction);
    let counts = Counts { n_train, n_val, vocab_size: p.manifest.vocab_size, basis: Basis::Cached };
    Corpus { path, counts, built: None, cache_dir: Some(p.dir), tokenizer: Some(p.tokenizer) }
}

/// A data error at the spec line it is about.
fn problem_at(e: &DataError, data: &sweep_config::DataConfig, places: &Places) -> Problem {
    let key = match e {
        DataError::Tokenizer(_) => "data.tokenizer_path",
        DataError::MissingColumn { .. } | DataError::NotTextColumn { .. } => "data.text_column",
        DataError::JsonlLine { .. } if data.text_field.is_some() => "data.text_field",
        DataError::Config(m) if m.contains("data.tokenizer") => "data.tokenizer",
        _ => "data.path",
    };
    Problem { line: places.line(key).or(places.line("data.path")), message: e.to_string() }
}

/// Counts of a large corpus not tokenized yet: a nanoGPT folder's from its file sizes
/// (exact), others from the bytes per token of the corpus's first MiB.
fn estimate(data: &sweep_config::DataConfig, train: &Source, val: Option<&Source>, bytes: u64) -> Result<(Option<Tokenizer>, Counts), DataError> {
    if train.format == SourceFormat::Nanogpt {
        for file in train.files.iter().filter(|f| f.extension().is_some_and(|e| e == "bin")) {
            let size = std::fs::metadata(file).map_err(|e| DataError::io(file, e))?.len();
            if size % 2 != 0 {
                return Err(DataError::OddSize { path: file.clone(), size, width: 2 });
            }
        }
        let size = |name: &str| corpus::source::nanogpt::file(train, name).and_then(|f| std::fs::metadata(f).ok()).map(|m| m.len() / 2);
        let tok = cache::tokenizer_for(data, train, val)?;
        let (n, v) = (size("train.bin").unwrap_or(0), size("val.bin"));
        let (n_train, n_val) = corpus::tokens::split_counts(n, v, data.val_fraction);
        let vocab_size = tok.vocab_size();
        return Ok((Some(tok), Counts { n_train, n_val, vocab_size, basis: Basis::FileSizes }));
    }
    let sample = train.sample(SAMPLE_BYTES)?;
    let tok = match data.tokenizer {
        TokenizerKind::Gpt2 => Some(Tokenizer::gpt2()?),
        TokenizerKind::Bpe => data.tokenizer_path.as_ref().map(|p| Tokenizer::load(Path::new(p))).transpose()?,
        TokenizerKind::Char => None,
    };
    let sample_tokens = match &tok {
        Some(t) => t.encode(&sample)?.len(),
        None => sample.chars().count(),
    };
    let vocab_size = match &tok {
        Some(t) => t.vocab_size(),
        // The sample's characters, or the BPE size asked for: a lower bound until built.
        None if data.tokenizer == TokenizerKind::Char => Tokenizer::char_from_text(&sample).vocab_size(),
        None => data.vocab_size.unwrap_or(512),
    };
    let bytes_per_token = sample.len() as f64 / sample_tokens.max(1) as f64;
    let train_bytes = train.bytes();
    let n_train_stream = (train_bytes as f64 / bytes_per_token) as u64;
    let n_val_stream = val.map(|v| (v.bytes() as f64 / bytes_per_token) as u64);
    let (n_train, n_val) = corpus::tokens::split_counts(n_train_stream, n_val_stream, data.val_fraction);
    Ok((tok, Counts { n_train, n_val, vocab_size, basis: Basis::Estimated { bytes, bytes_per_token } }))
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
    let c = &corpus.counts;
    // Validation from a source of its own: data.val, or a nanoGPT folder's val.bin.
    let separate_val = spec.data.val.is_some() || Path::new(&spec.data.path).join("val.bin").is_file();
    let val_fraction = (!separate_val).then_some(spec.data.val_fraction);
    for (block_size, line) in block_sizes {
        if let Err(e) = corpus::tokens::check_fits(&corpus.path, c.n_train, c.n_val, block_size as usize, val_fraction) {
            problems.push(Problem { line: line.or(places.line("data.path")), message: e.to_string() });
        }
    }
    let Some(tokenizer) = &corpus.tokenizer else { return problems };
    for (i, prompt) in spec.sample.prompts.iter().enumerate() {
        if let Err(e) = tokenizer.encode(prompt) {
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
