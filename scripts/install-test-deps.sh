#!/usr/bin/env bash
# Installs what the test suite needs beyond a Rust toolchain, from Debian's packages:
# Chromium, for the headless-browser test of report.html; dig, to check the local stack's
# DNS server with a second, independent resolver; jq, GNU time, hyperfine and wrk, which
# the benchmark script's smoke run (tests/tests/bench_smoke.rs) drives. Idempotent: does
# nothing when everything is already there; runs `apt-get update` at most once.
set -euo pipefail

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/dig ] || missing+=(bind9-dnsutils)
[ -x /usr/bin/jq ] || missing+=(jq)
[ -x /usr/bin/time ] || missing+=(time)
[ -x /usr/bin/hyperfine ] || missing+=(hyperfine)
[ -x /usr/bin/wrk ] || missing+=(wrk)

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-test-deps: missing ${missing[*]} and no apt-get to install it; the tests that need them will fail" >&2
    exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        sudo=(sudo)
    else
        echo "install-test-deps: missing ${missing[*]}; run as root to install it; the tests that need them will fail" >&2
        exit 0
    fi
fi

echo "install-test-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
