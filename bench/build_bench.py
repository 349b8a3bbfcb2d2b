#!/usr/bin/env python3
"""Time `pylayer build` against `uv pip install --target` + zip and pip's recipe + zip.

One run measures, side by side and interleaved round by round (so a busy moment on the
machine hits every tool alike), a python3.12 / x86_64 layer of `pandas numpy` built by

  pylayer   pylayer build pandas numpy --python 3.12 --arch x86_64 --name bench
                --out-dir OUT --lock LOCK --cache-dir CACHE
            cold        : empty --cache-dir, no lock file, empty out dir
            warm        : populated cache and the lock of the previous run (normal rebuild)
            warm-nolock : populated cache, lock file deleted before the run (re-resolves)
  uv + zip  UV_PYTHON_DOWNLOADS=never UV_CACHE_DIR=C uv pip install --target DIR/python
                --python-platform x86_64-manylinux_2_34 --python-version 3.12
                --only-binary :all: pandas numpy
            then (cd DIR && zip -qr ../layer.zip python)
            cold: fresh UV_CACHE_DIR; warm: UV_CACHE_DIR filled by a warm-up run
  pip + zip PIP_CACHE_DIR=C python3 -m pip install --platform manylinux2014_x86_64
                --only-binary=:all: --python-version 3.12 --implementation cp
                --target DIR/python pandas numpy
            then (cd DIR && zip -qr ../layer.zip python)
            cold: fresh PIP_CACHE_DIR; warm: PIP_CACHE_DIR filled by a warm-up run

Every step runs under `/usr/bin/time -v`; wall time is the sum of the steps (install + zip),
peak RSS the largest "Maximum resident set size" of the steps. Target dirs, layer.zip and
(for cold runs) caches are removed before each run, outside the timing.

Usage:
    bench/build_bench.py [--pylayer PATH] [--warm 5] [--cold 3] [--work DIR] [--json FILE]

The pylayer binary (default target/release/pylayer) is copied into the work dir first, so a
concurrent `cargo build` cannot swap it mid-run. Prints a markdown report on stdout.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
REQS = ["pandas", "numpy"]
PYVER = "3.12"
TIME = "/usr/bin/time"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def need_tools() -> None:
    if not Path(TIME).exists():
        sys.exit("/usr/bin/time missing: apt-get install -y time")
    if not shutil.which("zip"):
        sys.exit("zip missing: apt-get install -y zip")
    if not shutil.which("uv"):
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "uv"], check=True)


def run_step(cmd: list[str], cwd: Path, env: dict[str, str], work: Path) -> tuple[float, int]:
    """Run cmd under /usr/bin/time -v; return (wall seconds, peak RSS in KiB)."""
    tfile = work / "time.txt"
    t0 = time.perf_counter()
    p = subprocess.run([TIME, "-v", "-o", str(tfile), *cmd], cwd=cwd, env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"failed ({p.returncode}): {' '.join(cmd)}\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", tfile.read_text())
    return wall, int(m.group(1)) if m else 0


def rm(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


class Runner:
    def __init__(self, work: Path, pylayer: Path):
        self.work = work
        self.bin = pylayer
        self.env = dict(os.environ, UV_PYTHON_DOWNLOADS="never")
        self.results: dict[str, list[dict]] = {}

    def record(self, variant: str, steps: list[tuple[str, float, int]], zip_path: Path) -> None:
        wall = sum(s[1] for s in steps)
        rss = max(s[2] for s in steps)
        r = {"wall": wall, "rss_kib": rss, "steps": {s[0]: s[1] for s in steps},
             "step_rss_kib": {s[0]: s[2] for s in steps}, "zip_bytes": zip_path.stat().st_size}
        self.results.setdefault(variant, []).append(r)
        detail = " + ".join(f"{n} {w:.2f}s" for n, w, _ in steps)
        log(f"  {variant:<20} {wall:7.2f}s  {rss / 1024:6.1f} MiB  ({detail})")

    # --- pylayer -------------------------------------------------------------------------
    def pylayer_cmd(self, cache: Path, lock: Path, out: Path) -> list[str]:
        return [str(self.bin), "build", *REQS, "--python", PYVER, "--arch", "x86_64",
                "--name", "bench", "--out-dir", str(out), "--lock", str(lock),
                "--cache-dir", str(cache)]

    def pylayer_zip(self, out: Path) -> Path:
        return out / f"bench-py{PYVER}-x86_64.zip"

    def pylayer(self, variant: str) -> None:
        w = self.work
        if variant == "cold":
            cache, lock, out = w / "pl-cold-cache", w / "pl-cold.lock", w / "pl-cold-out"
            for p in (cache, lock, out):
                rm(p)
        else:
            cache, lock, out = w / "pl-cache", w / "pl.lock", w / "pl-out"
            if variant == "warm-nolock":
                rm(lock)
        wall, rss = run_step(self.pylayer_cmd(cache, lock, out), w, self.env, w)
        self.record(f"pylayer {variant}", [("build", wall, rss)], self.pylayer_zip(out))
        man = json.loads((out / f"bench-py{PYVER}-x86_64.json").read_text())
        self.results[f"pylayer {variant}"][-1]["sha256"] = man["sha256"]
        self.results[f"pylayer {variant}"][-1]["versions"] = {
            p["name"]: p["version"] for p in man["packages"]}

    # --- uv / pip + zip ------------------------------------------------------------------
    def install_cmd(self, tool: str, target: Path) -> list[str]:
        if tool == "uv":
            return ["uv", "pip", "install", "--target", str(target),
                    "--python-platform", "x86_64-manylinux_2_34", "--python-version", PYVER,
                    "--only-binary", ":all:", *REQS]
        return [sys.executable, "-m", "pip", "install", "--platform", "manylinux2014_x86_64",
                "--only-binary=:all:", "--python-version", PYVER, "--implementation", "cp",
                "--target", str(target), *REQS]

    def installer(self, tool: str, variant: str) -> None:
        w = self.work
        d = w / f"{tool}-{variant}"
        cache = w / f"{tool}-cache-{variant}"
        rm(d)
        d.mkdir()
        if variant == "cold":
            rm(cache)
        env = dict(self.env)
        env["UV_CACHE_DIR" if tool == "uv" else "PIP_CACHE_DIR"] = str(cache)
        zip_path = w / f"{tool}-{variant}.zip"
        # `cd DIR && zip -qr ../layer.zip python`, with a per-tool zip name.
        zip_name = f"../{tool}-{variant}.zip"
        rm(w / f"{tool}-{variant}.zip")
        t_inst, r_inst = run_step(self.install_cmd(tool, d / "python"), w, env, w)
        t_zip, r_zip = run_step(["zip", "-qr", zip_name, "python"], d, env, w)
        self.record(f"{tool}+zip {variant}", [("install", t_inst, r_inst), ("zip", t_zip, r_zip)],
                    zip_path)
        self.results[f"{tool}+zip {variant}"][-1]["versions"] = dist_versions(d / "python")


def dist_versions(site: Path) -> dict[str, str]:
    out = {}
    for p in site.glob("*.dist-info"):
        name, _, ver = p.name[: -len(".dist-info")].rpartition("-")
        out[re.sub(r"[-_.]+", "-", name).lower()] = ver
    return dict(sorted(out.items()))


def zip_facts(path: Path) -> dict:
    with zipfile.ZipFile(path) as z:
        infos = z.infolist()
        return {"entries": len(infos), "unzipped": sum(i.file_size for i in infos),
                "pyc": sum(1 for i in infos if i.filename.endswith(".pyc"))}


def tool_version(cmd: list[str]) -> str:
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        return p.stdout.strip().splitlines()[0]
    except OSError:
        return "?"


def machine_facts() -> dict:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        mem = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, AttributeError):
        pass
    rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                         stdout=subprocess.PIPE, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "src",
                            "Cargo.toml", "Cargo.lock"],
                           stdout=subprocess.PIPE, text=True).stdout.strip()
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(), "cpu": cpu, "mem": mem, "kernel": platform.release(),
        "loadavg": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
        "pylayer": f"{rev}{' (working tree had uncommitted src changes)' if dirty else ''}",
        "uv": tool_version(["uv", "--version"]),
        "pip": tool_version([sys.executable, "-m", "pip", "--version"]).split(" from ")[0]
        + f" on Python {platform.python_version()}",
        "zip": "zip " + (re.search(r"This is Zip (\S+)", subprocess.run(
            ["zip", "-v"], stdout=subprocess.PIPE, text=True).stdout) or ["", "?"])[1],
    }


def med(xs: list[float]) -> float:
    return statistics.median(xs)


def report(r: Runner, facts: dict, warm: int, cold: int, argv: str) -> str:
    res = r.results
    order = ["pylayer warm", "pylayer warm-nolock", "uv+zip warm", "pip+zip warm",
             "pylayer cold", "uv+zip cold", "pip+zip cold"]
    L = []
    L.append(f"Run: {facts['date']}, `{argv}` — {facts['nproc']} cores ({facts['cpu']}), "
             f"{facts['mem']} RAM, Linux {facts['kernel']}, load average at start "
             f"{facts['loadavg']} (cores shared with other builds). pylayer {facts['pylayer']} "
             f"release build; {facts['uv']}; {facts['pip']}; {facts['zip']}.")
    L.append("")
    L.append("| variant | runs | median wall | min – max | install / zip (median) "
             "| peak RSS (median, max) | zip bytes |")
    L.append("|---|---:|---:|---:|---:|---:|---:|")
    for v in order:
        rs = res.get(v, [])
        if not rs:
            continue
        walls = [x["wall"] for x in rs]
        rss = [x["rss_kib"] / 1024 for x in rs]
        if "install" in rs[0]["steps"]:
            split = (f"{med([x['steps']['install'] for x in rs]):.2f} s / "
                     f"{med([x['steps']['zip'] for x in rs]):.2f} s")
        else:
            split = "—"
        L.append(f"| {v} | {len(rs)} | {med(walls):.3f} s | {min(walls):.3f} – {max(walls):.3f} s "
                 f"| {split} | {med(rss):.1f} MiB, {max(rss):.1f} MiB | {rs[-1]['zip_bytes']:,} |")
    L.append("")

    def ratio(a: str, b: str) -> str:
        if a not in res or b not in res:
            return "n/a"
        return f"{med([x['wall'] for x in res[a]]) / med([x['wall'] for x in res[b]]):.1f}×"

    L.append("Ratios (median wall time of the other tool ÷ median wall time of pylayer, same run):")
    L.append("")
    L.append("| | uv + zip | pip recipe + zip |")
    L.append("|---|---:|---:|")
    L.append(f"| warm (pylayer with lock) | {ratio('uv+zip warm', 'pylayer warm')} "
             f"| {ratio('pip+zip warm', 'pylayer warm')} |")
    L.append(f"| warm, pylayer without lock | {ratio('uv+zip warm', 'pylayer warm-nolock')} "
             f"| {ratio('pip+zip warm', 'pylayer warm-nolock')} |")
    L.append(f"| cold | {ratio('uv+zip cold', 'pylayer cold')} "
             f"| {ratio('pip+zip cold', 'pylayer cold')} |")
    L.append("")
    # Zip contents and versions.
    L.append("| layer | zip bytes | unzipped bytes | entries | .pyc | versions installed |")
    L.append("|---|---:|---:|---:|---:|---|")
    for v, path in (("pylayer warm", r.pylayer_zip(r.work / "pl-out")),
                    ("uv+zip warm", r.work / "uv-warm.zip"),
                    ("pip+zip warm", r.work / "pip-warm.zip")):
        if v not in res:
            continue
        f = zip_facts(path)
        vers = ", ".join(f"{k} {val}" for k, val in sorted(res[v][-1]["versions"].items()))
        L.append(f"| {v.split()[0]} | {path.stat().st_size:,} | {f['unzipped']:,} | "
                 f"{f['entries']:,} | {f['pyc']:,} | {vers} |")
    L.append("")
    shas = {x.get("sha256") for v in ("pylayer warm", "pylayer warm-nolock", "pylayer cold")
            for x in res.get(v, [])}
    L.append(f"pylayer zips of all {sum(len(res.get(v, [])) for v in order if v.startswith('pylayer'))} "
             f"runs: {'one sha256 (byte-identical)' if len(shas) == 1 else f'{len(shas)} different sha256'}"
             f". Load average at end: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}.")
    return "\n".join(L)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pylayer", default=str(ROOT / "target/release/pylayer"))
    ap.add_argument("--warm", type=int, default=5, help="warm runs per variant (default 5)")
    ap.add_argument("--cold", type=int, default=3, help="cold runs per variant (default 3)")
    ap.add_argument("--work", help="work directory (default: a new temp dir, removed at the end)")
    ap.add_argument("--json", help="write all raw measurements to this file")
    ap.add_argument("--skip-pip", action="store_true", help="leave out pip's recipe (slow)")
    args = ap.parse_args()

    need_tools()
    work = Path(args.work or tempfile.mkdtemp(prefix="pylayer-build-bench-")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    src = Path(args.pylayer)
    if not src.exists():
        sys.exit(f"{src} missing: cargo build --release")
    pylayer = work / "pylayer"
    shutil.copy2(src, pylayer)
    facts = machine_facts()
    r = Runner(work, pylayer)
    tools = ["uv"] if args.skip_pip else ["uv", "pip"]

    log(f"work dir {work}")
    log("cold rounds")
    for i in range(args.cold):
        log(f" round {i + 1}/{args.cold}")
        r.pylayer("cold")
        for t in tools:
            r.installer(t, "cold")

    log("warm-up (fills the warm caches and pylayer's lock)")
    wr = Runner(work, pylayer)
    wr.pylayer("warm")
    for t in tools:
        wr.installer(t, "warm")
    log("warm rounds")
    for i in range(args.warm):
        log(f" round {i + 1}/{args.warm}")
        r.pylayer("warm")
        r.pylayer("warm-nolock")  # deletes the lock, re-resolves and writes it back
        for t in tools:
            r.installer(t, "warm")

    argv = "bench/build_bench.py " + " ".join(sys.argv[1:])
    print(report(r, facts, args.warm, args.cold, argv.strip()))
    if args.json:
        Path(args.json).write_text(json.dumps({"facts": facts, "results": r.results}, indent=1))
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
