//! `drdrill-probe`: drdrill's open-loop prober on its own, for benchmarks.
//!
//! It drives [`drdrill::traffic::Prober`] exactly as `drdrill run` does (same
//! config type, the prober on its own single-threaded runtime and thread, same
//! `probes.csv` and `acks.csv` written into `--out`) against one base URL for a fixed duration,
//! then prints one JSON object: requests sent/ok/failed, the achieved rate,
//! latency percentiles from the scheduled time, schedule-lag percentiles, late and
//! dropped sends (and whether they make the measurement degraded), and
//! optionally the resident-set size sampled over the run and the span of
//! delayed probes (for stall measurements). Not part of the `drdrill` CLI.

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use clap::{Parser, ValueEnum};
use drdrill::traffic::{
    ConnectionPolicy, Prober, RequestSpec, RunClock, TrafficConfig, TrafficOutcome, MAX_HANGING_PROBES, PROBES_FILE,
};
use hdrhistogram::Histogram;
use serde_json::{json, Value};

/// The allocator: returns freed memory to the system, so a long run's resident set stays
/// flat (glibc's per-thread arenas let it creep up on a flat heap).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Runs drdrill's open-loop prober against one URL and prints JSON figures.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Base URL, e.g. `http://127.0.0.1:8080` (loopback only in benchmarks).
    #[arg(long)]
    url: String,
    /// Requests per second (open loop).
    #[arg(long)]
    rate: f64,
    /// How long to send, e.g. `10s`.
    #[arg(long, value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Share of writes; 0 means one write, then reads of it.
    #[arg(long, default_value_t = 0.0)]
    write_ratio: f64,
    /// Per-request timeout [default: 2 s, or less where rate × timeout (the probes a
    /// hanging target holds) would pass the prober's bound, `MAX_HANGING_PROBES`]; the
    /// one used is in the output (`timeout_ms`).
    #[arg(long, value_parser = humantime::parse_duration)]
    timeout: Option<Duration>,
    /// Connection policy.
    #[arg(long, value_enum, default_value_t = Connection::KeepAlive)]
    connection: Connection,
    /// Longest reuse of a keep-alive client (keep-alive only).
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    max_age: Duration,
    /// Write request path (`{id}` is replaced by the write id).
    #[arg(long, default_value = drdrill_probe_contract::ITEM_PATH_TEMPLATE)]
    write_path: String,
    /// Write request body (`{id}` is replaced by the write id).
    #[arg(long, default_value = "drdrill write {id}")]
    body: String,
    /// Read request path (`{id}` is replaced by an acknowledged id).
    #[arg(long, default_value = drdrill_probe_contract::ITEM_PATH_TEMPLATE)]
    read_path: String,
    /// Reads only, like a plain load generator: every probe is a `GET` of the read path
    /// for this id, judged by its status alone (no writes, no body comparison, no acks).
    /// Needs `--write-ratio 0`.
    #[arg(long, value_name = "ID")]
    reads_only: Option<String>,
    /// Folder for `probes.csv` and `acks.csv`.
    #[arg(long)]
    out: PathBuf,
    /// Sample the resident-set size this often (Linux only).
    #[arg(long, value_parser = humantime::parse_duration)]
    rss_every: Option<Duration>,
    /// After the run, read `probes.csv` back and report the span of probes
    /// whose latency from the scheduled time exceeded this.
    #[arg(long, value_parser = humantime::parse_duration)]
    delayed_over: Option<Duration>,
}

/// `--connection` values.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Connection {
    /// A new TCP connection per request.
    Fresh,
    /// Pooled connections, each used for requests dispatched less than `--max-age` after
    /// it was opened.
    KeepAlive,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.duration.is_zero() {
        bail!("--duration must be greater than zero");
    }
    // The same runtime flavour as the `drdrill` binary (the prober brings its own thread).
    let runtime = tokio::runtime::Runtime::new().context("starting the Tokio runtime")?;
    let report = runtime.block_on(probe(&args))?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

