//! What the runner runs: a case is a named check against a target, or a file that failed
//! to load. What a check does is its [`Spec`], one variant per kind; the kind, and with it
//! the first part of the name, is derived from the spec and never stored beside it.

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use super::naming::case_name;
use crate::client::http::HttpRequest;
use crate::inference::client::Limits;
use crate::inference::request::InferenceRequest;
use crate::judge::baseline::Tolerance;
use crate::kind::Kind;
use crate::load::Plan;
use crate::metric::{FigureRef, Metric};
use crate::scenario::Threshold;
use crate::scenario::diagnostic::SourceFile;
use crate::scenario::request::Measured;
use crate::scenario::sla::{SlaThreshold, Slo};
use crate::scenario::{InferenceCheck, Size, SmokeCheck};
use crate::target::Target;

pub struct Case {
    /// `<kind>::<scenario>::<check>[::<variant>]`, or `load::<scenario>`.
    pub name: String,
    pub scenario: String,
    /// The check's name with its variant (`hx_ok::stream`); empty for a load error.
    pub check: String,
    /// The scenario file, for `file:line:col` in messages and the JUnit `file` attribute.
    pub file: Arc<SourceFile>,
    pub body: CaseBody,
}

pub enum CaseBody {
    /// The file (or suite) could not be loaded; running the case reports this error.
    LoadError(String),
    Check {
        target: Arc<Target>,
        spec: Spec,
    },
}

/// One variant per kind of check: adding a kind adds a variant here, and the compiler then
/// points at every place that must learn it (expansion, scheduling, the runner's dispatch).
pub enum Spec {
    Smoke(Arc<SmokeSpec>),
    Inference(Arc<InferenceSpec>),
    Baseline(Arc<BaselineSpec>),
    Sla(Arc<SlaSpec>),
}

/// How a case may overlap others while it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// Runs beside anything: a smoke check's figures are not thresholds on speed under
    /// contention, and a deploy check should take seconds.
    Parallel,
    /// Measures the timing of its target: no other measuring case may run against the same
    /// server at the same time, or each would measure the other's load (unless the target
    /// says it is meant to be measured concurrently).
    MeasuresTarget,
    /// Runs alone: no other case of any kind or target runs meanwhile. A baseline's
    /// figures are compared with those of another day, so even a smoke check's few
    /// requests, or another server computing on this machine, would be noise in them; an
    /// sla check's load generator needs every core it can get, and would slow the others.
    Alone,
}

/// A smoke check compiled for running: request built, schema compiled, limits settled.
pub struct SmokeSpec {
    pub check: SmokeCheck,
    pub request: HttpRequest,
    pub timeout: Duration,
    pub max_body: Size,
    pub schema: Option<jsonschema::Validator>,
}

/// One variant (streaming or not) of an inference check, ready to send: a generation, or
/// an embeddings request (same kind: a model asked something, its answer and timing judged).
pub struct InferenceSpec {
    pub check: Arc<InferenceCheck>,
    pub schema: Option<Arc<jsonschema::Validator>>,
    pub request: InferenceRequest,
    pub limits: Limits,
}

/// A baseline check compiled for running: the request it repeats, built as its own kind
/// builds it, and how the repetitions are counted and judged.
pub struct BaselineSpec {
    pub request: RepeatedRequest,
    pub measured: Measured,
    pub iterations: u32,
    pub warmup: u32,
    pub pause: Option<Duration>,
    pub max_duration: Duration,
    pub thresholds: Vec<StatThreshold>,
    pub gate: Gate,
}

/// Boxed: a compiled smoke request is large beside a model request.
pub enum RepeatedRequest {
    Http(Box<SmokeSpec>),
    Model(InferenceSpec),
}

