//! What a run produced: a timeline of intervals (a second each, shorter where a stage or
//! the warmup ends), the figures of each stage and of the whole run, and the histograms of
//! every interval in HdrHistogram's interval-log format, so that runs from several machines
//! can be merged later (HdrHistogram's log processors add the histograms of one interval).
//!
//! The collector builds it from what the generator threads send: each thread's tally of
//! each interval, merged once every thread has sent its part of that interval, so at most
//! a few intervals' histograms are held at a time.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::time::{Duration, SystemTime};

use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};

use super::limits;
use super::plan::{Phase, Plan};
use super::record::{ErrorKind, Latency, Tally};

/// One interval of the timeline. Requests count in the interval in which they ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Interval {
    /// Since the start of the run.
    pub start: Duration,
    pub end: Duration,
    pub phase: Phase,
    /// Requests that ended in the interval, answered or failed.
    pub requests: u64,
    pub errors: u64,
    /// Requests in flight when the interval ended.
    pub in_flight: u64,
    pub p50: Option<Duration>,
    pub p99: Option<Duration>,
    /// The interval's latency histogram, compressed (V2 deflate): a few hundred bytes
    /// instead of the 190 KB of the histogram itself, for every second of the run.
    histogram: Vec<u8>,
}

impl Interval {
    /// Requests that ended per second of the interval.
    pub fn rate(&self) -> f64 {
        per_second(self.requests, self.end - self.start)
    }
}

fn per_second(count: u64, over: Duration) -> f64 {
    if over.is_zero() {
        0.0
    } else {
        count as f64 / over.as_secs_f64()
    }
}

/// The run so far, as an interval closes: what a live display shows.
#[derive(Debug)]
pub struct SoFar<'a> {
    /// The interval just closed.
    pub interval: &'a Interval,
    /// The figures so far of the stage it belongs to; `None` in the warmup.
    pub stage: Option<&'a Figures>,
}

/// The figures of a stage or of the run.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Figures {
    pub tally: Tally,
    /// The time the figures were taken over: the intervals they come from.
    pub elapsed: Duration,
}

impl Figures {
    fn add(&mut self, tally: &Tally, elapsed: Duration) {
        self.tally.add(tally);
        self.elapsed += elapsed;
    }

    /// Requests that ended per second, answered or failed: the achieved rate.
    pub fn rate(&self) -> f64 {
        per_second(self.tally.requests(), self.elapsed)
    }

    pub fn latency(&self) -> Option<Latency> {
        self.tally.summary()
    }

    pub fn errors(&self) -> &BTreeMap<ErrorKind, u64> {
        &self.tally.errors
    }
}

/// The result of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// When the run started, for the interval log.
    pub started: SystemTime,
    pub intervals: Vec<Interval>,
    /// One per stage of the plan, without the warmup.
    pub stages: Vec<Figures>,
    /// The whole run without the warmup.
    pub total: Figures,
    /// Requests still in flight at the time limit, never ended.
    pub unfinished: u64,
    /// The open-files limit in force during the run, when it could be read.
    pub open_files: Option<u64>,
    /// One message per machine limit the run ran into (see [`limits::advice`]), warmup
    /// included.
    pub warnings: Vec<String>,
}

/// A thread's tally of one interval.
#[derive(Debug)]
pub(crate) struct Part {
    pub thread: usize,
    pub index: usize,
    pub start: Duration,
    pub end: Duration,
    pub tally: Tally,
    pub in_flight: u64,
}

/// What a generator thread sends the collector.
#[derive(Debug)]
pub(crate) enum Message {
    Part(Part),
    /// The thread sends no more parts; `unfinished` of its requests never ended.
    Done {
        thread: usize,
        unfinished: u64,
    },
}

/// Merges the threads' parts into the report, interval by interval.
pub(crate) struct Collector<'a> {
    plan: &'a Plan,
    /// Per thread: the highest interval index it has sent, and whether it is done.
    progress: Vec<(Option<usize>, bool)>,
    pending: BTreeMap<usize, Pending>,
    intervals: Vec<Interval>,
    stages: Vec<Figures>,
    total: Figures,
    whole_run: Tally,
    unfinished: u64,
}

struct Pending {
    start: Duration,
    end: Duration,
    tally: Tally,
    in_flight: u64,
}