/// 2 s, or the longest timeout (in whole ms) that keeps `rate × timeout` within
/// [`MAX_HANGING_PROBES`].
fn default_timeout(rate: f64) -> Duration {
    let bound_ms = if rate > 0.0 {
        (MAX_HANGING_PROBES as f64 * 1000.0 / rate).floor()
    } else {
        f64::MAX
    };
    Duration::from_millis(bound_ms.clamp(1.0, 2000.0) as u64)
}

/// Runs the prober for `args.duration` and gathers the figures.
async fn probe(args: &Args) -> anyhow::Result<Value> {
    let cfg = TrafficConfig {
        base_url: args.url.clone(),
        rate_per_sec: args.rate,
        write_ratio: args.write_ratio,
        timeout: args.timeout.unwrap_or_else(|| default_timeout(args.rate)),
        connection: match args.connection {
            Connection::Fresh => ConnectionPolicy::Fresh,
            Connection::KeepAlive => ConnectionPolicy::KeepAlive { max_age: args.max_age },
        },
        write: RequestSpec {
            method: "PUT".into(),
            path_template: args.write_path.clone(),
            body_template: Some(args.body.clone()),
        },
        read: RequestSpec {
            method: "GET".into(),
            path_template: args.read_path.clone(),
            body_template: None,
        },
        expect_status: None,
        reads_only_id: args.reads_only.clone(),
    };
    let timeout_ms = cfg.timeout.as_millis();
    let started = Instant::now();
    let handle = Prober::start(cfg, RunClock::start(), &args.out).context("starting the prober")?;
    let mut rss_samples = Vec::new();
    let end = started + args.duration;
    let sample_every = args.rss_every.filter(|e| !e.is_zero());
    if let Some(every) = sample_every {
        let mut next = started + every;
        while next < end {
            tokio::time::sleep_until(next.into()).await;
            rss_samples.push(json!({ "t_s": started.elapsed().as_secs_f64(), "rss_kib": rss_kib() }));
            next += every;
        }
    }
    tokio::time::sleep_until(end.into()).await;
    let stop_began = Instant::now();
    let outcome = handle.stop().await;
    let drain_s = stop_began.elapsed().as_secs_f64();
    if sample_every.is_some() {
        rss_samples.push(json!({ "t_s": started.elapsed().as_secs_f64(), "rss_kib": rss_kib() }));
    }
    let mut report = figures(args, &outcome, drain_s);
    if let Value::Object(map) = &mut report {
        map.insert("timeout_ms".into(), json!(timeout_ms));
        if !rss_samples.is_empty() {
            map.insert("rss_samples".into(), Value::Array(rss_samples));
            map.insert("vm_hwm_kib".into(), json!(status_kib("VmHWM:")));
        }
        if let Some(threshold) = args.delayed_over {
            let span = delayed_span(&args.out.join(PROBES_FILE), threshold)?;
            map.insert("delayed".into(), span);
        }
    }
    Ok(report)
}

/// The JSON figures of one run.
fn figures(args: &Args, outcome: &TrafficOutcome, drain_s: f64) -> Value {
    let seconds = args.duration.as_secs_f64();
    json!({
        "tool": "drdrill-probe",
        "target_rate": args.rate,
        "duration_s": seconds,
        "connection": format!("{:?}", args.connection),
        "write_ratio": args.write_ratio,
        "sent": outcome.probes.sent,
        "ok": outcome.probes.ok,
        "failed": outcome.probes.failed,
        "sent_rate": outcome.probes.sent as f64 / seconds,
        "ok_rate": outcome.probes.ok as f64 / seconds,
        "acked_writes": outcome.acks.len(),
        "peak_workers": outcome.peak_workers,
        "connections_opened": outcome.connections_opened,
        "connections_aged_out": outcome.connections_aged_out,
        "stop_drain_s": drain_s,
        "latency_ms": percentiles(&outcome.probes.latency),
        "schedule_lag_ms": percentiles(&outcome.probes.schedule_lag),
        "saturated": outcome.probes.saturated,
        "late_sends": outcome.probes.late_sends,
        "late_threshold_ms": outcome.probes.late_threshold.as_secs_f64() * 1000.0,
        "dropped_sends": outcome.dropped_sends,
        "max_in_flight": outcome.max_in_flight,
        "degraded": outcome.degraded(),
        "probes_written": outcome.probe_log.as_ref().map(|p| p.probes_written),
        "started_unix_ms": outcome.started_unix_ms,
        "stopped_unix_ms": outcome.stopped_unix_ms,
        "errors": outcome.errors.iter().map(ToString::to_string).collect::<Vec<_>>(),
    })
}

