//! The raw probe log: every probe streamed to `probes.csv` (and every
//! acknowledged write to `acks.csv`) by one writer task.
//!
//! Probe tasks send records over an unbounded channel, so measuring never
//! waits on the disk. The writer, on a thread of its own, takes what the channel holds
//! every few milliseconds, buffers, flushes at least every
//! [`FLUSH_EVERY`], and on shutdown drains the channel and flushes before it
//! returns, so nothing measured is lost. `acks.csv` is the run's list of acknowledged
//! writes (verification reads it back); should the disk fail, the acks not known to be
//! on it are kept in memory and handed back instead. The channel closing (every sender
//! dropped) is the shutdown signal: the prober's workers each hold a
//! sender, so the writer finishing also means every probe has finished.
//!
//! The reader beside it ([`read`]) parses the lines back into the records they were
//! written from, for the report.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::io::{AsyncWriteExt, BufWriter};
use tokio::sync::{mpsc, oneshot};

use super::ledger::AckedWrite;
use super::probe::ProbeRecord;
use super::runtime::ThreadRuntime;
use super::timers::AheadTimers;
use super::TrafficError;

mod read;

pub use read::{tally_file, tally_text, visit_file, ReadError, TalliedLog};

/// File name of the raw probe log inside the output directory.
pub const PROBES_FILE: &str = "probes.csv";
/// File name of the acknowledged-writes log inside the output directory.
pub const ACKS_FILE: &str = "acks.csv";
/// Header line of `probes.csv`.
pub const PROBES_HEADER: &str =
    "seq,kind,id,scheduled_unix_us,sent_unix_us,done_unix_us,latency_us,status,outcome,served_by,error";
/// Header line of `acks.csv`.
pub const ACKS_HEADER: &str = "id,scheduled_unix_ms,acked_unix_ms,body";
/// Longest time a written record may sit in a buffer.
pub const FLUSH_EVERY: Duration = Duration::from_millis(200);

const BUFFER_BYTES: usize = 64 * 1024;

/// How often the writer takes what the channel holds (and how late it sees the last
/// entry of a run).
const DRAIN_EVERY: Duration = Duration::from_millis(5);

/// One line for one of the logs.
#[derive(Debug)]
pub(crate) enum LogEntry {
    /// A finished probe.
    Probe(ProbeRecord),
    /// An acknowledged write.
    Ack(AckedWrite),
}

/// Sending side of the log; cheap to clone, one per probe task.
#[derive(Debug, Clone)]
pub(crate) struct LogSender(mpsc::UnboundedSender<LogEntry>);

impl LogSender {
    /// Queues `entry`; silently dropped only if the writer task is gone
    /// (which happens only after every sender was dropped, i.e. never here).
    pub(crate) fn send(&self, entry: LogEntry) {
        let _ = self.0.send(entry);
    }
}

/// What the writer did, returned when it finishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeLogSummary {
    /// Path of `probes.csv`.
    pub probes_path: PathBuf,
    /// Path of `acks.csv`.
    pub acks_path: PathBuf,
    /// Probe lines written (excluding the header).
    pub probes_written: u64,
    /// Ack lines written (excluding the header).
    pub acks_written: u64,
}

/// The writer's result.
#[derive(Debug)]
pub(crate) struct WriterResult {
    /// What was written where.
    pub summary: ProbeLogSummary,
    /// The first write error, after which the writer stopped writing (but kept
    /// draining, so probes never block).
    pub error: Option<TrafficError>,
    /// After an error: every acknowledged write that may be missing from `acks.csv`
    /// (those since the last successful flush, and all later ones), kept so that
    /// verification still reads back every acknowledged write.
    pub unwritten_acks: Vec<AckedWrite>,
}

/// What the writer's thread hands back: its result, or why its task failed; the receiver
/// errs when the thread ended without either.
pub(crate) type WriterDone = oneshot::Receiver<Result<WriterResult, tokio::task::JoinError>>;

