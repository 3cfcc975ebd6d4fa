//! `samples/<case>.csv`: one row per iteration of a baseline case, failed ones included,
//! written atomically when the case ends (so a half-written file is never read as whole).
//! Every cell passes through the redactor and [`printable`], like every other artifact.

use std::path::{Path, PathBuf};

use crate::atomic::write_atomic;
use crate::target::Redactor;
use crate::text::printable;

/// Writes the rows under the header; returns the path written.
pub fn write<'a>(
    out_dir: &Path,
    case: &str,
    header: impl IntoIterator<Item = &'a str>,
    rows: &[Vec<String>],
    redactor: &Redactor,
) -> std::io::Result<PathBuf> {
    let dir = out_dir.join("samples");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{}.csv", super::sanitize(case)));
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(header).map_err(std::io::Error::other)?;
    for row in rows {
        let safe = row
            .iter()
            .map(|cell| printable(&redactor.redact(cell)).into_owned());
        writer.write_record(safe).map_err(std::io::Error::other)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    write_atomic(&path, &bytes)?;
    Ok(path)
}
