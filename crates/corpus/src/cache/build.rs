//! Building a cache entry: the tokenizer (GPT-2's, a loaded one, a BPE trained on the head
//! of the corpus, or the corpus's characters), then every unit tokenized in parallel
//! (rayon) into its own shard, renamed into place when whole; the manifest last. The same
//! tokenizing serves `in_memory`, which a dry run of a small uncached corpus uses.

use super::manifest::{self, Fingerprint, Manifest, Shard};
use crate::source::{Source, Unit, nanogpt};
use crate::tokens::{Dtype, TokenData, TokenRange, TokenStream};
use crate::{DataError, Tokenizer};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use sweep_config::{DataConfig, SourceFormat, TokenizerKind};

/// Text a BPE is trained on: the head of the corpus, at most this many bytes.
pub const BPE_TRAIN_BYTES: u64 = 64 << 20;

/// What one `prepare` tokenized.
#[derive(Debug, Clone)]
pub struct Built {
    pub bytes: u64,
    pub tokens: u64,
    pub seconds: f64,
    pub units: usize,
    /// Units whose shards a killed build had left whole, not tokenized again.
    pub reused: usize,
}

/// The units and inputs of a build, so that a rerun after a kill keeps the shards it can.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Work {
    version: u32,
    tokenizer: String,
    sources: Vec<Fingerprint>,
    train: Vec<Unit>,
    val: Vec<Unit>,
}

/// The tokenizer a data config asks for over these sources.
pub fn tokenizer(data: &DataConfig, train: &Source, val: Option<&Source>) -> Result<Tokenizer, DataError> {
    if train.format == SourceFormat::Nanogpt {
        return nanogpt_tokenizer(data, train);
    }
    match (data.tokenizer, &data.tokenizer_path) {
        (TokenizerKind::Gpt2, _) => Tokenizer::gpt2(),
        (TokenizerKind::Bpe, Some(path)) => Tokenizer::load(Path::new(path)),
        (TokenizerKind::Bpe, None) => Tokenizer::train_bpe(&train.sample(BPE_TRAIN_BYTES)?, data.vocab_size.unwrap_or(crate::tokenizer::DEFAULT_BPE_VOCAB)),
        (TokenizerKind::Char, _) => {
            let mut units: Vec<(&Source, Unit)> = train.units()?.into_iter().map(|u| (train, u)).collect();
            if let Some(v) = val {
                units.extend(v.units()?.into_iter().map(|u| (v, u)));
            }
            let sets: Vec<BTreeSet<char>> =
                units.par_iter().map(|(s, u)| Ok(s.read(u)?.pieces.iter().flat_map(|p| p.chars()).collect())).collect::<Result<_, DataError>>()?;
            let mut chars: BTreeSet<char> = sets.into_iter().flatten().collect();
            if train.format != SourceFormat::Text || val.is_some_and(|v| v.format != SourceFormat::Text) {
                chars.insert('\n'); // documents are separated by a newline
            }
            Ok(Tokenizer::from_chars(chars.into_iter().collect()))
        }
    }
}

fn nanogpt_tokenizer(data: &DataConfig, train: &Source) -> Result<Tokenizer, DataError> {
    let meta = nanogpt::file(train, "meta.pkl");
    match (meta, data.tokenizer, &data.tokenizer_path) {
        (Some(meta), TokenizerKind::Char, _) => Ok(Tokenizer::from_chars(nanogpt::read_meta(meta)?)),
        (Some(meta), other, _) => Err(DataError::Config(format!(
            "data.tokenizer is {} but {} is a char-level vocabulary; leave data.tokenizer out (or write char) to use it",
            serde_json::to_value(other).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(),
            meta.display()
        ))),
        (None, TokenizerKind::Gpt2, _) => Tokenizer::gpt2(),
        (None, TokenizerKind::Bpe, Some(path)) => Tokenizer::load(Path::new(path)),
        (None, _, _) => Err(DataError::Config(format!(
            "{} has no meta.pkl, so its ids are GPT-2's: write data.tokenizer: gpt2 (or give data.tokenizer_path the tokenizer.json that made them)",
            train.pattern
        ))),
    }
}

