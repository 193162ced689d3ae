//! manifest.json: what a cache entry holds (its shards and their token counts) and what it
//! was made from (each source file's size, mtime and BLAKE3 hash; the tokenizer's
//! fingerprint). Written last, by rename, so a manifest only ever describes whole shards.

use crate::DataError;
use crate::tokens::Dtype;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;
use sweep_config::SourceFormat;

/// Bumped when the layout changes; an entry of another version is rebuilt.
pub const VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    pub format: SourceFormat,
    /// `Tokenizer::fingerprint` of the tokenizer that made the ids.
    pub tokenizer: String,
    pub vocab_size: usize,
    pub dtype: Dtype,
    /// Every file read: the training source's, then the validation source's.
    pub sources: Vec<Fingerprint>,
    pub train: Vec<Shard>,
    /// The validation source's shards; None when validation is the tail of `train`.
    pub val: Option<Vec<Shard>>,
    /// Bytes read and seconds spent tokenizing (0 for a nanoGPT folder: already tokens).
    pub bytes: u64,
    pub seconds: f64,
}

/// One file of token ids.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shard {
    /// Relative to the entry's folder; absolute for a nanoGPT .bin used in place.
    pub file: PathBuf,
    pub n_tokens: u64,
}

/// A source file as it was when tokenized.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    pub path: PathBuf,
    pub size: u64,
    pub mtime_ns: u128,
    pub blake3: String,
}

fn stat(path: &Path) -> Result<(u64, u128), DataError> {
    let meta = std::fs::metadata(path).map_err(|e| DataError::io(path, e))?;
    let mtime = meta.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos());
    Ok((meta.len(), mtime))
}

fn hash(path: &Path) -> Result<String, DataError> {
    let mut h = blake3::Hasher::new();
    h.update_mmap_rayon(path).map_err(|e| DataError::io(path, e))?;
    Ok(h.finalize().to_hex().to_string())
}

impl Fingerprint {
    /// Size, mtime and content hash of each file, hashed in parallel.
    pub fn of_all(files: &[PathBuf]) -> Result<Vec<Fingerprint>, DataError> {
        files
            .par_iter()
            .map(|path| {
                let (size, mtime_ns) = stat(path)?;
                Ok(Fingerprint { path: absolute(path), size, mtime_ns, blake3: hash(path)? })
            })
            .collect()
    }

    /// Why the file is no longer what was tokenized, or None. Size and mtime unchanged are
    /// trusted; a changed mtime with the same size is hashed again (a file touched or
    /// copied, not edited, is still the same text).
    pub fn changed(&self) -> Option<String> {
        let Ok((size, mtime)) = stat(&self.path) else { return Some("it is gone".into()) };
        if size != self.size {
            return Some(format!("it was {} bytes and is now {size}", self.size));
        }
        if mtime == self.mtime_ns {
            return None;
        }
        match hash(&self.path) {
            Ok(h) if h == self.blake3 => None,
            Ok(_) => Some("its content is not the same".into()),
            Err(e) => Some(format!("it cannot be read: {e}")),
        }
    }
}

pub fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

impl Manifest {
    pub fn read(path: &Path) -> Option<Manifest> {
        let text = std::fs::read_to_string(path).ok()?;
        serde_json::from_str::<Manifest>(&text).ok().filter(|m| m.version == VERSION)
    }

    /// Why this manifest does not describe `files` as they are now, or None when it does.
    pub fn stale(&self, files: &[PathBuf]) -> Option<(PathBuf, String)> {
        let now: Vec<PathBuf> = files.iter().map(|f| absolute(f)).collect();
        let then: Vec<&PathBuf> = self.sources.iter().map(|s| &s.path).collect();
        if let Some(new) = now.iter().find(|p| !then.contains(p)) {
            return Some((new.clone(), "it is new among the files data.path names".into()));
        }
        if let Some(gone) = then.iter().find(|p| !now.contains(p)) {
            return Some(((*gone).clone(), "it is no longer among the files data.path names".into()));
        }
        self.sources.iter().find_map(|s| s.changed().map(|why| (s.path.clone(), why)))
    }

    pub fn n_train_stream(&self) -> u64 {
        self.train.iter().map(|s| s.n_tokens).sum()
    }

    pub fn n_val_stream(&self) -> Option<u64> {
        self.val.as_ref().map(|v| v.iter().map(|s| s.n_tokens).sum())
    }
}
