//! Runs a [`Plan`] against a [`Request`] and records what happened.
//!
//! # Threads
//!
//! The load is spread over generator threads (by default half the cores, see
//! [`default_threads`]), each running a single-threaded tokio runtime, as wrk runs one
//! event loop per thread: a worker (an open-loop slot or a closed-loop user, each with its
//! own connection) never moves between threads, so its thread's recorder is reached
//! without a lock. Open-loop arrivals are dealt out in turn (thread k of n takes the k-th,
//! (k+n)-th, ... of the one schedule), so together the threads send exactly the plan's
//! schedule; closed-loop users likewise. The run's requests are numbered in one sequence
//! (the schedule's order; a closed loop's sends counted across threads), and a mix's part
//! for each comes from that number (see [`super::mix`]), so its proportions hold over the
//! run however requests are dealt.
//!
//! Each thread makes its workers (its share of the slots or users) before the run starts:
//! the threads agree on the start once all are ready, so the making of a worker (a client,
//! for reqwest requests) is in no request's latency.
//!
//! # Recording
//!
//! Each thread records into one histogram of its own (and, for generations, one per
//! figure a generation measures besides its latency): no lock and no allocation per
//! request; a mix of more than one request also records each request in its part's
//! tally. At the end of every interval (a second, or less where a stage or the warmup
//! ends) it hands that interval's tally to the collector on the calling thread and starts
//! a new one; the collector merges the threads' parts into the timeline, adds them to
//! the stage and total figures, and writes the interval's histograms to the interval log
//! (if the caller gave one) before dropping them. A request counts in the interval in
//! which it ended.
//!
//! # Open loop: latency from the time a request was due
//!
//! A request's latency counts from the moment the schedule said to send it, not from when
//! it went out. A generator that waits for a slow answer before sending the next request
//! measures only the requests it got to send: during a 1 s stall of a server meant to take
//! 100 requests/s, it records one slow request where users would have met a hundred, and
//! the percentiles hide the stall (Gil Tene's "coordinated omission"). Counting from the
//! due time, as wrk2 and k6's arrival-rate executors do, charges every request due in the
//! stall with the time it would have waited. A request sent more than [`SLACK`] after it
//! was due is counted `late` (the generator could not keep up), and a request due when
//! `max_in_flight` requests are in flight, counted across the threads, is counted
//! `dropped` and never sent: it is not quietly sent later, which would bend the schedule
//! into a closed loop.
//!
//! Each thread has one dispatch that waits for each due time on a timerfd (the `pace`
//! module) and hands the request to an idle slot, so an idle slot costs neither a
//! timer nor a file descriptor. A thread starts with its share of `max_in_flight` slots
//! and makes another (and its worker) only when all of its own are busy while the run has
//! fewer than `max_in_flight` in flight, as happens when answers are slower on one thread:
//! a per-thread share as a limit would drop requests below the run's limit.
//!
//! # Closed loop: a stall shows in one request per user
//!
//! Each user sends its next request when its last one has ended (after its think time).
//! A server that stalls for 1 s holds each user's one outstanding request for that second,
//! and nobody sends anything meanwhile: the stall is one slow request per user among
//! thousands of fast ones, far above p99 at modest user counts. That is the right figure
//! for a fixed pool of clients (a batch job, a benchmark of throughput), and the wrong one
//! for users who do not wait for each other: measure those with an open loop.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::io::{self, Write};
use std::num::NonZeroUsize;
use std::ops::ControlFlow;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Sender};
use std::time::{Duration, Instant, SystemTime};

use futures_util::StreamExt;
use futures_util::future::join_all;
use futures_util::stream::FuturesUnordered;
use tokio::sync::Notify;

use super::limits;
use super::pace::Pacer;
use super::plan::{Model, Phase, Plan, PlanError};
use super::record::{ErrorKind, Sample, Tally};
use super::report::{Collector, Message, Part, Report, SoFar};

/// How late an open-loop request may be sent and still count as on time: room for a busy
/// runtime's small delays (sends are paced by a timerfd, to within tens of microseconds
/// when the runtime is idle).
pub const SLACK: Duration = Duration::from_millis(5);

