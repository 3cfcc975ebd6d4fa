//! What a run produced: a timeline of intervals (a second each, shorter where a stage or
//! the warmup ends) and the figures of each stage and of the whole run; every interval's
//! histograms go to the interval log (see [`super::interval_log`]) as the interval closes.
//!
//! The collector builds it from what the generator threads send: each thread's tally of
//! each interval, merged once every thread has sent its part of that interval, so at most
//! a few intervals' histograms are held at a time. What stays for the whole run is a
//! timeline row (about a hundred bytes) a second.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, SystemTime};

use super::interval_log::{IntervalLog, LogError};
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
    /// What the interval's generations measured; `None` when none was answered in it.
    pub generated: Option<IntervalGenerated>,
}

/// An interval's generation figures, for the timeline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IntervalGenerated {
    pub ttft_p50: Option<Duration>,
    pub ttft_p99: Option<Duration>,
    pub itl_p99: Option<Duration>,
    pub output_tokens: u64,
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

/// The run so far, as an interval closes: what a live display shows, and what an early
/// verdict judges.
#[derive(Debug)]
pub struct SoFar<'a> {
    /// The interval just closed.
    pub interval: &'a Interval,
    /// The figures so far of the stage it belongs to; `None` in the warmup.
    pub stage: Option<&'a Figures>,
    /// Every stage's figures so far (empty for those not started) and the run's.
    pub stages: &'a [Figures],
    pub total: &'a Figures,
    /// The names of a mix's parts, in the order of each [`Figures::parts`].
    pub parts: &'a [String],
}

/// The figures of a stage or of the run, and of each part of a mix in it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Figures {
    pub tally: Tally,
    /// The time the figures were measured over, which rates divide by: the stages'
    /// time after the warmup that the run reached (all of it, unless the watch stopped
    /// the run), not the drain after the last stage while requests in flight end or time
    /// out, else one hanging request would dilute every rate by its timeout. Answers that
    /// end in the drain still count, in the rates' numerators too: they are of requests
    /// sent in the window (an open loop's rate is of the requests due in it).
    pub elapsed: Duration,
    /// A mix's parts, in the order of [`Report::parts`], over the same time; none for a
    /// single request or a mix of one (whose figures are these).
    pub parts: Vec<Figures>,
}

impl Figures {
    /// The figures of the part named `name` of these figures' run, whose parts are
    /// `names`; `None` for a name not among them.
    pub fn part<'a>(&'a self, names: &[String], name: &str) -> Option<&'a Figures> {
        let index = names.iter().position(|n| n == name)?;
        match names.len() {
            1 => Some(self),
            _ => self.parts.get(index),
        }
    }

    fn with_parts(parts: usize) -> Figures {
        Figures {
            parts: vec![Figures::default(); parts],
            ..Figures::default()
        }
    }

    fn add(&mut self, tally: &Tally, parts: &[Tally], elapsed: Duration) {
        self.tally.add(tally);
        self.elapsed += elapsed;
        for (figures, tally) in self.parts.iter_mut().zip(parts) {
            figures.add(tally, &[], elapsed);
        }
    }

    /// Requests that ended per second of the measured time (see [`Figures::elapsed`]),
    /// answered or failed: the achieved rate.
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
    /// The names of a mix's parts, whose figures each [`Figures`] has in this order;
    /// none for a single request.
    pub parts: Vec<String>,
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
    /// When the watch stopped the run, since its start; `None` when it ran its course.
    pub aborted: Option<Duration>,
    /// Why the interval log is incomplete (the first failure to write it; the run went
    /// on); `None` when it was written whole, or not asked for.
    pub log_error: Option<LogError>,
}

impl Report {
    /// The figures of a mix's part by name, in the whole run (`stage` None) or a stage
    /// (from 0).
    pub fn part(&self, name: &str, stage: Option<usize>) -> Option<&Figures> {
        let figures = match stage {
            None => &self.total,
            Some(i) => self.stages.get(i)?,
        };
        figures.part(&self.parts, name)
    }
}

/// A thread's tally of one interval.
#[derive(Debug)]
pub(crate) struct Part {
    pub thread: usize,
    pub index: usize,
    pub start: Duration,
    pub end: Duration,
    pub tally: Tally,
    /// A mix's parts' tallies.
    pub parts: Vec<Tally>,
    pub in_flight: u64,
}

/// What a generator thread sends the collector.
#[derive(Debug)]
pub(crate) enum Message {
    /// Boxed: an interval's tally is large beside `Done`, and a thread sends one a second.
    Part(Box<Part>),
    /// The thread sends no more parts; `unfinished` of its requests never ended.
    Done { thread: usize, unfinished: u64 },
}

