//! A corpus to token ids, at any size: sources (`source`: a text file, parquet or JSONL
//! shards, a nanoGPT data folder) tokenized once into a cache of memory-mapped shards
//! (`cache`), read by trials as token streams (`tokens`); char, BPE and GPT-2 tokenizers.
//!
//! No libtorch here: the sweep crate uses this to plan (token counts, epochs) and the
//! train crate to feed the model. Layers: the root modules (error, text, tokenizer, gpt2,
//! tokens) import no folder; `source/` imports the root; `cache/` imports both.

pub mod cache;
mod error;
pub mod gpt2;
pub mod source;
mod text;
mod tokenizer;
pub mod tokens;

pub use error::DataError;
pub use text::{MAX_CORPUS_BYTES, read_text};
pub use tokenizer::Tokenizer;
pub use tokens::{TokenData, TokenRange};