/// How long a closed-loop user waits after failing to connect before it tries again, so a
/// server that refuses connections (or a machine out of ports) is not hammered in a busy
/// loop that counts millions of errors as requests.
pub const CONNECT_BACKOFF: Duration = Duration::from_millis(10);

/// One kind of request, sent again and again. Its futures run on one generator thread's
/// runtime, so they need not be `Send`; the request itself is shared by every thread.
pub trait Request: Sync {
    /// What one worker keeps from one request to the next: its connection.
    type Worker;

    fn worker(&self) -> Self::Worker;

    /// Sends one request and reads the whole answer; an answer says what it measured
    /// besides the latency the engine times (nothing, for plain HTTP). The engine drops the
    /// future at the plan's timeout, so a worker must not be left holding a half-read
    /// connection: take it out of the worker while using it and put it back when the
    /// answer is complete.
    fn send(&self, worker: &mut Self::Worker) -> impl Future<Output = Result<Sample, ErrorKind>>;

    /// The names of the parts of a mix (see [`super::Mix`]), whose figures are kept apart
    /// as well as in the total; none for a single request.
    fn parts(&self) -> Vec<String> {
        Vec::new()
    }

    /// The part (an index into [`Request::parts`]) of the run's `n`-th request, from 0.
    fn part(&self, n: u64) -> usize {
        let _ = n;
        0
    }

    /// Sends one request of part `part`: what the engine calls. A single request has one
    /// part, itself.
    fn send_part(
        &self,
        worker: &mut Self::Worker,
        part: usize,
    ) -> impl Future<Output = Result<Sample, ErrorKind>> {
        let _ = part;
        self.send(worker)
    }
}

/// Why a run did not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("invalid load: {0}")]
    Plan(#[from] PlanError),
    #[error("cannot start a load generator thread: {0}")]
    Thread(#[from] io::Error),
    /// A request (or the engine) panicked on a generator thread: the run stopped.
    #[error("a load generator thread panicked: {0}")]
    Panicked(String),
}

/// The number of generator threads to use by default: half the cores, rounded up.
///
/// The server under load shares this machine's cores, and a lean generator spends about
/// what a lean server (nginx) does per request: the generator's fair half keeps both busy.
/// One thread per core takes cores from the server and, with the threads' sleeps and
/// wake-ups, costs more per request: on 2 cores one thread got 15-30% more requests/s out
/// of one nginx worker than two (a closed loop of 50 users; wrk behaves the same), up to
/// 140,000 requests/s with both cores nearly busy.
pub fn default_threads() -> NonZeroUsize {
    let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    NonZeroUsize::new(cores.div_ceil(2)).unwrap_or(NonZeroUsize::MIN)
}

/// Runs `plan` with `request` on up to `threads` generator threads (never more than the
/// plan has workers) and returns its report. Raises the open-files limit first (see
/// [`limits::raise_open_files`]). Blocks until the run ends, within the plan's time limit.
pub fn run<R: Request>(
    plan: &Plan,
    threads: NonZeroUsize,
    request: &R,
) -> Result<Report, RunError> {
    run_watched(plan, threads, request, None, |_| ControlFlow::Continue(()))
}

/// What [`run_watched`] tells its watch as the run goes.
#[derive(Debug)]
pub enum Event<'a> {
    /// The warmup or a stage starts: at the start of the run, and as the last interval of
    /// the phase before it closes (the engine's clock, not a timer of the watch's own).
    Starts(Phase),
    /// An interval closed: the run so far.
    Closed(&'a SoFar<'a>),
}

