#!/usr/bin/env bash
# Installs what the project's own tests use on a fresh Debian machine: nginx (a real HTTP
# target) and wrk (the reference load generator), junitparser (a real JUnit consumer),
# llama-server with the SmolLM2 model (ci/install-llama-server.sh), and oha (the second
# load generator `cargo bench --bench load_engine` compares with). Idempotent.
#
# --no-oha skips oha: it is built from source (about 4 minutes on 2 cores) and only the
# benchmark uses it, so a job that runs no benchmark (.ci/run) need not wait for it.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "setup-dev: $*" >&2; }

with_oha=true
for arg in "$@"; do
  case "$arg" in
    --no-oha) with_oha=false ;;
    *) log "unknown argument $arg: the only one is --no-oha"; exit 2 ;;
  esac
done

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

if $with_oha && ! command -v oha >/dev/null 2>&1; then
  if [ -x "$HOME/.cargo/bin/oha" ]; then
    log "oha is in ~/.cargo/bin but not on PATH: add ~/.cargo/bin to PATH for the benchmark"
  else
    log "installing oha with cargo install oha --locked (built from source: about 4 minutes on 2 cores)"
    cargo install oha --locked >&2
  fi
fi

bash ci/install-llama-server.sh >/dev/null
log "ready"
