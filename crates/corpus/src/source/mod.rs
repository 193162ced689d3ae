//! Where the text comes from: `data.path` (a file, a glob or a folder) resolved to a format
//! and its files, and cut into units of work that tokenize independently (a chunk of a
//! text or JSONL file, a parquet row group), so that the cache can tokenize them in
//! parallel and resume after a kill. A nanoGPT data folder is already tokens.
//!
//! Knows nothing of the cache: `cache` builds on this.

pub mod jsonl;
pub mod nanogpt;
pub mod parquet;
pub mod text;

use crate::DataError;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use sweep_config::SourceFormat;

/// A resolved source: its format and files, in the order their tokens follow each other.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    /// `data.path` (or `data.val`) as written.
    pub pattern: String,
    pub format: SourceFormat,
    /// Sorted by name. For a nanoGPT folder: train.bin, then val.bin and meta.pkl if present.
    pub files: Vec<PathBuf>,
    /// Parquet: the text column; JSONL: the text field.
    pub field: String,
}

/// A piece of a source that tokenizes on its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unit {
    /// Index into `Source::files`.
    pub file: usize,
    /// Text and JSONL: the byte range; parquet: the row group, as `start..start + 1`.
    pub start: u64,
    pub end: u64,
}

/// What a unit reads as: text pieces, each a whole document or not.
pub struct UnitText {
    pub pieces: Vec<String>,
    /// Records (parquet rows, JSONL lines) are documents, each followed by a separator;
    /// a text file's chunks are not (they join as the file reads).
    pub documents: bool,
}

/// A read-only map of `path`, None when it is empty (an empty file cannot be mapped).
pub(crate) fn map_file(path: &Path) -> Result<Option<memmap2::Mmap>, DataError> {
    let f = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    if f.metadata().map_err(|e| DataError::io(path, e))?.len() == 0 {
        return Ok(None);
    }
    // SAFETY: a read-only view of the user's file while it is read; the cache fingerprints
    // the file before tokenizing and checks it after, so a file changed meanwhile is not
    // trusted.
    unsafe { memmap2::Mmap::map(&f) }.map(Some).map_err(|e| DataError::io(path, e))
}

/// Files of these extensions are recognised in a folder or a glob.
fn format_of_extension(path: &Path) -> Option<SourceFormat> {
    match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
        "parquet" => Some(SourceFormat::Parquet),
        "jsonl" | "ndjson" => Some(SourceFormat::Jsonl),
        "txt" | "text" => Some(SourceFormat::Text),
        _ => None,
    }
}