/// [`run`], telling `watch` as each phase starts and each interval closes (about once a
/// second), for a live display or an early verdict. It is called on the collecting thread,
/// never on a generator thread, so a slow `watch` delays the merging of figures, not a
/// request. When it returns [`ControlFlow::Break`] the run stops as at its time limit:
/// no request is sent after the current interval ends, those in flight are dropped and
/// counted unfinished, and the report's `aborted` says when it was asked to stop (the end of
/// the interval it was told of).
///
/// With a `log`, every interval's histograms are written into it as the interval closes,
/// in HdrHistogram's interval-log format (see [`super::interval_log`]), also on the
/// collecting thread; the report keeps none. A failure to write is kept in the report's
/// `log_error` and the run goes on; after a [`RunError`] the log is incomplete.
pub fn run_watched<R: Request>(
    plan: &Plan,
    threads: NonZeroUsize,
    request: &R,
    log: Option<&mut dyn Write>,
    mut watch: impl FnMut(Event<'_>) -> ControlFlow<()>,
) -> Result<Report, RunError> {
    plan.validate()?;
    let open_files = limits::raise_open_files().ok();
    let workers = match plan.model {
        Model::Open { max_in_flight, .. } => max_in_flight,
        Model::Closed { .. } => plan
            .stages
            .iter()
            .map(|s| s.level as usize)
            .max()
            .unwrap_or(0),
    };
    let threads = threads.get().min(workers).max(1);
    let starting = Start {
        unready: AtomicUsize::new(threads),
        at: OnceLock::new(),
    };
    let sent = AtomicU64::new(0);
    let in_flight = AtomicUsize::new(0);
    let measured = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let running = AtomicUsize::new(threads);
    let (tx, rx) = mpsc::channel();
    let parts = request.parts();
    // Reborrowed, for a lifetime as short as the plan's.
    let log = log.map(|out| out as &mut dyn Write);
    let mut collector = Collector::new(plan, threads, &parts, log);
    // A mix of one request is the run itself: its figures are the total's.
    let tallied = if parts.len() > 1 { parts.len() } else { 0 };
    let mut aborted = None;
    // `at`: the run's time on the engine's clock, the end of the interval last closed.
    let mut ask = |event: Event<'_>, at: Duration, aborted: &mut Option<Duration>| {
        if watch(event).is_break() && aborted.is_none() {
            stop.store(true, Ordering::Relaxed);
            *aborted = Some(at);
        }
    };
    ask(
        Event::Starts(plan.phase_at(Duration::ZERO)),
        Duration::ZERO,
        &mut aborted,
    );
    std::thread::scope(|scope| {
        let mut handles = Vec::with_capacity(threads);
        for thread in 0..threads {
            let generator = Generator {
                plan,
                request,
                thread,
                threads,
                workers,
                parts: tallied,
                starting: &starting,
                sent: &sent,
                in_flight: &in_flight,
                measured: &measured,
                stop: &stop,
                running: &running,
            };
            let tx = tx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("load-{thread}"))
                .spawn_scoped(scope, move || generator.run(tx));
            match spawned {
                Ok(handle) => handles.push(handle),
                Err(e) => {
                    // The threads started stop at their interval's end and meet no one
                    // else at the rendezvous; the scope waits for them.
                    stop.store(true, Ordering::Relaxed);
                    running.fetch_sub(threads - thread, Ordering::AcqRel);
                    return Err(RunError::Thread(e));
                }
            }
        }
        drop(tx);
        let mut begun = false;
        for message in rx {
            // A thread sends only once the threads agreed on the start.
            if !begun {
                begun = true;
                let since = starting.at.get().map_or(Duration::ZERO, Instant::elapsed);
                collector.start(SystemTime::now() - since);
            }
            let closed = collector.closed();
            collector.receive(message);
            for index in closed..collector.closed() {
                let so_far = collector.so_far(index);
                let end = so_far.interval.end;
                ask(Event::Closed(&so_far), end, &mut aborted);
                let next = plan.phase_at(end);
                if end < plan.duration() && next != so_far.interval.phase {
                    ask(Event::Starts(next), end, &mut aborted);
                }
            }
        }
        handles.into_iter().try_for_each(|h| match h.join() {
            Ok(ran) => ran.map_err(RunError::Thread),
            Err(panic) => Err(RunError::Panicked(panic_message(&*panic))),
        })
    })?;
    Ok(collector.finish(open_files, aborted))
}

