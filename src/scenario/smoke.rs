//! `[[smoke]]`: one HTTP request and what its response must look like.
//!
//! Every expectation keeps where it was written, so that a failed one is reported at
//! `file:line:col`.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::{Dur, JsonPointer, OneOrMany, Pattern, SchemaSource, Size};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmokeCheck {
    pub name: Spanned<String>,
    /// Shorthand for `method = "GET"` with this path.
    pub get: Option<String>,
    /// Shorthand for `method = "POST"` with this path.
    pub post: Option<String>,
    pub method: Option<String>,
    pub path: Option<String>,
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    /// Added to the target's headers; secrets like them.
    #[serde(default, deserialize_with = "super::headers")]
    pub headers: BTreeMap<String, String>,
    /// A JSON body (sent with `content-type: application/json`).
    pub json: Option<serde_json::Value>,
    /// A text body, sent as is.
    pub body: Option<String>,
    pub timeout: Option<Dur>,
    /// The most the response body may be (default: the target's `max_body`).
    pub max_body: Option<Size>,
    #[serde(default)]
    pub expect: SmokeExpect,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmokeExpect {
    /// One status or a list; when absent any 2xx passes.
    pub status: Option<Spanned<OneOrMany<u16>>>,
    pub body_contains: Option<Spanned<OneOrMany<String>>>,
    pub body_equals: Option<Spanned<String>>,
    pub body_regex: Option<Spanned<Pattern>>,
    /// Values at JSON pointers (`"/models/0/name"`) of the response body.
    #[serde(default)]
    pub json: BTreeMap<JsonPointer, Spanned<JsonExpect>>,
    pub json_schema: Option<Spanned<SchemaSource>>,
    pub max_latency: Option<Spanned<Dur>>,
}

impl SmokeExpect {
    /// Whether nothing is expected beyond a 2xx status, as of a request under load (whose
    /// client judges statuses only). Destructured, so a new expectation must say here.
    pub fn is_empty(&self) -> bool {
        let SmokeExpect {
            status,
            body_contains,
            body_equals,
            body_regex,
            json,
            json_schema,
            max_latency,
        } = self;
        status.is_none()
            && body_contains.is_none()
            && body_equals.is_none()
            && body_regex.is_none()
            && json.is_empty()
            && json_schema.is_none()
            && max_latency.is_none()
    }
}

/// What the value at one JSON pointer must satisfy; every given field must hold.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonExpect {
    pub equals: Option<serde_json::Value>,
    /// Matched against a string value, or the JSON text of any other value.
    pub regex: Option<Pattern>,
    pub gt: Option<f64>,
    pub ge: Option<f64>,
    pub lt: Option<f64>,
    pub le: Option<f64>,
    /// Minimum length of an array, object or string (a non-empty model list: `min_len = 1`).
    pub min_len: Option<usize>,
    /// `false` asserts the pointer is absent.
    pub exists: Option<bool>,
}

/// Methods a check may use; anything else is almost certainly a typo.
const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

impl SmokeCheck {
    /// The HTTP method, upper-cased; valid once the check is validated.
    pub fn method(&self) -> String {
        match (&self.get, &self.post, &self.method) {
            (Some(_), _, _) => "GET".into(),
            (_, Some(_), _) => "POST".into(),
            (_, _, Some(method)) => method.to_ascii_uppercase(),
            _ => "GET".into(),
        }
    }

    /// The request path relative to the target's base URL.
    pub fn request_path(&self) -> &str {
        self.get
            .as_deref()
            .or(self.post.as_deref())
            .or(self.path.as_deref())
            .unwrap_or("/")
    }

    /// Checks what serde cannot: one request form, a known method, a sane path and status.
    pub fn validate(&self) -> Result<(), String> {
        let name = self.name.get_ref();
        let forms = [self.get.is_some(), self.post.is_some(), self.path.is_some()];
        match forms.iter().filter(|f| **f).count() {
            1 => {}
            0 => {
                return Err(format!(
                    "smoke check \"{name}\" has no request: add get = \"/path\", post = \"/path\", or method and path"
                ));
            }
            _ => {
                return Err(format!(
                    "smoke check \"{name}\" has more than one of get, post and path: keep one"
                ));
            }
        }
        if self.method.is_some() && self.path.is_none() {
            return Err(format!(
                "smoke check \"{name}\": method goes with path (get and post already name the method)"
            ));
        }
        let method = self.method();
        if !METHODS.contains(&method.as_str()) {
            return Err(format!(
                "smoke check \"{name}\": unknown method \"{method}\"; expected one of {}",
                METHODS.join(", ")
            ));
        }
        if !self.request_path().starts_with('/') {
            return Err(format!(
                "smoke check \"{name}\": path \"{}\" must start with /",
                self.request_path()
            ));
        }
        if self.json.is_some() && self.body.is_some() {
            return Err(format!(
                "smoke check \"{name}\" has both json and body: keep one"
            ));
        }
        let statuses = self
            .expect
            .status
            .as_ref()
            .map_or(&[][..], |s| s.get_ref().as_slice());
        if self.expect.status.is_some() && statuses.is_empty() {
            return Err(format!(
                "smoke check \"{name}\": status is an empty list: give a status or a list of them, or drop it to accept any 2xx"
            ));
        }
        if let Some(bad) = statuses.iter().find(|s| !(100..=599).contains(*s)) {
            return Err(format!(
                "smoke check \"{name}\": status {bad} is not an HTTP status (100-599)"
            ));
        }
        Ok(())
    }
}
