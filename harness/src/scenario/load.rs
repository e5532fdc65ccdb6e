//! `load`: read a scenario file, parse it, validate it, and resolve its paths and fault.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use serde_saphyr::MessageFormatter;

use super::error::{FilePosition, ScenarioError};
use super::fault::{FaultSource, ResolvedFault};
use super::fis_template;
use super::locate::{LineColumn, Locator};
use super::model::Scenario;
use super::params::{self, ParamError};
use super::target::Target;
use super::validate::validate;

/// Largest scenario or template file accepted, in bytes.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// A scenario that parsed, validated and resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedScenario {
    /// The scenario file, as given to [`load`].
    pub path: PathBuf,
    /// The scenario, with `target.local` and `fault.template_file` joined to the scenario
    /// file's directory.
    pub scenario: Scenario,
    /// The fault ready to inject; `None` for a restore test (no disaster template).
    pub fault: Option<ResolvedFault>,
    /// With `fault.restore.switch`: the switch's FIS template, its parameters filled and
    /// checked, with `{{restored_resource_arn}}` left for the run to fill.
    pub switch: Option<serde_json::Value>,
}

/// Reads, parses, validates and resolves the scenario file at `path`.
///
/// Relative paths inside the file (`target.local`, `fault.template_file`) are relative to
/// the file's directory. The FIS template is read, its `{{name}}` placeholders filled from
/// `fault.parameters`, and checked.
pub fn load(path: &Path) -> Result<LoadedScenario, ScenarioError> {
    let text = read_text(path).map_err(|error| ScenarioError::Read {
        file: path.to_owned(),
        error,
    })?;
    load_str(path, &text)
}

/// Like [`load`] for scenario text already in memory; `path` names the file in messages
/// and anchors relative paths.
pub fn load_str(path: &Path, text: &str) -> Result<LoadedScenario, ScenarioError> {
    let parsed = serde_saphyr::from_str::<Scenario>(text);
    let source = Source {
        file: path,
        locator: Locator::new(text),
    };
    let mut scenario = parsed.map_err(|e| source.parse_error(&e))?;
    validate(&scenario).map_err(|v| source.invalid(v.key, v.message))?;
    let dir = path.parent().unwrap_or_else(|| Path::new(""));
    if let Target::Local { stack } = &mut scenario.target {
        *stack = dir.join(&*stack);
    }
    let fault = resolve_fault(&source, dir, &mut scenario)?;
    if let (Some(ResolvedFault::Template(t)), false) = (&fault, scenario.fault.accept_unreverted) {
        if let Some((action, why)) = super::fault::unreverted_actions(t).into_iter().next() {
            let (key, file) = match &scenario.fault.source {
                Some(FaultSource::TemplateFile(p)) => ("fault.template_file", format!("{}: ", p.display())),
                _ => ("fault.template", String::new()),
            };
            return Err(source.invalid(
                key.into(),
                format!("{file}action {action}: {why}; set startInstancesAfterDuration, or fault.accept_unreverted: true to accept it"),
            ));
        }
    }
    if let (Some(ResolvedFault::Template(t)), false) = (&fault, scenario.fault.accept_beyond_max_fault_duration) {
        let cap = scenario.timings.max_fault_duration.get();
        if let Some((action, why)) = super::fault::beyond_cap(t, cap).into_iter().next() {
            let (key, file) = match &scenario.fault.source {
                Some(FaultSource::TemplateFile(p)) => ("fault.template_file", format!("{}: ", p.display())),
                _ => ("fault.template", String::new()),
            };
            return Err(source.invalid(
                key.into(),
                format!("{file}action {action}: {why}; shorten it, raise timings.max_fault_duration, or set fault.accept_beyond_max_fault_duration: true to accept it"),
            ));
        }
    }
    let switch = resolve_switch(&source, dir, &mut scenario)?;
    Ok(LoadedScenario {
        path: path.to_owned(),
        scenario,
        fault,
        switch,
    })
}