impl<'a> Collector<'a> {
    pub fn new(plan: &'a Plan, threads: usize) -> Collector<'a> {
        Collector {
            plan,
            progress: vec![(None, false); threads],
            pending: BTreeMap::new(),
            intervals: Vec::new(),
            stages: vec![Figures::default(); plan.stages.len()],
            total: Figures::default(),
            whole_run: Tally::default(),
            unfinished: 0,
        }
    }

    pub fn receive(&mut self, message: Message) {
        match message {
            Message::Part(part) => {
                self.progress[part.thread].0 = Some(part.index);
                match self.pending.entry(part.index) {
                    std::collections::btree_map::Entry::Vacant(e) => {
                        e.insert(Pending {
                            start: part.start,
                            end: part.end,
                            tally: part.tally,
                            in_flight: part.in_flight,
                        });
                    }
                    std::collections::btree_map::Entry::Occupied(mut e) => {
                        let p = e.get_mut();
                        p.end = p.end.max(part.end);
                        p.tally.add(&part.tally);
                        p.in_flight += part.in_flight;
                    }
                }
            }
            Message::Done { thread, unfinished } => {
                self.progress[thread].1 = true;
                self.unfinished += unfinished;
            }
        }
        self.close_complete();
    }

    /// How many intervals are closed: the collector closes them in order.
    pub fn closed(&self) -> usize {
        self.intervals.len()
    }

    /// The last closed interval and its stage's figures so far. Only after an interval
    /// has closed (see [`Collector::closed`]).
    pub fn so_far(&self) -> SoFar<'_> {
        let interval = self.intervals.last().expect("an interval has closed");
        let stage = match interval.phase {
            Phase::Warmup => None,
            Phase::Stage(i) => Some(&self.stages[i]),
        };
        SoFar { interval, stage }
    }

    /// Closes the intervals every thread has sent its part of (or finished before).
    fn close_complete(&mut self) {
        while let Some(entry) = self.pending.first_entry() {
            let index = *entry.key();
            let complete = self
                .progress
                .iter()
                .all(|&(sent, done)| done || sent.is_some_and(|s| s >= index));
            if !complete {
                return;
            }
            let pending = entry.remove();
            self.close(pending);
        }
    }

    fn close(&mut self, p: Pending) {
        let phase = self.plan.phase_at(p.start);
        let elapsed = p.end - p.start;
        if let Phase::Stage(i) = phase {
            self.stages[i].add(&p.tally, elapsed);
            self.total.add(&p.tally, elapsed);
        }
        self.whole_run.add(&p.tally);
        let summary = p.tally.summary();
        let mut histogram = Vec::new();
        V2DeflateSerializer::new()
            .serialize(&p.tally.latency, &mut histogram)
            .expect("a histogram serializes into memory");
        self.intervals.push(Interval {
            start: p.start,
            end: p.end,
            phase,
            requests: p.tally.requests(),
            errors: p.tally.error_count(),
            in_flight: p.in_flight,
            p50: summary.map(|s| s.p50),
            p99: summary.map(|s| s.p99),
            histogram,
        });
    }

    pub fn finish(mut self, started: SystemTime, open_files: Option<u64>) -> Report {
        for progress in &mut self.progress {
            progress.1 = true;
        }
        self.close_complete();
        let warnings = self
            .whole_run
            .errors
            .iter()
            .filter_map(|(kind, &count)| match kind {
                ErrorKind::Exhausted(resource) => {
                    Some(limits::advice(*resource, count, open_files))
                }
                _ => None,
            })
            .collect();
        Report {
            started,
            intervals: self.intervals,
            stages: self.stages,
            total: self.total,
            unfinished: self.unfinished,
            open_files,
            warnings,
        }
    }
}

/// Why the interval log could not be written.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("cannot write the interval log: {0}")]
    Io(#[from] io::Error),
    #[error("an interval histogram does not read back: {0:?}")]
    Histogram(hdrhistogram::serialization::DeserializeError),
    #[error("cannot encode an interval histogram: {0:?}")]
    Encode(
        hdrhistogram::serialization::interval_log::IntervalLogWriterError<
            hdrhistogram::serialization::V2DeflateSerializeError,
        >,
    ),
}

