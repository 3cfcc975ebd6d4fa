//! What a load records: latencies in HDR histograms, outcomes in counts.
//!
//! # Precision
//!
//! Latencies are recorded in whole microseconds, from 1 µs to one hour, with 3 significant
//! figures: any value is kept to within 0.1% of itself (HdrHistogram keeps 2,048 sub-buckets
//! per power of two, so the real bound is 1/1,024 of the value, rounding down). Below 1 ms
//! that is exact to the microsecond; a 20 ms latency is recorded to within 20 µs, one of
//! 1 s to within 1 ms. A latency over an hour is recorded as an hour (the run's own bound
//! is an hour). One histogram of that range takes about 190 KB, whatever the number of
//! requests it holds, so memory does not grow with the length of a run.
//!
//! Only answered requests have a latency. A failed one is counted by [`ErrorKind`]: the
//! time to a refused connection or to a timeout is not how long the server took to answer.
//!
//! A model generation measures more than its latency (a [`Sample`]): its first token, its
//! gaps between tokens, its decode time per token, its output tokens and whether it met
//! the check's SLOs. Those go to histograms and counts of their own ([`Generated`]),
//! allocated with the first generation an interval records: a plain HTTP request carries
//! nothing more than its latency and costs nothing more to record.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use hdrhistogram::Histogram;

/// Significant figures of every latency histogram.
pub const SIGNIFICANT_FIGURES: u8 = 3;
/// The largest latency recorded as itself, in microseconds: an hour.
pub const HIGHEST_MICROS: u64 = 3_600_000_000;

/// An empty latency histogram of the precision above.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIGHEST_MICROS, SIGNIFICANT_FIGURES)
        .expect("the bounds are constants hdrhistogram accepts")
}

/// What an answered request measured besides its latency, which the engine times itself.
/// A plain HTTP request measures nothing more: `Sample::default()`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sample {
    /// Time to the first token.
    pub ttft: Option<Duration>,
    /// The mean gap between tokens of this request.
    pub itl: Option<Duration>,
    /// Decode time per output token after the first.
    pub tpot: Option<Duration>,
    /// The decode rate the client saw, output tokens per second after the first token
    /// (a streamed generation of more than one token).
    pub tokens_per_s: Option<f64>,
    /// Output tokens; `None` for a request that generates none (plain HTTP).
    pub output_tokens: Option<u64>,
    /// Whether it met every SLO of its check; `None` when the check has none.
    pub good: Option<bool>,
}

impl Sample {
    fn is_generation(&self) -> bool {
        self.output_tokens.is_some()
    }
}

/// What generations measured over an interval, a stage or a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    pub ttft: Histogram<u64>,
    /// Each request's mean gap between tokens.
    pub itl: Histogram<u64>,
    pub tpot: Histogram<u64>,
    /// Each request's decode rate, in thousandths of a token per second (see
    /// [`RATE_SCALE`]).
    pub tokens_per_s: Histogram<u64>,
    pub output_tokens: u64,
    /// Requests judged on SLOs, and those of them that met every one.
    pub judged: u64,
    pub good: u64,
}

impl Default for Generated {
    fn default() -> Generated {
        Generated {
            ttft: histogram(),
            itl: histogram(),
            tpot: histogram(),
            tokens_per_s: histogram(),
            output_tokens: 0,
            judged: 0,
            good: 0,
        }
    }
}

impl Generated {
    fn record(&mut self, sample: &Sample) {
        for (histogram, value) in [
            (&mut self.ttft, sample.ttft),
            (&mut self.itl, sample.itl),
            (&mut self.tpot, sample.tpot),
        ] {
            if let Some(value) = value {
                record(histogram, value);
            }
        }
        if let Some(rate) = sample.tokens_per_s {
            record_rate(&mut self.tokens_per_s, rate);
        }
        // A server's count: bounded by nothing but its word.
        self.output_tokens = self
            .output_tokens
            .saturating_add(sample.output_tokens.unwrap_or(0));
        if let Some(good) = sample.good {
            self.judged += 1;
            self.good += u64::from(good);
        }
    }

    fn add(&mut self, other: &Generated) {
        for (mine, theirs) in [
            (&mut self.ttft, &other.ttft),
            (&mut self.itl, &other.itl),
            (&mut self.tpot, &other.tpot),
            (&mut self.tokens_per_s, &other.tokens_per_s),
        ] {
            mine.add(theirs)
                .expect("histograms of one precision and range add");
        }
        self.output_tokens = self.output_tokens.saturating_add(other.output_tokens);
        self.judged += other.judged;
        self.good += other.good;
    }
}

/// A rate is recorded in thousandths of its unit, so the histogram's three significant
/// figures hold for rates from 1 up (a decode rate of 12.3 tokens/s is 12,300) and rates
/// down to 0.001 are kept at all; a rate above 3.6 million is recorded as that.
pub const RATE_SCALE: f64 = 1000.0;

