//! A target as the runner sees it: where it is, how to talk to it, whether to run at all,
//! and, for managed targets, the server process the harness starts and stops itself.

pub mod managed;
pub mod redact;

use std::time::Duration;

use once_cell::sync::OnceCell;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use url::Url;

use crate::scenario::{Api, Size, TargetSpec};
pub use managed::Managed;
pub use redact::{Redactor, Secret};

pub struct Target {
    /// The scenario name (`local-llm`), used in messages and log file names.
    pub scenario: String,
    pub base_url: Url,
    pub api: Api,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// The size limits of the target's responses, unless a check sets its own (the model
    /// listing always reads with these).
    pub max_body: Size,
    pub max_line: Size,
    /// Marked sensitive, so reqwest's own debug output hides them too.
    headers: HeaderMap,
    /// Whether checks that measure timing may overlap on this server (see runner::schedule).
    pub measure_concurrently: bool,
    /// Why the target's checks are ignored (its `enabled_if` variable is unset, a program
    /// it `requires` is missing).
    pub disabled_reason: Option<String>,
    pub managed: Option<Managed>,
    /// One client per target, built on first use so that `--list` builds none.
    client: OnceCell<reqwest::Client>,
    /// The server's model list (`None`: it has no listing endpoint), fetched once before
    /// the first inference check.
    pub models: tokio::sync::OnceCell<Option<Vec<String>>>,
}

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("invalid header name \"{0}\": use letters, digits and '-'")]
    HeaderName(String),
    #[error("invalid value for header \"{0}\": it must be visible ASCII without line breaks")]
    HeaderValue(String),
    #[error("could not build the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

impl Target {
    /// Builds a target from its validated spec. The caller, who reads the environment and
    /// the file system, says why it is disabled if it is, and builds `managed`, knowing
    /// where logs go.
    pub fn new(
        scenario: String,
        spec: &TargetSpec,
        disabled_reason: Option<String>,
        managed: Option<Managed>,
    ) -> Result<Target, TargetError> {
        let base_url =
            Url::parse(spec.base_url.get_ref()).expect("base_url is validated while parsing");
        Ok(Target {
            scenario,
            base_url,
            api: spec.api,
            timeout: spec.timeout.0,
            connect_timeout: spec.connect_timeout.0,
            max_body: spec.max_body,
            max_line: spec.max_line,
            headers: header_map(&spec.headers)?,
            measure_concurrently: spec.measure_concurrently,
            disabled_reason,
            managed,
            client: OnceCell::new(),
            models: tokio::sync::OnceCell::new(),
        })
    }

    pub fn client(&self) -> Result<&reqwest::Client, TargetError> {
        self.client.get_or_try_init(|| self.new_client())
    }

    /// A client of the target's settings apart from its shared one, for a load run on
    /// runtimes of its own: a pooled connection is driven by a task on the runtime that
    /// opened it, so one opened by a load's generator thread must not stay in the shared
    /// pool after that runtime has ended.
    pub fn new_client(&self) -> Result<reqwest::Client, TargetError> {
        Ok(reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .default_headers(self.headers.clone())
            .user_agent(concat!("perfcase/", env!("CARGO_PKG_VERSION")))
            .build()?)
    }

    /// Whether the target sends headers of its own with every request (an API key): a
    /// client that cannot send them must not talk to it.
    pub fn has_headers(&self) -> bool {
        !self.headers.is_empty()
    }

    /// `base_url` joined with a path that starts with `/` (see [`join`]).
    pub fn url(&self, path: &str) -> String {
        join(&self.base_url, path)
    }
}

/// A base URL joined with a path that starts with `/`: the base's path prefix kept, and its
/// query string (an `api_key`, say) put after the path, where a server reads it.
pub fn join(base: &Url, path: &str) -> String {
    let mut prefix = base.clone();
    prefix.set_query(None);
    prefix.set_fragment(None);
    let mut url = format!("{}{path}", prefix.as_str().trim_end_matches('/'));
    if let Some(query) = base.query() {
        url.push(if path.contains('?') { '&' } else { '?' });
        url.push_str(query);
    }
    url
}

/// Header values are secrets (API keys), so every one is marked sensitive.
pub fn header_map(
    headers: &std::collections::BTreeMap<String, String>,
) -> Result<HeaderMap, TargetError> {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| TargetError::HeaderName(name.clone()))?;
        let mut value =
            HeaderValue::from_str(value).map_err(|_| TargetError::HeaderValue(name.clone()))?;
        value.set_sensitive(true);
        map.insert(header, value);
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("http://h:1", "/v1/models", "http://h:1/v1/models")]
    #[case("http://h:1/", "/health", "http://h:1/health")]
    #[case("http://h:1/api/", "/tags", "http://h:1/api/tags")]
    #[case("http://h:1/v1?api_key=k", "/models", "http://h:1/v1/models?api_key=k")]
    #[case("http://h:1?api_key=k", "/x?page=2", "http://h:1/x?page=2&api_key=k")]
    #[case("http://u:p@h:1/#top", "/x", "http://u:p@h:1/x")]
    fn joins_a_base_url_and_a_path(#[case] base: &str, #[case] path: &str, #[case] expected: &str) {
        assert_eq!(join(&Url::parse(base).unwrap(), path), expected);
    }
}
