//! The harness as users drive it: listing, filtering, load errors, suites, optional
//! targets. These need no server; the ones that do live in `smoke.rs`.

mod support;

use support::run::Workspace;

const OPTIONAL: &str = r#"
[target]
base_url = "${REMOTE_URL:-http://127.0.0.1:9}"
enabled_if = "REMOTE_URL"

[[smoke]]
name = "up"
get = "/"

[[smoke]]
name = "version"
get = "/version"
"#;

#[test]
fn lists_every_check_with_its_kind_first_and_scenario_path() {
    let ws = Workspace::new(&[("remote.toml", OPTIONAL), ("gpu/node-1.toml", OPTIONAL)]);
    let run = ws.run(&["--list"], &[]);
    assert_eq!(run.code, 0, "{}", run.explain());
    for name in [
        "smoke::remote::up: test",
        "smoke::remote::version: test",
        "smoke::gpu::node-1::up: test",
    ] {
        assert!(
            run.stdout.lines().any(|l| l == name),
            "{name} missing\n{}",
            run.explain()
        );
    }
}

#[test]
fn terse_list_prints_only_name_lines_for_nextest() {
    let ws = Workspace::new(&[("remote.toml", OPTIONAL)]);
    let run = ws.run(&["--list", "--format", "terse"], &[]);
    assert_eq!(run.code, 0, "{}", run.explain());
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        lines,
        ["smoke::remote::up: test", "smoke::remote::version: test"]
    );
    assert!(!ws.out().exists(), "--list must not write artifacts");
}

/// A deploy job that runs `-- smoke::` must not go green while a file with a typo drops
/// its checks; nextest runs each case as `--exact <name>`, which must fail the same way.
#[rstest::rstest]
#[case(&["smoke::"])]
#[case(&["--exact", "smoke::remote::up"])]
#[case(&["--skip", "load::"])]
fn a_filter_never_hides_a_broken_file(#[case] args: &[&str]) {
    let typo = "[target]\nbase_url = \"http://127.0.0.1:9\"\n[[smoke]]\nname = \"x\"\nget = \"/\"\nexpcet = {}\n";
    let ws = Workspace::new(&[("typo.toml", typo), ("remote.toml", OPTIONAL)]);
    let run = ws.run(args, &[]);
    assert_eq!(run.code, 1, "{}", run.explain());
    assert_eq!(
        run.outcome("load::typo"),
        None,
        "filtered out: {}",
        run.explain()
    );
    let file = ws.scenarios().join("typo.toml");
    for text in [
        "perfcase: error: load::typo failed, and the filter left it out:".to_string(),
        format!("{}:6:1: unknown field `expcet`", file.display()),
        "failing the run".to_string(),
    ] {
        assert!(run.stderr.contains(&text), "{text}\n{}", run.explain());
    }
    let junit = ws.read_out("junit.xml");
    assert!(junit.contains("<error type=\"load\""), "{junit}");
}

#[test]
fn two_files_with_one_scenario_name_are_a_load_error_naming_both() {
    let ws = Workspace::new(&[("a/b.toml", OPTIONAL), ("a::b.toml", OPTIONAL)]);
    let list = ws.run(&["--list"], &[]);
    let names: Vec<&str> = list
        .stdout
        .lines()
        .filter(|l| l.ends_with(": test"))
        .collect();
    assert_eq!(names, ["load::a::b: test"], "{}", list.explain());
    let run = ws.run(&[], &[]);
    run.assert_outcome("load::a::b", "FAILED");
    for file in ["a/b.toml", "a::b.toml"] {
        run.assert_says(&ws.scenarios().join(file).display().to_string());
    }
    run.assert_says("all map to the scenario name \"a::b\"");
}

#[test]
fn a_file_that_is_not_utf8_is_placed() {
    let ws = Workspace::new(&[]);
    std::fs::write(
        ws.scenarios().join("latin1.toml"),
        b"[target]\nbase_url = \"http://127.0.0.1:9\" # caf\xe9\n",
    )
    .unwrap();
    let run = ws.run(&[], &[]);
    run.assert_outcome("load::latin1", "FAILED");
    run.assert_says(&format!(
        "{}:2:38: not UTF-8 (byte 0xe9)",
        ws.scenarios().join("latin1.toml").display()
    ));
}

