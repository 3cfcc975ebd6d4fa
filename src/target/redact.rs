//! Keeps secrets out of artifacts and logs.
//!
//! A server may echo what it was sent (an error body quoting the request, a debug
//! endpoint, its own log), and those texts end up in failure messages and in a managed
//! target's log. So every text that leaves the harness goes through [`Redactor::redact`],
//! and a managed server's output goes through a [`StreamRedactor`] as it is written.
//!
//! # What is a secret
//!
//! [`Secret`] says (the catalog collects them from each scenario file): header values, the
//! credentials of `base_url`, the values of credential-like query parameters (the names in
//! [`SECRET_QUERY_PARAMS`]), the values of `[target.spawn] env`, and the values of the
//! variables that `[target] secrets` names. Values shorter than four characters are not
//! secrets: masking every "1" would garble reports.
//!
//! # Every form
//!
//! A server rarely echoes a value exactly as it was configured: it quotes it in JSON, logs
//! the request line with its query string, or shows the header it received. Each value is
//! masked as it is, JSON-escaped (once, as a body quotes it, and twice, as a message quotes
//! that body; `/` as `\/` or not) and URL-encoded (`+` or `%20` for a space); URL
//! credentials also as the base64 of `user:password` that Basic auth sends.
//!
//! # Before the cut
//!
//! A text cut short shows the first part of a secret that straddles the cut, and that part
//! no longer matches the whole. The harness's own quotes of bodies and answers therefore
//! mask the whole text before cutting it ([`Redactor::excerpt`]). The client and stream
//! layers quote bodies in their errors too, and they know no secrets (they sit below the
//! targets); for those, [`Redactor::redact`] masks a secret's beginning that ends right at
//! the mark [`crate::text::excerpt`] leaves where it cut.

use std::ops::Range;

use aho_corasick::AhoCorasick;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use url::Url;

pub const MASK: &str = "[REDACTED]";

/// Shorter values are not treated as secrets: masking every "1" would garble reports. A
/// secret's beginning shorter than this is not masked at a cut either, for the same reason.
const MIN_SECRET_LEN: usize = 4;

/// Query parameter names (compared without regard to case) whose values are secrets, in a
/// check's `query` table and in `base_url`'s query string. Other names are not guessed at:
/// `[target] secrets` declares any other value secret.
pub const SECRET_QUERY_PARAMS: &[&str] = &[
    "access_token",
    "api-key",
    "api_key",
    "apikey",
    "auth",
    "auth_token",
    "client_secret",
    "key",
    "password",
    "secret",
    "sig",
    "signature",
    "token",
];

/// RFC 3986's unreserved characters stay as they are; everything else is `%XX` (how a
/// JavaScript or Python client encodes a query value, a space as `%20`).
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// How long a stream's text may wait for the rest of a secret: bounds the memory an endless
/// line can take. Only a run of overlapping secrets longer than this is cut unmasked.
const MAX_HELD: usize = 64 * 1024;

/// A secret as a scenario file gives it; each kind brings the forms it is sent in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Secret {
    /// A header value: the whole value; for `Scheme token`, the token alone too; for
    /// `Basic token`, also the password it encodes.
    Header(String),
    /// The credentials of a URL, percent-encoded as they are written in it. The password is
    /// the secret (the user name when there is no password: a token given as the user),
    /// and so is the base64 of `user:password` that Basic auth sends.
    UrlCredentials {
        user: String,
        password: Option<String>,
    },
    /// A value that is secret as a whole: of a credential-like query parameter, of
    /// `[target.spawn] env`, of a variable `[target] secrets` names.
    Value(String),
}

impl Secret {
    /// The value of a query parameter, when its name is in [`SECRET_QUERY_PARAMS`].
    pub fn query_param(name: &str, value: &str) -> Option<Secret> {
        SECRET_QUERY_PARAMS
            .iter()
            .any(|param| param.eq_ignore_ascii_case(name))
            .then(|| Secret::Value(value.to_string()))
    }

