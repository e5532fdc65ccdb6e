//! The open-loop prober: one dispatcher task sends each request at its
//! scheduled time and never waits for earlier ones.
//!
//! Request `k` is due at `start + k / rate`. The dispatcher sleeps until the
//! next due time (Tokio timers, ~1 ms resolution), then queues every request
//! that is due by now — one per wake at low rates, a batch above ~1000/s — for the
//! workers (see the `workers` module), which send each with the configured timeout and
//! stamp its send time, so its record carries its schedule lag (actual send −
//! scheduled), which the live tally counts. Latency is measured from the *scheduled*
//! time, so a stalled target shows up as latency and failures instead of silently
//! slowing the schedule (no coordinated omission).
//!
//! The prober runs on its own thread, in a single-threaded Tokio runtime: no other work
//! of the process delays its schedule, and no probe pays for waking another worker
//! thread (see `bench/README.md`). Its handle is used from any runtime.
//!
//! Overload honesty: a probe sent more than [`late_threshold`] after its scheduled
//! time counts as *late*, and a due probe is *dropped* (not sent, counted) when
//! [`max_in_flight`] probes are still queued or running — which cannot happen
//! while probes end within their timeout, only when the machine cannot keep up.
//! [`TrafficOutcome::degraded`] says when either makes the measurement untrustworthy.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tokio_util::sync::{CancellationToken, DropGuard};

use super::client::{HttpClient, HttpRequest, HttpResult};
use super::config::StatusExpectation;
use super::dns::DnsResolver;
use super::ledger::{AckLedger, AckList, AckedWrite};
use super::live::LiveStats;
use super::mix::{Mix, PickRng};
use super::outcome::{late_threshold, max_in_flight, TrafficOutcome};
use super::probe::{FailureKind, ProbeKind, ProbeOutcome, ProbeRecord};
use super::probe_log::{self, LogEntry, LogSender};
use super::runtime::ThreadRuntime;
use super::schedule::Schedule;
use super::timers::AheadTimers;
use super::workers::WorkQueue;
use super::{RequestSpec, RunClock, TrafficConfig, TrafficError};

/// Starts open-loop traffic; see [`Prober::start`].
#[derive(Debug)]
pub struct Prober;

impl Prober {
    /// Validates `cfg`, creates `out_dir` with `probes.csv` and `acks.csv`,
    /// and starts sending immediately, on the prober's own thread. All times are
    /// reported as unix ms/µs through `clock`. Names are resolved with the system
    /// configuration; see [`Prober::start_resolving`].
    pub fn start(cfg: TrafficConfig, clock: RunClock, out_dir: &Path) -> Result<ProberHandle, TrafficError> {
        Self::start_resolving(cfg, None, clock, out_dir)
    }

