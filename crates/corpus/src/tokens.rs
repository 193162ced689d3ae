//! Token streams that trials draw windows from: held in memory (a small text, tests) or
//! memory-mapped from the token cache's shards, so that a trial's memory and start-up time
//! do not grow with the corpus. A stream is the concatenation of its shards in order; a
//! window may cross a shard boundary, as it may cross a document boundary.

use crate::{DataError, Tokenizer};
use memmap2::Mmap;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Arc;

/// How one token id is stored in a shard file: little-endian, 2 bytes when the vocabulary
/// fits (nanoGPT's uint16 `.bin`), else 4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dtype {
    U16,
    U32,
}

impl Dtype {
    pub fn for_vocab(vocab_size: usize) -> Dtype {
        if vocab_size <= 1 << 16 { Dtype::U16 } else { Dtype::U32 }
    }

    pub fn bytes(self) -> u64 {
        match self {
            Dtype::U16 => 2,
            Dtype::U32 => 4,
        }
    }

    /// `ids` as this dtype's little-endian bytes (ids fit: the vocabulary chose the dtype).
    pub fn encode(self, ids: &[u32]) -> Vec<u8> {
        match self {
            Dtype::U16 => ids.iter().flat_map(|&i| (i as u16).to_le_bytes()).collect(),
            Dtype::U32 => ids.iter().flat_map(|&i| i.to_le_bytes()).collect(),
        }
    }
}

/// One shard's tokens.
enum Piece {
    Owned(Vec<u32>),
    Mapped { map: Mmap, dtype: Dtype },
}

impl Piece {
    fn len(&self) -> u64 {
        match self {
            Piece::Owned(v) => v.len() as u64,
            Piece::Mapped { map, dtype } => map.len() as u64 / dtype.bytes(),
        }
    }

    /// Tokens `[from, from + out.len())` of this piece into `out`.
    fn read(&self, from: usize, out: &mut [u32]) {
        match self {
            Piece::Owned(v) => out.copy_from_slice(&v[from..from + out.len()]),
            Piece::Mapped { map, dtype } => {
                let width = dtype.bytes() as usize;
                let (lo, hi) = (width * from, width * (from + out.len()));
                let bytes = &map[lo..hi];
                match dtype {
                    Dtype::U16 => out.iter_mut().zip(bytes.chunks_exact(2)).for_each(|(o, b)| *o = u32::from(u16::from_le_bytes([b[0], b[1]]))),
                    Dtype::U32 => out.iter_mut().zip(bytes.chunks_exact(4)).for_each(|(o, b)| *o = u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                }
                release(map, lo, hi);
            }
        }
    }
}

/// The kernel maps a whole cached folio (up to 2 MiB) on a fault: the region released
/// around a window read.
const RELEASE_ALIGN: usize = 2 << 20;

/// Drops this process's mapping of the pages around `[lo, hi)` once a window is copied out,
/// so that random windows over a large corpus do not pile up in the trial's resident memory
/// (nanoGPT recreates its np.memmap every batch for the same reason). The pages stay in the
/// page cache; a later read faults them in again.
fn release(map: &Mmap, lo: usize, hi: usize) {
    let start = lo / RELEASE_ALIGN * RELEASE_ALIGN;
    let end = hi.div_ceil(RELEASE_ALIGN).saturating_mul(RELEASE_ALIGN).min(map.len());
    // SAFETY: a read-only, shared file mapping, with no reference into it held (the window
    // was copied out): MADV_DONTNEED only unmaps the pages; reads fault them in again from
    // the file, unchanged.
    let _ = unsafe { map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, end - start) };
}

/// Shards read as one stream of token ids.
pub struct TokenStream {
    pieces: Vec<Piece>,
    /// Where each piece starts in the stream, and the stream's length last.
    starts: Vec<u64>,
}

impl TokenStream {
    pub fn in_memory(ids: Vec<u32>) -> TokenStream {
        Self::from_pieces(vec![Piece::Owned(ids)])
    }

    /// Maps the shard files in order. A file whose size is not a multiple of the dtype's
    /// width is refused (a cut-short shard, or a `.bin` of another dtype).
    pub fn map(files: &[impl AsRef<Path>], dtype: Dtype) -> Result<TokenStream, DataError> {
        let mut pieces = Vec::new();
        for file in files {
            let path = file.as_ref();
            let f = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
            let size = f.metadata().map_err(|e| DataError::io(path, e))?.len();
            if size % dtype.bytes() != 0 {
                return Err(DataError::OddSize { path: path.to_path_buf(), size, width: dtype.bytes() });
            }
            if size == 0 {
                continue; // mmap of an empty file fails; it holds no tokens anyway
            }
            // SAFETY: the cache's shards are written once, then renamed into place, and never
            // written again; a nanoGPT .bin is the user's. A file truncated under a running
            // trial would fault it (SIGBUS): that trial fails and is retried, the sweep goes on.
            let map = unsafe { Mmap::map(&f) }.map_err(|e| DataError::io(path, e))?;
            // Windows are drawn at random: read-ahead would only read what is not used.
            let _ = map.advise(memmap2::Advice::Random);
            pieces.push(Piece::Mapped { map, dtype });
        }
        Ok(Self::from_pieces(pieces))
    }

