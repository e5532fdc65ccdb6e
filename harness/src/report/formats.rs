//! Output formats: which files a run (or `drdrill report`) writes, writing them, and
//! everything a finished run publishes: the files, a line in `history.jsonl` and, when
//! asked (`GITHUB_STEP_SUMMARY`), the Markdown summary appended to the CI step summary.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;

pub use super::error::RenderError;
use super::history::{self, HistoryEntry, HistoryError};
use super::{html, junit, markdown, Report, REPORT_FILE};

/// One output file of a run folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Format {
    /// `report.json`, the versioned record everything else is rendered from.
    Json,
    /// `junit.xml`.
    Junit,
    /// `summary.md`.
    Markdown,
    /// `report.html`.
    Html,
}

impl Format {
    /// Every format, in the order they are written.
    pub const ALL: [Format; 4] = [Format::Json, Format::Junit, Format::Markdown, Format::Html];

    /// The file it is written to in a run folder.
    pub fn file_name(self) -> &'static str {
        match self {
            Format::Json => REPORT_FILE,
            Format::Junit => junit::JUNIT_FILE,
            Format::Markdown => markdown::SUMMARY_FILE,
            Format::Html => html::HTML_FILE,
        }
    }

    /// Its name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Junit => "junit",
            Format::Markdown => "md",
            Format::Html => "html",
        }
    }

    /// Renders the file's text.
    pub fn render(self, report: &Report) -> Result<String, RenderError> {
        match self {
            Format::Json => serde_json::to_string_pretty(report).map_err(|source| RenderError::Json { source }),
            Format::Junit => junit::render(report),
            Format::Markdown => markdown::render(report),
            Format::Html => html::render(report),
        }
    }
}

/// A `--format` value that names no format.
#[derive(Debug, thiserror::Error)]
#[error("unknown format {0:?} (expected json, junit, md, html or all, separated by commas)")]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;
    fn from_str(s: &str) -> Result<Format, UnknownFormat> {
        match s.trim().to_ascii_lowercase().as_str() {
            "json" => Ok(Format::Json),
            "junit" | "xml" => Ok(Format::Junit),
            "md" | "markdown" | "summary" => Ok(Format::Markdown),
            "html" => Ok(Format::Html),
            _ => Err(UnknownFormat(s.to_string())),
        }
    }
}

/// A set of formats; all of them by default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Formats(BTreeSet<Format>);

impl Default for Formats {
    fn default() -> Formats {
        Formats::all()
    }
}

impl Formats {
    /// Every format.
    pub fn all() -> Formats {
        Formats(Format::ALL.into_iter().collect())
    }

    /// Exactly these formats.
    pub fn only(formats: impl IntoIterator<Item = Format>) -> Formats {
        Formats(formats.into_iter().collect())
    }

    /// Parses a comma-separated list (`junit,md`); `all` means every format.
    pub fn parse_list(list: &str) -> Result<Formats, UnknownFormat> {
        let mut set = BTreeSet::new();
        for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if name.eq_ignore_ascii_case("all") {
                set.extend(Format::ALL);
            } else {
                set.insert(name.parse()?);
            }
        }
        if set.is_empty() {
            return Err(UnknownFormat(list.to_string()));
        }
        Ok(Formats(set))
    }

    /// Whether `f` is in the set.
    pub fn contains(&self, f: Format) -> bool {
        self.0.contains(&f)
    }

    /// The set without `f`.
    pub fn without(&self, f: Format) -> Formats {
        Formats(self.0.iter().copied().filter(|x| *x != f).collect())
    }

    /// The formats, in writing order.
    pub fn iter(&self) -> impl Iterator<Item = Format> + '_ {
        self.0.iter().copied()
    }
}

/// Writes each format of `formats` into `dir`; returns the files written. Stops at the
/// first failure.
pub fn write_formats(report: &Report, dir: &Path, formats: &Formats) -> Result<Vec<PathBuf>, RenderError> {
    formats
        .iter()
        .map(|f| {
            let text = match f {
                // report.html shows the digest of the evidence it was rendered from.
                Format::Html => html::render_with_evidence(report, super::manifest::evidence_digest(dir).ok())?,
                _ => f.render(report)?,
            };
            write_file(dir, f, &text)
        })
        .collect()
}