/// Resolves `pattern` (relative to the working folder) to a source; `format` overrides the
/// format recognised from names, `field` names the parquet column or JSONL field.
pub fn resolve(pattern: &str, format: Option<SourceFormat>, field: Option<&str>) -> Result<Source, DataError> {
    let default_field = || field.unwrap_or("text").to_string();
    let source = |format: SourceFormat, files: Vec<PathBuf>| Source { pattern: pattern.to_string(), format, files, field: default_field() };
    if pattern.contains(['*', '?', '[']) {
        let paths = glob::glob(pattern).map_err(|e| DataError::Config(format!("data.path {pattern:?} is not a valid glob: {e}")))?;
        let mut files: Vec<PathBuf> = paths.filter_map(Result::ok).filter(|p| p.is_file()).collect();
        files.sort();
        if files.is_empty() {
            return Err(DataError::NoMatch { pattern: pattern.into(), hint: glob_hint(pattern) });
        }
        let format = match format {
            Some(f) => f,
            None => one_format(Path::new(pattern).parent().unwrap_or(Path::new(".")), &files)?,
        };
        return Ok(source(format, files));
    }
    let path = PathBuf::from(pattern);
    let meta = std::fs::metadata(&path).map_err(|e| DataError::io(&path, e))?;
    if meta.is_dir() {
        if format == Some(SourceFormat::Nanogpt) || path.join("train.bin").is_file() {
            return nanogpt::resolve(pattern, &path);
        }
        let mut files: Vec<PathBuf> = std::fs::read_dir(&path)
            .map_err(|e| DataError::io(&path, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && (format.is_some() || format_of_extension(p).is_some()))
            .collect();
        files.sort();
        if files.is_empty() {
            let hint = format!(
                " (the folder {} holds no .parquet, .jsonl or .txt files, and no nanoGPT train.bin); point data.path at the files, e.g. {}/*.parquet",
                path.display(),
                path.display()
            );
            return Err(DataError::NoMatch { pattern: pattern.into(), hint });
        }
        let format = match format {
            Some(f) => f,
            None => one_format(&path, &files)?,
        };
        return Ok(source(format, files));
    }
    if !meta.is_file() {
        return Err(DataError::NotAFile { path, kind: crate::text::file_kind(&meta) });
    }
    if format.is_none() && path.extension().is_some_and(|e| e == "bin") {
        let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        return Err(DataError::BinFile { path, dir });
    }
    if meta.len() == 0 {
        return Err(DataError::Empty { path });
    }
    let format = format.or_else(|| format_of_extension(&path)).unwrap_or(SourceFormat::Text);
    Ok(source(format, vec![path]))
}

/// The one format of `files`, or an error naming the kinds a folder mixes.
fn one_format(dir: &Path, files: &[PathBuf]) -> Result<SourceFormat, DataError> {
    let mut kinds: Vec<SourceFormat> = files.iter().map(|f| format_of_extension(f).unwrap_or(SourceFormat::Text)).collect();
    kinds.sort_by_key(|k| format!("{k:?}"));
    kinds.dedup();
    match kinds.as_slice() {
        [one] => Ok(*one),
        _ => {
            let names: Vec<String> = kinds.iter().map(|k| format!("{} files", k.name())).collect();
            let ext = match kinds[0] {
                SourceFormat::Parquet => "parquet",
                SourceFormat::Jsonl => "jsonl",
                _ => "txt",
            };
            Err(DataError::MixedFolder { dir: dir.to_path_buf(), kinds: names.join(" and "), ext })
        }
    }
}

/// What is in the folder a glob looks in, to help fix a pattern that matches nothing.
fn glob_hint(pattern: &str) -> String {
    let dir = Path::new(pattern).parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if dir.to_string_lossy().contains(['*', '?', '[']) {
        return "; check the pattern".into();
    }
    match std::fs::read_dir(dir) {
        Err(_) => format!("; the folder {} does not exist", dir.display()),
        Ok(entries) => {
            let mut names: Vec<String> = entries.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect();
            names.sort();
            let n = names.len();
            names.truncate(5);
            match n {
                0 => format!("; the folder {} is empty", dir.display()),
                _ => format!("; {} holds {n} entries, e.g. {}", dir.display(), names.join(", ")),
            }
        }
    }
}

impl Source {
    /// Total bytes of the files (what tokenizing reads).
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|f| std::fs::metadata(f).map_or(0, |m| m.len())).sum()
    }

    /// The units of work, in stream order. Checks what can be checked without tokenizing:
    /// a parquet file's column, that files are not empty.
    pub fn units(&self) -> Result<Vec<Unit>, DataError> {
        let mut units = Vec::new();
        for (i, file) in self.files.iter().enumerate() {
            match self.format {
                SourceFormat::Text => units.extend(text::units(file, i)?),
                SourceFormat::Jsonl => units.extend(jsonl::units(file, i)?),
                SourceFormat::Parquet => units.extend(parquet::units(file, i, &self.field)?),
                SourceFormat::Nanogpt => {}
            }
        }
        Ok(units)
    }

    /// Bytes a unit covers (for progress); a parquet row group's compressed size.
    pub fn unit_bytes(&self, unit: &Unit) -> u64 {
        match self.format {
            SourceFormat::Parquet => parquet::row_group_bytes(&self.files[unit.file], unit.start as usize).unwrap_or(0),
            _ => unit.end - unit.start,
        }
    }

    /// The unit's text.
    pub fn read(&self, unit: &Unit) -> Result<UnitText, DataError> {
        let file = &self.files[unit.file];
        match self.format {
            SourceFormat::Text => Ok(UnitText { pieces: vec![text::read(file, unit)?], documents: false }),
            SourceFormat::Jsonl => Ok(UnitText { pieces: jsonl::read(file, unit, &self.field)?, documents: true }),
            SourceFormat::Parquet => Ok(UnitText { pieces: parquet::read(file, unit.start as usize, &self.field)?, documents: true }),
            SourceFormat::Nanogpt => Ok(UnitText { pieces: Vec::new(), documents: false }),
        }
    }

    /// Up to `limit` bytes of text from the start of the source (to train a BPE, to
    /// estimate bytes per token).
    pub fn sample(&self, limit: u64) -> Result<String, DataError> {
        let mut out = String::new();
        for unit in self.units()? {
            for piece in self.read(&unit)?.pieces {
                out.push_str(&piece);
                out.push('\n');
                if out.len() as u64 >= limit {
                    let mut cut = limit as usize;
                    while !out.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    out.truncate(cut);
                    return Ok(out);
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_to_formats_and_sorted_files() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for name in ["b.jsonl", "a.jsonl", "notes.csv", "README.md"] {
            std::fs::write(d.join(name), "{\"text\":\"x\"}\n").unwrap();
        }
        let s = resolve(&format!("{}/*.jsonl", d.display()), None, None).unwrap();
        assert_eq!(s.format, SourceFormat::Jsonl);
        assert_eq!(s.files, vec![d.join("a.jsonl"), d.join("b.jsonl")]);
        // A folder: the recognised files in it; the .csv is not one.
        let s = resolve(&d.display().to_string(), None, Some("body")).unwrap();
        assert_eq!((s.format, s.files.len(), s.field.as_str()), (SourceFormat::Jsonl, 2, "body"));
        std::fs::write(d.join("c.parquet"), b"x").unwrap();
        let err = resolve(&d.display().to_string(), None, None).unwrap_err().to_string();
        assert!(err.contains("holds JSONL files and parquet files; name one kind with a glob, e.g. ") && err.ends_with("/*.jsonl"), "{err}");
        let err = resolve(&format!("{}/*.parket", d.display()), None, None).unwrap_err().to_string();
        assert!(err.contains("no files match data.path") && err.contains("holds 5 entries, e.g. README.md, a.jsonl, b.jsonl, c.parquet, notes.csv"), "{err}");
        std::fs::write(d.join("train.bin"), [0u8, 0]).unwrap();
        let err = resolve(&d.join("train.bin").display().to_string(), None, None).unwrap_err().to_string();
        assert!(err.contains("is one nanoGPT token file; give data.path the folder that holds train.bin and val.bin"), "{err}");
        let empty = tempfile::tempdir().unwrap();
        let err = resolve(&empty.path().display().to_string(), None, None).unwrap_err().to_string();
        assert!(err.contains("holds no .parquet, .jsonl or .txt files, and no nanoGPT train.bin"), "{err}");
    }
}
