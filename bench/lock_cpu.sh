#!/usr/bin/env bash
# CPU time of `pylayer lock` for two or more pylayer binaries, side by side: wall, user and
# system seconds, cold (empty cache), warm (cache filled, lock file deleted) and offline
# (cache filled, `--offline`: no network at all, so what is left is pylayer's own work).
#
#   bench/lock_cpu.sh [--runs N] [--sets a,b] [--out DIR] NAME=BINARY NAME=BINARY...
#
#   The binaries are run alternately, run by run (the order rotates), so a busy moment on
#   shared cores hits each alike. Sets are files under bench/sets/ (default: hard/extras,llm).
#   Prints the median of each measure per set, mode and binary; every run stays in
#   OUT/runs.tsv (default OUT: a temp dir).
set -uo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RUNS=3
SETS="hard/extras,llm"
OUT=""
BINS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS="$2"; shift ;;
    --sets) SETS="$2"; shift ;;
    --out) OUT="$2"; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *=*) BINS+=("$1") ;;
    *) echo "unknown argument: $1 (binaries are given as NAME=PATH)" >&2; exit 2 ;;
  esac
  shift
done
[ "${#BINS[@]}" -ge 1 ] || { echo "give at least one NAME=BINARY" >&2; exit 2; }
for b in "${BINS[@]}"; do
  [ -x "${b#*=}" ] || { echo "${b#*=} is not an executable" >&2; exit 2; }
done
OUT="${OUT:-$(mktemp -d /tmp/pylayer-lock-cpu.XXXXXX)}"
mkdir -p "$OUT"
W="$(mktemp -d /tmp/pylayer-lock-cpu-work.XXXXXX)"
trap 'rm -rf "$W"' EXIT
RESULTS="$OUT/runs.tsv"
printf 'set\tmode\trun\tbinary\twall\tuser\tsys\texit\n' > "$RESULTS"
echo "# $(date -u +%Y-%m-%dT%H:%MZ); nproc $(nproc); runs $RUNS; load $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# one SET MODE RUN NAME BINARY: runs one lock and appends its times.
one() {
  local set="$1" mode="$2" run="$3" name="$4" bin="$5" n="${1//\//-}" extra=()
  [ "$mode" = offline ] && extra=(--offline)
  rm -f "$W/$name.lock"
  /usr/bin/time -f '%e %U %S' -o "$W/time" "$bin" lock -r "$W/$n.in" --python 3.12 \
    --arch x86_64 --lock "$W/$name.lock" --cache-dir "$W/cache-$name" "${extra[@]}" \
    >/dev/null 2>"$W/stderr"
  local rc=$?
  read -r wall user sys < <(tail -1 "$W/time")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$set" "$mode" "$run" "$name" "$wall" "$user" "$sys" "$rc" >> "$RESULTS"
  echo "  $mode run $run $name: wall $wall user $user sys $sys exit $rc" >&2
}

IFS=, read -r -a SET_LIST <<< "$SETS"
for s in "${SET_LIST[@]}"; do
  f="$BENCH/sets/$s.txt"
  [ -f "$f" ] || { echo "no such set: $f" >&2; exit 2; }
  n="${s//\//-}"
  grep -v '^\s*#' "$f" | sed 's/\s#.*//; /^\s*$/d' > "$W/$n.in"
  echo "## $s" >&2
  for mode in cold warm offline; do
    for run in $(seq 1 "$RUNS"); do
      k=${#BINS[@]}
      for i in $(seq 0 $((k - 1))); do
        b="${BINS[$(( (i + run) % k ))]}"
        name="${b%%=*}"
        [ "$mode" = cold ] && rm -rf "$W/cache-$name"
        one "$s" "$mode" "$run" "$name" "${b#*=}"
      done
    done
  done
done

python3 - "$RESULTS" <<'EOF'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
keys = []
for r in rows:
    k = (r["set"], r["mode"], r["binary"])
    if k not in keys:
        keys.append(k)
print("| set | mode | binary | wall (s) | user (s) | sys (s) | failed runs |")
print("|---|---|---|---:|---:|---:|---:|")
for k in keys:
    rs = [r for r in rows if (r["set"], r["mode"], r["binary"]) == k]
    med = lambda f: statistics.median(float(r[f]) for r in rs)
    bad = sum(r["exit"] != "0" for r in rs)
    print(f"| {k[0]} | {k[1]} | {k[2]} | {med('wall'):.2f} | {med('user'):.2f} | {med('sys'):.2f} | {bad} |")
EOF
