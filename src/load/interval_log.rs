//! The run's histograms, interval by interval, in HdrHistogram's interval-log format, so
//! that runs from several machines can be merged later (HdrHistogram's log processors add
//! the histograms of one interval).
//!
//! Written into the caller's sink as each interval closes, so that no histogram outlives
//! its interval: a run keeps in memory its timeline rows, not a histogram per second.
//!
//! The log: `StartTime` and `BaseTime` are the run's start, each interval's timestamp
//! counts from it, durations are in microseconds (`MaxValueDivisor` 1e6 for the max
//! column, in seconds), and each histogram is tagged with its figure: `latency`, `ttft`,
//! `itl`, `tpot`, a mix's part's `latency{search}`; in the warmup `latency@warmup` and so
//! on, so that a log processor asked for one tag (`-tag latency`) merges the measured run
//! only. A stage is found by its times (the timeline has them). Tags cannot hold a space
//! or a comma: a part's name has those written `_`.

use std::io::Write;
use std::time::{Duration, SystemTime};

use base64::Engine;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::interval_log::{
    IntervalLogIterator, IntervalLogWriterBuilder, LogEntry,
};
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};

use super::plan::Phase;

/// The max column is in seconds, the histograms in microseconds.
const MAX_VALUE_DIVISOR: f64 = 1e6;

/// Why the interval log is incomplete: the first failure, after which nothing more was
/// written (the run went on).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    #[error("cannot write the interval log: {0}")]
    Write(String),
    #[error("cannot encode an interval histogram: {0}")]
    Encode(String),
}

/// Why an interval log does not read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    #[error("line {line} of the interval log does not parse: {message}")]
    Line { line: usize, message: String },
    #[error("interval {index} of the interval log holds no histogram: {message}")]
    Histogram { index: usize, message: String },
}

/// One histogram of an interval log, read back.
#[derive(Debug, Clone, PartialEq)]
pub struct Logged {
    pub tag: Option<String>,
    /// Since the log's `BaseTime`.
    pub start: Duration,
    pub duration: Duration,
    pub histogram: Histogram<u64>,
}

/// Reads an interval log back as HdrHistogram's tools read it: to check a log, or to
/// merge the intervals of runs.
pub fn read(log: &[u8]) -> Result<Vec<Logged>, ReadError> {
    let mut deserializer = Deserializer::new();
    let mut read = Vec::new();
    for (line, entry) in IntervalLogIterator::new(log).enumerate() {
        let entry = entry.map_err(|e| ReadError::Line {
            line: line + 1,
            message: format!("{e:?}"),
        })?;
        let LogEntry::Interval(h) = entry else {
            continue;
        };
        let unreadable = |message: String| ReadError::Histogram {
            index: read.len(),
            message,
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(h.encoded_histogram())
            .map_err(|e| unreadable(e.to_string()))?;
        let histogram = deserializer
            .deserialize(&mut bytes.as_slice())
            .map_err(|e| unreadable(format!("{e:?}")))?;
        read.push(Logged {
            tag: h.tag().map(|t| t.as_str().to_string()),
            start: h.start_timestamp(),
            duration: h.duration(),
            histogram,
        });
    }
    Ok(read)
}

/// Writes the log into a sink as intervals close; without a sink, writes nothing.
pub(crate) struct IntervalLog<'w> {
    out: Option<&'w mut dyn Write>,
    serializer: V2DeflateSerializer,
    /// An interval's lines, written with one call; kept to be reused.
    lines: Vec<u8>,
    /// A histogram's V2 bytes; kept to be reused.
    encoded: Vec<u8>,
    begun: bool,
    error: Option<LogError>,
}

