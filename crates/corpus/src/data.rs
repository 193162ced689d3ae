//! Reading the corpus and splitting its token stream into train and val.

use crate::{DataError, Tokenizer};
use std::path::Path;

/// Reads a UTF-8 text file, with errors that say which file and what is wrong.
pub fn read_text(path: &Path) -> Result<String, DataError> {
    let bytes = std::fs::read(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => DataError::Missing { path: path.to_path_buf() },
        _ => DataError::Io { path: path.to_path_buf(), source },
    })?;
    if bytes.is_empty() {
        return Err(DataError::Empty { path: path.to_path_buf() });
    }
    String::from_utf8(bytes).map_err(|e| DataError::NotUtf8 { path: path.to_path_buf(), offset: e.utf8_error().valid_up_to() })
}

/// A tokenized corpus, split as nanoGPT does: the head for training, the tail for validation.
#[derive(Debug, Clone)]
pub struct TokenData {
    pub train: Vec<u32>,
    pub val: Vec<u32>,
    pub vocab_size: usize,
}

impl TokenData {
    /// Tokenizes `text` and splits it; `val_fraction` of the tokens (rounded down) go to val.
    pub fn split(tokenizer: &Tokenizer, text: &str, val_fraction: f64) -> Result<Self, DataError> {
        let ids = tokenizer.encode(text)?;
        let n_val = (ids.len() as f64 * val_fraction).floor() as usize;
        let n_train = ids.len() - n_val;
        let mut train = ids;
        let val = train.split_off(n_train);
        Ok(TokenData { train, val, vocab_size: tokenizer.vocab_size() })
    }

    /// Fails with `TooShort` unless both splits hold at least one (block_size + 1)-token window.
    pub fn check_fits(&self, path: &Path, block_size: usize, val_fraction: f64) -> Result<(), DataError> {
        let need = block_size + 1;
        if self.train.len() < need || self.val.len() < need {
            return Err(DataError::TooShort {
                path: path.to_path_buf(),
                n_tokens: self.train.len() + self.val.len(),
                n_train: self.train.len(),
                n_val: self.val.len(),
                block_size,
                val_fraction,
                need,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sweep_config::DataConfig;

    #[test]
    fn read_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.txt");
        let err = read_text(&missing).unwrap_err().to_string();
        assert!(err.contains("nope.txt not found"), "{err}");
        let empty = dir.path().join("empty.txt");
        std::fs::write(&empty, "").unwrap();
        assert!(read_text(&empty).unwrap_err().to_string().contains("is empty"));
        let latin1 = dir.path().join("latin1.txt");
        std::fs::write(&latin1, b"caf\xe9").unwrap();
        assert!(read_text(&latin1).unwrap_err().to_string().contains("invalid byte at offset 3"));
    }

    #[test]
    fn split_and_too_short() {
        let cfg: DataConfig = serde_json::from_str(r#"{"path":"t.txt"}"#).unwrap();
        let text = "abcdefghij".repeat(3);
        let tok = Tokenizer::build(&cfg, &text).unwrap();
        let data = TokenData::split(&tok, &text, 0.1).unwrap();
        assert_eq!((data.train.len(), data.val.len()), (27, 3));
        assert!(data.check_fits(Path::new("t.txt"), 2, 0.1).is_ok());
        let err = data.check_fits(Path::new("t.txt"), 8, 0.1).unwrap_err().to_string();
        assert!(err.contains("t.txt: 30 tokens is too short for block_size 8"), "{err}");
        assert!(err.contains("got 27 and 3"), "{err}");
    }
}
