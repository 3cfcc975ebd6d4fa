//! A real nginx, started per test with a configuration of its own.
//!
//! Plain HTTP load and protocol behaviour are tested against a real server
//! rather than a mock, so that what the harness measures is what a real
//! server does. Each [`Nginx`] gets its own prefix directory (config, pid
//! file, error log, temp paths) and its own port, so tests can run in
//! parallel and leave nothing behind.
#![allow(dead_code)]

use std::fs;
use std::io::ErrorKind;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How often startup is retried on a new port when the one picked was taken
/// between releasing it and nginx binding it.
const START_ATTEMPTS: usize = 5;
/// Bound on waiting for nginx to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// Bound on waiting for nginx to exit after SIGTERM, before SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// A running nginx on 127.0.0.1; stopped and cleaned up when dropped.
pub struct Nginx {
    port: u16,
    child: Child,
    /// Keeps the thread that spawned nginx alive; see [`spawn_kept`].
    keeper: Option<(mpsc::Sender<()>, JoinHandle<()>)>,
    // Fields drop after `Drop::drop` has stopped nginx, so the directory
    // is removed only once nothing writes to it.
    prefix: tempfile::TempDir,
}

impl Nginx {
    /// Starts nginx and waits until it accepts connections.
    ///
    /// `locations` is the text of nginx `location` blocks (and other
    /// server-level directives) placed inside the `server` block, e.g.
    /// `location = /json { return 200 '{"ok":true}'; }`.
    ///
    /// Panics if nginx is not installed, the config is rejected, or it does
    /// not come up within 10 s; the panic message carries the error log.
    pub fn start(locations: &str) -> Nginx {
        let binary = nginx_binary();
        let mut last_error = String::new();
        for _ in 0..START_ATTEMPTS {
            let prefix = tempfile::Builder::new()
                .prefix("perfcase-nginx-")
                .tempdir()
                .expect("create nginx prefix dir");
            // Run as root, nginx switches its workers to `nobody`, which must
            // be able to enter the prefix (temp paths, files served with
            // `root`/`alias`). tempfile already creates it 0755 under the
            // usual umask; set it explicitly so a strict umask can't break it.
            fs::set_permissions(prefix.path(), fs::Permissions::from_mode(0o755))
                .expect("chmod nginx prefix dir");
            let port = free_port();
            let conf = config(prefix.path(), port, locations);
            let conf_path = prefix.path().join("nginx.conf");
            fs::write(&conf_path, conf).expect("write nginx.conf");
            let stderr = fs::File::create(prefix.path().join("stderr.log")).expect("stderr.log");

            let mut cmd = Command::new(&binary);
            cmd.arg("-p")
                .arg(prefix.path())
                .arg("-e")
                .arg(prefix.path().join("error.log"))
                .arg("-c")
                .arg(&conf_path)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(stderr)
                // Own process group, so SIGKILL can reach the workers too.
                .process_group(0);
            let (child, keeper) = spawn_kept(cmd);
            let mut nginx = Nginx {
                port,
                child,
                keeper: Some(keeper),
                prefix,
            };
            match nginx.wait_ready() {
                Ok(()) => return nginx,
                Err(log) if log.contains("Address already in use") => {
                    last_error = log;
                    // Drop stops it and removes the prefix; try another port.
                }
                Err(log) => {
                    drop(nginx);
                    panic!("nginx did not start:\n{log}");
                }
            }
        }
        panic!("nginx did not start after {START_ATTEMPTS} attempts (ports in use):\n{last_error}");
    }

    /// Base URL without a trailing slash, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The prefix directory (config, logs, temp paths). Relative `root` and
    /// `alias` paths resolve against it, so files written here can be served.
    /// When tests run as root the workers run as `nobody`: such files must be
    /// world-readable (the default umask gives 0644).
    pub fn prefix(&self) -> &Path {
        self.prefix.path()
    }

    /// The current contents of nginx's error log, for assertion messages.
    pub fn error_log(&self) -> String {
        read_logs(self.prefix.path())
    }

