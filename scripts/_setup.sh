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
