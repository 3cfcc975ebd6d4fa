//! `samples/<case>.<extension>`: the raw measurements of a case beside the reports, written
//! atomically when the case ends (so a half-written file is never read as whole). A
//! baseline case writes one row per iteration (`.csv`); an sla case its timeline
//! (`.timeline.csv`) and its latency histograms (`.hlog`). Every CSV cell passes through
//! the redactor and [`printable`], like every other artifact.

use std::path::{Path, PathBuf};

use crate::atomic::write_atomic;
use crate::target::Redactor;
use crate::text::printable;

/// Where the case's samples file with this extension goes; its folder is made.
pub fn path(out_dir: &Path, case: &str, extension: &str) -> std::io::Result<PathBuf> {
    let dir = out_dir.join("samples");
    std::fs::create_dir_all(&dir)?;
    Ok(dir.join(format!("{}.{extension}", super::sanitize(case))))
}

/// Writes the rows under the header as `samples/<case>.<extension>`; returns the path.
pub fn write<'a>(
    out_dir: &Path,
    case: &str,
    extension: &str,
    header: impl IntoIterator<Item = &'a str>,
    rows: &[Vec<String>],
    redactor: &Redactor,
) -> std::io::Result<PathBuf> {
    let path = path(out_dir, case, extension)?;
    let safe = rows.iter().map(|row| {
        row.iter()
            .map(|cell| printable(&redactor.redact(cell)).into_owned())
            .collect()
    });
    write_atomic(&path, &super::csv::to_csv(header, safe))?;
    Ok(path)
}