    /// The secrets a URL carries: its credentials, and its credential-like query parameters
    /// both as written in the URL and decoded.
    pub fn of_url(url: &Url) -> Vec<Secret> {
        let mut secrets = Vec::new();
        if !url.username().is_empty() || url.password().is_some() {
            secrets.push(Secret::UrlCredentials {
                user: url.username().to_string(),
                password: url.password().map(str::to_string),
            });
        }
        for pair in url.query().unwrap_or_default().split('&') {
            let written = pair.split_once('=').map_or("", |(_, value)| value);
            if let Some((name, value)) = url::form_urlencoded::parse(pair.as_bytes()).next() {
                secrets.extend(Secret::query_param(&name, &value));
                secrets.extend(Secret::query_param(&name, written));
            }
        }
        secrets
    }

    /// The texts that are secret, before encoding: what the scenario gives and what a
    /// server derives from it.
    fn texts(&self) -> Vec<String> {
        match self {
            Secret::Header(value) => {
                let value = value.trim();
                let mut texts = vec![value.to_string()];
                if let Some((scheme, token)) = value.split_once(' ') {
                    let token = token.trim();
                    texts.push(token.to_string());
                    if scheme.eq_ignore_ascii_case("basic")
                        && let Some(decoded) = BASE64
                            .decode(token)
                            .ok()
                            .and_then(|bytes| String::from_utf8(bytes).ok())
                    {
                        let password = decoded.split_once(':').map_or(&*decoded, |(_, p)| p);
                        texts.push(password.to_string());
                    }
                }
                texts
            }
            Secret::UrlCredentials { user, password } => {
                let decode = |text: &str| percent_decode_str(text).decode_utf8_lossy().into_owned();
                let secret = password.as_deref().unwrap_or(user);
                let basic = format!(
                    "{}:{}",
                    decode(user),
                    password.as_deref().map(decode).unwrap_or_default()
                );
                vec![secret.to_string(), decode(secret), BASE64.encode(basic)]
            }
            Secret::Value(value) => vec![value.trim().to_string()],
        }
    }
}

/// Every form a secret text may take in what a server sends back or prints.
fn forms(text: &str) -> Vec<String> {
    let json = json_escaped(text);
    vec![
        text.to_string(),
        json.replace('/', "\\/"),
        json_escaped(&json),
        json,
        url::form_urlencoded::byte_serialize(text.as_bytes()).collect(),
        utf8_percent_encode(text, COMPONENT).to_string(),
    ]
}

/// The text as it appears inside a JSON string (and in Rust's `{:?}`, for ASCII).
fn json_escaped(text: &str) -> String {
    let quoted = serde_json::Value::from(text).to_string();
    quoted[1..quoted.len() - 1].to_string()
}

#[derive(Debug, Default, Clone)]
pub struct Redactor {
    /// Every form of every secret, as bytes: a server's output need not be UTF-8.
    forms: Vec<Vec<u8>>,
    /// Finds every form, overlapping ones too; `None` when there is no secret.
    matcher: Option<AhoCorasick>,
}

impl Redactor {
    pub fn new(secrets: &[Secret]) -> Redactor {
        let mut forms: Vec<Vec<u8>> = secrets
            .iter()
            .flat_map(Secret::texts)
            .filter(|text| text.chars().count() >= MIN_SECRET_LEN)
            .flat_map(|text| forms(&text))
            .map(String::into_bytes)
            .collect();
        forms.sort();
        forms.dedup();
        let matcher = (!forms.is_empty()).then(|| {
            AhoCorasick::new(&forms).expect("a scenario's secrets are few and short enough")
        });
        Redactor { forms, matcher }
    }

    /// The text with every secret masked, and a secret's beginning that ends where an
    /// excerpt was cut (see the module doc).
    pub fn redact(&self, text: &str) -> String {
        if self.forms.is_empty() {
            return text.to_string();
        }
        let mut spans = self.occurrences(text.as_bytes());
        for cut in crate::text::cut_points(text) {
            let begun = self.begun_at_end(&text.as_bytes()[..cut]);
            if begun >= MIN_SECRET_LEN {
                spans.push(cut - begun..cut);
            }
        }
        String::from_utf8_lossy(&mask(text.as_bytes(), spans)).into_owned()
    }

