#!/usr/bin/env bash
# Runs pylayer's whole test suite: the hermetic core (an index on 127.0.0.1, moto for AWS)
# plus the tests that use the public package index (cargo feature `real-index`).
# Installs what the tests use besides Rust: uv (the resolution oracle) and moto (the AWS
# endpoint) from the package registry, and Debian's chromium, qemu-user and an aarch64
# python3.11 sysroot (scripts/test-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install --quiet --disable-pip-version-check -r scripts/test-requirements.txt
./scripts/test-deps.sh

cargo test --all-targets --features real-index "$@"