    /// [`Prober::start`], resolving the base URL's host with `dns` when given, for every
    /// new connection (one cache for the run). Its lookups run on the prober's thread, so
    /// give the prober a resolver of its own: one that other code goes on using after the
    /// prober stopped may have lost its connections with the prober's runtime.
    pub fn start_resolving(
        cfg: TrafficConfig,
        dns: Option<DnsResolver>,
        clock: RunClock,
        out_dir: &Path,
    ) -> Result<ProberHandle, TrafficError> {
        cfg.validate()?;
        let runtime = ThreadRuntime::new()?;
        // Workers and connection tasks are spawned onto the prober's runtime.
        let entered = runtime.enter();
        let write_method = cfg.write.parsed_method("write.method")?;
        let read_method = cfg.read.parsed_method("read.method")?;
        let cap = max_in_flight(cfg.rate_per_sec, cfg.timeout);
        // At most one connection per probe in flight.
        let client = HttpClient::new(&cfg.base_url, dns, cfg.connection, cap)?;
        let (log, writer) = probe_log::spawn(out_dir)?;

        let random = uuid::Uuid::new_v4().as_u128();
        let run_prefix = format!("{:08x}", (random >> 96) as u32);
        let schedule = Schedule::new(Instant::now(), cfg.rate_per_sec);
        let late_after = late_threshold(cfg.rate_per_sec);
        let live = LiveStats::new(schedule, clock, late_after);
        let ledger = Arc::new(AckLedger::new());
        let shared = Arc::new(ProbeContext {
            in_flight: AtomicUsize::new(0),
            client,
            write_method,
            read_method,
            write: cfg.write.clone(),
            read: cfg.read.clone(),
            timeout: cfg.timeout,
            expect: StatusExpectation::new(cfg.expect_status.as_deref()),
            reads_only_id: cfg.reads_only_id.clone(),
            clock,
            ledger: Arc::clone(&ledger),
            live: live.clone(),
        });
        let queue = Arc::new(WorkQueue::new(cap));
        let counted = (Arc::clone(&shared), Arc::clone(&queue));
        let dispatcher = Dispatcher {
            schedule,
            mix: Mix::new(cfg.write_ratio),
            rng: PickRng::new(random as u64),
            run_prefix: run_prefix.clone(),
            max_in_flight: cap,
            late_after,
            queue: Arc::clone(&queue),
            dropped: 0,
            log,
            shared,
        };
        let cancel = CancellationToken::new();
        let dispatcher = tokio::spawn(dispatcher.run(cancel.clone()));
        drop(entered);
        // The thread runs until the dispatcher stopped and every probe and log line is done.
        #[cfg(feature = "test-hooks")]
        let runtime_handle = runtime.handle.clone();
        let finished = runtime.run_until("drdrill-prober", finish(dispatcher, writer, counted))?;
        Ok(ProberHandle {
            started_unix_ms: clock.unix_ms(schedule.start()),
            run_prefix,
            live,
            ledger,
            stop_on_drop: cancel.clone().drop_guard(),
            cancel,
            finished,
            #[cfg(feature = "test-hooks")]
            runtime: runtime_handle,
        })
    }
}

/// Waits for the dispatcher and the log writer, then counts what the workers and their
/// connections did: every worker held a log sender, so with the writer done they have all
/// ended.
async fn finish(
    dispatcher: tokio::task::JoinHandle<DispatchSummary>,
    writer: probe_log::WriterDone,
    (ctx, queue): (Arc<ProbeContext>, Arc<WorkQueue<ProbeJob>>),
) -> Finished {
    let dispatched = dispatcher.await;
    let written = writer.await.ok();
    let activity = Activity {
        peak_workers: queue.peak_workers(),
        connections_opened: ctx.client.connections_opened(),
        connections_aged_out: ctx.client.connections_aged_out(),
    };
    Finished {
        dispatched,
        written,
        activity,
    }
}

/// What the prober's thread hands back when it ends.
#[derive(Debug)]
struct Finished {
    /// The dispatcher's summary.
    dispatched: Result<DispatchSummary, tokio::task::JoinError>,
    /// The log writer's result (`None` when its thread ended without one).
    written: Option<Result<probe_log::WriterResult, tokio::task::JoinError>>,
    /// What the workers and their connections did.
    activity: Activity,
}

/// The workers' and connections' counts, taken once every worker ended.
#[derive(Debug, Default)]
struct Activity {
    peak_workers: usize,
    connections_opened: u64,
    connections_aged_out: u64,
}

/// A running prober. Dropping it stops the schedule (in-flight probes still
/// finish and are logged); call [`ProberHandle::stop`] to collect results.
#[derive(Debug)]
pub struct ProberHandle {
    started_unix_ms: i64,
    run_prefix: String,
    live: LiveStats,
    ledger: Arc<AckLedger>,
    cancel: CancellationToken,
    stop_on_drop: DropGuard,
    finished: oneshot::Receiver<Finished>,
    /// The prober's runtime, for the test hooks.
    #[cfg(feature = "test-hooks")]
    runtime: tokio::runtime::Handle,
}

impl ProberHandle {
    /// The live counters, for the runner to watch while the drill goes on.
    pub fn live(&self) -> LiveStats {
        self.live.clone()
    }

    /// Scheduled time of the first probe (unix ms).
    pub fn started_unix_ms(&self) -> i64 {
        self.started_unix_ms
    }

