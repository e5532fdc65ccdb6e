//! Loading a game-day plan: read, parse (unknown keys rejected), validate, and load every
//! scenario it lists (paths relative to the plan file), so that nothing runs unless all
//! of them are valid. Also tells a plan from a scenario by its `gameday:` key.

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_saphyr::MessageFormatter;

use super::model::GamedayPlan;
use crate::scenario::locate::Locator;
use crate::scenario::LineColumn;
use crate::scenario::{self, FilePosition, LoadedScenario, ScenarioError, MAX_FILE_BYTES, MAX_NAME_LEN};

/// Longest `pause_after` accepted.
pub const MAX_PAUSE: Duration = Duration::from_secs(3600);

/// Why a game-day plan could not be loaded. Every message starts with the plan file (and
/// `:line:column` when known) and names the key path when there is one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GamedayError {
    /// The plan file could not be read.
    #[error("{}: cannot read: {error}", file.display())]
    Read {
        /// The plan file.
        file: PathBuf,
        /// The I/O error.
        error: io::Error,
    },
    /// Not well-formed YAML, or not the plan's shape (unknown key, missing key, wrong type).
    #[error("{at}: {}{message}", crate::scenario::key_prefix(key.as_deref()))]
    Parse {
        /// Where.
        at: FilePosition,
        /// The key path, when it could be determined.
        key: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// A value has the right shape but is not allowed.
    #[error("{at}: {key}: {message}")]
    Invalid {
        /// Where.
        at: FilePosition,
        /// The key path, e.g. `scenarios`.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// A scenario the plan lists could not be loaded.
    #[error("{at}: {key}: {error}")]
    Scenario {
        /// Where the plan names the scenario.
        at: FilePosition,
        /// `scenarios[i].path`.
        key: String,
        /// Why the scenario could not be loaded (it names the scenario file).
        #[source]
        error: Box<ScenarioError>,
    },
}

impl GamedayError {
    /// The key path the error is about, when known.
    pub fn key(&self) -> Option<&str> {
        match self {
            GamedayError::Read { .. } => None,
            GamedayError::Parse { key, .. } => key.as_deref(),
            GamedayError::Invalid { key, .. } | GamedayError::Scenario { key, .. } => Some(key),
        }
    }
}

/// One scenario of a loaded plan.
#[derive(Debug, Clone)]
pub struct PlannedScenario {
    /// The scenario, loaded and resolved.
    pub loaded: LoadedScenario,
    /// The pause after it, before the next one.
    pub pause_after: Option<Duration>,
}

/// A plan whose scenarios all loaded.
#[derive(Debug, Clone)]
pub struct LoadedGameday {
    /// The plan file, as given to [`load`].
    pub path: PathBuf,
    /// The plan as written.
    pub plan: GamedayPlan,
    /// Its scenarios, in order.
    pub scenarios: Vec<PlannedScenario>,
}

/// Reads, parses and validates the plan at `path`, and loads every scenario it lists.
pub fn load(path: &Path) -> Result<LoadedGameday, GamedayError> {
    let text = read_text(path).map_err(|error| GamedayError::Read {
        file: path.to_owned(),
        error,
    })?;
    load_str(path, &text)
}

/// Like [`load`] for plan text already in memory; `path` names the file in messages and
/// anchors the scenario paths.
pub fn load_str(path: &Path, text: &str) -> Result<LoadedGameday, GamedayError> {
    let plan = parse_str(path, text)?;
    let locator = Locator::new(text);
    let dir = path.parent().unwrap_or_else(|| Path::new(""));
    let mut scenarios = Vec::with_capacity(plan.scenarios.len());
    for (i, entry) in plan.scenarios.iter().enumerate() {
        let key = format!("scenarios[{i}].path");
        let loaded = scenario::load(&dir.join(&entry.path)).map_err(|error| GamedayError::Scenario {
            at: at(path, &locator, &key),
            key,
            error: Box::new(error),
        })?;
        scenarios.push(PlannedScenario {
            loaded,
            pause_after: entry.pause_after.map(|d| d.get()),
        });
    }
    Ok(LoadedGameday {
        path: path.to_owned(),
        plan,
        scenarios,
    })
}

/// Parses and validates plan text without loading the scenarios it lists.
pub fn parse_str(path: &Path, text: &str) -> Result<GamedayPlan, GamedayError> {
    let parsed = serde_saphyr::from_str::<GamedayPlan>(text);
    let locator = Locator::new(text);
    let plan = parsed.map_err(|e| {
        let position = e.location().and_then(LineColumn::from_location);
        GamedayError::Parse {
            at: FilePosition {
                file: path.to_owned(),
                at: position,
            },
            key: position.and_then(|p| locator.path_at(p)),
            message: serde_saphyr::UserMessageFormatter
                .format_message(e.without_snippet())
                .replace('`', "\"")
                .replace(['\n', '\r'], " "),
        }
    })?;
    validate(&plan).map_err(|(key, message)| GamedayError::Invalid {
        at: at(path, &locator, &key),
        key,
        message,
    })?;
    Ok(plan)
}

fn at(file: &Path, locator: &Locator, key: &str) -> FilePosition {
    FilePosition {
        file: file.to_owned(),
        at: locator.value_position(key),
    }
}

/// The first rule the plan breaks: key path and message.
fn validate(plan: &GamedayPlan) -> Result<(), (String, String)> {
    let name = &plan.gameday;
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(("gameday".into(), format!("must be 1 to {MAX_NAME_LEN} characters")));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err((
            "gameday".into(),
            format!("{name:?} may only hold lowercase letters, digits and '-'"),
        ));
    }
    if plan.scenarios.is_empty() {
        return Err(("scenarios".into(), "lists no scenario (at least one is needed)".into()));
    }
    for (i, entry) in plan.scenarios.iter().enumerate() {
        if entry.path.as_os_str().is_empty() {
            return Err((format!("scenarios[{i}].path"), "is empty".into()));
        }
        if entry.pause_after.is_some_and(|p| p.get() > MAX_PAUSE) {
            return Err((
                format!("scenarios[{i}].pause_after"),
                format!("is longer than {}", humantime::format_duration(MAX_PAUSE)),
            ));
        }
    }
    Ok(())
}