    fn from_pieces(pieces: Vec<Piece>) -> TokenStream {
        let mut starts = vec![0];
        for p in &pieces {
            starts.push(starts.last().copied().unwrap_or(0) + p.len());
        }
        TokenStream { pieces, starts }
    }

    pub fn len(&self) -> u64 {
        self.starts.last().copied().unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Tokens `[at, at + out.len())` into `out`, across shard boundaries.
    fn read(&self, mut at: u64, mut out: &mut [u32]) {
        while !out.is_empty() {
            // The last piece whose start is at or before `at`.
            let k = self.starts.partition_point(|&s| s <= at) - 1;
            let within = (at - self.starts[k]) as usize;
            let n = out.len().min((self.starts[k + 1] - at) as usize);
            let (head, rest) = out.split_at_mut(n);
            self.pieces[k].read(within, head);
            out = rest;
            at += n as u64;
        }
    }
}

/// A contiguous part of a stream: a split (train or val).
#[derive(Clone)]
pub struct TokenRange {
    stream: Arc<TokenStream>,
    start: u64,
    len: u64,
}

impl std::fmt::Debug for TokenRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenRange({} tokens at {})", self.len, self.start)
    }
}

impl TokenRange {
    pub fn whole(stream: Arc<TokenStream>) -> TokenRange {
        let len = stream.len();
        TokenRange { stream, start: 0, len }
    }

    pub fn from_vec(ids: Vec<u32>) -> TokenRange {
        Self::whole(Arc::new(TokenStream::in_memory(ids)))
    }

    /// Tokens `[from, from + len)` of this range (clamped to it).
    pub fn slice(&self, from: u64, len: u64) -> TokenRange {
        let from = from.min(self.len);
        TokenRange { stream: self.stream.clone(), start: self.start + from, len: len.min(self.len - from) }
    }

    pub fn len(&self) -> usize {
        self.len as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Tokens `[at, at + out.len())` of this range into `out`; the caller keeps inside it.
    pub fn read(&self, at: usize, out: &mut [u32]) {
        debug_assert!(at as u64 + out.len() as u64 <= self.len);
        self.stream.read(self.start + at as u64, out);
    }

    /// Every token, in memory: only for small ranges (tests, decoding a small corpus).
    pub fn to_vec(&self) -> Vec<u32> {
        let mut out = vec![0; self.len()];
        self.read(0, &mut out);
        out
    }

    /// The largest id and where it is first found, in parallel over chunks; None when empty.
    pub fn max_id(&self) -> Option<(u32, u64)> {
        const CHUNK: u64 = 1 << 22;
        let chunks: Vec<u64> = (0..self.len.div_ceil(CHUNK)).collect();
        chunks
            .par_iter()
            .map(|&c| {
                let from = c * CHUNK;
                let mut buf = vec![0u32; CHUNK.min(self.len - from) as usize];
                self.read(from as usize, &mut buf);
                // The first position of the chunk's maximum.
                buf.iter().enumerate().fold((0u32, from), |best, (i, &id)| if id > best.0 { (id, from + i as u64) } else { best })
            })
            .reduce_with(|a, b| if b.0 > a.0 || (b.0 == a.0 && b.1 < a.1) { b } else { a })
    }
}

/// A tokenized corpus, split as nanoGPT does: the head for training, the tail for validation
/// (or a validation source of its own).
#[derive(Debug, Clone)]
pub struct TokenData {
    pub train: TokenRange,
    pub val: TokenRange,
    pub vocab_size: usize,
}

/// The first `int(n * (1 - val_fraction))` tokens train, the rest validate (nanoGPT's prepare.py).
pub fn n_train_of(n: u64, val_fraction: f64) -> u64 {
    ((n as f64 * (1.0 - val_fraction)).floor() as u64).min(n)
}

/// Train and val token counts: a validation source's own count, else the tail of the
/// stream of `n` tokens as `n_train_of` cuts it.
pub fn split_counts(n: u64, val: Option<u64>, val_fraction: f64) -> (u64, u64) {
    match val {
        Some(v) => (n, v),
        None => {
            let t = n_train_of(n, val_fraction);
            (t, n - t)
        }
    }
}

impl TokenData {
    /// Tokenizes `text` in memory and splits it as nanoGPT's prepare.py does.
    pub fn split(tokenizer: &Tokenizer, text: &str, val_fraction: f64) -> Result<Self, DataError> {
        let ids = tokenizer.encode(text)?;
        let all = TokenRange::from_vec(ids);
        Ok(Self::split_range(all, val_fraction, tokenizer.vocab_size()))
    }