/// Creates `dir` and both log files (with headers) and starts the writer on a thread of
/// its own, so that its file writes (each a round trip to Tokio's blocking pool) never
/// wait for a turn among the probes, and the formatting runs beside them.
pub(crate) fn spawn(dir: &Path) -> Result<(LogSender, WriterDone), TrafficError> {
    std::fs::create_dir_all(dir).map_err(|source| TrafficError::Io {
        path: dir.to_owned(),
        source,
    })?;
    let probes_path = dir.join(PROBES_FILE);
    let acks_path = dir.join(ACKS_FILE);
    let probes = create_with_header(&probes_path, PROBES_HEADER)?;
    let acks = create_with_header(&acks_path, ACKS_HEADER)?;
    let (tx, rx) = mpsc::unbounded_channel();
    let writer = Writer {
        probes: LogFile::new(probes_path, probes),
        acks: LogFile::new(acks_path, acks),
        error: None,
        acks_since_flush: Vec::new(),
        unwritten_acks: Vec::new(),
    };
    let runtime = ThreadRuntime::new()?;
    let task = {
        let _entered = runtime.enter();
        tokio::spawn(writer.run(rx))
    };
    let done = runtime.run_until("drdrill-probe-log", task)?;
    Ok((LogSender(tx), done))
}

fn create_with_header(path: &Path, header: &str) -> Result<tokio::fs::File, TrafficError> {
    let io_error = |source| TrafficError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = std::fs::File::create(path).map_err(io_error)?;
    writeln!(file, "{header}").map_err(io_error)?;
    Ok(tokio::fs::File::from_std(file))
}

struct LogFile {
    path: PathBuf,
    out: BufWriter<tokio::fs::File>,
    lines: u64,
    dirty: bool,
}

impl LogFile {
    fn new(path: PathBuf, file: tokio::fs::File) -> Self {
        Self {
            path,
            out: BufWriter::with_capacity(BUFFER_BYTES, file),
            lines: 0,
            dirty: false,
        }
    }

    async fn write_line(&mut self, line: &str) -> Result<(), TrafficError> {
        self.out
            .write_all(line.as_bytes())
            .await
            .map_err(|source| self.io_error(source))?;
        self.lines += 1;
        self.dirty = true;
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), TrafficError> {
        if self.dirty {
            self.out.flush().await.map_err(|source| self.io_error(source))?;
            self.dirty = false;
        }
        Ok(())
    }

    fn io_error(&self, source: std::io::Error) -> TrafficError {
        TrafficError::Io {
            path: self.path.clone(),
            source,
        }
    }
}

struct Writer {
    probes: LogFile,
    acks: LogFile,
    error: Option<TrafficError>,
    /// Acks written since the last successful flush: not known to be on disk yet.
    acks_since_flush: Vec<AckedWrite>,
    unwritten_acks: Vec<AckedWrite>,
}