    /// An excerpt of the text with its secrets masked before the cut, so that it never
    /// shows a secret's first part.
    pub fn excerpt(&self, text: &str, max_chars: usize) -> String {
        crate::text::excerpt(&self.redact(text), max_chars)
    }

    /// Where each form occurs, overlapping occurrences included.
    fn occurrences(&self, text: &[u8]) -> Vec<Range<usize>> {
        self.matcher.as_ref().map_or_else(Vec::new, |matcher| {
            matcher
                .find_overlapping_iter(text)
                .map(|found| found.range())
                .collect()
        })
    }

    /// The length of the longest end of `text` that is the beginning of a form (and not
    /// the whole form, which [`Redactor::occurrences`] finds): a secret the text was cut in.
    fn begun_at_end(&self, text: &[u8]) -> usize {
        self.forms
            .iter()
            .filter_map(|form| {
                (1..form.len().min(text.len() + 1))
                    .rev()
                    .find(|&len| text.ends_with(&form[..len]))
            })
            .max()
            .unwrap_or(0)
    }
}

/// Occurrences that overlap become one, in order.
fn merge(mut spans: Vec<Range<usize>>) -> Vec<Range<usize>> {
    spans.sort_by_key(|span| span.start);
    let mut merged: Vec<Range<usize>> = Vec::with_capacity(spans.len());
    for span in spans {
        match merged.last_mut() {
            Some(last) if span.start < last.end => last.end = last.end.max(span.end),
            _ => merged.push(span),
        }
    }
    merged
}

/// The text with each span replaced by [`MASK`].
fn mask(text: &[u8], spans: Vec<Range<usize>>) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut at = 0;
    for span in merge(spans) {
        out.extend_from_slice(&text[at..span.start]);
        out.extend_from_slice(MASK.as_bytes());
        at = span.end;
    }
    out.extend_from_slice(&text[at..]);
    out
}

/// Redacts a text that arrives in pieces (a server's output, read from a pipe) the way
/// [`Redactor::redact`] would redact it whole: the end of a piece that could still become
/// a secret with the next one waits for it, so a secret split between two writes is
/// masked all the same. What waits is bounded by [`MAX_HELD`].
pub struct StreamRedactor {
    redactor: Redactor,
    held: Vec<u8>,
}

impl StreamRedactor {
    pub fn new(redactor: Redactor) -> StreamRedactor {
        StreamRedactor {
            redactor,
            held: Vec::new(),
        }
    }

    /// Takes the next piece; returns what can be written now, secrets masked.
    pub fn feed(&mut self, piece: &[u8]) -> Vec<u8> {
        self.held.extend_from_slice(piece);
        let spans = merge(self.redactor.occurrences(&self.held));
        let undecided = self.held.len() - self.redactor.begun_at_end(&self.held);
        // A secret found across that point (overlapping a beginning) waits whole.
        let across = spans
            .iter()
            .find(|span| span.start < undecided && undecided < span.end);
        let mut ready = across.map_or(undecided, |span| span.start);
        if self.held.len() - ready > MAX_HELD {
            // Too much waits: write on, past the whole secret found across that point, so
            // that no part of it is written unmasked.
            ready = across.map_or(undecided, |span| span.end);
        }
        let before: Vec<Range<usize>> = spans
            .into_iter()
            .filter(|span| span.start < ready)
            .map(|span| span.start..span.end.min(ready))
            .collect();
        let out = mask(&self.held[..ready], before);
        self.held.drain(..ready);
        out
    }