    /// Splits one stream by `val_fraction`.
    pub fn split_range(all: TokenRange, val_fraction: f64, vocab_size: usize) -> Self {
        let n = all.len() as u64;
        let n_train = n_train_of(n, val_fraction);
        TokenData { train: all.slice(0, n_train), val: all.slice(n_train, n - n_train), vocab_size }
    }

    /// Fails with `TooShort` unless both splits hold at least one (block_size + 1)-token
    /// window; `val_fraction` is None when validation is a source of its own.
    pub fn check_fits(&self, path: &Path, block_size: usize, val_fraction: Option<f64>) -> Result<(), DataError> {
        check_fits(path, self.train.len() as u64, self.val.len() as u64, block_size, val_fraction)
    }
}

/// `TokenData::check_fits` on counts alone (the plan knows counts before any token is read).
pub fn check_fits(path: &Path, n_train: u64, n_val: u64, block_size: usize, val_fraction: Option<f64>) -> Result<(), DataError> {
    let need = block_size + 1;
    let Some(val_fraction) = val_fraction else {
        // Validation is a file of its own (data.val, or a nanoGPT val.bin): say which split is short.
        return match (n_train < need as u64, n_val < need as u64) {
            (_, true) => Err(DataError::ValTooShort { path: path.to_path_buf(), n_val, block_size, need }),
            (true, false) => Err(DataError::TooShort {
                path: path.to_path_buf(),
                n_tokens: (n_train + n_val) as usize,
                n_train: n_train as usize,
                n_val: n_val as usize,
                block_size,
                val_fraction: 0.0,
                need,
            }),
            _ => Ok(()),
        };
    };
    if n_train < need as u64 || n_val < need as u64 {
        return Err(DataError::TooShort {
            path: path.to_path_buf(),
            n_tokens: (n_train + n_val) as usize,
            n_train: n_train as usize,
            n_val: n_val as usize,
            block_size,
            val_fraction,
            need,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cross_shard_boundaries_and_both_dtypes_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let ids: Vec<u32> = (0..1000).map(|i| (i * 7919) % 60000).collect();
        for dtype in [Dtype::U16, Dtype::U32] {
            // Three shards of uneven length, one of them empty.
            let cuts = [(0, 123), (123, 123), (123, 1000)];
            let files: Vec<_> = cuts
                .iter()
                .enumerate()
                .map(|(k, &(a, b))| {
                    let f = dir.path().join(format!("{dtype:?}-{k}.bin"));
                    std::fs::write(&f, dtype.encode(&ids[a..b])).unwrap();
                    f
                })
                .collect();
            let range = TokenRange::whole(Arc::new(TokenStream::map(&files, dtype).unwrap()));
            assert_eq!(range.len(), 1000);
            assert_eq!(range.to_vec(), ids);
            let mut w = vec![0; 10];
            range.read(118, &mut w);
            assert_eq!(w, ids[118..128], "a window across the first shard boundary");
            let tail = range.slice(990, 100);
            assert_eq!(tail.to_vec(), ids[990..]);
            let max = *ids.iter().max().unwrap();
            assert_eq!(range.max_id(), Some((max, ids.iter().position(|&i| i == max).unwrap() as u64)));
        }
    }

    #[test]
    fn a_shard_of_odd_size_is_refused_with_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("train.bin");
        std::fs::write(&f, [1u8, 0, 2]).unwrap();
        let err = TokenStream::map(&[&f], Dtype::U16).err().unwrap().to_string();
        assert!(err.contains("train.bin is 3 bytes, not a whole number of 2-byte token ids"), "{err}");
    }

    #[test]
    fn split_and_too_short() {
        let text = "abcdefghij".repeat(3);
        let tok = Tokenizer::char_from_text(&text);
        let data = TokenData::split(&tok, &text, 0.1).unwrap();
        assert_eq!((data.train.len(), data.val.len()), (27, 3));
        assert!(data.check_fits(Path::new("t.txt"), 2, Some(0.1)).is_ok());
        let err = data.check_fits(Path::new("t.txt"), 8, Some(0.1)).unwrap_err().to_string();
        assert!(err.contains("t.txt: 30 tokens is too short for block_size 8"), "{err}");
        assert!(err.contains("got 27 and 3"), "{err}");
        let err = check_fits(Path::new("data/nano"), 1_000_000, 4, 16, None).unwrap_err().to_string();
        assert_eq!(
            err,
            "data/nano: the validation split holds 4 tokens, too few for block_size 16 (it needs at least 17); add text to the validation source (val.bin or data.val) or lower block_size"
        );
    }
}
