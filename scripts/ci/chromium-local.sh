#!/usr/bin/env bash
# Debian's Chromium for the HTML report's browser test (and for looking at a report headless).
# Playwright drives it through executable_path; no browser is ever downloaded by a test tool.
#
# Usage:
#   bash scripts/ci/chromium-local.sh install   # apt-get install chromium when it is missing; idempotent
#   bash scripts/ci/chromium-local.sh path      # print the browser's path (exit 1 when missing)
#   bash scripts/ci/chromium-local.sh shot FILE.html OUT.png   # one headless screenshot
#
# Env knobs: TAO_CHROMIUM (default /usr/bin/chromium).
set -euo pipefail

CHROMIUM=${TAO_CHROMIUM:-/usr/bin/chromium}
# Without the background-networking flags Chromium keeps dialling Google's hosts, which a closed
# network refuses many times a second; a fresh profile keeps runs independent.
FLAGS=(--headless --no-sandbox --disable-gpu --disable-background-networking --disable-quic --no-first-run
       --disable-component-update --disable-sync)

log() { echo "[chromium-local] $*" >&2; }

case "${1:-}" in
  install)
    if [ -x "$CHROMIUM" ]; then exit 0; fi
    log "installing Debian chromium (first time only)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
    [ -x "$CHROMIUM" ] || { log "chromium is still missing at $CHROMIUM"; exit 1; }
    ;;
  path)
    [ -x "$CHROMIUM" ] && echo "$CHROMIUM"
    ;;
  shot)
    profile=$(mktemp -d)
    trap 'rm -rf "$profile"' EXIT
    "$CHROMIUM" "${FLAGS[@]}" --user-data-dir="$profile" --window-size=1300,3000 --screenshot="$3" "file://$(realpath "$2")"
    ;;
  *)
    sed -n '2,9p' "$0" >&2
    exit 2
    ;;
esac
