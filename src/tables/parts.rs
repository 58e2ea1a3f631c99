//! Part files: writing a partition's rows as sorted, zstd-compressed
//! Parquet files, and reading them back (whole, or only `call_id`).

use std::collections::BTreeSet;
use std::fs::File;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::arrow_writer::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::{KeyValue, SortingColumn};
use parquet::file::properties::WriterProperties;

use super::schema::{CALLS, TableRow};
use super::{TablesOptions, create_private_dir_all, io_error, parquet_error, table_dir};
use crate::error::{Error, Result};
use crate::model::TABLES_SCHEMA_VERSION;

/// Rows converted to Arrow at a time while writing (bounds the extra memory).
const ENCODE_CHUNK_ROWS: usize = 64 * 1024;

fn writer_properties<R: TableRow>(options: &TablesOptions) -> Result<WriterProperties> {
    let level = ZstdLevel::try_new(options.zstd_level)
        .map_err(|e| Error::Other(format!("tables: zstd level: {e}")))?;
    let sorting = R::sort_columns()
        .iter()
        .map(|&i| SortingColumn {
            column_idx: i as i32,
            descending: false,
            nulls_first: true,
        })
        .collect();
    Ok(WriterProperties::builder()
        .set_compression(Compression::ZSTD(level))
        .set_max_row_group_row_count(Some(options.row_group_rows.max(1)))
        .set_sorting_columns(Some(sorting))
        .set_key_value_metadata(Some(vec![
            KeyValue::new("callsift.table".into(), R::TABLE.to_string()),
            KeyValue::new(
                "callsift.schema_version".into(),
                TABLES_SCHEMA_VERSION.to_string(),
            ),
        ]))
        .build())
}

/// Creates a new file for writing, exactly [`crate::atomic::FILE_MODE`]
/// (0640: personal data).
fn create_private(path: &Path) -> Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, crate::atomic::FILE_MODE);
    let file = options
        .open(path)
        .map_err(|e| io_error(path, "cannot create file", e))?;
    crate::atomic::set_file_mode(&file, path)?;
    Ok(file)
}

/// Sorts `rows` and writes them into `dir` (created 0750) as
/// `<prefix>-<n>.parquet`, one file per [`TablesOptions::max_rows_per_file`]
/// rows, each synced. Returns the file names. No rows, no files.
pub(crate) fn write_parts<R: TableRow>(
    dir: &Path,
    prefix: &str,
    rows: Vec<R>,
    options: &TablesOptions,
) -> Result<Vec<String>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    // Sorting references moves 8 bytes per swap instead of a whole row.
    let mut rows: Vec<&R> = rows.iter().collect();
    rows.sort_unstable_by(|a, b| a.sort_cmp(b));
    create_private_dir_all(dir)?;
    let props = writer_properties::<R>(options)?;
    let mut names = Vec::new();
    for (n, chunk) in rows.chunks(options.max_rows_per_file.max(1)).enumerate() {
        let name = format!("{prefix}-{n}.parquet");
        write_file(&dir.join(&name), chunk, props.clone())?;
        names.push(name);
    }
    Ok(names)
}

fn write_file<R: TableRow>(path: &Path, rows: &[&R], props: WriterProperties) -> Result<()> {
    let file = create_private(path)?;
    let err = |e: &dyn std::fmt::Display| parquet_error(path, e);
    let mut writer = ArrowWriter::try_new(file, R::schema(), Some(props)).map_err(|e| err(&e))?;
    for chunk in rows.chunks(ENCODE_CHUNK_ROWS) {
        let batch = R::to_batch(chunk).map_err(|e| err(&e))?;
        writer.write(&batch).map_err(|e| err(&e))?;
    }
    let file = writer.into_inner().map_err(|e| err(&e))?;
    file.sync_all()
        .map_err(|e| io_error(path, "cannot sync file", e))
}

/// Opens a part for reading; `NotFound` stays recognisable (see [`read_table`]).
fn open(path: &Path) -> Result<File> {
    File::open(path).map_err(|e| io_error(path, "cannot open", e))
}

/// Every row of one part file.
pub(crate) fn read_part<R: TableRow>(path: &Path) -> Result<Vec<R>> {
    read_open_part(path, open(path)?)
}

fn read_open_part<R: TableRow>(path: &Path, file: File) -> Result<Vec<R>> {
    let err = |e: &dyn std::fmt::Display| parquet_error(path, e);
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| err(&e))?
        .with_batch_size(8192)
        .build()
        .map_err(|e| err(&e))?;
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| err(&e))?;
        rows.extend(R::from_batch(&batch).map_err(|e| err(&e))?);
    }
    Ok(rows)
}

