//! The shape of a load, and its arithmetic as pure functions: which stage runs at a
//! moment, the level (requests/s or users) it asks for then, when each open-loop request
//! is due, when a closed-loop user is active, and where the recording intervals end. No
//! I/O and no clock: every function takes the time elapsed since the run started.
//!
//! A plan is a list of stages run one after the other. Each holds a level for its
//! duration, or first moves to it in a straight line over its `ramp` from the level before
//! it (0 before the first stage) and holds it for the rest: "ramp to 200/s over 30 s, then
//! hold it for 60 s" is one stage of 90 s with a ramp of 30 s.
//! The level is requests per second in an open loop and users in a closed one.

use std::time::Duration;

use crate::rng::SplitMix64;

/// The most users a closed loop may have: each is a connection and a task.
pub const MAX_USERS: f64 = 1_000_000.0;
/// The longest a run may be: the recording histograms hold values up to an hour.
pub const MAX_TIME: Duration = Duration::from_secs(3600);

/// A load to run.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub model: Model,
    pub stages: Vec<Stage>,
    /// The first `warmup` of the run is run as its stages say but left out of every
    /// figure (the timeline still shows it): connections are opened and caches filled
    /// there, not in the measured part.
    pub warmup: Duration,
    /// The bound on one request: a request not answered by then is an error of kind
    /// `timeout`.
    pub timeout: Duration,
    /// The bound on the whole run. The stages end first; what is left is for the requests
    /// still in flight to finish. Those still in flight at the bound are `unfinished`.
    pub time_limit: Duration,
    /// Stop sending after this many requests (an open loop counts dropped ones too).
    pub max_requests: Option<u64>,
}

/// Open or closed loop.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Model {
    /// Requests are sent on a schedule that does not wait for answers, as users of a
    /// public service arrive: a slow server meets the same rate, and its queue grows.
    /// At most `max_in_flight` requests are outstanding; a request due when all of them
    /// are is dropped and counted, never sent later.
    Open {
        arrival: Arrival,
        max_in_flight: usize,
    },
    /// Each user sends its next request when its last one has ended, after `think`: the
    /// rate is whatever the server sustains, as with a fixed pool of clients.
    Closed { think: Duration },
}

/// When open-loop requests are due.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Arrival {
    /// Evenly spaced: the i-th request of a steady rate r is due at i / r.
    Constant,
    /// A Poisson process: exponential gaps drawn from SplitMix64 with this seed, so a
    /// plan is sent at the same instants on every run.
    Poisson { seed: u64 },
}

/// One stage of a plan.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stage {
    /// Requests per second (open loop) or users (closed loop, a whole number).
    pub level: f64,
    pub duration: Duration,
    /// The first part of the stage, over which the level moves in a straight line from the
    /// previous stage's to `level` (zero: a step). At most the stage's duration.
    pub ramp: Duration,
}

/// Where a request's figures go: into a stage, or nowhere (the warmup).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    Warmup,
    /// The index of a stage; requests that end after the last stage (the drain) count in
    /// the last.
    Stage(usize),
}

/// A plan the engine cannot run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    #[error("a load needs at least one stage")]
    NoStages,
    #[error("stage {} lasts 0s; give it a duration", .0 + 1)]
    EmptyStage(usize),
    #[error("stage {}: its ramp is longer than the stage", .0 + 1)]
    RampTooLong(usize),
    #[error("stage {}: level {level} is not a number of requests/s from 0 up", .stage + 1)]
    BadRate { stage: usize, level: f64 },
    #[error("stage {}: {level} is not a whole number of users from 0 to {}", .stage + 1, MAX_USERS)]
    BadUsers { stage: usize, level: f64 },
    #[error("max_in_flight is 0: an open loop could send nothing")]
    NoSlots,
    #[error(
        "the warmup ({warmup:?}) is as long as the stages ({stages:?}); nothing would be measured"
    )]
    WarmupTooLong { warmup: Duration, stages: Duration },
    #[error("the time limit ({limit:?}) is shorter than the stages ({stages:?})")]
    TimeLimitTooShort { limit: Duration, stages: Duration },
    #[error("the time limit ({0:?}) is over an hour, the most a run records")]
    TimeLimitTooLong(Duration),
    #[error("the request timeout is 0s")]
    NoTimeout,
    #[error("max_requests is 0")]
    NoRequests,
}

