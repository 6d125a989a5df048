#!/usr/bin/env bash
# A real Docker engine for tests and local use, without systemd and without any registry.
#
#   scripts/ci/docker-local.sh start   # install docker.io if missing; dockerd on a private socket
#   scripts/ci/docker-local.sh images  # build local images with no registry:
#                                      #   local/busybox:1     (busybox-static, ~2 MB, <1 s)
#                                      #   local/debian-py:12  (debootstrap minbase + python3, ~40 s once)
#   scripts/ci/docker-local.sh stop    # kill our containers and stop the daemon
# Then: export DOCKER_HOST=unix://$TAO_AUTOML_DOCKER_STATE_DIR/docker.sock (start prints this line).
#
# Network rules: --bridge=none --iptables=false, so there is no docker0 bridge (it would take
# 172.17.0.0/16, a private range we must not send traffic to) and no iptables rules; containers
# run with --network none. Containers need `docker run --init` (tini ships with docker.io) so a
# Python PID 1 gets SIGTERM on `docker stop`.
# Everything lives under the state dir (default /tmp/tao-automl-docker), so images built once are
# reused by later sessions. `start` when the engine already answers is a no-op that prints the
# export line. Runs as root (CI runs as root on a fresh Debian machine).
set -euo pipefail
STATE=${TAO_AUTOML_DOCKER_STATE_DIR:-/tmp/tao-automl-docker}
SOCK=unix://$STATE/docker.sock
PY_IMAGE=local/debian-py:12
BB_IMAGE=local/busybox:1
log() { echo "[docker-local] $*" >&2; }

apt_install() {
  log "installing $*"
  if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -print -quit 2>/dev/null)" ]; then
    apt-get update -qq
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null; }
}

up() { docker -H "$SOCK" info >/dev/null 2>&1; }

start() {
  if up; then
    log "already running on $SOCK"
    echo "export DOCKER_HOST=$SOCK"
    return 0
  fi
  command -v dockerd >/dev/null && command -v docker-init >/dev/null && command -v docker >/dev/null \
    || apt_install docker.io tini
  mkdir -p "$STATE"
  dockerd --data-root "$STATE/root" --exec-root "$STATE/exec" -H "$SOCK" \
          -p "$STATE/dockerd.pid" --bridge=none --iptables=false --ip-masq=false \
          >"$STATE/dockerd.log" 2>&1 &
  local pid=$!
  for _ in $(seq 150); do
    kill -0 "$pid" 2>/dev/null || { tail -20 "$STATE/dockerd.log" >&2; exit 1; }
    up && break
    sleep 0.2
  done
  up || { log "dockerd did not answer within 30 s"; tail -20 "$STATE/dockerd.log" >&2; exit 1; }
  docker -H "$SOCK" version --format 'dockerd {{.Server.Version}} up' >&2
  echo "export DOCKER_HOST=$SOCK"
}

images() {
  up || { log "engine not running; run: $0 start"; exit 1; }
  export DOCKER_HOST=$SOCK
  if ! docker image inspect "$BB_IMAGE" >/dev/null 2>&1; then
    [ -x /bin/busybox ] && dpkg -s busybox-static >/dev/null 2>&1 || apt_install busybox-static
    local bb; bb=$(mktemp -d)
    mkdir -p "$bb/bin" "$bb/tmp"; chmod 1777 "$bb/tmp"
    cp /bin/busybox "$bb/bin/"
    for a in $("$bb/bin/busybox" --list); do [ "$a" = busybox ] || ln -s busybox "$bb/bin/$a"; done
    tar -C "$bb" -c . | docker import - "$BB_IMAGE" >/dev/null
    rm -rf "$bb"
    log "built $BB_IMAGE"
  fi
  if [ "${WITH_PY_IMAGE:-1}" = 1 ] && ! docker image inspect "$PY_IMAGE" >/dev/null 2>&1; then
    command -v debootstrap >/dev/null || apt_install debootstrap
    local rf="$STATE/rootfs"
    rm -rf "$rf"
    log "building $PY_IMAGE with debootstrap (about 40 s)"
    debootstrap --variant=minbase --include=python3 bookworm "$rf" http://deb.debian.org/debian \
      >"$STATE/debootstrap.log" 2>&1 || { tail -20 "$STATE/debootstrap.log" >&2; exit 1; }
    rm -rf "$rf"/var/cache/apt/archives/*.deb "$rf"/var/lib/apt/lists/*
    tar -C "$rf" -c . | docker import -c 'ENV PYTHONUNBUFFERED=1' - "$PY_IMAGE" >/dev/null
    rm -rf "$rf"
    log "built $PY_IMAGE"
  fi
  docker images --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep '^local/' >&2 || true
}

stop() {
  [ -s "$STATE/dockerd.pid" ] || { log "not running"; return 0; }
  local pid; pid=$(cat "$STATE/dockerd.pid")
  if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" != dockerd ]; then
    log "stale pid file (pid $pid is not dockerd)"
    rm -f "$STATE/dockerd.pid"
    return 0
  fi
  docker -H "$SOCK" ps -q | xargs -r docker -H "$SOCK" kill >/dev/null 2>&1 || true
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && { log "dockerd $pid ignored SIGTERM; killing"; kill -9 "$pid" 2>/dev/null || true; }
  umount "$STATE/exec/netns/default" 2>/dev/null || true
  rm -f "$STATE/dockerd.pid"
  log "stopped"
}

case "${1:-start}" in
  start) start ;;
  images) images ;;
  stop) stop ;;
  *) echo "usage: $0 start|images|stop" >&2; exit 2 ;;
esac
