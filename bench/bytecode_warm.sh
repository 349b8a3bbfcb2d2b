#!/usr/bin/env bash
# Warm build time with and without bytecode (issue 12's "warm build with bytecode <= 1.5x
# without"): for each set, one untimed build of each mode fills the cache, then N builds of
# each mode alternate run by run; prints the medians and their ratio.
#   bench/bytecode_warm.sh [PYLAYER] [N]     (default target/release/pylayer, 10)
set -euo pipefail
P=$(realpath "${1:-target/release/pylayer}")
N=${2:-10}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for set in "pandas numpy" "fastapi pydantic"; do
  d="$work/$(echo "$set" | tr ' ' '-')"
  mkdir -p "$d" && cd "$d"
  build() { "$P" build $set --python 3.12 --arch x86_64 --cache-dir "$d/cache" -q "$@" >/dev/null 2>&1; }
  build && build --compile-bytecode
  for i in $(seq "$N"); do
    s=$(date +%s%N); build; e=$(date +%s%N); echo $(( (e - s) / 1000 )) >> none.us
    s=$(date +%s%N); build --compile-bytecode; e=$(date +%s%N); echo $(( (e - s) / 1000 )) >> all.us
  done
  python3 - "$set" <<'PY'
import statistics, sys
n = [int(x) / 1e6 for x in open("none.us")]
a = [int(x) / 1e6 for x in open("all.us")]
print(f"{sys.argv[1]}: none median {statistics.median(n):.3f} s ({min(n):.3f}-{max(n):.3f}), "
      f"all median {statistics.median(a):.3f} s ({min(a):.3f}-{max(a):.3f}), "
      f"ratio {statistics.median(a) / statistics.median(n):.2f}, {len(n)} runs each, alternating")
PY
done
