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

mod error;
mod figures;
mod load;
mod mix;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::text::closest;

use super::Threshold;
use super::request::{
    CheckRequest, Measured, Owner, Placed, Problem, error_at, split, table_value, tables,
};

pub use error::{Found, SlaError};
pub use figures::{LOAD_STATS, SlaThreshold};
pub use load::{Arrival, LoadModel, LoadPlan, Stage};

use figures::{Context, SLO_KEYS, measures};
use load::{MODEL_KEYS, ModelSpec, StageSpec, plan, steady_load, whole};
use mix::{MAX_WEIGHT, MixEntry, mix_entries, mix_names};

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

/// The entries of `table` under `keys`, taken out of it.
fn take<'a>(table: &mut DeTable<'a>, keys: &[&str]) -> DeTable<'a> {
    keys.iter()
        .filter_map(|key| table.remove_entry(*key))
        .collect()
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

    /// [`SlaCheck::mix`] taken out of the check, to be built for sending: each request with
    /// its name and weight (a single request: one, named after the check, of weight 1).
    pub fn into_mix(self) -> Vec<(String, u32, CheckRequest)> {
        match self.requests {
            Requests::One(request) => vec![(self.name.into_inner(), 1, request)],
            Requests::Mix(entries) => entries
                .into_inner()
                .into_iter()
                .map(|entry| {
                    let weight = *entry.weight.get_ref() as u32;
                    let name = entry.request.name().get_ref().clone();
                    (name, weight, entry.request)
                })
                .collect(),
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
                let weights = entries.get_ref().iter().map(|e| *e.weight.get_ref());
                let sum: f64 = weights.sum();
                if sum > MAX_WEIGHT as f64 {
                    found.push((SlaError::WeightsTooFine(sum as u64), Some(entries.span())));
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
