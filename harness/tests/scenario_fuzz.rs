//! Random mutations of valid scenario files never make `load` panic or hang.

mod support;

use std::fs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use drdrill::scenario;
use support::fixtures::scenario_fixtures as fixtures;

const ITERATIONS: u64 = 2_000;
const MAX_LOAD_TIME: Duration = Duration::from_secs(5);

/// Bytes that are significant to YAML or JSON, or likely to confuse a parser.
const INTERESTING: &[u8] = b":{}[]-&*!|>'\"#%@,?\n\t \\{}0.9/\xff";

/// A tiny deterministic xorshift64 generator.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Applies one to three random edits: truncate, swap two bytes, overwrite or insert an
/// interesting byte, or duplicate a slice.
fn mutate(rng: &mut XorShift, input: &[u8]) -> Vec<u8> {
    let mut bytes = input.to_vec();
    for _ in 0..=rng.below(3) {
        if bytes.is_empty() {
            break;
        }
        let len = bytes.len();
        match rng.below(5) {
            0 => bytes.truncate(rng.below(len)),
            1 => {
                let (a, b) = (rng.below(len), rng.below(len));
                bytes.swap(a, b);
            }
            2 => bytes[rng.below(len)] = INTERESTING[rng.below(INTERESTING.len())],
            3 => bytes.insert(rng.below(len + 1), INTERESTING[rng.below(INTERESTING.len())]),
            _ => {
                let start = rng.below(len);
                let end = (start + 1 + rng.below(40)).min(len);
                let slice = bytes[start..end].to_vec();
                let at = rng.below(bytes.len() + 1);
                bytes.splice(at..at, slice);
            }
        }
    }
    bytes
}

/// Feeds 2,000 random mutations of the valid fixtures (and of the FIS template they read)
/// to `load`: it never panics and every call returns within a bounded time.
#[test]
fn mutated_files_never_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::create_dir(dir.path().join("fis")).expect("mkdir");
    let template_path = dir.path().join("fis/az-power-interruption.json");
    let template = fs::read(fixtures().join("fis/az-power-interruption.json")).expect("template");
    let bases: Vec<Vec<u8>> = [
        "az-power-interruption.yaml",
        "inline-template-aws.yaml",
        "template-id.yaml",
    ]
    .iter()
    .map(|name| fs::read(fixtures().join(name)).expect("fixture"))
    .collect();
    let case = dir.path().join("case.yaml");
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let (mut ok, mut failed) = (0u32, 0u32);

    for iteration in 0..ITERATIONS {
        let base = &bases[rng.below(bases.len())];
        // Every fourth case mutates the template instead of the scenario.
        let (scenario_bytes, template_bytes) = if iteration % 4 == 3 {
            (base.clone(), mutate(&mut rng, &template))
        } else {
            (mutate(&mut rng, base), template.clone())
        };
        fs::write(&case, &scenario_bytes).expect("write case");
        fs::write(&template_path, &template_bytes).expect("write template");

        let started = Instant::now();
        let result = catch_unwind(AssertUnwindSafe(|| scenario::load(&case)));
        let elapsed = started.elapsed();
        let outcome = result.unwrap_or_else(|_| {
            panic!(
                "load panicked on iteration {iteration}; input:\n{}",
                String::from_utf8_lossy(&scenario_bytes)
            )
        });
        assert!(
            elapsed < MAX_LOAD_TIME,
            "iteration {iteration} took {elapsed:?}; input:\n{}",
            String::from_utf8_lossy(&scenario_bytes)
        );
        match outcome {
            Ok(_) => ok += 1,
            Err(e) => {
                failed += 1;
                let message = e.to_string();
                assert!(message.contains("case.yaml"), "message lacks the file: {message}");
            }
        }
    }
    // Both outcomes occur, so the mutations neither always break nor never break the file.
    assert!(ok > 0 && failed > 0, "ok={ok} failed={failed}");
}
