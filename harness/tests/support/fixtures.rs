//! Recorded inputs: the scenario fixtures, and for the report tests the run folders under
//! `tests/fixtures/reports/` (real runs of the bundled scenarios; `killed-mid-fault` is
//! one cut off mid-fault with torn last lines and no report.json).

use std::path::{Path, PathBuf};

use drdrill::report::Report;

/// The folder of the scenario fixtures (`tests/fixtures/scenarios/`): valid and broken
/// scenario files for the loading, error and fuzz tests.
pub fn scenario_fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/scenarios")
}

/// The fixture run folder `name`.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/reports")
        .join(name)
}

/// A copy of the fixture run folder `name` in a fresh temporary directory (tests render
/// into the copy, never into the fixtures). Returns the directory and the run folder.
pub fn copy_fixture(name: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dst = tmp.path().join(name);
    copy_dir(&fixture(name), &dst);
    (tmp, dst)
}

/// Copies the files of `src` into `dst` (created).
pub fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).expect("create copy");
    for entry in std::fs::read_dir(src).expect("read fixture") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), dst.join(entry.file_name())).expect("copy file");
    }
}

/// The report of fixture `name` (rebuilt for a folder without report.json).
pub fn report(name: &str) -> Report {
    drdrill::report::load_run(&fixture(name)).expect("fixture loads").report
}
