//! A managed server never outlives the harness, however the harness ends: killed (SIGKILL,
//! what a CI runner does on timeout, also in the middle of stopping the server), signalled
//! (SIGHUP from a closed terminal, Ctrl-C, a CI job's cancellation), or at the normal end of
//! a run. The server is a real one the harness starts: a small Python HTTP server that
//! writes its pid, answers `/health` and holds `/sleep/<seconds>` open for that long.

mod support;

use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Command, ExitStatus};
use std::time::Duration;

use rstest::rstest;
use support::process::{Guard, Proc, group_members, wait_until};
use support::run::Workspace;

/// Writes `pid` once it listens and `sleeping` when a `/sleep/` request arrives, in the
/// folder named by its second argument. With `--ignore-term` it outlives SIGTERM, noting
/// `terminated`, as a server that takes long to shut down. With `--print-auth` it prints
/// the Authorization header of every request, as a verbose server logs what it received.
const SERVER: &str = r#"
import http.server, os, signal, sys, time

port, state = int(sys.argv[1]), sys.argv[2]

def note(name, text=""):
    path = os.path.join(state, name)
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if "--print-auth" in sys.argv:
            print("Authorization:", self.headers.get("Authorization"), flush=True)
        if self.path.startswith("/sleep/"):
            note("sleeping")
            time.sleep(float(self.path[len("/sleep/"):]))
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass

if "--ignore-term" in sys.argv:
    signal.signal(signal.SIGTERM, lambda *_: note("terminated"))

server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
note("pid", str(os.getpid()))
server.serve_forever()
"#;

/// How long the server may take to start and the `/sleep/` check to reach it.
const STARTING: Duration = Duration::from_secs(30);
/// How long a killed harness's server may take to be gone.
const GONE: Duration = Duration::from_secs(5);

/// A workspace whose scenario `held` has the server (with `flags`) as a managed target, a
/// check `up` on `/health` and a check `slow` that holds the server for `sleep_s` seconds.
fn held_server(sleep_s: u32, flags: &str) -> Workspace {
    held_server_sending(sleep_s, flags, "")
}

/// [`held_server`] whose checks send `target_lines`' headers.
fn held_server_sending(sleep_s: u32, flags: &str, target_lines: &str) -> Workspace {
    let ws = Workspace::new(&[]);
    ws.write("server.py", SERVER);
    std::fs::create_dir_all(ws.dir.path().join("state")).unwrap();
    let scenario = format!(
        r#"[target]
base_url = "http://127.0.0.1:${{PERFCASE_FREE_PORT}}"
{target_lines}
[target.spawn]
command = "python3 {script} ${{PERFCASE_FREE_PORT}} {state} {flags}"
ready_path = "/health"
ready_timeout = "20s"

[[smoke]]
name = "up"
get = "/health"

[[smoke]]
name = "slow"
get = "/sleep/{sleep_s}"
timeout = "60s"
"#,
        script = ws.dir.path().join("server.py").display(),
        state = ws.dir.path().join("state").display(),
    );
    ws.write("scenarios/held.toml", &scenario);
    ws
}

fn state(ws: &Workspace, name: &str) -> PathBuf {
    ws.dir.path().join("state").join(name)
}

/// The harness on `held`, one case at a time: `up`, then `slow`.
fn one_at_a_time(ws: &Workspace) -> Command {
    ws.command(&["--test-threads", "1"], &[])
}

/// A run caught while `slow` is at the server.
struct MidRun<'a> {
    ws: &'a Workspace,
    harness: Guard,
    /// The server's process group.
    group: i32,
    /// Every process below the harness then: the server and whatever watches over it.
    started: Vec<Proc>,
}

impl MidRun<'_> {
    /// Starts the harness and waits until `slow` is at the server.
    fn start(ws: &Workspace, mut harness: Command) -> MidRun<'_> {
        let mut harness = Guard::new(harness.spawn().expect("cannot run the perfcase binary"));
        let sleeping = wait_until(STARTING, || state(ws, "sleeping").exists());
        if sleeping.is_none() {
            let exited = harness.wait(Duration::ZERO);
            panic!(
                "the slow check never reached the server (harness: {exited:?})\n{}",
                ws.output()
            );
        }
        let pid: i32 = std::fs::read_to_string(state(ws, "pid"))
            .unwrap()
            .parse()
            .unwrap();
        let server = Proc::of(pid).expect("the server is running");
        let started = harness.below();
        assert!(started.contains(&server), "{started:?}");
        MidRun {
            ws,
            harness,
            group: server.group().unwrap(),
            started,
        }
    }

    /// How the harness exited, within `limit`.
    #[track_caller]
    fn exit(&mut self, limit: Duration) -> ExitStatus {
        self.harness.wait(limit).unwrap_or_else(|| {
            panic!(
                "the harness did not exit within {limit:?}\n{}",
                self.ws.output()
            )
        })
    }

    /// Asserts that the harness exits within `limit` with `code`.
    #[track_caller]
    fn assert_exits(&mut self, limit: Duration, code: i32) {
        let status = self.exit(limit);
        assert_eq!(status.code(), Some(code), "{}", self.ws.output());
    }

    /// Asserts that every process of `started` and every member of the server's process
    /// group are gone within `limit`; returns how long that took.
    #[track_caller]
    fn assert_all_gone(&self, limit: Duration) -> Duration {
        let members = || group_members(self.group);
        let gone = || self.started.iter().all(|p| !p.alive()) && members().is_empty();
        wait_until(limit, gone).unwrap_or_else(|| {
            let mut left: Vec<Proc> = self.started.iter().copied().filter(Proc::alive).collect();
            for member in members() {
                if !left.contains(&member) {
                    left.push(member);
                }
            }
            let left: Vec<String> = left.iter().map(Proc::describe).collect();
            panic!("still running after {limit:?}: {left:?}")
        })
    }
}