    /// Ready means the pid file exists (nginx writes it only after binding
    /// its listening sockets, so the port is nginx's and not a stranger's)
    /// and a TCP connect succeeds (a worker is accepting). Returns the logs
    /// on failure.
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        let pid_file = self.prefix.path().join("nginx.pid");
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "nginx exited at startup ({status}); logs:\n{}",
                    self.error_log()
                ));
            }
            let log = self.error_log();
            // nginx retries a busy port for about 2.5 s; don't wait for that.
            if log.contains("Address already in use") {
                return Err(log);
            }
            if pid_file.exists() && TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "nginx not accepting on port {} after {:?}; logs:\n{log}",
                    self.port, START_TIMEOUT
                ));
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Nginx {
    /// SIGTERM (fast shutdown: nginx does not wait for open connections; the
    /// master exits only after its workers), bounded wait, then SIGKILL to
    /// the whole process group so no worker outlives the test. The prefix
    /// dir is removed afterwards.
    fn drop(&mut self) {
        let pid = self.child.id() as libc::pid_t;
        if let Ok(None) = self.child.try_wait() {
            // SAFETY: plain kill(2) on our own child, which has not been reaped.
            unsafe { libc::kill(pid, libc::SIGTERM) };
            let deadline = Instant::now() + STOP_TIMEOUT;
            while let Ok(None) = self.child.try_wait() {
                if Instant::now() >= deadline {
                    // The master is not reaped yet, so its pid still names
                    // its process group (created by process_group(0)); this
                    // reaches the workers too and nothing else.
                    // SAFETY: plain kill(2).
                    unsafe { libc::kill(-pid, libc::SIGKILL) };
                    let _ = self.child.wait();
                    break;
                }
                thread::sleep(Duration::from_millis(10));
            }
        }
        if let Some((release, handle)) = self.keeper.take() {
            drop(release);
            let _ = handle.join();
        }
    }
}

/// Spawns `cmd` on a dedicated thread that lives until the returned sender is
/// dropped. The child gets `PR_SET_PDEATHSIG = SIGTERM`, which fires when
/// the *thread* that forked it exits; tying that to a thread we control
/// (rather than a test thread that may end first) means nginx is stopped if
/// the test process dies without running `Drop` (panic=abort, `exit`,
/// killed by a timeout), instead of lingering and holding its port.
fn spawn_kept(mut cmd: Command) -> (Child, (mpsc::Sender<()>, JoinHandle<()>)) {
    let (child_tx, child_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let handle = thread::Builder::new()
        .name("nginx-keeper".into())
        .spawn(move || {
            // SAFETY: the closure only calls prctl(2), which is
            // async-signal-safe, between fork and exec.
            unsafe {
                cmd.pre_exec(|| {
                    if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
            let spawned = cmd.spawn();
            let ok = spawned.is_ok();
            let _ = child_tx.send(spawned);
            if ok {
                // Blocks until Nginx::drop releases us (or the sender is gone).
                let _ = release_rx.recv();
            }
        })
        .expect("spawn nginx keeper thread");
    let child = child_rx
        .recv()
        .expect("nginx keeper thread")
        .unwrap_or_else(|e| panic!("spawn nginx: {e}"));
    (child, (release_tx, handle))
}

/// `/usr/sbin/nginx` (Debian), else `nginx` on PATH, else a panic that says
/// how to install it.
fn nginx_binary() -> PathBuf {
    let debian = Path::new("/usr/sbin/nginx");
    if debian.is_file() {
        return debian.to_path_buf();
    }
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let candidate = dir.join("nginx");
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!("nginx is not installed: run `apt-get install -y nginx` (bash .ci/run does this)");
}

/// A port that was free a moment ago. Another process can take it before
/// nginx binds it, hence the retry in [`Nginx::start`].
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local_addr").port()
}

fn config(prefix: &Path, port: u16, locations: &str) -> String {
    let p = prefix.display();
    format!(
        r#"daemon off;
master_process on;
worker_processes 1;
pid {p}/nginx.pid;
error_log {p}/error.log;

events {{
    worker_connections 1024;
}}

http {{
    access_log off;
    keepalive_requests 100000;
    client_body_temp_path {p}/client_body_temp;
    proxy_temp_path {p}/proxy_temp;
    fastcgi_temp_path {p}/fastcgi_temp;
    uwsgi_temp_path {p}/uwsgi_temp;
    scgi_temp_path {p}/scgi_temp;
    default_type application/octet-stream;

    server {{
        listen 127.0.0.1:{port};
{locations}
    }}
}}
"#
    )
}

fn read_logs(prefix: &Path) -> String {
    let mut out = String::new();
    for name in ["error.log", "stderr.log"] {
        match fs::read_to_string(prefix.join(name)) {
            Ok(text) if !text.is_empty() => {
                out.push_str(&format!("--- {name} ---\n{text}"));
            }
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => out.push_str(&format!("--- {name}: {e} ---\n")),
        }
    }
    out
}
