//! Errors about the corpus and the tokenizer; each names the file and what to do.

use std::path::PathBuf;

fn gib(bytes: &u64) -> f64 {
    *bytes as f64 / (1u64 << 30) as f64
}

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("data file {path} not found; put the text there or fix data.path (a path relative to the folder you run sweep in)")]
    Missing { path: PathBuf },
    #[error("data file {path} is {kind}, not a text file; give data.path the path of a UTF-8 text file")]
    NotAFile { path: PathBuf, kind: &'static str },
    #[error(
        "data file {path} is {:.2} GiB ({size} bytes); sweep holds the whole corpus in memory and reads at most {:.2} GiB: \
         train on a slice of it (e.g. `head -c 500M`)",
        gib(.size), gib(.limit)
    )]
    TooLarge { path: PathBuf, size: u64, limit: u64 },
    #[error("cannot read data file {path}")]
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
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error("text contains characters that are not in the vocabulary: {chars}; use only characters from the training text")]
    UnknownChars { chars: String },
}