/// The `call_id` column of one part file, and nothing else.
pub(crate) fn read_ids(path: &Path) -> Result<Vec<String>> {
    let err = |e: &dyn std::fmt::Display| parquet_error(path, e);
    let builder = ParquetRecordBatchReaderBuilder::try_new(open(path)?).map_err(|e| err(&e))?;
    let mask = ProjectionMask::columns(builder.parquet_schema(), ["call_id"]);
    let reader = builder
        .with_projection(mask)
        .with_batch_size(64 * 1024)
        .build()
        .map_err(|e| err(&e))?;
    let mut ids = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| err(&e))?;
        let col = batch
            .column_by_name("call_id")
            .and_then(|c| c.as_any().downcast_ref::<arrow_array::StringArray>())
            .ok_or_else(|| err(&"no utf8 column `call_id`"))?;
        ids.extend(col.iter().flatten().map(str::to_owned));
    }
    Ok(ids)
}

/// Whether a directory entry is a part file (hidden and temporary files,
/// `.crc` files of other tools and the like are not).
fn is_part_name(name: &str) -> bool {
    name.ends_with(".parquet") && !name.starts_with('.') && !name.starts_with('_')
}

/// Names of the part files directly in `dir`, sorted; none when it is missing.
pub(crate) fn part_names(dir: &Path) -> Result<BTreeSet<String>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(BTreeSet::new()),
        Err(e) => return Err(io_error(dir, "cannot list", e)),
    };
    let mut names = BTreeSet::new();
    for entry in entries {
        let entry = entry.map_err(|e| io_error(dir, "cannot list", e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if is_part_name(&name) && entry.file_type().is_ok_and(|t| t.is_file()) {
            names.insert(name);
        }
    }
    Ok(names)
}

/// Part files anywhere under `dir`, as `/`-separated paths relative to it:
/// what a swap's target must hold once the swap is done.
pub(crate) fn part_files_under(dir: &Path) -> Result<BTreeSet<String>> {
    let mut files = BTreeSet::new();
    if !dir.exists() {
        return Ok(files);
    }
    for entry in walkdir::WalkDir::new(dir).min_depth(1) {
        let entry = entry.map_err(|e| {
            let path = e.path().unwrap_or(dir).to_path_buf();
            io_error(&path, "cannot list", e.into())
        })?;
        let name = entry.file_name().to_string_lossy();
        if entry.file_type().is_file() && is_part_name(&name) {
            let rel = entry.path().strip_prefix(dir).unwrap_or(entry.path());
            let parts: Vec<_> = rel.iter().map(|c| c.to_string_lossy()).collect();
            files.insert(parts.join("/"));
        }
    }
    Ok(files)
}

/// The partition directories (`date=…`) of a table, sorted by name.
pub(crate) fn partitions(table_dir: &Path) -> Result<Vec<String>> {
    let entries = match std::fs::read_dir(table_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_error(table_dir, "cannot list", e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| io_error(table_dir, "cannot list", e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("date=") && entry.file_type().is_ok_and(|t| t.is_dir()) {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// Every part of a table, by partition then name.
fn table_parts(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut paths = Vec::new();
    for p in partitions(dir)? {
        let pdir = dir.join(&p);
        paths.extend(part_names(&pdir)?.into_iter().map(|n| pdir.join(n)));
    }
    Ok(paths)
}

fn is_not_found(e: &Error) -> bool {
    matches!(e, Error::Io(io) if io.kind() == ErrorKind::NotFound)
}

/// Reads a whole table. All its parts are opened before any is read, so
/// the rows are those of one moment's files; a part deleted by a commit
/// between listing and opening means the listing is stale: list again.
pub(crate) fn read_table<R: TableRow>(out_dir: &Path) -> Result<Vec<R>> {
    let dir = table_dir(out_dir, R::TABLE);
    if !dir.is_dir() && R::TABLE != CALLS && table_dir(out_dir, CALLS).is_dir() {
        // Tables written by a callsift before this table existed: the
        // writer's next open creates its folder, and until then it has no
        // rows; that is not "no tables".
        return Ok(Vec::new());
    }
    if !dir.is_dir() {
        return Err(Error::Other(format!(
            "no tables in {}: they are made by `callsift run --out {out}` (or `callsift import … --out {out}`); \
             for transcripts already there, `callsift tables rebuild --out {out}`",
            dir.display(),
            out = out_dir.display()
        )));
    }
    let mut attempt = 0;
    loop {
        attempt += 1;
        let opened: Result<Vec<(PathBuf, File)>> = table_parts(&dir)?
            .into_iter()
            .map(|p| open(&p).map(|f| (p, f)))
            .collect();
        match opened {
            Ok(files) => {
                let mut rows = Vec::new();
                for (path, file) in files {
                    rows.extend(read_open_part::<R>(&path, file)?);
                }
                return Ok(rows);
            }
            Err(e) if is_not_found(&e) && attempt < 5 => continue,
            Err(e) => return Err(e),
        }
    }
}