/// An sla check compiled for running: what its requests send, and the load as the engine
/// runs it.
pub struct SlaSpec {
    /// What messages call the request: `GET /health`, `POST /v1/chat/completions`, or for a
    /// mix each named request with its share.
    pub request: String,
    /// The requests, built for the engine: one, or the parts of a mix, each with its name
    /// and weight.
    pub sends: Vec<SlaPart>,
    pub plan: Plan,
    /// The thresholds, in the order of the file.
    pub thresholds: Vec<SlaThreshold>,
    /// Stop the run at the first threshold lost on the figures so far.
    pub abort_on_fail: bool,
}

/// One request of an sla check with its name (the check's own for a single request) and
/// weight (its share of a mix is its weight over the sum).
pub struct SlaPart {
    pub name: String,
    pub weight: u64,
    pub request: SlaRequest,
}

/// The request an sla check sends again and again, built as its own kind builds it, so a
/// load sends and judges what a `[[smoke]]` or `[[inference]]` check would.
pub enum SlaRequest {
    /// A plain GET of this URL (no headers, body, expect or max_body, on `http://` to a
    /// target without headers), sent by the engine's lean client and judged by its status.
    Get { url: String },
    /// Any other HTTP request, every answer judged against the check's `expect`.
    Http {
        target: Arc<Target>,
        spec: Box<SmokeSpec>,
    },
    /// A generation (streamed or not) or an embeddings request, every answer judged
    /// against the check's `expect`.
    Model {
        target: Arc<Target>,
        spec: Box<InferenceSpec>,
        /// The check's SLOs; `None` when it has none, and then no goodput.
        slo: Option<Slo>,
    },
}

/// A threshold on a statistic over the iterations (`"ttft.p95" = "< 500ms"`).
pub struct StatThreshold {
    pub figure: FigureRef,
    pub threshold: Threshold,
    /// Where the threshold is written, for `file:line:col` when it fails.
    pub at: Range<usize>,
}

/// How the measurement is compared with the stored baseline.
pub struct Gate {
    pub tolerance: Tolerance,
    /// The metrics whose medians are compared.
    pub metrics: Vec<&'static Metric>,
    /// Whether a missing stored baseline fails the check under `CI`.
    pub required: bool,
    /// Where the check's `regression` table is written (the check itself when absent).
    pub at: Range<usize>,
}

impl Spec {
    pub fn kind(&self) -> Kind {
        match self {
            Spec::Smoke(_) => Kind::Smoke,
            Spec::Inference(_) => Kind::Inference,
            Spec::Baseline(_) => Kind::Baseline,
            Spec::Sla(_) => Kind::Sla,
        }
    }

    pub fn schedule(&self) -> Schedule {
        match self {
            Spec::Smoke(_) => Schedule::Parallel,
            Spec::Inference(_) => Schedule::MeasuresTarget,
            Spec::Baseline(_) | Spec::Sla(_) => Schedule::Alone,
        }
    }
}

impl Case {
    /// A check of a target; its name follows from the spec's kind.
    pub fn check(
        scenario: &str,
        check: String,
        file: Arc<SourceFile>,
        target: Arc<Target>,
        spec: Spec,
    ) -> Case {
        Case {
            name: case_name(spec.kind(), scenario, &check),
            scenario: scenario.to_string(),
            check,
            file,
            body: CaseBody::Check { target, spec },
        }
    }

    /// A file that failed to load: one failing case carrying every message.
    pub fn load_error(scenario: String, file: Arc<SourceFile>, message: String) -> Case {
        Case {
            name: format!("{}::{scenario}", Kind::Load.as_str()),
            scenario,
            check: String::new(),
            file,
            body: CaseBody::LoadError(message),
        }
    }

    pub fn kind(&self) -> Kind {
        match &self.body {
            CaseBody::LoadError(_) => Kind::Load,
            CaseBody::Check { spec, .. } => spec.kind(),
        }
    }

    /// The target the case talks to; load errors have none.
    pub fn target(&self) -> Option<&Arc<Target>> {
        match &self.body {
            CaseBody::LoadError(_) => None,
            CaseBody::Check { target, .. } => Some(target),
        }
    }
}