/// One generator thread's share of the run.
struct Generator<'a, R> {
    plan: &'a Plan,
    request: &'a R,
    thread: usize,
    threads: usize,
    /// Slots or users in all, across threads.
    workers: usize,
    /// The parts of a mix tallied apart; 0 for a single request (or a mix of one).
    parts: usize,
    /// Where the threads agree on the run's start, once each has built its workers.
    starting: &'a Start,
    /// Closed loop: requests sent so far by every thread, to number a mix's requests in
    /// one sequence.
    sent: &'a AtomicU64,
    /// Closed loop: requests sent after the warmup by every thread, for `max_requests`.
    measured: &'a AtomicU64,
    /// Open loop: requests handed to a slot and not yet ended, on every thread: at
    /// `max_in_flight` a due request is dropped, wherever the others are in flight.
    in_flight: &'a AtomicUsize,
    /// The watch asked the run to stop.
    stop: &'a AtomicBool,
    /// Threads not yet done: every thread keeps its runtime running until all are done,
    /// since a shared HTTP client may have put a connection's task on this thread's
    /// runtime (see [`Rendezvous`]).
    running: &'a AtomicUsize,
}

impl<R: Request> Generator<'_, R> {
    fn run(self, tx: Sender<Message>) -> io::Result<()> {
        let mut rendezvous = Rendezvous {
            running: self.running,
            stop: self.stop,
            left: false,
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async {
            // Built before the start, so that no request's latency holds the making of a
            // worker (a client, for reqwest requests).
            let workers = self
                .mine(self.workers)
                .map(|_| self.request.worker())
                .collect();
            let start = self.starting.ready(self.stop).await;
            let recorder =
                RefCell::new(Recorder::new(self.plan, self.thread, start, self.parts, tx));
            let limit = at(start + self.plan.time_limit);
            tokio::select! {
                () = self.work(start, workers, &recorder) => {}
                () = tick(&recorder, self.stop) => {}
                () = tokio::time::sleep_until(limit) => {}
            }
            recorder.into_inner().finish(Instant::now());
            rendezvous.wait().await;
        });
        Ok(())
    }

    /// `workers`: one per slot or user of this thread's share (see [`Generator::mine`]).
    async fn work(
        &self,
        start: Instant,
        workers: Vec<R::Worker>,
        recorder: &RefCell<Recorder<'_>>,
    ) {
        match self.plan.model {
            Model::Open {
                arrival,
                max_in_flight,
            } => {
                let due = self
                    .plan
                    .due(arrival)
                    .enumerate()
                    .skip(self.thread)
                    .step_by(self.threads);
                let handoff = Handoff {
                    due: RefCell::new(VecDeque::with_capacity(workers.len())),
                    idle: Cell::new(workers.len()),
                    ready: Notify::new(),
                    over: Cell::new(false),
                };
                let slots = RefCell::new(FuturesUnordered::new());
                for worker in workers {
                    slots
                        .borrow_mut()
                        .push(self.slot(worker, &handoff, recorder));
                }
                let open = OpenLoop {
                    start,
                    max_in_flight,
                    handoff: &handoff,
                    grow: &|| {
                        let worker = self.request.worker();
                        slots
                            .borrow_mut()
                            .push(self.slot(worker, &handoff, recorder));
                    },
                };
                tokio::join!(self.dispatch(due, open, recorder), run_all(&slots));
            }
            Model::Closed { think } => {
                let users = self
                    .mine(self.workers)
                    .zip(workers)
                    .map(|(u, worker)| self.user(start, u as u64, think, worker, recorder));
                join_all(users).await;
            }
        }
    }

    /// This thread's share of `n` workers: the k-th, (k+n)-th, ...
    fn mine(&self, n: usize) -> std::iter::StepBy<std::ops::Range<usize>> {
        (self.thread..n).step_by(self.threads)
    }

    /// Hands each due request to an idle slot at its time (a new slot when none is idle),
    /// or drops it when `max_in_flight` are in flight across the threads.
    async fn dispatch(
        &self,
        due: impl Iterator<Item = (usize, Duration)>,
        open: OpenLoop<'_>,
        recorder: &RefCell<Recorder<'_>>,
    ) {
        let handoff = open.handoff;
        // Without a timerfd (no descriptor to spare), tokio's millisecond timer.
        let pacer = Pacer::new().ok();
        for (n, offset) in due {
            let when = open.start + offset;
            let paced = match &pacer {
                Some(pacer) => pacer.until(when).await.is_ok(),
                None => false,
            };
            if !paced {
                tokio::time::sleep_until(at(when)).await;
            }
            let part = self.request.part(n as u64);
            if self.in_flight.fetch_add(1, Ordering::Relaxed) >= open.max_in_flight {
                self.in_flight.fetch_sub(1, Ordering::Relaxed);
                recorder.borrow_mut().dropped(Instant::now(), part);
                continue;
            }
            // This thread's slots number at most its requests in flight, fewer than
            // `max_in_flight`: a slot is made only when the others here are all busy.
            if handoff.idle.get() == 0 {
                (open.grow)();
                handoff.idle.set(1);
                // The slots are polled by another branch of this task: wake it to poll
                // the new one.
                std::future::poll_fn(|cx| {
                    cx.waker().wake_by_ref();
                    std::task::Poll::Ready(())
                })
                .await;
            }
            handoff.idle.set(handoff.idle.get() - 1);
            handoff.due.borrow_mut().push_back((when, part));
            handoff.ready.notify_one();
        }
        handoff.over.set(true);
        handoff.ready.notify_waiters();
    }

    /// An open-loop slot: sends the requests handed to it and records each from its due
    /// time, until the dispatch is over.
    async fn slot(
        &self,
        mut worker: R::Worker,
        handoff: &Handoff,
        recorder: &RefCell<Recorder<'_>>,
    ) {
        loop {
            let (when, part) = loop {
                // Registered before looking, so a notice sent in between is not missed.
                let notified = handoff.ready.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if let Some(due) = handoff.due.borrow_mut().pop_front() {
                    break due;
                }
                if handoff.over.get() {
                    return;
                }
                notified.await;
            };
            let sent = Instant::now();
            recorder.borrow_mut().sent(sent, sent > when + SLACK, part);
            let outcome = self.send(&mut worker, part).await;
            let end = Instant::now();
            recorder.borrow_mut().ended(end, end - when, outcome, part);
            self.in_flight.fetch_sub(1, Ordering::Relaxed);
            handoff.idle.set(handoff.idle.get() + 1);
        }
    }

    /// A closed-loop user: while the plan counts it in, sends a request, waits for the
    /// answer, thinks, and again.
    async fn user(
        &self,
        start: Instant,
        user: u64,
        think: Duration,
        mut worker: R::Worker,
        recorder: &RefCell<Recorder<'_>>,
    ) {
        loop {
            let elapsed = start.elapsed();
            if self.plan.users_at(elapsed) <= user {
                match self.plan.next_active(user, elapsed) {
                    None => return,
                    Some(then) if then > elapsed => {
                        tokio::time::sleep_until(at(start + then)).await;
                        continue;
                    }
                    // Active now, to within rounding of where a ramp crosses.
                    Some(_) => {}
                }
            }
            // Counted only where needed: one shared counter is a cache line the threads
            // would otherwise pass back and forth on every request.
            if let Some(max) = self.plan.max_requests
                && elapsed >= self.plan.warmup
                && self.measured.fetch_add(1, Ordering::Relaxed) >= max
            {
                return;
            }
            let mut part = 0;
            if self.parts > 0 {
                part = self.request.part(self.sent.fetch_add(1, Ordering::Relaxed));
            }
            let sent = Instant::now();
            recorder.borrow_mut().sent(sent, false, part);
            let outcome = self.send(&mut worker, part).await;
            let end = Instant::now();
            let refused = matches!(outcome, Err(ErrorKind::Connect | ErrorKind::Exhausted(_)));
            recorder.borrow_mut().ended(end, end - sent, outcome, part);
            if refused {
                tokio::time::sleep(CONNECT_BACKOFF).await;
            }
            if !think.is_zero() {
                tokio::time::sleep(think).await;
            }
            // Not sent at once: a yield waits for the runtime's next look at the sockets,
            // so the answers that have come meanwhile are read first and this thread's
            // requests go out together, as wrk's do. The server then finds them in one
            // wake-up and this thread finds answers waiting rather than sleeping for
            // them: on 2 cores against one nginx worker, more requests/s in 7 of 9
            // alternating runs (medians +4% on a quiet machine, +10% with other work
            // running). Before `sent`, so no latency counts the yield.
            tokio::task::yield_now().await;
        }
    }

    async fn send(&self, worker: &mut R::Worker, part: usize) -> Result<Sample, ErrorKind> {
        tokio::time::timeout(self.plan.timeout, self.request.send_part(worker, part))
            .await
            .unwrap_or(Err(ErrorKind::Timeout))
    }
}

