//! nanoGPT's data folders (`data/<name>/` as its prepare.py scripts write them): `train.bin`
//! and `val.bin` hold uint16 token ids; `meta.pkl`, for char-level sets, holds the
//! vocabulary (`itos`, `stoi`, `vocab_size`). Without meta.pkl the ids are GPT-2's.

use super::Source;
use crate::DataError;
use serde_pickle::{HashableValue, Value};
use std::collections::BTreeMap;
use std::path::Path;
use sweep_config::SourceFormat;

/// The folder as a source: train.bin, then val.bin and meta.pkl when present.
pub fn resolve(pattern: &str, dir: &Path) -> Result<Source, DataError> {
    let train = dir.join("train.bin");
    if !train.is_file() {
        return Err(DataError::NoMatch {
            pattern: pattern.into(),
            hint: format!(" (no train.bin in {}); a nanoGPT data folder holds train.bin and val.bin, as its prepare.py writes them", dir.display()),
        });
    }
    let mut files = vec![train];
    files.extend(["val.bin", "meta.pkl"].into_iter().map(|f| dir.join(f)).filter(|p| p.is_file()));
    Ok(Source { pattern: pattern.into(), format: SourceFormat::Nanogpt, files, field: String::new() })
}

pub fn file<'a>(source: &'a Source, name: &str) -> Option<&'a Path> {
    source.files.iter().find(|f| f.file_name().is_some_and(|n| n == name)).map(|p| p.as_path())
}

/// The characters of a char-level meta.pkl, by id (`itos`).
pub fn read_meta(path: &Path) -> Result<Vec<char>, DataError> {
    let fail = |reason: String| DataError::Pickle { path: path.to_path_buf(), reason };
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    let value = serde_pickle::value_from_slice(&bytes, serde_pickle::DeOptions::new()).map_err(|e| fail(e.to_string()))?;
    let Value::Dict(meta) = value else { return Err(fail("it is not a dict".into())) };
    let itos = meta.get(&HashableValue::String("itos".into())).ok_or_else(|| fail("it has no itos".into()))?;
    let Value::Dict(itos) = itos else { return Err(fail("its itos is not a dict".into())) };
    let mut by_id: BTreeMap<i64, char> = BTreeMap::new();
    for (k, v) in itos {
        let (HashableValue::I64(id), Value::String(s)) = (k, v) else { return Err(fail("itos should map ints to one-character strings".into())) };
        let mut chars = s.chars();
        let (Some(c), None) = (chars.next(), chars.next()) else {
            return Err(fail(format!("itos[{id}] is {s:?}, not one character: only nanoGPT's char-level meta.pkl is read")));
        };
        by_id.insert(*id, c);
    }
    let ids: Vec<i64> = by_id.keys().copied().collect();
    if ids.iter().enumerate().any(|(i, &id)| id != i as i64) {
        return Err(fail("itos's ids are not 0, 1, 2, … without gaps".into()));
    }
    Ok(by_id.into_values().collect())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A meta.pkl as nanoGPT's shakespeare_char/prepare.py writes it (dict of vocab_size,
    /// itos, stoi), here written by serde_pickle.
    pub(crate) fn write_meta(path: &Path, chars: &[char]) {
        let itos = chars.iter().enumerate().map(|(i, c)| (HashableValue::I64(i as i64), Value::String(c.to_string()))).collect();
        let stoi = chars.iter().enumerate().map(|(i, c)| (HashableValue::String(c.to_string()), Value::I64(i as i64))).collect();
        let meta = Value::Dict(BTreeMap::from([
            (HashableValue::String("vocab_size".into()), Value::I64(chars.len() as i64)),
            (HashableValue::String("itos".into()), Value::Dict(itos)),
            (HashableValue::String("stoi".into()), Value::Dict(stoi)),
        ]));
        std::fs::write(path, serde_pickle::value_to_vec(&meta, serde_pickle::SerOptions::new()).unwrap()).unwrap();
    }

    #[test]
    fn meta_pkl_gives_the_characters_by_id() {
        let dir = tempfile::tempdir().unwrap();
        let meta = dir.path().join("meta.pkl");
        write_meta(&meta, &['\n', ' ', '!', 'a', '飞']);
        assert_eq!(read_meta(&meta).unwrap(), vec!['\n', ' ', '!', 'a', '飞']);
        std::fs::write(&meta, b"garbage").unwrap();
        assert!(read_meta(&meta).unwrap_err().to_string().contains("meta.pkl"));
        std::fs::write(dir.path().join("train.bin"), [0u8; 4]).unwrap();
        let s = resolve("d", dir.path()).unwrap();
        assert_eq!(s.files.len(), 2, "train.bin and meta.pkl, no val.bin: {:?}", s.files);
    }
}
