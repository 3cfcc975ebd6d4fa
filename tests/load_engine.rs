//! The load engine's accuracy and its error accounting, against servers on this machine.
//!
//! Figures are checked against a server whose answers take a known time: [`DelayServer`],
//! in process, because no real server waits a fixed time, or freezes once for a second,
//! on demand. Plain throughput and keep-alive are checked against a real nginx.

mod support;

use std::net::TcpListener;
use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use std::ops::ControlFlow;

use perfcase::load::{
    Arrival, ErrorKind, Event, HttpGet, Mix, Model, Phase, Plan, Report, Request, ReqwestGet,
    Sample, Stage, default_threads, run, run_watched,
};
use support::delay::{Behaviour, DelayServer, delayed};
use support::nginx::Nginx;
use support::scripted::{Route, ScriptedServer, Step};
use support::serial::serial;

fn plan(model: Model, level: f64, seconds: f64) -> Plan {
    let duration = Duration::from_secs_f64(seconds);
    Plan {
        model,
        stages: vec![Stage {
            level,
            duration,
            ramp: Duration::ZERO,
        }],
        warmup: Duration::ZERO,
        timeout: Duration::from_secs(5),
        time_limit: duration + Duration::from_secs(2),
        max_requests: None,
    }
}

fn open(rate: f64, seconds: f64, max_in_flight: usize) -> Plan {
    let model = Model::Open {
        arrival: Arrival::Constant,
        max_in_flight,
    };
    plan(model, rate, seconds)
}

fn closed(users: f64, seconds: f64) -> Plan {
    plan(
        Model::Closed {
            think: Duration::ZERO,
        },
        users,
        seconds,
    )
}

fn run_get(plan: &Plan, url: &str) -> Report {
    run(plan, default_threads(), &HttpGet::new(url).unwrap()).unwrap()
}

