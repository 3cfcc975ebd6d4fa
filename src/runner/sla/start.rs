//! The load engine started on a thread of its own (it blocks until the plan's time limit,
//! so never on a tokio worker) with the request type the check sends.

use std::ops::ControlFlow;
use std::sync::Arc;

use tokio::task::JoinHandle;

use super::model::Generate;
use crate::catalog::case::SlaSpec;
use crate::load::{self, Event, HttpGet, Report};

/// The running engine, whose error is in words; or why it could not start. `watch` is told
/// as each phase starts and each interval closes, and may stop the run (see
/// [`load::run_watched`]).
pub fn engine(
    spec: &Arc<SlaSpec>,
    watch: impl FnMut(Event<'_>) -> ControlFlow<()> + Send + 'static,
) -> Result<JoinHandle<Result<Report, String>>, String> {
    let plan = spec.plan.clone();
    let threads = load::default_threads();
    match &spec.generation {
        None => {
            let url = spec.url.clone();
            Ok(tokio::task::spawn_blocking(move || {
                // Built here: it resolves the host name, which blocks.
                let get = HttpGet::new(&url).map_err(|e| e.to_string())?;
                load::run_watched(&plan, threads, &get, watch).map_err(|e| e.to_string())
            }))
        }
        Some(_) => {
            let spec = spec.clone();
            Ok(tokio::task::spawn_blocking(move || {
                let generation = spec.generation.as_ref().expect("matched as a generation");
                let request = Generate::new(generation).map_err(|e| e.to_string())?;
                load::run_watched(&plan, threads, &request, watch).map_err(|e| e.to_string())
            }))
        }
    }
}