    /// The prefix of every write id of this run.
    pub fn run_prefix(&self) -> &str {
        &self.run_prefix
    }

    /// Test hook: blocks the prober's only thread for `duration`, as a starved machine
    /// would (nothing of the prober runs meanwhile); the returned task ends with the stall.
    #[cfg(feature = "test-hooks")]
    pub fn stall_for(&self, duration: Duration) -> tokio::task::JoinHandle<()> {
        self.runtime.spawn(async move { std::thread::sleep(duration) })
    }

    /// Writes acknowledged so far.
    pub fn acked_count(&self) -> usize {
        self.ledger.len()
    }

    /// Stops the schedule, waits for in-flight probes (each bounded by the
    /// timeout), drains and flushes the logs, and returns the results.
    pub async fn stop(self) -> TrafficOutcome {
        let ProberHandle {
            started_unix_ms,
            run_prefix,
            live,
            ledger,
            cancel,
            stop_on_drop,
            finished,
            ..
        } = self;
        cancel.cancel();
        drop(stop_on_drop);
        let mut errors = Vec::new();
        let (dispatched, written, activity) = match finished.await {
            Ok(Finished {
                dispatched,
                written,
                activity,
            }) => {
                if written.is_none() {
                    errors.push(TrafficError::ThreadLost {
                        thread: "drdrill-probe-log",
                    });
                }
                (Some(dispatched), written, activity)
            }
            Err(_) => {
                errors.push(TrafficError::ThreadLost {
                    thread: "drdrill-prober",
                });
                (None, None, Activity::default())
            }
        };
        let dispatch = dispatched.unwrap_or(Ok(DispatchSummary::lost()));
        let dispatch = dispatch.unwrap_or_else(|source| {
            errors.push(TrafficError::Task {
                task: "dispatcher",
                source,
            });
            DispatchSummary::lost()
        });
        // Every probe task holds a log sender: the writer ends after the last probe.
        let mut unwritten_acks = Vec::new();
        let probe_log = match written {
            Some(Ok(written)) => {
                errors.extend(written.error);
                unwritten_acks = written.unwritten_acks;
                Some(written.summary)
            }
            Some(Err(source)) => {
                errors.push(TrafficError::Task {
                    task: "probe log writer",
                    source,
                });
                None
            }
            None => None,
        };
        // The live tally, closed: the same fold a report makes of the probe log.
        let probes = live.finish();
        TrafficOutcome {
            started_unix_ms,
            stopped_unix_ms: dispatch.stopped_unix_ms.unwrap_or(started_unix_ms),
            dropped_sends: dispatch.dropped,
            max_in_flight: dispatch.max_in_flight,
            acks: AckList::new(
                probe_log.as_ref().map(|p| p.acks_path.clone()),
                unwritten_acks,
                ledger.len(),
            ),
            probes,
            peak_workers: activity.peak_workers,
            connections_opened: activity.connections_opened,
            connections_aged_out: activity.connections_aged_out,
            run_prefix,
            probe_log,
            errors,
        }
    }
}

/// What every probe task needs, shared.
#[derive(Debug)]
struct ProbeContext {
    /// Probes dispatched and not finished.
    in_flight: AtomicUsize,
    client: HttpClient,
    write_method: hyper::Method,
    read_method: hyper::Method,
    write: RequestSpec,
    read: RequestSpec,
    timeout: Duration,
    expect: StatusExpectation,
    /// Status-only reads of this id, nothing else (see [`TrafficConfig::reads_only_id`]).
    reads_only_id: Option<String>,
    clock: RunClock,
    ledger: Arc<AckLedger>,
    live: LiveStats,
}

/// What the dispatcher reports when it ends.
#[derive(Debug)]
struct DispatchSummary {
    stopped_unix_ms: Option<i64>,
    dropped: u64,
    max_in_flight: usize,
}

impl DispatchSummary {
    /// Stand-in when the dispatcher task crashed.
    fn lost() -> Self {
        Self {
            stopped_unix_ms: None,
            dropped: 0,
            max_in_flight: 0,
        }
    }
}

