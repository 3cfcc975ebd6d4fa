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
//! schedule; closed-loop users likewise.
//!
//! # Recording
//!
//! Each thread records into one histogram of its own (and, for generations, one per
//! figure a generation measures besides its latency): no lock and no allocation per
//! request. At the end of every interval (a second, or less where a stage or the warmup
//! ends) it hands that interval's tally to the collector on the calling thread and starts
//! a new one; the collector merges the threads' parts into the timeline and adds them to
//! the stage and total figures. A request counts in the interval in which it ended.
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
//! was due is counted `late` (the generator could not keep up), and a request due when all
//! `max_in_flight` slots are busy is counted `dropped` and never sent: it is not quietly
//! sent later, which would bend the schedule into a closed loop.
//!
//! Each thread has one dispatch that waits for each due time on a timerfd (the `pace`
//! module) and hands the request to an idle slot, so an idle slot costs neither a
//! timer nor a file descriptor.
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
use std::io;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Sender};
use std::time::{Duration, Instant, SystemTime};

use futures_util::future::join_all;
use tokio::sync::Notify;

use super::limits;
use super::pace::Pacer;
use super::plan::{Model, Plan, PlanError};
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
}

/// Why a run did not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("invalid load: {0}")]
    Plan(#[from] PlanError),
    #[error("cannot start a load generator thread: {0}")]
    Thread(#[from] io::Error),
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
    run_watched(plan, threads, request, |_| {})
}

/// [`run`], calling `watch` with the run so far each time an interval closes (about once a
/// second), for a live display. It is called on the collecting thread, never on a
/// generator thread, so a slow `watch` delays the merging of figures, not a request.
pub fn run_watched<R: Request>(
    plan: &Plan,
    threads: NonZeroUsize,
    request: &R,
    mut watch: impl FnMut(&SoFar<'_>),
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
    let started = SystemTime::now();
    let start = Instant::now();
    let sent = AtomicU64::new(0);
    let finished = tokio::sync::Barrier::new(threads);
    let (tx, rx) = mpsc::channel();
    let mut collector = Collector::new(plan, threads);
    std::thread::scope(|scope| {
        let mut handles = Vec::with_capacity(threads);
        for thread in 0..threads {
            let generator = Generator {
                plan,
                request,
                thread,
                threads,
                workers,
                start,
                sent: &sent,
                finished: &finished,
            };
            let tx = tx.clone();
            handles.push(
                std::thread::Builder::new()
                    .name(format!("load-{thread}"))
                    .spawn_scoped(scope, move || generator.run(tx))?,
            );
        }
        drop(tx);
        for message in rx {
            let closed = collector.closed();
            collector.receive(message);
            if collector.closed() > closed {
                watch(&collector.so_far());
            }
        }
        handles
            .into_iter()
            .try_for_each(|h| h.join().expect("a load generator thread panicked"))
    })?;
    Ok(collector.finish(started, open_files))
}

/// One generator thread's share of the run.
struct Generator<'a, R> {
    plan: &'a Plan,
    request: &'a R,
    thread: usize,
    threads: usize,
    /// Slots or users in all, across threads.
    workers: usize,
    start: Instant,
    /// Closed loop: requests sent so far by every thread, for `max_requests`.
    sent: &'a AtomicU64,
    /// Every thread keeps its runtime running until all are done: a shared HTTP client
    /// may have put a connection's task on this thread's runtime.
    finished: &'a tokio::sync::Barrier,
}

impl<R: Request> Generator<'_, R> {
    fn run(self, tx: Sender<Message>) -> io::Result<()> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async {
            let recorder = RefCell::new(Recorder::new(self.plan, self.thread, self.start, tx));
            let limit = at(self.start + self.plan.time_limit);
            tokio::select! {
                () = self.work(&recorder) => {}
                () = tick(&recorder) => {}
                () = tokio::time::sleep_until(limit) => {}
            }
            recorder.into_inner().finish(Instant::now());
            self.finished.wait().await;
        });
        Ok(())
    }

    async fn work(&self, recorder: &RefCell<Recorder<'_>>) {
        match self.plan.model {
            Model::Open { arrival, .. } => {
                let due = self
                    .plan
                    .schedule(arrival)
                    .take(self.plan.max_requests.map_or(usize::MAX, |n| n as usize))
                    .skip(self.thread)
                    .step_by(self.threads);
                let slots = self.mine(self.workers).count();
                let handoff = Handoff {
                    due: RefCell::new(VecDeque::with_capacity(slots)),
                    idle: Cell::new(slots),
                    ready: Notify::new(),
                    over: Cell::new(false),
                };
                let slots = join_all((0..slots).map(|_| self.slot(&handoff, recorder)));
                tokio::join!(self.dispatch(due, &handoff, recorder), slots);
            }
            Model::Closed { think } => {
                let users = self
                    .mine(self.workers)
                    .map(|u| self.user(u as u64, think, recorder));
                join_all(users).await;
            }
        }
    }

    /// This thread's share of `n` workers: the k-th, (k+n)-th, ...
    fn mine(&self, n: usize) -> std::iter::StepBy<std::ops::Range<usize>> {
        (self.thread..n).step_by(self.threads)
    }

    /// Hands each due request to an idle slot at its time, or drops it when none is idle.
    async fn dispatch(
        &self,
        due: impl Iterator<Item = Duration>,
        handoff: &Handoff,
        recorder: &RefCell<Recorder<'_>>,
    ) {
        // Without a timerfd (no descriptor to spare), tokio's millisecond timer.
        let pacer = Pacer::new().ok();
        for offset in due {
            let when = self.start + offset;
            let paced = match &pacer {
                Some(pacer) => pacer.until(when).await.is_ok(),
                None => false,
            };
            if !paced {
                tokio::time::sleep_until(at(when)).await;
            }
            match handoff.idle.get() {
                0 => recorder.borrow_mut().dropped(Instant::now()),
                idle => {
                    handoff.idle.set(idle - 1);
                    handoff.due.borrow_mut().push_back(when);
                    handoff.ready.notify_one();
                }
            }
        }
        handoff.over.set(true);
        handoff.ready.notify_waiters();
    }

    /// An open-loop slot: sends the requests handed to it and records each from its due
    /// time, until the dispatch is over.
    async fn slot(&self, handoff: &Handoff, recorder: &RefCell<Recorder<'_>>) {
        let mut worker = self.request.worker();
        loop {
            let when = loop {
                // Registered before looking, so a notice sent in between is not missed.
                let notified = handoff.ready.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if let Some(when) = handoff.due.borrow_mut().pop_front() {
                    break when;
                }
                if handoff.over.get() {
                    return;
                }
                notified.await;
            };
            let sent = Instant::now();
            recorder.borrow_mut().sent(sent, sent > when + SLACK);
            let outcome = self.send(&mut worker).await;
            let end = Instant::now();
            recorder.borrow_mut().ended(end, end - when, outcome);
            handoff.idle.set(handoff.idle.get() + 1);
        }
    }

    /// A closed-loop user: while the plan counts it in, sends a request, waits for the
    /// answer, thinks, and again.
    async fn user(&self, user: u64, think: Duration, recorder: &RefCell<Recorder<'_>>) {
        let mut worker = self.request.worker();
        loop {
            let elapsed = self.start.elapsed();
            if self.plan.users_at(elapsed) <= user {
                match self.plan.next_active(user, elapsed) {
                    None => return,
                    Some(then) if then > elapsed => {
                        tokio::time::sleep_until(at(self.start + then)).await;
                        continue;
                    }
                    // Active now, to within rounding of where a ramp crosses.
                    Some(_) => {}
                }
            }
            if let Some(max) = self.plan.max_requests
                && self.sent.fetch_add(1, Ordering::Relaxed) >= max
            {
                return;
            }
            let sent = Instant::now();
            recorder.borrow_mut().sent(sent, false);
            let outcome = self.send(&mut worker).await;
            let end = Instant::now();
            let refused = matches!(outcome, Err(ErrorKind::Connect | ErrorKind::Exhausted(_)));
            recorder.borrow_mut().ended(end, end - sent, outcome);
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

    async fn send(&self, worker: &mut R::Worker) -> Result<Sample, ErrorKind> {
        tokio::time::timeout(self.plan.timeout, self.request.send(worker))
            .await
            .unwrap_or(Err(ErrorKind::Timeout))
    }
}

/// Ends intervals on time when no request ends to do it.
async fn tick(recorder: &RefCell<Recorder<'_>>) {
    loop {
        let end = recorder.borrow().end;
        tokio::time::sleep_until(at(end)).await;
        recorder.borrow_mut().roll(Instant::now());
    }
}

fn at(instant: Instant) -> tokio::time::Instant {
    tokio::time::Instant::from_std(instant)
}

/// An open loop's due requests on their way from the dispatch to the slots of a thread.
struct Handoff {
    /// Handed over, not yet taken: at most one per idle slot.
    due: RefCell<VecDeque<Instant>>,
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
    in_flight: u64,
    tx: Sender<Message>,
}

impl<'a> Recorder<'a> {
    fn new(plan: &'a Plan, thread: usize, start: Instant, tx: Sender<Message>) -> Recorder<'a> {
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
            in_flight: self.in_flight,
        };
        // The collector outlives the threads; a send fails only if it panicked.
        let _ = self.tx.send(Message::Part(part));
        self.index += 1;
    }

    fn sent(&mut self, now: Instant, late: bool) {
        self.roll(now);
        self.in_flight += 1;
        self.tally.late += u64::from(late);
    }

    fn dropped(&mut self, now: Instant) {
        self.roll(now);
        self.tally.dropped += 1;
    }

    fn ended(&mut self, now: Instant, latency: Duration, outcome: Result<Sample, ErrorKind>) {
        self.roll(now);
        self.in_flight -= 1;
        match outcome {
            Ok(sample) => self.tally.sampled(latency, &sample),
            Err(kind) => self.tally.failed(kind),
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