impl Writer {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<LogEntry>) -> WriterResult {
        // The writer looks at the channel on its own clock instead of being woken by every
        // entry: a wake-up from the prober's thread to this one per probe would cost more
        // than the probe.
        let mut timers = AheadTimers::new();
        let mut drain_at = Instant::now();
        let mut flushed = tokio::time::Instant::now();
        let mut line = String::new();
        loop {
            timers.until(drain_at, drain_at + DRAIN_EVERY).await;
            // On a fixed grid, or a period from now when this drain came late.
            let now = Instant::now();
            drain_at += DRAIN_EVERY;
            if drain_at < now {
                drain_at = now + DRAIN_EVERY;
            }
            let closed = loop {
                match rx.try_recv() {
                    Ok(entry) => self.write(entry, &mut line).await,
                    Err(mpsc::error::TryRecvError::Empty) => break false,
                    // Every sender is gone and all they sent is written.
                    Err(mpsc::error::TryRecvError::Disconnected) => break true,
                }
            };
            if closed {
                break;
            }
            if flushed.elapsed() >= FLUSH_EVERY {
                self.flush().await;
                flushed = tokio::time::Instant::now();
            }
        }
        self.flush().await;
        let summary = ProbeLogSummary {
            probes_path: self.probes.path,
            acks_path: self.acks.path,
            probes_written: self.probes.lines,
            acks_written: self.acks.lines,
        };
        WriterResult {
            summary,
            error: self.error,
            unwritten_acks: self.unwritten_acks,
        }
    }

    async fn write(&mut self, entry: LogEntry, line: &mut String) {
        if self.error.is_some() {
            if let LogEntry::Ack(ack) = entry {
                self.unwritten_acks.push(ack);
            }
            return;
        }
        line.clear();
        let result = match entry {
            LogEntry::Probe(record) => {
                format_probe(&record, line);
                self.probes.write_line(line).await
            }
            LogEntry::Ack(ack) => {
                format_ack(&ack, line);
                self.acks_since_flush.push(ack);
                self.acks.write_line(line).await
            }
        };
        if let Err(error) = result {
            tracing::error!(%error, "probe log write failed; further records are kept in memory or dropped");
            self.failed(error);
        }
    }

    /// Stops writing; the acks not known to be on disk are kept.
    fn failed(&mut self, error: TrafficError) {
        self.error = Some(error);
        self.unwritten_acks.append(&mut self.acks_since_flush);
    }

    async fn flush(&mut self) {
        if self.error.is_some() {
            return;
        }
        let result = match self.probes.flush().await {
            Ok(()) => self.acks.flush().await,
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => self.acks_since_flush.clear(),
            Err(error) => {
                tracing::error!(%error, "probe log flush failed; further records are kept in memory or dropped");
                self.failed(error);
            }
        }
    }
}

/// Appends the CSV line (with newline) for `record` to `line`.
pub(crate) fn format_probe(record: &ProbeRecord, line: &mut String) {
    let status = record.status.map(|s| s.to_string()).unwrap_or_default();
    // Writing to a String cannot fail.
    let _ = writeln!(
        line,
        "{},{},{},{},{},{},{},{},{},{},{}",
        record.seq,
        record.kind.as_str(),
        csv_field(&record.id),
        record.scheduled_unix_us,
        record.sent_unix_us,
        record.done_unix_us,
        record.latency_us,
        status,
        record.outcome.as_str(),
        csv_field(record.served_by.as_deref().unwrap_or("")),
        csv_field(record.error.as_deref().unwrap_or("")),
    );
}

/// Appends the CSV line (with newline) for `ack` to `line`.
pub(crate) fn format_ack(ack: &AckedWrite, line: &mut String) {
    let _ = writeln!(
        line,
        "{},{},{},{}",
        csv_field(&ack.id),
        ack.scheduled_unix_ms,
        ack.acked_unix_ms,
        csv_field(&ack.body),
    );
}

/// Quotes a field when it contains a separator, quote or line break (RFC 4180).
fn csv_field(value: &str) -> Cow<'_, str> {
    if value.contains([',', '"', '\n', '\r']) {
        Cow::Owned(format!("\"{}\"", value.replace('"', "\"\"")))
    } else {
        Cow::Borrowed(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// When the disk refuses the acks (`/dev/full`), every ack not known to be on disk
    /// is handed back, so verification still sees every acknowledged write.
    #[tokio::test]
    async fn acks_the_disk_refused_are_handed_back() {
        let dir = tempfile::tempdir().unwrap();
        let full = || tokio::fs::File::from_std(std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap());
        let writer = Writer {
            probes: LogFile::new(dir.path().join(PROBES_FILE), full()),
            acks: LogFile::new(dir.path().join(ACKS_FILE), full()),
            error: None,
            acks_since_flush: Vec::new(),
            unwritten_acks: Vec::new(),
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let acks: Vec<AckedWrite> = (0..3000)
            .map(|n| AckedWrite {
                id: format!("w-{n}"),
                body: "x".repeat(40),
                scheduled_unix_ms: n,
                acked_unix_ms: n + 1,
            })
            .collect();
        for ack in &acks {
            tx.send(LogEntry::Ack(ack.clone())).unwrap();
        }
        drop(tx);
        let result = writer.run(rx).await;
        assert!(result.error.is_some(), "the write to /dev/full failed");
        assert_eq!(result.unwritten_acks, acks);
    }

    #[test]
    fn quotes_only_when_needed() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
