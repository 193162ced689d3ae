//! JSON Lines: one JSON object per line, its text in one field (`data.text_field`, default
//! `text`). Each line is a document. Cut into chunks of whole lines.

use super::Unit;
use super::text::CHUNK_BYTES;
use crate::DataError;
use std::path::Path;

pub fn units(path: &Path, file: usize) -> Result<Vec<Unit>, DataError> {
    let Some(map) = super::map_file(path)? else { return Err(DataError::Empty { path: path.to_path_buf() }) };
    let mut units = Vec::new();
    let mut start = 0usize;
    while start < map.len() {
        let target = (start + CHUNK_BYTES as usize).min(map.len());
        let end = map[target..].iter().position(|&b| b == b'\n').map_or(map.len(), |i| target + i + 1);
        units.push(Unit { file, start: start as u64, end: end as u64 });
        start = end;
    }
    Ok(units)
}

/// The text field of every non-blank line in the unit; an error names the file and line.
pub fn read(path: &Path, unit: &Unit, field: &str) -> Result<Vec<String>, DataError> {
    let Some(all) = super::map_file(path)? else { return Ok(Vec::new()) };
    let part = all.get(unit.start as usize..unit.end as usize).unwrap_or_default();
    // Counted only for an error message.
    let first_line = || all[..unit.start as usize].iter().filter(|&&b| b == b'\n').count() as u64 + 1;
    let mut out = Vec::new();
    for (k, line) in part.split(|&b| b == b'\n').enumerate() {
        let fail = |reason: String| DataError::JsonlLine { path: path.to_path_buf(), line: first_line() + k as u64, reason };
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let value: serde_json::Value =
            serde_json::from_slice(line).map_err(|e| fail(format!("not a JSON object ({e}); each line should be one JSON object")))?;
        let Some(object) = value.as_object() else { return Err(fail("not a JSON object; each line should be one JSON object".into())) };
        match object.get(field) {
            Some(serde_json::Value::String(s)) => out.push(s.clone()),
            Some(other) => return Err(fail(format!("field {field:?} is {}, not a string", kind(other)))),
            None => {
                let keys: Vec<&str> = object.keys().map(String::as_str).collect();
                return Err(fail(format!("no field {field:?}; this line has {}; set data.text_field to the one that holds the text", keys.join(", "))));
            }
        }
    }
    Ok(out)
}

fn kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_field_and_names_the_line_of_a_bad_one() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("d.jsonl");
        std::fs::write(&f, "{\"text\":\"one\",\"id\":1}\n\n{\"text\":\"two\"}\n{\"body\":\"x\",\"id\":3}\n").unwrap();
        let found = units(&f, 0).unwrap();
        assert_eq!(found.len(), 1);
        let err = read(&f, &found[0], "text").unwrap_err().to_string();
        assert!(err.ends_with("d.jsonl:4: no field \"text\"; this line has body, id; set data.text_field to the one that holds the text"), "{err}");
        std::fs::write(&f, "{\"text\":\"one\"}\n{\"text\":\"two\"}\n").unwrap();
        assert_eq!(read(&f, &units(&f, 0).unwrap()[0], "text").unwrap(), vec!["one", "two"]);
    }
}