/// Requests of the run (warmup aside) slower than `ms`.
fn slower_than(report: &Report, ms: u64) -> u64 {
    report
        .total
        .tally
        .latency
        .count_between(ms * 1000 + 1, u64::MAX)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[test]
fn a_fixed_delay_of_20ms_measures_20_to_21ms_open_and_closed() {
    let _serial = serial();
    let server = DelayServer::start(delayed(20));
    for plan in [closed(4.0, 3.0), open(100.0, 3.0, 50)] {
        let report = run_get(&plan, &server.url());
        let latency = report.total.latency().unwrap();
        eprintln!("{:?}: {latency:?}", plan.model);
        assert!(
            (20.0..=21.0).contains(&ms(latency.p50)),
            "{:?}: p50 {:?}",
            plan.model,
            latency.p50
        );
        assert!(
            report.total.errors().is_empty(),
            "{:?}",
            report.total.errors()
        );
        assert_eq!(report.total.tally.late, 0);
    }
}

fn freezing() -> Behaviour {
    Behaviour {
        freeze: Some((Duration::from_secs(4), Duration::from_secs(1))),
        ..delayed(5)
    }
}

#[test]
fn an_open_loop_shows_a_1s_stall_in_the_hundred_requests_due_in_it() {
    let _serial = serial();
    let server = DelayServer::start(freezing());
    let report = run_get(&open(100.0, 10.0, 200), &server.url());
    let latency = report.total.latency().unwrap();
    let slow = slower_than(&report, 100);
    eprintln!("open loop: {latency:?}, {slow} requests over 100ms");
    // 1,000 due, every one sent and answered.
    assert_eq!(report.total.tally.requests(), 1000);
    assert_eq!((report.total.tally.dropped, report.unfinished), (0, 0));
    // Due every 10 ms in the frozen second: about 100 wait from 1 s down to 0, 90 of them
    // more than 100 ms.
    assert!((80..=105).contains(&slow), "{slow} requests over 100ms");
    assert!(ms(latency.p99) > 800.0, "p99 {:?}", latency.p99);
    assert!(ms(latency.max) > 950.0, "max {:?}", latency.max);
    // The timeline shows the stall in the second after it began.
    let peak = report.intervals.iter().map(|i| i.in_flight).max().unwrap();
    assert!(peak >= 50, "at most {peak} in flight");
}

#[test]
fn a_closed_loop_shows_the_same_stall_in_one_request() {
    let _serial = serial();
    let server = DelayServer::start(freezing());
    let report = run_get(&closed(1.0, 10.0), &server.url());
    let latency = report.total.latency().unwrap();
    let slow = slower_than(&report, 100);
    eprintln!(
        "closed loop: {latency:?}, {slow} requests over 100ms, {} in all",
        report.total.tally.requests()
    );
    // The one user waited out the stall once and sent nothing meanwhile.
    assert_eq!(slow, 1);
    assert!(ms(latency.max) > 900.0, "max {:?}", latency.max);
    assert!(ms(latency.p99) < 10.0, "p99 {:?}", latency.p99);
}

#[test]
fn nginx_answers_every_request_of_both_clients() {
    let _serial = serial();
    let nginx = Nginx::start(r#"location = /json { return 200 '{"ok":true}'; }"#);
    let url = format!("{}/json", nginx.url());
    let lean = HttpGet::new(&url).unwrap();
    let reqwest = ReqwestGet::new(&url, 20).unwrap();
    let plan = open(500.0, 2.0, 20);
    for report in [
        run(&plan, default_threads(), &lean).unwrap(),
        run(&plan, default_threads(), &reqwest).unwrap(),
    ] {
        assert_eq!(
            report.total.tally.requests(),
            1000,
            "{:?}",
            report.total.errors()
        );
        assert!(
            report.total.errors().is_empty(),
            "{:?}",
            report.total.errors()
        );
        assert!(
            (450.0..=550.0).contains(&report.total.rate()),
            "{}",
            report.total.rate()
        );
    }
    let closed = run(&closed(4.0, 1.0), default_threads(), &lean).unwrap();
    assert!(
        closed.total.errors().is_empty(),
        "{:?}",
        closed.total.errors()
    );
    assert!(
        closed.total.tally.requests() > 1000,
        "{}",
        closed.total.tally.requests()
    );
}

#[test]
fn statuses_timeouts_and_refusals_are_counted_by_kind() {
    let _serial = serial();
    let unavailable = DelayServer::start(Behaviour {
        status: 503,
        ..delayed(0)
    });
    let report = run_get(&open(50.0, 1.0, 5), &unavailable.url());
    assert_eq!(report.total.errors()[&ErrorKind::Status(503)], 50);
    assert_eq!(report.total.tally.answered_count(), 0);

    let slow = DelayServer::start(delayed(300));
    let mut plan = open(20.0, 1.0, 20);
    plan.timeout = Duration::from_millis(100);
    let report = run_get(&plan, &slow.url());
    assert_eq!(report.total.errors()[&ErrorKind::Timeout], 20);

    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let report = run_get(&open(20.0, 1.0, 5), &format!("http://127.0.0.1:{port}/"));
    assert_eq!(report.total.errors()[&ErrorKind::Connect], 20);
}

/// A request type whose answers never meet their expectation: the hook a check of the
/// answer uses.
struct NeverRight;

impl Request for NeverRight {
    type Worker = ();

    fn worker(&self) {}

    async fn send(&self, _: &mut ()) -> Result<Sample, ErrorKind> {
        Err(ErrorKind::Expectation)
    }
}

#[test]
fn a_request_type_reports_its_own_expectation_failures() {
    let _serial = serial();
    let report = run(&open(100.0, 0.5, 5), NonZeroUsize::MIN, &NeverRight).unwrap();
    assert_eq!(report.total.errors()[&ErrorKind::Expectation], 50);
    assert_eq!(report.total.tally.error_rate(), 1.0);
}

#[test]
fn a_watched_run_is_shown_each_interval_as_it_closes_with_its_stage_so_far() {
    let _serial = serial();
    let mut plan = open(100.0, 1.5, 5);
    plan.warmup = Duration::from_millis(500);
    let mut seen = Vec::new();
    let mut starts = Vec::new();
    let report = run_watched(&plan, NonZeroUsize::MIN, &NeverRight, None, |event| {
        match event {
            Event::Starts(phase) => starts.push((phase, seen.len())),
            Event::Closed(so_far) => {
                let stage = so_far.stage.map(|s| s.tally.error_count());
                seen.push((so_far.interval.clone(), stage));
            }
        }
        ControlFlow::Continue(())
    })
    .unwrap();
    // Each phase is told as it starts: before any interval, and as the warmup's closes.
    assert_eq!(starts, [(Phase::Warmup, 0), (Phase::Stage(0), 1)]);
    assert_eq!(report.aborted, None);
    let intervals: Vec<_> = seen.iter().map(|(interval, _)| interval.clone()).collect();
    assert_eq!(intervals, report.intervals);
    // The warmup has no stage figures; the stage's errors grow to the stage's total.
    let stages: Vec<Option<u64>> = seen.iter().map(|(_, stage)| *stage).collect();
    assert!(
        matches!(stages[..], [None, Some(first), Some(100)] if first <= 100),
        "{stages:?}"
    );
    assert_eq!(report.stages[0].tally.error_count(), 100);
}

/// A sink whose bytes the test can read while the engine writes into it.
#[derive(Clone, Default)]
struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Shared {
    /// The interval log's histogram lines so far: tag, start (s) and count.
    fn lines(&self) -> Vec<(String, f64, u64)> {
        let log = self.0.lock().unwrap().clone();
        perfcase::load::interval_log::read(&log)
            .unwrap()
            .into_iter()
            .map(|l| (l.tag.unwrap(), l.start.as_secs_f64(), l.histogram.len()))
            .collect()
    }
}

/// The interval log is written as each interval closes, before the watch hears of it, not
/// kept for the end: a run's memory does not grow with its histograms.
#[test]
fn the_interval_log_is_written_as_each_interval_closes() {
    let _serial = serial();
    let nginx = Nginx::start(r#"location = /json { return 200 '{"ok":true}'; }"#);
    let get = HttpGet::new(&format!("{}/json", nginx.url())).unwrap();
    let mut plan = open(50.0, 2.5, 5);
    plan.warmup = Duration::from_millis(500);
    let sink = Shared::default();
    let mut out = sink.clone();
    let mut heard = Vec::new();
    let report = run_watched(&plan, NonZeroUsize::MIN, &get, Some(&mut out), |event| {
        if let Event::Closed(so_far) = event {
            heard.push((so_far.interval.requests, sink.lines().len()));
        }
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(report.log_error, None);
    // Each interval's line (one that answered nothing has none) was there when the watch
    // was told of it.
    assert_eq!(heard.len(), report.intervals.len());
    assert!(heard.len() >= 3, "{heard:?}");
    for (n, (_, lines)) in heard.iter().enumerate() {
        let answered = heard[..=n].iter().filter(|(requests, _)| *requests > 0);
        assert_eq!(*lines, answered.count(), "{heard:?}");
    }
    let lines = sink.lines();
    let expected: Vec<(String, f64, u64)> = report
        .intervals
        .iter()
        .filter(|i| i.requests > 0)
        .map(|i| {
            let tag = match i.phase {
                Phase::Warmup => "latency@warmup",
                Phase::Stage(_) => "latency",
            };
            let start = (i.start.as_secs_f64() * 1e3).round() / 1e3;
            (tag.to_string(), start, i.requests)
        })
        .collect();
    assert_eq!(lines, expected);
    assert_eq!(lines.iter().map(|l| l.2).sum::<u64>(), 125);
}

#[test]
fn requests_due_while_every_slot_is_busy_are_dropped_not_sent_later() {
    let _serial = serial();
    let server = DelayServer::start(delayed(250));
    // 2 slots, each busy 250 ms: 8 of the 40 due in the second are sent.
    let report = run_get(&open(40.0, 1.0, 2), &server.url());
    let tally = &report.total.tally;
    assert_eq!(tally.requests() + tally.dropped, 40, "{tally:?}");
    assert!(
        (6..=10).contains(&tally.requests()),
        "{} sent",
        tally.requests()
    );
    // What was sent went out on time: latency is the server's.
    let p50 = report.total.latency().unwrap().p50;
    assert!((250.0..260.0).contains(&ms(p50)), "p50 {p50:?}");
}

#[test]
fn a_ramp_is_followed_and_the_timeline_has_a_row_per_second() {
    let _serial = serial();
    let server = DelayServer::start(delayed(1));
    let mut plan = open(0.0, 4.0, 20);
    // 0 to 200/s over 2 s (200 requests), then 100/s for 2 s (200), after a 1 s warmup.
    plan.stages = vec![
        Stage {
            level: 200.0,
            duration: Duration::from_secs(2),
            ramp: Duration::from_secs(2),
        },
        Stage {
            level: 100.0,
            duration: Duration::from_secs(2),
            ramp: Duration::ZERO,
        },
    ];
    plan.warmup = Duration::from_secs(1);
    let report = run_get(&plan, &server.url());
    let per_second: Vec<u64> = report.intervals.iter().map(|i| i.requests).collect();
    eprintln!("{per_second:?}");
    // About 50 in the first second of the ramp, 150 in the second, then 100 a second.
    let near = |got: u64, want: u64| got.abs_diff(want) <= 3;
    assert!(
        near(per_second[0], 50) && near(per_second[1], 150),
        "{per_second:?}"
    );
    assert!(
        near(per_second[2], 100) && near(per_second[3], 100),
        "{per_second:?}"
    );
    assert_eq!(
        report.stages[0].tally.requests() + report.stages[1].tally.requests(),
        report.total.tally.requests()
    );
    // The warmup's second is in the timeline, not in the figures.
    assert!(
        near(report.total.tally.requests(), 350),
        "{}",
        report.total.tally.requests()
    );
}

#[test]
fn a_hostile_server_ends_in_errors_not_in_a_panic_or_a_heap() {
    let _serial = serial();
    let endless = |bytes: &[u8]| Step::Repeat {
        bytes: bytes.to_vec(),
        total: usize::MAX,
        within: Duration::from_secs(3),
    };
    let server = ScriptedServer::start(vec![
        Route {
            method: "GET",
            path: "/head",
            steps: vec![
                Step::Write(b"HTTP/1.1 200 OK\r\n".to_vec()),
                endless(b"X-Endless: aaaaaaaa\r\n"),
            ],
        },
        Route {
            method: "GET",
            path: "/body",
            steps: vec![
                Step::Write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000000000\r\n\r\n".to_vec()),
                endless(&[b'x'; 65536]),
            ],
        },
        Route {
            method: "GET",
            path: "/garbage",
            steps: vec![
                Step::Write(b"\x00\x01 not http\r\n\r\n".to_vec()),
                Step::Close,
            ],
        },
    ]);
    let mut plan = open(10.0, 0.5, 5);
    plan.timeout = Duration::from_millis(500);
    for (path, kind) in [
        ("head", ErrorKind::Stream),
        ("body", ErrorKind::Timeout),
        ("garbage", ErrorKind::Stream),
    ] {
        let report = run_get(&plan, &format!("{}/{path}", server.url()));
        assert_eq!(
            report.total.errors().get(&kind),
            Some(&5),
            "{path}: {:?}",
            report.total.errors()
        );
    }
}

/// Weights 3:1 of a fast and a slow path, in an open and a closed loop: each part's count
/// is its share of the run to within a request or two (the requests still in flight at the
/// end), and its p50 is its own path's delay.
#[test]
fn a_mix_measures_each_part_apart_and_in_total() {
    let _serial = serial();
    const PATHS: &[(&str, Duration)] = &[
        ("/fast", Duration::from_millis(5)),
        ("/slow", Duration::from_millis(40)),
    ];
    let server = DelayServer::start(Behaviour {
        paths: PATHS,
        ..delayed(0)
    });
    let base = format!("http://127.0.0.1:{}", server.port);
    let get = |path: &str| HttpGet::new(&format!("{base}{path}")).unwrap();
    let mix = Mix::new(vec![
        ("fast".to_string(), 3, get("/fast")),
        ("slow".to_string(), 1, get("/slow")),
    ])
    .unwrap();
    for plan in [open(200.0, 2.0, 50), closed(4.0, 2.0)] {
        let report = run(&plan, default_threads(), &mix).unwrap();
        assert_eq!(report.parts, ["fast", "slow"]);
        let fast = report.part("fast", None).unwrap();
        let slow = report.part("slow", Some(0)).unwrap();
        let (n_fast, n_slow) = (fast.tally.requests(), slow.tally.requests());
        let total = report.total.tally.requests();
        eprintln!(
            "{:?}: {n_fast} fast, {n_slow} slow of {total}; p50 {:?} and {:?}",
            plan.model,
            fast.latency().map(|l| l.p50),
            slow.latency().map(|l| l.p50)
        );
        assert_eq!(n_fast + n_slow, total);
        let exact = total as f64 / 4.0;
        assert!((n_slow as f64 - exact).abs() <= 2.0, "{n_slow} of {total}");
        let p50 = |figures: &perfcase::load::Figures| ms(figures.latency().unwrap().p50);
        assert!((5.0..=6.5).contains(&p50(fast)), "{}", p50(fast));
        assert!((40.0..=41.5).contains(&p50(slow)), "{}", p50(slow));
        assert!(
            report.total.errors().is_empty(),
            "{:?}",
            report.total.errors()
        );
        assert_eq!(fast.elapsed, report.total.elapsed);
    }
    // An open loop's 400 requests split exactly: every one due was sent and answered.
    let report = run(&open(200.0, 2.0, 50), default_threads(), &mix).unwrap();
    let counts: Vec<u64> = report
        .total
        .parts
        .iter()
        .map(|p| p.tally.requests())
        .collect();
    assert_eq!(counts, [300, 100]);
}

/// A watch that stops the run: the engine sends nothing after the interval it was told
/// in, ends within about a second of it, and says when it stopped.
#[test]
fn a_watch_stops_the_run_within_an_interval() {
    let _serial = serial();
    let server = DelayServer::start(delayed(2));
    let plan = open(100.0, 30.0, 20);
    let started = Instant::now();
    let get = HttpGet::new(&server.url()).unwrap();
    let report = run_watched(&plan, default_threads(), &get, None, |event| match event {
        Event::Closed(so_far) if so_far.interval.end >= Duration::from_secs(2) => {
            ControlFlow::Break(())
        }
        _ => ControlFlow::Continue(()),
    })
    .unwrap();
    let took = started.elapsed();
    let aborted = report.aborted.expect("the run says it was stopped");
    assert_eq!(aborted, Duration::from_secs(2));
    assert!(took < Duration::from_millis(3600), "{took:?}");
    let last = report.intervals.last().unwrap().end;
    assert!(last <= Duration::from_millis(3100), "{last:?}");
    assert!(
        report.total.tally.requests() <= 310,
        "{}",
        report.total.tally.requests()
    );
}

#[test]
fn requests_hanging_after_the_last_stage_do_not_dilute_its_rate() {
    let _serial = serial();
    // The answers due in the last 0.1 s of the stage hang past the timeout: the run
    // waits 1.5 s more for them.
    let server = DelayServer::start(Behaviour {
        freeze: Some((Duration::from_millis(900), Duration::from_secs(2))),
        ..delayed(5)
    });
    let mut plan = open(20.0, 1.0, 10);
    plan.timeout = Duration::from_millis(1500);
    let report = run_get(&plan, &server.url());
    let timeouts = report.total.errors().get(&ErrorKind::Timeout).copied();
    eprintln!(
        "rate {:.1}/s over {:?}, {timeouts:?} timed out, timeline ends at {:?}",
        report.total.rate(),
        report.total.elapsed,
        report.intervals.last().map(|i| i.end)
    );
    assert!(timeouts.is_some_and(|n| n >= 1), "{timeouts:?} timed out");
    assert!(report.intervals.last().unwrap().end > Duration::from_secs(2));
    // Every request due in the stage counts, over the stage's second, not the 2.4 s run.
    assert_eq!(report.total.tally.requests(), 20);
    assert_eq!(report.total.elapsed, Duration::from_secs(1));
    assert_eq!(report.stages[0].rate(), 20.0);
}

#[test]
fn max_requests_counts_only_the_measured_requests() {
    let _serial = serial();
    let server = DelayServer::start(delayed(5));
    for mut plan in [open(50.0, 2.0, 10), closed(2.0, 2.0)] {
        plan.warmup = Duration::from_secs(1);
        plan.max_requests = Some(20);
        let began = Instant::now();
        let report = run_get(&plan, &server.url());
        let measured = report.total.tally.requests();
        let warmup: u64 = report
            .intervals
            .iter()
            .filter(|i| i.phase == Phase::Warmup)
            .map(|i| i.requests)
            .sum();
        eprintln!(
            "{:?}: {warmup} in the warmup, {measured} measured",
            plan.model
        );
        // The warmup runs its course, then 20 more are sent; a closed loop's users may
        // each have one sent in the warmup end after it.
        assert!(warmup >= 40, "{warmup} in the warmup");
        assert!((20..=22).contains(&measured), "{measured} measured");
        assert!(began.elapsed() < Duration::from_millis(1900));
    }
}

/// Answers at once, except on the generator thread `load-1`, where it panics: a bug in a
/// request type, which must end the run, not hang it.
struct PanicsOnOneThread;

impl Request for PanicsOnOneThread {
    type Worker = ();

    fn worker(&self) {}

    async fn send(&self, _: &mut ()) -> Result<Sample, ErrorKind> {
        if std::thread::current().name() == Some("load-1") {
            panic!("a request's bug");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
        Ok(Sample::default())
    }
}

#[test]
fn a_panic_on_one_generator_thread_ends_the_run_with_an_error() {
    let _serial = serial();
    for plan in [open(100.0, 10.0, 4), closed(4.0, 10.0)] {
        let (tx, rx) = std::sync::mpsc::channel();
        let began = Instant::now();
        // On a thread of its own, so that a hang fails the test instead of hanging it.
        std::thread::spawn(move || {
            let two = NonZeroUsize::new(2).unwrap();
            let _ = tx.send(run(&plan, two, &PanicsOnOneThread).map(|_| ()));
        });
        let ended = rx.recv_timeout(Duration::from_secs(3));
        eprintln!("ended after {:?}: {ended:?}", began.elapsed());
        let Ok(Err(error)) = ended else {
            panic!("the run did not end in an error within 3 s: {ended:?}");
        };
        assert_eq!(
            error.to_string(),
            "a load generator thread panicked: a request's bug"
        );
    }
}

#[test]
fn max_in_flight_holds_across_generator_threads_not_per_thread() {
    let _serial = serial();
    let server = DelayServer::start(delayed(250));
    let get = HttpGet::new(&server.url()).unwrap();
    let two = NonZeroUsize::new(2).unwrap();
    // 10/s of 250 ms answers: 2.5 in flight on average, 3 at most, dealt to the two
    // threads in turn, so each thread alone has up to 2 in flight.
    let report = run(&open(10.0, 2.0, 3), two, &get).unwrap();
    let tally = &report.total.tally;
    eprintln!(
        "max_in_flight 3: {} answered, {} dropped",
        tally.requests(),
        tally.dropped
    );
    assert_eq!((tally.requests(), tally.dropped), (20, 0));
    // And at 2 the limit holds over both threads: of every 3 due about 2 are sent.
    let report = run(&open(10.0, 2.0, 2), two, &get).unwrap();
    let tally = &report.total.tally;
    let peak = report.intervals.iter().map(|i| i.in_flight).max().unwrap();
    eprintln!(
        "max_in_flight 2: {} answered, {} dropped, {peak} in flight at most",
        tally.requests(),
        tally.dropped
    );
    assert_eq!(tally.requests() + tally.dropped, 20);
    assert!(
        (4..=10).contains(&tally.dropped),
        "{} dropped",
        tally.dropped
    );
    assert!(peak <= 2, "{peak} in flight");
}

/// A request whose worker takes 30 ms to make (a client that loads certificates, say) and
/// which is answered at once.
struct SlowToPrepare;

impl Request for SlowToPrepare {
    type Worker = ();

    fn worker(&self) {
        std::thread::sleep(Duration::from_millis(30));
    }

    async fn send(&self, _: &mut ()) -> Result<Sample, ErrorKind> {
        Ok(Sample::default())
    }
}

#[test]
fn workers_are_made_before_the_start_not_in_the_first_requests_latency() {
    let _serial = serial();
    // 4 slots, 120 ms to make: made after the start, they would hold up the first 3
    // requests (due every 50 ms).
    let report = run(&open(20.0, 1.0, 4), NonZeroUsize::MIN, &SlowToPrepare).unwrap();
    let tally = &report.total.tally;
    let max = report.total.latency().unwrap().max;
    eprintln!(
        "{} answered, {} late, max {max:?}",
        tally.requests(),
        tally.late
    );
    assert_eq!((tally.requests(), tally.late), (20, 0));
    assert!(ms(max) < 5.0, "max {max:?}");
}