struct Dispatcher {
    schedule: Schedule,
    mix: Mix,
    rng: PickRng,
    run_prefix: String,
    max_in_flight: usize,
    /// Dispatch lag beyond which a probe is late (and no worker is started for it).
    late_after: Duration,
    queue: Arc<WorkQueue<ProbeJob>>,
    dropped: u64,
    log: LogSender,
    shared: Arc<ProbeContext>,
}

/// How long a worker waits for a probe before it ends.
const WORKER_IDLE: Duration = Duration::from_secs(1);

/// One probe, decided by the dispatcher.
struct ProbeJob {
    seq: u64,
    kind: ProbeKind,
    id: String,
    /// Body to send.
    body: Option<String>,
    /// For reads: the body the server must return.
    expected_body: Option<String>,
    scheduled: Instant,
}

impl Dispatcher {
    async fn run(mut self, cancel: CancellationToken) -> DispatchSummary {
        let mut next = 0u64;
        let mut timers = AheadTimers::new();
        'schedule: loop {
            let wait = timers.until(self.schedule.at(next), self.schedule.at(next + 1));
            tokio::select! {
                biased;
                () = cancel.cancelled() => break 'schedule,
                () = wait => {}
            }
            // Send everything due by now (a batch at high rates or after a stall).
            loop {
                let scheduled = self.schedule.at(next);
                let now = Instant::now();
                if scheduled > now {
                    break;
                }
                if cancel.is_cancelled() {
                    break 'schedule;
                }
                self.dispatch(next, scheduled, now);
                next += 1;
            }
        }
        // Workers end once the queue is empty.
        self.queue.close();
        let clock = self.shared.clock;
        DispatchSummary {
            stopped_unix_ms: Some(clock.now_unix_ms()),
            dropped: self.dropped,
            max_in_flight: self.max_in_flight,
        }
    }

    fn dispatch(&mut self, seq: u64, scheduled: Instant, now: Instant) {
        if self.shared.in_flight.load(Ordering::Relaxed) >= self.max_in_flight {
            self.dropped += 1;
            self.shared.live.record_dropped(seq);
            return;
        }
        self.shared.in_flight.fetch_add(1, Ordering::Relaxed);
        let job = self.decide(seq, scheduled);
        self.shared.live.record_sent(self.shared.clock.unix_ms(scheduled));
        // Behind schedule, the machine is the bottleneck: more workers would only share it.
        let on_time = now.saturating_duration_since(scheduled) <= self.late_after;
        let room = if on_time {
            self.shared.client.connections_free()
        } else {
            0
        };
        for _ in 0..self.queue.push(job, room) {
            tokio::spawn(work(
                Arc::clone(&self.shared),
                Arc::clone(&self.queue),
                self.log.clone(),
            ));
        }
    }

    /// Write or read, which id, which body.
    fn decide(&mut self, seq: u64, scheduled: Instant) -> ProbeJob {
        if let Some(id) = &self.shared.reads_only_id {
            return ProbeJob {
                seq,
                kind: ProbeKind::Read,
                body: self.shared.read.render_body(id),
                id: id.clone(),
                expected_body: None,
                scheduled,
            };
        }
        let read_target = match self.mix.next_kind() {
            ProbeKind::Write => None,
            // No acknowledged write yet: there is nothing to read, write instead.
            ProbeKind::Read => self.shared.ledger.pick(&mut self.rng),
        };
        match read_target {
            Some(acked) => ProbeJob {
                seq,
                kind: ProbeKind::Read,
                body: self.shared.read.render_body(&acked.id),
                id: acked.id,
                expected_body: Some(acked.body),
                scheduled,
            },
            None => {
                let id = format!("{}-{seq}", self.run_prefix);
                ProbeJob {
                    seq,
                    kind: ProbeKind::Write,
                    body: self.shared.write.render_body(&id),
                    id,
                    expected_body: None,
                    scheduled,
                }
            }
        }
    }
}

/// A worker: sends probes from the queue, one at a time, until none comes for
/// [`WORKER_IDLE`] or the queue closes.
async fn work(ctx: Arc<ProbeContext>, queue: Arc<WorkQueue<ProbeJob>>, log: LogSender) {
    queue.started();
    while let Some(job) = queue.next(WORKER_IDLE).await {
        run_probe(&ctx, &log, job).await;
    }
}

