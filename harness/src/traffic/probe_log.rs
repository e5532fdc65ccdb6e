//! The raw probe log: every probe streamed to `probes.csv` (and every
//! acknowledged write to `acks.csv`) by one writer task.
//!
//! Probe tasks send records over an unbounded channel, so measuring never
//! waits on the disk. The writer buffers, flushes at least every
//! [`FLUSH_EVERY`], and on shutdown drains the channel and flushes before it
//! returns, so nothing measured is lost. The channel closing (every sender
//! dropped) is the shutdown signal: the prober's probe tasks each hold a
//! sender, so the writer finishing also means every probe has finished.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncWriteExt, BufWriter};
use tokio::sync::mpsc;

use super::ledger::AckedWrite;
use super::probe::ProbeRecord;
use super::TrafficError;

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

/// The writer's result: its summary and the first write error, after which it
/// stopped writing (but kept draining, so probes never block).
pub(crate) type WriterResult = (ProbeLogSummary, Option<TrafficError>);

/// Creates `dir` and both log files (with headers) and spawns the writer.
/// Must be called within a Tokio runtime.
pub(crate) fn spawn(dir: &Path) -> Result<(LogSender, tokio::task::JoinHandle<WriterResult>), TrafficError> {
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
    };
    Ok((LogSender(tx), tokio::spawn(writer.run(rx))))
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
}

impl Writer {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<LogEntry>) -> WriterResult {
        let mut tick = tokio::time::interval(FLUSH_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut line = String::new();
        loop {
            tokio::select! {
                entry = rx.recv() => match entry {
                    Some(entry) => self.write(&entry, &mut line).await,
                    None => break,
                },
                _ = tick.tick() => self.flush().await,
            }
        }
        self.flush().await;
        let summary = ProbeLogSummary {
            probes_path: self.probes.path,
            acks_path: self.acks.path,
            probes_written: self.probes.lines,
            acks_written: self.acks.lines,
        };
        (summary, self.error)
    }

    async fn write(&mut self, entry: &LogEntry, line: &mut String) {
        if self.error.is_some() {
            return;
        }
        line.clear();
        let result = match entry {
            LogEntry::Probe(record) => {
                format_probe(record, line);
                self.probes.write_line(line).await
            }
            LogEntry::Ack(ack) => {
                format_ack(ack, line);
                self.acks.write_line(line).await
            }
        };
        if let Err(error) = result {
            tracing::error!(%error, "probe log write failed; further records are dropped");
            self.error = Some(error);
        }
    }

    async fn flush(&mut self) {
        if self.error.is_some() {
            return;
        }
        let result = match self.probes.flush().await {
            Ok(()) => self.acks.flush().await,
            Err(e) => Err(e),
        };
        if let Err(error) = result {
            tracing::error!(%error, "probe log flush failed; further records are dropped");
            self.error = Some(error);
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

    #[test]
    fn quotes_only_when_needed() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
