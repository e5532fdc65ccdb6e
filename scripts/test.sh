#!/usr/bin/env bash
# Runs the whole test suite: unit, integration and end-to-end tests of every crate, then
# the code checks (cargo fmt, clippy and doc with warnings denied, and the shape rules:
# files and functions not too long, no import cycles between sibling modules).
# Everything the tests need is started by the tests themselves (local stacks on
# loopback, containers); the tests contact nothing outside this machine. This script may
# install Debian's docker.io and cfn-lint (PyPI) through their package clients.
#
# The container tests (tests/tests/container_*.rs, named `in_container_*`) also need a
# Docker engine and the local stack's image: this script starts an engine when there is
# none and it can (scripts/docker-engine.sh: Debian's docker.io as root), builds the image
# without any registry (scripts/build-image.sh), and stops the engine it started when it
# exits. When no engine can be had they are left out of the run and the last line says
# they were SKIPPED, and why. DRDRILL_CONTAINER_TESTS=off leaves them out without trying.
#
# The PostgreSQL tests (demo-app/tests/, named `with_postgres_*`) need a PostgreSQL server:
# scripts/postgres.sh starts a throwaway one on loopback (installing Debian's postgresql
# as root when missing) and this script stops it when it exits. When none can be had they
# are left out and a closing line says they were SKIPPED, and why.
# DRDRILL_POSTGRES_TESTS=off leaves them out without trying.
set -euo pipefail
cd "$(dirname "$0")/.."

mkdir -p target
# One build, never rebuilt in place: incremental compilation would only add gigabytes of
# session caches to the disk the build shares with everything else (a clean build of the
# tests without them is ~5.4 GB).
export CARGO_INCREMENTAL=0
stop_docker=
stop_postgres=
cleanup() {
    if [[ -n $stop_postgres ]]; then scripts/postgres.sh stop || true; fi
    if [[ -n $stop_docker ]]; then scripts/docker-engine.sh stop; fi
}
trap cleanup EXIT
setup_log=target/container-setup.log
: >"$setup_log"
container_skip=
if [[ ${DRDRILL_CONTAINER_TESTS:-} == off ]]; then
    container_skip="DRDRILL_CONTAINER_TESTS=off"
else
    stop_docker=1
    # The image packs the local stack's binary from the test build below (not a separate
    # release build): build the tests first, then the image, then run them.
    if ! scripts/docker-engine.sh start 2>&1 | tee -a "$setup_log"; then
        container_skip=$(tail -n 1 "$setup_log")
    elif ! cargo test --workspace --all-targets --locked --no-run 2>&1 | tee -a "$setup_log"; then
        container_skip="the tests did not build (the run below shows why)"
    elif ! scripts/build-image.sh --binary "${CARGO_TARGET_DIR:-target}/debug/drdrill-localstack" 2>&1 | tee -a "$setup_log"; then
        container_skip="the image could not be built: $(tail -n 1 "$setup_log")"
    else
        # Engine and image are ready: from here a container test that cannot start its
        # container fails instead of skipping.
        export DRDRILL_CONTAINER_TESTS=require
    fi
fi

# cfn-lint, for the reference CloudFormation stack's lint test (from PyPI).
if ! command -v cfn-lint >/dev/null 2>&1; then
    python3 -m pip install --quiet cfn-lint >/dev/null 2>&1 || true
    command -v pyenv >/dev/null 2>&1 && pyenv rehash 2>/dev/null || true
fi
if command -v cfn-lint >/dev/null 2>&1; then
    export DRDRILL_CFN_LINT=require
else
    echo "test.sh: cfn-lint is not installed and could not be; its test will be skipped" >&2
fi

# moto (PyPI's moto[server], pinned), the AWS implementation the fidelity tests
# (tests/tests/fidelity_moto.rs) compare the local stack and the plan with.
MOTO_VERSION=5.2.1
if ! command -v moto_server >/dev/null 2>&1; then
    python3 -m pip install --quiet "moto[server]==$MOTO_VERSION" >/dev/null 2>&1 || true
    command -v pyenv >/dev/null 2>&1 && pyenv rehash 2>/dev/null || true
fi
if command -v moto_server >/dev/null 2>&1; then
    export DRDRILL_MOTO_TESTS=require
else
    echo "test.sh: moto_server is not installed and could not be; the fidelity tests will be skipped" >&2
