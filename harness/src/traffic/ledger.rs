//! The ack ledger: how many writes the system acknowledged, and a bounded sample of
//! them for the read probes. The full list lives on disk (`acks.csv`, written by the
//! probe log) and is read back as an [`AckList`] for the verify phase, so memory does
//! not grow with the length of a run.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, PoisonError};

use serde::Deserialize;

use super::mix::PickRng;
use super::TrafficError;

/// A write the system acknowledged with a 2xx status.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
pub struct AckedWrite {
    /// The unique id written.
    pub id: String,
    /// The body sent, which a read-back must return.
    pub body: String,
    /// When the write was scheduled (unix ms).
    pub scheduled_unix_ms: i64,
    /// When the acknowledgement arrived (unix ms).
    pub acked_unix_ms: i64,
}

/// Most acknowledged writes kept in memory for read probes to pick from.
pub const READ_SAMPLE: usize = 4096;

/// Thread-safe count of acknowledged writes, with a uniform sample of at most
/// [`READ_SAMPLE`] of them (reservoir sampling) for the read probes.
#[derive(Debug)]
pub struct AckLedger {
    state: Mutex<LedgerState>,
}

#[derive(Debug)]
struct LedgerState {
    count: usize,
    sample: Vec<AckedWrite>,
    rng: PickRng,
}

impl Default for AckLedger {
    fn default() -> Self {
        Self::new()
    }
}

impl AckLedger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self {
            state: Mutex::new(LedgerState {
                count: 0,
                sample: Vec::new(),
                rng: PickRng::new(0x5EED_ACC5),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, LedgerState> {
        // A panic elsewhere cannot leave the state half-updated in a harmful way.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts an acknowledged write; it replaces a random member of the sample with
    /// the probability that keeps the sample uniform over every write so far (and is
    /// copied only then).
    pub fn record(&self, write: &AckedWrite) {
        let mut guard = self.lock();
        let st = &mut *guard;
        st.count += 1;
        if st.sample.len() < READ_SAMPLE {
            st.sample.push(write.clone());
        } else {
            let slot = st.rng.below(st.count);
            if let Some(kept) = st.sample.get_mut(slot) {
                kept.clone_from(write);
            }
        }
    }

    /// How many writes were acknowledged so far.
    pub fn len(&self) -> usize {
        self.lock().count
    }

    /// Whether nothing was acknowledged yet.
    pub fn is_empty(&self) -> bool {
        self.lock().count == 0
    }

    /// A random acknowledged write from the sample, if any.
    pub(crate) fn pick(&self, rng: &mut PickRng) -> Option<AckedWrite> {
        let st = self.lock();
        if st.sample.is_empty() {
            return None;
        }
        st.sample.get(rng.below(st.sample.len())).cloned()
    }
}

/// Every write a stopped prober saw acknowledged: the lines of `acks.csv`, plus the
/// ones the probe log could not write (after a write error), never both for one id.
#[derive(Debug)]
pub struct AckList {
    path: Option<PathBuf>,
    unwritten: Vec<AckedWrite>,
    count: usize,
}

impl AckList {
    /// The list in `path` (absent when the log writer itself was lost) plus `unwritten`,
    /// which must together hold `count` writes.
    pub(crate) fn new(path: Option<PathBuf>, unwritten: Vec<AckedWrite>, count: usize) -> Self {
        Self { path, unwritten, count }
    }

    /// How many writes were acknowledged.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether none was.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Reads the writes one at a time, in the order they were logged; call
    /// [`AckReader::finish`] after the last to learn whether the list was complete.
    pub fn reader(&self) -> Result<AckReader<'_>, TrafficError> {
        let records = match &self.path {
            Some(path) => Some(
                csv::ReaderBuilder::new()
                    .has_headers(true)
                    .from_path(path)
                    .map_err(|e| AckReader::error_at(path, &e))?
                    .into_deserialize(),
            ),
            None if self.count > self.unwritten.len() => {
                return Err(TrafficError::AckLog {
                    path: PathBuf::from(super::ACKS_FILE),
                    reason: "the probe log writer was lost, so the acknowledged writes it held are unknown".into(),
                })
            }
            None => None,
        };
        Ok(AckReader {
            list: self,
            records,
            skip: self.unwritten.iter().map(|w| w.id.as_str()).collect(),
            unwritten: self.unwritten.iter(),
            read: 0,
            error: None,
        })
    }

    /// Every write, ordered by acknowledgement time (then scheduled time, then id).
    pub fn read_all(&self) -> Result<Vec<AckedWrite>, TrafficError> {
        let mut reader = self.reader()?;
        let mut all: Vec<AckedWrite> = reader.by_ref().collect();
        reader.finish()?;
        all.sort_by(|a, b| {
            (a.acked_unix_ms, a.scheduled_unix_ms, &a.id).cmp(&(b.acked_unix_ms, b.scheduled_unix_ms, &b.id))
        });
        Ok(all)
    }
}

/// Streams an [`AckList`]: the file's records, then the unwritten ones.
pub struct AckReader<'a> {
    list: &'a AckList,
    records: Option<csv::DeserializeRecordsIntoIter<std::fs::File, AckedWrite>>,
    skip: HashSet<&'a str>,
    unwritten: std::slice::Iter<'a, AckedWrite>,
    read: usize,
    error: Option<TrafficError>,
}

impl std::fmt::Debug for AckReader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AckReader")
            .field("read", &self.read)
            .finish_non_exhaustive()
    }
}

