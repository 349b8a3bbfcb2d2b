#!/usr/bin/env bash
# Time `pylayer lock` against `uv pip compile`, cold and warm, on the sets in bench/sets/.
#
#   bench/lock_bench.sh [--quick] [--runs N] [--sets a,b,c] [--out DIR] [--pylayer PATH]
#
#   cold: empty cache directory before every run (hyperfine --prepare 'rm -rf CACHE')
#   warm: the same cache directory for every run, filled by one warm-up run; pylayer gets a
#         lock path that is deleted before every run, so it really resolves each time.
#   Both tools resolve for python 3.12 / x86_64 (manylinux_2_34), wheels only.
#   --quick: sets ldap,data,web-api with 3 runs (about a minute).
#   --uv-python PATH: interpreter handed to uv with --python (default: a real python3.X found
#         under pyenv or on PATH). Without it uv searches PATH for python3.12; on a machine with
#         pyenv shims every shim it tries is a shell script that fails, which costs uv ~0.45 s
#         per call here. --uv-discover measures uv with that search instead.
#
# Prints a table of medians and pylayer/uv ratios per set and their geometric mean;
# hyperfine's JSON exports stay in --out (default: a temp dir).
set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$BENCH")"
PYLAYER="$ROOT/target/release/pylayer"
RUNS=5
SETS=""
OUT=""
PYVER=3.12
UV_PY=""
UV_DISCOVER=0

while [ $# -gt 0 ]; do
  case "$1" in
    --quick) SETS="ldap,data,web-api"; RUNS=3 ;;
    --runs) RUNS="$2"; shift ;;
    --sets) SETS="$2"; shift ;;
    --out) OUT="$2"; shift ;;
    --pylayer) PYLAYER="$2"; shift ;;
    --python-version) PYVER="$2"; shift ;;
    --uv-python) UV_PY="$2"; shift ;;
    --uv-discover) UV_DISCOVER=1 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done

[ -x "$PYLAYER" ] || { echo "$PYLAYER missing: run cargo build --release" >&2; exit 2; }
command -v hyperfine >/dev/null || { echo "hyperfine missing (apt-get install -y hyperfine)" >&2; exit 2; }
if ! command -v uv >/dev/null; then python3 -m pip install --quiet uv; fi
UV="$(command -v uv)"
export UV_PYTHON_DOWNLOADS=never
MINOR="$(echo "$PYVER" | cut -d. -f1-2)"
if [ "$UV_DISCOVER" = 0 ] && [ -z "$UV_PY" ]; then
  for c in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$MINOR".*/bin/python"$MINOR" \
           /usr/bin/python"$MINOR" /usr/local/bin/python"$MINOR"; do
    if [ -x "$c" ] && "$c" -c pass 2>/dev/null; then UV_PY="$c"; break; fi
  done
fi
UV_PY_ARG=""
[ -n "$UV_PY" ] && UV_PY_ARG="--python $UV_PY"

if [ -z "$SETS" ]; then
  SETS="$(cd "$BENCH/sets" && ls *.txt | sed 's/\.txt$//' | paste -sd, -)"
fi
OUT="${OUT:-$(mktemp -d /tmp/pylayer-lock-bench.XXXXXX)}"
mkdir -p "$OUT"
W="$(mktemp -d /tmp/pylayer-lock-bench-work.XXXXXX)"
trap 'rm -rf "$W"' EXIT

echo "# $("$PYLAYER" --version) vs $("$UV" --version); nproc $(nproc); $(date -u +%Y-%m-%dT%H:%MZ); runs $RUNS; load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "# uv interpreter: ${UV_PY:-discovered by uv}; results in $OUT" >&2

IFS=, read -ra SET_LIST <<< "$SETS"
for s in "${SET_LIST[@]}"; do
  f="$BENCH/sets/$s.txt"
  [ -f "$f" ] || { echo "no such set: $f" >&2; exit 2; }
  grep -v '^\s*#' "$f" | sed '/^\s*$/d' > "$W/$s.in"
  PL="$PYLAYER lock -r $f --python $PYVER --arch x86_64"
  UVC="$UV pip compile $W/$s.in --python-platform x86_64-manylinux_2_34 --python-version $PYVER --only-binary :all: --no-header --no-annotate --quiet $UV_PY_ARG"
  echo "## $s" >&2
  hyperfine -N --style basic --runs "$RUNS" --export-json "$OUT/$s-cold.json" \
    --prepare "rm -rf $W/pc $W/pc.lock $W/uc" \
    -n pylayer-cold "$PL --lock $W/pc.lock --cache-dir $W/pc" \
    -n uv-cold "$UVC --cache-dir $W/uc" >&2
  hyperfine -N --style basic --runs "$RUNS" --warmup 1 --export-json "$OUT/$s-warm.json" \
    --prepare "rm -f $W/pw.lock" \
    -n pylayer-warm "$PL --lock $W/pw.lock --cache-dir $W/pw" \
    -n uv-warm "$UVC --cache-dir $W/uw" >&2
  rm -rf "$W/pw" "$W/uw"
done

python3 - "$OUT" "$SETS" <<'EOF'
import json, math, sys
out, sets = sys.argv[1], sys.argv[2].split(",")
def med(path):
    return {r["command"]: r["median"] for r in json.load(open(path))["results"]}
rows, rc, rw = [], [], []
for s in sets:
    c, w = med(f"{out}/{s}-cold.json"), med(f"{out}/{s}-warm.json")
    a, b = c["pylayer-cold"] / c["uv-cold"], w["pylayer-warm"] / w["uv-warm"]
    rc.append(a); rw.append(b)
    rows.append((s, c["pylayer-cold"], c["uv-cold"], a, w["pylayer-warm"], w["uv-warm"], b))
g = lambda xs: math.exp(sum(map(math.log, xs)) / len(xs))
print("| set | pylayer cold (s) | uv cold (s) | cold ratio | pylayer warm (s) | uv warm (s) | warm ratio |")
print("|---|---:|---:|---:|---:|---:|---:|")
for r in rows:
    print(f"| {r[0]} | {r[1]:.3f} | {r[2]:.3f} | {r[3]:.2f} | {r[4]:.3f} | {r[5]:.3f} | {r[6]:.2f} |")
print(f"| **geometric mean** | | | **{g(rc):.2f}** | | | **{g(rw):.2f}** |")
ok_c, ok_w = g(rc) <= 1.0, g(rw) <= 1.5
print(f"\ncold target (ratio <= 1.0): {'met' if ok_c else 'NOT met'}; "
      f"warm target (ratio <= 1.5): {'met' if ok_w else 'NOT met'}")
print("sets over target: cold " + (", ".join(r[0] for r in rows if r[3] > 1.0) or "none")
      + "; warm " + (", ".join(r[0] for r in rows if r[6] > 1.5) or "none"))
EOF
