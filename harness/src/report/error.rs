//! [`RenderError`]: why a report file could not be rendered or written, shared by every
//! renderer (and re-exported by [`super::formats`], which dispatches to them).

use std::path::PathBuf;

use super::chart::ChartError;

/// A report file could not be rendered or written.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A template failed.
    #[error("cannot render {file}: {source:#}")]
    Template {
        /// The file being rendered.
        file: &'static str,
        /// MiniJinja's error (with the template line).
        #[source]
        source: minijinja::Error,
    },
    /// The timeline or trend chart could not be drawn.
    #[error(transparent)]
    Chart(#[from] ChartError),
    /// The XML writer failed.
    #[error("cannot write junit.xml: {source}")]
    Xml {
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The report could not be serialised.
    #[error("cannot serialise report.json: {source}")]
    Json {
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// The file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}