/// One unit's token ids: each piece encoded, each document followed by the separator.
fn tokenize(source: &Source, unit: &Unit, tok: &Tokenizer) -> Result<Vec<u32>, DataError> {
    let text = source.read(unit)?;
    let separator = if text.documents { tok.document_separator()? } else { Vec::new() };
    let mut ids = Vec::new();
    for piece in &text.pieces {
        ids.extend(tok.encode(piece)?);
        ids.extend_from_slice(&separator);
    }
    Ok(ids)
}

/// Tokenizes `data` in memory, writing nothing: a dry run's exact counts for a small corpus.
pub fn in_memory(data: &DataConfig) -> Result<(Tokenizer, TokenData), DataError> {
    let (train, val) = super::sources(data)?;
    let tok = tokenizer(data, &train, val.as_ref())?;
    let vocab_size = tok.vocab_size();
    if train.format == SourceFormat::Nanogpt {
        let (t, v) = nanogpt_shards(&train, &tok)?;
        let train = map_shards(Path::new(""), &t, Dtype::U16)?;
        let data = match v {
            Some(v) => TokenData { train, val: map_shards(Path::new(""), &v, Dtype::U16)?, vocab_size },
            None => TokenData::split_range(train, data.val_fraction, vocab_size),
        };
        return Ok((tok, data));
    }
    let all = |s: &Source| -> Result<Vec<u32>, DataError> {
        let parts: Vec<Vec<u32>> = s.units()?.par_iter().map(|u| tokenize(s, u, &tok)).collect::<Result<_, _>>()?;
        Ok(parts.concat())
    };
    let train_ids = TokenRange::from_vec(all(&train)?);
    let data = match &val {
        Some(v) => TokenData { train: train_ids, val: TokenRange::from_vec(all(v)?), vocab_size },
        None => TokenData::split_range(train_ids, data.val_fraction, vocab_size),
    };
    Ok((tok, data))
}

/// A nanoGPT folder's train.bin and val.bin as shards used in place, checked: whole
/// uint16s, ids below the vocabulary (scanned in parallel).
fn nanogpt_shards(train: &Source, tok: &Tokenizer) -> Result<(Vec<Shard>, Option<Vec<Shard>>), DataError> {
    let mut streams: Vec<Vec<Shard>> = Vec::new();
    for name in ["train.bin", "val.bin"] {
        let Some(path) = nanogpt::file(train, name) else { continue };
        let range = TokenRange::whole(Arc::new(TokenStream::map(&[path], Dtype::U16)?));
        if let Some((id, position)) = range.max_id()
            && id as usize >= tok.vocab_size()
        {
            let vocab = match tok {
                Tokenizer::Gpt2(_) => "GPT-2's, as there is no meta.pkl",
                Tokenizer::Char { .. } => "meta.pkl's",
                Tokenizer::Bpe(_) => "data.tokenizer_path's",
            };
            return Err(DataError::IdOutOfRange { path: path.to_path_buf(), position, id, vocab_size: tok.vocab_size(), vocab: vocab.into() });
        }
        streams.push(vec![Shard { file: manifest::absolute(path), n_tokens: range.len() as u64 }]);
    }
    let val = (streams.len() > 1).then(|| streams.remove(1));
    Ok((streams.remove(0), val))
}

/// Shards (relative to `base`, or absolute) mapped as one range.
pub(super) fn map_shards(base: &Path, shards: &[Shard], dtype: Dtype) -> Result<TokenRange, DataError> {
    let files: Vec<PathBuf> = shards.iter().map(|s| base.join(&s.file)).collect();
    Ok(TokenRange::whole(Arc::new(TokenStream::map(&files, dtype)?)))
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), DataError> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(|e| DataError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| DataError::io(path, e))
}

fn to_json(value: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec_pretty(value).unwrap_or_default()
}

