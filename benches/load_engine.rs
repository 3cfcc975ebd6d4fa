//! The load engine's throughput against wrk and oha, and its memory over a long run.
//!
//! One nginx worker (keep-alive without a practical limit, no access log) serves a small
//! JSON answer; wrk, oha and perfcase's closed loop take turns against it, three rounds,
//! each with the same connections and duration. wrk runs as usual with one thread per core,
//! and for comparison with one thread (`wrk-t1`): perfcase's default is half the cores
//! ([`default_threads`]), which on 2 cores is one. Generator and server share this machine's
//! cores, so a generator that spends less CPU per request leaves more to nginx and gets
//! more requests through: the ratio of requests/s is the ratio of efficiency. perfcase runs
//! with its lean HTTP/1.1 client ([`HttpGet`]) and, for comparison, with reqwest.
//!
//! Then perfcase's resident memory after 500 thousand and after 5 million requests, each run
//! writing its interval log (into a sink that keeps nothing) as an sla check does: the
//! recording must not grow with the number of requests or the length of the run.
//!
//! `cargo bench --bench load_engine`; oha is optional (`cargo install oha --locked`).

#[path = "../tests/support/nginx.rs"]
mod nginx;

use std::process::Command;
use std::time::Duration;

use nginx::Nginx;
use perfcase::load::{
    HttpGet, Model, Plan, Report, Request, ReqwestGet, Stage, default_threads, run_watched,
};

const CONNECTIONS: usize = 50;
const SECONDS: u64 = 5;
const ROUNDS: usize = 3;

fn main() {
    let nginx = Nginx::start(
        "keepalive_requests 100000000;\n\
         location = /json { default_type application/json; return 200 '{\"ok\":true}'; }",
    );
    let url = format!("{}/json", nginx.url());
    let oha = Command::new("oha").arg("--version").output().is_ok();
    if !oha {
        println!("oha is not installed (cargo install oha --locked): its column is skipped");
    }
    let lean = HttpGet::new(&url).expect("nginx's URL");
    let reqwest = ReqwestGet::new(&url, CONNECTIONS).expect("nginx's URL");
    let mut columns: Vec<(&str, Vec<f64>)> = vec![
        ("wrk", vec![]),
        ("wrk-t1", vec![]),
        ("oha", vec![]),
        ("perfcase", vec![]),
        ("perfcase-reqwest", vec![]),
    ];
    for round in 1..=ROUNDS {
        let rates = [
            Some(cpu(Who::Children, || wrk(&url, cores()))),
            Some(cpu(Who::Children, || wrk(&url, 1))),
            oha.then(|| cpu(Who::Children, || oha_rate(&url))),
            Some(cpu(Who::Me, || perfcase(&lean, None).total.rate())),
            Some(cpu(Who::Me, || perfcase(&reqwest, None).total.rate())),
        ];
        let mut line = format!("round {round}:");
        for ((name, column), rate) in columns.iter_mut().zip(rates) {
            if let Some((rate, cpu)) = rate {
                column.push(rate);
                let per_request = cpu.as_secs_f64() * 1e6 / (rate * SECONDS as f64);
                line.push_str(&format!(
                    " {name} {rate:.0}/s ({per_request:.1}µs CPU each)"
                ));
            }
        }
        println!("{line}");
    }
    let medians: Vec<(&str, Option<f64>)> = columns
        .iter()
        .map(|(name, rates)| (*name, median(rates)))
        .collect();
    for (name, rate) in &medians {
        if let Some(rate) = rate {
            println!("median {name} {rate:.0} requests/s");
        }
    }
    let of = |name: &str| {
        medians
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, r)| *r)
    };
    let ours = of("perfcase").expect("perfcase ran");
    for other in ["wrk", "wrk-t1", "oha"] {
        if let Some(theirs) = of(other) {
            println!("ratio perfcase/{other} {:.2}", ours / theirs);
        }
    }
    if let Some(theirs) = of("wrk") {
        let reqwest = of("perfcase-reqwest").expect("perfcase ran");
        println!("ratio perfcase-reqwest/wrk {:.2}", reqwest / theirs);
    }

    let mut resident = Vec::new();
    for count in [500_000, 5_000_000] {
        let report = perfcase(&lean, Some(count));
        let errors = report.total.tally.error_count();
        resident.push(resident_kib());
        println!(
            "resident memory after {count} requests: {} KiB ({:.0} requests/s, {errors} errors)",
            resident[resident.len() - 1],
            report.total.rate()
        );
    }
    // What may grow is the timeline (a row of about a hundred bytes per second) and the
    // allocator's slack, not anything per request.
    assert!(
        resident[1] <= resident[0] + resident[0] / 10,
        "resident memory grew from {} KiB to {} KiB",
        resident[0],
        resident[1]
    );
}

