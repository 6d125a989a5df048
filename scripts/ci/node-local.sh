#!/usr/bin/env bash
# Node and the official TypeScript MCP client for the test suite.
#
#   scripts/ci/node-local.sh install   # apt-get install nodejs npm when missing; npm ci in tests/mcp_ts
#
# The client's version is pinned in tests/mcp_ts/package.json and locked in package-lock.json, so
# `npm ci` installs exactly what the tests were written against. Idempotent; runs as root on CI.
set -euo pipefail
cd "$(dirname "$0")/../.."
log() { echo "[node-local] $*" >&2; }

install() {
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    log "installing nodejs npm"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
  fi
  npm ci --prefix tests/mcp_ts --no-audit --no-fund --loglevel=error >/dev/null
  log "node $(node --version), $(npm ls --prefix tests/mcp_ts --depth=0 2>/dev/null | grep modelcontextprotocol)"
}

case "${1:-}" in
  install) install ;;
  *) echo "usage: $0 install" >&2; exit 2 ;;
esac
