//! Reading a run folder back for `drdrill report`: `report.json` when the run finished,
//! otherwise (a killed run) a report rebuilt from what the run streamed to disk —
//! `events.jsonl` and `probes.csv` — marked incomplete. A torn last line (the process
//! died mid-write) is skipped and counted, never an error.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{
    report_events, ExperimentInfo, ProbeStats, Report, ScenarioInfo, TimelinePoint, EVENTS_FILE, REPORT_FILE,
    SCHEMA_VERSION,
};
use crate::journal::{Event, EventKind};
use crate::traffic::{LATE_FLOOR, PROBES_FILE};
use crate::verdict::Verdict;

/// A run folder read back.
#[derive(Debug, Clone)]
pub struct LoadedRun {
    /// The folder.
    pub dir: PathBuf,
    /// Its report: `report.json`, or rebuilt from the journal and the probe log.
    pub report: Report,
    /// True when `report.json` was missing and the report was rebuilt.
    pub rebuilt: bool,
    /// Lines of `events.jsonl` / `probes.csv` that could not be read (a torn last line).
    pub skipped_lines: usize,
}

/// A run folder could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Neither `report.json` nor `events.jsonl` is there.
    #[error("{path} is not a run folder: it has neither report.json nor events.jsonl")]
    NotARunFolder {
        /// The folder.
        path: PathBuf,
    },
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `report.json` is not a report this version understands.
    #[error("{path} is not a valid report: {problem}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the line and column when the JSON itself is broken.
        problem: String,
    },
    /// `events.jsonl` has no event at all.
    #[error("{path} has no readable event: nothing to rebuild a report from")]
    EmptyJournal {
        /// The file.
        path: PathBuf,
    },
}

/// Reads the run folder `dir`.
pub fn load_run(dir: &Path) -> Result<LoadedRun, LoadError> {
    let report_path = dir.join(REPORT_FILE);
    let events_path = dir.join(EVENTS_FILE);
    if report_path.is_file() {
        let mut report = read_report(&report_path)?;
        let mut skipped = 0;
        if report.events.is_empty() && events_path.is_file() {
            let (events, bad) = read_events(&events_path)?;
            skipped = bad;
            report.events = report_events(&events, report.t0_unix_ms);
        }
        return Ok(LoadedRun {
            dir: dir.to_path_buf(),
            report,
            rebuilt: false,
            skipped_lines: skipped,
        });
    }
    if !events_path.is_file() {
        return Err(LoadError::NotARunFolder {
            path: dir.to_path_buf(),
        });
    }
    let (events, mut skipped) = read_events(&events_path)?;
    if events.is_empty() {
        return Err(LoadError::EmptyJournal { path: events_path });
    }
    let probes_path = dir.join(PROBES_FILE);
    let probes = if probes_path.is_file() {
        let text = std::fs::read_to_string(&probes_path).map_err(|source| LoadError::Read {
            path: probes_path.clone(),
            source,
        })?;
        let (rows, bad) = parse_probes(&text);
        skipped += bad;
        Some(rows)
    } else {
        None
    };
    Ok(LoadedRun {
        dir: dir.to_path_buf(),
        report: rebuild(dir, &events, probes.as_deref()),
        rebuilt: true,
        skipped_lines: skipped,
    })
}

/// Reads and checks `report.json`.
pub fn read_report(path: &Path) -> Result<Report, LoadError> {
    let invalid = |problem: String| LoadError::Invalid {
        path: path.to_path_buf(),
        problem,
    };
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let value: Value = serde_json::from_str(&text).map_err(|e| invalid(format!("broken JSON: {e}")))?;
    match value.get("schema_version").map(|v| (v, v.as_u64())) {
        None => return Err(invalid("no schema_version: not a drdrill report".into())),
        Some((_, Some(v))) if v > u64::from(SCHEMA_VERSION) => {
            return Err(invalid(format!(
                "schema_version {v} is newer than this drdrill understands ({SCHEMA_VERSION})"
            )))
        }
        Some((v, None)) => return Err(invalid(format!("schema_version {v} is not a number"))),
        Some(_) => {}
    }
    serde_json::from_value(value).map_err(|e| invalid(e.to_string()))
}

