//! The token cache: a corpus tokenized once, in parallel, into flat little-endian shards
//! (uint16 when the vocabulary fits, else uint32) with a manifest, then memory-mapped by
//! every trial and reused by every later sweep over the same sources and tokenizer.
//!
//! One entry per data config, `<root>/<name>-<key>/`:
//! - `manifest.json`: written last, by rename; an entry without one is never read;
//! - `tokenizer.json`: the tokenizer that made the ids;
//! - `work.json` and `train/NNNNNN.bin`, `val/NNNNNN.bin`: one shard per unit of work,
//!   each renamed into place when whole, so a build killed half-way continues where it
//!   stopped (when the sources and tokenizer are still those of work.json);
//! - `lock`: held while the entry is checked or built, so that sweeps (and Slurm array
//!   tasks) started together tokenize once.
//!
//! A nanoGPT folder is already tokens: its entry's manifest points at its .bin files,
//! checked once (sizes, ids below the vocabulary).

mod build;
pub mod manifest;

pub use build::{Built, in_memory, tokenizer as tokenizer_for};
pub use manifest::Manifest;

use crate::source::{self, Source};
use crate::tokens::{TokenData, TokenRange};
use crate::{DataError, Tokenizer};
use std::path::{Path, PathBuf};
use sweep_config::DataConfig;

/// Default cache root inside the runs folder (`<out>/.tokens`).
pub const DEFAULT_DIR: &str = ".tokens";

/// A cache entry ready to read.
pub struct Prepared {
    pub dir: PathBuf,
    pub manifest: Manifest,
    pub tokenizer: Tokenizer,
    /// What this call tokenized; None when the entry was already there.
    pub built: Option<Built>,
}

/// The training source and, when given, the validation source of a data config.
pub fn sources(data: &DataConfig) -> Result<(Source, Option<Source>), DataError> {
    let train = source::resolve(&data.path, data.format, data.field())?;
    let val = match &data.val {
        Some(v) => Some(source::resolve(v, data.format, data.field())?),
        None => None,
    };
    Ok((train, val))
}

/// The cache root a data config uses when its runs live under `out`.
pub fn root(data: &DataConfig, out: &Path) -> PathBuf {
    data.cache.as_ref().map_or_else(|| out.join(DEFAULT_DIR), PathBuf::from)
}

/// The entry folder of a data config under `root`: named after the corpus, keyed by
/// everything that changes its tokens except file contents (checked by the manifest).
pub fn entry_dir(root: &Path, data: &DataConfig) -> PathBuf {
    let abs = |p: &str| manifest::absolute(Path::new(p)).display().to_string();
    let identity = serde_json::json!({
        "version": manifest::VERSION,
        "path": abs(&data.path),
        "format": data.format,
        "tokenizer": data.tokenizer,
        "vocab_size": data.vocab_size,
        "tokenizer_path": data.tokenizer_path.as_deref().map(abs),
        "field": data.field(),
        "val": data.val.as_deref().map(abs),
    });
    let key = blake3::hash(identity.to_string().as_bytes()).to_hex()[..12].to_string();
    let stem: String = Path::new(&data.path)
        .components()
        .rev()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .find(|c| !c.contains(['*', '?', '[']) && c != "." && c != "..")
        .unwrap_or_else(|| "corpus".into())
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' { c } else { '_' })
        .take(40)
        .collect();
    root.join(format!("{stem}-{key}"))
}