/// libtest runs the cases that match any of several filters; so does the harness.
#[test]
fn several_filters_select_the_union() {
    let ws = Workspace::new(&[("remote.toml", OPTIONAL), ("gpu/node-1.toml", OPTIONAL)]);
    let run = ws.run(&["--list", "remote::up", "node-1::version"], &[]);
    assert_eq!(run.code, 0, "{}", run.explain());
    let names: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.ends_with(": test"))
        .collect();
    assert_eq!(
        names,
        [
            "smoke::gpu::node-1::version: test",
            "smoke::remote::up: test"
        ],
        "{}",
        run.explain()
    );
    let run = ws.run(
        &["--include-ignored", "--", "remote::up", "node-1::version"],
        &[],
    );
    assert!(run.stdout.contains("2 ignored"), "{}", run.explain());
}

#[test]
fn zero_test_threads_is_refused_at_once() {
    let ws = Workspace::new(&[("remote.toml", OPTIONAL)]);
    let run = ws.run(&["--test-threads", "0"], &[]);
    assert_eq!(run.code, 1, "{}", run.explain());
    assert!(
        run.stderr.contains("--test-threads must be at least 1"),
        "{}",
        run.explain()
    );
}

#[test]
fn a_broken_file_fails_its_own_load_case_and_the_others_still_run() {
    let broken = "[target]\nbase_url = \"http://127.0.0.1:9\"\n[[smoke]]\nname = \"x\"\nget = \"/\"\ntimeout = \"10 sec\"\n";
    let ws = Workspace::new(&[("broken.toml", broken), ("remote.toml", OPTIONAL)]);
    let run = ws.run(&[], &[]);
    assert_eq!(run.code, 101, "{}", run.explain());
    run.assert_outcome("load::broken", "FAILED");
    assert!(
        run.outcome("smoke::remote::up")
            .unwrap()
            .starts_with("ignored")
    );
    let file = ws.scenarios().join("broken.toml");
    let expected = format!(
        "{}:6:11: invalid duration \"10 sec\": unknown unit",
        file.display()
    );
    assert!(
        run.stdout.contains(&expected),
        "{expected}\n{}",
        run.explain()
    );
    let junit = ws.read_out("junit.xml");
    assert!(junit.contains("<error type=\"load\" message=\""), "{junit}");
    assert!(junit.contains("6:11: invalid duration"), "{junit}");
}

#[test]
fn unknown_keys_get_a_did_you_mean_with_their_position() {
    let typo = "[target]\nbase_url = \"http://127.0.0.1:9\"\n[[smoke]]\nname = \"x\"\nget = \"/\"\nexpect = { stauts = 200 }\n";
    let ws = Workspace::new(&[("typo.toml", typo)]);
    let run = ws.run(&[], &[]);
    run.assert_says("typo.toml:6:12: unknown field `stauts`");
    run.assert_says("did you mean `status`?");
}

#[test]
fn duplicate_check_names_are_a_load_error_naming_both_places() {
    let dup = "[target]\nbase_url = \"http://127.0.0.1:9\"\n[[smoke]]\nname = \"x\"\nget = \"/\"\n[[smoke]]\nname = \"x\"\nget = \"/y\"\n";
    let ws = Workspace::new(&[("dup.toml", dup)]);
    let run = ws.run(&[], &[]);
    run.assert_says("dup.toml:7:8: duplicate smoke check name \"x\": also defined at 4:8");
}

#[test]
fn unset_variables_without_default_are_load_errors() {
    let text = "[target]\nbase_url = \"${NODE_URL}\"\n";
    let ws = Workspace::new(&[("node.toml", text)]);
    let run = ws.run(&[], &[]);
    run.assert_outcome("load::node", "FAILED");
    run.assert_says("node.toml:2:12: environment variable NODE_URL is not set");
}