impl Plan {
    pub fn validate(&self) -> Result<(), PlanError> {
        if self.stages.is_empty() {
            return Err(PlanError::NoStages);
        }
        for (stage, s) in self.stages.iter().enumerate() {
            if s.duration.is_zero() {
                return Err(PlanError::EmptyStage(stage));
            }
            if s.ramp > s.duration {
                return Err(PlanError::RampTooLong(stage));
            }
            let level = s.level;
            match self.model {
                Model::Open { .. } if !(level.is_finite() && level >= 0.0) => {
                    return Err(PlanError::BadRate { stage, level });
                }
                Model::Closed { .. }
                    if !(0.0..=MAX_USERS).contains(&level) || level.fract() != 0.0 =>
                {
                    return Err(PlanError::BadUsers { stage, level });
                }
                _ => {}
            }
        }
        if let Model::Open {
            max_in_flight: 0, ..
        } = self.model
        {
            return Err(PlanError::NoSlots);
        }
        let stages = self.duration();
        if self.warmup >= stages {
            return Err(PlanError::WarmupTooLong {
                warmup: self.warmup,
                stages,
            });
        }
        if self.time_limit < stages {
            return Err(PlanError::TimeLimitTooShort {
                limit: self.time_limit,
                stages,
            });
        }
        if self.time_limit > MAX_TIME {
            return Err(PlanError::TimeLimitTooLong(self.time_limit));
        }
        if self.timeout.is_zero() {
            return Err(PlanError::NoTimeout);
        }
        if self.max_requests == Some(0) {
            return Err(PlanError::NoRequests);
        }
        Ok(())
    }

    /// The stages' total: when the load stops.
    pub fn duration(&self) -> Duration {
        self.stages.iter().map(|s| s.duration).sum()
    }

    /// The stage running at `t`, None from the end of the last on. A stage holds from its
    /// start up to (not including) its end.
    pub fn stage_at(&self, t: Duration) -> Option<usize> {
        self.segments()
            .find(|s| t.as_secs_f64() < s.end())
            .map(|s| s.stage)
    }

    /// The level asked for at `t`: on a ramp, between the previous stage's level and the
    /// stage's own; 0 from the end of the last stage on.
    pub fn level_at(&self, t: Duration) -> f64 {
        let t = t.as_secs_f64();
        self.segments()
            .find(|s| t < s.end())
            .map_or(0.0, |s| s.level(t))
    }

    /// How many users a closed loop runs at `t`: users 0 to n - 1 are active. On a ramp
    /// from 0 to 10 users over 10 s, user 0 starts at 1 s and user 9 at 10 s, the end.
    pub fn users_at(&self, t: Duration) -> u64 {
        // The tolerance keeps a level computed as 2.9999999 from meaning 2 users.
        (self.level_at(t) + 1e-9).floor() as u64
    }

    /// The first moment from `t` on when `user` is active, None when it never is again.
    pub fn next_active(&self, user: u64, t: Duration) -> Option<Duration> {
        let from = t.as_secs_f64();
        let need = user as f64 + 1.0 - 1e-9;
        self.segments()
            .filter(|s| s.end() > from)
            .find_map(|s| {
                let (lo, hi) = s.span_at_least(need)?;
                let at = lo.max(from);
                (at < hi).then_some(at)
            })
            .map(Duration::from_secs_f64)
    }

    /// The time over which stage `stage` (from 0) measures: its start (the end of the
    /// warmup, if later) to its end, as times since the start; empty for a stage the
    /// warmup covers. Its rates are of this time, not of the drain after the last stage.
    pub fn measured_window(&self, stage: usize) -> (Duration, Duration) {
        let start: Duration = self.stages[..stage].iter().map(|s| s.duration).sum();
        let end = start + self.stages[stage].duration;
        (start.max(self.warmup).min(end), end)
    }

