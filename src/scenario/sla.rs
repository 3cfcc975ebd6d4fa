//! `[[sla]]`: one request, or a weighted mix of requests, sent under a load for a while,
//! judged on figures of the whole run: percentiles of its durations, throughput, error
//! rate, goodput.
//!
//! A single request is written at the check's top level with the keys of the kind it
//! sends, as in `[[baseline]]` (split by [`super::request::split`]); a mix is a list of
//! `[[sla.requests]]` tables, each a named request with a `weight`. The load is `load`
//! (one steady level) or `stages` (a sequence of levels), never both. This module reads
//! and validates the format, and describes the load, the mix and the thresholds for the
//! engine that runs them ([`SlaCheck::load`], [`SlaCheck::mix`], [`SlaCheck::thresholds`]).

use std::collections::BTreeMap;
use std::ops::Range;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::metric::{FigureError, FigureRef, Stat, resolve};
use crate::text::{closest, format_duration};

use super::duration::Wait;
use super::parse::is_valid_name;
use super::request::{
    CheckRequest, Measured, Owner, Placed, Problem, error_at, split, table_value, tables,
};
use super::{Dur, Threshold};

/// An sla check as written: its name, what it sends and the rest of its keys.
#[derive(Debug)]
pub struct SlaCheck {
    /// The check's name; also the name of its request when it sends one.
    pub name: Spanned<String>,
    requests: Requests,
    settings: Settings,
    /// `load = { ... }`: its one stage, and the model's keys written in it.
    load: Option<(Spanned<StageSpec>, ModelSpec)>,
    /// The model's keys written at the check's top level (beside `stages`).
    model: ModelSpec,
}

#[derive(Debug)]
enum Requests {
    One(CheckRequest),
    /// `[[sla.requests]]`, with the position of the list.
    Mix(Spanned<Vec<MixEntry>>),
}

#[derive(Debug)]
struct MixEntry {
    weight: Spanned<f64>,
    request: CheckRequest,
    /// Where the entry is written: its request's problems of the whole are placed here.
    span: Range<usize>,
}

/// The keys of an sla check that are neither its request's, nor `load` and the model's.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    stages: Option<Spanned<Vec<Spanned<StageSpec>>>>,
    max_requests: Option<Spanned<f64>>,
    #[serde(default)]
    thresholds: BTreeMap<Spanned<String>, Spanned<Threshold>>,
    #[serde(default)]
    slo: BTreeMap<Spanned<String>, Spanned<Threshold>>,
    #[serde(default)]
    abort_on_fail: bool,
}

/// A level held for a while: one of `stages`, or the level of a steady `load`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StageSpec {
    users: Option<Spanned<f64>>,
    rate: Option<Spanned<f64>>,
    duration: Spanned<Dur>,
    ramp: Option<Spanned<Dur>>,
}

/// The keys of the load model that hold for every stage: in `load` for a steady load,
/// beside `stages` for a staged one.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelSpec {
    warmup: Option<Spanned<Wait>>,
    think: Option<Spanned<Wait>>,
    arrival: Option<Spanned<Arrival>>,
    max_in_flight: Option<Spanned<f64>>,
}

/// The keys of [`StageSpec`] and [`ModelSpec`], which split a `load` table.
const STAGE_KEYS: &[&str] = &["users", "rate", "duration", "ramp"];
const MODEL_KEYS: &[&str] = &["warmup", "think", "arrival", "max_in_flight"];

/// The keys of one `[[sla.requests]]` entry that are not its request's.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntrySettings {
    weight: Spanned<f64>,
}

/// When an open loop sends its requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arrival {
    /// Evenly spaced, `1 / rate` apart.
    #[default]
    Constant,
    /// Exponentially distributed gaps of mean `1 / rate`, as independent clients arrive.
    Poisson,
}

/// The load a check runs, as the engine needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadPlan {
    pub model: LoadModel,
    /// Run first at the first stage's level; nothing it measures counts.
    pub warmup: Duration,
    /// The run stops after this many measured requests, if the stages have not ended.
    pub max_requests: Option<u64>,
}

/// A closed loop keeps a number of users, each sending its next request when its last is
/// answered (and it has thought); an open loop sends at a rate whatever the answers.
#[derive(Debug, Clone, PartialEq)]
pub enum LoadModel {
    Closed {
        stages: Vec<Stage<u32>>,
        /// What each user waits between an answer and its next request.
        think: Duration,
    },
    Open {
        /// Requests per second.
        stages: Vec<Stage<f64>>,
        arrival: Arrival,
        /// Requests in flight at most; an arrival beyond it is dropped (`None`: the
        /// engine's own bound).
        max_in_flight: Option<u32>,
    },
}

/// One level held for a while: users (closed) or requests per second (open).
#[derive(Debug, Clone, PartialEq)]
pub struct Stage<L> {
    pub level: L,
    /// The whole stage, its ramp included.
    pub duration: Duration,
    /// The level moves linearly from the previous stage's (zero before the first) to
    /// this one's over the first `ramp` of the stage; zero is a step.
    pub ramp: Duration,
}

/// A threshold resolved: which figure, over which request and stage.
#[derive(Debug, Clone, PartialEq)]
pub struct SlaThreshold {
    pub figure: FigureRef,
    /// One request of the mix (`latency.p99{search}`); `None`: every request.
    pub scope: Option<String>,
    /// One stage, numbered from 1 (`latency.p99@2`); `None`: the whole run.
    pub stage: Option<usize>,
    pub threshold: Threshold,
    /// Where the threshold is written.
    pub span: Range<usize>,
}

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

/// The keys of the check itself; every other key is its request's.
const SETTINGS_KEYS: &[&str] = &[
    "load",
    "stages",
    "warmup",
    "think",
    "arrival",
    "max_in_flight",
    "max_requests",
    "thresholds",
    "slo",
    "abort_on_fail",
    "requests",
];

/// Users at most: far beyond what one harness process can keep in flight.
const MAX_USERS: u64 = 1_000_000;
/// Requests per second at most, likewise.
const MAX_RATE: f64 = 1_000_000.0;
/// Requests in flight at most.
const MAX_IN_FLIGHT: u64 = 1_000_000;
/// The engine records durations in histograms that hold an hour.
const MAX_RUN: Duration = Duration::from_secs(3600);
/// Requests at most: what the highest rate sends in the longest run.
const MAX_REQUESTS: u64 = 3_600_000_000;
/// A weight at most: the mix is a share, and a million parts are finer than any run.
const MAX_WEIGHT: u64 = 1_000_000;

/// The statistics an sla reads of a duration's histogram.
pub const LOAD_STATS: &[Stat] = &[
    Stat::P50,
    Stat::P90,
    Stat::P95,
    Stat::P99,
    Stat::P999,
    Stat::Min,
    Stat::Max,
    Stat::Mean,
];
const LOAD_STAT_NAMES: &str = "p50, p90, p95, p99, p99.9, min, max or mean";

/// Figures of the whole run: one value each, no statistic.
const RUN_FIGURES: &[&str] = &[
    "error_rate",
    "throughput",
    "output_tokens_per_s",
    "goodput",
    "late",
    "dropped",
];