/// Reads a UTF-8 file of at most [`MAX_FILE_BYTES`].
fn read_text(path: &Path) -> io::Result<String> {
    let mut bytes = Vec::new();
    File::open(path)?.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("file is larger than {MAX_FILE_BYTES} bytes"),
        ));
    }
    String::from_utf8(bytes).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "file is not valid UTF-8"))
}

/// The scenario file being loaded, for building error messages.
struct Source<'a> {
    file: &'a Path,
    locator: Locator,
}

impl Source<'_> {
    /// The file and the position of the value at `key`, when known.
    fn at(&self, key: &str) -> FilePosition {
        FilePosition {
            file: self.file.to_owned(),
            at: self.locator.value_position(key),
        }
    }

    fn invalid(&self, key: String, message: String) -> ScenarioError {
        ScenarioError::Invalid {
            at: self.at(&key),
            key,
            message,
        }
    }

    fn parse_error(&self, error: &serde_saphyr::Error) -> ScenarioError {
        let at = error.location().and_then(LineColumn::from_location);
        let key = at.and_then(|p| self.locator.path_at(p));
        let message = serde_saphyr::UserMessageFormatter.format_message(innermost(error));
        ScenarioError::Parse {
            at: FilePosition {
                file: self.file.to_owned(),
                at,
            },
            key,
            message: tidy(&message),
        }
    }
}

/// The error under snippet and alias wrappers, which carries the actual message.
fn innermost(mut error: &serde_saphyr::Error) -> &serde_saphyr::Error {
    for _ in 0..16 {
        let inner = match error.without_snippet() {
            serde_saphyr::Error::AliasError { error: inner, .. } => &**inner,
            other => other,
        };
        if std::ptr::eq(inner, error) {
            break;
        }
        error = inner;
    }
    error
}