/// Records a rate (see [`RATE_SCALE`]); a rate that is not a finite positive number (a
/// server's nonsense) counts as 0.
fn record_rate(histogram: &mut Histogram<u64>, rate: f64) {
    let scaled = if rate.is_finite() && rate > 0.0 {
        (rate * RATE_SCALE).round().min(HIGHEST_MICROS as f64) as u64
    } else {
        0
    };
    histogram.saturating_record(scaled);
}

/// Records a duration in microseconds, an hour at most.
fn record(histogram: &mut Histogram<u64>, value: Duration) {
    let micros = u64::try_from(value.as_micros()).unwrap_or(u64::MAX);
    histogram.saturating_record(micros.min(HIGHEST_MICROS));
}

/// Why a request failed. The request function returns it, so a check of the answer (an
/// [`ErrorKind::Expectation`]) is the request type's to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ErrorKind {
    /// The server answered with a status outside 200–299.
    Status(u16),
    /// No full answer within the plan's timeout.
    Timeout,
    /// The connection could not be opened: refused, unreachable.
    Connect,
    /// The connection broke or the answer was not HTTP (cut short, malformed, too large).
    Stream,
    /// The answer arrived but is not what was expected of it.
    Expectation,
    /// This machine, not the server, ran out of what a connection needs.
    Exhausted(Resource),
}

/// What the load generator's machine can run out of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Resource {
    /// File descriptors: EMFILE or ENFILE on opening a socket.
    Files,
    /// Local ports: EADDRNOTAVAIL on connecting.
    Ports,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Status(code) => write!(f, "http {code}"),
            ErrorKind::Timeout => f.write_str("timeout"),
            ErrorKind::Connect => f.write_str("connect"),
            ErrorKind::Stream => f.write_str("stream"),
            ErrorKind::Expectation => f.write_str("expectation"),
            ErrorKind::Exhausted(Resource::Files) => f.write_str("out of files (this machine)"),
            ErrorKind::Exhausted(Resource::Ports) => f.write_str("out of ports (this machine)"),
        }
    }
}

/// Latencies of answered requests and counts of every outcome, of an interval, a stage
/// or a run. Adding two gives the tally of both.
#[derive(Debug, Clone, PartialEq)]
pub struct Tally {
    pub latency: Histogram<u64>,
    pub errors: BTreeMap<ErrorKind, u64>,
    /// Open loop: sent more than the slack after they were due (their latency counts
    /// from when they were due, so the delay is in it).
    pub late: u64,
    /// Open loop: due when every slot was in flight, so never sent.
    pub dropped: u64,
    /// What generations measured; `None` until one is answered.
    pub generated: Option<Box<Generated>>,
}

impl Default for Tally {
    fn default() -> Tally {
        Tally {
            latency: histogram(),
            errors: BTreeMap::new(),
            late: 0,
            dropped: 0,
            generated: None,
        }
    }
}

impl Tally {
    /// Records an answered request: no allocation, as the histogram is sized up front.
    pub fn answered(&mut self, latency: Duration) {
        record(&mut self.latency, latency);
    }

    /// Records an answered request and what else it measured. A generation allocates the
    /// interval's [`Generated`] the first time one is recorded, and never again.
    pub fn sampled(&mut self, latency: Duration, sample: &Sample) {
        self.answered(latency);
        if sample.is_generation() {
            self.generated.get_or_insert_default().record(sample);
        }
    }

    /// Records a failed request. Allocates only the first time a kind shows up.
    pub fn failed(&mut self, kind: ErrorKind) {
        *self.errors.entry(kind).or_default() += 1;
    }

    pub fn add(&mut self, other: &Tally) {
        self.latency
            .add(&other.latency)
            .expect("histograms of one precision and range add");
        for (kind, n) in &other.errors {
            *self.errors.entry(*kind).or_default() += n;
        }
        self.late += other.late;
        self.dropped += other.dropped;
        if let Some(theirs) = &other.generated {
            self.generated.get_or_insert_default().add(theirs);
        }
    }

    /// Its histograms under their figures' names: latency, and a generation's ttft, itl
    /// and tpot.
    pub fn histograms(&self) -> Vec<(&'static str, &Histogram<u64>)> {
        let mut histograms = vec![("latency", &self.latency)];
        if let Some(g) = &self.generated {
            histograms.extend([("ttft", &g.ttft), ("itl", &g.itl), ("tpot", &g.tpot)]);
        }
        histograms
    }

    /// Nothing recorded.
    pub fn is_empty(&self) -> bool {
        self.latency.is_empty() && self.errors.is_empty() && self.late == 0 && self.dropped == 0
    }

