//! `ScenarioError`: everything that can go wrong loading a scenario, each message naming
//! the file, the line and column when known, and the key path.

use std::fmt;
use std::io;
use std::path::PathBuf;

use super::fis_template::TemplateError;
use super::locate::LineColumn;

/// A file and, when known, a line and column in it. Displays as `file:line:column` or `file`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePosition {
    /// The file, as given to [`crate::scenario::load`] (or joined from it).
    pub file: PathBuf,
    /// Where in the file, when known.
    pub at: Option<LineColumn>,
}

impl fmt::Display for FilePosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(at) = self.at {
            write!(f, ":{at}")?;
        }
        Ok(())
    }
}

/// Why a scenario could not be loaded. Every message starts with the scenario file (and
/// `:line:column` when known) and names the key path when there is one.
///
/// I/O errors are kept in `error` fields and shown in the message, so the message is
/// complete on its own.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScenarioError {
    /// The scenario file could not be read.
    #[error("{}: cannot read: {error}", file.display())]
    Read {
        /// The scenario file.
        file: PathBuf,
        /// The I/O error.
        error: io::Error,
    },

    /// The file is not well-formed YAML or does not have the scenario's shape (unknown
    /// key, missing key, wrong type, unparsable duration or rate).
    #[error("{at}: {}{message}", key_prefix(key.as_deref()))]
    Parse {
        /// Where.
        at: FilePosition,
        /// The key path, when it could be determined.
        key: Option<String>,
        /// What is wrong.
        message: String,
    },

    /// A value has the right shape but is not allowed (out of range, bad name, rules
    /// across fields).
    #[error("{at}: {key}: {message}")]
    Invalid {
        /// Where.
        at: FilePosition,
        /// The key path, e.g. `traffic.write_ratio`.
        key: String,
        /// What is wrong.
        message: String,
    },

    /// The FIS template file named by `fault.template_file` could not be read.
    #[error("{at}: {key}: cannot read {}: {error}", file.display())]
    TemplateRead {
        /// Where in the scenario the file is named.
        at: FilePosition,
        /// `fault.template_file`.
        key: String,
        /// The template file, joined to the scenario's directory.
        file: PathBuf,
        /// The I/O error.
        error: io::Error,
    },

    /// The FIS template file is not valid JSON.
    #[error("{at}: {key}: {template}: {message}")]
    TemplateSyntax {
        /// Where in the scenario the file is named.
        at: FilePosition,
        /// `fault.template_file`.
        key: String,
        /// The template file and the position of the syntax error.
        template: Box<FilePosition>,
        /// What is wrong.
        message: String,
    },

    /// The FIS template (from a file or inline) is not a valid experiment template, or its
    /// parameters do not match its placeholders.
    #[error("{at}: {key}: {}{error}", template_prefix(template.as_ref()))]
    Template {
        /// Where in the scenario (for inline templates, the offending value).
        at: FilePosition,
        /// `fault.template_file` or `fault.template`.
        key: String,
        /// The template file, for `template_file`.
        template: Option<PathBuf>,
        /// The problem and its JSON path inside the template.
        error: Box<TemplateError>,
    },
}

pub(crate) fn key_prefix(key: Option<&str>) -> String {
    key.map(|k| format!("{k}: ")).unwrap_or_default()
}

fn template_prefix(template: Option<&PathBuf>) -> String {
    template.map(|t| format!("{}: ", t.display())).unwrap_or_default()
}

impl ScenarioError {
    /// The scenario file the error is about.
    pub fn file(&self) -> &std::path::Path {
        match self {
            Self::Read { file, .. } => file,
            Self::Parse { at, .. }
            | Self::Invalid { at, .. }
            | Self::TemplateRead { at, .. }
            | Self::TemplateSyntax { at, .. }
            | Self::Template { at, .. } => &at.file,
        }
    }

    /// The key path the error is about, when known.
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::Read { .. } => None,
            Self::Parse { key, .. } => key.as_deref(),
            Self::Invalid { key, .. }
            | Self::TemplateRead { key, .. }
            | Self::TemplateSyntax { key, .. }
            | Self::Template { key, .. } => Some(key),
        }
    }
}
