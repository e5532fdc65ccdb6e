//! The run folder's manifest: the SHA-256 of every file the run wrote (among them the
//! scenario and the FIS template as run, `scenario.yaml` and `template.json`), with the
//! drdrill version, the run id, and the account and region the drill ran against (never
//! credentials), written last (`manifest.json`), so that `drdrill report --verify DIR`
//! can name any file changed, missing or added since. The manifest is written to a
//! temporary name and renamed into place, so a crash never leaves a half-written one.
//!
//! The renderings (`report.html`, `summary.md`, `junit.xml`) are written from the
//! evidence (every other file), so the evidence has its own digest — SHA-256 over its
//! files' paths and digests — which the manifest records and `report.html` shows.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The manifest's file name in a run folder.
pub const FILE: &str = "manifest.json";

/// What the manifest records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The drdrill version that wrote the run.
    pub drdrill_version: String,
    /// The run's id (the folder's name).
    pub run_id: String,
    /// The AWS account the drill ran against (the local stack's for a local target), when
    /// the run got as far as connecting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// The region the drill ran against, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The digest of the evidence (see [`evidence_digest`]), as `report.html` shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence_sha256: Option<String>,
    /// SHA-256 (hex) of every file of the folder but the manifest, by path relative to
    /// the folder (`/`-separated).
    pub files: BTreeMap<String, String>,
}

/// Why a manifest could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// `manifest.json` is not a manifest.
    #[error("{path}: not a drdrill manifest: {message}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
}

/// How a folder differs from its manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Discrepancy {
    /// The file's content changed.
    Changed(String),
    /// The file is gone.
    Missing(String),
    /// The file was not there when the manifest was written.
    Added(String),
}

impl std::fmt::Display for Discrepancy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Discrepancy::Changed(p) => write!(f, "changed: {p}"),
            Discrepancy::Missing(p) => write!(f, "missing: {p}"),
            Discrepancy::Added(p) => write!(f, "added: {p}"),
        }
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ManifestError + '_ {
    move |source| ManifestError::Io {
        path: path.to_owned(),
        source,
    }
}

/// SHA-256 of every file under `dir` but the manifest (and its temporary), by relative path.
fn digests(dir: &Path) -> Result<BTreeMap<String, String>, ManifestError> {
    let mut out = BTreeMap::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).map_err(io(&d))? {
            let path = entry.map_err(io(&d))?.path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let rel = path
                .strip_prefix(dir)
                .unwrap_or(&path)
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            if rel == FILE || rel == format!("{FILE}.tmp") {
                continue;
            }
            let bytes = std::fs::read(&path).map_err(io(&path))?;
            let hex: String = Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
            out.insert(rel, hex);
        }
    }
    Ok(out)
}

/// The files rendered from the evidence, which its digest leaves out.
pub const RENDERINGS: &[&str] = &["report.html", "summary.md", "junit.xml"];

/// Where a run ran: what the manifest records besides the files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Provenance {
    /// The AWS account.
    pub account_id: Option<String>,
    /// The region.
    pub region: Option<String>,
}

/// SHA-256 (hex) over the evidence of a file table: a line `<path>  <sha256>\n` per file
/// but the [`RENDERINGS`], in path order.
fn evidence_of(files: &BTreeMap<String, String>) -> String {
    let mut h = Sha256::new();
    for (path, digest) in files.iter().filter(|(p, _)| !RENDERINGS.contains(&p.as_str())) {
        h.update(format!("{path}  {digest}\n").as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The digest of the evidence in `dir` now: every file but the renderings and the
/// manifest (see `evidence_of`).
pub fn evidence_digest(dir: &Path) -> Result<String, ManifestError> {
    Ok(evidence_of(&digests(dir)?))
}

/// Writes `dir/manifest.json` for run `run_id` (atomically: temporary file, then rename).
pub fn write(dir: &Path, run_id: &str, provenance: &Provenance) -> Result<Manifest, ManifestError> {
    let files = digests(dir)?;
    let manifest = Manifest {
        drdrill_version: env!("CARGO_PKG_VERSION").to_string(),
        run_id: run_id.to_string(),
        account_id: provenance.account_id.clone(),
        region: provenance.region.clone(),
        evidence_sha256: Some(evidence_of(&files)),
        files,
    };
    let tmp = dir.join(format!("{FILE}.tmp"));
    let text = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
    std::fs::write(&tmp, text).map_err(io(&tmp))?;
    let path = dir.join(FILE);
    std::fs::rename(&tmp, &path).map_err(io(&path))?;
    Ok(manifest)
}

/// Checks `dir` against its manifest: every file changed, missing or added, by path.
pub fn verify(dir: &Path) -> Result<Vec<Discrepancy>, ManifestError> {
    let path = dir.join(FILE);
    let text = std::fs::read(&path).map_err(io(&path))?;
    let manifest: Manifest = serde_json::from_slice(&text).map_err(|e| ManifestError::Malformed {
        path: path.clone(),
        message: e.to_string(),
    })?;
    let now = digests(dir)?;
    let mut out = Vec::new();
    for (file, digest) in &manifest.files {
        match now.get(file) {
            None => out.push(Discrepancy::Missing(file.clone())),
            Some(d) if d != digest => out.push(Discrepancy::Changed(file.clone())),
            Some(_) => {}
        }
    }
    out.extend(
        now.keys()
            .filter(|f| !manifest.files.contains_key(*f))
            .map(|f| Discrepancy::Added(f.clone())),
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A folder verifies against its own manifest; a changed, a removed and an added file
    /// are each named; the digest is SHA-256's (the empty file's is the well-known one).
    #[test]
    fn verify_names_changed_missing_and_added_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("report.json"), "{}").unwrap();
        std::fs::write(dir.path().join("empty"), "").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/probes.csv"), "a,b\n").unwrap();
        let m = write(dir.path(), "run-1", &Provenance::default()).unwrap();
        assert_eq!(
            m.files["empty"],
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(m.files.len(), 3, "{:?}", m.files);
        assert_eq!(verify(dir.path()).unwrap(), Vec::new());
        // The evidence digest is over the paths and digests of the files, renderings
        // left out: computed here independently with sha256sum's line format.
        let lines: String = m.files.iter().map(|(p, d)| format!("{p}  {d}\n")).collect();
        let expect: String = Sha256::digest(lines.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(m.evidence_sha256.as_deref(), Some(expect.as_str()));
        std::fs::write(dir.path().join("report.html"), "<html/>").unwrap();
        assert_eq!(
            evidence_digest(dir.path()).unwrap(),
            expect,
            "a rendering is not evidence"
        );
        std::fs::remove_file(dir.path().join("report.html")).unwrap();
        std::fs::write(dir.path().join("report.json"), "{\"verdict\":\"pass\"}").unwrap();
        std::fs::remove_file(dir.path().join("sub/probes.csv")).unwrap();
        std::fs::write(dir.path().join("extra.txt"), "x").unwrap();
        assert_eq!(
            verify(dir.path()).unwrap(),
            vec![
                Discrepancy::Changed("report.json".into()),
                Discrepancy::Missing("sub/probes.csv".into()),
                Discrepancy::Added("extra.txt".into()),
            ]
        );
    }
}
