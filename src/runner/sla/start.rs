//! The load engine started on a thread of its own (it blocks until the plan's time limit,
//! so never on a tokio worker) with the check's request.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::sync::Arc;

use tokio::task::JoinHandle;

use super::request::{self, LoadRequest};
use crate::catalog::case::SlaSpec;
use crate::load::{self, ErrorKind, Event, Report};
use crate::target::Redactor;

/// What a finished run gives: the engine's report, and the first message of each kind of
/// failure (why requests failed, which the report counts by kind only).
pub struct Ran {
    pub report: Report,
    pub examples: BTreeMap<ErrorKind, String>,
}

/// The running engine, whose error is in words; or why it could not start. `watch` is told
/// as each phase starts and each interval closes, and may stop the run (see
/// [`load::run_watched`]); `redactor` masks what a judged answer quotes.
pub fn engine(
    spec: &Arc<SlaSpec>,
    redactor: &Redactor,
    watch: impl FnMut(Event<'_>) -> ControlFlow<()> + Send + 'static,
) -> Result<JoinHandle<Result<Ran, String>>, String> {
    let spec = spec.clone();
    let redactor = redactor.clone();
    Ok(tokio::task::spawn_blocking(move || {
        // Built here: a GET resolves its host name, which blocks.
        let request = LoadRequest::new(&spec.sends, &redactor).map_err(|e| e.to_string())?;
        let threads = load::default_threads();
        let report =
            load::run_watched(&spec.plan, threads, &request, watch).map_err(|e| e.to_string())?;
        let mut examples = request.examples();
        let failed = report.total.errors().keys().copied();
        request::engine_examples(&mut examples, failed, spec.plan.timeout);
        Ok(Ran { report, examples })
    }))
}