/// Where the generator threads wait for each other at the end. Not a barrier: a thread
/// that panics or fails never arrives at one, and the others would wait for ever. A thread
/// leaves its count however it exits, and one that exits before its time (a panic, an
/// error) asks the others to stop, so that the run ends within an interval.
struct Rendezvous<'a> {
    running: &'a AtomicUsize,
    stop: &'a AtomicBool,
    left: bool,
}

impl Rendezvous<'_> {
    /// How often a thread that is done looks whether the others are: the wait is short,
    /// the last interval's hand-over, and polling needs no waker shared across runtimes.
    const POLL: Duration = Duration::from_millis(1);

    /// Says this thread is done and waits until every other is, its runtime running.
    async fn wait(&mut self) {
        self.leave();
        while self.running.load(Ordering::Acquire) > 0 {
            tokio::time::sleep(Self::POLL).await;
        }
    }

    fn leave(&mut self) {
        if !self.left {
            self.left = true;
            self.running.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

impl Drop for Rendezvous<'_> {
    fn drop(&mut self) {
        if !self.left {
            self.stop.store(true, Ordering::Relaxed);
            self.leave();
        }
    }
}

/// A panic's message, when it has one (`panic!` with a text does).
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    match (panic.downcast_ref::<&str>(), panic.downcast_ref::<String>()) {
        (Some(text), _) => (*text).to_string(),
        (_, Some(text)) => text.clone(),
        _ => "no message".to_string(),
    }
}

