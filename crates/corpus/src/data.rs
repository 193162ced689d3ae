//! Reading the corpus and splitting its token stream into train and val.

use crate::{DataError, Tokenizer};
use std::path::Path;

/// The largest corpus read: the whole text and its token ids are held in memory (about
/// five bytes per character for a char tokenizer, more while a BPE trains), so 1 GiB of
/// text needs several GiB of memory. Larger corpora should be cut to a slice.
pub const MAX_CORPUS_BYTES: u64 = 1 << 30;

/// Reads a UTF-8 text file, with errors that say which file and what is wrong. Only a
/// regular file of at most `MAX_CORPUS_BYTES` is read: a device (`/dev/zero`), a folder or
/// a FIFO is refused before a byte is read.
pub fn read_text(path: &Path) -> Result<String, DataError> {
    let io_error = |source: std::io::Error| match source.kind() {
        std::io::ErrorKind::NotFound => DataError::Missing { path: path.to_path_buf() },
        _ => DataError::Io { path: path.to_path_buf(), source },
    };
    let meta = std::fs::metadata(path).map_err(io_error)?;
    if !meta.is_file() {
        return Err(DataError::NotAFile { path: path.to_path_buf(), kind: file_kind(&meta) });
    }
    if meta.len() > MAX_CORPUS_BYTES {
        return Err(DataError::TooLarge { path: path.to_path_buf(), size: meta.len(), limit: MAX_CORPUS_BYTES });
    }
    let bytes = std::fs::read(path).map_err(io_error)?;
    if bytes.is_empty() {
        return Err(DataError::Empty { path: path.to_path_buf() });
    }
    String::from_utf8(bytes).map_err(|e| DataError::NotUtf8 { path: path.to_path_buf(), offset: e.utf8_error().valid_up_to() })
}

/// "a folder", "a character device", …: what a path that is not a regular file is.
fn file_kind(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_dir() {
        "a folder"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// A tokenized corpus, split as nanoGPT does: the head for training, the tail for validation.
#[derive(Debug, Clone)]
pub struct TokenData {
    pub train: Vec<u32>,
    pub val: Vec<u32>,
    pub vocab_size: usize,
}

impl TokenData {
    /// Tokenizes `text` and splits it as nanoGPT's prepare.py does: the first
    /// `int(n * (1 - val_fraction))` tokens train, the rest validate.
    pub fn split(tokenizer: &Tokenizer, text: &str, val_fraction: f64) -> Result<Self, DataError> {
        let ids = tokenizer.encode(text)?;
        let n_train = ((ids.len() as f64 * (1.0 - val_fraction)).floor() as usize).min(ids.len());
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
    fn only_regular_files_of_bounded_size_are_read() {
        let err = read_text(Path::new("/dev/zero")).unwrap_err().to_string();
        assert_eq!(err, "data file /dev/zero is a character device, not a text file; give data.path the path of a UTF-8 text file");
        let dir = tempfile::tempdir().unwrap();
        let err = read_text(dir.path()).unwrap_err().to_string();
        assert!(err.ends_with("is a folder, not a text file; give data.path the path of a UTF-8 text file"), "{err}");
        let fifo = dir.path().join("fifo");
        mkfifo(&fifo);
        assert!(read_text(&fifo).unwrap_err().to_string().contains("is a FIFO (named pipe), not a text file"));
        // A sparse file one byte over the limit takes no disk space.
        let big = dir.path().join("big.txt");
        std::fs::File::create(&big).unwrap().set_len(MAX_CORPUS_BYTES + 1).unwrap();
        let err = read_text(&big).unwrap_err().to_string();
        assert!(err.contains("big.txt is 1.00 GiB (1073741825 bytes); sweep holds the whole corpus in memory and reads at most 1.00 GiB"), "{err}");
    }

    fn mkfifo(path: &Path) {
        let status = std::process::Command::new("mkfifo").arg(path).status().unwrap();
        assert!(status.success());
    }

    /// The shipped Shakespeare splits exactly as nanoGPT's shakespeare_char/prepare.py
    /// (65 characters, 1,003,854 train and 111,540 val tokens, as data/README.md says).
    #[test]
    fn split_matches_nanogpt_on_tinyshakespeare() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/tinyshakespeare.txt");
        let text = read_text(&path).unwrap();
        let cfg: DataConfig = serde_json::from_str(r#"{"path":"t.txt"}"#).unwrap();
        let data = TokenData::split(&Tokenizer::build(&cfg, &text).unwrap(), &text, 0.1).unwrap();
        assert_eq!((data.vocab_size, data.train.len(), data.val.len()), (65, 1_003_854, 111_540));
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