/// Merges the threads' parts into the report, interval by interval.
pub(crate) struct Collector<'a> {
    plan: &'a Plan,
    parts: Vec<String>,
    /// Per thread: the highest interval index it has sent, and whether it is done.
    progress: Vec<(Option<usize>, bool)>,
    pending: BTreeMap<usize, Pending>,
    intervals: Vec<Interval>,
    stages: Vec<Figures>,
    total: Figures,
    whole_run: Tally,
    unfinished: u64,
    /// The run's start on the wall clock, once known (see [`Collector::start`]).
    started: Option<SystemTime>,
    log: IntervalLog<'a>,
}

struct Pending {
    start: Duration,
    end: Duration,
    tally: Tally,
    parts: Vec<Tally>,
    in_flight: u64,
}

impl<'a> Collector<'a> {
    /// `parts`: the names of a mix's parts, tallied apart when there are more than one;
    /// `log`: where the interval log goes, if anywhere.
    pub fn new(
        plan: &'a Plan,
        threads: usize,
        parts: &[String],
        log: Option<&'a mut dyn Write>,
    ) -> Collector<'a> {
        let tallied = if parts.len() > 1 { parts.len() } else { 0 };
        Collector {
            plan,
            parts: parts.to_vec(),
            progress: vec![(None, false); threads],
            pending: BTreeMap::new(),
            intervals: Vec::new(),
            stages: vec![Figures::with_parts(tallied); plan.stages.len()],
            total: Figures::with_parts(tallied),
            whole_run: Tally::default(),
            unfinished: 0,
            started: None,
            log: IntervalLog::new(log),
        }
    }

    /// The run started at `started` on the wall clock: begins the interval log. Before
    /// the first interval closes; without it, the log begins when it does.
    pub fn start(&mut self, started: SystemTime) {
        self.started.get_or_insert(started);
        self.log.begin(started);
    }

    pub fn receive(&mut self, message: Message) {
        match message {
            Message::Part(part) => {
                let part = *part;
                self.progress[part.thread].0 = Some(part.index);
                match self.pending.entry(part.index) {
                    std::collections::btree_map::Entry::Vacant(e) => {
                        e.insert(Pending {
                            start: part.start,
                            end: part.end,
                            tally: part.tally,
                            parts: part.parts,
                            in_flight: part.in_flight,
                        });
                    }
                    std::collections::btree_map::Entry::Occupied(mut e) => {
                        let p = e.get_mut();
                        p.end = p.end.max(part.end);
                        p.tally.add(&part.tally);
                        for (mine, theirs) in p.parts.iter_mut().zip(&part.parts) {
                            mine.add(theirs);
                        }
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

    /// Closed interval `index` and the figures so far. Only for an interval that has
    /// closed (see [`Collector::closed`]).
    pub fn so_far(&self, index: usize) -> SoFar<'_> {
        let interval = &self.intervals[index];
        let stage = match interval.phase {
            Phase::Warmup => None,
            Phase::Stage(i) => Some(&self.stages[i]),
        };
        SoFar {
            interval,
            stage,
            stages: &self.stages,
            total: &self.total,
            parts: &self.parts,
        }
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
        if let Phase::Stage(i) = phase {
            // The drain after the last stage, waiting for requests in flight, is not
            // measured time: its answers count, its length does not.
            let (from, to) = self.plan.measured_window(i);
            let elapsed = p.end.min(to).saturating_sub(p.start.max(from));
            self.stages[i].add(&p.tally, &p.parts, elapsed);
            self.total.add(&p.tally, &p.parts, elapsed);
        }
        self.whole_run.add(&p.tally);
        let summary = p.tally.summary();
        let generated = p.tally.generated.as_deref().map(|g| {
            let at = |h: &hdrhistogram::Histogram<u64>, q: f64| {
                (!h.is_empty()).then(|| Duration::from_micros(h.value_at_quantile(q)))
            };
            IntervalGenerated {
                ttft_p50: at(&g.ttft, 0.5),
                ttft_p99: at(&g.ttft, 0.99),
                itl_p99: at(&g.itl, 0.99),
                output_tokens: g.output_tokens,
            }
        });
        let scopes =
            std::iter::once((None, &p.tally)).chain(self.parts.iter().map(Some).zip(&p.parts));
        let histograms = scopes.flat_map(|(part, tally)| {
            tally
                .histograms()
                .into_iter()
                .map(move |(figure, histogram)| {
                    let name = match part {
                        None => figure.to_string(),
                        Some(part) => format!("{figure}{{{part}}}"),
                    };
                    (name, histogram)
                })
        });
        self.log.write(p.start, p.end, phase, histograms);
        self.intervals.push(Interval {
            start: p.start,
            end: p.end,
            phase,
            requests: p.tally.requests(),
            errors: p.tally.error_count(),
            in_flight: p.in_flight,
            p50: summary.map(|s| s.p50),
            p99: summary.map(|s| s.p99),
            generated,
        });
    }

    /// The report, once every thread is done; ends the interval log.
    pub fn finish(mut self, open_files: Option<u64>, aborted: Option<Duration>) -> Report {
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
        let started = self.started.unwrap_or_else(SystemTime::now);
        let log_error = self.log.end(started);
        Report {
            started,
            intervals: self.intervals,
            parts: self.parts,
            stages: self.stages,
            total: self.total,
            unfinished: self.unfinished,
            open_files,
            warnings,
            aborted,
            log_error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::plan::{Arrival, Model, Stage};
    use crate::load::record::Sample;

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
        Message::Part(Box::new(Part {
            thread,
            index,
            start: Duration::from_millis(start_ms),
            end: Duration::from_millis(end_ms),
            tally,
            parts: Vec::new(),
            in_flight: 1,
        }))
    }

    fn done(thread: usize, unfinished: u64) -> Message {
        Message::Done { thread, unfinished }
    }

    /// The report of a run of `plan` on `threads` threads that sent `messages`, started
    /// at `started`, and its interval log.
    fn collect(
        plan: &Plan,
        threads: usize,
        parts: &[String],
        messages: impl IntoIterator<Item = Message>,
        started: SystemTime,
    ) -> (Report, Vec<u8>) {
        let mut log = Vec::new();
        let mut collector = Collector::new(plan, threads, parts, Some(&mut log));
        collector.start(started);
        for message in messages {
            collector.receive(message);
        }
        let report = collector.finish(Some(1024), None);
        (report, log)
    }

    /// Two threads; the second finishes with stage 2, the first sends one more interval (the
    /// drain, whose answers count in the last stage, its time not).
    fn report() -> (Report, Vec<u8>) {
        let messages = [
            part(0, 0, 0, 1000, &[5, 5]),
            part(1, 0, 0, 1000, &[7]),
            part(1, 1, 1000, 2000, &[10, 20]),
            part(1, 2, 2000, 2500, &[30]),
            done(1, 0),
            part(0, 1, 1000, 2000, &[10]),
            part(0, 2, 2000, 2400, &[40, 40]),
            part(0, 3, 2500, 3000, &[50]),
            done(0, 2),
        ];
        let started = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        collect(&plan(), 2, &[], messages, started)
    }

    #[test]
    fn intervals_merge_the_threads_parts() {
        let (report, _) = report();
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
        let (report, _) = report();
        assert_eq!(report.total.tally.requests(), 7);
        assert_eq!(report.stages[0].tally.requests(), 3);
        assert_eq!(report.stages[0].elapsed, Duration::from_millis(1000));
        assert_eq!(report.stages[1].tally.requests(), 4);
        // The drain's answer counts, its half second does not.
        assert_eq!(report.stages[1].elapsed, Duration::from_millis(500));
        assert_eq!(report.stages[1].rate(), 8.0);
        assert_eq!(report.total.elapsed, Duration::from_millis(1500));
        let latency = report.total.latency().unwrap();
        assert_eq!(latency.max.as_millis(), 50);
    }

    /// The interval log's histograms as HdrHistogram's log reader reads them back: tag,
    /// start and histogram.
    fn read_log(log: &[u8]) -> Vec<(Option<String>, Duration, hdrhistogram::Histogram<u64>)> {
        let read = crate::load::interval_log::read(log).unwrap();
        read.into_iter()
            .map(|l| (l.tag, l.start, l.histogram))
            .collect()
    }

    #[test]
    fn the_interval_log_reads_back_to_the_same_counts() {
        let (report, log) = report();
        assert_eq!(report.log_error, None);
        let header = "#perfcase load: durations in microseconds, tagged by figure\n\
                      #[StartTime: 1700000000.000 (seconds since epoch)]\n\
                      #[BaseTime: 1700000000.000 (seconds since epoch)]\n\
                      #[MaxValueDivisor: 1000000.000]\n\
                      Tag=latency@warmup,0.000,1.000,0.007,";
        let text = String::from_utf8(log.clone()).unwrap();
        assert!(text.starts_with(header), "{text}");
        let read = read_log(&log);
        assert_eq!(read.len(), report.intervals.len());
        let tags: Vec<_> = read.iter().map(|r| r.0.clone().unwrap()).collect();
        assert_eq!(tags, ["latency@warmup", "latency", "latency", "latency"]);
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
    fn each_figure_and_part_has_its_own_tag_in_the_log_and_its_own_figures() {
        let plan = plan();
        let parts = ["search".to_string(), "long chat".to_string()];
        let generation = Sample {
            ttft: Some(Duration::from_millis(100)),
            itl: Some(Duration::from_millis(10)),
            tpot: None,
            tokens_per_s: None,
            output_tokens: Some(8),
            good: None,
        };
        let mut messages = Vec::new();
        for (index, start) in [(0, 0), (1, 1000)] {
            let mut search = Tally::default();
            search.answered(Duration::from_millis(2));
            search.answered(Duration::from_millis(3));
            let mut chat = Tally::default();
            chat.sampled(Duration::from_millis(300), &generation);
            let mut tally = search.clone();
            tally.add(&chat);
            messages.push(Message::Part(Box::new(Part {
                thread: 0,
                index,
                start: Duration::from_millis(start),
                end: Duration::from_millis(start + 1000),
                tally,
                parts: vec![search, chat],
                in_flight: 0,
            })));
        }
        let (report, log) = collect(&plan, 1, &parts, messages, SystemTime::UNIX_EPOCH);
        let read = read_log(&log);
        let tagged: Vec<(String, u64)> = read
            .iter()
            .map(|(tag, _, h)| (tag.clone().unwrap(), h.len()))
            .collect();
        let expected = |suffix: &str| {
            [
                ("latency", 3),
                ("ttft", 1),
                ("itl", 1),
                ("latency{search}", 2),
                ("latency{long_chat}", 1),
                ("ttft{long_chat}", 1),
                ("itl{long_chat}", 1),
            ]
            .map(|(tag, n)| (format!("{tag}{suffix}"), n))
        };
        let mut all = expected("@warmup").to_vec();
        all.extend(expected(""));
        assert_eq!(tagged, all);
        let generated = report.intervals[1].generated.unwrap();
        assert_eq!(generated.ttft_p50.unwrap().as_millis(), 100);
        assert_eq!(generated.output_tokens, 8);
        assert_eq!(report.intervals[1].generated, report.intervals[0].generated);
        let search = report.part("search", Some(0)).unwrap();
        assert_eq!(search.tally.requests(), 2);
        assert_eq!(search.elapsed, Duration::from_secs(1));
        assert_eq!(report.part("long chat", None).unwrap().tally.requests(), 1);
        assert_eq!(report.part("nope", None), None);
        assert_eq!(report.part("search", Some(5)), None);
    }

    #[test]
    fn a_mix_of_one_is_tallied_as_the_run_itself() {
        let plan = plan();
        let messages = [
            part(0, 0, 0, 1000, &[1]),
            part(0, 1, 1000, 2000, &[2, 3]),
            done(0, 0),
            done(1, 0),
        ];
        let only = ["only".to_string()];
        let (report, log) = collect(&plan, 2, &only, messages, SystemTime::UNIX_EPOCH);
        assert!(report.total.parts.is_empty() && report.stages[0].parts.is_empty());
        assert_eq!(report.part("only", None), Some(&report.total));
        assert_eq!(report.part("only", Some(0)), Some(&report.stages[0]));
        assert_eq!(report.part("other", None), None);
        let tags: Vec<String> = read_log(&log).into_iter().map(|r| r.0.unwrap()).collect();
        assert_eq!(tags, ["latency@warmup", "latency"]);
    }

    #[test]
    fn machine_limits_are_one_warning_each() {
        let plan = plan();
        let mut collector = Collector::new(&plan, 1, &[], None);
        let mut tally = Tally::default();
        for _ in 0..500 {
            tally.failed(ErrorKind::Exhausted(super::super::record::Resource::Files));
        }
        collector.receive(Message::Part(Box::new(Part {
            thread: 0,
            index: 0,
            start: Duration::ZERO,
            end: Duration::from_secs(1),
            tally,
            parts: Vec::new(),
            in_flight: 0,
        })));
        let report = collector.finish(Some(1024), None);
        assert_eq!(report.warnings.len(), 1);
        assert!(report.warnings[0].starts_with("500 connections could not be opened"));
    }
}