    pub fn answered_count(&self) -> u64 {
        self.latency.len()
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Requests that ended, answered or failed (dropped ones were never sent).
    pub fn requests(&self) -> u64 {
        self.answered_count() + self.error_count()
    }

    /// Failed requests as a share of those that ended; 0 when none did.
    pub fn error_rate(&self) -> f64 {
        match self.requests() {
            0 => 0.0,
            n => self.error_count() as f64 / n as f64,
        }
    }

    /// The latency figures, None when nothing was answered.
    pub fn summary(&self) -> Option<Latency> {
        let h = &self.latency;
        if h.is_empty() {
            return None;
        }
        let at = |q: f64| micros(h.value_at_quantile(q));
        Some(Latency {
            p50: at(0.5),
            p90: at(0.9),
            p95: at(0.95),
            p99: at(0.99),
            p999: at(0.999),
            max: micros(h.max()),
            mean: Duration::from_secs_f64(h.mean() / 1e6),
        })
    }
}

fn micros(value: u64) -> Duration {
    Duration::from_micros(value)
}

/// The latency figures of a tally. A percentile is the highest value of its rank's bucket
/// (HdrHistogram's `value_at_quantile`), so it is never below the true one by more than
/// the precision above; the max is likewise the top of its bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latency {
    pub p50: Duration,
    pub p90: Duration,
    pub p95: Duration,
    pub p99: Duration,
    pub p999: Duration,
    pub max: Duration,
    pub mean: Duration,
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case(Duration::from_micros(750), 750)]
    #[case(Duration::from_millis(20), 20_000)]
    #[case(Duration::from_millis(1000), 1_000_000)]
    fn values_are_kept_to_a_thousandth(#[case] latency: Duration, #[case] expected: u64) {
        let mut tally = Tally::default();
        tally.answered(latency);
        let p50 = tally.summary().unwrap().p50.as_micros() as u64;
        assert!(
            p50 >= expected && p50 - expected <= expected / 1000,
            "{p50}"
        );
    }

    #[test]
    fn over_an_hour_is_an_hour() {
        let mut tally = Tally::default();
        tally.answered(Duration::from_secs(7200));
        let max = tally.summary().unwrap().max;
        assert!(max >= Duration::from_secs(3600) && max < Duration::from_secs(3605));
    }

    #[test]
    fn adding_tallies_adds_everything() {
        let mut a = Tally::default();
        a.answered(Duration::from_millis(1));
        a.failed(ErrorKind::Status(503));
        a.late = 2;
        let mut b = Tally::default();
        b.answered(Duration::from_millis(3));
        b.failed(ErrorKind::Status(503));
        b.failed(ErrorKind::Timeout);
        b.dropped = 4;
        a.add(&b);
        assert_eq!(a.requests(), 5);
        assert_eq!(a.errors[&ErrorKind::Status(503)], 2);
        assert_eq!(a.errors[&ErrorKind::Timeout], 1);
        assert_eq!((a.late, a.dropped), (2, 4));
        assert!((a.error_rate() - 0.6).abs() < 1e-12);
        assert_eq!(Tally::default().error_rate(), 0.0);
        assert_eq!(Tally::default().summary(), None);
    }

    #[test]
    fn generations_are_recorded_and_added_and_plain_requests_allocate_nothing_more() {
        let mut plain = Tally::default();
        plain.sampled(Duration::from_millis(1), &Sample::default());
        assert_eq!(plain.generated, None);
        let generation = |ttft_ms, good| Sample {
            ttft: Some(Duration::from_millis(ttft_ms)),
            itl: Some(Duration::from_millis(10)),
            tpot: None,
            tokens_per_s: Some(12.5),
            output_tokens: Some(16),
            good,
        };
        let mut a = Tally::default();
        a.sampled(Duration::from_millis(200), &generation(100, Some(true)));
        let mut b = Tally::default();
        b.sampled(Duration::from_millis(300), &generation(200, Some(false)));
        b.sampled(Duration::from_millis(300), &generation(300, None));
        plain.add(&a);
        plain.add(&b);
        let generated = plain.generated.unwrap();
        assert_eq!(plain.latency.len(), 4);
        assert_eq!((generated.ttft.len(), generated.itl.len()), (3, 3));
        // 12.5 tokens/s, kept in thousandths.
        assert_eq!(generated.tokens_per_s.len(), 3);
        let median = generated.tokens_per_s.value_at_quantile(0.5) as f64;
        assert!((median / 12_500.0 - 1.0).abs() < 0.001, "{median}");
        assert!(generated.tpot.is_empty());
        assert_eq!(generated.ttft.max() / 1000, 300);
        assert_eq!(generated.output_tokens, 48);
        assert_eq!((generated.judged, generated.good), (2, 1));
    }

    #[rstest]
    #[case(ErrorKind::Status(429), "http 429")]
    #[case(ErrorKind::Exhausted(Resource::Ports), "out of ports (this machine)")]
    fn kinds_read_as_words(#[case] kind: ErrorKind, #[case] expected: &str) {
        assert_eq!(kind.to_string(), expected);
    }
}