/// The per-request SLOs goodput counts against.
const SLO_KEYS: &[&str] = &["ttft", "tpot", "itl", "latency"];
const SLO_NAMES: &str = "ttft, tpot, itl, latency";

/// The `sla` array of a scenario file, each check split into its requests and its
/// settings, with every span kept.
pub fn from_toml(value: Spanned<DeValue<'_>>) -> Result<Vec<Spanned<SlaCheck>>, Placed> {
    let checks = tables(value, "sla", "an sla check")?;
    checks
        .into_iter()
        .map(|(span, table)| one_check(span, table))
        .collect()
}

fn one_check(span: Range<usize>, mut table: DeTable<'_>) -> Result<Spanned<SlaCheck>, Placed> {
    let mix = table.remove("requests");
    let owner = Owner {
        what: "an sla check",
        label: "sla keys",
        keys: SETTINGS_KEYS,
    };
    let mut parts = split(table, &owner)?;
    let load = parts.own.remove("load").map(steady_load).transpose()?;
    let model = take(&mut parts.own, MODEL_KEYS);
    let model = ModelSpec::deserialize(table_value(span.clone(), model))?;
    let settings = Settings::deserialize(table_value(span.clone(), parts.own))?;
    let (name, requests) = match mix {
        None => {
            let request = CheckRequest::from_table(span.clone(), parts.request, parts.is_model)?;
            (request.name().clone(), Requests::One(request))
        }
        Some(mix) => {
            let name = parts.request.remove("name");
            if let Some((key, _)) = parts.request.iter().min_by_key(|(key, _)| key.span().start) {
                let error = SlaError::RequestAndMix {
                    key: key.get_ref().to_string(),
                };
                return Err(error_at(key.span(), error.to_string()));
            }
            let Some(name) = name else {
                return Err(error_at(span, "missing field `name`"));
            };
            let name = Spanned::<String>::deserialize(toml::de::ValueDeserializer::from(name))?;
            (name, Requests::Mix(mix_entries(mix)?))
        }
    };
    let check = SlaCheck {
        name,
        requests,
        settings,
        load,
        model,
    };
    Ok(Spanned::new(span, check))
}

/// `load = { users = 4, duration = "10s", think = "1s" }`: one stage, and the model's keys.
fn steady_load(value: Spanned<DeValue<'_>>) -> Result<(Spanned<StageSpec>, ModelSpec), Placed> {
    let span = value.span();
    let DeValue::Table(mut table) = value.into_inner() else {
        return Err(error_at(
            span,
            "load is a table: write load = { users = 4, duration = \"10s\" }",
        ));
    };
    let known: Vec<&str> = STAGE_KEYS.iter().chain(MODEL_KEYS).copied().collect();
    let unknown = table
        .keys()
        .filter(|key| !known.contains(&key.get_ref().as_ref()));
    if let Some(key) = unknown.min_by_key(|key| key.span().start) {
        let hint = closest(key.get_ref(), &known)
            .map_or_else(String::new, |c| format!("; did you mean `{c}`?"));
        return Err(error_at(
            key.span(),
            format!(
                "unknown key `{}` in load{hint}; load keys: {}",
                key.get_ref(),
                known.join(", ")
            ),
        ));
    }
    let model = take(&mut table, MODEL_KEYS);
    let model = ModelSpec::deserialize(table_value(span.clone(), model))?;
    let stage = StageSpec::deserialize(table_value(span.clone(), table))?;
    Ok((Spanned::new(span, stage), model))
}

/// The entries of `table` under `keys`, taken out of it.
fn take<'a>(table: &mut DeTable<'a>, keys: &[&str]) -> DeTable<'a> {
    keys.iter()
        .filter_map(|key| table.remove_entry(*key))
        .collect()
}

/// `[[sla.requests]]`: each entry a named request and its weight.
fn mix_entries(value: Spanned<DeValue<'_>>) -> Result<Spanned<Vec<MixEntry>>, Placed> {
    let span = value.span();
    let owner = Owner {
        what: "a request of an sla mix",
        label: "mix keys",
        keys: &["weight"],
    };
    let entries = tables(value, "sla.requests", "a request of the mix")?;
    let entries = entries.into_iter().map(|(at, table)| {
        let parts = split(table, &owner)?;
        let settings = EntrySettings::deserialize(table_value(at.clone(), parts.own))?;
        Ok(MixEntry {
            weight: settings.weight,
            request: CheckRequest::from_table(at.clone(), parts.request, parts.is_model)?,
            span: at,
        })
    });
    Ok(Spanned::new(span, entries.collect::<Result<_, Placed>>()?))
}

impl SlaCheck {
    /// Whether the run stops at the first threshold that can no longer hold.
    pub fn abort_on_fail(&self) -> bool {
        self.settings.abort_on_fail
    }

    /// The one request of a check that sends a single request; `None` for a mix (even a
    /// mix of one entry, which is named and weighted as a mix is).
    pub fn single(&self) -> Option<&CheckRequest> {
        match &self.requests {
            Requests::One(request) => Some(request),
            Requests::Mix(_) => None,
        }
    }

    /// The requests sent, each with its name and weight; a single request is a mix of one
    /// named after the check. Weights are whole and at least 1 once the check is valid.
    pub fn mix(&self) -> Vec<(&str, u32, &CheckRequest)> {
        match &self.requests {
            Requests::One(request) => vec![(self.name.get_ref().as_str(), 1, request)],
            Requests::Mix(entries) => entries
                .get_ref()
                .iter()
                .map(|entry| {
                    let weight = *entry.weight.get_ref() as u32;
                    (
                        entry.request.name().get_ref().as_str(),
                        weight,
                        &entry.request,
                    )
                })
                .collect(),
        }
    }

    /// The check's SLOs, `None` when it has none. Once the check is valid, every key is
    /// one of [`SLO_KEYS`] and every bound a duration.
    pub fn slo(&self) -> Option<Slo> {
        let slo = &self.settings.slo;
        let bound = |name: &str| {
            slo.iter()
                .find(|(key, _)| key.get_ref() == name)
                .map(|(_, threshold)| *threshold.get_ref())
        };
        (!slo.is_empty()).then(|| Slo {
            ttft: bound("ttft"),
            tpot: bound("tpot"),
            itl: bound("itl"),
            latency: bound("latency"),
        })
    }

    /// The load, or every problem of the keys that describe it.
    pub fn load(&self) -> Result<LoadPlan, Vec<Found>> {
        let max_requests = self.settings.max_requests.as_ref();
        match (&self.load, &self.settings.stages) {
            (Some(_), Some(stages)) => Err(vec![(SlaError::LoadAndStages, Some(stages.span()))]),
            (None, None) => Err(vec![(SlaError::NoLoad, None)]),
            (Some((stage, model)), None) => {
                let beside = self.model.beside_load();
                match (
                    plan(&[stage], model, max_requests, stage.span()),
                    beside.is_empty(),
                ) {
                    (Ok(plan), true) => Ok(plan),
                    (Ok(_), false) => Err(beside),
                    (Err(found), _) => Err(beside.into_iter().chain(found).collect()),
                }
            }
            (None, Some(stages)) => {
                let list: Vec<_> = stages.get_ref().iter().collect();
                plan(&list, &self.model, max_requests, stages.span())
            }
        }
    }

