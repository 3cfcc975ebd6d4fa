//! Which cases may overlap. Smoke checks run beside anything. Cases that measure timing
//! take their server's lock, so two of them never measure each other: a server that
//! serves one generation at a time (Ollama's default) would otherwise add the first
//! case's whole generation to the second case's time to first token, and even a server
//! that serves them together shares its compute between them. A target declared with
//! `measure_concurrently = true` opts out, for servers meant to be measured under load:
//! its cases share the lock with each other, and still never overlap a case of another
//! target on the same server that did not opt out.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::catalog::Schedule;
use crate::target::Target;

/// One lock per server (scheme, host and port as written), shared by every target that
/// names it: two scenario files pointing at one server must not measure each other either.
/// Servers on this machine (managed targets, loopback addresses) share one lock. Targets
/// that opt into concurrent measuring share it with each other, across servers too.
/// Above them one lock for the whole run: every case holds it shared, except a case that
/// runs alone, which holds it exclusively.
#[derive(Default)]
pub struct Scheduler {
    servers: Mutex<HashMap<String, Arc<RwLock<()>>>>,
    everything: RwLock<()>,
}

/// What a case must hold while it runs.
pub struct Turn<'s> {
    everything: &'s RwLock<()>,
    on_server: OnServer,
}

enum OnServer {
    /// Nothing more than its share of the run.
    Free,
    /// The whole run to itself.
    Alone,
    /// Alone on the server.
    Exclusive(Arc<RwLock<()>>),
    /// Beside the server's other cases that opted into concurrent measuring.
    Shared(Arc<RwLock<()>>),
}

/// Held while a case runs; dropping it lets the cases waiting for it start. The server's
/// guard is dropped before the run's.
pub struct Held<'a> {
    _server: Option<Guard<'a>>,
    _everything: Guard<'a>,
}

/// Held for its drop only.
enum Guard<'a> {
    Exclusive { _held: RwLockWriteGuard<'a, ()> },
    Shared { _held: RwLockReadGuard<'a, ()> },
}

impl Scheduler {
    /// The turn a case of this schedule takes against this target.
    pub fn turn(&self, schedule: Schedule, target: &Target) -> Turn<'_> {
        let on_server = match schedule {
            Schedule::Parallel => OnServer::Free,
            Schedule::Alone => OnServer::Alone,
            Schedule::MeasuresTarget => {
                let lock = self.server_lock(target);
                if target.measure_concurrently {
                    OnServer::Shared(lock)
                } else {
                    OnServer::Exclusive(lock)
                }
            }
        };
        Turn {
            everything: &self.everything,
            on_server,
        }
    }

    fn server_lock(&self, target: &Target) -> Arc<RwLock<()>> {
        // Servers on this machine (managed ones, loopback addresses) share its cores,
        // whatever their ports: measuring one while another computes would measure both.
        let server = if target.managed.is_some() || is_loopback(&target.base_url) {
            "this machine".to_string()
        } else {
            target.base_url.origin().ascii_serialization()
        };
        let mut servers = self.servers.lock().unwrap_or_else(|e| e.into_inner());
        servers.entry(server).or_default().clone()
    }
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

fn write(lock: &RwLock<()>) -> Guard<'_> {
    Guard::Exclusive {
        _held: lock.write().unwrap_or_else(|e| e.into_inner()),
    }
}

fn read(lock: &RwLock<()>) -> Guard<'_> {
    Guard::Shared {
        _held: lock.read().unwrap_or_else(|e| e.into_inner()),
    }
}

