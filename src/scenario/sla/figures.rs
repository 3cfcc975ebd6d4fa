//! The figures an sla judges: the statistics read of each duration's histogram, the
//! figures of the whole run, the SLO keys, and how a threshold key
//! (`latency.p99{search}@2`) resolves to an [`SlaThreshold`] against what each request
//! of the mix measures and what the load is.

use std::ops::Range;

use crate::metric::{FigureRef, Stat, resolve};
use crate::scenario::Threshold;
use crate::scenario::request::{CheckRequest, Measured};
use crate::text::closest;

use super::error::SlaError;

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
pub(super) const LOAD_STAT_NAMES: &str = "p50, p90, p95, p99, p99.9, min, max or mean";

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
pub(super) const SLO_KEYS: &[&str] = &["ttft", "tpot", "itl", "latency"];
pub(super) const SLO_NAMES: &str = "ttft, tpot, itl, latency";

/// What a threshold key is checked against.
pub(super) struct Context<'a> {
    pub(super) mix: Vec<(&'a str, u32, &'a CheckRequest)>,
    /// `None` when the load is not valid.
    pub(super) stages: Option<usize>,
    pub(super) open: Option<bool>,
    pub(super) slo: bool,
}

impl<'a> Context<'a> {
    /// A threshold key resolved: its figure, scope and stage.
    pub(super) fn threshold<'k>(
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
pub(super) fn measures(measured: Measured) -> &'static [&'static str] {
    match measured {
        Measured::Generation { stream: true } => {
            &["ttft", "itl", "tpot", "tokens_per_s", "latency"]
        }
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
    use rstest::rstest;

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
}