/// Ends intervals on time when no request ends to do it; returns, ending the run, at the
/// first interval end after the watch asked to stop.
async fn tick(recorder: &RefCell<Recorder<'_>>, stop: &AtomicBool) {
    loop {
        let end = recorder.borrow().end;
        tokio::time::sleep_until(at(end)).await;
        recorder.borrow_mut().roll(Instant::now());
        if stop.load(Ordering::Relaxed) {
            return;
        }
    }
}

fn at(instant: Instant) -> tokio::time::Instant {
    tokio::time::Instant::from_std(instant)
}

/// What an open loop's dispatch works with on one thread.
struct OpenLoop<'a> {
    start: Instant,
    max_in_flight: usize,
    handoff: &'a Handoff,
    /// Adds an idle slot, with a new worker, to the thread's slots.
    grow: &'a dyn Fn(),
}

/// Polls a thread's open-loop slots, which the dispatch may add to as it goes, until all
/// have ended (the dispatch is over). The borrow is held only while polling, and the
/// dispatch adds a slot only from its own branch, so the two never overlap.
async fn run_all<F: Future<Output = ()>>(slots: &RefCell<FuturesUnordered<F>>) {
    std::future::poll_fn(|cx| {
        loop {
            match slots.borrow_mut().poll_next_unpin(cx) {
                std::task::Poll::Ready(Some(())) => {}
                std::task::Poll::Ready(None) => return std::task::Poll::Ready(()),
                std::task::Poll::Pending => return std::task::Poll::Pending,
            }
        }
    })
    .await;
}

/// Where the generator threads agree on when the run starts: once every thread has built
/// its workers, or the run is stopped (a thread failed to start or panicked).
struct Start {
    /// Threads still building their workers.
    unready: AtomicUsize,
    at: OnceLock<Instant>,
}

