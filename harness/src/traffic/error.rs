//! Errors raised while setting up or running the traffic module.

use std::path::PathBuf;

/// Why traffic could not be started, logged, or verified.
///
/// Probe failures (timeouts, 5xx, …) are *measurements*, never errors: they end
/// up in buckets and the probe log. This type is only for things that stop the
/// prober from doing its job.
#[derive(Debug, thiserror::Error)]
pub enum TrafficError {
    /// A field of [`TrafficConfig`](super::TrafficConfig) is unusable.
    #[error("invalid traffic config: {field}: {reason}")]
    InvalidConfig {
        /// The offending field, e.g. `rate_per_sec` or `write.method`.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// No resolver for the base URL's host could be built.
    #[error("could not build a DNS resolver for the prober")]
    Resolver(#[source] super::dns::DnsError),
    /// The prober's own runtime or thread could not be started.
    #[error("could not start the prober's thread")]
    Thread(#[source] std::io::Error),
    /// A thread of the prober (`drdrill-prober`, `drdrill-probe-log`) ended without
    /// handing back its results (it panicked).
    #[error("the {thread} thread ended without its results")]
    ThreadLost {
        /// The thread's name.
        thread: &'static str,
    },
    /// The output directory or a log file could not be created or written.
    #[error("I/O error on {path}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The list of acknowledged writes (`acks.csv`) could not be read back whole.
    #[error("acknowledged writes in {path}: {reason}")]
    AckLog {
        /// The ack log.
        path: PathBuf,
        /// What is wrong: the unreadable record with its line, or a count that differs.
        reason: String,
    },
    /// A background task of the prober panicked or was cancelled.
    #[error("traffic task {task} ended abnormally")]
    Task {
        /// Which task (`dispatcher`, `probe log writer`).
        task: &'static str,
        /// The join error.
        #[source]
        source: tokio::task::JoinError,
    },
}
