#!/usr/bin/env python3
"""Cold-start imports from a layer, with and without bytecode, against what users run otherwise.

For each package set (default: `pandas numpy` and `fastapi pydantic`, python3.12 / x86_64) the
same pinned versions are installed six ways, and the set's modules are imported from each result
as Lambda does at a cold start: a fresh `python3.12 -I -B` process, the layer directory first on
sys.path, the directory read-only (as /opt is), no bytecode written.

  none       pylayer build PKGS --python 3.12 --arch x86_64 (no bytecode: pylayer's default)
  all        the same with --compile-bytecode (unchecked-hash .pyc beside every module)
  imported   the same with --compile-bytecode=imported (.pyc only for what start-up imports)
  uv         uv's Lambda recipe: uv pip install --no-compile-bytecode --target DIR/python
             --python-platform x86_64-manylinux_2_34 --python-version 3.12 --only-binary :all:
             PINS (UV_PYTHON_DOWNLOADS=never)
  pip        pip's recipe as it comes: python3.12 -m pip install --platform manylinux2014_x86_64
             (plus manylinux_2_17/2_28/2_34, without which pip cannot install today's numpy)
             --only-binary=:all: --python-version 3.12 --implementation cp --no-deps
             --target DIR/python PINS (pip compiles timestamp .pyc recording each source's mtime)
  pip-1980   the pip directory with every file dated 1980-01-01 00:00, as in a reproducible zip
             (pylayer's, or any zip built with SOURCE_DATE_EPOCH): its .pyc no longer validate

pylayer's zips are unpacked with Python's zipfile; uv's and pip's target directories are used
as they are (what their zip would hold). Each import is timed twice: inside the process
(time.perf_counter around the import statement) and as the wall time of the whole process.
Variants alternate run by run (the starting variant rotates each round), after one untimed
warm-up run each so that every variant reads its files from the page cache. One more run per
variant with `-v` counts the layer's modules loaded from bytecode and compiled from source.

Build times: pylayer warm builds (lock and cache populated, bytecode cached) for none, all and
imported, interleaved; cold builds (empty cache, no lock) for none and all. Sizes: unzipped
bytes of each variant and bytes of .pyc in it.

Usage:
    bench/coldstart.py [--pylayer PATH] [--python PATH] [--runs 10] [--builds 5]
                       [--cold-builds 2] [--work DIR] [--json FILE] [--set "pandas numpy"]...

Prints a markdown report on stdout. The pylayer binary (default target/release/pylayer) is
copied into the work directory first.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

DEFAULT_SETS = ["pandas numpy", "fastapi pydantic"]
VARIANTS = ["none", "all", "imported", "uv", "pip", "pip-1980"]
EPOCH_1980 = 315532800  # 1980-01-01 00:00:00 UTC


def sh(cmd, env=None, cwd=None, check=True):
    t = time.perf_counter()
    p = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if check and p.returncode != 0:
        sys.exit(f"failed ({p.returncode}): {' '.join(map(str, cmd))}\n{p.stdout}\n{p.stderr}")
    return p, wall


def writable(root: Path, on: bool):
    for d, dirs, files in os.walk(root):
        for name in files:
            p = os.path.join(d, name)
            if not os.path.islink(p):
                os.chmod(p, 0o644 if on else 0o444)
        os.chmod(d, 0o755 if on else 0o555)


def rmtree(p: Path):
    if p.exists():
        writable(p, True)
        shutil.rmtree(p)


def tree_bytes(root: Path):
    total = pyc = 0
    for d, _, files in os.walk(root):
        for name in files:
            s = os.lstat(os.path.join(d, name)).st_size
            total += s
            if name.endswith(".pyc"):
                pyc += s
    return total, pyc


def pylayer_build(bin_, pkgs, work: Path, variant, cache: Path, lock: Path):
    out = work / f"out-{variant}"
    cmd = [str(bin_), "build", *pkgs, "--python", "3.12", "--arch", "x86_64", "--name", "bench",
           "--out-dir", str(out), "--lock", str(lock), "--cache-dir", str(cache), "--json"]
    if variant == "all":
        cmd.append("--compile-bytecode")
    elif variant == "imported":
        cmd.append("--compile-bytecode=imported")
    p, wall = sh(cmd)
    manifest = json.loads(p.stdout)["layers"][0]
    return out / "bench-py3.12-x86_64.zip", manifest, wall


def import_script(root: Path, modules):
    return ("import sys, time\n"
            f"sys.path[0:0] = [{str(root)!r}]\n"
            "t = time.perf_counter()\n"
            f"import {', '.join(modules)}\n"
            "print(time.perf_counter() - t)\n")


def cold_import(python, root: Path, modules, verbose=False):
    cmd = [python, "-I", "-B"] + (["-v"] if verbose else []) + ["-c", import_script(root, modules)]
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, cwd="/")
    wall = time.perf_counter() - t
    if p.returncode != 0:
        sys.exit(f"import failed from {root}:\n{p.stderr[-3000:]}")
    return float(p.stdout.strip().splitlines()[-1]), wall, p.stderr


def count_loads(log: str, root: Path):
    """`# code object from '<root>/…pyc'` (bytecode) and `# code object from <root>/….py`."""
    r = str(root)
    pyc = src = 0
    for line in log.splitlines():
        if not line.startswith("# code object from "):
            continue
        path = line[len("# code object from "):].strip("'")
        if not path.startswith(r):
            continue
        if path.endswith(".pyc"):
            pyc += 1
        else:
            src += 1
    return pyc, src


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def bench_set(args, bin_, python, pkgs, work: Path):
    modules = [p.replace("-", "_") for p in pkgs]
    work.mkdir(parents=True, exist_ok=True)
    cache, lock = work / "cache", work / "pylayer.lock"
    roots, sizes, manifests = {}, {}, {}

    # pylayer's three layers (the first build resolves and fills the cache).
    for v in ["none", "all", "imported"]:
        z, m, _ = pylayer_build(bin_, pkgs, work, v, cache, lock)
        manifests[v] = m
        root = work / f"layer-{v}"
        rmtree(root)
        with zipfile.ZipFile(z) as zf:
            zf.extractall(root)
        roots[v] = root / "python"
        sizes[v] = (*tree_bytes(root), z.stat().st_size)
    pins = [f"{p['name']}=={p['version']}" for p in manifests["none"]["packages"]]

    env = dict(os.environ, UV_PYTHON_DOWNLOADS="never", UV_CACHE_DIR=str(work / "uv-cache"))
    d = work / "uv"
    rmtree(d)
    sh(["uv", "pip", "install", "--no-compile-bytecode", "--target", str(d / "python"),
        "--python-platform", "x86_64-manylinux_2_34", "--python-version", "3.12",
        "--only-binary", ":all:", "--no-deps", *pins], env=env)
    roots["uv"] = d / "python"
    sizes["uv"] = (*tree_bytes(d), None)

    env = dict(os.environ, PIP_CACHE_DIR=str(work / "pip-cache"))
    d = work / "pip"
    rmtree(d)
    # AWS's `--platform manylinux2014_x86_64` alone cannot install today's numpy (it needs
    # manylinux_2_28): the glibc tags of python3.12's Amazon Linux 2023 are listed too, so
    # pip installs the very same pins and only the bytecode differs.
    platforms = [a for t in ("manylinux_2_34_x86_64", "manylinux_2_28_x86_64",
                             "manylinux_2_17_x86_64", "manylinux2014_x86_64")
                 for a in ("--platform", t)]
    sh([python, "-m", "pip", "install", "--disable-pip-version-check", *platforms,
        "--only-binary=:all:", "--python-version", "3.12",
        "--implementation", "cp", "--no-deps", "--target", str(d / "python"), *pins], env=env)
    roots["pip"] = d / "python"
    sizes["pip"] = (*tree_bytes(d), None)
    d80 = work / "pip-1980"
    rmtree(d80)
    shutil.copytree(d, d80, symlinks=True)
    for dd, dirs, files in os.walk(d80):
        for name in files + dirs:
            os.utime(os.path.join(dd, name), (EPOCH_1980, EPOCH_1980), follow_symlinks=False)
    roots["pip-1980"] = d80 / "python"
    sizes["pip-1980"] = (*tree_bytes(d80), None)

    for v in VARIANTS:
        writable(roots[v].parent, False)
    try:
        loads = {}
        for v in VARIANTS:  # warm-up (page cache) and the -v count
            cold_import(python, roots[v], modules)
            _, _, log = cold_import(python, roots[v], modules, verbose=True)
            loads[v] = count_loads(log, roots[v])
        times = {v: [] for v in VARIANTS}
        walls = {v: [] for v in VARIANTS}
        for i in range(args.runs):
            order = VARIANTS[i % len(VARIANTS):] + VARIANTS[:i % len(VARIANTS)]
            for v in order:
                t, w, _ = cold_import(python, roots[v], modules)
                times[v].append(t)
                walls[v].append(w)
    finally:
        for v in VARIANTS:
            writable(roots[v].parent, True)

    # Build times: warm (everything cached, lock present) interleaved, then cold.
    builds = {f"warm {v}": [] for v in ["none", "all", "imported"]}
    for i in range(args.builds):
        for v in ["none", "all", "imported"]:
            _, _, wall = pylayer_build(bin_, pkgs, work, v, cache, lock)
            builds[f"warm {v}"].append(wall)
    for v in ["none", "all"]:
        builds[f"cold {v}"] = []
    for i in range(args.cold_builds):
        for v in ["none", "all"]:
            c = work / "cold-cache"
            rmtree(c)
            lk = work / "cold.lock"
            if lk.exists():
                lk.unlink()
            _, _, wall = pylayer_build(bin_, pkgs, work, v, c, lk)
            builds[f"cold {v}"].append(wall)
    return {
        "packages": pkgs, "modules": modules, "pins": pins,
        "import_s": times, "process_s": walls, "loads": loads,
        "sizes": {v: {"unzipped": s[0], "pyc": s[1], "zip": s[2]} for v, s in sizes.items()},
        "builds_s": builds,
        "imported": manifests["imported"].get("bytecode", {}).get("imported"),
    }


def report(results, meta):
    out = [f"Run: {meta['date']}, `{meta['command']}`.",
           f"Machine: {meta['machine']}; Python {meta['python']}; uv {meta['uv']}; {meta['pip']}; "
           f"load average {meta['load_start']} at the start, {meta['load_end']} at the end.", ""]
    for r in results:
        name = " + ".join(r["packages"])
        t = r["import_s"]
        w = r["process_s"]
        base = med(t["none"])
        out += [f"### {name} ({', '.join(r['pins'])})", "",
                "| variant | runs | import, median | min – max | process wall, median | vs none "
                "| layer modules from .pyc / compiled from source | unzipped bytes | of which .pyc |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for v in VARIANTS:
            s = r["sizes"][v]
            pyc, src = r["loads"][v]
            out.append(
                f"| {v} | {len(t[v])} | {med(t[v]):.3f} s | {min(t[v]):.3f} – {max(t[v]):.3f} s "
                f"| {med(w[v]):.3f} s | {base / med(t[v]):.2f}× | {pyc} / {src} "
                f"| {s['unzipped']:,} | {s['pyc']:,} |")
        b = r["builds_s"]
        out += ["", "| build | runs | median | min – max |", "|---|---:|---:|---:|"]
        for k, xs in b.items():
            if xs:
                out.append(f"| pylayer {k} | {len(xs)} | {med(xs):.3f} s | {min(xs):.3f} – {max(xs):.3f} s |")
        sz = r["sizes"]
        added_all = sz["all"]["unzipped"] - sz["none"]["unzipped"]
        added_imp = sz["imported"]["unzipped"] - sz["none"]["unzipped"]
        out += ["", "Targets: cold import none/all = "
                f"{base / med(t['all']):.2f}× (target ≥ 3× for pandas+numpy); warm build all/none = "
                f"{med(b['warm all']) / med(b['warm none']):.2f}× (target ≤ 1.5×); imported adds "
                f"{added_imp:,} bytes, all adds {added_all:,}: "
                f"{added_imp / added_all if added_all else float('nan'):.2f} of it (target ≤ 1/3).", ""]
    return "\n".join(out)


def find_python312():
    """python3.12 on PATH if it runs (a pyenv shim may not), else pyenv's newest 3.12."""
    try:
        p = subprocess.run(["python3.12", "-c", "import sys; print(sys.executable)"],
                           capture_output=True, text=True)
        if p.returncode == 0:
            return p.stdout.strip()
    except OSError:
        pass
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    found = sorted(root.glob("3.12*/bin/python3.12"))
    return str(found[-1]) if found else "python3.12"