/// p50/p90/p99/p99.9/max of a µs histogram, in ms.
fn percentiles(h: &Histogram<u64>) -> Value {
    let ms = |us: u64| us as f64 / 1000.0;
    if h.is_empty() {
        return json!({ "count": 0 });
    }
    json!({
        "count": h.len(),
        "p50": ms(h.value_at_quantile(0.50)),
        "p90": ms(h.value_at_quantile(0.90)),
        "p99": ms(h.value_at_quantile(0.99)),
        "p999": ms(h.value_at_quantile(0.999)),
        "max": ms(h.max()),
    })
}

/// Scans `probes.csv` for the stall the probes saw. The most delayed probe is the
/// first one caught by the stall: it waited all of it, so its scheduled time marks
/// the start, its answer the end (the target answering again), its latency the
/// outage. Probes delayed by more than `threshold` that were scheduled during that
/// outage are counted, and the last of their answers shows how long the target
/// took to drain its backlog. (Two passes keep memory flat: no probe is kept.)
fn delayed_span(path: &Path, threshold: Duration) -> anyhow::Result<Value> {
    let threshold_us = i64::try_from(threshold.as_micros()).unwrap_or(i64::MAX);
    let mut worst: Option<ProbeTimes> = None;
    for_each_probe(path, |p| {
        if worst.is_none_or(|w| p.latency_us > w.latency_us) {
            worst = Some(p);
        }
    })?;
    let Some(worst) = worst.filter(|w| w.latency_us > threshold_us) else {
        return Ok(json!({ "threshold_ms": threshold.as_secs_f64() * 1000.0, "count": 0 }));
    };
    let (mut count, mut last_done_us) = (0u64, worst.done_us);
    for_each_probe(path, |p| {
        if p.latency_us > threshold_us && (worst.scheduled_us..=worst.done_us).contains(&p.scheduled_us) {
            count += 1;
            last_done_us = last_done_us.max(p.done_us);
        }
    })?;
    Ok(json!({
        "threshold_ms": threshold.as_secs_f64() * 1000.0,
        "count": count,
        "first_scheduled_unix_ms": worst.scheduled_us as f64 / 1000.0,
        "first_done_unix_ms": worst.done_us as f64 / 1000.0,
        "outage_ms": worst.latency_us as f64 / 1000.0,
        "last_done_unix_ms": last_done_us as f64 / 1000.0,
        "span_ms": (last_done_us - worst.scheduled_us) as f64 / 1000.0,
    }))
}

/// The times of one probe line.
#[derive(Debug, Clone, Copy)]
struct ProbeTimes {
    scheduled_us: i64,
    done_us: i64,
    latency_us: i64,
}

/// Calls `f` for every probe in `probes.csv`.
fn for_each_probe(path: &Path, mut f: impl FnMut(ProbeTimes)) -> anyhow::Result<()> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    for (index, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("reading {}", path.display()))?;
        if index == 0 {
            continue;
        }
        // seq,kind,id,scheduled_unix_us,sent_unix_us,done_unix_us,latency_us,...
        let fields: Vec<&str> = line.splitn(8, ',').collect();
        if fields.len() < 7 {
            bail!("{}:{}: not a probe line", path.display(), index + 1);
        }
        let number = |i: usize| -> anyhow::Result<i64> {
            fields[i]
                .parse()
                .with_context(|| format!("{}:{}: field {i}", path.display(), index + 1))
        };
        f(ProbeTimes {
            scheduled_us: number(3)?,
            done_us: number(5)?,
            latency_us: number(6)?,
        });
    }
    Ok(())
}

/// Current resident-set size in KiB (`None` where `/proc` is unavailable).
fn rss_kib() -> Option<u64> {
    status_kib("VmRSS:")
}

/// A `kB` field of `/proc/self/status`.
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line[field.len()..].trim().trim_end_matches("kB").trim().parse().ok()
}
