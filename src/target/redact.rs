//! Keeps secrets out of artifacts and logs.
//!
//! Header values are secrets. A server may echo them back (an error body quoting the
//! request, a debug endpoint), and those bodies end up in failure messages, so every text
//! that leaves the harness goes through [`Redactor::redact`].

pub const MASK: &str = "[REDACTED]";

/// Shorter values are not treated as secrets: masking every "1" would garble reports.
const MIN_SECRET_LEN: usize = 4;

#[derive(Debug, Default, Clone)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    /// Registers a header value; for `Bearer abc`, the token alone is a secret too.
    pub fn add(&mut self, value: &str) {
        let mut candidates = vec![value.trim()];
        if let Some((_, token)) = value.trim().split_once(' ') {
            candidates.push(token.trim());
        }
        for candidate in candidates {
            if candidate.len() >= MIN_SECRET_LEN && !self.secrets.iter().any(|s| s == candidate) {
                self.secrets.push(candidate.to_string());
            }
        }
        // Longest first, so a whole value is masked before the token inside it.
        self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    pub fn redact(&self, text: &str) -> String {
        self.secrets
            .iter()
            .fold(text.to_string(), |text, secret| text.replace(secret, MASK))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case(&["Bearer sk-live-123"], "got Bearer sk-live-123", "got [REDACTED]")]
    #[case(&["Bearer sk-live-123"], "token=sk-live-123;", "token=[REDACTED];")]
    #[case(&["abc"], "abc stays", "abc stays")]
    #[case(&["secret1", "secret12"], "x secret12 y", "x [REDACTED] y")]
    #[case(&[], "nothing", "nothing")]
    fn redacts(#[case] secrets: &[&str], #[case] text: &str, #[case] expected: &str) {
        let mut redactor = Redactor::default();
        for secret in secrets {
            redactor.add(secret);
        }
        assert_eq!(redactor.redact(text), expected);
    }
}
