#!/usr/bin/env bash
# Runs pylayer's whole test suite. Installs what the tests use besides Rust:
# uv (the resolution oracle) and moto (the AWS endpoint) from the package registry.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install --quiet --disable-pip-version-check -r scripts/test-requirements.txt
# Debian packages for the test/inspect tests: chromium, qemu-user, an aarch64 python3.11 sysroot.
./scripts/test-deps.sh

cargo test --all-targets "$@"
