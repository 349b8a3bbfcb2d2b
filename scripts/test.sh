#!/usr/bin/env bash
# Runs pylayer's whole test suite: the hermetic core (an index on 127.0.0.1, moto for AWS)
# plus the tests that use the public package index (cargo feature `real-index`).
# Installs what the tests use besides Rust: uv (the resolution oracle) and moto (the AWS
# endpoint) from the package registry, maturin, pre-commit and aws-sam-cli (the packaging
# tests) in target/test-tools, and Debian's chromium, qemu-user and an aarch64 python3.11
# sysroot (scripts/test-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install --quiet --disable-pip-version-check -r scripts/test-requirements.txt
./scripts/test-deps.sh
./scripts/test-backends.sh
# maturin, pre-commit and aws-sam-cli in an environment of their own (the tests find them
# through PYLAYER_TEST_TOOLS).
export PYLAYER_TEST_TOOLS="$PWD/target/test-tools/bin"
if [ ! -x target/test-tools/bin/python ]; then
    UV_PYTHON_DOWNLOADS=never python3 -m uv venv --quiet --python "$(python3 -c 'import sys; print(sys.executable)')" target/test-tools
fi
UV_PYTHON_DOWNLOADS=never python3 -m uv pip install --quiet --python target/test-tools/bin/python \
    -r scripts/test-tools.txt

cargo test --all-targets --features real-index "$@"