/// Sends one probe, then records it everywhere: live counters, ledger, log.
async fn run_probe(ctx: &Arc<ProbeContext>, log: &LogSender, job: ProbeJob) {
    let _slot = InFlightSlot(Arc::clone(ctx));
    let (spec, method) = match job.kind {
        ProbeKind::Write => (&ctx.write, &ctx.write_method),
        ProbeKind::Read => (&ctx.read, &ctx.read_method),
    };
    let path = spec.render_path(&job.id);
    // Sent now: a probe that waited for a worker shows the wait as schedule lag.
    let sent = Instant::now();
    let request = HttpRequest {
        method: method.clone(),
        path: &path,
        body: job.body.clone().map(bytes::Bytes::from),
    };
    let expected = job.expected_body.as_deref().map(str::as_bytes);
    let result = ctx.client.send(request, expected, sent, ctx.timeout).await;
    let done = Instant::now();
    // A 404 read-back is a lost write only when the read follows a write of the run.
    let read_back = job.kind == ProbeKind::Read && ctx.reads_only_id.is_none();
    let evaluated = evaluate(result, &ctx.expect, read_back);

    let clock = ctx.clock;
    let scheduled_unix_us = clock.unix_us(job.scheduled);
    let done_unix_us = clock.unix_us(done);
    let latency_us = u64::try_from(done.saturating_duration_since(job.scheduled).as_micros()).unwrap_or(u64::MAX);
    let acked = job.kind == ProbeKind::Write
        && evaluated.outcome.is_ok()
        && evaluated.status.is_some_and(|s| (200..300).contains(&s));
    if acked {
        let ack = AckedWrite {
            id: job.id.clone(),
            body: job.body.clone().unwrap_or_default(),
            scheduled_unix_ms: scheduled_unix_us.div_euclid(1000),
            acked_unix_ms: done_unix_us.div_euclid(1000),
        };
        ctx.ledger.record(&ack);
        log.send(LogEntry::Ack(ack));
    }
    let record = ProbeRecord {
        seq: job.seq,
        kind: job.kind,
        id: job.id,
        scheduled_unix_us,
        sent_unix_us: clock.unix_us(sent),
        done_unix_us,
        latency_us,
        status: evaluated.status,
        outcome: evaluated.outcome,
        served_by: evaluated.served_by,
        error: evaluated.error,
    };
    ctx.live.record_done(&record);
    log.send(LogEntry::Probe(record));
}

/// Counts one probe out of `in_flight` when dropped, however its task ends.
struct InFlightSlot(Arc<ProbeContext>);

impl Drop for InFlightSlot {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A response judged against the probe contract.
struct Evaluated {
    outcome: ProbeOutcome,
    status: Option<u16>,
    served_by: Option<String>,
    error: Option<String>,
}

/// Judges `result`; `read_back` says the request read an acknowledged write back, so a
/// 404 means the write is missing (served, see [`ProbeOutcome::Missing`]).
fn evaluate(result: HttpResult, expect: &StatusExpectation, read_back: bool) -> Evaluated {
    match result {
        HttpResult::Response {
            status,
            served_by,
            body_matches,
        } => {
            let outcome = if read_back && status == 404 && !expect.accepts(status) {
                ProbeOutcome::Missing
            } else if !expect.accepts(status) {
                ProbeOutcome::Failed(if (500..600).contains(&status) {
                    FailureKind::Status5xx
                } else {
                    FailureKind::StatusOther
                })
            } else if body_matches == Some(false) {
                ProbeOutcome::Failed(FailureKind::BodyMismatch)
            } else {
                ProbeOutcome::Ok
            };
            Evaluated {
                outcome,
                status: Some(status),
                served_by,
                error: None,
            }
        }
        HttpResult::Failed {
            kind,
            message,
            served_by,
            status,
        } => Evaluated {
            outcome: ProbeOutcome::Failed(kind),
            status,
            served_by,
            error: Some(message),
        },
    }
}
