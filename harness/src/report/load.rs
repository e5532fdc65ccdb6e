//! Reading a run folder back for `drdrill report`: `report.json` when the run finished,
//! otherwise (a killed run) a report rebuilt from what the run wrote to disk —
//! `events.jsonl`, `probes.csv` and, once the run got to its report, `facts.json` — by
//! the same [`super::assemble`] that made the live report, marked incomplete. A torn
//! last line (the process died mid-write) is skipped and counted, never an error.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use super::assemble::{assemble, RunFacts, Stopped, FACTS_FILE};
use super::{report_events, ExperimentInfo, Report, ScenarioInfo, EVENTS_FILE, REPORT_FILE, SCHEMA_VERSION};
use crate::analysis::{InjectSource, InjectTime};
use crate::journal::{Event, EventKind};
use crate::status::ExperimentStatus;
use crate::traffic::{ProbeSummary, BUCKET_MS, LATE_FLOOR, PROBES_FILE};
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
    /// `probes.csv` could not be read.
    #[error(transparent)]
    ProbeLog(#[from] crate::traffic::ProbeLogReadError),
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
    let facts_path = dir.join(FACTS_FILE);
    let facts = if facts_path.is_file() {
        Some(read_facts(&facts_path)?)
    } else {
        None
    };
    let late_threshold = facts
        .as_ref()
        .and_then(|f| f.sends)
        .map_or(LATE_FLOOR, |s| Duration::from_micros(s.late_threshold_us));
    let probes_path = dir.join(PROBES_FILE);
    let probes = if probes_path.is_file() {
        let log = crate::traffic::tally_file(&probes_path, late_threshold)?;
        skipped += log.skipped;
        Some(log.summary)
    } else {
        None
    };
    Ok(LoadedRun {
        dir: dir.to_path_buf(),
        report: rebuild(dir, facts, &events, probes.as_ref()),
        rebuilt: true,
        skipped_lines: skipped,
    })
}

/// Reads `facts.json`.
fn read_facts(path: &Path) -> Result<RunFacts, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| LoadError::Invalid {
        path: path.to_path_buf(),
        problem: e.to_string(),
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

/// Builds the report of a run that left no `report.json`: from its facts when it got to
/// its report (exactly as the live report was built), else from what the journal says
/// (no recovery is computed: the rule is in the scenario, not the journal), marked
/// incomplete either way.
fn rebuild(dir: &Path, facts: Option<RunFacts>, events: &[Event], probes: Option<&ProbeSummary>) -> Report {
    let from_facts = facts.is_some();
    let facts = facts.unwrap_or_else(|| facts_from_journal(dir, events, probes));
    let mut report = assemble(&facts, events, probes);
    let mut reason = format!(
        "report.json is missing, so the run did not finish; this report was rebuilt from {EVENTS_FILE}{}{}",
        if probes.is_some() { " and probes.csv" } else { "" },
        if from_facts { " and facts.json" } else { "" },
    );
    if let Some(x) = facts.experiment.as_ref().filter(|x| x.end_unix_ms.is_none()) {
        reason.push_str(&format!(
            "; experiment {} was never seen to end: check that it was stopped",
            x.id
        ));
    }
    report.reason = Some(reason);
    report.complete = false;
    report
}

/// The facts of a run killed before its report, as far as its journal tells them.
fn facts_from_journal(dir: &Path, events: &[Event], probes: Option<&ProbeSummary>) -> RunFacts {
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
    let experiment = experiment_from_journal(events);
    let last_probe_ms = probes
        .and_then(|p| p.buckets.last())
        .map_or(t0, |b| b.start_unix_ms + BUCKET_MS);
    let last_event_ms = events.iter().map(|e| e.t_unix_ms).max().unwrap_or(t0);
    let finished = last_event_ms.max(last_probe_ms);
    let verdict = events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::RunFinished { verdict, .. } => Some(*verdict),
            _ => None,
        })
        .unwrap_or(Verdict::Error);
    RunFacts {
        run_id,
        scenario: ScenarioInfo {
            name: scenario,
            path: PathBuf::from("(unknown: report.json is missing)"),
            description: None,
        },
        target: "unknown".into(),
        strategy: None,
        plan: None,
        t0_unix_ms: t0,
        finished_unix_ms: finished,
        inject: match &experiment {
            Some(x) => x.start_unix_ms.map(|unix_ms| InjectTime {
                unix_ms,
                source: InjectSource::ObservedRunning,
                precision_ms: 0.0,
                clock_offset_ms: 0.0,
            }),
            // A restore test (no experiment): t_inject as its restore job was dated.
            None => restore_test_inject(events),
        },
        fault_end_unix_ms: Some(experiment.as_ref().and_then(|x| x.end_unix_ms).unwrap_or(finished)),
        experiment,
        sends: None,
        lost: None,
        rule: None,
        objectives: Default::default(),
        stopped: Some(Stopped {
            verdict,
            reason: String::new(),
        }),
        backup_coverage: None,
    }
}

/// A restore test's `t_inject`, as its `restore_job_started` event carries it.
fn restore_test_inject(events: &[Event]) -> Option<InjectTime> {
    events.iter().find_map(|e| match &e.kind {
        EventKind::RestoreJobStarted { inject, .. } => inject.as_ref().map(InjectTime::from_restore_test),
        _ => None,
    })
}

/// The experiment as the journal followed it.
fn experiment_from_journal(events: &[Event]) -> Option<ExperimentInfo> {
    let mut experiment: Option<ExperimentInfo> = None;
    let mut template_id = String::new();
    for e in events {
        match &e.kind {
            EventKind::TemplateCreated { template_id: t } => template_id = t.clone(),
            EventKind::ExperimentStarted { experiment_id } => {
                experiment = Some(ExperimentInfo {
                    id: experiment_id.clone(),
                    template_id: template_id.clone(),
                    status: ExperimentStatus::Pending,
                    ..Default::default()
                })
            }
            EventKind::ExperimentState { status, .. } => {
                if let Some(x) = experiment.as_mut() {
                    x.status = status.clone();
                    if *status == ExperimentStatus::Running && x.start_unix_ms.is_none() {
                        x.start_unix_ms = Some(e.t_unix_ms);
                    }
                    if status.is_final() {
                        x.end_unix_ms.get_or_insert(e.t_unix_ms);
                    }
                }
            }
            _ => {}
        }
    }
    experiment
}
