#!/usr/bin/env bash
# Time `pylayer lock` against `uv pip compile`, cold and warm, on the sets in bench/sets/.
#
#   bench/lock_bench.sh [--quick|--hard] [--runs N] [--sets a,b,c] [--out DIR] [--pylayer PATH]
#
#   The two tools are run alternately, run by run (odd runs pylayer first, even runs uv
#   first), so a busy moment on shared cores hits both alike.
#   cold: both cache directories are emptied before every run.
#   warm: one warm-up run of each tool fills its cache; pylayer's lock file is deleted before
#         every run, so it really resolves each time.
#   Both tools resolve for python 3.12 / x86_64 (manylinux_2_34), wheels only. A set file may
#   choose another Python with a line `# python: 3.11`, and declare `# expect: fail` when it
#   has no solution (the conflict sets): then both tools must exit non-zero, and pylayer's
#   first error line is kept in the output directory.
#   --quick: sets ldap,data,web-api with 3 runs (about a minute).
#   --hard: the resolver's hard sets in bench/sets/hard/ (a long backtrack to a conflict, a
#         large scientific stack, many extras). Without --quick, --hard or --sets: every set.
#   --uv-python PATH: interpreter handed to uv with --python (default: a real python3.X found
#         under pyenv or on PATH). Without it uv searches PATH for python3.X; on a machine with
#         pyenv shims every shim it tries is a shell script that fails, which costs uv ~0.45 s
#         per call here. --uv-discover measures uv with that search instead.
#
# Prints a table of medians and pylayer/uv ratios per set and their geometric mean, and
# checks the targets of issue 14 (no set slower than 1.5x uv; geometric mean <= 0.6x uv
# cold and <= 0.5x warm; a conflict set answered cold no slower than uv and warm under 2 s).
# Every timing stays in OUT/runs.tsv (default OUT: a temp dir).
set -uo pipefail

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
    --hard) SETS="$(cd "$BENCH/sets" && ls hard/*.txt | sed 's/\.txt$//' | paste -sd, -)" ;;
    --runs) RUNS="$2"; shift ;;
    --sets) SETS="$2"; shift ;;
    --out) OUT="$2"; shift ;;
    --pylayer) PYLAYER="$2"; shift ;;
    --python-version) PYVER="$2"; shift ;;
    --uv-python) UV_PY="$2"; shift ;;
    --uv-discover) UV_DISCOVER=1 ;;
    -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done

[ -x "$PYLAYER" ] || { echo "$PYLAYER missing: run cargo build --release" >&2; exit 2; }
if ! command -v uv >/dev/null; then python3 -m pip install --quiet uv; fi
UV="$(command -v uv)"
export UV_PYTHON_DOWNLOADS=never

# A real interpreter of the given minor version for uv's --python (not a pyenv shim).
uv_python_for() {
  local minor="$1" c
  for c in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$minor".*/bin/python"$minor" \
           /usr/bin/python"$minor" /usr/local/bin/python"$minor"; do
    if [ -x "$c" ] && "$c" -c pass 2>/dev/null; then echo "$c"; return; fi
  done
}

if [ -z "$SETS" ]; then
  SETS="$(cd "$BENCH/sets" && ls *.txt hard/*.txt | sed 's/\.txt$//' | paste -sd, -)"
fi
OUT="${OUT:-$(mktemp -d /tmp/pylayer-lock-bench.XXXXXX)}"
mkdir -p "$OUT"
W="$(mktemp -d /tmp/pylayer-lock-bench-work.XXXXXX)"
trap 'rm -rf "$W"' EXIT
RESULTS="$OUT/runs.tsv"
printf 'set\tcache\trun\ttool\tseconds\texit\n' > "$RESULTS"

echo "# $("$PYLAYER" --version) vs $("$UV" --version); nproc $(nproc); $(date -u +%Y-%m-%dT%H:%MZ); runs $RUNS; load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "# results in $OUT" >&2

now() { date +%s%N; }

# time_one SET CACHE RUN TOOL CMD...: runs CMD, appends its wall time and exit code.
time_one() {
  local set="$1" cache="$2" run="$3" tool="$4"; shift 4
  local t0 t1 rc
  t0="$(now)"
  "$@" >"$W/stdout" 2>"$W/stderr-$tool"
  rc=$?
  t1="$(now)"
  local secs
  secs="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')"
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$set" "$cache" "$run" "$tool" "$secs" "$rc" >> "$RESULTS"
  printf '  %-5s run %s %-7s %7ss exit %s\n' "$cache" "$run" "$tool" "$secs" "$rc" >&2
}