    /// The end of the stream: whatever waited, secrets masked.
    pub fn finish(&mut self) -> Vec<u8> {
        let held = std::mem::take(&mut self.held);
        mask(&held, self.redactor.occurrences(&held))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn header(value: &str) -> Secret {
        Secret::Header(value.into())
    }

    fn value(value: &str) -> Secret {
        Secret::Value(value.into())
    }

    fn credentials(user: &str, password: Option<&str>) -> Secret {
        Secret::UrlCredentials {
            user: user.into(),
            password: password.map(str::to_string),
        }
    }

    #[rstest]
    #[case::plain(&[header("Bearer sk-live-123")], "got Bearer sk-live-123", "got [REDACTED]")]
    #[case::token_alone(&[header("Bearer sk-live-123")], "token=sk-live-123;", "token=[REDACTED];")]
    #[case::short_values_are_not_secrets(&[header("abc"), value(" 0 ")], "abc 0 stays", "abc 0 stays")]
    #[case::longest_of_two(&[header("secret1"), header("secret12")], "x secret12 y", "x [REDACTED] y")]
    #[case::no_secrets(&[], "nothing", "nothing")]
    #[case::json_escaped(
        &[value("pa\"ss/wd")],
        r#"{"echo":"pa\"ss/wd","also":"pa\"ss\/wd"}"#,
        r#"{"echo":"[REDACTED]","also":"[REDACTED]"}"#
    )]
    #[case::json_escaped_twice(
        &[value("pa\"sswd")],
        r#"body "{\"echo\":\"pa\\\"sswd\"}""#,
        r#"body "{\"echo\":\"[REDACTED]\"}""#
    )]
    #[case::form_encoded(&[value("a b/c+d")], "GET /?api_key=a+b%2Fc%2Bd HTTP/1.1", "GET /?api_key=[REDACTED] HTTP/1.1")]
    #[case::percent_encoded(&[value("a b/c+d")], "GET /?api_key=a%20b%2Fc%2Bd", "GET /?api_key=[REDACTED]")]
    #[case::basic_from_url(
        &[credentials("user", Some("passw0rd"))],
        "Basic dXNlcjpwYXNzdzByZA== and passw0rd",
        "Basic [REDACTED] and [REDACTED]"
    )]
    #[case::url_password_as_written_and_decoded(
        &[credentials("u", Some("p%40ss-word"))],
        "http://u:p%40ss-word@h/ p@ss-word",
        "http://u:[REDACTED]@h/ [REDACTED]"
    )]
    #[case::token_as_url_user(&[credentials("ghp-token", None)], "https://ghp-token@h/", "https://[REDACTED]@h/")]
    #[case::password_of_a_basic_header(
        &[header("Basic dXNlcjpwYXNzdzByZA==")],
        "user user:passw0rd",
        "user user:[REDACTED]"
    )]
    #[case::overlapping(&[value("abcdef"), value("defghi")], "<abcdefghi>", "<[REDACTED]>")]
    #[case::adjacent(&[value("abcd"), value("efgh")], "abcdefgh", "[REDACTED][REDACTED]")]
    #[case::cut_in_a_secret(
        &[header("Bearer sk-SPLIT-SECRET")],
        "\"auth: Bearer sk-SPLIT-SE… (6 more characters)\"",
        "\"auth: [REDACTED]… (6 more characters)\""
    )]
    #[case::cut_in_a_json_escaped_secret(
        &[value("pa\"sswd")],
        r#"{\"k\":\"pa\\\"ss… (9 more characters)"#,
        r#"{\"k\":\"[REDACTED]… (9 more characters)"#
    )]
    #[case::cut_after_a_few_characters(&[value("sk-SPLIT")], "x sk-… (5 more characters)", "x sk-… (5 more characters)")]
    #[case::an_ellipsis_that_is_no_cut(&[value("sk-SPLIT")], "x sk-SPL… and so on", "x sk-SPL… and so on")]
    fn redacts(#[case] secrets: &[Secret], #[case] text: &str, #[case] expected: &str) {
        assert_eq!(Redactor::new(secrets).redact(text), expected);
    }

    #[rstest]
    #[case::url_credentials_and_query(
        "http://user:pw%2Fd@h:1/v1?api_key=a%2Fb&KEY=k&page=2",
        &[
            credentials("user", Some("pw%2Fd")),
            value("a/b"),
            value("a%2Fb"),
            value("k"),
            value("k"),
        ]
    )]
    #[case::nothing("http://h:1/v1?page=2", &[])]
    fn finds_the_secrets_of_a_url(#[case] url: &str, #[case] expected: &[Secret]) {
        assert_eq!(Secret::of_url(&Url::parse(url).unwrap()), expected);
    }

    #[rstest]
    #[case("api_key", true)]
    #[case("API-KEY", true)]
    #[case("Access_Token", true)]
    #[case("monkey", false)]
    #[case("page", false)]
    fn credential_like_query_params(#[case] name: &str, #[case] secret: bool) {
        assert_eq!(Secret::query_param(name, "v").is_some(), secret);
    }

    /// A secret across the cut: masked before cutting, the excerpt shows none of it.
    #[rstest]
    #[case(
        "0123456789 Bearer sk-SPLIT-SECRET tail",
        21,
        "0123456789 [REDACTED]… (5 more characters)"
    )]
    #[case("Bearer sk-SPLIT-SECRET", 5, "[REDA… (5 more characters)")]
    #[case("short", 20, "short")]
    fn excerpts_mask_before_cutting(
        #[case] text: &str,
        #[case] max: usize,
        #[case] expected: &str,
    ) {
        let redactor = Redactor::new(&[header("Bearer sk-SPLIT-SECRET")]);
        assert_eq!(redactor.excerpt(text, max), expected);
    }

    /// Redacted in pieces, split anywhere, a text comes out as it does redacted whole.
    #[rstest]
    #[case(&[value("sk-live-123")], "log: sk-live-123 and sk-live-123\n")]
    #[case(&[value("abcdef"), value("defghi")], "x abcdefghi y abcdef z defghi\n")]
    #[case(&[value("aaaa")], "baaaaaab")]
    #[case(&[credentials("user", Some("passw0rd"))], "Authorization: Basic dXNlcjpwYXNzdzByZA==\n")]
    #[case(&[value("pa\"ss")], "{\"echo\":\"pa\\\"ss\"}\n")]
    fn a_stream_split_anywhere_is_masked_as_a_whole(
        #[case] secrets: &[Secret],
        #[case] text: &str,
    ) {
        let redactor = Redactor::new(secrets);
        let whole = redactor.redact(text);
        assert!(whole.contains(MASK), "{whole}");
        for split in 0..=text.len() {
            let mut stream = StreamRedactor::new(redactor.clone());
            let mut out = stream.feed(&text.as_bytes()[..split]);
            out.extend(stream.feed(&text.as_bytes()[split..]));
            out.extend(stream.finish());
            assert_eq!(String::from_utf8(out).unwrap(), whole, "split at {split}");
        }
    }

    #[test]
    fn a_stream_writes_a_line_as_soon_as_nothing_in_it_can_become_a_secret() {
        let mut stream = StreamRedactor::new(Redactor::new(&[value("sk-live-123")]));
        assert_eq!(stream.feed(b"ready\n"), b"ready\n");
        assert_eq!(stream.feed(b"key sk-li"), b"key ");
        assert_eq!(stream.feed(b"ve-123\n"), b"[REDACTED]\n");
        assert_eq!(stream.feed(b"sk-"), b"");
        assert_eq!(stream.finish(), b"sk-");
    }

    /// A server printing one endless run of a secret: memory stays bounded, and what is
    /// written is masked but for less than a secret where the run was cut.
    #[test]
    fn an_endless_line_holds_back_little() {
        let mut stream = StreamRedactor::new(Redactor::new(&[value("aaaa")]));
        let piece = vec![b'a'; 16 * 1024];
        let mut out = Vec::new();
        for _ in 0..16 {
            out.extend(stream.feed(&piece));
            assert!(stream.held.len() <= MAX_HELD + piece.len());
        }
        out.extend(stream.feed(b"b"));
        out.extend(stream.finish());
        let out = String::from_utf8(out).unwrap();
        assert!(out.starts_with(MASK) && !out.contains("aaaa"), "{out}");
    }
}
