#!/usr/bin/env bash
# Installs what the project's own tests use on a fresh Debian machine: nginx (a real HTTP
# target) and wrk (the reference load generator), junitparser (a real JUnit consumer),
# and llama-server with the SmolLM2 model (ci/install-llama-server.sh). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "setup-dev: $*" >&2; }

missing=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]} with apt-get"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}" >&2
fi

if ! python3 -c 'import junitparser' 2>/dev/null; then
  log "installing junitparser (the JUnit consumer the tests read reports with)"
  python3 -m pip install --disable-pip-version-check -q junitparser >&2
fi

bash ci/install-llama-server.sh >/dev/null
log "ready"
