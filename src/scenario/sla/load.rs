//! The load of an sla check: its format (`load = { ... }`, or `stages` and the model's
//! keys beside them) and the [`LoadPlan`] the engine runs, validated against the bounds
//! the engine holds. Kept apart from the mix and the thresholds, which only read how
//! many stages the plan has and whether its loop is open.

use std::ops::Range;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;
use toml::de::DeValue;

use crate::scenario::Dur;
use crate::scenario::duration::Wait;
use crate::scenario::request::{Placed, error_at, table_value};
use crate::text::{closest, format_duration};

use super::error::{Found, SlaError};
use super::take;

/// A level held for a while: one of `stages`, or the level of a steady `load`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StageSpec {
    users: Option<Spanned<f64>>,
    rate: Option<Spanned<f64>>,
    duration: Spanned<Dur>,
    ramp: Option<Spanned<Dur>>,
}

/// The keys of the load model that hold for every stage: in `load` for a steady load,
/// beside `stages` for a staged one.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ModelSpec {
    warmup: Option<Spanned<Wait>>,
    think: Option<Spanned<Wait>>,
    arrival: Option<Spanned<Arrival>>,
    max_in_flight: Option<Spanned<f64>>,
}

/// The keys of [`StageSpec`] and [`ModelSpec`], which split a `load` table.
const STAGE_KEYS: &[&str] = &["users", "rate", "duration", "ramp"];
pub(super) const MODEL_KEYS: &[&str] = &["warmup", "think", "arrival", "max_in_flight"];

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

/// Users at most: far beyond what one harness process can keep in flight.
const MAX_USERS: u64 = 1_000_000;
/// Requests per second at most, likewise.
pub(super) const MAX_RATE: f64 = 1_000_000.0;
/// Requests in flight at most.
const MAX_IN_FLIGHT: u64 = 1_000_000;
/// The engine records durations in histograms that hold an hour.
const MAX_RUN: Duration = Duration::from_secs(3600);
/// Requests at most: what the highest rate sends in the longest run.
const MAX_REQUESTS: u64 = 3_600_000_000;

/// `load = { users = 4, duration = "10s", think = "1s" }`: one stage, and the model's keys.
pub(super) fn steady_load(
    value: Spanned<DeValue<'_>>,
) -> Result<(Spanned<StageSpec>, ModelSpec), Placed> {
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

impl ModelSpec {
    /// The model's keys written beside a steady `load`, where they do not belong.
    pub(super) fn beside_load(&self) -> Vec<Found> {
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
pub(super) fn plan(
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
    pub(super) fn stage_count(&self) -> usize {
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
pub(super) fn whole(key: &'static str, value: &Spanned<f64>, max: u64) -> Result<u64, SlaError> {
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
