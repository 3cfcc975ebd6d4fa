//! Why an sla check is not valid: [`SlaError`], one variant per rule, each message
//! saying what is wrong and how to fix it, and [`Found`], an error with the span it is
//! about. The validation of every part of the check (load, mix, thresholds, slo) reports
//! through these, so that [`super::SlaCheck::validate`] places them all alike.

use std::ops::Range;

use crate::metric::FigureError;
use crate::scenario::request::Measured;

use super::figures::{LOAD_STAT_NAMES, SLO_NAMES};
use super::load::MAX_RATE;

/// Why an sla check is not valid; each is placed at the key or value it is about.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SlaError {
    #[error(
        "has no load: add load = {{ users = 4, duration = \"10s\" }} (a closed loop), load = {{ rate = 100, duration = \"10s\" }} (an open loop) or stages = [...]"
    )]
    NoLoad,
    #[error(
        "has both load and stages: keep one (load is one steady level, stages a sequence of levels)"
    )]
    LoadAndStages,
    #[error(
        "{key} goes inside load = {{ ... }} with a steady load (beside the check it goes with stages)"
    )]
    BesideLoad { key: &'static str },
    #[error("stages is an empty list: give at least one stage")]
    NoStages,
    #[error("gives both users and rate: users make a closed loop, a rate an open one; keep one")]
    UsersAndRate,
    #[error("gives neither users (a closed loop) nor rate (an open loop): add one")]
    NoLevel,
    #[error(
        "stage {stage} gives {key}, and stage {first} {other}: every stage is of one model, closed (users) or open (rate)"
    )]
    MixedModels {
        stage: usize,
        first: usize,
        key: &'static str,
        other: &'static str,
    },
    #[error("{key} = {value}: give a whole number from 1 to {max}")]
    NotWhole {
        key: &'static str,
        value: f64,
        max: u64,
    },
    #[error("rate = {0}: give requests per second above 0 and at most {MAX_RATE}")]
    Rate(f64),
    #[error("ramp {ramp} is longer than its stage ({stage}): the ramp is part of the stage")]
    RampTooLong { ramp: String, stage: String },
    #[error(
        "the stages and warmup take {0}, more than 1h: the engine's histograms hold an hour; shorten the load or split it into checks"
    )]
    TooLong(String),
    #[error(
        "warmup {warmup} is not shorter than the stages ({stages}): most of the run would go unmeasured"
    )]
    WarmupTooLong { warmup: String, stages: String },
    #[error(
        "{key} applies to an open loop (rate), and this load is closed (users): drop {key}{why}"
    )]
    OpenOnly {
        key: &'static str,
        why: &'static str,
    },
    #[error(
        "think applies to a closed loop (users), and this load is open (rate): an open loop sends at its rate, whatever the answers; drop think"
    )]
    ClosedOnly,
    #[error(
        "an sla check has a request at its top level ({key}) and [[sla.requests]]: a check sends one request or a mix; move {key} into a [[sla.requests]] entry"
    )]
    RequestAndMix { key: String },
    #[error("requests is an empty list: give at least one [[sla.requests]] entry")]
    EmptyMix,
    #[error(
        "the weights of the mix add up to {0}, over the {max} a mix may have: a share finer than one in a million is finer than any run; use coarser weights (60, 30, 10)",
        max = super::mix::MAX_WEIGHT
    )]
    WeightsTooFine(u64),
    #[error(
        "invalid request name \"{0}\": use letters, digits, '_', '-' and '.' (it names the request in thresholds and reports)"
    )]
    InvalidName(String),
    #[error("request name \"{0}\" is used twice in the mix: names must be unique within it")]
    DuplicateName(String),
    #[error("{0} in thresholds")]
    Figure(FigureError),
    #[error(
        "invalid stage in threshold \"{0}\": write @N after the figure (and after {{request}}), N a stage's number from 1, such as \"latency.p99@2\""
    )]
    BadStage(String),
    #[error("@{stage}: this load has {count} stage(s), numbered from 1")]
    NoSuchStage { stage: usize, count: usize },
    #[error(
        "{{{name}}}: no request of this check is named \"{name}\"{hint}; its requests: {names}"
    )]
    NoSuchRequest {
        name: String,
        hint: String,
        names: String,
    },
    #[error(
        "{0} varies from request to request: name a statistic of it, such as \"{0}.p99\" or \"{0}.p95\""
    )]
    NoStatistic(&'static str),
    #[error("{0} is one figure of the whole run: write {0} = ..., without a statistic")]
    RunFigureStat(&'static str),
    #[error(
        "{stat} is not taken under load{hint}: an sla keeps each duration in a histogram, read as {LOAD_STAT_NAMES}"
    )]
    StatNotUnderLoad {
        stat: &'static str,
        hint: &'static str,
    },
    #[error(
        "{metric} is not measured under load for request \"{request}\" ({measured}); it measures {measures}{hint}"
    )]
    NotMeasured {
        metric: &'static str,
        request: String,
        measured: Measured,
        measures: String,
        hint: &'static str,
    },
    #[error("goodput is the share of requests that meet the slo: add slo = {{ ttft = \"< 1s\" }}")]
    GoodputWithoutSlo,
    #[error(
        "{0} counts requests an open loop sent late or dropped, and this load is closed (users): drop it"
    )]
    OpenLoopFigure(&'static str),
    #[error("unknown slo key `{key}`{hint}; slo keys: {SLO_NAMES}")]
    UnknownSlo { key: String, hint: String },
    #[error(
        "slo {key} is an upper bound on each request: write {key} = \"< ...\" or \"<= ...\", with a duration"
    )]
    SloNotUpperBound { key: String },
    /// A threshold whose notation does not fit its figure (`check_fits`'s message).
    #[error("{0}")]
    Unit(String),
    #[error(
        "slo applies to model requests, and request \"{0}\" is an HTTP request: put a latency threshold in thresholds instead"
    )]
    SloNotModel(String),
    #[error("slo {key} is not measured for request \"{request}\" ({measured})")]
    SloNotMeasured {
        key: &'static str,
        request: String,
        measured: Measured,
    },
}

/// An error and the value it is about (`None`: the check as a whole).
pub type Found = (SlaError, Option<Range<usize>>);