    /// Where the figures of a request that ends at `t` go.
    pub fn phase_at(&self, t: Duration) -> Phase {
        if t < self.warmup {
            Phase::Warmup
        } else {
            Phase::Stage(self.stage_at(t).unwrap_or(self.stages.len() - 1))
        }
    }

    /// The end of the recording interval that holds `t`: the next whole second, stage end
    /// or end of the warmup after `t`, whichever comes first. So no interval spans two
    /// stages, or the warmup and a stage.
    pub fn interval_end(&self, t: Duration) -> Duration {
        let next_second = Duration::from_secs(t.as_secs() + 1);
        let mut ends = self.stages.iter().scan(Duration::ZERO, |end, s| {
            *end += s.duration;
            Some(*end)
        });
        let stage_end = ends.find(|&end| end > t).unwrap_or(next_second);
        let warmup_end = if self.warmup > t {
            self.warmup
        } else {
            next_second
        };
        next_second.min(stage_end).min(warmup_end)
    }

    /// The instants at which an open loop's requests are due, in order, as times since the
    /// start. The i-th is where the integral of the level over time reaches x_i, with x_i = i
    /// for [`Arrival::Constant`] and x_i the sum of i + 1 exponential draws of mean 1 for
    /// [`Arrival::Poisson`] (a Poisson process of rate 1, stretched in time by the level:
    /// a Poisson process of the level's rate, ramps included).
    pub fn schedule(&self, arrival: Arrival) -> Schedule {
        Schedule {
            segments: self.segments().collect(),
            current: 0,
            area_before: 0.0,
            next: 0,
            x: 0.0,
            rng: match arrival {
                Arrival::Constant => None,
                Arrival::Poisson { seed } => Some(SplitMix64::new(seed)),
            },
        }
    }

    /// The open loop's requests to send: the [`Plan::schedule`], all of it through the
    /// warmup and then `max_requests` more at most, since the warmup is not measured.
    pub fn due(&self, arrival: Arrival) -> impl Iterator<Item = Duration> + use<> {
        let warmup = self.warmup;
        let mut measured = self.max_requests.unwrap_or(u64::MAX);
        self.schedule(arrival).take_while(move |&offset| {
            if offset < warmup {
                return true;
            }
            let more = measured > 0;
            measured = measured.saturating_sub(1);
            more
        })
    }

    /// The stages as straight pieces of level over time: a stage with a ramp is two (the
    /// ramp, then the hold), one without is one.
    fn segments(&self) -> impl Iterator<Item = Segment> + '_ {
        let mut start = 0.0;
        let mut before = 0.0;
        let mut segments = Vec::with_capacity(self.stages.len() * 2);
        for (stage, s) in self.stages.iter().enumerate() {
            let ramp = s.ramp.min(s.duration).as_secs_f64();
            let duration = s.duration.as_secs_f64();
            if ramp > 0.0 {
                segments.push(Segment {
                    stage,
                    start,
                    duration: ramp,
                    from: before,
                    to: s.level,
                });
            }
            if duration > ramp {
                segments.push(Segment {
                    stage,
                    start: start + ramp,
                    duration: duration - ramp,
                    from: s.level,
                    to: s.level,
                });
            }
            start += duration;
            before = s.level;
        }
        segments.into_iter()
    }
}

/// A piece of a stage in seconds: the level moves linearly from `from` to `to` (equal
/// when it holds).
#[derive(Debug, Clone, Copy)]
struct Segment {
    /// The stage it belongs to.
    stage: usize,
    start: f64,
    duration: f64,
    from: f64,
    to: f64,
}

impl Segment {
    fn end(&self) -> f64 {
        self.start + self.duration
    }

    fn slope(&self) -> f64 {
        (self.to - self.from) / self.duration
    }

    fn level(&self, t: f64) -> f64 {
        self.from + self.slope() * (t - self.start)
    }

