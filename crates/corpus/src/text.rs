//! Reading one UTF-8 text file whole (a tokenizer file, a small text), with errors that say
//! which file and what is wrong. Corpora of any size go through `source` and the token cache.

use crate::DataError;
use std::path::Path;

/// The largest file read whole.
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
pub(crate) fn file_kind(meta: &std::fs::Metadata) -> &'static str {
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

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(err.contains("big.txt is 1.00 GiB (1073741825 bytes); a file read whole (a tokenizer, a prompt) may be at most 1.00 GiB"), "{err}");
    }

    fn mkfifo(path: &Path) {
        let status = std::process::Command::new("mkfifo").arg(path).status().unwrap();
        assert!(status.success());
    }
}
