#!/usr/bin/env bash
# GitHub Action step (action.yml): `pylayer publish` for each zip the build step made, with
# the job's AWS credentials (the standard chain: environment, OIDC role from
# aws-actions/configure-aws-credentials, profiles). Publishes nothing for a zip whose bytes
# are already the latest version.
#   INPUT_WORKING_DIRECTORY  where to run (default .)
#   INPUT_ZIPS               the zips, space-separated (the build step's `zips` output)
#   INPUT_PUBLISH_ARGS       more `pylayer publish` arguments (e.g. `--name deps --region eu-west-1`)
set -euo pipefail

cd "${INPUT_WORKING_DIRECTORY:-.}"
read -r -a zips <<< "${INPUT_ZIPS:?INPUT_ZIPS names no zip}"
read -r -a args <<< "${INPUT_PUBLISH_ARGS:-}"
for zip in "${zips[@]}"; do
    pylayer publish "${args[@]}" "$zip"
done
