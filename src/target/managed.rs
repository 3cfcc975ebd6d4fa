//! A server the harness starts before the first check of its target and stops at the end.
//!
//! The command runs in a process group of its own, so that stopping it also stops whatever
//! it spawned (a wrapper script's server, for example) instead of leaving an orphan behind.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How many lines of the server's log a start failure quotes.
const LOG_TAIL_LINES: usize = 20;
/// How long a stopped server gets to exit after SIGTERM before SIGKILL. Short: llama-server
/// lingers for seconds while clients hold keep-alive connections, and a test target needs
/// no more graceful an end than this.
const STOP_GRACE: Duration = Duration::from_secs(2);

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
    child: Mutex<Option<Child>>,
    /// Set by the first `stop`, so that a start racing with it (a signal arriving while
    /// a check starts the server) does not leave a server behind.
    stopping: AtomicBool,
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
            child: Mutex::new(None),
            stopping: AtomicBool::new(false),
        }
    }

    /// Starts the server on first call and waits until it is ready; later calls (from
    /// concurrent checks too) get the same result without starting anything.
    pub async fn ensure_started(&self, client: &reqwest::Client) -> Result<(), String> {
        self.started
            .get_or_init(|| self.start(client))
            .await
            .clone()
    }

    /// Whether a start has been tried already (a check about to wait can say so first).
    pub fn is_started(&self) -> bool {
        self.started.initialized()
    }

    async fn start(&self, client: &reqwest::Client) -> Result<(), String> {
        if let Err(e) = self.spawn() {
            return Err(format!("could not start the {}: {e}", self.name));
        }
        let result = self.wait_ready(client).await;
        if let Err(reason) = &result {
            self.kill();
            return Err(format!(
                "{reason}\nlast lines of its log ({}):\n{}",
                self.log_path.display(),
                tail(&self.log_path, LOG_TAIL_LINES)
            ));
        }
        result
    }

    fn spawn(&self) -> std::io::Result<()> {
        if let Some(dir) = self.log_path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let log = File::create(&self.log_path)?;
        let mut slot = self.child.lock().unwrap_or_else(|e| e.into_inner());
        if self.stopping.load(Ordering::SeqCst) {
            return Err(std::io::Error::other("the run is stopping"));
        }
        let child = Command::new("sh")
            .arg("-c")
            .arg(format!("exec {}", self.command))
            .envs(&self.env)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0)
            .spawn()?;
        *slot = Some(child);
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
        let mut guard = self.child.lock().unwrap_or_else(|e| e.into_inner());
        guard
            .as_mut()
            .and_then(|child| child.try_wait().ok().flatten())
    }

    /// Stops the whole process group (SIGTERM, then SIGKILL after a grace period) and masks
    /// secrets in its log. Only the first call does anything, so the stop after the last
    /// check, the one at the end of the run and the one on drop read the log once.
    pub fn stop(&self, redactor: &crate::target::Redactor) {
        if self.stopping.swap(true, Ordering::SeqCst) {
            return;
        }
        self.kill();
        redact_file(&self.log_path, redactor);
    }

    /// Ends the process group without marking the target stopped: after a failed start,
    /// whose log is masked later by `stop`, which has the secrets at hand.
    fn kill(&self) {
        let child = self.child.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(child) = child {
            terminate(child);
        }
    }
}

fn terminate(mut child: Child) {
    let group = child.id() as libc::pid_t;
    signal_group(group, libc::SIGTERM);
    let deadline = Instant::now() + STOP_GRACE;
    while Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_))) {
            // The leader is gone; make sure nothing it started lingers.
            signal_group(group, libc::SIGKILL);
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    signal_group(group, libc::SIGKILL);
    let _ = child.wait();
}

/// A server may print a header it received (an API key) into its log, which sits among the
/// artifacts; rewrite it with secrets masked.
fn redact_file(path: &std::path::Path, redactor: &crate::target::Redactor) {
    if let Ok(bytes) = std::fs::read(path) {
        let text = String::from_utf8_lossy(&bytes);
        let redacted = redactor.redact(&text);
        if redacted != text {
            let _ = crate::atomic::write_atomic(path, redacted.as_bytes());
        }
    }
}

fn signal_group(group: libc::pid_t, signal: libc::c_int) {
    // SAFETY: kill(2) with a negative pid signals a process group; it has no memory effects.
    unsafe {
        libc::kill(-group, signal);
    }
}

/// The last `lines` lines of a log file, read from its end so a huge log costs little.
pub fn tail(path: &std::path::Path, lines: usize) -> String {
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
        self.stop(&crate::target::Redactor::default());
    }
}
