//! The load engine started on a thread of its own (it blocks until the plan's time limit,
//! so never on a tokio worker) with the check's request, or its mix of requests.

use std::collections::BTreeMap;
use std::io::Write;
use std::ops::ControlFlow;
use std::sync::Arc;

use tokio::task::JoinHandle;

use super::request::{self, LoadRequest};
use crate::atomic::AtomicFile;
use crate::catalog::case::SlaSpec;
use crate::load::{self, ErrorKind, Event, Mix, Report, Request};
use crate::target::Redactor;

/// What a finished run gives: the engine's report, the first message of each kind of
/// failure (why requests failed, which the report counts by kind only), and the interval
/// log's file it was given, written, to be committed (or why it could not be opened).
pub struct Ran {
    pub report: Report,
    pub examples: BTreeMap<ErrorKind, String>,
    pub hlog: Result<AtomicFile, String>,
}

/// The running engine, whose error is in words; or why it could not start. `hlog`, when
/// it could be opened, gets the interval log as the run goes; `watch` is told as each phase starts and
/// each interval closes, and may stop the run (see [`load::run_watched`]); `redactor`
/// masks what a judged answer quotes.
pub fn engine(
    spec: &Arc<SlaSpec>,
    redactor: &Redactor,
    mut hlog: Result<AtomicFile, String>,
    watch: impl FnMut(Event<'_>) -> ControlFlow<()> + Send + 'static,
) -> Result<JoinHandle<Result<Ran, String>>, String> {
    let spec = spec.clone();
    let redactor = redactor.clone();
    Ok(tokio::task::spawn_blocking(move || {
        // Built here: a GET resolves its host name, which blocks.
        let requests = spec
            .sends
            .iter()
            .map(|part| LoadRequest::new(&part.request, &redactor))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        let log = hlog.as_mut().ok().map(|file| file as &mut dyn Write);
        let (report, mut examples) = if let [request] = requests.as_slice() {
            (run(&spec, request, log, watch)?, request.examples())
        } else {
            let names = spec
                .sends
                .iter()
                .map(|part| (part.name.clone(), part.weight));
            let parts = names
                .zip(requests)
                .map(|((name, weight), request)| (name, weight, request))
                .collect();
            let mix = Mix::new(parts).map_err(|e| e.to_string())?;
            let report = run(&spec, &mix, log, watch)?;
            (report, mix_examples(&spec, mix.into_requests()))
        };
        let failed = report.total.errors().keys().copied();
        request::engine_examples(&mut examples, failed, spec.plan.timeout);
        Ok(Ran {
            report,
            examples,
            hlog,
        })
    }))
}

fn run<R: Request>(
    spec: &SlaSpec,
    request: &R,
    log: Option<&mut dyn Write>,
    watch: impl FnMut(Event<'_>) -> ControlFlow<()>,
) -> Result<Report, String> {
    let threads = load::default_threads();
    load::run_watched(&spec.plan, threads, request, log, watch).map_err(|e| e.to_string())
}

/// The first message of each kind of failure over the parts of a mix, each said with the
/// name of the request that failed: `search: GET /search: status: expected 200, ...`.
fn mix_examples(spec: &SlaSpec, requests: Vec<LoadRequest<'_>>) -> BTreeMap<ErrorKind, String> {
    let mut examples = BTreeMap::new();
    for (part, request) in spec.sends.iter().zip(requests) {
        for (kind, message) in request.examples() {
            examples
                .entry(kind)
                .or_insert_with(|| format!("{}: {message}", part.name));
        }
    }
    examples
}
