//! Parquet files in the FineWeb layout: one row per document, its text in a string column
//! (`data.text_column`, default `text`). One unit per row group. Read with the parquet
//! crate's column reader (no Arrow), only the text column.

use super::Unit;
use crate::DataError;
use parquet::basic::Type as Physical;
use parquet::column::reader::ColumnReader;
use parquet::data_type::ByteArray;
use parquet::file::reader::FileReader;
use parquet::file::serialized_reader::SerializedFileReader;
use std::path::Path;

fn open(path: &Path) -> Result<SerializedFileReader<std::fs::File>, DataError> {
    let f = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    SerializedFileReader::new(f).map_err(|e| DataError::Parquet { path: path.to_path_buf(), reason: e.to_string() })
}

/// The index of the text column, or an error naming the columns the file has.
fn column(path: &Path, reader: &SerializedFileReader<std::fs::File>, name: &str) -> Result<usize, DataError> {
    let schema = reader.metadata().file_metadata().schema_descr();
    let columns = schema.columns();
    let Some(i) = columns.iter().position(|c| c.path().string() == name || c.name() == name) else {
        let names: Vec<String> = columns.iter().map(|c| c.path().string()).collect();
        return Err(DataError::MissingColumn { path: path.to_path_buf(), column: name.into(), columns: names.join(", ") });
    };
    let physical = columns[i].physical_type();
    if physical != Physical::BYTE_ARRAY {
        return Err(DataError::NotTextColumn { path: path.to_path_buf(), column: name.into(), kind: format!("{physical}") });
    }
    Ok(i)
}

pub fn units(path: &Path, file: usize, field: &str) -> Result<Vec<Unit>, DataError> {
    let reader = open(path)?;
    column(path, &reader, field)?;
    Ok((0..reader.num_row_groups() as u64).map(|g| Unit { file, start: g, end: g + 1 }).collect())
}

/// A row group's uncompressed size (all its columns; the text is most of it in FineWeb).
pub fn row_group_bytes(path: &Path, group: usize) -> Option<u64> {
    let reader = open(path).ok()?;
    let size = reader.metadata().row_group(group).total_byte_size();
    u64::try_from(size).ok()
}

/// The non-null texts of one row group, in row order.
pub fn read(path: &Path, group: usize, field: &str) -> Result<Vec<String>, DataError> {
    let fail = |e: parquet::errors::ParquetError| DataError::Parquet { path: path.to_path_buf(), reason: e.to_string() };
    let reader = open(path)?;
    let i = column(path, &reader, field)?;
    let row_group = reader.get_row_group(group).map_err(fail)?;
    let ColumnReader::ByteArrayColumnReader(mut col) = row_group.get_column_reader(i).map_err(fail)? else {
        return Err(DataError::NotTextColumn { path: path.to_path_buf(), column: field.into(), kind: "not a byte array".into() });
    };
    let mut out = Vec::new();
    let (mut values, mut defs): (Vec<ByteArray>, Vec<i16>) = (Vec::new(), Vec::new());
    loop {
        values.clear();
        defs.clear();
        let (records, _, _) = col.read_records(1024, Some(&mut defs), None, &mut values).map_err(fail)?;
        if records == 0 {
            break;
        }
        for v in &values {
            let text = std::str::from_utf8(v.data()).map_err(|e| DataError::Parquet {
                path: path.to_path_buf(),
                reason: format!("row group {group}, column {field:?}: a value is not UTF-8 text ({e})"),
            })?;
            out.push(text.to_string());
        }
    }
    Ok(out)
}

/// Writes `texts` as a parquet file with one string column `column` in row groups of
/// `per_group` rows: for tests and benchmarks that need a FineWeb-like shard.
pub fn write_for_tests(path: &Path, column: &str, texts: &[&str], per_group: usize) -> Result<(), parquet::errors::ParquetError> {
    use parquet::data_type::ByteArrayType;
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use std::sync::Arc;
    let schema = Arc::new(parquet::schema::parser::parse_message_type(&format!("message doc {{ REQUIRED BYTE_ARRAY {column} (UTF8); REQUIRED INT64 id; }}"))?);
    let props = Arc::new(WriterProperties::builder().set_compression(parquet::basic::Compression::SNAPPY).build());
    let file = std::fs::File::create(path)?;
    let mut writer = SerializedFileWriter::new(file, schema, props)?;
    for (g, group) in texts.chunks(per_group.max(1)).enumerate() {
        let mut rg = writer.next_row_group()?;
        if let Some(mut col) = rg.next_column()? {
            let values: Vec<ByteArray> = group.iter().map(|t| ByteArray::from(*t)).collect();
            col.typed::<ByteArrayType>().write_batch(&values, None, None)?;
            col.close()?;
        }
        if let Some(mut col) = rg.next_column()? {
            let ids: Vec<i64> = (0..group.len()).map(|i| (g * per_group + i) as i64).collect();
            col.typed::<parquet::data_type::Int64Type>().write_batch(&ids, None, None)?;
            col.close()?;
        }
        rg.close()?;
    }
    writer.close()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_groups_are_units_and_a_missing_column_names_the_columns() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("shard.parquet");
        let texts = ["first doc", "second", "三", "fourth one", "fifth"];
        write_for_tests(&f, "text", &texts, 2).unwrap();
        let units = units(&f, 0, "text").unwrap();
        assert_eq!(units.len(), 3);
        let all: Vec<String> = units.iter().flat_map(|u| read(&f, u.start as usize, "text").unwrap()).collect();
        assert_eq!(all, texts);
        let err = super::units(&f, 0, "content").unwrap_err().to_string();
        assert!(
            err.ends_with("shard.parquet has no column \"content\"; its columns are text, id; set data.text_column to the one that holds the text"),
            "{err}"
        );
        let err = super::units(&f, 0, "id").unwrap_err().to_string();
        assert!(err.contains("column \"id\" is INT64, not text"), "{err}");
        std::fs::write(&f, b"not parquet at all").unwrap();
        assert!(super::units(&f, 0, "text").unwrap_err().to_string().contains("cannot read parquet file"));
    }
}