/// The entry for `data` under `root`, tokenizing what is missing or changed. Holds the
/// entry's lock meanwhile; `progress` shows bytes tokenized (hide it to show nothing).
pub fn prepare(data: &DataConfig, root: &Path, progress: &indicatif::ProgressBar) -> Result<Prepared, DataError> {
    let (train, val) = sources(data)?;
    let dir = entry_dir(root, data);
    let first_new = dir.ancestors().take_while(|a| !a.exists()).last().map(Path::to_path_buf);
    std::fs::create_dir_all(&dir).map_err(|e| DataError::io(&dir, e))?;
    let lock_path = dir.join("lock");
    let lock = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path).map_err(|e| DataError::io(&lock_path, e))?;
    lock.lock().map_err(|e| DataError::io(&lock_path, e))?;
    if let Some(p) = fresh(&dir, &train, val.as_ref())? {
        return Ok(p);
    }
    let built = match build::build(data, &train, val.as_ref(), &dir, progress) {
        Ok(b) => b,
        Err(e) => {
            // A build that failed before it began (bad data) leaves no folders behind.
            if !dir.join("work.json").exists() && !dir.join("manifest.json").exists() {
                let _ = std::fs::remove_file(&lock_path);
                let _ = std::fs::remove_file(dir.join("tokenizer.json"));
                if let Some(first_new) = first_new {
                    for folder in dir.ancestors().take_while(|a| a.starts_with(&first_new)) {
                        let _ = std::fs::remove_dir(folder);
                    }
                }
            }
            return Err(e);
        }
    };
    let mut p = fresh(&dir, &train, val.as_ref())?
        .ok_or_else(|| DataError::Stale { path: PathBuf::from(&data.path), why: "it changed while it was tokenized".into() })?;
    p.built = Some(built);
    Ok(p)
}

/// The entry for `data` when it is there and up to date, without tokenizing or locking.
pub fn look(data: &DataConfig, root: &Path) -> Result<Option<Prepared>, DataError> {
    let (train, val) = sources(data)?;
    fresh(&entry_dir(root, data), &train, val.as_ref())
}

/// The entry for `data`, for a trial: it must be there and describe the sources as they
/// are now; a trial never tokenizes.
pub fn open(data: &DataConfig, root: &Path) -> Result<Prepared, DataError> {
    let (train, val) = sources(data)?;
    let dir = entry_dir(root, data);
    let manifest = Manifest::read(&dir.join("manifest.json")).ok_or_else(|| DataError::NotPrepared { pattern: data.path.clone(), dir: dir.clone() })?;
    if let Some((path, why)) = manifest.stale(&all_files(&train, val.as_ref())) {
        return Err(DataError::Stale { path, why });
    }
    let tokenizer = Tokenizer::load(&dir.join("tokenizer.json"))?;
    Ok(Prepared { dir, manifest, tokenizer, built: None })
}

fn all_files(train: &Source, val: Option<&Source>) -> Vec<PathBuf> {
    train.files.iter().chain(val.map_or(&[][..], |v| &v.files[..])).cloned().collect()
}

/// The entry at `dir` if its manifest describes the sources as they are now.
fn fresh(dir: &Path, train: &Source, val: Option<&Source>) -> Result<Option<Prepared>, DataError> {
    let Some(manifest) = Manifest::read(&dir.join("manifest.json")) else { return Ok(None) };
    if manifest.stale(&all_files(train, val)).is_some() {
        return Ok(None);
    }
    let Ok(tokenizer) = Tokenizer::load(&dir.join("tokenizer.json")) else { return Ok(None) };
    if tokenizer.fingerprint()? != manifest.tokenizer {
        return Ok(None);
    }
    Ok(Some(Prepared { dir: dir.to_path_buf(), manifest, tokenizer, built: None }))
}

impl Prepared {
    fn map(&self, shards: &[manifest::Shard]) -> Result<TokenRange, DataError> {
        build::map_shards(&self.dir, shards, self.manifest.dtype)
    }

    /// The train and val splits, memory-mapped: val is the validation source's tokens, or
    /// the last `val_fraction` of the stream.
    pub fn token_data(&self, val_fraction: f64) -> Result<TokenData, DataError> {
        let vocab_size = self.manifest.vocab_size;
        let train = self.map(&self.manifest.train)?;
        match &self.manifest.val {
            Some(val) => Ok(TokenData { train, val: self.map(val)?, vocab_size }),
            None => Ok(TokenData::split_range(train, val_fraction, vocab_size)),
        }
    }

    /// Train and val token counts, from the manifest alone.
    pub fn counts(&self, val_fraction: f64) -> (u64, u64) {
        crate::tokens::split_counts(self.manifest.n_train_stream(), self.manifest.n_val_stream(), val_fraction)
    }
}

#[cfg(test)]
mod tests;
