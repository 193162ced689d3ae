//! Turns a text file into token ids: reads it with errors that name the file, builds a
//! char or BPE tokenizer, and splits the token stream into train and val.
//!
//! No libtorch here: the sweep crate uses this to plan (token counts, epochs) and the
//! train crate to feed the model.

mod data;
mod error;
mod tokenizer;

pub use data::{TokenData, read_text};
pub use error::DataError;
pub use tokenizer::Tokenizer;
