//! Running one smoke check: make sure the target is up, send, judge.

use crate::catalog::SmokeSpec;
use crate::client::http::send;
use crate::judge::smoke::judge_smoke;
use crate::target::Target;

use super::outcome::Outcome;
use super::prepare_target;

pub async fn run(target: &Target, spec: &SmokeSpec) -> Outcome {
    if let Err(outcome) = prepare_target(target).await {
        return outcome;
    }
    let url = target.url(&spec.request.path);
    let timed = match send(target, &spec.request, spec.timeout).await {
        Ok(timed) => timed,
        Err(e) => return Outcome::error(e.to_string()),
    };
    let response = &timed.response;
    let violations = judge_smoke(&spec.check.expect, spec.schema.as_ref(), response);
    let figures = vec![
        ("http_status".to_string(), f64::from(response.status)),
        ("latency".to_string(), response.latency.as_secs_f64()),
        ("ttfb".to_string(), timed.ttfb.as_secs_f64()),
        ("bytes".to_string(), response.body.len() as f64),
    ];
    Outcome::judged(
        &format!("{} {url}:", spec.request.method),
        &violations,
        figures,
    )
}
