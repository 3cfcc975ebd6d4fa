//! Runs the built harness as a subprocess, the way a user or CI runs it, on a scenario
//! folder of the test's own, with a clean environment.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use tempfile::TempDir;

/// A scenario folder written by the test, and an artifacts folder beside it.
pub struct Workspace {
    pub dir: TempDir,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub out: PathBuf,
}

impl Workspace {
    pub fn new(files: &[(&str, &str)]) -> Workspace {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let path = dir.path().join("scenarios").join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        std::fs::create_dir_all(dir.path().join("scenarios")).unwrap();
        Workspace { dir }
    }

    pub fn scenarios(&self) -> PathBuf {
        self.dir.path().join("scenarios")
    }

    pub fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    pub fn write(&self, path: &str, text: &str) {
        let path = self.dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// Runs the harness with libtest arguments and extra environment variables.
    pub fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        run_harness(&self.scenarios(), &self.out(), self.dir.path(), args, env)
    }

    /// The harness command, to start with `spawn` and have it run while the test acts;
    /// its output goes to `harness.out` and `harness.err` (see [`Workspace::output`]).
    pub fn command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let file = |name: &str| std::fs::File::create(self.dir.path().join(name)).unwrap();
        let mut command =
            harness_command(&self.scenarios(), &self.out(), self.dir.path(), args, env);
        command
            .stdin(Stdio::null())
            .stdout(file("harness.out"))
            .stderr(file("harness.err"));
        command
    }

    /// Runs the harness as [`Workspace::run`] does, and also returns its peak resident
    /// memory in bytes. The figure is the kernel's for this one child (`wait4`), so the
    /// children of tests running at the same time do not count, as they would in
    /// `getrusage(RUSAGE_CHILDREN)`.
    pub fn run_measured(&self, args: &[&str], env: &[(&str, &str)]) -> (Run, u64) {
        #[expect(
            clippy::zombie_processes,
            reason = "reaped by wait4 below: std's wait does not give the child's rusage"
        )]
        let child = self
            .command(args, env)
            .spawn()
            .expect("cannot run the perfcase binary");
        let pid = child.id() as libc::pid_t;
        let mut status = 0;
        // SAFETY: a zeroed rusage is valid; wait4 fills it and the status for our own child.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        assert_eq!(waited, pid, "wait4: {}", std::io::Error::last_os_error());
        let read =
            |name: &str| std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        let run = Run {
            code: if libc::WIFEXITED(status) {
                libc::WEXITSTATUS(status)
            } else {
                -1
            },
            stdout: read("harness.out"),
            stderr: read("harness.err"),
            out: self.out(),
        };
        // Linux counts ru_maxrss in KiB.
        (run, usage.ru_maxrss as u64 * 1024)
    }

    /// What a harness started from [`Workspace::command`] printed so far, for messages.
    pub fn output(&self) -> String {
        let read =
            |name: &str| std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        format!(
            "--- stdout\n{}\n--- stderr\n{}",
            read("harness.out"),
            read("harness.err")
        )
    }

    pub fn read_out(&self, name: &str) -> String {
        std::fs::read_to_string(self.out().join(name))
            .unwrap_or_else(|e| panic!("cannot read {name}: {e}"))
    }
}

/// The variables a developer's shell might carry that would change what a test sees.
const SCRUBBED: &[&str] = &[
    // CI services set CI, which changes what a baseline writes and whether a missing one
    // fails: a test that wants it says so.
    "CI",
    "PERFCASE_UPDATE",
    "PERFCASE_BASELINES",
    "PERFCASE_SUITE",
    "PERFCASE_SUITES",
    "OLLAMA_URL",
    "NEXTEST",
    "NEXTEST_RUN_ID",
    "NEXTEST_EXECUTION_MODE",
    "RUST_TEST_THREADS",
];

pub fn run_harness(
    scenarios: &Path,
    out: &Path,
    cwd: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = harness_command(scenarios, out, cwd, args, env)
        .output()
        .expect("cannot run the perfcase binary");
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        out: out.to_path_buf(),
    }
}

fn harness_command(
    scenarios: &Path,
    out: &Path,
    cwd: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_perfcase"));
    command
        .args(args)
        .current_dir(cwd)
        .env("PERFCASE_SCENARIOS", scenarios)
        .env("PERFCASE_OUT", out);
    for name in SCRUBBED {
        command.env_remove(name);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    command
}

/// The rows of a CSV artifact, each by column name.
pub fn csv_rows(text: &str) -> Vec<HashMap<String, String>> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            headers
                .iter()
                .map(str::to_string)
                .zip(r.iter().map(str::to_string))
                .collect()
        })
        .collect()
}

impl Run {
    /// A figure of a case from `results.csv`, by its column name.
    #[track_caller]
    pub fn figure(&self, case: &str, name: &str) -> f64 {
        let text = std::fs::read_to_string(self.out.join("results.csv")).unwrap();
        let rows = csv_rows(&text);
        let row = rows
            .iter()
            .find(|r| r["name"] == case)
            .unwrap_or_else(|| panic!("no row for {case} in\n{text}"));
        row[name]
            .parse()
            .unwrap_or_else(|_| panic!("{name} = {:?}", row[name]))
    }

    /// The `name: test` lines of `--list`, or the names of a run's `test NAME ... outcome` lines.
    pub fn outcome(&self, name: &str) -> Option<String> {
        self.stdout.lines().find_map(|line| {
            let rest = line.strip_prefix("test ")?;
            let (case, outcome) = rest.split_once(" ... ")?;
            (case.trim() == name).then(|| outcome.trim().to_string())
        })
    }

    /// Asserts how a case ended as libtest printed it: `ok`, `FAILED`, `ignored (...)`.
    #[track_caller]
    pub fn assert_outcome(&self, case: &str, outcome: &str) {
        assert_eq!(
            self.outcome(case).as_deref(),
            Some(outcome),
            "{}",
            self.explain()
        );
    }

    /// Asserts that the run's output says something (a failure message, an error).
    #[track_caller]
    pub fn assert_says(&self, text: &str) {
        assert!(
            self.stdout.contains(text),
            "expected {text:?} in\n{}",
            self.explain()
        );
    }

    pub fn explain(&self) -> String {
        format!(
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}