    /// The integral of the level over the segment: its number of requests.
    fn area(&self) -> f64 {
        (self.from + self.to) / 2.0 * self.duration
    }

    /// The time into the segment at which the integral of the level reaches `x` (from 0
    /// up to [`Segment::area`]): the root of slope/2·τ² + from·τ = x, written as
    /// 2x / (from + √(from² + 2·slope·x)), which holds for a slope of 0 too and loses no
    /// precision when the slope is small.
    fn time_to(&self, x: f64) -> f64 {
        if x <= 0.0 {
            return 0.0;
        }
        let root = (self.from * self.from + 2.0 * self.slope() * x)
            .max(0.0)
            .sqrt();
        (2.0 * x / (self.from + root)).min(self.duration)
    }

    /// The span [lo, hi) of the segment where the level is at least `need`, if any.
    fn span_at_least(&self, need: f64) -> Option<(f64, f64)> {
        let (start, end) = (self.start, self.end());
        match (self.from >= need, self.to >= need) {
            (true, true) => Some((start, end)),
            (false, false) => None,
            // Rising: from the crossing on; falling: up to it.
            (false, true) => Some((start + (need - self.from) / self.slope(), end)),
            (true, false) => Some((start, start + (need - self.from) / self.slope())),
        }
    }
}

/// The due instants of an open loop, from [`Plan::schedule`]. Ends with the last stage.
#[derive(Debug, Clone)]
pub struct Schedule {
    segments: Vec<Segment>,
    current: usize,
    /// The integral of the level over the segments before `current`.
    area_before: f64,
    next: u64,
    x: f64,
    rng: Option<SplitMix64>,
}

