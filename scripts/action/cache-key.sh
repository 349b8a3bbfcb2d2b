#!/usr/bin/env bash
# GitHub Action step (action.yml): where pylayer caches wheels and index pages, and the cache
# key: the runner's OS and the sha256 of the lock, so a changed lock starts a new cache entry
# (restored from the newest older one) and an unchanged one reuses it as it is.
#   INPUT_WORKING_DIRECTORY  where pylayer.lock lives (default .)
#   INPUT_LOCK               the lock's path relative to it (default pylayer.lock)
# Writes `key`, `restore-prefix` and `path` to GITHUB_OUTPUT, and PYLAYER_CACHE_DIR to
# GITHUB_ENV, when those are set; prints them otherwise.
set -euo pipefail

cd "${INPUT_WORKING_DIRECTORY:-.}"
lock="${INPUT_LOCK:-pylayer.lock}"
cache="${PYLAYER_CACHE_DIR:-${RUNNER_TEMP:-${HOME}/.cache}/pylayer-cache}"
prefix="pylayer-${RUNNER_OS:-$(uname -s)}-"
if [ -f "$lock" ]; then
    if command -v sha256sum > /dev/null; then
        digest=$(sha256sum "$lock" | cut -d' ' -f1)
    else
        digest=$(shasum -a 256 "$lock" | cut -d' ' -f1)
    fi
else
    digest="no-lock"
fi
{
    echo "key=${prefix}${digest}"
    echo "restore-prefix=${prefix}"
    echo "path=${cache}"
} >> "${GITHUB_OUTPUT:-/dev/stdout}"
echo "PYLAYER_CACHE_DIR=${cache}" >> "${GITHUB_ENV:-/dev/stdout}"