#[test]
fn a_killed_harness_takes_its_managed_server_and_watchdog_with_it() {
    let ws = held_server(30, "");
    let mut run = MidRun::start(&ws, one_at_a_time(&ws));
    assert!(
        run.started.len() >= 2 && run.started.iter().any(|p| p.pid == run.group),
        "a server and its watchdog, the leader of the server's group: {:?}",
        run.started
    );
    run.harness.signal(libc::SIGKILL);
    assert_eq!(run.exit(GONE).signal(), Some(libc::SIGKILL));
    let took = run.assert_all_gone(GONE);
    eprintln!("after SIGKILL, everything the harness started was gone in {took:?}");
}

/// SIGHUP (a closed terminal) as Ctrl-C and a CI job's cancellation.
#[rstest]
#[case::hang_up(libc::SIGHUP, 129)]
#[case::interrupt(libc::SIGINT, 130)]
#[case::terminate(libc::SIGTERM, 143)]
fn a_signalled_harness_stops_its_server_and_writes_the_cases_so_far(
    #[case] signal: libc::c_int,
    #[case] code: i32,
) {
    let ws = held_server(30, "");
    let mut run = MidRun::start(&ws, one_at_a_time(&ws));
    run.harness.signal(signal);
    // The stop gives the server up to 2 s after SIGTERM; writing is quick.
    run.assert_exits(Duration::from_secs(20), code);
    // Stopped before the harness exits, not by a watchdog after it.
    run.assert_all_gone(Duration::ZERO);
    let junit = ws.read_out("junit.xml");
    assert!(junit.contains("<testcase name=\"up\""), "{junit}");
    let slow = junit
        .split("<testcase ")
        .find(|case| case.starts_with("name=\"slow\""))
        .unwrap_or_else(|| panic!("no slow case: {junit}"));
    assert!(
        slow.contains("<error") && slow.contains("not finished: the run was interrupted"),
        "the case cut short is an error that says so, not a failure of the stopped server: {slow}"
    );
}

#[test]
fn a_normal_run_leaves_no_server_and_no_watchdog() {
    let ws = held_server(1, "");
    let mut run = MidRun::start(&ws, one_at_a_time(&ws));
    run.assert_exits(Duration::from_secs(30), 0);
    // Stopped and reaped before the harness exits.
    run.assert_all_gone(Duration::ZERO);
}

#[test]
fn under_nohup_a_hang_up_leaves_the_run_going() {
    // The slow check holds 3 s, so the hang-up certainly arrives mid-run.
    let ws = held_server(3, "");
    let mut harness = one_at_a_time(&ws);
    // What `nohup` does: the harness starts with SIGHUP ignored.
    // SAFETY: between fork and exec the closure only calls signal(2), async-signal-safe.
    unsafe {
        harness.pre_exec(|| {
            libc::signal(libc::SIGHUP, libc::SIG_IGN);
            Ok(())
        });
    }
    let mut run = MidRun::start(&ws, harness);
    run.harness.signal(libc::SIGHUP);
    assert_eq!(
        run.harness.wait(Duration::from_millis(500)),
        None,
        "a hang-up under nohup must not end the run"
    );
    run.assert_exits(Duration::from_secs(30), 0);
    let summary = ws.read_out("summary.md");
    assert!(summary.contains("2 cases: 2 passed"), "{summary}");
}

#[test]
fn a_server_that_outlives_sigterm_is_killed_after_the_grace_period() {
    let ws = held_server(1, "--ignore-term");
    let mut run = MidRun::start(&ws, one_at_a_time(&ws));
    run.assert_exits(Duration::from_secs(30), 0);
    assert!(state(&ws, "terminated").exists(), "SIGTERM comes first");
    run.assert_all_gone(Duration::ZERO);
}

#[test]
fn a_harness_killed_while_it_stops_its_server_still_takes_the_server_with_it() {
    let ws = held_server(30, "--ignore-term");
    let mut run = MidRun::start(&ws, one_at_a_time(&ws));
    run.harness.signal(libc::SIGINT);
    // The stop has sent SIGTERM to the whole group and waits out the grace period.
    let terminated = wait_until(Duration::from_secs(5), || state(&ws, "terminated").exists());
    assert!(terminated.is_some(), "{}", ws.output());
    run.harness.signal(libc::SIGKILL);
    // Killed during its stop, not ended by it: else the test would not test that path.
    assert_eq!(run.exit(GONE).signal(), Some(libc::SIGKILL));
    run.assert_all_gone(GONE);
}

/// The log is masked as it is written, not when the server stops: after a SIGKILL, which
/// leaves the harness no time to do anything, the log on disk holds no secret.
#[test]
fn a_killed_harness_leaves_a_masked_log() {
    let secret = "sk-live-3c2b1a0f9e";
    let ws = held_server_sending(
        30,
        "--print-auth",
        &format!("headers = {{ Authorization = \"Bearer {secret}\" }}"),
    );
    let mut run = MidRun::start(&ws, one_at_a_time(&ws));
    let log = ws.out().join("targets/held.log");
    let read = || std::fs::read_to_string(&log).unwrap_or_default();
    let printed = wait_until(Duration::from_secs(5), || {
        read().contains("Authorization: [REDACTED]")
    });
    assert!(
        printed.is_some(),
        "the masked header is not in the log: {}",
        read()
    );
    run.harness.signal(libc::SIGKILL);
    assert_eq!(run.exit(GONE).signal(), Some(libc::SIGKILL));
    run.assert_all_gone(GONE);
    let log = read();
    assert!(!log.contains(secret), "{log}");
}
