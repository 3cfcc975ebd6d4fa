//! The files an sla case leaves beside the reports: `samples/<case>.timeline.csv`, one row
//! per interval of the run (a second, or less where a stage or the warmup ends), to see
//! when a server fell behind, with a generation's first-token and inter-token times and
//! output tokens/s when the run answered any; and `samples/<case>.hlog`, every interval's
//! histograms (latency, a generation's ttft, itl and tpot, each part of a mix's), tagged
//! by figure, in HdrHistogram's interval-log format, to merge runs or recompute
//! percentiles with HdrHistogram's own tools. Both are written atomically.

use std::path::Path;

use crate::atomic::write_atomic;
use crate::load::{Interval, Phase, Report, write_interval_log};
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

/// Writes both files; the error says which could not be.
pub fn write(
    out_dir: &Path,
    case: &str,
    report: &Report,
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
    let mut log = Vec::new();
    write_interval_log(report, &mut log).map_err(|e| e.to_string())?;
    let path =
        samples::path(out_dir, case, "hlog").map_err(|e| format!("cannot write the hlog: {e}"))?;
    write_atomic(&path, &log).map_err(|e| format!("cannot write {}: {e}", path.display()))
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
