#!/usr/bin/env python3
"""Emulated loader benchmark: load + relocate + bind the example game's modules.

Builds the example game (examples/game) for ``--target`` with the real scons
in a temporary directory (or uses ``--build-dir DIR`` holding kernel.elf,
physics.elf, level1.elf and boss.elf), then times, best of ``--repeat``:

* **boot**: a fresh :class:`~gamevm_build.play.console.Console` (unicorn engine,
  TLB set-up, resident loaded), ``--boots`` times;
* **load (reused machine)**: on one console, load physics, level1 and boss
  (read from disk, validate, allocate, relocate, bind, copy, guard, run
  constructors on the emulated CPU) and unload them again, ``--loads`` times:
  modules/s and relocations/s of the emulated loader;
* **the same, parsing every load** (host loader): the reused machine with the
  reference loader's cache of parsed modules cleared before each round (the loader
  before issue 16): what the cache saves, in the same run;
* **load (fresh machine)**: boot + load the three modules, ``--boots`` times;
* **validate**: :func:`gamevm_build.play.validate.validate` of the whole example
  with the SConstruct's declared tests (boot, loads, 3 self tests, 6 calls
  including ``kernel_selftest``, which LoadModule()s level1 twice from target
  code) and the JUnit report.

Output (2-core VM, unicorn 2.1.4)::

    bench_loader: example game, target psx, host loader, best of 3 (3 modules, 196 relocations per round)
      boot (fresh Console)            :    8.37 ms per boot
      load+unload, reused machine     :    0.79 ms per round of 3 modules
                                           3812 modules/s, 249034 relocations/s
      the same, parsing every load    :    1.65 ms per round (cached parse: 2.10x faster)
      boot + load, fresh machine      :    9.48 ms (3 modules)
      validate() of the example       :  110.33 ms (9 passed, 0 failed)

    python bench/bench_loader.py [--target psx|n64] [--loads 200] [--boots 20] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gamevm_build.play.console import Console  # noqa: E402
from gamevm_build.link.module import read_module  # noqa: E402
from gamevm_build.play.validate import validate  # noqa: E402
from gamevm_build.runtime import reference  # noqa: E402

MODULES = ["physics", "level1", "boss"]
TESTS = [("kernel_selftest()", 0), ("physics:fx_mul(0x30000, -0x20000)", -0x60000),
         ("physics:fx_isqrt(1000000)", 1000), ('gvm_strlen("GameVM")', 6),
         {"call": "boss:boss_spawn()", "expect": None}, ("boss:boss_hp()", 100)]


def build(target: str, root: Path) -> Path:
    shutil.copy(REPO / "SConstruct", root / "SConstruct")
    for sub in ("site_scons", "examples"):
        shutil.copytree(REPO / sub, root / sub, ignore=shutil.ignore_patterns("__pycache__"))
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-m", "SCons", "-Q", f"target={target}", "game"],
                          cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)
    if proc.returncode:
        sys.exit(f"bench_loader: building the example failed:\n{proc.stdout}")
    return root / "build" / target


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def run(target: str, out: Path, loads: int, boots: int, repeat: int, loader: str = "host") -> None:
    kernel = out / "kernel.elf"
    relocs = sum(len(read_module(out / f"{m}.elf").relocations) for m in MODULES)

    def boot_only():
        for _ in range(boots):
            Console(target, kernel, search_paths=[out], loader=loader)

    console = Console(target, kernel, search_paths=[out], loader=loader)

    def reused():
        for _ in range(loads):
            handles = [console.load(m).handle for m in MODULES]
            for h in reversed(handles):
                console.loader.unload(h)

    def reparsed():
        # the loader before issue 16: every load parsed and hash-checked its file again
        for _ in range(loads):
            reference._PARSED.clear()
            handles = [console.load(m).handle for m in MODULES]
            for h in reversed(handles):
                console.loader.unload(h)

    def fresh():
        for _ in range(boots):
            c = Console(target, kernel, search_paths=[out], loader=loader)
            for m in MODULES:
                c.load(m)

    result = None

    def whole():
        nonlocal result
        with tempfile.TemporaryDirectory() as tmp:
            result = validate(target, kernel, [out / f"{m}.elf" for m in MODULES], TESTS,
                              Path(tmp) / "validate.xml")

    t_boot = best(boot_only, repeat) / boots
    t_reused = best(reused, repeat) / loads
    t_reparsed = best(reparsed, repeat) / loads if loader == "host" else None
    t_fresh = best(fresh, repeat) / boots
    t_validate = best(whole, repeat)
    print(f"bench_loader: example game, target {target}, {loader} loader, best of {repeat} "
          f"({len(MODULES)} modules, {relocs} relocations per round)")
    print(f"  boot (fresh Console)            : {t_boot * 1e3:7.2f} ms per boot")
    print(f"  load+unload, reused machine     : {t_reused * 1e3:7.2f} ms per round of "
          f"{len(MODULES)} modules")
    print(f"                                    {len(MODULES) / t_reused:7.0f} modules/s, "
          f"{relocs / t_reused:.0f} relocations/s")
    if t_reparsed is not None:
        print(f"  the same, parsing every load    : {t_reparsed * 1e3:7.2f} ms per round "
              f"(cached parse: {t_reparsed / t_reused:.2f}x faster)")
    print(f"  boot + load, fresh machine      : {t_fresh * 1e3:7.2f} ms "
          f"({len(MODULES)} modules)")
    print(f"  validate() of the example       : {t_validate * 1e3:7.2f} ms "
          f"({result.passed} passed, {result.failed} failed)")
    if not result.ok:
        sys.exit("bench_loader: the example does not validate:\n"
                 + "\n".join(result.failure_lines()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--target", default="psx", choices=["psx", "n64"])
    ap.add_argument("--loads", type=int, default=200, help="load+unload rounds (reused machine)")
    ap.add_argument("--boots", type=int, default=20, help="fresh consoles booted")
    ap.add_argument("--repeat", type=int, default=3, help="best of N")
    ap.add_argument("--loader", choices=["host", "target"], default="host",
                    help="the reference loader (host, default) or the console-side C runtime "
                         "run on the emulated CPU (target)")
    ap.add_argument("--build-dir", type=Path,
                    help="directory with the built example (default: build it in a temp dir)")
    args = ap.parse_args()
    if args.build_dir:
        run(args.target, args.build_dir, args.loads, args.boots, args.repeat, args.loader)
        return
    with tempfile.TemporaryDirectory(prefix="bench-loader-") as tmp:
        out = build(args.target, Path(tmp))
        run(args.target, out, args.loads, args.boots, args.repeat, args.loader)


if __name__ == "__main__":
    main()
