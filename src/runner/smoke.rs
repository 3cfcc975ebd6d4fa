//! Running one smoke check: send, judge.

use crate::catalog::SmokeSpec;
use crate::client::http::send;
use crate::judge::smoke::judge_smoke;
use crate::metric::Figure;
use crate::target::Target;

use super::context::RunContext;
use super::outcome::{ErrorCause, Outcome};

pub async fn run(context: &RunContext<'_>, target: &Target, spec: &SmokeSpec) -> Outcome {
    let url = target.url(&spec.request.path);
    let timed = match send(target, &spec.request, spec.timeout, spec.max_body).await {
        Ok(timed) => timed,
        Err(e) => return Outcome::error(ErrorCause::Request, e.to_string()),
    };
    let response = &timed.response;
    let violations = judge_smoke(
        &spec.check.expect,
        spec.schema.as_ref(),
        response,
        context.redactor,
    );
    let figures = vec![
        Figure::new("http_status", f64::from(response.status)),
        Figure::new("latency", response.latency.as_secs_f64()),
        Figure::new("ttfb", timed.ttfb.as_secs_f64()),
        Figure::new("bytes", response.body.len() as f64),
    ];
    Outcome::judged(
        &format!("{} {url}:", spec.request.method),
        &violations,
        figures,
        context.file,
    )
}