/// A closed loop of [`CONNECTIONS`] users for [`SECONDS`], or until `count` requests,
/// writing its interval log.
fn perfcase(request: &impl Request, count: Option<u64>) -> Report {
    let duration = match count {
        // Long enough for the count at any rate this machine reaches.
        Some(_) => Duration::from_secs(600),
        None => Duration::from_secs(SECONDS),
    };
    let plan = Plan {
        model: Model::Closed {
            think: Duration::ZERO,
        },
        stages: vec![Stage {
            level: CONNECTIONS as f64,
            duration,
            ramp: Duration::ZERO,
        }],
        warmup: Duration::ZERO,
        timeout: Duration::from_secs(10),
        time_limit: duration + Duration::from_secs(15),
        max_requests: count,
    };
    let mut log = std::io::sink();
    run_watched(&plan, default_threads(), request, Some(&mut log), |_| {
        std::ops::ControlFlow::Continue(())
    })
    .expect("a valid plan")
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn wrk(url: &str, threads: usize) -> f64 {
    let threads = threads.to_string();
    let out = command(
        "wrk",
        &[
            "-t",
            &threads,
            "-c",
            &CONNECTIONS.to_string(),
            "-d",
            &format!("{SECONDS}s"),
            url,
        ],
    );
    // "Requests/sec: 101234.56"
    out.lines()
        .find_map(|line| line.strip_prefix("Requests/sec:"))
        .and_then(|rate| rate.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Requests/sec in wrk's output:\n{out}"))
}

fn oha_rate(url: &str) -> f64 {
    let out = command(
        "oha",
        &[
            "-c",
            &CONNECTIONS.to_string(),
            "-z",
            &format!("{SECONDS}s"),
            "--no-tui",
            "--output-format",
            "json",
            url,
        ],
    );
    let json: serde_json::Value = serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("oha's output is not JSON ({e}):\n{out}"));
    json["summary"]["requestsPerSec"]
        .as_f64()
        .unwrap_or_else(|| panic!("no summary.requestsPerSec in oha's output:\n{out}"))
}

fn command(program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        output.status.success(),
        "{program} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Whose CPU time to count: a generator run as a child process, or this process's own.
#[derive(Clone, Copy)]
enum Who {
    Children,
    Me,
}

/// Runs `f` and returns its result with the CPU time (user and system) it took: the
/// generator's cost per request, which the shared cores' scheduling moves less than the
/// rate. Children count once waited for, which `command` does; nginx is never waited for
/// during the run, so it is not counted.
fn cpu<T>(who: Who, f: impl FnOnce() -> T) -> (T, Duration) {
    let used = || {
        let whom = match who {
            Who::Children => libc::RUSAGE_CHILDREN,
            Who::Me => libc::RUSAGE_SELF,
        };
        // SAFETY: getrusage(2) into a zeroed struct of the right type.
        let usage = unsafe {
            let mut usage = std::mem::zeroed::<libc::rusage>();
            libc::getrusage(whom, &mut usage);
            usage
        };
        let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
        time(usage.ru_utime) + time(usage.ru_stime)
    };
    let before = used();
    let result = f();
    (result, used() - before)
}

fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied()
}

/// VmRSS of this process, from /proc/self/status.
fn resident_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status")
}