def load():
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pylayer", default="target/release/pylayer")
    ap.add_argument("--python", default=find_python312())
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--builds", type=int, default=5)
    ap.add_argument("--cold-builds", type=int, default=2)
    ap.add_argument("--work")
    ap.add_argument("--json")
    ap.add_argument("--set", action="append", dest="sets")
    args = ap.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="coldstart-")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    bin_ = work / "pylayer"
    shutil.copy2(args.pylayer, bin_)
    meta = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join(["python3", "bench/coldstart.py", *sys.argv[1:]]),
        "machine": f"nproc {os.cpu_count()}, {platform.platform()}",
        "python": subprocess.run([args.python, "-c", "import sys; print(sys.version.split()[0])"],
                                 capture_output=True, text=True).stdout.strip(),
        "uv": subprocess.run(["uv", "--version"], capture_output=True, text=True).stdout.split()[1],
        "pip": subprocess.run([args.python, "-m", "pip", "--version"], capture_output=True,
                              text=True).stdout.split(" from ")[0],
        "load_start": load(),
    }
    results = []
    for i, s in enumerate(args.sets or DEFAULT_SETS):
        results.append(bench_set(args, bin_, args.python, s.split(), work / f"set{i}"))
    meta["load_end"] = load()
    if args.json:
        Path(args.json).write_text(json.dumps({"meta": meta, "results": results}, indent=1))
    print(report(results, meta))


if __name__ == "__main__":
    main()
