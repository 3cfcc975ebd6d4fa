//! A server the harness starts before the first check of its target and stops at the end.
//!
//! The command runs in a process group of its own, so that stopping it also stops whatever
//! it spawned (a wrapper script's server, for example) instead of leaving an orphan behind.
//!
//! # Dying with the harness
//!
//! The harness stops the group itself whenever it can run code: after the target's last
//! check, at the end of the run, on SIGINT, SIGTERM or SIGHUP, and when a panic unwinds.
//! For the ends where it cannot (SIGKILL from a CI job's timeout, an abort, a crash), the
//! group has a *watchdog*: a `sh` that leads the group and blocks reading one end of a
//! socket pair. The other end, the *lifeline*, only the harness holds: std creates it
//! close-on-exec, so neither the watchdog nor the server inherits it. However the harness
//! ends, the kernel closes the lifeline, the watchdog's read returns end-of-file, and it
//! SIGKILLs its own group (`kill 0`): the server, what it started, and itself.
//!
//! Why this design:
//! - `prctl(PR_SET_PDEATHSIG)` is Linux-only, fires when the *thread* that forked the child
//!   exits (spawns happen on the runtime's blocking threads, which come and go: it would kill
//!   servers at random), and reaches only the direct child, not what a wrapper script starts.
//! - The watchdog starts first and the server joins its group, so the server never runs
//!   unguarded. It signals its own group, never an id it remembers: a group exists as long as
//!   any member does, and the watchdog is one, so the signal cannot reach a stranger that
//!   reused the id.
//! - Being a member of the group, the watchdog ends with the SIGKILL of every stop, so it
//!   never outlives the server it guards. It ignores SIGTERM, set before exec so there is no
//!   window where it does not: the graceful stop sends SIGTERM to the group and then waits,
//!   and the watchdog must still be there should the harness be killed during that wait.
//! - `sh` is already required (it runs the command); the watchdog is one line of it rather
//!   than another copy of the harness. A socket pair rather than a pipe because std gives one
//!   close-on-exec on every Unix within the crate's minimum Rust version.
//!
//! A process that leaves the group on purpose (a server that daemonizes with `setsid`) is
//! out of reach of both the stop and the watchdog.
//!
//! # The log, masked as it is written
//!
//! The server's stdout and stderr are one pipe, and a thread of the harness (a plain
//! thread: it blocks on reads, which no runtime worker may) copies it into the log through
//! a [`StreamRedactor`]. Nothing reaches the disk unmasked, so the log holds no secret even
//! when the harness is SIGKILLed; and the thread keeps a bounded amount of text, so a
//! server printing one endless line costs no memory. The pipe's end of file also tells the
//! stop when everything that writes the log has exited.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::redact::{Redactor, StreamRedactor};

/// How many lines of the server's log a start failure quotes.
const LOG_TAIL_LINES: usize = 20;
/// How long a stopped server gets to exit after SIGTERM before SIGKILL. Short: llama-server
/// lingers for seconds while clients hold keep-alive connections, and a test target needs
/// no more graceful an end than this.
const STOP_GRACE: Duration = Duration::from_secs(2);
/// How long the stop waits, after the SIGKILL, for the log to get the last of the output.
/// Only a process that left the group and still holds the pipe makes it wait that long.
const LOG_DRAIN: Duration = Duration::from_secs(2);
/// The watchdog: wait for end-of-file on stdin (the lifeline closed), then kill the process
/// group it leads, itself included. Nothing is ever written to the lifeline.
const WATCHDOG: &str = "read _; kill -s KILL 0";

pub struct Managed {
    /// What messages call it; never the command, which may carry an interpolated secret.
    pub name: String,
    pub command: String,
    pub ready_url: String,
    pub ready_timeout: Duration,
    pub env: BTreeMap<String, String>,
    pub log_path: PathBuf,
    /// The start result, shared by every check of the target (started once per run).
    started: tokio::sync::OnceCell<Result<(), String>>,
    process: Mutex<Option<Process>>,
    /// Set by the first `stop`, so that a start racing with it (a signal arriving while
    /// a check starts the server) does not leave a server behind.
    stopping: AtomicBool,
}

