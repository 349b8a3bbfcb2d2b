#!/usr/bin/env python3
"""Compare the pins of `pylayer lock` with those of `uv pip compile`.

For every requirement set in bench/sets/*.txt (or the ones named on the command line),
resolve with pylayer (python3.12 / x86_64, dry run) and with

    uv pip compile --python-platform x86_64-manylinux_2_34 --python-version 3.12.11 \
        --only-binary :all: --no-header --no-annotate

and compare the resulting `name==version` pins (names normalized per PEP 503).
Prints a summary table and the differences; exits 1 when any set differs or fails.

Usage:
    bench/compare_uv.py [--pylayer PATH] [--python-version 3.12.11] [--keep DIR] [SET ...]

The default uv --python-version is 3.12.11: pylayer's marker environment for the python3.12
Lambda runtime uses python_full_version 3.12.11, while `--python-version 3.12` makes uv assume
3.12.0. Pass `--python-version 3.12` to see uv's default behaviour.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SETS = BENCH / "sets"


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def ensure_uv() -> str:
    uv = shutil.which("uv")
    if uv:
        return uv
    print("uv not found: installing it with pip", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "uv"], check=True)
    uv = shutil.which("uv")
    if uv:
        return uv
    # pip may have put it in a scripts dir not on PATH
    out = subprocess.run(
        [sys.executable, "-c", "import sysconfig; print(sysconfig.get_path('scripts'))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    cand = Path(out) / "uv"
    if cand.exists():
        return str(cand)
    sys.exit("could not install uv")


def parse_pins(text: str) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        spec = line.split()[0]
        if "==" not in spec:
            continue
        name, version = spec.split("==", 1)
        name = name.split("[", 1)[0]
        pins[normalize(name)] = version
    return pins


def read_set(path: Path) -> list[str]:
    reqs = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            reqs.append(line)
    return reqs


def run_pylayer(pylayer: str, set_file: Path, work: Path, cache_dir: Path | None):
    lock = work / f"{set_file.stem}.pylayer.lock"
    cmd = [pylayer, "lock", "-r", str(set_file), "--python", "3.12", "--arch", "x86_64",
           "--lock", str(lock), "--dry-run"]
    if cache_dir is not None:
        cmd += ["--cache-dir", str(cache_dir)]
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True)
    dt = time.monotonic() - t0
    if p.returncode != 0:
        return None, dt, p.stderr.strip()
    return parse_pins(p.stdout), dt, p.stdout


def run_uv(uv: str, set_file: Path, work: Path, pyver: str, cache_dir: Path | None):
    req_in = work / f"{set_file.stem}.requirements.in"
    req_in.write_text("\n".join(read_set(set_file)) + "\n")
    cmd = [uv, "pip", "compile", str(req_in),
           "--python-platform", "x86_64-manylinux_2_34", "--python-version", pyver,
           "--only-binary", ":all:", "--no-header", "--no-annotate", "--quiet"]
    if cache_dir is not None:
        cmd += ["--cache-dir", str(cache_dir)]
    env = dict(os.environ, UV_PYTHON_DOWNLOADS="never")
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    dt = time.monotonic() - t0
    if p.returncode != 0:
        return None, dt, p.stderr.strip()
    return parse_pins(p.stdout), dt, p.stdout


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pylayer", default=str(ROOT / "target" / "release" / "pylayer"))
    ap.add_argument("--python-version", default="3.12.11",
                    help="uv --python-version (default 3.12.11, the python3.12 runtime's patch release)")
    ap.add_argument("--keep", metavar="DIR", help="keep requirements.in files and raw outputs here")
    ap.add_argument("--pylayer-cache-dir", metavar="DIR", help="--cache-dir for pylayer (default: its own)")
    ap.add_argument("--uv-cache-dir", metavar="DIR", help="--cache-dir for uv (default: its own)")
    ap.add_argument("sets", nargs="*", help="set names (bench/sets/NAME.txt); default all")
    args = ap.parse_args()

    if not Path(args.pylayer).exists():
        sys.exit(f"{args.pylayer} not found: run `cargo build --release` first")
    uv = ensure_uv()
    uv_version = subprocess.run([uv, "--version"], capture_output=True, text=True).stdout.strip()
    pyl_version = subprocess.run([args.pylayer, "--version"], capture_output=True, text=True).stdout.strip()
    print(f"# {pyl_version or 'pylayer'} vs {uv_version}; uv --python-version {args.python_version}")

    names = args.sets or sorted(p.stem for p in SETS.glob("*.txt"))
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="pylayer-compare-"))
    work.mkdir(parents=True, exist_ok=True)
    pcache = Path(args.pylayer_cache_dir) if args.pylayer_cache_dir else None
    ucache = Path(args.uv_cache_dir) if args.uv_cache_dir else None

    rows = []
    details = []
    for name in names:
        set_file = SETS / f"{name}.txt"
        if not set_file.exists():
            sys.exit(f"no such set: {set_file}")
        reqs = " ".join(read_set(set_file))
        p_pins, p_dt, p_out = run_pylayer(args.pylayer, set_file, work, pcache)
        u_pins, u_dt, u_out = run_uv(uv, set_file, work, args.python_version, ucache)
        if args.keep:
            (work / f"{name}.pylayer.out").write_text(p_out if isinstance(p_out, str) else "")
            (work / f"{name}.uv.out").write_text(u_out if isinstance(u_out, str) else "")
        if p_pins is None or u_pins is None:
            status = "ERROR"
            msg = []
            if p_pins is None:
                msg.append(f"pylayer failed:\n{p_out}")
            if u_pins is None:
                msg.append(f"uv failed:\n{u_out}")
            details.append((name, msg))
            rows.append((name, reqs, "-" if p_pins is None else len(p_pins),
                         "-" if u_pins is None else len(u_pins), status, p_dt, u_dt))
            continue
        diffs = []
        for n in sorted(set(p_pins) | set(u_pins)):
            pv, uvv = p_pins.get(n), u_pins.get(n)
            if pv != uvv:
                diffs.append(f"{n}: pylayer {pv or '(absent)'}  uv {uvv or '(absent)'}")
        status = "identical" if not diffs else f"DIFFER ({len(diffs)})"
        if diffs:
            details.append((name, diffs))
        rows.append((name, reqs, len(p_pins), len(u_pins), status, p_dt, u_dt))

    w = max(len(r[0]) for r in rows)
    print(f"{'set':<{w}}  {'pylayer':>7}  {'uv':>4}  {'result':<12}  {'t_pyl':>6}  {'t_uv':>6}  requirements")
    for name, reqs, np_, nu, status, pdt, udt in rows:
        print(f"{name:<{w}}  {np_!s:>7}  {nu!s:>4}  {status:<12}  {pdt:6.2f}  {udt:6.2f}  {reqs}")
    for name, lines in details:
        print(f"\n## {name}")
        for line in lines:
            print(f"  {line}")
    bad = [r for r in rows if r[4] != "identical"]
    print(f"\n{len(rows) - len(bad)}/{len(rows)} sets identical")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
