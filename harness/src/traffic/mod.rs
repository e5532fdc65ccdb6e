//! Open-loop synthetic traffic through the load balancer.
//!
//! - [`Prober::start`] sends requests on a fixed schedule (request `k` at
//!   `start + k / rate`) whether or not earlier ones returned; latency is
//!   measured from the scheduled time and schedule lag is recorded, so
//!   nothing is hidden by coordinated omission.
//! - Writes carry unique ids (`<run prefix>-<seq>`); every acknowledged one
//!   is counted by the [`AckLedger`] and logged to `acks.csv`; reads fetch a
//!   random id from a bounded uniform sample of them and check the body; the
//!   verify phase streams the whole list back from disk ([`AckList`]).
//! - Counters live in 10 ms [`Bucket`]s keyed by scheduled time, latency in
//!   bounded 100 ms [`LatencySummary`]s; every probe is streamed to
//!   `probes.csv` (and every ack to `acks.csv`), so memory stays bounded.
//! - DNS is resolved with hickory honouring TTLs (optionally through one
//!   [`DnsResolver`] pointed at a chosen server), and the connection policy
//!   ([`ConnectionPolicy`]) is explicit: see the `client` module docs.
//! - [`verify_writes`] reads every acknowledged write back after recovery.
//! - A report's probe figures come from `probes.csv` read back beside its writer
//!   ([`tally_file`]) and folded by one [`ProbeTally`] into a [`ProbeSummary`], for a
//!   live report and a rebuilt one alike; [`TrafficOutcome`] is what the prober hands
//!   back when stopped.

mod buckets;
mod client;
mod clock;
mod config;
mod dns;
mod error;
mod latency;
mod ledger;
mod live;
mod mix;
mod outcome;
mod pool;
mod probe;
mod probe_log;
mod prober;
mod runtime;
mod schedule;
mod settle;
mod tally;
mod timers;
mod verify;
mod wire;
mod workers;

pub use buckets::{Bucket, FailureCounts, ServedByIntervals, WindowStats, BUCKET_MS, SERVED_MS};
pub use clock::RunClock;
pub use config::{ConnectionPolicy, RequestSpec, TrafficConfig};
pub use dns::{DnsError, DnsResolver, Nameserver, QUERY_TIMEOUT};
pub use error::TrafficError;
pub use latency::{new_latency_histogram, LatencySummary, INTERVAL_MS, LATENCY_MAX_US, LATENCY_MIN_US, LATENCY_SIGFIG};
pub use ledger::{AckLedger, AckList, AckReader, AckedWrite, READ_SAMPLE};
pub use live::LiveStats;
pub use outcome::{
    degraded_reason, hanging_probes, late_threshold, max_in_flight, TrafficOutcome, IN_FLIGHT_CEILING, LATE_FLOOR,
    MAX_HANGING_PROBES, MAX_LATE_SHARE,
};
pub use probe::{FailureKind, ProbeKind, ProbeOutcome, ProbeRecord, ServedBy};
pub use probe_log::{
    tally_file, tally_text, visit_file as visit_probe_log, ProbeLogSummary, ReadError as ProbeLogReadError, TalliedLog,
    ACKS_FILE, ACKS_HEADER, FLUSH_EVERY, PROBES_FILE, PROBES_HEADER,
};
pub use prober::{Prober, ProberHandle};
pub use tally::{ProbeSummary, ProbeTally};
pub use verify::{verify_writes, verify_writes_resolving, VerifyOutcome, VERIFY_CONCURRENCY};