/// Why a managed server could not be started.
#[derive(Debug, thiserror::Error)]
enum SpawnError {
    #[error("cannot create its log {}: {source}", path.display())]
    Log {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot make the pipe for its output: {0}")]
    Output(std::io::Error),
    #[error("cannot start the thread that writes its log: {0}")]
    LogWriter(std::io::Error),
    #[error("cannot make the watchdog's lifeline (a socket pair): {0}")]
    Lifeline(std::io::Error),
    #[error("cannot start its watchdog (sh): {0}")]
    Watchdog(std::io::Error),
    #[error("cannot run sh: {0}")]
    Server(std::io::Error),
    #[error("the run is stopping")]
    Stopping,
    #[error("the start was cut short: {0}")]
    Cancelled(#[from] tokio::task::JoinError),
}

impl Managed {
    pub fn new(
        name: String,
        command: String,
        ready_url: String,
        ready_timeout: Duration,
        env: BTreeMap<String, String>,
        log_path: PathBuf,
    ) -> Managed {
        Managed {
            name,
            command,
            ready_url,
            ready_timeout,
            env,
            log_path,
            started: tokio::sync::OnceCell::new(),
            process: Mutex::new(None),
            stopping: AtomicBool::new(false),
        }
    }

    /// Starts the server on first call and waits until it is ready; later calls (from
    /// concurrent checks too) get the same result without starting anything. The redactor
    /// masks the server's output as it is written to the log.
    pub async fn ensure_started(
        &self,
        client: &reqwest::Client,
        redactor: &Redactor,
    ) -> Result<(), String> {
        self.started
            .get_or_init(|| self.start(client, redactor))
            .await
            .clone()
    }

    /// Whether a start has been tried already (a check about to wait can say so first).
    pub fn is_started(&self) -> bool {
        self.started.initialized()
    }

    async fn start(&self, client: &reqwest::Client, redactor: &Redactor) -> Result<(), String> {
        if let Err(e) = self.spawn(redactor).await {
            return Err(format!("could not start the {}: {e}", self.name));
        }
        let result = self.wait_ready(client).await;
        if let Err(reason) = &result {
            // Ends the group (its log complete, masked as written) without marking the
            // target stopped. Waiting for the group and reading the log block, so both run
            // on a blocking thread.
            let process = self.take();
            let log_path = self.log_path.clone();
            let log_tail = tokio::task::spawn_blocking(move || {
                if let Some(process) = process {
                    process.terminate();
                }
                tail(&log_path, LOG_TAIL_LINES)
            })
            .await
            .unwrap_or_else(|e| format!("(not read: {e})"));
            return Err(format!(
                "{reason}\nlast lines of its log ({}):\n{log_tail}",
                self.log_path.display()
            ));
        }
        result
    }

    /// Creates the log and starts the watchdog and the server on a blocking thread, then
    /// keeps them, unless a stop came meanwhile.
    async fn spawn(&self, redactor: &Redactor) -> Result<(), SpawnError> {
        if self.stopping.load(Ordering::SeqCst) {
            return Err(SpawnError::Stopping);
        }
        let (command, env, log_path, redactor) = (
            self.command.clone(),
            self.env.clone(),
            self.log_path.clone(),
            redactor.clone(),
        );
        let process = tokio::task::spawn_blocking(move || {
            Process::spawn(&command, &env, &log_path, redactor)
        })
        .await??;
        let mut slot = self.lock();
        if self.stopping.load(Ordering::SeqCst) {
            drop(slot);
            // Should this blocking task never run, dropping the process closes its
            // lifeline, and the watchdog ends the group instead.
            tokio::task::spawn_blocking(move || process.terminate()).await?;
            return Err(SpawnError::Stopping);
        }
        *slot = Some(process);
        Ok(())
    }

    async fn wait_ready(&self, client: &reqwest::Client) -> Result<(), String> {
        let deadline = Instant::now() + self.ready_timeout;
        let mut last;
        loop {
            if let Some(status) = self.exit_status() {
                return Err(format!(
                    "the {} exited ({status}) before {} answered 200",
                    self.name, self.ready_url
                ));
            }
            let probe = client
                .get(&self.ready_url)
                .timeout(Duration::from_secs(2))
                .send()
                .await;
            match probe {
                Ok(response) if response.status() == reqwest::StatusCode::OK => {
                    // A 200 from a process that is not ours (the port taken by another
                    // server) must not count: ours would have exited failing to bind.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    if let Some(status) = self.exit_status() {
                        return Err(format!(
                            "the {} exited ({status}) although {} answered 200: is another server on that port?",
                            self.name, self.ready_url
                        ));
                    }
                    return Ok(());
                }
                Ok(response) => last = format!("status {}", response.status().as_u16()),
                Err(e) if e.is_connect() => last = "connection refused".into(),
                Err(e) => last = e.to_string(),
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "the {} was not ready within {}: {} last answered {last}; raise ready_timeout or check the command",
                    self.name,
                    crate::text::format_duration(self.ready_timeout),
                    self.ready_url
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn exit_status(&self) -> Option<std::process::ExitStatus> {
        self.lock()
            .as_mut()
            .and_then(|process| process.server.try_wait().ok().flatten())
    }

    /// Stops the whole process group (SIGTERM, then SIGKILL after a grace period). Only
    /// the first call does anything: the stop after the last check, the one at the end of
    /// the run and the one on drop.
    ///
    /// Blocks for up to the grace period: callers are threads that are not runtime workers
    /// (the runner's case threads, the end of `main`, a blocking task).
    pub fn stop(&self) {
        if self.stopping.swap(true, Ordering::SeqCst) {
            return;
        }
        if let Some(process) = self.take() {
            process.terminate();
        }
    }

    fn take(&self) -> Option<Process> {
        self.lock().take()
    }

    fn lock(&self) -> MutexGuard<'_, Option<Process>> {
        self.process.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A started server and the watchdog that leads its process group (see the module doc).
struct Process {
    /// The `sh` that runs the command.
    server: Child,
    /// The group's leader: its pid is the group's id, reserved for the group until the
    /// watchdog is reaped.
    watchdog: Child,
    /// Held for its closing alone, by the harness alone: when it closes (the harness
    /// ending, or this value dropped without `terminate`), the watchdog kills the group.
    _lifeline: UnixStream,
    /// Copies the server's output into the log; done once every writer has exited.
    log: JoinHandle<()>,
}

impl Process {
    /// Creates the log and the thread that writes it, starts the watchdog, then the
    /// command (`sh -c`, so that `cd dir && server` works) in the watchdog's group. Blocks
    /// (file and process creation): call it on a blocking thread of the runtime, whose
    /// reactor makes the pipe.
    fn spawn(
        command: &str,
        env: &BTreeMap<String, String>,
        log_path: &Path,
        redactor: Redactor,
    ) -> Result<Process, SpawnError> {
        let log = create_log(log_path).map_err(|source| SpawnError::Log {
            path: log_path.to_path_buf(),
            source,
        })?;
        let (stdout, output) = output_pipe().map_err(SpawnError::Output)?;
        let stderr = stdout.try_clone().map_err(SpawnError::Output)?;
        // Should the server not start, its ends of the pipe are dropped, and the thread
        // ends at the end of file.
        let log = write_log(output, log, redactor).map_err(SpawnError::LogWriter)?;
        let (lifeline, watchdog_end) = UnixStream::pair().map_err(SpawnError::Lifeline)?;
        let mut watchdog = spawn_watchdog(watchdog_end).map_err(SpawnError::Watchdog)?;
        let server = Command::new("sh")
            .arg("-c")
            .arg(command)
            .envs(env)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .process_group(watchdog.id() as libc::pid_t)
            .spawn();
        match server {
            Ok(server) => Ok(Process {
                server,
                watchdog,
                _lifeline: lifeline,
                log,
            }),
            Err(e) => {
                // Closing the lifeline ends the watchdog; reap it.
                drop(lifeline);
                let _ = watchdog.wait();
                Err(SpawnError::Server(e))
            }
        }
    }

    /// SIGTERM to the group, up to `STOP_GRACE` for the server to exit, then SIGKILL to
    /// the group: whatever the server started, and the watchdog, end with it; both are
    /// reaped, and the log gets the last of the output. Waits, so it must not run on a
    /// runtime worker.
    fn terminate(mut self) {
        let group = self.watchdog.id() as libc::pid_t;
        signal_group(group, libc::SIGTERM);
        // Until the `sh` has exited and so has everything that writes the log: the server
        // is a child of that `sh` unless the command `exec`s it.
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline
            && (matches!(self.server.try_wait(), Ok(None)) || !self.log.is_finished())
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        // The watchdog is not reaped yet, so `group` still names this group and no other.
        signal_group(group, libc::SIGKILL);
        let _ = self.server.wait();
        let _ = self.watchdog.wait();
        let deadline = Instant::now() + LOG_DRAIN;
        while Instant::now() < deadline && !self.log.is_finished() {
            std::thread::sleep(Duration::from_millis(10));
        }
        // Not finished: a process outside the group holds the pipe; the thread is left
        // to write what it still prints, masked, and ends with it.
        if self.log.is_finished() {
            let _ = self.log.join();
        }
    }
}

fn create_log(path: &Path) -> std::io::Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    File::create(path)
}

/// A pipe for the server's output: (write end, read end), both close-on-exec and blocking.
/// std has none within the crate's minimum Rust version; tokio's (from its reactor, so
/// this runs within the runtime) is made close-on-exec atomically where the OS can.
fn output_pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let (write, read) = tokio::net::unix::pipe::pipe()?;
    Ok((write.into_blocking_fd()?, read.into_blocking_fd()?))
}

/// Starts the thread that copies the server's output into the log, masked (see the module
/// doc). A failed write does not stop it: the pipe is still drained, so that the server
/// never blocks on a full pipe.
fn write_log(
    output: OwnedFd,
    mut log: File,
    redactor: Redactor,
) -> std::io::Result<JoinHandle<()>> {
    let mut output = File::from(output);
    std::thread::Builder::new()
        .name("perfcase-log".into())
        .spawn(move || {
            let mut redactor = StreamRedactor::new(redactor);
            let mut piece = vec![0; 16 * 1024];
            loop {
                match output.read(&mut piece) {
                    Ok(0) => break,
                    Ok(read) => {
                        let _ = log.write_all(&redactor.feed(&piece[..read]));
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            let _ = log.write_all(&redactor.finish());
        })
}

/// Starts the watchdog reading `lifeline_end`, as the leader of a new process group. The
/// harness's copy of that end closes when this returns.
fn spawn_watchdog(lifeline_end: UnixStream) -> std::io::Result<Child> {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(WATCHDOG)
        .stdin(OwnedFd::from(lifeline_end))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    // SAFETY: between fork and exec the closure only calls signal(2), which is
    // async-signal-safe.
    unsafe {
        command.pre_exec(ignore_sigterm);
    }
    command.spawn()
}

/// An ignored signal stays ignored across exec, and sh cannot trap it again: the graceful
/// stop's SIGTERM leaves the watchdog guarding the group until the SIGKILL.
fn ignore_sigterm() -> std::io::Result<()> {
    // SAFETY: signal(2) with SIG_IGN installs no handler and touches no memory of ours.
    if unsafe { libc::signal(libc::SIGTERM, libc::SIG_IGN) } == libc::SIG_ERR {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn signal_group(group: libc::pid_t, signal: libc::c_int) {
    // SAFETY: kill(2) with a negative pid signals a process group; it has no memory effects.
    unsafe {
        libc::kill(-group, signal);
    }
}

/// The last `lines` lines of a log file, read from its end so a huge log costs little.
pub fn tail(path: &Path, lines: usize) -> String {
    const WINDOW: u64 = 16 * 1024;
    let Ok(mut file) = File::open(path) else {
        return "(no log)".into();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = file.seek(SeekFrom::Start(len.saturating_sub(WINDOW)));
    let mut bytes = Vec::new();
    let _ = file.read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

impl Drop for Managed {
    fn drop(&mut self) {
        self.stop();
    }
}