/// Reads `events.jsonl`: the events and the number of lines that could not be read.
fn read_events(path: &Path) -> Result<(Vec<Event>, usize), LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut bad = 0;
    let events = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| {
            let e = serde_json::from_str::<Event>(l).ok();
            bad += usize::from(e.is_none());
            e
        })
        .collect();
    Ok((events, bad))
}

/// One line of `probes.csv`, the fields a report needs (others are ignored).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
struct ProbeRow {
    scheduled_unix_us: i64,
    sent_unix_us: i64,
    latency_us: i64,
    outcome: String,
    served_by: String,
}

/// The columns of `probes.csv` a report reads.
const PROBE_COLUMNS: [&str; 5] = [
    "scheduled_unix_us",
    "sent_unix_us",
    "latency_us",
    "outcome",
    "served_by",
];

/// Parses `probes.csv` (RFC 4180, with the csv crate): rows and the number of records
/// that could not be read (a torn last line). A header without the needed columns makes
/// every line unreadable.
fn parse_probes(text: &str) -> (Vec<ProbeRow>, usize) {
    let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let has_columns = reader
        .headers()
        .is_ok_and(|h| PROBE_COLUMNS.iter().all(|c| h.iter().any(|name| name == *c)));
    if !has_columns {
        return (Vec::new(), text.lines().count());
    }
    let mut bad = 0;
    let rows = reader
        .deserialize::<ProbeRow>()
        .filter_map(|row| {
            bad += usize::from(row.is_err());
            row.ok()
        })
        .collect();
    (rows, bad)
}

fn quantile_ms(sorted_us: &[i64], q: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let i = ((sorted_us.len() as f64 * q).ceil() as usize).clamp(1, sorted_us.len()) - 1;
    sorted_us[i] as f64 / 1000.0
}

fn is_ok(outcome: &str) -> bool {
    matches!(outcome, "ok" | "missing")
}

fn probe_stats(rows: &[ProbeRow]) -> ProbeStats {
    let mut latency: Vec<i64> = rows.iter().map(|r| r.latency_us).collect();
    latency.sort_unstable();
    let mut lag: Vec<i64> = rows
        .iter()
        .map(|r| (r.sent_unix_us - r.scheduled_unix_us).max(0))
        .collect();
    lag.sort_unstable();
    let mut failures = BTreeMap::new();
    let mut by_served_by = BTreeMap::new();
    for r in rows {
        if !is_ok(&r.outcome) {
            *failures.entry(r.outcome.clone()).or_default() += 1;
        }
        if !r.served_by.is_empty() {
            *by_served_by.entry(r.served_by.clone()).or_default() += 1;
        }
    }
    let ok = rows.iter().filter(|r| is_ok(&r.outcome)).count() as u64;
    ProbeStats {
        sent: rows.len() as u64,
        ok,
        failed: rows.len() as u64 - ok,
        missing_reads: rows.iter().filter(|r| r.outcome == "missing").count() as u64,
        p50_ms: quantile_ms(&latency, 0.5),
        p99_ms: quantile_ms(&latency, 0.99),
        max_ms: latency.last().map_or(0.0, |v| *v as f64 / 1000.0),
        schedule_lag_p99_ms: quantile_ms(&lag, 0.99),
        schedule_lag_max_ms: lag.last().map_or(0.0, |v| *v as f64 / 1000.0),
        // The rate is not in the probe log: count against the threshold's floor.
        late_sends: lag
            .iter()
            .filter(|v| i128::from(**v) > LATE_FLOOR.as_micros() as i128)
            .count() as u64,
        late_threshold_ms: LATE_FLOOR.as_secs_f64() * 1000.0,
        dropped_sends: 0,
        saturated: 0,
        failures,
        by_served_by,
    }
}