impl Turn<'_> {
    /// Waits for the case's turn: the run's lock first, then the server's. Always in this
    /// order, and a case holding the run's lock exclusively takes no other, so no two
    /// cases can wait for each other.
    pub fn wait(&self) -> Held<'_> {
        if let OnServer::Alone = self.on_server {
            return Held {
                _server: None,
                _everything: write(self.everything),
            };
        }
        let everything = read(self.everything);
        let server = match &self.on_server {
            OnServer::Free | OnServer::Alone => None,
            OnServer::Exclusive(lock) => Some(write(lock)),
            OnServer::Shared(lock) => Some(read(lock)),
        };
        Held {
            _server: server,
            _everything: everything,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::parse_scenario;
    use rstest::rstest;
    use std::time::Duration;

    fn target(url: &str, concurrently: bool) -> Target {
        let text =
            format!("[target]\nbase_url = \"{url}\"\nmeasure_concurrently = {concurrently}\n");
        let doc = parse_scenario(&text, &|_: &str| None).unwrap();
        Target::new("t".into(), &doc.target, None, None).unwrap()
    }

    /// A target the harness would start itself (never started here).
    fn managed(url: &str) -> Target {
        let doc = parse_scenario(&format!("[target]\nbase_url = \"{url}\"\n"), &|_: &str| {
            None
        })
        .unwrap();
        let managed = crate::target::Managed::new(
            "managed target".into(),
            "true".into(),
            format!("{url}/health"),
            Duration::from_secs(1),
            Default::default(),
            std::env::temp_dir().join("perfcase-schedule-test.log"),
        );
        Target::new("m".into(), &doc.target, None, Some(managed)).unwrap()
    }

    #[test]
    fn managed_servers_on_this_machine_take_turns_whatever_their_ports() {
        let first = (Schedule::MeasuresTarget, managed(A));
        let second = (Schedule::MeasuresTarget, managed(B));
        assert!(!overlaps(first, second, false));
    }

    #[rstest]
    #[case("http://127.0.0.1:8080", "http://localhost:9090")]
    #[case("http://127.0.0.2:1", "http://[::1]:2")]
    fn servers_on_loopback_take_turns_whatever_their_ports(#[case] a: &str, #[case] b: &str) {
        let first = (Schedule::MeasuresTarget, target(a, false));
        let second = (Schedule::MeasuresTarget, target(b, false));
        assert!(!overlaps(first, second, false));
    }

    /// Whether a second case can start while the first holds its turn: it must wait when
    /// the first has not released it within 100 ms, and start at once otherwise.
    fn overlaps(first: (Schedule, Target), second: (Schedule, Target), expected: bool) -> bool {
        let scheduler = Scheduler::default();
        let first_turn = scheduler.turn(first.0, &first.1);
        let held = first_turn.wait();
        let (started, start) = std::sync::mpsc::channel();
        let (trying, tries) = std::sync::mpsc::channel();
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let turn = scheduler.turn(second.0, &second.1);
                let _ = trying.send(());
                let _held = turn.wait();
                let _ = started.send(());
            });
            // The patience below counts from the moment the second case asks for its turn,
            // so a slow thread start cannot pass for a case kept waiting.
            tries.recv().expect("the second case asks for its turn");
            // A second case that may start is given ample time (a loaded machine); one that
            // must wait is watched long enough to see it does not start.
            let patience = Duration::from_millis(if expected { 10_000 } else { 100 });
            let overlapped = start.recv_timeout(patience).is_ok();
            drop(held);
            overlapped
        })
    }

    // Names, not addresses: nothing is sent; they stand for two remote servers.
    const A: &str = "http://gpu-1.example:8080";
    const B: &str = "http://gpu-2.example:8080";

    #[rstest]
    #[case::measuring_one_server(Schedule::MeasuresTarget, A, false, A, false, false)]
    #[case::same_server_other_path(
        Schedule::MeasuresTarget,
        A,
        false,
        "http://gpu-1.example:8080/v1",
        false,
        false
    )]
    #[case::two_servers(Schedule::MeasuresTarget, A, false, B, false, true)]
    #[case::both_opted_in(Schedule::MeasuresTarget, A, true, A, true, true)]
    #[case::one_opted_in(Schedule::MeasuresTarget, A, true, A, false, false)]
    #[case::smoke_beside_measuring(Schedule::Parallel, A, false, A, false, true)]
    #[case::alone_after_measuring(Schedule::Alone, A, false, B, false, false)]
    #[case::alone_even_when_opted_in(Schedule::Alone, A, true, A, true, false)]
    fn who_may_overlap(
        #[case] schedule: Schedule,
        #[case] first: &str,
        #[case] first_opts_in: bool,
        #[case] second: &str,
        #[case] second_opts_in: bool,
        #[case] expected: bool,
    ) {
        let first = (Schedule::MeasuresTarget, target(first, first_opts_in));
        let second = (schedule, target(second, second_opts_in));
        assert_eq!(overlaps(first, second, expected), expected);
    }

    #[rstest]
    #[case::smoke_waits_for_a_baseline(Schedule::Alone, Schedule::Parallel)]
    #[case::baseline_waits_for_a_smoke_check(Schedule::Parallel, Schedule::Alone)]
    #[case::baseline_waits_for_a_baseline(Schedule::Alone, Schedule::Alone)]
    fn a_case_that_runs_alone_overlaps_nothing(#[case] first: Schedule, #[case] second: Schedule) {
        // Two remote servers: only the run's lock can keep them apart.
        let first = (first, target(A, true));
        let second = (second, target(B, true));
        assert!(!overlaps(first, second, false));
    }
}
