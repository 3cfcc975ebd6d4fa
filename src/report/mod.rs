//! Artifacts from plain records: JUnit XML, CSV and a Markdown summary, and for baseline
//! cases a performance report and its CSV.
//!
//! Each format has a module of its own and reads only [`Record`]s. Under cargo-nextest,
//! where every case is a process of its own, each process stores its record and rewrites
//! the artifacts from all records of the run under a file lock, so no process overwrites
//! another's results.

pub mod csv;
pub mod figures;
#[cfg(test)]
mod fixtures;
pub mod junit;
pub mod markdown;
pub mod performance;
pub mod performance_csv;
pub mod record;
pub mod samples;
pub mod summary;

use std::path::{Path, PathBuf};

use crate::atomic::{lock, write_atomic};
use crate::kind::Kind;
use crate::store::history::HistoryRow;
pub use record::{Record, Status};

/// Writes `junit.xml`, `results.csv` and `summary.md`, and when any case is a baseline
/// case `report.md` (with each case's trend from `history`) and `summary.csv`; returns the
/// JUnit path.
pub fn write_artifacts(
    out_dir: &Path,
    records: &[Record],
    history: &[HistoryRow],
) -> std::io::Result<PathBuf> {
    let junit = out_dir.join("junit.xml");
    write_atomic(&junit, &junit::render(records))?;
    write_atomic(&out_dir.join("results.csv"), &csv::render(records))?;
    write_atomic(
        &out_dir.join("summary.md"),
        summary::render(records).as_bytes(),
    )?;
    let report = out_dir.join("report.md");
    let baseline_summary = out_dir.join("summary.csv");
    if records.iter().any(|record| record.kind == Kind::Baseline) {
        write_atomic(&report, performance::render(records, history).as_bytes())?;
        write_atomic(&baseline_summary, &performance_csv::render(records))?;
    } else {
        // An earlier run's files would read as this run's.
        remove_if_present(&report)?;
        remove_if_present(&baseline_summary)?;
    }
    Ok(junit)
}

fn remove_if_present(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

/// The run history, for the trend in `report.md`. A history that cannot be read (another
/// header, a damaged row) leaves the report without its trend, said once on stderr: the
/// report of this run is still worth writing.
pub fn read_history(out_dir: &Path) -> Vec<HistoryRow> {
    crate::store::history::read(&out_dir.join("history.csv")).unwrap_or_else(|e| {
        eprintln!("perfcase: report.md has no trend: {e}");
        Vec::new()
    })
}

/// Stores one process's records under the run id and rewrites the artifacts from every
/// record stored for that run so far.
pub fn write_shared_run(
    out_dir: &Path,
    run_id: &str,
    records: &[Record],
) -> std::io::Result<PathBuf> {
    let run_dir = out_dir.join("runs").join(sanitize(run_id));
    std::fs::create_dir_all(&run_dir)?;
    for record in records {
        let json = serde_json::to_vec_pretty(record).map_err(std::io::Error::other)?;
        write_atomic(
            &run_dir.join(format!("{}.json", sanitize(&record.name))),
            &json,
        )?;
    }
    let _lock = lock(&out_dir.join(".artifacts.lock"))?;
    let mut all = Vec::new();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&run_dir)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    for path in paths {
        let record: Record =
            serde_json::from_slice(&std::fs::read(&path)?).map_err(std::io::Error::other)?;
        all.push(record);
    }
    all.sort_by(|a, b| a.name.cmp(&b.name));
    write_artifacts(out_dir, &all, &read_history(out_dir))
}

/// A file name for a case name that no other case name maps to: `::` becomes `__`, and
/// every other character outside `[A-Za-z0-9.-]` (an `_` included) is escaped as `_xx`.
pub(crate) fn sanitize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(c) = rest.chars().next() {
        if let Some(after) = rest.strip_prefix("::") {
            out.push_str("__");
            rest = after;
            continue;
        }
        if c.is_ascii_alphanumeric() || matches!(c, '-' | '.') {
            out.push(c);
        } else {
            let mut buffer = [0; 4];
            for byte in c.encode_utf8(&mut buffer).bytes() {
                out.push_str(&format!("_{byte:02x}"));
            }
        }
        rest = &rest[c.len_utf8()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("smoke::a::b", "smoke__a__b")]
    #[case("smoke::a_b", "smoke__a_5fb")]
    #[case("x/y z", "x_2fy_20z")]
    fn sanitizes(#[case] name: &str, #[case] expected: &str) {
        assert_eq!(sanitize(name), expected);
    }

    #[rstest]
    #[case::baseline_cases(true, true)]
    #[case::no_baseline_case(false, false)]
    fn writes_the_performance_files_only_for_baseline_cases(
        #[case] baseline: bool,
        #[case] written: bool,
    ) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("report.md"), "an earlier run's").unwrap();
        let mut record = fixtures::generation("chat", "smollm2", 0.1, 100.0);
        if !baseline {
            record.kind = Kind::Inference;
        }
        write_artifacts(dir.path(), &[record], &[]).unwrap();
        let report = std::fs::read_to_string(dir.path().join("report.md"));
        assert_eq!(report.is_ok(), written);
        assert_eq!(dir.path().join("summary.csv").exists(), written);
        if let Ok(report) = report {
            assert!(report.contains("| smollm2 | local::chat |"), "{report}");
        }
    }

    #[test]
    fn sanitized_names_do_not_collide() {
        // `s/a.toml` check `b` and `s.toml` check `a__b` once mapped to the same file.
        assert_ne!(sanitize("smoke::s::a::b"), sanitize("smoke::s::a__b"));
    }
}
