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

if ! pgrep -x dockerd >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || fail "no Docker engine answers at $SOCKET and starting dockerd needs root"
  say "starting dockerd (log: $LOG)"
  # setsid: the engine must outlive the shell (and process group) that started it.
  setsid nohup dockerd --host "unix://$SOCKET" >"$LOG" 2>&1 < /dev/null &
fi

for _ in $(seq 1 "$WAIT_SECONDS"); do
  if engine_answers; then
    say "engine ready ($(docker -H "unix://$SOCKET" version --format '{{.Server.Version}}'))"
    exit 0
  fi
  sleep 1
done
fail "no Docker engine answered at $SOCKET within ${WAIT_SECONDS}s; last lines of $LOG: $(tail -n 5 "$LOG" 2>/dev/null | tr '\n' ' ')"