fn timeline(rows: &[ProbeRow], t0: i64) -> Vec<TimelinePoint> {
    let mut slots: BTreeMap<i64, (TimelinePoint, Vec<i64>)> = BTreeMap::new();
    for r in rows {
        let slot = (r.scheduled_unix_us / 1000).div_euclid(100) * 100;
        let (p, lat) = slots.entry(slot).or_insert_with(|| {
            (
                TimelinePoint {
                    t_ms: slot - t0,
                    ..Default::default()
                },
                Vec::new(),
            )
        });
        if is_ok(&r.outcome) {
            p.ok += 1;
        } else {
            p.failed += 1;
        }
        if !r.served_by.is_empty() {
            *p.served_by.entry(r.served_by.clone()).or_default() += 1;
        }
        lat.push(r.latency_us);
    }
    slots
        .into_values()
        .map(|(mut p, mut lat)| {
            lat.sort_unstable();
            p.p99_ms = (!lat.is_empty()).then(|| quantile_ms(&lat, 0.99));
            p
        })
        .collect()
}

/// Builds the report of a run that left no `report.json`.
fn rebuild(dir: &Path, events: &[Event], probes: Option<&[ProbeRow]>) -> Report {
    let started = events.iter().find_map(|e| match &e.kind {
        EventKind::RunStarted { run_id, scenario } => Some((e.t_unix_ms, run_id.clone(), scenario.clone())),
        _ => None,
    });
    let dir_name = dir
        .file_name()
        .map_or_else(|| "unknown".to_string(), |n| n.to_string_lossy().into_owned());
    let (t0, run_id, scenario) = started.unwrap_or_else(|| {
        (
            events.iter().map(|e| e.t_unix_ms).min().unwrap_or(0),
            dir_name,
            "unknown".into(),
        )
    });
    let mut experiment: Option<ExperimentInfo> = None;
    let mut template_id = String::new();
    let mut ended = false;
    for e in events {
        match &e.kind {
            EventKind::TemplateCreated { template_id: t } => template_id = t.clone(),
            EventKind::ExperimentStarted { experiment_id } => {
                experiment = Some(ExperimentInfo {
                    id: experiment_id.clone(),
                    template_id: template_id.clone(),
                    status: "pending".into(),
                    ..Default::default()
                })
            }
            EventKind::ExperimentState { status, .. } => {
                if let Some(x) = experiment.as_mut() {
                    x.status = status.clone();
                    if status == "running" && x.start_unix_ms.is_none() {
                        x.start_unix_ms = Some(e.t_unix_ms);
                    }
                    if matches!(status.as_str(), "completed" | "stopped" | "failed" | "cancelled") {
                        x.end_unix_ms.get_or_insert(e.t_unix_ms);
                        ended = true;
                    }
                }
            }
            _ => {}
        }
    }
    let finished = events.iter().find_map(|e| match &e.kind {
        EventKind::RunFinished { verdict, exit_code } => Some((verdict.clone(), *exit_code)),
        _ => None,
    });
    let verdict = match finished.as_ref().map(|f| f.0.as_str()) {
        Some("pass") => Verdict::Pass,
        Some("fail") => Verdict::Fail,
        Some("aborted") => Verdict::Aborted,
        _ => Verdict::Error,
    };
    let last_probe_ms = probes
        .and_then(|p| p.iter().map(|r| r.scheduled_unix_us / 1000 + r.latency_us / 1000).max())
        .unwrap_or(t0);
    let last_event_ms = events.iter().map(|e| e.t_unix_ms).max().unwrap_or(t0);
    let mut reason = format!(
        "report.json is missing, so the run did not finish; this report was rebuilt from {EVENTS_FILE}{}",
        if probes.is_some() { " and probes.csv" } else { "" }
    );
    if let Some(x) = experiment.as_ref().filter(|_| !ended) {
        reason.push_str(&format!(
            "; experiment {} was never seen to end: check that it was stopped",
            x.id
        ));
    }
    let t_inject = experiment.as_ref().and_then(|x| x.start_unix_ms);
    let fault_end = experiment
        .as_ref()
        .and_then(|x| x.end_unix_ms)
        .unwrap_or(last_probe_ms.max(last_event_ms));
    let availability = match (t_inject, probes) {
        (Some(ti), Some(rows)) => {
            let during: Vec<_> = rows
                .iter()
                .filter(|r| (ti..fault_end).contains(&(r.scheduled_unix_us / 1000)))
                .collect();
            (!during.is_empty())
                .then(|| during.iter().filter(|r| is_ok(&r.outcome)).count() as f64 / during.len() as f64)
        }
        _ => None,
    };
    Report {
        schema_version: SCHEMA_VERSION,
        run_id,
        scenario: ScenarioInfo {
            name: scenario,
            path: PathBuf::from("(unknown: report.json is missing)"),
            description: None,
        },
        target: "unknown".into(),
        verdict,
        exit_code: finished.map_or(verdict.exit_code(), |f| f.1),
        reason: Some(reason),
        complete: false,
        t0_unix_ms: t0,
        finished_unix_ms: last_event_ms.max(last_probe_ms),
        t_inject_unix_ms: t_inject,
        experiment,
        rto_ms: None,
        rto_uncertainty_ms: None,
        rpo_uncertainty_ms: None,
        uncertainty: None,
        t_inject_source: None,
        outage_ms: None,
        recovery: None,
        rto_breakdown: None,
        data_loss: None,
        availability_during_fault: availability,
        p99_during_fault_ms: None,
        objectives: Vec::new(),
        probes: probes.map(probe_stats).unwrap_or_default(),
        timeline: probes.map(|p| timeline(p, t0)).unwrap_or_default(),
        events: report_events(events, t0),
        plan: None,
        measurement_degraded: None,
        // Kept from the journal: a rebuilt report still says when its observers were
        // blind (no breakdown to taint here: a rebuilt report has none).
        observer_blind: super::blind::intervals(events, t_inject, last_event_ms.max(last_probe_ms), None, None),
        strategy: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Quoted fields keep their commas, doubled quotes and line breaks; columns are found
    /// by name.
    #[test]
    fn probe_lines_follow_rfc4180() {
        let text = format!(
            "{}\n0,read,a,1000000,1000100,1002000,2000,,failed,\"i-1,az-a\",\"said \"\"no\"\"\nand left\"\n",
            crate::traffic::PROBES_HEADER
        );
        let (rows, bad) = parse_probes(&text);
        assert_eq!(bad, 0);
        assert_eq!(
            rows,
            vec![ProbeRow {
                scheduled_unix_us: 1_000_000,
                sent_unix_us: 1_000_100,
                latency_us: 2000,
                outcome: "failed".into(),
                served_by: "i-1,az-a".into(),
            }]
        );
        let (rows, bad) = parse_probes("seq,kind\n1,write\n");
        assert_eq!((rows.len(), bad), (0, 2), "a header without the columns reads nothing");
    }

    /// A torn last probe line is skipped and counted; the rows before it are kept.
    #[test]
    fn torn_probe_line_is_skipped() {
        let text = format!(
            "{}\n0,write,a,1000000,1000100,1002000,2000,201,ok,i-1/az-a/r,\n1,read,a,1010000,10",
            crate::traffic::PROBES_HEADER
        );
        let (rows, bad) = parse_probes(&text);
        assert_eq!(rows.len(), 1);
        assert_eq!(bad, 1);
        assert_eq!(rows[0].served_by, "i-1/az-a/r");
    }
}
