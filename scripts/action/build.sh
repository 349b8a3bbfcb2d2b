#!/usr/bin/env bash
# GitHub Action step (action.yml): `pylayer build` with the action's inputs, then the zips,
# manifests and CodeSha256 (what Lambda shows for the layer) as step outputs.
#   INPUT_WORKING_DIRECTORY  where to run (default .)
#   INPUT_ARGS               more `pylayer build` arguments, split on spaces
#                            (e.g. `-r requirements.txt --python 3.12 --arch arm64`)
#   INPUT_OUT_DIR            where the zips go (default dist)
# Outputs (GITHUB_OUTPUT, else stdout): zip, manifest, code-sha256 (of the first layer), and
# zips / manifests (every layer, space-separated). Needs pylayer and python3 on PATH.
set -euo pipefail

cd "${INPUT_WORKING_DIRECTORY:-.}"
out_dir="${INPUT_OUT_DIR:-dist}"
read -r -a args <<< "${INPUT_ARGS:-}"
json=$(pylayer build --json --out-dir "$out_dir" "${args[@]}")
printf '%s\n' "$json" | python3 -c '
import json, os, sys
out_dir = sys.argv[1]
layers = json.load(sys.stdin)["layers"]
zips = [os.path.join(out_dir, m["zip"]) for m in layers]
manifests = [z[: -len(".zip")] + ".json" for z in zips]
print("zip=" + zips[0])
print("manifest=" + manifests[0])
print("code-sha256=" + layers[0]["code_sha256"])
print("zips=" + " ".join(zips))
print("manifests=" + " ".join(manifests))
' "$out_dir" >> "${GITHUB_OUTPUT:-/dev/stdout}"
