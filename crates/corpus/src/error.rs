//! Errors about the corpus and the tokenizer; each names the file and what to do.

use std::path::PathBuf;

fn gib(bytes: &u64) -> f64 {
    *bytes as f64 / (1u64 << 30) as f64
}

impl DataError {
    pub fn io(path: &std::path::Path, source: std::io::Error) -> DataError {
        match source.kind() {
            std::io::ErrorKind::NotFound => DataError::Missing { path: path.to_path_buf() },
            _ => DataError::Io { path: path.to_path_buf(), source },
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("data file {path} not found; put the data there or fix data.path (a path relative to the folder you run sweep in)")]
    Missing { path: PathBuf },
    #[error("data file {path} is {kind}, not a text file; give data.path the path of a UTF-8 text file")]
    NotAFile { path: PathBuf, kind: &'static str },
    #[error(
        "{path} is {:.2} GiB ({size} bytes); a file read whole (a tokenizer, a prompt) may be at most {:.2} GiB",
        gib(.size), gib(.limit)
    )]
    TooLarge { path: PathBuf, size: u64, limit: u64 },
    #[error("cannot read or write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("data file {path} is empty; it needs some text to train on")]
    Empty { path: PathBuf },
    #[error("data file {path} is not UTF-8 text (invalid byte at offset {offset}); convert it to UTF-8, e.g. with iconv")]
    NotUtf8 { path: PathBuf, offset: usize },
    #[error(
        "data file {path}: {n_tokens} tokens is too short for block_size {block_size} with val_fraction {val_fraction} \
         (train and val each need at least block_size + 1 = {need} tokens, got {n_train} and {n_val}); \
         lower block_size, change val_fraction or use more text"
    )]
    TooShort { path: PathBuf, n_tokens: usize, n_train: usize, n_val: usize, block_size: usize, val_fraction: f64, need: usize },
    #[error("no files match data.path {pattern}{hint}")]
    NoMatch { pattern: String, hint: String },
    #[error("data folder {dir} holds {kinds}; name one kind with a glob, e.g. {dir}/*.{ext}")]
    MixedFolder { dir: PathBuf, kinds: String, ext: &'static str },
    #[error("{path} is one nanoGPT token file; give data.path the folder that holds train.bin and val.bin ({dir})")]
    BinFile { path: PathBuf, dir: PathBuf },
    #[error(
        "{path} is {size} bytes, not a whole number of {width}-byte token ids; the file is cut short or holds another dtype (nanoGPT's .bin files are uint16)"
    )]
    OddSize { path: PathBuf, size: u64, width: u64 },
    #[error(
        "{path}: token id {id} at position {position} is not below the vocabulary size {vocab_size} ({vocab}); \
         the file was made with another tokenizer: add its meta.pkl beside it, or set data.tokenizer to the one that made it"
    )]
    IdOutOfRange { path: PathBuf, position: u64, id: u32, vocab_size: usize, vocab: String },
    #[error("parquet file {path} has no column {column:?}; its columns are {columns}; set data.text_column to the one that holds the text")]
    MissingColumn { path: PathBuf, column: String, columns: String },
    #[error("parquet file {path}: column {column:?} is {kind}, not text; set data.text_column to a string column")]
    NotTextColumn { path: PathBuf, column: String, kind: String },
    #[error("cannot read parquet file {path}: {reason}")]
    Parquet { path: PathBuf, reason: String },
    #[error("{path}:{line}: {reason}")]
    JsonlLine { path: PathBuf, line: u64, reason: String },
    #[error("cannot read nanoGPT's {path}: {reason}; it should be the pickle nanoGPT's prepare.py writes, with itos and stoi")]
    Pickle { path: PathBuf, reason: String },
    #[error(
        "{what} was tokenized with another tokenizer than this run's ({cache}); \
         run `sweep run` (or `sweep prepare`) on the spec again to tokenize it with this one"
    )]
    TokenizerMismatch { what: String, cache: PathBuf },
    #[error("{path} changed after it was tokenized ({why}); run `sweep run` (or `sweep prepare`) on the spec again to tokenize it again")]
    Stale { path: PathBuf, why: String },
    #[error("{pattern} has not been tokenized yet (no manifest in {dir}); run `sweep prepare` or `sweep run` on the spec first")]
    NotPrepared { pattern: String, dir: PathBuf },
    #[error("{0}")]
    Config(String),
    #[error(
        "{path}: the validation split holds {n_val} tokens, too few for block_size {block_size} (it needs at least {need}); \
         add text to the validation source (val.bin or data.val) or lower block_size"
    )]
    ValTooShort { path: PathBuf, n_val: u64, block_size: usize, need: usize },
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error("text contains characters that are not in the vocabulary: {chars}; use only characters from the training text")]
    UnknownChars { chars: String },
}