impl AckReader<'_> {
    fn error_at(path: &std::path::Path, e: &csv::Error) -> TrafficError {
        let line = e.position().map(|p| format!("line {}: ", p.line())).unwrap_or_default();
        TrafficError::AckLog {
            path: path.to_owned(),
            reason: format!("{line}{e}"),
        }
    }

    /// Whether every acknowledged write was read: the first unreadable record of the
    /// file, or a count that differs from what the prober counted, is an error.
    pub fn finish(self) -> Result<usize, TrafficError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if self.read != self.list.count {
            return Err(TrafficError::AckLog {
                path: self
                    .list
                    .path
                    .clone()
                    .unwrap_or_else(|| PathBuf::from(super::ACKS_FILE)),
                reason: format!(
                    "holds {} acknowledged writes, the prober counted {}",
                    self.read, self.list.count
                ),
            });
        }
        Ok(self.read)
    }
}

impl Iterator for AckReader<'_> {
    type Item = AckedWrite;

    fn next(&mut self) -> Option<AckedWrite> {
        if self.error.is_some() {
            return None;
        }
        while let Some(records) = &mut self.records {
            match records.next() {
                Some(Ok(write)) if self.skip.contains(write.id.as_str()) => continue,
                Some(Ok(write)) => {
                    self.read += 1;
                    return Some(write);
                }
                // After a write error the file may end in a torn record; every write
                // it could hold is among the unwritten ones.
                Some(Err(_)) if !self.list.unwritten.is_empty() => continue,
                Some(Err(e)) => {
                    let path = self.list.path.as_deref().unwrap_or(std::path::Path::new(""));
                    self.error = Some(AckReader::error_at(path, &e));
                    return None;
                }
                None => self.records = None,
            }
        }
        let write = self.unwritten.next()?.clone();
        self.read += 1;
        Some(write)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ack(n: usize) -> AckedWrite {
        AckedWrite {
            id: format!("w-{n}"),
            body: format!("body, \"{n}\""),
            scheduled_unix_ms: 1_000 + n as i64,
            acked_unix_ms: 2_000 + n as i64,
        }
    }

    fn ack_file(dir: &std::path::Path, text: &str) -> PathBuf {
        let path = dir.join("acks.csv");
        std::fs::write(&path, text).unwrap();
        path
    }

    /// The ledger counts every write but keeps at most `READ_SAMPLE` of them, and the
    /// sample keeps taking late writes in (it is not just the first ones).
    #[test]
    fn the_read_sample_is_bounded_and_keeps_taking_new_writes() {
        let ledger = AckLedger::new();
        let total = READ_SAMPLE * 10;
        for n in 0..total {
            ledger.record(&ack(n));
        }
        assert_eq!(ledger.len(), total);
        let st = ledger.lock();
        assert_eq!(st.sample.len(), READ_SAMPLE);
        let late = st
            .sample
            .iter()
            .filter(|w| w.id["w-".len()..].parse::<usize>().unwrap() >= total / 2)
            .count();
        // Uniform over all writes: about half the sample is from the second half.
        assert!(
            (READ_SAMPLE * 2 / 5..=READ_SAMPLE * 3 / 5).contains(&late),
            "{late} of {READ_SAMPLE} from the second half"
        );
    }

    /// The list reads back from the file in the prober's CSV format, quoted bodies and all.
    #[test]
    fn reads_every_write_back_from_the_ack_log() {
        let dir = tempfile::tempdir().unwrap();
        let mut text = format!("{}\n", crate::traffic::ACKS_HEADER);
        for n in [2, 1, 3] {
            crate::traffic::probe_log::format_ack(&ack(n), &mut text);
        }
        let list = AckList::new(Some(ack_file(dir.path(), &text)), Vec::new(), 3);
        assert_eq!(list.read_all().unwrap(), vec![ack(1), ack(2), ack(3)]);
    }

    /// After a write error the file may end in a torn record and repeat writes that are
    /// also kept in memory: each write comes back exactly once.
    #[test]
    fn a_torn_log_with_unwritten_writes_reads_each_write_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut text = format!("{}\n", crate::traffic::ACKS_HEADER);
        for n in [1, 2, 3] {
            crate::traffic::probe_log::format_ack(&ack(n), &mut text);
        }
        text.push_str("w-4,1004,20");
        let list = AckList::new(Some(ack_file(dir.path(), &text)), vec![ack(3), ack(4), ack(5)], 5);
        assert_eq!(list.read_all().unwrap(), (1..=5).map(ack).collect::<Vec<_>>());
    }

    /// Without a write error a bad record is an error naming its line, and a list that
    /// holds fewer writes than the prober counted is an error, never a short list.
    #[test]
    fn a_bad_record_or_a_missing_write_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut text = format!("{}\n", crate::traffic::ACKS_HEADER);
        crate::traffic::probe_log::format_ack(&ack(1), &mut text);
        text.push_str("w-2,soon,2002,b\n");
        let list = AckList::new(Some(ack_file(dir.path(), &text)), Vec::new(), 2);
        let err = list.read_all().unwrap_err().to_string();
        assert!(err.contains("acks.csv") && err.contains("line 3"), "{err}");

        let mut text = format!("{}\n", crate::traffic::ACKS_HEADER);
        crate::traffic::probe_log::format_ack(&ack(1), &mut text);
        let list = AckList::new(Some(ack_file(dir.path(), &text)), Vec::new(), 2);
        let err = list.read_all().unwrap_err().to_string();
        assert!(
            err.contains("holds 1 acknowledged writes, the prober counted 2"),
            "{err}"
        );

        let lost = AckList::new(None, Vec::new(), 1);
        assert!(lost.reader().unwrap_err().to_string().contains("writer was lost"));
    }
}
