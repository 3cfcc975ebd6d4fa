//! Any HTTP request under load, sent as a smoke check sends it (method, query, headers of
//! the check and of the target, a JSON or text body, https, the body read within
//! `max_body`) and every answer judged as a smoke check judges it: a status outside what
//! `expect` allows (2xx when it says nothing) is an [`ErrorKind::Status`] error, any other
//! violated expectation an [`ErrorKind::Expectation`] error.

use crate::catalog::case::SmokeSpec;
use crate::client::http::{Response, send_with};
use crate::judge::smoke::judge_smoke;
use crate::judge::{Cause, Violation};
use crate::load::{ErrorKind, Sample};

use super::{Examples, Via, transport_kind};

/// How much of the body of an answer with a wrong status its example quotes.
const BODY_EXCERPT: usize = 200;

/// One HTTP request of an sla check.
pub struct Http<'a> {
    pub(super) via: Via<'a>,
    pub(super) spec: &'a SmokeSpec,
}

impl Http<'_> {
    pub async fn send(
        &self,
        client: &reqwest::Client,
        examples: &Examples,
    ) -> Result<Sample, ErrorKind> {
        let spec = self.spec;
        let timed = send_with(
            client,
            self.via.target,
            &spec.request,
            spec.timeout,
            spec.max_body,
        )
        .await
        .map_err(|error| {
            let kind = transport_kind(&error);
            examples.keep(kind, || error.to_string());
            kind
        })?;
        let response = &timed.response;
        let violations = judge_smoke(
            &spec.check.expect,
            spec.schema.as_ref(),
            response,
            &self.via.redactor,
        );
        match verdict(&violations, response.status) {
            None => Ok(Sample::default()),
            Some(kind) => {
                examples.keep(kind, || self.described(&violations, response));
                Err(kind)
            }
        }
    }

    /// Why an answer failed: every violation, and for a wrong status the start of the body
    /// (where a server says why).
    fn described(&self, violations: &[Violation], response: &Response) -> String {
        let said: Vec<String> = violations.iter().map(ToString::to_string).collect();
        let said = format!(
            "{} {}: {}",
            self.spec.request.method,
            self.spec.request.path,
            said.join("; ")
        );
        if violations.iter().any(|v| v.cause == Cause::Status) {
            let body = String::from_utf8_lossy(&response.body);
            format!(
                "{said}; body {:?}",
                self.via.redactor.excerpt(&body, BODY_EXCERPT)
            )
        } else {
            said
        }
    }
}

/// The engine's kind of a judged answer: none when it met every expectation, its status
/// when that is what it broke, else an expectation.
fn verdict(violations: &[Violation], status: u16) -> Option<ErrorKind> {
    if violations.is_empty() {
        None
    } else if violations.iter().any(|v| v.cause == Cause::Status) {
        Some(ErrorKind::Status(status))
    } else {
        Some(ErrorKind::Expectation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn violation(cause: Cause) -> Violation {
        Violation::new(cause, "w", "e", "o")
    }

    #[rstest]
    #[case::met(vec![], None)]
    #[case::status(vec![violation(Cause::Status)], Some(ErrorKind::Status(503)))]
    #[case::status_before_the_body(
        vec![violation(Cause::Body), violation(Cause::Status)],
        Some(ErrorKind::Status(503))
    )]
    #[case::body(vec![violation(Cause::Body)], Some(ErrorKind::Expectation))]
    #[case::json(vec![violation(Cause::Json), violation(Cause::Schema)], Some(ErrorKind::Expectation))]
    fn a_judged_answer_has_the_engines_kind(
        #[case] violations: Vec<Violation>,
        #[case] kind: Option<ErrorKind>,
    ) {
        assert_eq!(verdict(&violations, 503), kind);
    }
}
