//! Case names: `<kind>::<scenario>::<check>[::<variant>]`, kind first so that a filter
//! like `smoke::` selects a whole kind.

use std::path::Path;

use crate::kind::Kind;

/// The scenario part of a name: the path under the root without `.toml`, `/` becoming `::`.
pub fn scenario_name(relative: &Path) -> String {
    relative
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("::")
}

/// `check` includes its variant, if any (see [`check_name`]).
pub fn case_name(kind: Kind, scenario: &str, check: &str) -> String {
    format!("{}::{scenario}::{check}", kind.as_str())
}

/// The check part of a name: the check's own name, then its variant (`hx_ok::stream`).
pub fn check_name(check: &str, variant: Option<&str>) -> String {
    match variant {
        Some(variant) => format!("{check}::{variant}"),
        None => check.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("ollama.toml", "ollama")]
    #[case("gpu/node-1.toml", "gpu::node-1")]
    #[case("a/b/c.toml", "a::b::c")]
    fn scenario_names(#[case] path: &str, #[case] expected: &str) {
        assert_eq!(scenario_name(Path::new(path)), expected);
    }

    #[rstest]
    #[case(Kind::Smoke, "ollama", "version", None, "smoke::ollama::version")]
    #[case(
        Kind::Inference,
        "ollama",
        "hx_ok",
        Some("stream"),
        "inference::ollama::hx_ok::stream"
    )]
    #[case(Kind::Smoke, "gpu::a", "health", None, "smoke::gpu::a::health")]
    fn case_names(
        #[case] kind: Kind,
        #[case] scenario: &str,
        #[case] check: &str,
        #[case] variant: Option<&str>,
        #[case] expected: &str,
    ) {
        assert_eq!(
            case_name(kind, scenario, &check_name(check, variant)),
            expected
        );
    }
}
