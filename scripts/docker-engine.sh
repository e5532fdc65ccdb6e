#!/usr/bin/env bash
# Makes a Docker engine available for the container tests, and stops only what it started.
#
#   scripts/docker-engine.sh start    # engine running? done. Else install Debian's docker.io
#                                     # (as root, when apt-get exists) and start dockerd
#   scripts/docker-engine.sh stop     # stop the dockerd that `start` started (none otherwise)
#   scripts/docker-engine.sh status   # exit 0 when an engine answers
#
# Idempotent: `start` twice starts one daemon; `stop` without a pidfile does nothing. An
# engine that was already running (Docker Desktop, a systemd service, CI's own) is used
# and never stopped. The pidfile and the daemon's log live in $DRDRILL_DOCKER_STATE
# (default target/docker-engine). The daemon pulls nothing: images are built locally.
#
# On failure `start` exits 1 and its last line on stderr is `no Docker engine: <reason>`.
set -euo pipefail
cd "$(dirname "$0")/.."

STATE=${DRDRILL_DOCKER_STATE:-target/docker-engine}
PIDFILE=$STATE/dockerd.pid
LOG=$STATE/dockerd.log
START_TIMEOUT=${DRDRILL_DOCKER_START_TIMEOUT:-60}

say() { echo "docker-engine: $*" >&2; }
fail() {
    echo "no Docker engine: $*" >&2
    exit 1
}

# `docker info` with a bound, so that a wedged daemon cannot hang the caller.
engine_answers() {
    command -v docker >/dev/null 2>&1 || return 1
    timeout 10 docker info --format '{{.ServerVersion}}' >/dev/null 2>&1
}

engine_version() {
    timeout 10 docker info --format '{{.ServerVersion}}' 2>/dev/null || echo unknown
}

our_pid() {
    [[ -f $PIDFILE ]] || return 1
    local pid
    pid=$(cat "$PIDFILE")
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

install_engine() {
    if command -v dockerd >/dev/null 2>&1; then
        return 0
    fi
    [[ $(id -u) -eq 0 ]] || fail "dockerd is not installed and installing docker.io needs root"
    command -v apt-get >/dev/null 2>&1 || fail "dockerd is not installed and there is no apt-get to install docker.io"
    say "installing Debian's docker.io"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y --no-install-recommends docker.io >"$STATE/apt.log" 2>&1; then
        # A fresh machine may have stale package lists: refresh once and retry.
        apt-get update >>"$STATE/apt.log" 2>&1 || true
        apt-get install -y --no-install-recommends docker.io >>"$STATE/apt.log" 2>&1 ||
            fail "apt-get install docker.io failed: $(tail -n 1 "$STATE/apt.log")"
    fi
    command -v dockerd >/dev/null 2>&1 || fail "docker.io installed but dockerd is not on PATH"
}

start() {
    mkdir -p "$STATE"
    if engine_answers; then
        say "engine already running (Docker $(engine_version))"
        return 0
    fi
    if pid=$(our_pid); then
        say "dockerd (pid $pid) started earlier is not answering yet"
    else
        install_engine
        [[ $(id -u) -eq 0 ]] || fail "starting dockerd needs root"
        if ! pgrep -x dockerd >/dev/null 2>&1; then
            # Left behind by a daemon that was killed (e.g. with the session that started
            # it); dockerd refuses to start while its pidfile exists.
            rm -f /var/run/docker.sock /var/run/docker.pid
        fi
        say "starting dockerd (log: $LOG)"
        # setsid: the daemon outlives this script and the caller's process group, and
        # `stop` ends it by its pid.
        setsid dockerd --host unix:///var/run/docker.sock >"$LOG" 2>&1 </dev/null &
        echo $! >"$PIDFILE"
    fi
    local waited=0
    until engine_answers; do
        if ! our_pid >/dev/null; then
            rm -f "$PIDFILE"
            fail "dockerd exited at start: $(grep -E 'level=(fatal|error)' "$LOG" | tail -n 1 || tail -n 1 "$LOG")"
        fi
        if ((waited >= START_TIMEOUT)); then
            stop
            fail "dockerd did not answer within ${START_TIMEOUT}s"
        fi
        sleep 1
        waited=$((waited + 1))
    done
    say "dockerd running (Docker $(engine_version), pid $(cat "$PIDFILE"))"
}

stop() {
    local pid
    if ! pid=$(our_pid); then
        rm -f "$PIDFILE"
        return 0
    fi
    say "stopping dockerd (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 30); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 1
    done
    if kill -0 "$pid" 2>/dev/null; then
        say "dockerd did not stop within 30s; killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$PIDFILE"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status) engine_answers && echo "Docker $(engine_version)" ;;
*)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