    /// The thresholds resolved, in the order of the file; or every problem with them.
    /// Stage numbers and the figures of an open loop are checked when the load is valid.
    pub fn thresholds(&self) -> Result<Vec<SlaThreshold>, Vec<Found>> {
        let load = self.load().ok();
        let context = Context {
            mix: self.mix(),
            stages: load.as_ref().map(LoadPlan::stage_count),
            open: load
                .as_ref()
                .map(|plan| matches!(plan.model, LoadModel::Open { .. })),
            slo: !self.settings.slo.is_empty(),
        };
        let mut written: Vec<_> = self.settings.thresholds.iter().collect();
        written.sort_by_key(|(key, _)| key.span().start);
        let mut resolved = Vec::new();
        let mut found = Vec::new();
        for (key, threshold) in written {
            match context.threshold(key.get_ref()) {
                Ok((figure, scope, stage)) => {
                    match threshold.get_ref().check_fits(key.get_ref(), figure.unit()) {
                        Ok(()) => resolved.push(SlaThreshold {
                            figure,
                            scope: scope.map(str::to_string),
                            stage,
                            threshold: *threshold.get_ref(),
                            span: threshold.span(),
                        }),
                        Err(message) => {
                            found.push((SlaError::Unit(message), Some(threshold.span())))
                        }
                    }
                }
                Err(error) => found.push((error, Some(key.span()))),
            }
        }
        if found.is_empty() {
            Ok(resolved)
        } else {
            Err(found)
        }
    }

    /// Checks what serde cannot, and returns every problem found; each may point at a
    /// value inside the check (`None`: the check as a whole).
    pub fn validate(&self) -> Vec<Problem> {
        let ours = format!("sla check \"{}\"", self.name.get_ref());
        let mut problems = Vec::new();
        let mut found = Vec::new();
        match &self.requests {
            Requests::One(request) => problems.extend(request.validate(&ours, "an sla check")),
            Requests::Mix(entries) => {
                if entries.get_ref().is_empty() {
                    found.push((SlaError::EmptyMix, Some(entries.span())));
                }
                found.extend(mix_names(entries.get_ref()));
                for entry in entries.get_ref() {
                    let name = entry.request.name().get_ref();
                    let request = format!("{ours}, request \"{name}\"");
                    let request = entry.request.validate(&request, "an sla check");
                    let at = |at: Option<Range<usize>>| at.or_else(|| Some(entry.span.clone()));
                    problems.extend(
                        request
                            .into_iter()
                            .map(|(message, span)| (message, at(span))),
                    );
                    if let Err(error) = whole("weight", &entry.weight, MAX_WEIGHT) {
                        found.push((error, Some(entry.weight.span())));
                    }
                }
            }
        }
        found.extend(self.load().err().into_iter().flatten());
        found.extend(self.thresholds().err().into_iter().flatten());
        found.extend(self.validate_slo());
        let separator = |error: &SlaError| match error {
            // Messages that continue the check's name as a sentence.
            SlaError::NoLoad
            | SlaError::LoadAndStages
            | SlaError::UsersAndRate
            | SlaError::NoLevel => " ",
            _ => ": ",
        };
        problems.extend(
            found
                .into_iter()
                .map(|(error, at)| (format!("{ours}{}{error}", separator(&error)), at)),
        );
        problems
    }

    /// Each SLO a duration bound that every request of the mix measures.
    fn validate_slo(&self) -> Vec<Found> {
        let mut found = Vec::new();
        let mix = self.mix();
        for (key, threshold) in &self.settings.slo {
            let name = key.get_ref().as_str();
            let Some(slo) = SLO_KEYS.iter().find(|k| **k == name) else {
                let hint = closest(name, SLO_KEYS)
                    .map_or_else(String::new, |c| format!("; did you mean `{c}`?"));
                found.push((
                    SlaError::UnknownSlo {
                        key: name.to_string(),
                        hint,
                    },
                    Some(key.span()),
                ));
                continue;
            };
            let bound = threshold.get_ref();
            if let Err(message) = bound.check_fits(name, crate::metric::Unit::Duration) {
                found.push((SlaError::Unit(message), Some(threshold.span())));
            } else if !matches!(
                bound.op,
                super::threshold::Op::Lt | super::threshold::Op::Le
            ) {
                found.push((
                    SlaError::SloNotUpperBound {
                        key: name.to_string(),
                    },
                    Some(threshold.span()),
                ));
            }
            for (request, _, sent) in &mix {
                let measured = sent.measured();
                if measured == Measured::Http {
                    continue;
                }
                if !measures(measured).contains(slo) {
                    found.push((
                        SlaError::SloNotMeasured {
                            key: slo,
                            request: request.to_string(),
                            measured,
                        },
                        Some(key.span()),
                    ));
                }
            }
        }
        if let (Some((key, _)), Some((request, _, _))) = (
            self.settings
                .slo
                .iter()
                .min_by_key(|(key, _)| key.span().start),
            mix.iter()
                .find(|(_, _, sent)| sent.measured() == Measured::Http),
        ) {
            found.push((SlaError::SloNotModel(request.to_string()), Some(key.span())));
        }
        found
    }
}

/// The SLOs of a check: upper bounds each request must meet to count as good (goodput).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slo {
    pub ttft: Option<Threshold>,
    pub tpot: Option<Threshold>,
    pub itl: Option<Threshold>,
    pub latency: Option<Threshold>,
}

/// Every name of the mix valid and used once.
fn mix_names(entries: &[MixEntry]) -> Vec<Found> {
    let mut found = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let name = entry.request.name();
        if !is_valid_name(name.get_ref()) {
            found.push((
                SlaError::InvalidName(name.get_ref().clone()),
                Some(name.span()),
            ));
        }
        if entries[..i]
            .iter()
            .any(|earlier| earlier.request.name().get_ref() == name.get_ref())
        {
            found.push((
                SlaError::DuplicateName(name.get_ref().clone()),
                Some(name.span()),
            ));
        }
    }
    found
}

impl ModelSpec {
    /// The model's keys written beside a steady `load`, where they do not belong.
    fn beside_load(&self) -> Vec<Found> {
        [
            ("warmup", self.warmup.as_ref().map(Spanned::span)),
            ("think", self.think.as_ref().map(Spanned::span)),
            ("arrival", self.arrival.as_ref().map(Spanned::span)),
            (
                "max_in_flight",
                self.max_in_flight.as_ref().map(Spanned::span),
            ),
        ]
        .into_iter()
        .filter_map(|(key, at)| Some((SlaError::BesideLoad { key }, Some(at?))))
        .collect()
    }
}

/// The stages of each model that a stage list holds.
#[derive(Default)]
struct Levels {
    closed: Vec<Stage<u32>>,
    open: Vec<Stage<f64>>,
    /// The stage (from 1) that set the model, and whether it is closed.
    model: Option<(usize, bool)>,
}