impl Start {
    /// Says this thread is ready and waits for the others; returns the run's start.
    async fn ready(&self, stop: &AtomicBool) -> Instant {
        if self.unready.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.at.get_or_init(Instant::now);
        }
        while self.at.get().is_none() && !stop.load(Ordering::Relaxed) {
            tokio::time::sleep(Rendezvous::POLL).await;
        }
        *self.at.get_or_init(Instant::now)
    }
}

/// An open loop's due requests on their way from the dispatch to the slots of a thread.
struct Handoff {
    /// Handed over, not yet taken (when each was due, and its part): at most one per
    /// idle slot.
    due: RefCell<VecDeque<(Instant, usize)>>,
    /// Slots neither sending nor holding a handed request.
    idle: Cell<usize>,
    ready: Notify,
    /// The schedule has ended.
    over: Cell<bool>,
}

/// One thread's recording: the tally of the current interval, and what is in flight.
struct Recorder<'a> {
    plan: &'a Plan,
    thread: usize,
    start: Instant,
    index: usize,
    /// The current interval, since the start of the run.
    from: Duration,
    to: Duration,
    /// `to` as an instant.
    end: Instant,
    tally: Tally,
    /// A mix's parts' tallies of the current interval; none for a single request.
    parts: Vec<Tally>,
    in_flight: u64,
    tx: Sender<Message>,
}

impl<'a> Recorder<'a> {
    fn new(
        plan: &'a Plan,
        thread: usize,
        start: Instant,
        parts: usize,
        tx: Sender<Message>,
    ) -> Recorder<'a> {
        let to = plan.interval_end(Duration::ZERO);
        Recorder {
            plan,
            thread,
            start,
            index: 0,
            from: Duration::ZERO,
            to,
            end: start + to,
            tally: Tally::default(),
            parts: (0..parts).map(|_| Tally::default()).collect(),
            in_flight: 0,
            tx,
        }
    }

    /// Hands over every interval that has ended by `now`.
    fn roll(&mut self, now: Instant) {
        while now >= self.end {
            self.hand_over(self.to);
            self.from = self.to;
            self.to = self.plan.interval_end(self.from);
            self.end = self.start + self.to;
        }
    }

    fn hand_over(&mut self, to: Duration) {
        let part = Part {
            thread: self.thread,
            index: self.index,
            start: self.from,
            end: to,
            tally: std::mem::take(&mut self.tally),
            parts: self.parts.iter_mut().map(std::mem::take).collect(),
            in_flight: self.in_flight,
        };
        // The collector outlives the threads; a send fails only if it panicked.
        let _ = self.tx.send(Message::Part(Box::new(part)));
        self.index += 1;
    }

    /// A request of `part` sent (any part, for a single request: it has no part tallies).
    fn sent(&mut self, now: Instant, late: bool, part: usize) {
        self.roll(now);
        self.in_flight += 1;
        if late {
            self.tally.late += 1;
            if let Some(tally) = self.parts.get_mut(part) {
                tally.late += 1;
            }
        }
    }

    fn dropped(&mut self, now: Instant, part: usize) {
        self.roll(now);
        self.tally.dropped += 1;
        if let Some(tally) = self.parts.get_mut(part) {
            tally.dropped += 1;
        }
    }

    fn ended(
        &mut self,
        now: Instant,
        latency: Duration,
        outcome: Result<Sample, ErrorKind>,
        part: usize,
    ) {
        self.roll(now);
        self.in_flight -= 1;
        match outcome {
            Ok(sample) => {
                self.tally.sampled(latency, &sample);
                if let Some(tally) = self.parts.get_mut(part) {
                    tally.sampled(latency, &sample);
                }
            }
            Err(kind) => {
                self.tally.failed(kind);
                if let Some(tally) = self.parts.get_mut(part) {
                    tally.failed(kind);
                }
            }
        }
    }

    /// Hands over the interval cut short by the end of the run, and says so.
    fn finish(mut self, now: Instant) {
        self.roll(now);
        let to = now - self.start;
        if to > self.from || !self.tally.is_empty() {
            self.hand_over(to.max(self.from));
        }
        let _ = self.tx.send(Message::Done {
            thread: self.thread,
            unfinished: self.in_flight,
        });
    }
}