#[test]
fn optional_targets_are_ignored_with_a_reason_in_junit_and_csv() {
    let ws = Workspace::new(&[("remote.toml", OPTIONAL)]);
    let run = ws.run(&[], &[]);
    assert_eq!(run.code, 0, "{}", run.explain());
    run.assert_outcome("smoke::remote::up", "ignored");
    assert!(
        run.stderr.contains("perfcase: ignoring the cases of scenario remote: target of scenario remote is optional: set REMOTE_URL to run"),
        "{}",
        run.explain()
    );
    let junit = ws.read_out("junit.xml");
    assert!(junit.contains("<skipped type=\"ignored\" message=\"target of scenario remote is optional: set REMOTE_URL to run\"/>"), "{junit}");
    let csv_text = ws.read_out("results.csv");
    let mut csv = csv::Reader::from_reader(csv_text.as_bytes());
    let statuses: Vec<String> = csv.records().map(|r| r.unwrap()[5].to_string()).collect();
    assert_eq!(statuses, ["skipped", "skipped"]);
}

#[test]
fn a_target_whose_required_program_is_missing_is_ignored_with_how_to_install_it() {
    let scenario = r#"
[target]
base_url = "http://127.0.0.1:9"
requires = { perfcase-no-such-server = "apt-get install perfcase-no-such-server" }

[target.spawn]
command = "perfcase-no-such-server --port 9"

[[smoke]]
name = "up"
get = "/"
"#;
    let ws = Workspace::new(&[("local.toml", scenario)]);
    let run = ws.run(&[], &[]);
    assert_eq!(run.code, 0, "{}", run.explain());
    run.assert_outcome("smoke::local::up", "ignored");
    assert!(
        run.stderr.contains("perfcase: ignoring the cases of scenario local: target of scenario local needs perfcase-no-such-server, which is not installed (not on PATH, nor in /usr/local/sbin, /usr/sbin, /sbin): apt-get install perfcase-no-such-server"),
        "{}",
        run.explain()
    );
}

#[test]
fn ignored_and_include_ignored_select_the_optional_cases_and_still_skip_them_with_the_reason() {
    let ws = Workspace::new(&[("remote.toml", OPTIONAL)]);
    let listed = ws.run(&["--list", "--ignored"], &[]);
    assert_eq!(
        listed
            .stdout
            .lines()
            .filter(|l| l.ends_with(": test"))
            .count(),
        2,
        "{}",
        listed.explain()
    );
    for flag in ["--ignored", "--include-ignored"] {
        let run = ws.run(&[flag], &[]);
        assert_eq!(run.code, 0, "{}", run.explain());
        // Run, they find the variable unset: skipped with the reason, never passed.
        run.assert_outcome(
            "smoke::remote::up",
            "ignored (target of scenario remote is optional: set REMOTE_URL to run)",
        );
        assert!(
            ws.read_out("summary.md")
                .contains("2 cases: 0 passed, 0 failed, 0 errors, 2 skipped")
        );
    }
}

#[test]
fn json_format_reports_every_case() {
    let ws = Workspace::new(&[("remote.toml", OPTIONAL)]);
    let run = ws.run(
        &[
            "-Z",
            "unstable-options",
            "--format",
            "json",
            "--include-ignored",
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.explain());
    let events: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ignored = events.iter().filter(|e| e["event"] == "ignored").count();
    assert_eq!(ignored, 2, "{}", run.explain());
}

#[test]
fn filters_exact_and_skip_select_cases() {
    let ws = Workspace::new(&[("remote.toml", OPTIONAL), ("other.toml", OPTIONAL)]);
    let exact = ws.run(&["--list", "--exact", "smoke::remote::up"], &[]);
    assert_eq!(
        exact
            .stdout
            .lines()
            .filter(|l| l.ends_with(": test"))
            .count(),
        1,
        "{}",
        exact.explain()
    );
    let skip = ws.run(&["--list", "smoke::", "--skip", "other"], &[]);
    let listed: Vec<&str> = skip
        .stdout
        .lines()
        .filter(|l| l.ends_with(": test"))
        .collect();
    assert_eq!(
        listed,
        ["smoke::remote::up: test", "smoke::remote::version: test"]
    );
}

#[test]
fn a_suite_selects_scenarios_and_kinds_and_sets_variables() {
    let ws = Workspace::new(&[("remote.toml", OPTIONAL), ("other/x.toml", OPTIONAL)]);
    ws.write(
        "suites/nightly.toml",
        "scenarios = [\"remote.toml\"]\nkinds = [\"smoke\"]\n[env]\nREMOTE_URL = \"http://127.0.0.1:9\"\n",
    );
    let suites = ws.dir.path().join("suites");
    let suites = suites.to_str().unwrap();
    let run = ws.run(
        &["--list"],
        &[("PERFCASE_SUITE", "nightly"), ("PERFCASE_SUITES", suites)],
    );
    let listed: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.ends_with(": test"))
        .collect();
    assert_eq!(
        listed,
        ["smoke::remote::up: test", "smoke::remote::version: test"],
        "{}",
        run.explain()
    );
    // The suite's REMOTE_URL enables the optional target: the case runs (and fails to connect).
    let run = ws.run(
        &["smoke::remote::up"],
        &[("PERFCASE_SUITE", "nightly"), ("PERFCASE_SUITES", suites)],
    );
    run.assert_outcome("smoke::remote::up", "FAILED");
}

