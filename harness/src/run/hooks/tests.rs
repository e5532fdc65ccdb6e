//! The test hooks stay out of what users build: only `[dev-dependencies]` turn the
//! `test-hooks` feature on, so `cargo build --release --bin drdrill` (and any build
//! without the tests) compiles the hooks to nothing.

use std::path::{Path, PathBuf};

/// The workspace's manifests: the root's and each member's.
fn manifests() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
    let mut out = vec![root.join("Cargo.toml")];
    for entry in std::fs::read_dir(&root).unwrap() {
        let manifest = entry.unwrap().path().join("Cargo.toml");
        if manifest.is_file() {
            out.push(manifest);
        }
    }
    out
}

/// Each line naming `test-hooks` with the `[section]` it is in.
fn mentions(text: &str) -> Vec<(String, String)> {
    let mut section = String::new();
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            section = line.to_string();
        } else if !line.starts_with('#') && line.contains("test-hooks") {
            out.push((section.clone(), line.to_string()));
        }
    }
    out
}

/// No manifest turns the feature on outside `[dev-dependencies]`, and it is not a
/// default feature; the harness defines it and its tests turn it on.
#[test]
fn only_dev_dependencies_turn_the_test_hooks_on() {
    let mut dev = 0;
    for path in manifests() {
        let text = std::fs::read_to_string(&path).unwrap();
        for (section, line) in mentions(&text) {
            let allowed =
                section == "[dev-dependencies]" || (section == "[features]" && line.starts_with("test-hooks"));
            assert!(allowed, "{}: {section} turns test-hooks on: {line}", path.display());
            dev += usize::from(section == "[dev-dependencies]");
        }
    }
    assert!(dev >= 1, "no dev-dependency turns test-hooks on for the tests");
}

// The package's own tests are built with the hooks (through its dev-dependency on
// itself): checked when they compile.
const _: () = assert!(
    cfg!(feature = "test-hooks"),
    "build with the test-hooks feature (harness/Cargo.toml's self dev-dependency)"
);
