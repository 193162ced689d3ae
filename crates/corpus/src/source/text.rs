//! Plain UTF-8 text files, cut into chunks of about `CHUNK_BYTES` at places where cutting
//! cannot change the tokens: a newline with a non-space byte on each side. There, GPT-2's
//! pre-tokenizer (and a char tokenizer) splits anyway, so the chunks' tokens joined equal
//! the whole file's.

use super::Unit;
use crate::DataError;
use std::path::Path;

/// Target size of one unit of tokenizing work.
pub const CHUNK_BYTES: u64 = 8 << 20;

fn is_space(b: u8) -> bool {
    b.is_ascii_whitespace()
}

/// Where to cut `bytes` into chunks of about `target` bytes: positions just after a `\n`
/// whose neighbours are not whitespace. A stretch with no such newline stays whole.
pub fn cut_points(bytes: &[u8], target: usize) -> Vec<usize> {
    let mut cuts = Vec::new();
    let mut at = target;
    while at < bytes.len() {
        match (at..bytes.len().saturating_sub(1)).find(|&i| bytes[i] == b'\n' && i > 0 && !is_space(bytes[i - 1]) && !is_space(bytes[i + 1])) {
            Some(i) => {
                cuts.push(i + 1);
                at = i + 1 + target;
            }
            None => break,
        }
    }
    cuts
}

pub fn units(path: &Path, file: usize) -> Result<Vec<Unit>, DataError> {
    let Some(bytes) = super::map_file(path)? else { return Err(DataError::Empty { path: path.to_path_buf() }) };
    let mut starts = vec![0];
    starts.extend(cut_points(&bytes, CHUNK_BYTES as usize));
    starts.push(bytes.len());
    Ok(starts.windows(2).map(|w| Unit { file, start: w[0] as u64, end: w[1] as u64 }).collect())
}

pub fn read(path: &Path, unit: &Unit) -> Result<String, DataError> {
    let Some(bytes) = super::map_file(path)? else { return Ok(String::new()) };
    let part = bytes
        .get(unit.start as usize..unit.end as usize)
        .ok_or_else(|| DataError::Stale { path: path.to_path_buf(), why: format!("it is now {} bytes, shorter than while it was planned", bytes.len()) })?;
    match std::str::from_utf8(part) {
        Ok(s) => Ok(s.to_string()),
        Err(e) => Err(DataError::NotUtf8 { path: path.to_path_buf(), offset: unit.start as usize + e.valid_up_to() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_only_between_non_space_bytes_around_a_newline() {
        let text = b"aaaa \nbbbb\n\ncccc\ndddd\neeee";
        // The newline after "aaaa " has a space before it, the one after "bbbb" a newline
        // after it: the first safe cut is after "cccc\n".
        assert_eq!(cut_points(text, 1), vec![17, 22]);
        assert_eq!(cut_points(b"no newline at all", 4), Vec::<usize>::new());
    }
}
