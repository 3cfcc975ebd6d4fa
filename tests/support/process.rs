//! Processes as Linux's `/proc` shows them: for tests that what a run started is gone, and
//! a guard that kills it all should such a test fail half-way.

use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

/// A process, told apart by its start time from a later one that reuses its pid.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Proc {
    pub pid: i32,
    start: u64,
}

/// The fields of `/proc/<pid>/stat` the tests read.
struct Stat {
    state: char,
    parent: i32,
    group: i32,
    start: u64,
}

fn stat(pid: i32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name, in parentheses, may hold spaces: fields are counted after it.
    let fields: Vec<&str> = text.rsplit_once(')')?.1.split_whitespace().collect();
    Some(Stat {
        state: fields.first()?.chars().next()?,
        parent: fields.get(1)?.parse().ok()?,
        group: fields.get(2)?.parse().ok()?,
        start: fields.get(19)?.parse().ok()?,
    })
}

fn every_pid() -> Vec<i32> {
    std::fs::read_dir("/proc")
        .map(|dir| {
            dir.filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

impl Proc {
    pub fn of(pid: i32) -> Option<Proc> {
        stat(pid).map(|stat| Proc {
            pid,
            start: stat.start,
        })
    }

    /// Still running: present, the same process, and not a zombie (dead, only not reaped
    /// yet; orphans are re-parented to an init that need not reap them).
    pub fn alive(&self) -> bool {
        stat(self.pid)
            .is_some_and(|stat| stat.start == self.start && !matches!(stat.state, 'Z' | 'X'))
    }

    pub fn group(&self) -> Option<i32> {
        stat(self.pid).map(|stat| stat.group)
    }

    /// Its command line, for messages.
    pub fn describe(&self) -> String {
        let cmdline = std::fs::read(format!("/proc/{}/cmdline", self.pid)).unwrap_or_default();
        format!(
            "{} {}",
            self.pid,
            String::from_utf8_lossy(&cmdline).replace('\0', " ").trim()
        )
    }

    pub fn kill(&self) {
        if self.alive() {
            // SAFETY: kill(2) on a pid checked just now to be the process seen before.
            unsafe { libc::kill(self.pid, libc::SIGKILL) };
        }
    }
}

/// Every running process below `root` (children, their children, ...).
pub fn descendants(root: i32) -> Vec<Proc> {
    let stats: Vec<(i32, Stat)> = every_pid()
        .into_iter()
        .filter_map(|pid| Some((pid, stat(pid)?)))
        .collect();
    let mut found: Vec<Proc> = Vec::new();
    let mut parents = vec![root];
    while let Some(parent) = parents.pop() {
        for (pid, stat) in &stats {
            if stat.parent == parent && !matches!(stat.state, 'Z' | 'X') {
                found.push(Proc {
                    pid: *pid,
                    start: stat.start,
                });
                parents.push(*pid);
            }
        }
    }
    found
}

/// Every running process of process group `group`.
pub fn group_members(group: i32) -> Vec<Proc> {
    every_pid()
        .into_iter()
        .filter_map(Proc::of)
        .filter(|proc| proc.alive() && proc.group() == Some(group))
        .collect()
}

/// Polls `done` until it holds or `limit` passes: how long it took, or `None`.
pub fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> Option<Duration> {
    let started = Instant::now();
    loop {
        if done() {
            return Some(started.elapsed());
        }
        if started.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A harness started by a test, and every process the test saw below it. Dropped (an
/// assertion failed, say), it kills them all, so that a failing test leaves nothing running.
pub struct Guard {
    harness: Child,
    seen: Vec<Proc>,
}

impl Guard {
    pub fn new(harness: Child) -> Guard {
        Guard {
            harness,
            seen: Vec::new(),
        }
    }

    pub fn pid(&self) -> i32 {
        self.harness.id() as i32
    }

    /// The processes running below the harness now; remembered for the drop.
    pub fn below(&mut self) -> Vec<Proc> {
        let now = descendants(self.pid());
        self.seen.extend(now.iter().copied());
        now
    }

    pub fn signal(&self, signal: libc::c_int) {
        // SAFETY: kill(2) on our own child, not reaped yet.
        unsafe { libc::kill(self.pid(), signal) };
    }

    /// Waits at most `limit` for the harness to exit.
    pub fn wait(&mut self, limit: Duration) -> Option<ExitStatus> {
        let mut status = None;
        wait_until(limit, || {
            status = self.harness.try_wait().ok().flatten();
            status.is_some()
        });
        status
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.below();
        let _ = self.harness.kill();
        let _ = self.harness.wait();
        for proc in &self.seen {
            proc.kill();
        }
    }
}