/// The load plan of stages and the model's keys; `at` is where the load is written.
fn plan(
    stages: &[&Spanned<StageSpec>],
    keys: &ModelSpec,
    max_requests: Option<&Spanned<f64>>,
    at: Range<usize>,
) -> Result<LoadPlan, Vec<Found>> {
    let mut found = Vec::new();
    if stages.is_empty() {
        found.push((SlaError::NoStages, Some(at.clone())));
    }
    let mut levels = Levels::default();
    for (i, stage) in stages.iter().enumerate() {
        if let Err(error) = levels.add(i + 1, stage) {
            found.push(error);
        }
        let stage = stage.get_ref();
        if let Some(ramp) = &stage.ramp
            && ramp.get_ref().0 > stage.duration.get_ref().0
        {
            let error = SlaError::RampTooLong {
                ramp: ramp.get_ref().to_string(),
                stage: stage.duration.get_ref().to_string(),
            };
            found.push((error, Some(ramp.span())));
        }
    }
    // Whether the load is closed, once a stage has said.
    let closed = levels.model.map(|(_, closed)| closed);
    if closed == Some(true) {
        let why = "; a closed loop has as many requests in flight as users";
        if let Some(arrival) = &keys.arrival {
            let error = SlaError::OpenOnly {
                key: "arrival",
                why: "",
            };
            found.push((error, Some(arrival.span())));
        }
        if let Some(limit) = &keys.max_in_flight {
            let error = SlaError::OpenOnly {
                key: "max_in_flight",
                why,
            };
            found.push((error, Some(limit.span())));
        }
    } else if let (Some(false), Some(think)) = (closed, &keys.think) {
        found.push((SlaError::ClosedOnly, Some(think.span())));
    }
    let max_in_flight = keys.max_in_flight.as_ref();
    let max_in_flight = bounded("max_in_flight", max_in_flight, MAX_IN_FLIGHT, &mut found);
    let max_requests = bounded("max_requests", max_requests, MAX_REQUESTS, &mut found);
    let warmup = keys
        .warmup
        .as_ref()
        .map_or(Duration::ZERO, |w| w.get_ref().0);
    let measured: Duration = stages
        .iter()
        .map(|s| s.get_ref().duration.get_ref().0)
        .sum();
    if measured + warmup > MAX_RUN {
        found.push((
            SlaError::TooLong(format_duration(measured + warmup)),
            Some(at),
        ));
    }
    if let Some(written) = &keys.warmup
        && warmup >= measured
    {
        let error = SlaError::WarmupTooLong {
            warmup: format_duration(warmup),
            stages: format_duration(measured),
        };
        found.push((error, Some(written.span())));
    }
    if !found.is_empty() {
        return Err(found);
    }
    // No problem found: some stage set the model.
    let model = if closed == Some(true) {
        LoadModel::Closed {
            stages: levels.closed,
            think: keys
                .think
                .as_ref()
                .map_or(Duration::ZERO, |t| t.get_ref().0),
        }
    } else {
        LoadModel::Open {
            stages: levels.open,
            arrival: keys
                .arrival
                .as_ref()
                .map_or_else(Arrival::default, |a| *a.get_ref()),
            max_in_flight: max_in_flight.map(|n| n as u32),
        }
    };
    Ok(LoadPlan {
        model,
        warmup,
        max_requests,
    })
}

impl Levels {
    /// Adds stage `number` (from 1) to its model's list, or says why it cannot.
    fn add(&mut self, number: usize, stage: &Spanned<StageSpec>) -> Result<(), Found> {
        let at = stage.span();
        let stage = stage.get_ref();
        let (closed, level) = match (&stage.users, &stage.rate) {
            (Some(_), Some(rate)) => return Err((SlaError::UsersAndRate, Some(rate.span()))),
            (None, None) => return Err((SlaError::NoLevel, Some(at))),
            (Some(users), None) => (true, users),
            (None, Some(rate)) => (false, rate),
        };
        let (first, model_closed) = *self.model.get_or_insert((number, closed));
        if model_closed != closed {
            let (key, other) = if closed {
                ("users", "rate")
            } else {
                ("rate", "users")
            };
            let error = SlaError::MixedModels {
                stage: number,
                first,
                key,
                other,
            };
            return Err((error, Some(level.span())));
        }
        let duration = stage.duration.get_ref().0;
        let ramp = stage
            .ramp
            .as_ref()
            .map_or(Duration::ZERO, |r| r.get_ref().0);
        if closed {
            let users = whole("users", level, MAX_USERS).map_err(|e| (e, Some(level.span())))?;
            let level = users as u32;
            self.closed.push(Stage {
                level,
                duration,
                ramp,
            });
        } else {
            let rate = *level.get_ref();
            if !(rate > 0.0 && rate <= MAX_RATE) {
                return Err((SlaError::Rate(rate), Some(level.span())));
            }
            self.open.push(Stage {
                level: rate,
                duration,
                ramp,
            });
        }
        Ok(())
    }
}

impl LoadPlan {
    /// How many stages the load has (a steady load has one).
    fn stage_count(&self) -> usize {
        match &self.model {
            LoadModel::Closed { stages, .. } => stages.len(),
            LoadModel::Open { stages, .. } => stages.len(),
        }
    }
}

/// The whole number `limit` holds, if it is given and valid; else `None`, and the
/// problem in `found`.
fn bounded(
    key: &'static str,
    limit: Option<&Spanned<f64>>,
    max: u64,
    found: &mut Vec<Found>,
) -> Option<u64> {
    let limit = limit?;
    whole(key, limit, max)
        .map_err(|error| found.push((error, Some(limit.span()))))
        .ok()
}

/// A whole number from 1 to `max`.
fn whole(key: &'static str, value: &Spanned<f64>, max: u64) -> Result<u64, SlaError> {
    let number = *value.get_ref();
    if number.fract() == 0.0 && number >= 1.0 && number <= max as f64 {
        Ok(number as u64)
    } else {
        Err(SlaError::NotWhole {
            key,
            value: number,
            max,
        })
    }
}

/// What a threshold key is checked against.
struct Context<'a> {
    mix: Vec<(&'a str, u32, &'a CheckRequest)>,
    /// `None` when the load is not valid.
    stages: Option<usize>,
    open: Option<bool>,
    slo: bool,
}