impl<'w> IntervalLog<'w> {
    pub fn new(out: Option<&'w mut dyn Write>) -> IntervalLog<'w> {
        IntervalLog {
            out,
            serializer: V2DeflateSerializer::new(),
            lines: Vec::new(),
            encoded: Vec::new(),
            begun: false,
            error: None,
        }
    }

    /// Writes the header: the log's comment, `StartTime` and `BaseTime` (`started`), and
    /// `MaxValueDivisor`, with HdrHistogram's own writer. Once, before any interval.
    pub fn begin(&mut self, started: SystemTime) {
        if self.begun || self.out.is_none() {
            return;
        }
        self.begun = true;
        self.lines.clear();
        let header = IntervalLogWriterBuilder::new()
            .add_comment("perfcase load: durations in microseconds, tagged by figure")
            .with_start_time(started)
            .with_base_time(started)
            .with_max_value_divisor(MAX_VALUE_DIVISOR)
            .begin_log_with(&mut self.lines, &mut self.serializer)
            .map(drop)
            .map_err(|e| LogError::Write(e.to_string()));
        self.flush_lines(header);
    }

    /// Writes the histograms of the interval from `start` to `end` (since the run's start)
    /// under their figures' names, those that hold a value. Begins the log at the wall
    /// clock's now if [`IntervalLog::begin`] was not called.
    pub fn write<'h>(
        &mut self,
        start: Duration,
        end: Duration,
        phase: Phase,
        histograms: impl IntoIterator<Item = (String, &'h Histogram<u64>)>,
    ) {
        if self.out.is_none() || self.error.is_some() {
            return;
        }
        self.begin(SystemTime::now());
        self.lines.clear();
        let mut written = Ok(());
        for (figure, histogram) in histograms {
            if histogram.is_empty() {
                continue;
            }
            written = self.line(&log_tag(&figure, phase), start, end - start, histogram);
            if written.is_err() {
                break;
            }
        }
        self.flush_lines(written);
    }

    /// One histogram's line, as HdrHistogram's `IntervalLogWriter` writes it (its writer
    /// borrows its sink for its whole life and writes the header when made, so one cannot
    /// be kept from one interval to the next): `Tag=<tag>,<start>,<duration>,<max>,` in
    /// seconds to the millisecond, then the histogram compressed (V2 deflate) in base64.
    fn line(
        &mut self,
        tag: &str,
        start: Duration,
        duration: Duration,
        histogram: &Histogram<u64>,
    ) -> Result<(), LogError> {
        self.encoded.clear();
        self.serializer
            .serialize(histogram, &mut self.encoded)
            .map_err(|e| LogError::Encode(format!("{e:?}")))?;
        let max = histogram.max() as f64 / MAX_VALUE_DIVISOR;
        write!(
            self.lines,
            "Tag={tag},{:.3},{:.3},{max:.3},",
            start.as_secs_f64(),
            duration.as_secs_f64()
        )
        .expect("writing into memory cannot fail");
        let mut text = String::new();
        base64::engine::general_purpose::STANDARD.encode_string(&self.encoded, &mut text);
        self.lines.extend_from_slice(text.as_bytes());
        self.lines.push(b'\n');
        Ok(())
    }

    /// Writes the lines made (those before a failure too) into the sink; keeps the first
    /// failure.
    fn flush_lines(&mut self, made: Result<(), LogError>) {
        let Some(out) = self.out.as_mut() else {
            return;
        };
        let written = out
            .write_all(&self.lines)
            .map_err(|e| LogError::Write(e.to_string()));
        self.lines.clear();
        if let Err(e) = made.and(written) {
            self.error.get_or_insert(e);
        }
    }

    /// Ends the log (begun at `started` if no interval was written) and flushes the sink;
    /// the first failure, if any.
    pub fn end(mut self, started: SystemTime) -> Option<LogError> {
        self.begin(started);
        if let Some(out) = self.out.as_mut()
            && let Err(e) = out.flush()
        {
            self.error.get_or_insert(LogError::Write(e.to_string()));
        }
        self.error
    }
}

/// A histogram's tag in the interval log: its figure's name, `@warmup` after it in the
/// warmup, with what a tag cannot hold written `_`.
fn log_tag(figure: &str, phase: Phase) -> String {
    let tag: String = figure
        .chars()
        .map(|c| {
            if matches!(c, ',' | ' ' | '\r' | '\n') {
                '_'
            } else {
                c
            }
        })
        .collect();
    match phase {
        Phase::Warmup => format!("{tag}@warmup"),
        Phase::Stage(_) => tag,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::record::histogram;
    use hdrhistogram::serialization::interval_log::Tag;
    use rstest::rstest;

    fn values(micros: &[u64]) -> Histogram<u64> {
        let mut h = histogram();
        for &v in micros {
            h.record(v).unwrap();
        }
        h
    }

    /// The log is byte for byte what HdrHistogram's own writer makes of the same
    /// histograms, so its tools read it as theirs.
    #[test]
    fn the_log_is_what_hdrhistograms_writer_writes() {
        let started = SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        let first = values(&[1_500, 2_000, 250_000]);
        let second = values(&[7]);
        let empty = histogram();
        let mut ours = Vec::new();
        let mut log = IntervalLog::new(Some(&mut ours));
        log.begin(started);
        log.write(
            Duration::ZERO,
            Duration::from_millis(1000),
            Phase::Warmup,
            [
                ("latency".to_string(), &first),
                ("ttft".to_string(), &empty),
            ],
        );
        log.write(
            Duration::from_millis(1000),
            Duration::from_millis(1500),
            Phase::Stage(0),
            [
                ("latency".to_string(), &second),
                ("latency{long chat}".to_string(), &first),
            ],
        );
        assert_eq!(log.end(started), None);

        let mut theirs = Vec::new();
        let mut serializer = V2DeflateSerializer::new();
        let mut writer = IntervalLogWriterBuilder::new()
            .add_comment("perfcase load: durations in microseconds, tagged by figure")
            .with_start_time(started)
            .with_base_time(started)
            .with_max_value_divisor(1e6)
            .begin_log_with(&mut theirs, &mut serializer)
            .unwrap();
        for (h, start, duration, tag) in [
            (&first, 0, 1000, "latency@warmup"),
            (&second, 1000, 500, "latency"),
            (&first, 1000, 500, "latency{long_chat}"),
        ] {
            writer
                .write_histogram(
                    h,
                    Duration::from_millis(start),
                    Duration::from_millis(duration),
                    Tag::new(tag),
                )
                .unwrap();
        }
        assert_eq!(
            String::from_utf8(ours).unwrap(),
            String::from_utf8(theirs).unwrap()
        );
    }

    #[test]
    fn a_log_reads_back_to_its_histograms_or_says_where_it_does_not() {
        let first = values(&[1_500, 2_000]);
        let mut out = Vec::new();
        let mut log = IntervalLog::new(Some(&mut out));
        log.write(
            Duration::from_millis(500),
            Duration::from_millis(1500),
            Phase::Stage(0),
            [("latency".to_string(), &first)],
        );
        assert_eq!(log.end(SystemTime::UNIX_EPOCH), None);
        let logged = Logged {
            tag: Some("latency".into()),
            start: Duration::from_millis(500),
            duration: Duration::from_secs(1),
            histogram: first,
        };
        assert_eq!(read(&out), Ok(vec![logged]));
        let mut broken = out.clone();
        broken.extend_from_slice(b"Tag=latency,1.000,1.000,0.002,AAAA\n");
        let error = read(&broken).unwrap_err();
        assert!(
            matches!(error, ReadError::Histogram { index: 1, .. }),
            "{error}"
        );
    }

    #[test]
    fn a_run_without_intervals_is_a_header_alone() {
        let mut out = Vec::new();
        let log = IntervalLog::new(Some(&mut out));
        assert_eq!(log.end(SystemTime::UNIX_EPOCH), None);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "#perfcase load: durations in microseconds, tagged by figure\n\
             #[StartTime: 0.000 (seconds since epoch)]\n\
             #[BaseTime: 0.000 (seconds since epoch)]\n\
             #[MaxValueDivisor: 1000000.000]\n"
        );
    }

    /// A sink that takes `room` bytes, then fails; counts the calls after that.
    struct Full {
        room: usize,
        taken: Vec<u8>,
        calls_after: usize,
    }

    impl Write for Full {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.taken.len() >= self.room {
                self.calls_after += 1;
                return Err(std::io::Error::other("disk full"));
            }
            let n = buf.len().min(self.room - self.taken.len());
            self.taken.extend_from_slice(&buf[..n]);
            Ok(n)
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// A sink that fails keeps its first error, and is not written again: the run goes on.
    #[test]
    fn the_first_write_error_is_kept_and_nothing_more_is_written() {
        let mut sink = Full {
            room: 300,
            taken: Vec::new(),
            calls_after: 0,
        };
        let one = values(&[1_000]);
        let mut log = IntervalLog::new(Some(&mut sink));
        log.begin(SystemTime::UNIX_EPOCH);
        for second in 0..5 {
            log.write(
                Duration::from_secs(second),
                Duration::from_secs(second + 1),
                Phase::Stage(0),
                [("latency".to_string(), &one)],
            );
        }
        let error = log.end(SystemTime::UNIX_EPOCH);
        assert_eq!(
            error,
            Some(LogError::Write("disk full".to_string())),
            "{error:?}"
        );
        assert_eq!(sink.taken.len(), 300);
        assert_eq!(sink.calls_after, 1);
    }

    #[test]
    fn without_a_sink_nothing_is_written_and_nothing_fails() {
        let mut log = IntervalLog::new(None);
        log.write(
            Duration::ZERO,
            Duration::from_secs(1),
            Phase::Stage(0),
            [("latency".to_string(), &values(&[1]))],
        );
        assert_eq!(log.end(SystemTime::UNIX_EPOCH), None);
    }

    #[rstest]
    #[case("latency", Phase::Stage(0), "latency")]
    #[case("ttft", Phase::Warmup, "ttft@warmup")]
    #[case("latency{long chat,2}", Phase::Stage(1), "latency{long_chat_2}")]
    #[case("itl{a\r\nb}", Phase::Warmup, "itl{a__b}@warmup")]
    fn a_tag_is_the_figure_with_what_a_tag_cannot_hold_written_underscore(
        #[case] figure: &str,
        #[case] phase: Phase,
        #[case] tag: &str,
    ) {
        assert_eq!(log_tag(figure, phase), tag);
        assert!(Tag::new(tag).is_some());
    }
}
