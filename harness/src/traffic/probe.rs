//! What one probe is and how it ended: kinds, outcomes, failure classes and
//! the record written to the raw probe log.

use std::fmt;

/// Whether a probe wrote a new record or read back an acknowledged one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProbeKind {
    /// A write of a fresh, unique id.
    Write,
    /// A read-back of a previously acknowledged write, checking its body.
    Read,
}

impl ProbeKind {
    /// `write` or `read`, as in the probe log.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Write => "write",
            Self::Read => "read",
        }
    }

    /// The kind named `name` in the probe log, if any.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Write, Self::Read].into_iter().find(|k| k.as_str() == name)
    }
}

/// Why a probe failed (see docs/design.md, "Probes": a probe fails when it
/// errors, times out, or its status/body check fails).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureKind {
    /// The TCP connection could not be established (refused, unreachable, DNS).
    Connect,
    /// No complete response before the timeout.
    Timeout,
    /// A 5xx status that was not expected.
    Status5xx,
    /// Any other unexpected status (e.g. 404 on a read-back).
    StatusOther,
    /// A read-back returned an expected status but not the written body.
    BodyMismatch,
    /// Anything else: connection reset mid-request, malformed response, …
    Other,
}

impl FailureKind {
    /// The name used in the probe log's `outcome` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connect => "connect",
            Self::Timeout => "timeout",
            Self::Status5xx => "status_5xx",
            Self::StatusOther => "status_other",
            Self::BodyMismatch => "body_mismatch",
            Self::Other => "other",
        }
    }

    /// Every kind, in the order of the probe log's failure columns.
    pub const ALL: [FailureKind; 6] = [
        Self::Connect,
        Self::Timeout,
        Self::Status5xx,
        Self::StatusOther,
        Self::BodyMismatch,
        Self::Other,
    ];
}

/// How a probe ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProbeOutcome {
    /// Expected status and, for reads, the written body.
    Ok,
    /// A read of an acknowledged write answered 404: the service served the request,
    /// the data is gone. Counts as served for availability (RTO); the loss itself is
    /// established by verification.
    Missing,
    /// The probe failed.
    Failed(FailureKind),
}

impl ProbeOutcome {
    /// Whether the probe succeeded.
    pub fn is_ok(self) -> bool {
        matches!(self, Self::Ok | Self::Missing)
    }

    /// `ok`, or the failure kind's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Missing => "missing",
            Self::Failed(kind) => kind.as_str(),
        }
    }

    /// The outcome named `name` in the probe log's `outcome` column, if any.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "ok" => Some(Self::Ok),
            "missing" => Some(Self::Missing),
            _ => FailureKind::ALL
                .into_iter()
                .find(|k| k.as_str() == name)
                .map(Self::Failed),
        }
    }
}

impl fmt::Display for ProbeOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One finished probe, as streamed to `probes.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeRecord {
    /// Position in the schedule (0-based).
    pub seq: u64,
    /// Write or read.
    pub kind: ProbeKind,
    /// The record id written or read.
    pub id: String,
    /// When the schedule said to send it.
    pub scheduled_unix_us: i64,
    /// When the dispatcher actually sent it.
    pub sent_unix_us: i64,
    /// When it completed, failed or timed out.
    pub done_unix_us: i64,
    /// `done − scheduled`: latency from the scheduled time (no coordinated omission).
    pub latency_us: u64,
    /// HTTP status, when a response arrived.
    pub status: Option<u16>,
    /// How it ended.
    pub outcome: ProbeOutcome,
    /// The `served-by` response header, when present.
    pub served_by: Option<String>,
    /// Error text for failures without a useful status.
    pub error: Option<String>,
}

/// A parsed `served-by` header: `instance-id/az/region`, as the probe contract defines it.
pub use drdrill_probe_contract::ServedBy;