/// Writes `text`, rendered as `format`, into `dir` under the format's file name
/// (atomically: a crash never leaves half a report).
pub(crate) fn write_file(dir: &Path, format: Format, text: &str) -> Result<PathBuf, RenderError> {
    super::write_atomic(dir, format.file_name(), text.as_bytes()).map_err(|source| RenderError::Write {
        path: dir.join(format.file_name()),
        source,
    })
}

/// What a finished run publishes besides `report.json`.
#[derive(Debug, Clone)]
pub struct PublishOptions {
    /// Files written into the run folder (`report.json` is always written by the run).
    pub formats: Formats,
    /// Append a line for the run to `<out>/history.jsonl`.
    pub history: bool,
    /// A file that receives `summary.md` (appended), e.g. `$GITHUB_STEP_SUMMARY`.
    pub step_summary: Option<PathBuf>,
}

impl Default for PublishOptions {
    /// Every format, the history line, no step summary.
    fn default() -> PublishOptions {
        PublishOptions {
            formats: Formats::all(),
            history: true,
            step_summary: None,
        }
    }
}

/// One thing a run could not publish.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// A report file.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// The history line.
    #[error(transparent)]
    History(#[from] HistoryError),
    /// The step summary.
    #[error("cannot append the summary to {path}: {source}")]
    StepSummary {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// What [`publish`] did.
#[derive(Debug, Default)]
pub struct PublishOutcome {
    /// Files written.
    pub written: Vec<PathBuf>,
    /// What failed; each step is tried even when an earlier one failed.
    pub errors: Vec<PublishError>,
}

/// Publishes a finished run whose `report.json` is already in `run_dir`: writes the
/// other formats, appends to `<out_dir>/history.jsonl` and to the step summary.
pub fn publish(report: &Report, run_dir: &Path, out_dir: &Path, opts: &PublishOptions) -> PublishOutcome {
    let mut out = PublishOutcome::default();
    for f in opts.formats.without(Format::Json).iter() {
        match write_formats(report, run_dir, &Formats::only([f])) {
            Ok(paths) => out.written.extend(paths),
            Err(e) => out.errors.push(e.into()),
        }
    }
    if opts.history {
        let run_dir_name = run_dir
            .file_name()
            .map_or_else(|| report.run_id.clone(), |n| n.to_string_lossy().into_owned());
        let path = out_dir.join(history::HISTORY_FILE);
        match history::append(&path, &HistoryEntry::from_report(report, &run_dir_name)) {
            Ok(()) => out.written.push(path),
            Err(e) => out.errors.push(e.into()),
        }
    }
    if let Some(path) = opts.step_summary.as_ref().filter(|p| !p.as_os_str().is_empty()) {
        let result = markdown::render(report).map_err(PublishError::from).and_then(|text| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .and_then(|mut f| f.write_all(format!("{text}\n").as_bytes()))
                .map_err(|source| PublishError::StepSummary {
                    path: path.clone(),
                    source,
                })
        });
        match result {
            Ok(()) => out.written.push(path.clone()),
            Err(e) => out.errors.push(e),
        }
    }
    out
}

/// What `drdrill report RUN_DIR` did.
#[derive(Debug)]
pub struct Rerendered {
    /// The run folder read back.
    pub run: super::LoadedRun,
    /// Files written.
    pub written: Vec<PathBuf>,
}

/// A run folder could not be re-rendered.
#[derive(Debug, thiserror::Error)]
pub enum RerenderError {
    /// The folder could not be read.
    #[error(transparent)]
    Load(#[from] super::LoadError),
    /// A file could not be rendered or written.
    #[error(transparent)]
    Render(#[from] RenderError),
}

/// Re-renders the run folder `dir` from `report.json` + `events.jsonl` (or, for a run
/// that left no `report.json`, from what it streamed). `report.json` itself is the
/// source and is never rewritten, so [`Format::Json`] is ignored here.
pub fn rerender(dir: &Path, formats: &Formats) -> Result<Rerendered, RerenderError> {
    let run = super::load_run(dir)?;
    let written = write_formats(&run.report, dir, &formats.without(Format::Json))?;
    Ok(Rerendered { run, written })
}
