//! Reading `probes.csv` back, beside the writer that wrote it: each line parsed into the
//! [`ProbeRecord`] it was written from and folded into a [`ProbeTally`]. A line that
//! cannot be read (a torn last line: the process died mid-write) is skipped and counted,
//! never an error.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use super::PROBES_HEADER;
use crate::traffic::probe::{ProbeKind, ProbeOutcome, ProbeRecord};
use crate::traffic::tally::{ProbeSummary, ProbeTally};

/// `probes.csv` read back.
#[derive(Debug, Clone)]
pub struct TalliedLog {
    /// The tally of every readable line.
    pub summary: ProbeSummary,
    /// Lines that could not be read.
    pub skipped: usize,
}

/// `probes.csv` could not be opened or read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read {path}: {source}")]
pub struct ReadError {
    /// The file.
    pub path: std::path::PathBuf,
    /// Why.
    #[source]
    pub source: csv::Error,
}

/// One line as written (`status`, `served_by` and `error` are empty when absent).
#[derive(Debug, Deserialize)]
struct Line {
    seq: u64,
    kind: String,
    id: String,
    scheduled_unix_us: i64,
    sent_unix_us: i64,
    done_unix_us: i64,
    latency_us: u64,
    status: Option<u16>,
    outcome: String,
    served_by: Option<String>,
    error: Option<String>,
}

impl Line {
    /// The record this line was written from; `None` for an unknown kind or outcome.
    fn record(self) -> Option<ProbeRecord> {
        Some(ProbeRecord {
            seq: self.seq,
            kind: ProbeKind::parse(&self.kind)?,
            id: self.id,
            scheduled_unix_us: self.scheduled_unix_us,
            sent_unix_us: self.sent_unix_us,
            done_unix_us: self.done_unix_us,
            latency_us: self.latency_us,
            status: self.status,
            outcome: ProbeOutcome::parse(&self.outcome)?,
            served_by: self.served_by.filter(|s| !s.is_empty()),
            error: self.error.filter(|s| !s.is_empty()),
        })
    }
}

/// Calls `each` with every readable record of the CSV text in `input`; returns the number
/// of records that could not be read. A header other than [`PROBES_HEADER`]'s columns
/// makes every line unreadable.
fn for_each_record<R: std::io::Read>(input: R, mut each: impl FnMut(ProbeRecord)) -> Result<usize, csv::Error> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(input);
    let expected: Vec<&str> = PROBES_HEADER.split(',').collect();
    let header_ok = reader.headers().is_ok_and(|h| h.iter().eq(expected.iter().copied()));
    let mut skipped = 0;
    for line in reader.deserialize::<Line>() {
        match line {
            Ok(line) if header_ok => match line.record() {
                Some(record) => each(record),
                None => skipped += 1,
            },
            Err(e) if e.is_io_error() => return Err(e),
            _ => skipped += 1,
        }
    }
    Ok(skipped + usize::from(!header_ok))
}

/// Reads and tallies the probe log in `text` (see [`tally_file`]).
pub fn tally_text(text: &str, late_threshold: Duration) -> TalliedLog {
    let mut first = i64::MAX;
    // Reading from memory has no I/O error.
    let _ = for_each_record(text.as_bytes(), |r| first = first.min(r.scheduled_unix_us));
    let mut tally = ProbeTally::new(first.div_euclid(1000), late_threshold);
    let skipped = for_each_record(text.as_bytes(), |r| tally.record(&r)).unwrap_or(0);
    TalliedLog {
        summary: tally.finish(),
        skipped,
    }
}

/// Calls `each` with every readable record of the probe log at `path`, in the order
/// written (completion order); returns how many lines could not be read.
pub fn visit_file(path: &Path, each: impl FnMut(ProbeRecord)) -> Result<usize, ReadError> {
    let error = |source| ReadError {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(|e| error(e.into()))?;
    for_each_record(std::io::BufReader::new(file), each).map_err(error)
}

/// Reads the probe log at `path` and tallies it; probes sent more than `late_threshold`
/// after their scheduled time count as late. Two passes over the file (the first finds
/// the earliest scheduled time, where the buckets start: the log is in completion
/// order), so memory does not grow with the log.
pub fn tally_file(path: &Path, late_threshold: Duration) -> Result<TalliedLog, ReadError> {
    let mut first = i64::MAX;
    visit_file(path, |r| first = first.min(r.scheduled_unix_us))?;
    let mut tally = ProbeTally::new(first.div_euclid(1000), late_threshold);
    let skipped = visit_file(path, |r| tally.record(&r))?;
    Ok(TalliedLog {
        summary: tally.finish(),
        skipped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traffic::probe_log::format_probe;
    use crate::traffic::FailureKind;

    fn records() -> Vec<ProbeRecord> {
        let outcomes = [
            ProbeOutcome::Ok,
            ProbeOutcome::Missing,
            ProbeOutcome::Failed(FailureKind::Connect),
            ProbeOutcome::Failed(FailureKind::Timeout),
            ProbeOutcome::Failed(FailureKind::Status5xx),
            ProbeOutcome::Failed(FailureKind::StatusOther),
            ProbeOutcome::Failed(FailureKind::BodyMismatch),
            ProbeOutcome::Failed(FailureKind::Other),
        ];
        outcomes
            .into_iter()
            .enumerate()
            .map(|(i, outcome)| ProbeRecord {
                seq: i as u64,
                kind: if i % 2 == 0 { ProbeKind::Write } else { ProbeKind::Read },
                id: format!("run-{i}"),
                scheduled_unix_us: 1_000_000 + i as i64 * 10_000,
                sent_unix_us: 1_000_100 + i as i64 * 10_000,
                done_unix_us: 1_002_000 + i as i64 * 10_000,
                latency_us: 2_000,
                status: (i % 3 != 0).then_some(200),
                outcome,
                served_by: (i % 2 == 0).then(|| format!("i-{i},az \"a\"\nnext")),
                error: (i % 4 == 0).then(|| "reset, by \"peer\"".to_string()),
            })
            .collect()
    }

    /// Every record the writer formats reads back as the same record: every outcome and
    /// kind, quoted fields with commas, quotes and line breaks, absent optional fields.
    #[test]
    fn what_the_writer_writes_reads_back_the_same() {
        let mut text = format!("{PROBES_HEADER}\n");
        for r in records() {
            format_probe(&r, &mut text);
        }
        let mut read = Vec::new();
        let skipped = for_each_record(text.as_bytes(), |r| read.push(r)).unwrap();
        assert_eq!(skipped, 0);
        assert_eq!(read, records());
    }

    /// A torn last line is skipped and counted, the lines before it are kept; a header
    /// that is not the probe log's reads nothing.
    #[test]
    fn torn_lines_and_foreign_headers_are_skipped() {
        let mut text = format!("{PROBES_HEADER}\n");
        format_probe(&records()[0], &mut text);
        text.push_str("1,read,a,1010000,10");
        let log = tally_text(&text, Duration::from_millis(20));
        assert_eq!((log.summary.sent, log.skipped), (1, 1));
        let log = tally_text("seq,kind\n1,write\n", Duration::from_millis(20));
        assert_eq!((log.summary.sent, log.skipped), (0, 2));
    }
}