impl<'a> Context<'a> {
    /// A threshold key resolved: its figure, scope and stage.
    fn threshold<'k>(
        &self,
        key: &'k str,
    ) -> Result<(FigureRef, Option<&'k str>, Option<usize>), SlaError> {
        let parts = split_key(key);
        let stage = match parts.stage {
            None => None,
            Some(text) => {
                let stage: usize = text
                    .parse()
                    .map_err(|_| SlaError::BadStage(key.to_string()))?;
                match self.stages {
                    Some(count) if !(1..=count).contains(&stage) => {
                        return Err(SlaError::NoSuchStage { stage, count });
                    }
                    _ => Some(stage),
                }
            }
        };
        let requests: Vec<(&str, Measured)> = match parts.scope {
            None => self
                .mix
                .iter()
                .map(|(name, _, r)| (*name, r.measured()))
                .collect(),
            Some(scope) => {
                let Some((name, _, request)) = self.mix.iter().find(|(name, _, _)| *name == scope)
                else {
                    let names: Vec<&str> = self.mix.iter().map(|(name, _, _)| *name).collect();
                    let hint = closest(scope, &names)
                        .map_or_else(String::new, |c| format!("; did you mean \"{c}\"?"));
                    return Err(SlaError::NoSuchRequest {
                        name: scope.to_string(),
                        hint,
                        names: names.join(", "),
                    });
                };
                vec![(*name, request.measured())]
            }
        };
        let figure = self.figure(
            parts.figure,
            &requests,
            parts.scope.is_none() && self.mix.len() > 1,
        )?;
        Ok((figure, parts.scope, stage))
    }

    /// A figure measured by each of `requests` under this load.
    fn figure(
        &self,
        text: &str,
        requests: &[(&str, Measured)],
        unscoped_mix: bool,
    ) -> Result<FigureRef, SlaError> {
        let figure = resolve(text).map_err(SlaError::Figure)?;
        let metric = figure.metric.name;
        let hint = if unscoped_mix {
            "; scope the threshold to a request that measures it: \"<figure>{name}\""
        } else {
            ""
        };
        let missing = |measured: Measured| match metric {
            "output_tokens_per_s" => !matches!(measured, Measured::Generation { .. }),
            run if RUN_FIGURES.contains(&run) => false,
            _ => !measures(measured).contains(&metric),
        };
        if let Some((request, measured)) = requests.iter().find(|(_, m)| missing(*m)) {
            let mut list: Vec<&str> = measures(*measured).to_vec();
            list.extend(RUN_FIGURES.iter().filter(|f| **f != "output_tokens_per_s"));
            if matches!(measured, Measured::Generation { .. }) {
                list.push("output_tokens_per_s");
            }
            return Err(SlaError::NotMeasured {
                metric,
                request: request.to_string(),
                measured: *measured,
                measures: list.join(", "),
                hint,
            });
        }
        if RUN_FIGURES.contains(&metric) {
            if figure.stat.is_some() {
                return Err(SlaError::RunFigureStat(metric));
            }
            return match metric {
                "goodput" if !self.slo => Err(SlaError::GoodputWithoutSlo),
                "late" | "dropped" if self.open == Some(false) => {
                    Err(SlaError::OpenLoopFigure(metric))
                }
                _ => Ok(figure),
            };
        }
        match figure.stat {
            None => Err(SlaError::NoStatistic(metric)),
            Some(stat) if LOAD_STATS.contains(&stat) => Ok(figure),
            Some(stat) => Err(SlaError::StatNotUnderLoad {
                stat: stat.name(),
                hint: if stat == Stat::Median {
                    " (p50 is the median)"
                } else {
                    ""
                },
            }),
        }
    }
}

/// The durations each kind of request measures under load, each read through its
/// histogram's statistics.
fn measures(measured: Measured) -> &'static [&'static str] {
    match measured {
        Measured::Generation { stream: true } => &["ttft", "itl", "tpot", "latency"],
        // Without a stream the first token comes with the last: no gaps, no decode time.
        Measured::Generation { stream: false } => &["ttft", "latency"],
        Measured::Embeddings | Measured::Http => &["latency"],
    }
}

/// A threshold key taken apart: `latency.p99{search}@2`.
#[derive(Debug, PartialEq, Eq)]
struct Key<'a> {
    figure: &'a str,
    scope: Option<&'a str>,
    stage: Option<&'a str>,
}

