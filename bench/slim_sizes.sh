#!/usr/bin/env bash
# Unzipped layer size without and with --slim, and what each category saved, for the five
# sets of issue 15 on python3.12/x86_64 (sizes do not depend on the build profile).
#   bench/slim_sizes.sh [PYLAYER]     (default target/release/pylayer, else target/debug/pylayer)
# Prints one Markdown table row per set. A build over Lambda's 250 MB limit exits 1 with the
# zip and manifest written; the figures are read from the manifests either way.
set -uo pipefail
P=${1:-target/release/pylayer}
[ -x "$P" ] || P=target/debug/pylayer
P=$(realpath "$P")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "| set | without --slim | with --slim | saved | tests | stubs | sources | static libs | foreign binaries | debug symbols (files) | left unstripped |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for set in "pandas numpy scipy pyarrow scikit-learn" "pandas pyarrow" "scikit-learn" \
  "fastapi pydantic" "boto3 botocore"; do
  d="$work/$(echo "$set" | tr ' ' '-')"
  mkdir -p "$d" && cd "$d"
  "$P" build $set --python 3.12 --arch x86_64 --name b --out-dir full --json >full.json 2>full.err
  "$P" build $set --python 3.12 --arch x86_64 --name b --out-dir slim --slim --json >slim.json 2>slim.err
  python3 - "$set" <<'PY'
import json, sys
full = json.load(open("full.json"))["layers"][0]
slim = json.load(open("slim.json"))["layers"][0]
s = slim["slim"]
mb = lambda n: f"{n / 1e6:.1f} MB"
c = {x["category"]: x for x in s["categories"]}
cell = lambda k: mb(c[k]["bytes"])
print(f"| `{sys.argv[1]}` | {mb(full['unzipped_bytes'])} | {mb(slim['unzipped_bytes'])} | "
      f"{mb(s['removed_bytes'])} ({100 * s['removed_bytes'] / full['unzipped_bytes']:.1f} %) | "
      f"{cell('tests')} | {cell('stubs')} | {cell('sources')} | {cell('static-libs')} | "
      f"{cell('foreign-binaries')} | {cell('debug-symbols')} ({c['debug-symbols']['files']}) | "
      f"{len(s['left_unstripped'])} |")
PY
done