/// Builds the entry at `dir` (its lock held by the caller).
pub(super) fn build(data: &DataConfig, train: &Source, val: Option<&Source>, dir: &Path, progress: &indicatif::ProgressBar) -> Result<Built, DataError> {
    let start = Instant::now();
    let tok = tokenizer(data, train, val)?;
    write_atomic(&dir.join("tokenizer.json"), tok.to_json()?.as_bytes())?;
    let dtype = Dtype::for_vocab(tok.vocab_size());
    if train.format == SourceFormat::Nanogpt {
        let (train_shards, val_shards) = nanogpt_shards(train, &tok)?;
        let sources = Fingerprint::of_all(&train.files)?;
        let manifest = Manifest {
            version: manifest::VERSION,
            format: SourceFormat::Nanogpt,
            tokenizer: tok.fingerprint()?,
            vocab_size: tok.vocab_size(),
            dtype: Dtype::U16,
            sources,
            train: train_shards,
            val: val_shards,
            bytes: 0,
            seconds: start.elapsed().as_secs_f64(),
        };
        write_atomic(&dir.join("manifest.json"), &to_json(&manifest))?;
        return Ok(Built {
            bytes: 0,
            tokens: manifest.n_train_stream() + manifest.n_val_stream().unwrap_or(0),
            seconds: manifest.seconds,
            units: 0,
            reused: 0,
        });
    }
    let files: Vec<PathBuf> = train.files.iter().chain(val.map_or(&[][..], |v| &v.files[..])).cloned().collect();
    let sources = Fingerprint::of_all(&files)?;
    let work = Work {
        version: manifest::VERSION,
        tokenizer: tok.fingerprint()?,
        sources: sources.clone(),
        train: train.units()?,
        val: val.map(Source::units).transpose()?.unwrap_or_default(),
    };
    let work_path = dir.join("work.json");
    let same_work = std::fs::read(&work_path).ok().and_then(|b| serde_json::from_slice::<Work>(&b).ok()).is_some_and(|w| w == work);
    if !same_work {
        for split in ["train", "val"] {
            let _ = std::fs::remove_dir_all(dir.join(split));
        }
        let _ = std::fs::remove_file(dir.join("manifest.json"));
        write_atomic(&work_path, &to_json(&work))?;
    }
    let mut jobs: Vec<(&Source, &Unit, PathBuf)> = Vec::new();
    for (split, source, units) in [("train", Some(train), &work.train), ("val", val, &work.val)] {
        let Some(source) = source else { continue };
        let folder = dir.join(split);
        std::fs::create_dir_all(&folder).map_err(|e| DataError::io(&folder, e))?;
        jobs.extend(units.iter().enumerate().map(|(i, u)| (source, u, PathBuf::from(split).join(format!("{i:06}.bin")))));
    }
    let todo: Vec<&(&Source, &Unit, PathBuf)> = jobs.iter().filter(|(_, _, f)| !dir.join(f).is_file()).collect();
    let bytes: u64 = todo.iter().map(|(s, u, _)| s.unit_bytes(u)).sum();
    progress.set_length(bytes);
    progress.set_position(0);
    todo.par_iter()
        .map(|(source, unit, file)| {
            let ids = tokenize(source, unit, &tok)?;
            write_atomic(&dir.join(file), &dtype.encode(&ids))?;
            progress.inc(source.unit_bytes(unit));
            Ok(())
        })
        .collect::<Result<(), DataError>>()?;
    progress.finish_and_clear();
    let shards = |split: &str, n: usize| -> Vec<Shard> {
        (0..n)
            .map(|i| {
                let file = PathBuf::from(split).join(format!("{i:06}.bin"));
                let size = std::fs::metadata(dir.join(&file)).map_or(0, |m| m.len());
                Shard { file, n_tokens: size / dtype.bytes() }
            })
            .collect()
    };
    let manifest = Manifest {
        version: manifest::VERSION,
        format: train.format,
        tokenizer: work.tokenizer.clone(),
        vocab_size: tok.vocab_size(),
        dtype,
        sources,
        train: shards("train", work.train.len()),
        val: val.map(|_| shards("val", work.val.len())),
        bytes,
        seconds: start.elapsed().as_secs_f64(),
    };
    // Every file must still be what was fingerprinted before tokenizing began.
    if let Some((path, why)) = manifest.stale(&files) {
        return Err(DataError::Stale { path, why: format!("{why}, while it was tokenized") });
    }
    write_atomic(&dir.join("manifest.json"), &to_json(&manifest))?;
    Ok(Built {
        bytes,
        tokens: manifest.n_train_stream() + manifest.n_val_stream().unwrap_or(0),
        seconds: manifest.seconds,
        units: jobs.len(),
        reused: jobs.len() - todo.len(),
    })
}