#[test]
fn a_broken_suite_is_a_failing_load_case() {
    let ws = Workspace::new(&[("remote.toml", OPTIONAL)]);
    ws.write("suites/bad.toml", "kinds = [\"smok\"]\n");
    let suites = ws.dir.path().join("suites");
    let run = ws.run(
        &[],
        &[
            ("PERFCASE_SUITE", "bad"),
            ("PERFCASE_SUITES", suites.to_str().unwrap()),
        ],
    );
    run.assert_outcome("load::suite::bad", "FAILED");
    run.assert_says("bad.toml:1:10: unknown variant `smok`");
    run.assert_says("did you mean `smoke`?");
}

#[test]
fn connection_refused_is_an_error_naming_the_url_and_returns_quickly() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let text = format!(
        "[target]\nbase_url = \"http://127.0.0.1:{port}\"\n[[smoke]]\nname = \"up\"\nget = \"/health\"\n"
    );
    let ws = Workspace::new(&[("down.toml", &text)]);
    let started = std::time::Instant::now();
    let run = ws.run(&[], &[]);
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    run.assert_outcome("smoke::down::up", "FAILED");
    let expected =
        format!("connection refused by http://127.0.0.1:{port}/health: nothing listens there");
    run.assert_says(&expected);
    assert!(ws.read_out("junit.xml").contains("<error type=\"request\""));
}

#[test]
fn a_missing_scenario_folder_says_how_to_point_at_one() {
    let ws = Workspace::new(&[]);
    std::fs::remove_dir(ws.scenarios()).unwrap();
    let run = ws.run(&[], &[]);
    run.assert_outcome("load::scenarios", "FAILED");
    run.assert_says("set PERFCASE_SCENARIOS");
}

#[test]
fn nextest_processes_merge_their_records_by_run_id() {
    let down = "[target]\nbase_url = \"http://127.0.0.1:9\"\nconnect_timeout = \"1s\"\n\
                [[smoke]]\nname = \"a\"\nget = \"/\"\n[[smoke]]\nname = \"b\"\nget = \"/\"\n";
    let ws = Workspace::new(&[("remote.toml", OPTIONAL), ("down.toml", down)]);
    let nextest = [("NEXTEST", "1"), ("NEXTEST_RUN_ID", "run-1")];
    // nextest runs each case as `--exact NAME` in a process of its own, and never runs the
    // ignored cases of the optional target.
    for case in ["smoke::down::a", "smoke::down::b"] {
        ws.run(&["--exact", case], &nextest);
    }
    let junit = ws.read_out("junit.xml");
    for case in ["\"a\"", "\"b\""] {
        assert!(junit.contains(&format!("<testcase name={case}")), "{junit}");
    }
    for case in ["up", "version"] {
        assert!(
            junit.contains(&format!(
                "<testcase name=\"{case}\" time=\"0\" classname=\"smoke::remote\""
            )),
            "skipped cases are listed with their reason: {junit}"
        );
    }
    assert_eq!(
        junit.matches("<skipped type=\"ignored\"").count(),
        2,
        "{junit}"
    );
    // A new run starts afresh instead of piling onto the old one.
    ws.run(
        &["--exact", "smoke::down::a"],
        &[("NEXTEST", "1"), ("NEXTEST_RUN_ID", "run-2")],
    );
    let junit = ws.read_out("junit.xml");
    assert!(
        junit.contains("<testcase name=\"a\"") && !junit.contains("<testcase name=\"b\""),
        "{junit}"
    );
}
