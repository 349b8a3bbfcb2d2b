#!/usr/bin/env bash
# Times `pylayer check` on a ~250 MB (unzipped) layer: numpy, pandas, scipy and
# scikit-learn for python3.12/x86_64, built by pylayer itself. Warm = the zip is in the
# page cache (hyperfine's warm-up runs make it so). Figures go to docs/benchmarks.md.
#
#   bench/check_layer.sh            # builds the layer once, then times the check
#   BENCH_DIR=/tmp/x bench/check_layer.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/pylayer"
work="${BENCH_DIR:-$(mktemp -d)}"
mkdir -p "$work"
zip="$work/dist/big-py3.12-x86_64.zip"
if [ ! -f "$zip" ]; then
  # The build runs the check too; a failed check (exit 1) still leaves the zip.
  (cd "$work" && "$bin" build numpy pandas scipy scikit-learn --python 3.12 --arch x86_64 --name big >/dev/null) || true
fi
"$bin" check "$zip" --python 3.12 --arch x86_64 | head -1
echo "zip: $(stat -c %s "$zip") bytes; cores: $(nproc)"
hyperfine --warmup 3 --runs 10 --ignore-failure "$bin check $zip --python 3.12 --arch x86_64"
/usr/bin/time -f "max RSS %M KB" "$bin" check "$zip" --python 3.12 --arch x86_64 >/dev/null || true