IFS=, read -ra SET_LIST <<< "$SETS"
for s in "${SET_LIST[@]}"; do
  f="$BENCH/sets/$s.txt"
  [ -f "$f" ] || { echo "no such set: $f" >&2; exit 2; }
  n="${s//\//-}"
  grep -v '^\s*#' "$f" | sed 's/\s#.*//; /^\s*$/d' > "$W/$n.in"
  py="$(sed -n 's/^# python: *\([0-9.]*\).*/\1/p' "$f" | head -1)"
  py="${py:-$PYVER}"
  uvpy=""
  if [ "$UV_DISCOVER" = 0 ]; then uvpy="${UV_PY:-$(uv_python_for "$py")}"; fi
  PL=("$PYLAYER" lock -r "$W/$n.in" --python "$py" --arch x86_64)
  UVC=("$UV" pip compile "$W/$n.in" --python-platform x86_64-manylinux_2_34
       --python-version "$py" --only-binary :all: --no-header --no-annotate --quiet)
  [ -n "$uvpy" ] && UVC+=(--python "$uvpy")
  echo "## $s (python $py; uv interpreter: ${uvpy:-discovered by uv})" >&2
  for run in $(seq 1 "$RUNS"); do
    rm -rf "$W/pc" "$W/pc.lock" "$W/uc"
    if [ $((run % 2)) = 1 ]; then
      time_one "$s" cold "$run" pylayer "${PL[@]}" --lock "$W/pc.lock" --cache-dir "$W/pc"
      time_one "$s" cold "$run" uv "${UVC[@]}" --cache-dir "$W/uc"
    else
      time_one "$s" cold "$run" uv "${UVC[@]}" --cache-dir "$W/uc"
      time_one "$s" cold "$run" pylayer "${PL[@]}" --lock "$W/pc.lock" --cache-dir "$W/pc"
    fi
  done
  grep -m1 '^error' "$W/stderr-pylayer" > "$OUT/$n-pylayer-error.txt" || true
  "${PL[@]}" --lock "$W/pw.lock" --cache-dir "$W/pw" >/dev/null 2>&1
  "${UVC[@]}" --cache-dir "$W/uw" >/dev/null 2>&1
  for run in $(seq 1 "$RUNS"); do
    rm -f "$W/pw.lock"
    if [ $((run % 2)) = 1 ]; then
      time_one "$s" warm "$run" pylayer "${PL[@]}" --lock "$W/pw.lock" --cache-dir "$W/pw"
      time_one "$s" warm "$run" uv "${UVC[@]}" --cache-dir "$W/uw"
    else
      time_one "$s" warm "$run" uv "${UVC[@]}" --cache-dir "$W/uw"
      time_one "$s" warm "$run" pylayer "${PL[@]}" --lock "$W/pw.lock" --cache-dir "$W/pw"
    fi
  done
  rm -rf "$W/pw" "$W/uw" "$W/pw.lock"
done

python3 - "$RESULTS" "$SETS" "$BENCH/sets" <<'EOF'
import csv, math, statistics, sys
path, sets, setdir = sys.argv[1], sys.argv[2].split(","), sys.argv[3]
runs = {}
fails = []
for r in csv.DictReader(open(path), delimiter="\t"):
    runs.setdefault((r["set"], r["cache"], r["tool"]), []).append((float(r["seconds"]), int(r["exit"])))
rows, rc, rw = [], [], []
for s in sets:
    expect_fail = "# expect: fail" in open(f"{setdir}/{s}.txt").read()
    med = {}
    for cache in ("cold", "warm"):
        for tool in ("pylayer", "uv"):
            xs = runs[(s, cache, tool)]
            med[(cache, tool)] = statistics.median(x for x, _ in xs)
            bad = [e for _, e in xs if (e == 0) == expect_fail]
            if bad:
                fails.append(f"{s} {cache} {tool}: exit {bad[0]} ({'expected failure' if expect_fail else 'expected success'})")
    a = med[("cold", "pylayer")] / med[("cold", "uv")]
    b = med[("warm", "pylayer")] / med[("warm", "uv")]
    rc.append(a); rw.append(b)
    rows.append((s, med[("cold", "pylayer")], med[("cold", "uv")], a,
                 med[("warm", "pylayer")], med[("warm", "uv")], b, expect_fail))
g = lambda xs: math.exp(sum(map(math.log, xs)) / len(xs))
print("| set | pylayer cold (s) | uv cold (s) | cold ratio | pylayer warm (s) | uv warm (s) | warm ratio |")
print("|---|---:|---:|---:|---:|---:|---:|")
for r in rows:
    print(f"| {r[0]} | {r[1]:.3f} | {r[2]:.3f} | {r[3]:.2f} | {r[4]:.3f} | {r[5]:.3f} | {r[6]:.2f} |")
print(f"| **geometric mean** | | | **{g(rc):.2f}** | | | **{g(rw):.2f}** |")
print()
slow = [f"{r[0]} {c} {x:.2f}" for r in rows for c, x in (("cold", r[3]), ("warm", r[6])) if x > 1.5]
print(f"no set slower than 1.5x uv: {'met' if not slow else 'NOT met (' + ', '.join(slow) + ')'}")
print(f"geometric mean cold <= 0.6: {'met' if g(rc) <= 0.6 else 'NOT met'} ({g(rc):.2f}); "
      f"warm <= 0.5: {'met' if g(rw) <= 0.5 else 'NOT met'} ({g(rw):.2f})")
for r in rows:
    if r[7]:
        print(f"conflict {r[0]}: cold no slower than uv: {'met' if r[3] <= 1.0 else 'NOT met'} "
              f"({r[1]:.2f} s vs {r[2]:.2f} s); warm under 2 s: {'met' if r[4] < 2 else 'NOT met'} ({r[4]:.2f} s)")
for f in fails:
    print(f"UNEXPECTED EXIT: {f}")
sys.exit(1 if fails else 0)
EOF