/// One line, with serde's backtick quoting turned into double quotes.
fn tidy(message: &str) -> String {
    message
        .chars()
        .map(|c| match c {
            '`' => '"',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect()
}

/// The disaster template, read and filled; `None` for a restore test (validate() refused
/// parameters without a template).
fn resolve_fault(
    source: &Source<'_>,
    dir: &Path,
    scenario: &mut Scenario,
) -> Result<Option<ResolvedFault>, ScenarioError> {
    let parameters = &scenario.fault.parameters;
    let Some(fault_source) = &mut scenario.fault.source else {
        return Ok(None);
    };
    resolve_template(source, dir, parameters, fault_source).map(Some)
}

fn resolve_template(
    source: &Source<'_>,
    dir: &Path,
    parameters: &std::collections::BTreeMap<String, String>,
    fault_source: &mut FaultSource,
) -> Result<ResolvedFault, ScenarioError> {
    match fault_source {
        FaultSource::TemplateId(id) => {
            if let Some(name) = parameters.keys().next() {
                return Err(source.invalid(
                    format!("fault.parameters.{name}"),
                    "parameters only apply to template_file or template, not template_id".to_owned(),
                ));
            }
            Ok(ResolvedFault::TemplateId(id.clone()))
        }
        FaultSource::Template(inline) => {
            let key = "fault.template";
            let mut template = inline.clone();
            let template_error = |error: fis_template::TemplateError| ScenarioError::Template {
                at: source.at(&format!("{key}.{}", error.path)),
                key: key.to_owned(),
                template: None,
                error: Box::new(error),
            };
            match params::substitute(&mut template, parameters) {
                Ok(()) => {}
                Err(ParamError::Unfilled(error)) => return Err(template_error(error)),
                Err(ParamError::Unused(name)) => return Err(unused(source, &name)),
            }
            fis_template::check(&template).map_err(template_error)?;
            Ok(ResolvedFault::Template(template))
        }
        FaultSource::TemplateFile(relative) => {
            let key = "fault.template_file";
            let file = dir.join(&*relative);
            let mut template = read_template_file(source, key, &file)?;
            let template_error = |error| ScenarioError::Template {
                at: source.at(key),
                key: key.to_owned(),
                template: Some(file.clone()),
                error: Box::new(error),
            };
            match params::substitute(&mut template, parameters) {
                Ok(()) => {}
                Err(ParamError::Unfilled(error)) => return Err(template_error(error)),
                Err(ParamError::Unused(name)) => return Err(unused(source, &name)),
            }
            fis_template::check(&template).map_err(template_error)?;
            *relative = file.clone();
            Ok(ResolvedFault::Template(template))
        }
    }
}

/// Reads and parses the FIS template file `file` that scenario key `key` names; errors
/// name the key and, for bad JSON, the position in the file.
fn read_template_file(source: &Source<'_>, key: &str, file: &Path) -> Result<serde_json::Value, ScenarioError> {
    let text = read_text(file).map_err(|error| ScenarioError::TemplateRead {
        at: source.at(key),
        key: key.to_owned(),
        file: file.to_path_buf(),
        error,
    })?;
    serde_json::from_str(&text).map_err(|e| ScenarioError::TemplateSyntax {
        at: source.at(key),
        key: key.to_owned(),
        template: Box::new(json_position(file, &e)),
        message: json_message(&e),
    })
}

/// Reads (for `template_file`) and fills `fault.restore.switch`'s template, leaving
/// `{{restored_resource_arn}}` in place, and checks it as a fault template is checked.
fn resolve_switch(
    source: &Source<'_>,
    dir: &Path,
    scenario: &mut Scenario,
) -> Result<Option<serde_json::Value>, ScenarioError> {
    let Some(switch) = scenario.fault.restore.as_mut().and_then(|r| r.switch.as_mut()) else {
        return Ok(None);
    };
    let (key, mut template, file) = match (&mut switch.template_file, &switch.template) {
        (Some(relative), _) => {
            let key = "fault.restore.switch.template_file";
            let file = dir.join(&*relative);
            let template = read_template_file(source, key, &file)?;
            *relative = file.clone();
            (key, template, Some(file))
        }
        (None, Some(inline)) => ("fault.restore.switch.template", inline.clone(), None),
        // validate() requires one of them.
        (None, None) => return Ok(None),
    };
    let template_error = |error: fis_template::TemplateError| ScenarioError::Template {
        at: source.at(key),
        key: key.to_owned(),
        template: file.clone(),
        error: Box::new(error),
    };
    let placeholder = format!("{{{{{}}}}}", super::restore::RESTORED_RESOURCE_ARN);
    let mut parameters = switch.parameters.clone();
    parameters.insert(super::restore::RESTORED_RESOURCE_ARN.to_owned(), placeholder);
    let original = template.clone();
    match params::substitute(&mut template, &parameters) {
        Ok(()) => {}
        Err(ParamError::Unfilled(error)) => return Err(template_error(error)),
        Err(ParamError::Unused(name)) if name == super::restore::RESTORED_RESOURCE_ARN => {
            // The switch need not name the restored resource; every other parameter
            // must still be used.
            let mut again = original;
            if let Err(ParamError::Unused(name)) = params::substitute(&mut again, &switch.parameters) {
                return Err(unused_switch(source, &name));
            }
        }
        Err(ParamError::Unused(name)) => return Err(unused_switch(source, &name)),
    }
    fis_template::check(&template).map_err(template_error)?;
    Ok(Some(template))
}

fn unused_switch(source: &Source<'_>, name: &str) -> ScenarioError {
    source.invalid(
        format!("fault.restore.switch.parameters.{name}"),
        format!("parameter {name:?} is not used by the switch template (no \"{{{{{name}}}}}\" in it)"),
    )
}

fn unused(source: &Source<'_>, name: &str) -> ScenarioError {
    source.invalid(
        format!("fault.parameters.{name}"),
        format!("parameter {name:?} is not used by the template (no \"{{{{{name}}}}}\" in it)"),
    )
}

fn json_position(file: &Path, error: &serde_json::Error) -> FilePosition {
    FilePosition {
        file: file.to_owned(),
        at: (error.line() > 0).then(|| LineColumn {
            line: error.line() as u64,
            column: error.column().max(1) as u64,
        }),
    }
}

/// serde_json's message without its " at line L column C" suffix (the position is shown
/// separately).
fn json_message(error: &serde_json::Error) -> String {
    let full = error.to_string();
    match full.rfind(" at line ") {
        Some(cut) => full[..cut].to_owned(),
        None => full,
    }
}