/// Writes every interval's latency histogram (microseconds) as an HdrHistogram interval
/// log: `StartTime` and `BaseTime` are the run's start, each interval's timestamp counts
/// from it, and its tag is `warmup` or `stage-N` (from 1), so a log processor can keep one
/// stage or leave out the warmup.
pub fn write_interval_log(report: &Report, out: &mut impl Write) -> Result<(), LogError> {
    let mut serializer = V2DeflateSerializer::new();
    let mut log = IntervalLogWriterBuilder::new()
        .add_comment("perfcase load: latencies in microseconds")
        .with_start_time(report.started)
        .with_base_time(report.started)
        .with_max_value_divisor(1e6)
        .begin_log_with(out, &mut serializer)?;
    let mut deserializer = Deserializer::new();
    for interval in &report.intervals {
        let histogram: hdrhistogram::Histogram<u64> = deserializer
            .deserialize(&mut interval.histogram.as_slice())
            .map_err(LogError::Histogram)?;
        let tag = match interval.phase {
            Phase::Warmup => "warmup".to_string(),
            Phase::Stage(i) => format!("stage-{}", i + 1),
        };
        log.write_histogram(
            &histogram,
            interval.start,
            interval.end - interval.start,
            Tag::new(&tag),
        )
        .map_err(LogError::Encode)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::plan::{Arrival, Model, Stage};
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};

    fn plan() -> Plan {
        Plan {
            model: Model::Open {
                arrival: Arrival::Constant,
                max_in_flight: 4,
            },
            stages: vec![
                Stage {
                    level: 10.0,
                    duration: Duration::from_secs(2),
                    ramp: Duration::ZERO,
                },
                Stage {
                    level: 10.0,
                    duration: Duration::from_millis(500),
                    ramp: Duration::ZERO,
                },
            ],
            warmup: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            time_limit: Duration::from_secs(5),
            max_requests: None,
        }
    }

    fn part(
        thread: usize,
        index: usize,
        start_ms: u64,
        end_ms: u64,
        latencies_ms: &[u64],
    ) -> Message {
        let mut tally = Tally::default();
        for &ms in latencies_ms {
            tally.answered(Duration::from_millis(ms));
        }
        Message::Part(Part {
            thread,
            index,
            start: Duration::from_millis(start_ms),
            end: Duration::from_millis(end_ms),
            tally,
            in_flight: 1,
        })
    }

    fn done(thread: usize, unfinished: u64) -> Message {
        Message::Done { thread, unfinished }
    }

    /// Two threads; the second finishes with stage 2, the first sends one more interval (the
    /// drain, which counts in the last stage).
    fn report() -> Report {
        let plan = plan();
        let mut collector = Collector::new(&plan, 2);
        for message in [
            part(0, 0, 0, 1000, &[5, 5]),
            part(1, 0, 0, 1000, &[7]),
            part(1, 1, 1000, 2000, &[10, 20]),
            part(1, 2, 2000, 2500, &[30]),
            done(1, 0),
            part(0, 1, 1000, 2000, &[10]),
            part(0, 2, 2000, 2400, &[40, 40]),
            part(0, 3, 2500, 3000, &[50]),
            done(0, 2),
        ] {
            collector.receive(message);
        }
        collector.finish(
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            Some(1024),
        )
    }

    #[test]
    fn intervals_merge_the_threads_parts() {
        let report = report();
        let rows: Vec<(Phase, u64, u64, Duration)> = report
            .intervals
            .iter()
            .map(|i| (i.phase, i.requests, i.in_flight, i.end))
            .collect();
        assert_eq!(
            rows,
            [
                (Phase::Warmup, 3, 2, Duration::from_millis(1000)),
                (Phase::Stage(0), 3, 2, Duration::from_millis(2000)),
                (Phase::Stage(1), 3, 2, Duration::from_millis(2500)),
                (Phase::Stage(1), 1, 1, Duration::from_millis(3000)),
            ]
        );
        assert_eq!(report.intervals[1].rate(), 3.0);
        assert_eq!(report.unfinished, 2);
    }

    #[test]
    fn figures_leave_out_the_warmup() {
        let report = report();
        assert_eq!(report.total.tally.requests(), 7);
        assert_eq!(report.stages[0].tally.requests(), 3);
        assert_eq!(report.stages[0].elapsed, Duration::from_millis(1000));
        assert_eq!(report.stages[1].tally.requests(), 4);
        assert_eq!(report.stages[1].elapsed, Duration::from_millis(1000));
        assert_eq!(report.stages[1].rate(), 4.0);
        let latency = report.total.latency().unwrap();
        assert_eq!(latency.max.as_millis(), 50);
    }

    #[test]
    fn the_interval_log_reads_back_to_the_same_counts() {
        let report = report();
        let mut log = Vec::new();
        write_interval_log(&report, &mut log).unwrap();
        let mut deserializer = Deserializer::new();
        let mut read = Vec::new();
        for entry in IntervalLogIterator::new(&log) {
            if let LogEntry::Interval(h) = entry.unwrap() {
                let bytes = base64::Engine::decode(
                    &base64::engine::general_purpose::STANDARD,
                    h.encoded_histogram(),
                )
                .unwrap();
                let histogram: hdrhistogram::Histogram<u64> =
                    deserializer.deserialize(&mut bytes.as_slice()).unwrap();
                read.push((
                    h.tag().map(|t| t.as_str().to_string()),
                    h.start_timestamp(),
                    histogram,
                ));
            }
        }
        assert_eq!(read.len(), report.intervals.len());
        let tags: Vec<_> = read.iter().map(|r| r.0.clone().unwrap()).collect();
        assert_eq!(tags, ["warmup", "stage-1", "stage-2", "stage-2"]);
        for ((_, start, histogram), interval) in read.iter().zip(&report.intervals) {
            assert_eq!(*start, interval.start);
            assert_eq!(histogram.len(), interval.requests);
        }
        let merged = read
            .iter()
            .skip(1)
            .fold(crate::load::record::histogram(), |mut all, r| {
                all.add(&r.2).unwrap();
                all
            });
        assert_eq!(merged, report.total.tally.latency);
    }

    #[test]
    fn machine_limits_are_one_warning_each() {
        let plan = plan();
        let mut collector = Collector::new(&plan, 1);
        let mut tally = Tally::default();
        for _ in 0..500 {
            tally.failed(ErrorKind::Exhausted(super::super::record::Resource::Files));
        }
        collector.receive(Message::Part(Part {
            thread: 0,
            index: 0,
            start: Duration::ZERO,
            end: Duration::from_secs(1),
            tally,
            in_flight: 0,
        }));
        let report = collector.finish(SystemTime::now(), Some(1024));
        assert_eq!(report.warnings.len(), 1);
        assert!(report.warnings[0].starts_with("500 connections could not be opened"));
    }
}