fi

# PostgreSQL (Debian's package), for the demo app's tests.
pg_log=target/postgres-setup.log
: >"$pg_log"
postgres_skip=
if [[ ${DRDRILL_POSTGRES_TESTS:-} == off ]]; then
    postgres_skip="DRDRILL_POSTGRES_TESTS=off"
else
    # Stop only a server this run started (one already running is left as it was).
    scripts/postgres.sh status >/dev/null 2>&1 || stop_postgres=1
    if scripts/postgres.sh start 2>&1 | tee -a "$pg_log"; then
        # From here a PostgreSQL test that finds no server fails instead of skipping.
        export DRDRILL_POSTGRES_TESTS=require
    else
        postgres_skip=$(tail -n 1 "$pg_log")
    fi
fi

# Chromium (Debian's package), for the headless-browser test of report.html.
scripts/install-test-deps.sh || echo "test.sh: test dependencies could not be installed; the tests that need them will fail" >&2

args=("$@")
skips=()
# Tests that cannot run are left out, so that they are counted as filtered out, not passed.
if [[ -n $container_skip ]]; then skips+=(--skip in_container_); fi
if [[ -n $postgres_skip ]]; then skips+=(--skip with_postgres_); fi
if ((${#skips[@]})); then
    if [[ " ${args[*]-} " == *" -- "* ]]; then
        args+=("${skips[@]}")
    else
        args+=(-- "${skips[@]}")
    fi
fi

test_log=target/test-output.log
status=0
# --no-fail-fast: one failing test binary must not keep the others (the container tests
# among them) from running and being reported.
cargo test --workspace --all-targets --locked --no-fail-fast "${args[@]}" 2>&1 | tee "$test_log" || status=$?

# The habits the tests do not see, each reported on its own line and failing the run:
# formatting, lints with warnings denied, the API docs with warnings denied, and the shape
# rules (scripts/code-shape: no file over 600 lines, no import cycle between sibling
# modules; scripts/long-fns: no function over 80 lines that does not say why).
# cargo doc names its targets (the libraries, the one binary whose docs do not collide
# with its library's, and the examples): the examples need the dev-dependencies, so the
# dependencies resolve with the features clippy's --all-targets gave them and their checks
# are reused; without them cargo doc re-checked every dependency (3 min in CI).
code_checks=(
    "cargo fmt --all --check"
    "cargo clippy --workspace --all-targets --locked -- -D warnings"
    "cargo doc --workspace --no-deps --lib --bin drdrill-probe --examples --locked"
    "scripts/code-shape"
    "scripts/long-fns"
)
check_lines=()
for check in "${code_checks[@]}"; do
    if RUSTDOCFLAGS="-D warnings" $check 2>&1 | tee -a "$test_log"; then
        check_lines+=("code check: ok: $check")
    else
        check_lines+=("code check: FAILED: $check (its output is above)")
        status=1
    fi
done
printf '%s\n' "${check_lines[@]}"

if [[ -n $postgres_skip ]]; then
    echo "postgres tests: SKIPPED ($postgres_skip)"
else
    ok=$(grep -cE '^test .*with_postgres_.* \.\.\. ok$' "$test_log" || true)
    failed=$(grep -cE '^test .*with_postgres_.* \.\.\. FAILED$' "$test_log" || true)
    version=$(scripts/postgres.sh status 2>/dev/null || echo '(stopped by then)')
    if ((ok + failed == 0)); then
        echo "postgres tests: NOT RUN (PostgreSQL $version was ready, but no with_postgres_ test reported a result; see above)"
    else
        echo "postgres tests: run against PostgreSQL $version: $ok ok, $failed failed"
    fi
fi
if [[ -n $container_skip ]]; then
    echo "container tests: SKIPPED ($container_skip)"
else
    ok=$(grep -cE '^test .*in_container_.* \.\.\. ok$' "$test_log" || true)
    failed=$(grep -cE '^test .*in_container_.* \.\.\. FAILED$' "$test_log" || true)
    engine=$(scripts/docker-engine.sh status | sed 's/^Docker //' || true)
    if ((ok + failed == 0)); then
        echo "container tests: NOT RUN (Docker $engine was ready, but no in_container_ test reported a result; see above)"
    else
        echo "container tests: run against Docker $engine: $ok ok, $failed failed"
    fi
fi
exit "$status"