impl Iterator for Schedule {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        self.x = match &mut self.rng {
            None => self.next as f64,
            Some(rng) => self.x + rng.exponential(),
        };
        self.next += 1;
        loop {
            let segment = self.segments.get(self.current)?;
            let within = self.x - self.area_before;
            if within < segment.area() {
                let t = segment.start + segment.time_to(within);
                return Some(Duration::from_secs_f64(t));
            }
            self.area_before += segment.area();
            self.current += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    /// A stage that ramps over the whole of it (`ramp`) or steps to its level.
    fn stage(level: f64, seconds: f64, ramp: bool) -> Stage {
        Stage {
            level,
            duration: secs(seconds),
            ramp: if ramp { secs(seconds) } else { Duration::ZERO },
        }
    }

    fn plan(model: Model, stages: Vec<Stage>) -> Plan {
        Plan {
            model,
            stages,
            warmup: Duration::ZERO,
            timeout: secs(1.0),
            time_limit: secs(60.0),
            max_requests: None,
        }
    }

    fn open(stages: Vec<Stage>) -> Plan {
        let model = Model::Open {
            arrival: Arrival::Constant,
            max_in_flight: 10,
        };
        plan(model, stages)
    }

    fn closed(stages: Vec<Stage>) -> Plan {
        plan(
            Model::Closed {
                think: Duration::ZERO,
            },
            stages,
        )
    }

    /// Ramp to 100/s over 10 s, hold 100/s for 10 s, ramp down to 50/s over 10 s, jump to 20/s for 5 s.
    fn shaped() -> Plan {
        open(vec![
            stage(100.0, 10.0, true),
            stage(100.0, 10.0, false),
            stage(50.0, 10.0, true),
            stage(20.0, 5.0, false),
        ])
    }

    #[rstest]
    #[case(0.0, Some(0))]
    #[case(9.999, Some(0))]
    #[case(10.0, Some(1))]
    #[case(29.5, Some(2))]
    #[case(30.0, Some(3))]
    #[case(34.999, Some(3))]
    #[case(35.0, None)]
    #[case(100.0, None)]
    fn stage_at(#[case] t: f64, #[case] expected: Option<usize>) {
        assert_eq!(shaped().stage_at(secs(t)), expected);
    }

    #[rstest]
    #[case(0.0, 0.0)]
    #[case(2.5, 25.0)]
    #[case(10.0, 100.0)]
    #[case(15.0, 100.0)]
    #[case(25.0, 75.0)]
    #[case(30.0, 20.0)]
    #[case(35.0, 0.0)]
    fn level_at_follows_ramps_and_jumps(#[case] t: f64, #[case] expected: f64) {
        assert!((shaped().level_at(secs(t)) - expected).abs() < 1e-9);
    }

    #[rstest]
    #[case::steady(vec![stage(100.0, 0.05, false)], &[0.0, 0.01, 0.02, 0.03, 0.04])]
    #[case::two_rates(
        vec![stage(10.0, 0.2, false), stage(20.0, 0.1, false)],
        &[0.0, 0.1, 0.2, 0.25]
    )]
    // Up from 0 to 4/s over 2 s: the integral is t², so the i-th is due at √i.
    #[case::ramp_up(vec![stage(4.0, 2.0, true)], &[0.0, 1.0, 2f64.sqrt(), 3f64.sqrt()])]
    // Down from 4/s to 0 over 2 s: the integral is 4t - t², so the i-th is due at 2 - √(4 - i).
    #[case::ramp_down(
        vec![stage(4.0, 1.0, false), stage(0.0, 2.0, true)],
        &[0.0, 0.25, 0.5, 0.75, 1.0, 3.0 - 3f64.sqrt(), 3.0 - 2f64.sqrt(), 2.0]
    )]
    #[case::pause(vec![stage(2.0, 1.0, false), stage(0.0, 5.0, false), stage(1.0, 1.0, false)], &[0.0, 0.5, 6.0])]
    fn constant_arrivals(#[case] stages: Vec<Stage>, #[case] expected: &[f64]) {
        let due: Vec<f64> = open(stages)
            .schedule(Arrival::Constant)
            .map(|d| d.as_secs_f64())
            .collect();
        assert_eq!(due.len(), expected.len(), "{due:?}");
        for (got, want) in due.iter().zip(expected) {
            assert!((got - want).abs() < 1e-9, "{due:?} vs {expected:?}");
        }
    }

    #[rstest]
    #[case::steady(vec![stage(200.0, 50.0, false)], 10_000.0)]
    #[case::ramp(vec![stage(400.0, 50.0, true)], 10_000.0)]
    fn poisson_arrivals_count_the_integral(#[case] stages: Vec<Stage>, #[case] expected: f64) {
        let due: Vec<Duration> = open(stages)
            .schedule(Arrival::Poisson { seed: 42 })
            .collect();
        // A Poisson count of mean 10,000 has a standard deviation of 100.
        let n = due.len() as f64;
        assert!((n - expected).abs() < 400.0, "{n}");
        assert!(due.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn poisson_gaps_are_exponential() {
        let due: Vec<f64> = open(vec![stage(100.0, 1000.0, false)])
            .schedule(Arrival::Poisson { seed: 1 })
            .map(|d| d.as_secs_f64())
            .collect();
        let gaps: Vec<f64> = due.windows(2).map(|w| w[1] - w[0]).collect();
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        // An exponential distribution's standard deviation equals its mean.
        let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
        assert!((mean - 0.01).abs() < 0.0003, "mean gap {mean}");
        assert!(
            (var.sqrt() / mean - 1.0).abs() < 0.03,
            "cov {}",
            var.sqrt() / mean
        );
    }

    #[test]
    fn the_same_seed_gives_the_same_instants() {
        let plan = open(vec![stage(50.0, 2.0, false)]);
        let a: Vec<Duration> = plan.schedule(Arrival::Poisson { seed: 9 }).collect();
        let b: Vec<Duration> = plan.schedule(Arrival::Poisson { seed: 9 }).collect();
        let c: Vec<Duration> = plan.schedule(Arrival::Poisson { seed: 10 }).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    /// Steady at 20/s for 10 s, then one stage of 20 s that ramps to 100/s over its first
    /// 10 s and holds 100/s for the rest.
    fn partly_ramped() -> Plan {
        let mut ramped = stage(100.0, 20.0, false);
        ramped.ramp = secs(10.0);
        open(vec![stage(20.0, 10.0, false), ramped])
    }

    #[rstest]
    #[case(5.0, 20.0, Some(0))]
    #[case(10.0, 20.0, Some(1))]
    #[case(15.0, 60.0, Some(1))]
    #[case(20.0, 100.0, Some(1))]
    #[case(29.999, 100.0, Some(1))]
    #[case(30.0, 0.0, None)]
    fn a_ramp_shorter_than_its_stage_then_holds_within_the_same_stage(
        #[case] t: f64,
        #[case] level: f64,
        #[case] stage: Option<usize>,
    ) {
        let plan = partly_ramped();
        assert!((plan.level_at(secs(t)) - level).abs() < 1e-6);
        assert_eq!(plan.stage_at(secs(t)), stage);
    }

    #[test]
    fn a_partly_ramped_stage_sends_the_integral_of_its_level() {
        // 200 before; then (20 + 100) / 2 * 10 on the ramp and 100 * 10 on the hold.
        let due = partly_ramped().schedule(Arrival::Constant).count();
        assert_eq!(due, 200 + 600 + 1000);
    }

    #[test]
    fn a_ramp_longer_than_its_stage_is_refused() {
        let mut plan = partly_ramped();
        plan.stages[1].ramp = secs(21.0);
        assert_eq!(plan.validate(), Err(PlanError::RampTooLong(1)));
    }

    #[rstest]
    #[case(0.0, 0)]
    #[case(0.999, 0)]
    #[case(1.0, 1)]
    #[case(9.5, 9)]
    #[case(10.0, 4)]
    #[case(12.0, 4)]
    fn users_on_a_ramp_then_a_hold(#[case] t: f64, #[case] expected: u64) {
        let plan = closed(vec![stage(10.0, 10.0, true), stage(4.0, 5.0, false)]);
        assert_eq!(plan.users_at(secs(t)), expected);
    }

    #[rstest]
    #[case::the_first_after_a_second(0, 0.0, Some(1.0))]
    #[case::later_on_the_ramp(4, 0.0, Some(5.0))]
    #[case::already(4, 7.0, Some(7.0))]
    #[case::on_the_ramp_down(1, 12.0, Some(12.0))]
    // User 6 is active from 7 s until the ramp down passes 7 users, at 10 s + 3 / 2 s.
    #[case::until_the_ramp_down_passes_it(6, 10.5, Some(10.5))]
    #[case::never_again(6, 11.6, None)]
    #[case::after_the_end(0, 20.0, None)]
    fn next_active(#[case] user: u64, #[case] t: f64, #[case] expected: Option<f64>) {
        // Up to 10 users over 10 s, then down to 0 over 5 s.
        let plan = closed(vec![stage(10.0, 10.0, true), stage(0.0, 5.0, true)]);
        let got = plan.next_active(user, secs(t)).map(|d| d.as_secs_f64());
        match (got, expected) {
            (Some(g), Some(e)) => assert!((g - e).abs() < 1e-6, "{g} vs {e}"),
            _ => assert_eq!(got, expected),
        }
    }

    #[rstest]
    #[case(0.0, 1.0)]
    #[case(0.5, 1.0)]
    #[case(1.0, 1.5)]
    #[case(1.5, 2.0)]
    #[case(2.2, 2.5)]
    #[case(2.5, 3.0)]
    #[case(7.0, 8.0)]
    fn intervals_end_at_seconds_stage_ends_and_the_warmup(#[case] t: f64, #[case] expected: f64) {
        let mut plan = open(vec![stage(10.0, 2.5, false), stage(10.0, 1.0, false)]);
        plan.warmup = secs(1.5);
        assert_eq!(plan.interval_end(secs(t)), secs(expected));
    }

    #[rstest]
    #[case::warmup_in_the_first(1.5, (1.5, 2.5), (2.5, 3.5))]
    #[case::no_warmup(0.0, (0.0, 2.5), (2.5, 3.5))]
    #[case::warmup_past_the_first(3.0, (2.5, 2.5), (3.0, 3.5))]
    fn stages_measure_from_the_end_of_the_warmup_to_their_end(
        #[case] warmup: f64,
        #[case] first: (f64, f64),
        #[case] second: (f64, f64),
    ) {
        let mut plan = open(vec![stage(10.0, 2.5, false), stage(10.0, 1.0, false)]);
        plan.warmup = secs(warmup);
        let window = |(a, b): (f64, f64)| (secs(a), secs(b));
        assert_eq!(plan.measured_window(0), window(first));
        assert_eq!(plan.measured_window(1), window(second));
    }

    #[rstest]
    #[case::none_in_the_warmup(0.0, Some(3), 3)]
    #[case::ten_in_the_warmup(1.0, Some(3), 13)]
    #[case::no_limit(1.0, None, 25)]
    #[case::more_than_scheduled(1.0, Some(100), 25)]
    fn max_requests_counts_the_requests_due_after_the_warmup(
        #[case] warmup: f64,
        #[case] max_requests: Option<u64>,
        #[case] expected: usize,
    ) {
        let mut plan = open(vec![stage(10.0, 2.5, false)]);
        plan.warmup = secs(warmup);
        plan.max_requests = max_requests;
        let due: Vec<Duration> = plan.due(Arrival::Constant).collect();
        assert_eq!(due.len(), expected);
        // The warmup's are all sent, at 10/s.
        let in_warmup = due.iter().filter(|&&d| d < plan.warmup).count();
        assert_eq!(in_warmup as f64, warmup * 10.0);
    }

    #[rstest]
    #[case(0.0, Phase::Warmup)]
    #[case(1.999, Phase::Warmup)]
    #[case(2.0, Phase::Stage(0))]
    #[case(3.0, Phase::Stage(1))]
    #[case(9.0, Phase::Stage(1))]
    fn phases(#[case] t: f64, #[case] expected: Phase) {
        let mut plan = open(vec![stage(10.0, 3.0, false), stage(10.0, 1.0, false)]);
        plan.warmup = secs(2.0);
        assert_eq!(plan.phase_at(secs(t)), expected);
    }

    #[rstest]
    #[case::no_stages(open(vec![]), PlanError::NoStages)]
    #[case::empty(open(vec![stage(1.0, 0.0, false)]), PlanError::EmptyStage(0))]
    #[case::negative_rate(open(vec![stage(-1.0, 1.0, false)]), PlanError::BadRate { stage: 0, level: -1.0 })]
    #[case::half_a_user(closed(vec![stage(1.0, 1.0, false), stage(2.5, 1.0, false)]), PlanError::BadUsers { stage: 1, level: 2.5 })]
    fn invalid_plans(#[case] plan: Plan, #[case] expected: PlanError) {
        assert_eq!(plan.validate(), Err(expected));
    }

    #[test]
    fn invalid_bounds() {
        let mut plan = open(vec![stage(1.0, 5.0, false)]);
        assert_eq!(plan.validate(), Ok(()));
        plan.warmup = secs(5.0);
        assert!(matches!(
            plan.validate(),
            Err(PlanError::WarmupTooLong { .. })
        ));
        plan.warmup = Duration::ZERO;
        plan.time_limit = secs(4.0);
        assert!(matches!(
            plan.validate(),
            Err(PlanError::TimeLimitTooShort { .. })
        ));
        plan.time_limit = secs(3601.0);
        assert_eq!(
            plan.validate(),
            Err(PlanError::TimeLimitTooLong(secs(3601.0)))
        );
        plan.time_limit = secs(5.0);
        plan.max_requests = Some(0);
        assert_eq!(plan.validate(), Err(PlanError::NoRequests));
        plan.max_requests = None;
        plan.model = Model::Open {
            arrival: Arrival::Constant,
            max_in_flight: 0,
        };
        assert_eq!(plan.validate(), Err(PlanError::NoSlots));
    }
}
