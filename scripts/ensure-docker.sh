#!/usr/bin/env bash
# Make sure a Docker engine answers on this machine: install Debian's docker.io and
# start dockerd when none does. Idempotent; safe to call from tests, CI and the demo.
set -euo pipefail

SOCKET="${SHADOWGATE_DOCKER_SOCKET:-/var/run/docker.sock}"
LOG="${SHADOWGATE_DOCKERD_LOG:-/tmp/shadowgate-dockerd.log}"
WAIT_SECONDS="${SHADOWGATE_DOCKER_WAIT:-60}"

say() { echo "ensure-docker: $*" >&2; }
fail() { say "error: $*"; exit 1; }

engine_answers() { docker -H "unix://$SOCKET" version --format '{{.Server.Version}}' >/dev/null 2>&1; }

if command -v docker >/dev/null 2>&1 && engine_answers; then
  say "engine already running ($(docker -H "unix://$SOCKET" version --format '{{.Server.Version}}'))"
  exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || fail "dockerd is not installed and installing it needs root (apt-get install docker.io)"
  command -v apt-get >/dev/null 2>&1 || fail "dockerd is not installed and apt-get is not available to install docker.io"
  say "installing Debian's docker.io"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null || fail "apt-get update failed"
  apt-get install -y -qq --no-install-recommends docker.io >/dev/null || fail "apt-get install docker.io failed"
fi
command -v docker >/dev/null 2>&1 || fail "docker CLI missing after installing docker.io"

# A dockerd that is alive (a killed one can linger as a zombie and must not count).
live_dockerd() {
  local pid state
  for pid in $(pgrep -x dockerd 2>/dev/null); do
    state="$(awk '/^State:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)"
    if [ -n "$state" ] && [ "$state" != "Z" ]; then return 0; fi
  done
  return 1
}

start_dockerd() {
  # an engine that was killed leaves pid files behind, and a new one refuses to start
  rm -f /var/run/docker.pid /var/run/docker/containerd/containerd.pid
  say "starting dockerd (log: $LOG)"
  # setsid: the engine must outlive the shell (and process group) that started it.
  setsid nohup dockerd --host "unix://$SOCKET" >"$LOG" 2>&1 < /dev/null &
  started=$!
}

started=""
attempts=0
if ! live_dockerd; then
  [ "$(id -u)" = 0 ] || fail "no Docker engine answers at $SOCKET and starting dockerd needs root"
  start_dockerd
  attempts=1
fi

for _ in $(seq 1 "$WAIT_SECONDS"); do
  if engine_answers; then
    say "engine ready ($(docker -H "unix://$SOCKET" version --format '{{.Server.Version}}'))"
    exit 0
  fi
  if [ -n "$started" ] && ! kill -0 "$started" 2>/dev/null; then
    # a previous engine's containerd still dying makes the first start time out: retry
    [ "$attempts" -lt 3 ] || fail "dockerd exited while starting ($attempts attempts); last lines of $LOG: $(tail -n 5 "$LOG" 2>/dev/null | tr '\n' ' ')"
    say "dockerd exited while starting; retrying"
    sleep 2
    start_dockerd
    attempts=$((attempts + 1))
  fi
  sleep 1
done
fail "no Docker engine answered at $SOCKET within ${WAIT_SECONDS}s; last lines of $LOG: $(tail -n 5 "$LOG" 2>/dev/null | tr '\n' ' ')"
