#!/usr/bin/env bash
# GitHub Action step (action.yml): installs pylayer into a virtual environment of its own and
# puts its bin/ on the job's PATH.
#   INPUT_WHEEL    a pylayer wheel file to install (no index needed)
#   INPUT_VERSION  else: this version from the package index (`pip install pylayer==…`)
#   otherwise      the action's own source (GITHUB_ACTION_PATH), built by pip with maturin:
#                  needs Rust 1.95 or newer on the runner
# Linux and macOS runners. Writes the bin directory to GITHUB_PATH when that is set.
set -euo pipefail

venv="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/pylayer-venv"
python="${PYTHON:-python3}"
"$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check)
if [ -n "${INPUT_WHEEL:-}" ]; then
    if [ ! -f "$INPUT_WHEEL" ]; then
        echo "::error::wheel '$INPUT_WHEEL' does not exist (input 'wheel')" >&2
        exit 2
    fi
    "${pip[@]}" --no-deps "$INPUT_WHEEL"
elif [ -n "${INPUT_VERSION:-}" ]; then
    "${pip[@]}" "pylayer==${INPUT_VERSION}"
else
    "${pip[@]}" "${GITHUB_ACTION_PATH:?set GITHUB_ACTION_PATH, INPUT_WHEEL or INPUT_VERSION}"
fi
"$venv/bin/pylayer" --version
if [ -n "${GITHUB_PATH:-}" ]; then
    echo "$venv/bin" >> "$GITHUB_PATH"
fi