/// Reads a UTF-8 file of at most [`MAX_FILE_BYTES`].
fn read_text(path: &Path) -> io::Result<String> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("file is larger than {MAX_FILE_BYTES} bytes"),
        ));
    }
    String::from_utf8(bytes).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "file is not valid UTF-8"))
}

/// Whether `text` is a game-day plan: a YAML mapping with a top-level `gameday` key.
pub fn is_gameday_text(text: &str) -> bool {
    #[derive(serde::Deserialize)]
    struct Marker {
        gameday: Option<serde::de::IgnoredAny>,
    }
    serde_saphyr::from_str::<Marker>(text).is_ok_and(|m| m.gameday.is_some())
}

/// Whether the file at `path` is a game-day plan (false when it cannot be read: the
/// scenario loader then reports why).
pub fn is_gameday_file(path: &Path) -> bool {
    read_text(path).is_ok_and(|t| is_gameday_text(&t))
}

/// A file given to `drdrill run`, `plan` or `validate`: a scenario or a game-day plan.
#[derive(Debug, Clone)]
pub enum DrillFile {
    /// One scenario.
    Scenario(Box<LoadedScenario>),
    /// A game-day plan and its scenarios.
    Gameday(LoadedGameday),
}

/// A scenario or plan file that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum DrillFileError {
    /// A scenario file.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// A game-day plan.
    #[error(transparent)]
    Gameday(#[from] GamedayError),
}

/// Loads `path` as a game-day plan when it has a top-level `gameday` key, else as a
/// scenario.
pub fn load_drill_file(path: &Path) -> Result<DrillFile, DrillFileError> {
    if is_gameday_file(path) {
        Ok(DrillFile::Gameday(load(path)?))
    } else {
        Ok(DrillFile::Scenario(Box::new(scenario::load(path)?)))
    }
}

impl DrillFile {
    /// The scenarios it runs, in order.
    pub fn scenarios(&self) -> Vec<&LoadedScenario> {
        match self {
            DrillFile::Scenario(s) => vec![s],
            DrillFile::Gameday(g) => g.scenarios.iter().map(|s| &s.loaded).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<GamedayPlan, GamedayError> {
        parse_str(Path::new("plan.yaml"), text)
    }

    /// A plan parses with its defaults; a scenario is not mistaken for a plan.
    #[test]
    fn parses_and_detects_plans() {
        let plan = parse("gameday: az\nscenarios:\n  - path: a.yaml\n    pause_after: 2s\n").unwrap();
        assert!(!plan.stop_on_first_failure);
        assert_eq!(
            plan.scenarios[0].pause_after.map(|d| d.get()),
            Some(Duration::from_secs(2))
        );
        assert!(is_gameday_text("gameday: az\nscenarios: []\n"));
        assert!(!is_gameday_text("name: az-power-interruption\ntarget: {}\n"));
        assert!(!is_gameday_text("- a\n- b\n"));
        assert!(!is_gameday_text(": : :"));
    }

    /// An unknown key is rejected with its line, column and the mapping that holds it.
    #[test]
    fn unknown_key_names_line_and_key() {
        let e = parse("gameday: az\nscenarios:\n  - path: a.yaml\n    pause: 2s\n").unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with("plan.yaml:4:5: scenarios[0]: "), "{text}");
        assert!(text.contains("pause"), "{text}");
    }

    /// A bad duration names its key; an empty list and a bad name are refused.
    #[test]
    fn invalid_values_name_their_key() {
        let e = parse("gameday: az\nscenarios:\n  - path: a.yaml\n    pause_after: soon\n").unwrap_err();
        assert_eq!(e.key(), Some("scenarios[0].pause_after"), "{e}");
        assert!(e.to_string().starts_with("plan.yaml:4:18: "), "{e}");
        let e = parse("gameday: az\nscenarios: []\n").unwrap_err();
        assert_eq!(e.key(), Some("scenarios"));
        assert!(
            e.to_string()
                .starts_with("plan.yaml:2:12: scenarios: lists no scenario"),
            "{e}"
        );
        let e = parse("gameday: Big Day\nscenarios: [{path: a.yaml}]\n").unwrap_err();
        assert_eq!(e.key(), Some("gameday"));
        let e = parse("gameday: az\nscenarios: [{path: a.yaml, pause_after: 2h}]\n").unwrap_err();
        assert_eq!(e.key(), Some("scenarios[0].pause_after"));
    }

    /// A scenario that cannot be loaded fails the plan at the entry naming it, and the
    /// message carries the scenario's own error.
    #[test]
    fn missing_scenario_names_the_entry() {
        let dir = tempfile::tempdir().unwrap();
        let plan = dir.path().join("plan.yaml");
        let e = load_str(&plan, "gameday: az\nscenarios:\n  - path: nowhere.yaml\n").unwrap_err();
        assert_eq!(e.key(), Some("scenarios[0].path"));
        let text = e.to_string();
        assert!(text.contains("plan.yaml:3:11: scenarios[0].path: "), "{text}");
        assert!(text.contains("nowhere.yaml: cannot read"), "{text}");
    }
}
