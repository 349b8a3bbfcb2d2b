#!/usr/bin/env bash
# Downloads the PEP 517 build backends the source-build tests install into their test index
# (setuptools, wheel, hatchling and its dependencies, flit_core), as wheels only, into
# target/test-backends/. Idempotent: does nothing when they are there already.
set -euo pipefail
cd "$(dirname "$0")/.."
dest="target/test-backends"
if [ -f "$dest/.complete" ]; then
    exit 0
fi
mkdir -p "$dest"
python3 -m pip download --quiet --disable-pip-version-check --only-binary :all: \
    --python-version 3.11 --dest "$dest" \
    setuptools wheel hatchling flit_core tomli
touch "$dest/.complete"