fn split_key(key: &str) -> Key<'_> {
    let (rest, stage) = match key.rsplit_once('@') {
        Some((rest, stage)) => (rest, Some(stage)),
        None => (key, None),
    };
    let (figure, scope) = match rest.strip_suffix('}').and_then(|r| r.split_once('{')) {
        Some((figure, scope)) => (figure, Some(scope)),
        None => (rest, None),
    };
    Key {
        figure,
        scope,
        stage,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::parse_scenario;
    use rstest::rstest;

    const HEAD: &str = "[target]\nbase_url = \"http://127.0.0.1:1\"\n[[sla]]\nname = \"s\"\n";

    fn parse(check: &str) -> Result<SlaCheck, String> {
        parse_scenario(&format!("{HEAD}{check}"), &|_: &str| None)
            .map(|mut doc| doc.sla.remove(0).into_inner())
            .map_err(|e| e.to_string())
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[rstest]
    #[case::closed(
        "get = \"/\"\nload = { users = 4, duration = \"10s\", think = \"0s\", warmup = \"2s\" }\n",
        LoadPlan {
            model: LoadModel::Closed {
                stages: vec![Stage { level: 4, duration: secs(10), ramp: Duration::ZERO }],
                think: Duration::ZERO,
            },
            warmup: secs(2),
            max_requests: None,
        }
    )]
    #[case::open(
        "get = \"/\"\nload = { rate = 200, duration = \"5s\", arrival = \"poisson\", max_in_flight = 256 }\nmax_requests = 1000\n",
        LoadPlan {
            model: LoadModel::Open {
                stages: vec![Stage { level: 200.0, duration: secs(5), ramp: Duration::ZERO }],
                arrival: Arrival::Poisson,
                max_in_flight: Some(256),
            },
            warmup: Duration::ZERO,
            max_requests: Some(1000),
        }
    )]
    #[case::stages(
        "get = \"/\"\nstages = [{ users = 1, duration = \"2s\" }, { users = 4, duration = \"3s\", ramp = \"1s\" }]\nwarmup = \"1s\"\nthink = \"100ms\"\n",
        LoadPlan {
            model: LoadModel::Closed {
                stages: vec![
                    Stage { level: 1, duration: secs(2), ramp: Duration::ZERO },
                    Stage { level: 4, duration: secs(3), ramp: secs(1) },
                ],
                think: Duration::from_millis(100),
            },
            warmup: secs(1),
            max_requests: None,
        }
    )]
    #[case::steady_with_a_ramp(
        "get = \"/\"\nload = { users = 8, duration = \"10m\", ramp = \"1m\" }\n",
        LoadPlan {
            model: LoadModel::Closed {
                stages: vec![Stage { level: 8, duration: secs(600), ramp: secs(60) }],
                think: Duration::ZERO,
            },
            warmup: Duration::ZERO,
            max_requests: None,
        }
    )]
    #[case::open_stages(
        "get = \"/\"\nstages = [{ rate = 0.5, duration = \"1m\" }, { rate = 10, duration = \"59m\" }]\n",
        LoadPlan {
            model: LoadModel::Open {
                stages: vec![
                    Stage { level: 0.5, duration: secs(60), ramp: Duration::ZERO },
                    Stage { level: 10.0, duration: secs(3540), ramp: Duration::ZERO },
                ],
                arrival: Arrival::Constant,
                max_in_flight: None,
            },
            warmup: Duration::ZERO,
            max_requests: None,
        }
    )]
    fn describes_the_load(#[case] check: &str, #[case] expected: LoadPlan) {
        assert_eq!(parse(check).unwrap().load(), Ok(expected));
    }

    #[test]
    fn a_single_request_is_a_mix_of_one_named_after_the_check() {
        let check = parse(
            "model = \"m\"\nprompt = \"p\"\ntimeout = \"5s\"\nload = { users = 1, duration = \"1s\" }\nabort_on_fail = true\n",
        )
        .unwrap();
        let mix = check.mix();
        assert_eq!(mix.len(), 1);
        assert_eq!((mix[0].0, mix[0].1), ("s", 1));
        assert_eq!(mix[0].2.measured(), Measured::Generation { stream: true });
        assert!(check.abort_on_fail());
    }

    /// A mix of an HTTP request and a generation, with `keys` at the check's top level.
    fn mix(keys: &str) -> String {
        format!(
            "load = {{ rate = 10, duration = \"10s\" }}\n{keys}\
             [[sla.requests]]\nname = \"search\"\nweight = 60\nget = \"/search\"\n\
             [[sla.requests]]\nname = \"gen\"\nweight = 40\nmodel = \"m\"\nprompt = \"p\"\n"
        )
    }

    #[test]
    fn a_mix_is_named_weighted_requests() {
        let check = parse(&mix("")).unwrap();
        let mix: Vec<(&str, u32, Measured)> = check
            .mix()
            .into_iter()
            .map(|(name, weight, request)| (name, weight, request.measured()))
            .collect();
        assert_eq!(
            mix,
            [
                ("search", 60, Measured::Http),
                ("gen", 40, Measured::Generation { stream: true })
            ]
        );
    }

    #[test]
    fn thresholds_resolve_with_their_scope_and_stage() {
        let check = parse(
            "model = \"m\"\nprompt = \"p\"\n\
             stages = [{ rate = 1, duration = \"1s\" }, { rate = 2, duration = \"1s\" }]\n\
             slo = { ttft = \"< 1s\", tpot = \"<= 50ms\" }\n\
             thresholds = { \"latency.p99\" = \"< 10ms\", error_rate = \"< 1%\", throughput = \">= 100/s\", goodput = \"> 95%\", \"ttft.p99.9{s}@2\" = \"< 1s\", dropped = \"== 0\" }\n",
        )
        .unwrap();
        let resolved: Vec<(String, Option<String>, Option<usize>, String)> = check
            .thresholds()
            .unwrap()
            .into_iter()
            .map(|t| {
                (
                    t.figure.to_string(),
                    t.scope,
                    t.stage,
                    t.threshold.to_string(),
                )
            })
            .collect();
        let expected = [
            ("latency.p99", None, None, "< 10ms"),
            ("error_rate", None, None, "< 1%"),
            ("throughput", None, None, ">= 100/s"),
            ("goodput", None, None, "> 95%"),
            ("ttft.p99.9", Some("s"), Some(2), "< 1s"),
            ("dropped", None, None, "== 0"),
        ]
        .map(|(f, scope, stage, t)| {
            (
                f.to_string(),
                scope.map(str::to_string),
                stage,
                t.to_string(),
            )
        });
        assert_eq!(resolved, expected);
    }

    #[rstest]
    #[case("latency.p99", Key { figure: "latency.p99", scope: None, stage: None })]
    #[case("latency.p99{search}", Key { figure: "latency.p99", scope: Some("search"), stage: None })]
    #[case("latency.p99@2", Key { figure: "latency.p99", scope: None, stage: Some("2") })]
    #[case("ttft.p99.9{a.b}@10", Key { figure: "ttft.p99.9", scope: Some("a.b"), stage: Some("10") })]
    #[case("latency.p99@2{x}", Key { figure: "latency.p99", scope: None, stage: Some("2{x}") })]
    #[case("error_rate{", Key { figure: "error_rate{", scope: None, stage: None })]
    fn threshold_keys_are_taken_apart(#[case] key: &str, #[case] expected: Key<'_>) {
        assert_eq!(split_key(key), expected);
    }

    const GET: &str = "get = \"/\"\n";
    const USERS: &str = "get = \"/\"\nload = { users = 2, duration = \"10s\" }\n";
    const RATE: &str = "get = \"/\"\nload = { rate = 2, duration = \"10s\" }\n";
    const GEN: &str = "model = \"m\"\nprompt = \"p\"\nload = { users = 2, duration = \"10s\" }\n";

    /// Each rule, at the key or value it is about (`line:col` of the scenario file).
    #[rstest]
    #[case::no_load(GET, "3:1: sla check \"s\" has no load: add load = {")]
    #[case::load_and_stages(
        "get = \"/\"\nload = { users = 1, duration = \"1s\" }\nstages = [{ users = 1, duration = \"1s\" }]\n",
        "7:10: sla check \"s\" has both load and stages"
    )]
    #[case::users_and_rate(
        "get = \"/\"\nload = { users = 1, rate = 2, duration = \"1s\" }\n",
        "6:28: sla check \"s\" gives both users and rate"
    )]
    #[case::no_level(
        "get = \"/\"\nload = { duration = \"1s\" }\n",
        "6:8: sla check \"s\" gives neither users (a closed loop) nor rate (an open loop)"
    )]
    #[case::load_not_a_table("get = \"/\"\nload = 4\n", "6:8: load is a table: write load = {")]
    #[case::unknown_load_key(
        "get = \"/\"\nload = { users = 1, duration = \"1s\", thnk = \"1s\" }\n",
        "6:38: unknown key `thnk` in load; did you mean `think`?; load keys: users, rate, duration, ramp, warmup, think, arrival, max_in_flight"
    )]
    #[case::no_duration("get = \"/\"\nload = { users = 1 }\n", "6:8: missing field `duration`")]
    #[case::zero_duration(
        "get = \"/\"\nload = { users = 1, duration = \"0s\" }\n",
        "6:32: duration \"0s\" is zero"
    )]
    #[case::mixed_models(
        "get = \"/\"\nstages = [{ users = 1, duration = \"1s\" }, { rate = 3, duration = \"1s\" }]\n",
        "6:52: sla check \"s\": stage 2 gives rate, and stage 1 users: every stage is of one model"
    )]
    #[case::fractional_users(
        "get = \"/\"\nload = { users = 1.5, duration = \"1s\" }\n",
        "6:18: sla check \"s\": users = 1.5: give a whole number from 1 to 1000000"
    )]
    #[case::no_users(
        "get = \"/\"\nload = { users = 0, duration = \"1s\" }\n",
        "users = 0: give a whole number from 1 to 1000000"
    )]
    #[case::too_many_users(
        "get = \"/\"\nload = { users = 1000001, duration = \"1s\" }\n",
        "users = 1000001: give a whole number"
    )]
    #[case::zero_rate(
        "get = \"/\"\nload = { rate = 0, duration = \"1s\" }\n",
        "6:17: sla check \"s\": rate = 0: give requests per second above 0 and at most 1000000"
    )]
    #[case::too_high_rate(
        "get = \"/\"\nload = { rate = 2e6, duration = \"1s\" }\n",
        "rate = 2000000: give requests per second"
    )]
    #[case::ramp_longer_than_stage(
        "get = \"/\"\nstages = [{ users = 1, duration = \"1s\", ramp = \"2s\" }]\n",
        "6:48: sla check \"s\": ramp 2s is longer than its stage (1s)"
    )]
    #[case::empty_stages(
        "get = \"/\"\nstages = []\n",
        "6:10: sla check \"s\": stages is an empty list"
    )]
    #[case::over_an_hour(
        "get = \"/\"\nstages = [{ users = 1, duration = \"59m\" }]\nwarmup = \"2m\"\n",
        "6:10: sla check \"s\": the stages and warmup take 3660s, more than 1h"
    )]
    #[case::warmup_as_long_as_the_load(
        "get = \"/\"\nload = { users = 1, duration = \"2s\", warmup = \"2s\" }\n",
        "6:47: sla check \"s\": warmup 2s is not shorter than the stages (2s)"
    )]
    #[case::warmup_beside_load(
        "get = \"/\"\nload = { users = 1, duration = \"2s\" }\nwarmup = \"1s\"\n",
        "7:10: sla check \"s\": warmup goes inside load = { ... } with a steady load"
    )]
    #[case::think_in_an_open_loop(
        "get = \"/\"\nload = { rate = 1, duration = \"2s\", think = \"1s\" }\n",
        "6:45: sla check \"s\": think applies to a closed loop (users)"
    )]
    #[case::arrival_in_a_closed_loop(
        "get = \"/\"\nstages = [{ users = 1, duration = \"2s\" }]\narrival = \"poisson\"\n",
        "7:11: sla check \"s\": arrival applies to an open loop (rate), and this load is closed (users): drop arrival"
    )]
    #[case::max_in_flight_in_a_closed_loop(
        "get = \"/\"\nload = { users = 1, duration = \"2s\", max_in_flight = 4 }\n",
        "max_in_flight applies to an open loop (rate), and this load is closed (users): drop max_in_flight; a closed loop has as many requests in flight as users"
    )]
    #[case::no_max_in_flight(
        "get = \"/\"\nload = { rate = 1, duration = \"2s\", max_in_flight = 0 }\n",
        "6:53: sla check \"s\": max_in_flight = 0: give a whole number from 1 to 1000000"
    )]
    #[case::no_max_requests(
        &format!("{USERS}max_requests = -1\n"),
        "7:16: sla check \"s\": max_requests = -1: give a whole number from 1"
    )]
    #[case::unknown_arrival(
        "get = \"/\"\nload = { rate = 1, duration = \"2s\", arrival = \"posson\" }\n",
        "unknown variant `posson`, expected `constant` or `poisson`"
    )]
    #[case::unknown_key(
        &format!("{USERS}treshold = 1\n"),
        "7:1: unknown key `treshold` in an sla check of an HTTP request; did you mean `thresholds`?"
    )]
    #[case::abort_not_a_bool(&format!("{USERS}abort_on_fail = \"yes\"\n"), "7:17: invalid type: string \"yes\", expected a boolean")]
    #[case::request_and_mix(
        "get = \"/\"\nload = { users = 1, duration = \"2s\" }\n[[sla.requests]]\nname = \"a\"\nweight = 1\nget = \"/\"\n",
        "5:1: an sla check has a request at its top level (get) and [[sla.requests]]"
    )]
    #[case::empty_mix(
        "load = { users = 1, duration = \"2s\" }\nrequests = []\n",
        "6:12: sla check \"s\": requests is an empty list"
    )]
    #[case::duplicate_mix_name(
        "load = { users = 1, duration = \"2s\" }\n[[sla.requests]]\nname = \"a\"\nweight = 1\nget = \"/\"\n[[sla.requests]]\nname = \"a\"\nweight = 2\nget = \"/x\"\n",
        "11:8: sla check \"s\": request name \"a\" is used twice in the mix"
    )]
    #[case::invalid_mix_name(
        "load = { users = 1, duration = \"2s\" }\n[[sla.requests]]\nname = \"a{b}\"\nweight = 1\nget = \"/\"\n",
        "7:8: sla check \"s\": invalid request name \"a{b}\""
    )]
    #[case::no_weight(
        "load = { users = 1, duration = \"2s\" }\n[[sla.requests]]\nname = \"a\"\nget = \"/\"\n",
        "6:1: missing field `weight`"
    )]
    #[case::zero_weight(
        "load = { users = 1, duration = \"2s\" }\n[[sla.requests]]\nname = \"a\"\nweight = 0\nget = \"/\"\n",
        "8:10: sla check \"s\": weight = 0: give a whole number from 1 to 1000000"
    )]
    #[case::broken_mix_request(
        "load = { users = 1, duration = \"2s\" }\n[[sla.requests]]\nname = \"a\"\nweight = 1\n",
        "6:1: sla check \"s\", request \"a\" has no request: add get"
    )]
    #[case::model_key_in_an_http_entry(
        "load = { users = 1, duration = \"2s\" }\n[[sla.requests]]\nname = \"a\"\nweight = 1\nprompt = \"p\"\n",
        "9:1: unknown key `prompt` in a request of an sla mix of an HTTP request (it belongs to a model request: add model = \"...\")"
    )]
    #[case::no_statistic(
        &format!("{USERS}thresholds = {{ latency = \"< 1s\" }}\n"),
        "7:16: sla check \"s\": latency varies from request to request: name a statistic of it, such as \"latency.p99\""
    )]
    #[case::median(
        &format!("{USERS}thresholds = {{ \"latency.median\" = \"< 1s\" }}\n"),
        "median is not taken under load (p50 is the median)"
    )]
    #[case::stddev(
        &format!("{USERS}thresholds = {{ \"latency.stddev\" = \"< 1s\" }}\n"),
        "stddev is not taken under load: an sla keeps each duration in a histogram, read as p50, p90, p95, p99, p99.9, min, max or mean"
    )]
    #[case::unknown_metric(
        &format!("{USERS}thresholds = {{ \"latncy.p99\" = \"< 1s\" }}\n"),
        "unknown metric \"latncy.p99\"; did you mean \"latency\"? in thresholds"
    )]
    #[case::run_figure_statistic(
        &format!("{USERS}thresholds = {{ \"throughput.p99\" = \"> 1\" }}\n"),
        "throughput is one figure of the whole run: write throughput = ..., without a statistic"
    )]
    #[case::wrong_unit(
        &format!("{USERS}thresholds = {{ throughput = \"> 1%\" }}\n"),
        "7:29: sla check \"s\": threshold \"> 1%\" does not fit throughput"
    )]
    #[case::ratio_without_percent(
        &format!("{USERS}thresholds = {{ error_rate = \"< 0.01\" }}\n"),
        "threshold \"< 0.01\" does not fit error_rate: it takes a percentage"
    )]
    #[case::http_ttft(
        &format!("{USERS}thresholds = {{ \"ttft.p95\" = \"< 1s\" }}\n"),
        "ttft is not measured under load for request \"s\" (an HTTP request); it measures latency, error_rate, throughput, goodput, late, dropped"
    )]
    #[case::tokens_of_embeddings(
        "model = \"m\"\ninput = \"a\"\nload = { users = 1, duration = \"2s\" }\nthresholds = { output_tokens_per_s = \"> 1\" }\n",
        "output_tokens_per_s is not measured under load for request \"s\" (an embeddings request)"
    )]
    #[case::itl_not_streamed(
        "model = \"m\"\nprompt = \"p\"\nstream = false\nload = { users = 1, duration = \"2s\" }\nthresholds = { \"itl.p99\" = \"< 1s\" }\n",
        "itl is not measured under load for request \"s\" (a generation not streamed)"
    )]
    #[case::unscoped_in_a_mix(
        &mix("thresholds = { \"ttft.p95\" = \"< 1s\" }\n"),
        "ttft is not measured under load for request \"search\" (an HTTP request); it measures latency, error_rate, throughput, goodput, late, dropped; scope the threshold to a request that measures it"
    )]
    #[case::unknown_scope(
        &mix("thresholds = { \"latency.p99{serch}\" = \"< 1s\" }\n"),
        "{serch}: no request of this check is named \"serch\"; did you mean \"search\"?; its requests: search, gen"
    )]
    #[case::scope_to_http(
        &mix("thresholds = { \"ttft.p99{search}\" = \"< 1s\" }\n"),
        "ttft is not measured under load for request \"search\" (an HTTP request); it measures latency"
    )]
    #[case::stage_out_of_range(
        &format!("{USERS}thresholds = {{ \"latency.p99@2\" = \"< 1s\" }}\n"),
        "7:16: sla check \"s\": @2: this load has 1 stage(s), numbered from 1"
    )]
    #[case::stage_zero(
        &format!("{USERS}thresholds = {{ \"latency.p99@0\" = \"< 1s\" }}\n"),
        "@0: this load has 1 stage(s)"
    )]
    #[case::stage_not_a_number(
        &format!("{USERS}thresholds = {{ \"latency.p99@x\" = \"< 1s\" }}\n"),
        "invalid stage in threshold \"latency.p99@x\": write @N"
    )]
    #[case::late_in_a_closed_loop(
        &format!("{USERS}thresholds = {{ late = \"== 0\" }}\n"),
        "late counts requests an open loop sent late or dropped, and this load is closed (users)"
    )]
    #[case::dropped_as_a_duration(
        &format!("{RATE}thresholds = {{ dropped = \"< 1s\" }}\n"),
        "does not fit dropped: it takes a plain number"
    )]
    #[case::goodput_without_slo(
        &format!("{GEN}thresholds = {{ goodput = \"> 95%\" }}\n"),
        "8:16: sla check \"s\": goodput is the share of requests that meet the slo"
    )]
    #[case::unknown_slo(
        &format!("{GEN}slo = {{ tfft = \"< 1s\" }}\n"),
        "8:9: sla check \"s\": unknown slo key `tfft`; did you mean `ttft`?; slo keys: ttft, tpot, itl, latency"
    )]
    #[case::slo_lower_bound(
        &format!("{GEN}slo = {{ ttft = \"> 1s\" }}\n"),
        "8:16: sla check \"s\": slo ttft is an upper bound on each request"
    )]
    #[case::slo_not_a_duration(
        &format!("{GEN}slo = {{ ttft = \"< 1\" }}\n"),
        "threshold \"< 1\" does not fit ttft: it takes a duration"
    )]
    #[case::slo_of_http(
        &format!("{USERS}slo = {{ latency = \"< 1s\" }}\n"),
        "7:9: sla check \"s\": slo applies to model requests, and request \"s\" is an HTTP request"
    )]
    #[case::slo_of_embeddings(
        "model = \"m\"\ninput = \"a\"\nload = { users = 1, duration = \"2s\" }\nslo = { ttft = \"< 1s\" }\n",
        "slo ttft is not measured for request \"s\" (an embeddings request)"
    )]
    #[case::per_request_threshold(
        &format!("{GEN}expect = {{ ttft = \"< 1s\" }}\n"),
        "8:12: sla check \"s\": a threshold on one request's ttft does not apply to an sla check"
    )]
    #[case::max_latency(
        &format!("{USERS}expect = {{ max_latency = \"1s\" }}\n"),
        "max_latency does not apply to an sla check"
    )]
    #[case::both_stream_modes(
        "model = \"m\"\nprompt = \"p\"\nstream = [true, false]\nload = { users = 1, duration = \"2s\" }\n",
        "stream takes one mode in an sla check"
    )]
    fn rejects(#[case] check: &str, #[case] message: &str) {
        let error = parse(check).expect_err("an error");
        assert!(error.contains(message), "{error}");
    }

    #[test]
    fn every_problem_of_a_check_is_reported_in_file_order() {
        let error = parse(
            "get = \"/\"\nload = { users = 0, duration = \"2s\", arrival = \"poisson\" }\nthresholds = { latency = \"< 1s\", \"ttfb.p99\" = \"< 1s\" }\n",
        )
        .unwrap_err();
        let places: Vec<&str> = error
            .lines()
            .map(|line| line.split(": ").next().unwrap())
            .collect();
        assert_eq!(places, ["6:18", "6:48", "7:16", "7:34"], "{error}");
    }

    #[rstest]
    #[case("sla = 1\n", "1:7: sla is an array of tables: write [[sla]]")]
    #[case(
        "[sla]\nname = \"s\"\n",
        "1:1: sla is an array of tables: write [[sla]]"
    )]
    #[case(
        "[[sla]]\nname = \"s\"\nload = { users = 1, duration = \"1s\" }\nrequests = [1]\n",
        "4:13: a request of the mix is a table: write [[sla.requests]]"
    )]
    fn sla_checks_are_arrays_of_tables(#[case] body: &str, #[case] message: &str) {
        let text = format!("{body}[target]\nbase_url = \"http://127.0.0.1:1\"\n");
        let error = parse_scenario(&text, &|_: &str| None)
            .unwrap_err()
            .to_string();
        assert_eq!(error, message);
    }

    /// The README's example is a valid file, with the loads it says.
    #[test]
    fn the_readme_example_parses() {
        let readme = include_str!("../../README.md");
        let section = readme.split("### `[[sla]]`").nth(1).unwrap();
        let example = section.split("```toml\n").nth(1).unwrap();
        let example = example.split("```").next().unwrap();
        let text = format!("[target]\nbase_url = \"http://127.0.0.1:1\"\n{example}");
        let doc = parse_scenario(&text, &|_: &str| None).unwrap();
        let stages: Vec<usize> = doc
            .sla
            .iter()
            .map(|check| check.get_ref().load().unwrap().stage_count())
            .collect();
        assert_eq!(stages, [1, 1, 2]);
        let ladder = doc.sla[2].get_ref();
        assert_eq!(ladder.mix().len(), 2);
        assert_eq!(ladder.thresholds().unwrap().len(), 2);
    }

    #[test]
    fn sla_check_names_are_unique() {
        let text = format!("{HEAD}{USERS}[[sla]]\nname = \"s\"\n{USERS}");
        let error = parse_scenario(&text, &|_: &str| None)
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("8:8: duplicate sla check name \"s\": also defined at 4:8"),
            "{error}"
        );
    }
}
