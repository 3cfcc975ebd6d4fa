//! The shipped scenarios and suites load cleanly and name the cases the README promises.

mod support;

use std::path::PathBuf;

use support::run::run_harness;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn list(suite: Option<&str>) -> Vec<String> {
    let out = tempfile::tempdir().unwrap();
    let mut env = vec![("PERFCASE_SUITES", "suites")];
    if let Some(suite) = suite {
        env.push(("PERFCASE_SUITE", suite));
    }
    let run = run_harness(
        &root().join("scenarios"),
        out.path(),
        &root(),
        &["--list", "--format", "terse"],
        &env,
    );
    assert_eq!(run.code, 0, "{}", run.explain());
    run.stdout
        .lines()
        .map(|l| l.trim_end_matches(": test").to_string())
        .collect()
}

#[test]
fn every_shipped_scenario_loads_and_the_promised_cases_exist() {
    let names = list(None);
    assert!(!names.iter().any(|n| n.starts_with("load::")), "{names:?}");
    for expected in [
        "smoke::local-llm::health",
        "smoke::local-llm::models",
        "smoke::local-llm::metrics",
        "inference::local-llm::hx_ok::stream",
        "inference::local-llm::hx_ok::no_stream",
        "inference::local-llm::generate",
        "smoke::local-embeddings::health",
        "inference::local-embeddings::embed",
        "smoke::ollama::root",
        "smoke::ollama::version",
        "smoke::ollama::tags",
        "inference::ollama::hx_ok_phi3::stream",
        "inference::ollama::hx_ok_gemma2::no_stream",
        "baseline::local-llm::generate",
        "baseline::local-llm::health",
        "baseline::local-embeddings::embed",
        "baseline::ollama::throughput_phi3",
        "baseline::ollama::throughput_gemma2",
        "sla::local-llm::health_ladder",
        "smoke::local-nginx::status",
        "sla::local-nginx::steady_500",
        "sla::local-nginx::mix_300",
        "sla::local-llm::generate_4_users",
        "sla::local-embeddings::embed_2_users",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing from {names:?}"
        );
    }
}

#[test]
fn the_smoke_suite_selects_only_smoke_checks_and_default_selects_all() {
    let smoke = list(Some("smoke"));
    assert!(!smoke.is_empty());
    assert!(smoke.iter().all(|n| n.starts_with("smoke::")), "{smoke:?}");
    assert_eq!(list(Some("default")), list(None));
}
