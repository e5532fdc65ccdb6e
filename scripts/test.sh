#!/usr/bin/env bash
# Runs the whole test suite: unit, integration and end-to-end tests of every crate.
# Everything the tests need is started by the tests themselves (local stacks on
# loopback); nothing outside this machine is contacted.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --all-targets --locked "$@"
