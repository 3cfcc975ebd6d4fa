//! The files an sla case leaves beside the reports: `samples/<case>.timeline.csv`, one row
//! per interval of the run (a second, or less where a stage or the warmup ends), to see
//! when a server fell behind, with a generation's first-token and inter-token times and
//! output tokens/s when the run answered any; and `samples/<case>.hlog`, every interval's
//! histograms (latency, a generation's ttft, itl and tpot, each part of a mix's), tagged
//! by figure, in HdrHistogram's interval-log format, to merge runs or recompute
//! percentiles with HdrHistogram's own tools. Both appear whole or not at all: the timeline
//! is written when the run has ended, the hlog as the run goes, into a temporary file
//! ([`open_hlog`]) renamed when the run has ended, so that no histogram stays in memory.
//! The hlog holds numbers and tags (figure and request names) only: nothing to redact.

use std::path::Path;

use crate::atomic::AtomicFile;
use crate::load::{Interval, Phase, Report};
use crate::report::samples;
use crate::target::Redactor;

pub const TIMELINE_HEADER: &[&str] = &[
    "second",
    "stage",
    "requests",
    "errors",
    "achieved_rate",
    "p50_ms",
    "p99_ms",
    "in_flight",
];

/// The columns after [`TIMELINE_HEADER`] of a run that answered generations.
pub const GENERATION_HEADER: &[&str] = &[
    "ttft_p50_ms",
    "ttft_p99_ms",
    "itl_p99_ms",
    "output_tokens_per_s",
];

/// The hlog's temporary file, which the engine writes into as the run goes; the error
/// says why it could not be made.
pub fn open_hlog(out_dir: &Path, case: &str) -> Result<AtomicFile, String> {
    let path =
        samples::path(out_dir, case, "hlog").map_err(|e| format!("cannot write the hlog: {e}"))?;
    AtomicFile::create(&path).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Writes the timeline and puts the hlog the engine wrote (or why it could not be opened)
/// in its place; the error says which could not be. An hlog the engine could not write
/// whole (`report.log_error`) is left out.
pub fn write(
    out_dir: &Path,
    case: &str,
    report: &Report,
    hlog: Result<AtomicFile, String>,
    redactor: &Redactor,
) -> Result<(), String> {
    let generations = report.intervals.iter().any(|i| i.generated.is_some());
    let rows: Vec<Vec<String>> = report
        .intervals
        .iter()
        .map(|i| timeline_row(i, generations))
        .collect();
    let generation_header = if generations { GENERATION_HEADER } else { &[] };
    samples::write(
        out_dir,
        case,
        "timeline.csv",
        TIMELINE_HEADER.iter().chain(generation_header).copied(),
        &rows,
        redactor,
    )
    .map_err(|e| format!("cannot write the timeline: {e}"))?;
    let hlog = hlog?;
    let path = hlog.path().to_path_buf();
    if let Some(e) = &report.log_error {
        return Err(format!("cannot write {}: {e}", path.display()));
    }
    hlog.commit()
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// One interval as a row: where it starts (seconds since the run started), its stage
/// (from 1, or `warmup`), and its figures; a latency is empty when nothing was answered.
/// With `generations`, the interval's first-token and inter-token times and output
/// tokens/s follow.
fn timeline_row(interval: &Interval, generations: bool) -> Vec<String> {
    let ms = |d: Option<std::time::Duration>| {
        d.map_or_else(String::new, |d| format!("{:.3}", d.as_secs_f64() * 1e3))
    };
    let mut row = vec![
        format!("{}", round3(interval.start.as_secs_f64())),
        match interval.phase {
            Phase::Warmup => "warmup".to_string(),
            Phase::Stage(i) => (i + 1).to_string(),
        },
        interval.requests.to_string(),
        interval.errors.to_string(),
        format!("{:.1}", interval.rate()),
        ms(interval.p50),
        ms(interval.p99),
        interval.in_flight.to_string(),
    ];
    if generations {
        let generated = interval.generated;
        let elapsed = (interval.end - interval.start).as_secs_f64();
        // An interval that answered no generation produced no tokens: 0, not unknown.
        let tokens = generated.map_or(0, |g| g.output_tokens);
        let tokens_per_s = if elapsed > 0.0 {
            format!("{:.1}", tokens as f64 / elapsed)
        } else {
            String::new()
        };
        row.extend([
            ms(generated.and_then(|g| g.ttft_p50)),
            ms(generated.and_then(|g| g.ttft_p99)),
            ms(generated.and_then(|g| g.itl_p99)),
            tokens_per_s,
        ]);
    }
    row
}

fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::{Figures, LogError};
    use std::io::Write;
    use std::time::SystemTime;

    fn report(log_error: Option<LogError>) -> Report {
        Report {
            started: SystemTime::UNIX_EPOCH,
            intervals: Vec::new(),
            parts: Vec::new(),
            stages: Vec::new(),
            total: Figures::default(),
            unfinished: 0,
            open_files: None,
            warnings: Vec::new(),
            aborted: None,
            log_error,
        }
    }

    fn samples(out_dir: &Path) -> Vec<String> {
        crate::atomic::file_names(&out_dir.join("samples"))
    }

    #[test]
    fn the_hlog_written_in_the_run_is_put_in_place_beside_the_timeline() {
        let dir = tempfile::tempdir().unwrap();
        let mut hlog = open_hlog(dir.path(), "sla::x").unwrap();
        hlog.write_all(b"#log\n").unwrap();
        write(
            dir.path(),
            "sla::x",
            &report(None),
            Ok(hlog),
            &Redactor::default(),
        )
        .unwrap();
        assert_eq!(samples(dir.path()), ["sla__x.hlog", "sla__x.timeline.csv"]);
        let hlog = std::fs::read_to_string(dir.path().join("samples/sla__x.hlog")).unwrap();
        assert_eq!(hlog, "#log\n");
    }

    /// An hlog the engine could not write whole is an error, and no file: not a log that
    /// stops short as if the run had.
    #[test]
    fn an_hlog_the_engine_could_not_write_is_an_error_and_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let hlog = open_hlog(dir.path(), "sla::x").unwrap();
        let failed = report(Some(LogError::Write("No space left on device".into())));
        let error = write(
            dir.path(),
            "sla::x",
            &failed,
            Ok(hlog),
            &Redactor::default(),
        )
        .unwrap_err();
        assert!(error.starts_with("cannot write "), "{error}");
        assert!(
            error.ends_with("sla__x.hlog: cannot write the interval log: No space left on device"),
            "{error}"
        );
        assert_eq!(samples(dir.path()), ["sla__x.timeline.csv"]);
        let unopened = write(
            dir.path(),
            "sla::x",
            &report(None),
            Err("cannot write the hlog: denied".into()),
            &Redactor::default(),
        );
        assert_eq!(unopened, Err("cannot write the hlog: denied".into()));
    }
}
