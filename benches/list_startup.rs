//! Start-up cost: how long `perfcase --list` takes on 1,000 checks (10 files of 50 smoke and
//! 25 two-variant inference checks, each with a JSON Schema to compile), the work every
//! `cargo test --test perf` run and every nextest process does before its first request.

use std::process::Command;
use std::time::{Duration, Instant};

const FILES: usize = 10;
const SMOKE_PER_FILE: usize = 50;
const INFERENCE_PER_FILE: usize = 25;
const RUNS: usize = 7;

fn scenario(file: usize) -> String {
    let mut text = format!(
        "[target]\nbase_url = \"${{NODE_{file}_URL:-http://127.0.0.1:9}}\"\napi = \"openai\"\n"
    );
    for i in 0..SMOKE_PER_FILE {
        text.push_str(&format!(
            "[[smoke]]\nname = \"check_{i}\"\nget = \"/v1/models\"\nexpect = {{ status = 200, max_latency = \"500ms\", json_schema = {{ type = \"object\", required = [\"data\"] }} }}\n"
        ));
    }
    for i in 0..INFERENCE_PER_FILE {
        text.push_str(&format!(
            "[[inference]]\nname = \"gen_{i}\"\nmodel = \"m\"\nprompt = \"Return exactly the text: HX-OK\"\nstream = [true, false]\nexpect = {{ text_trimmed = \"HX-OK\", ttft = \"< 2s\" }}\n"
        ));
    }
    text
}

fn main() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let scenarios = dir.path().join("scenarios");
    std::fs::create_dir_all(&scenarios).unwrap();
    for file in 0..FILES {
        std::fs::write(scenarios.join(format!("node-{file}.toml")), scenario(file)).unwrap();
    }
    let mut times: Vec<Duration> = Vec::new();
    let mut listed = 0;
    for _ in 0..RUNS {
        let started = Instant::now();
        let output = Command::new(env!("CARGO_BIN_EXE_perfcase"))
            .args(["--list", "--format", "terse"])
            .env("PERFCASE_SCENARIOS", &scenarios)
            .env("PERFCASE_OUT", dir.path().join("out"))
            .output()
            .expect("run perfcase");
        times.push(started.elapsed());
        assert!(output.status.success());
        listed = String::from_utf8_lossy(&output.stdout).lines().count();
    }
    times.sort();
    let expected = FILES * (SMOKE_PER_FILE + 2 * INFERENCE_PER_FILE);
    assert_eq!(listed, expected, "every check listed");
    println!(
        "list {listed} cases: median {:.1} ms, best {:.1} ms, worst {:.1} ms over {RUNS} runs ({:.1} µs per case)",
        times[RUNS / 2].as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        times[RUNS - 1].as_secs_f64() * 1e3,
        times[RUNS / 2].as_secs_f64() * 1e6 / listed as f64,
    );
}
