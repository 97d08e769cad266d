#!/usr/bin/env python3
"""A no-op ``scons`` of the example game against an empty SConstruct and plain SCons.

Copies the repository's SConstruct, site_scons and examples/ into a temporary
directory, builds the example once (``scons target=T``: modules, kernel, disc,
budget check, validation), then times whole ``python -m SCons -Q`` processes that
have nothing to do, interleaved, ``--repeat`` times each:

* **example**: the example's SConstruct, everything up to date;
* **empty**: an empty SConstruct (SCons's own start-up: the reference of issue 16);
* **plain SCons**: an SConstruct without the gamevm tool that compiles the example's
  same C and assembly sources with the same cross compiler and flags into the same
  variant directory layout, and combines each module's objects and the kernel's with
  ``ld -r`` (``Command``), everything up to date: what SCons itself needs for this
  dependency graph.

and prints the medians and the ratios example / empty and example / plain SCons.
The goal (issue 16) is example <= 1.5x empty; ``--check`` exits 1 when it is missed.
Python writes its bytecode caches to a temporary ``PYTHONPYCACHEPREFIX`` (a warm-up
run fills it), as an installed package has them::

    python bench/bench_scons_noop.py [--target psx] [--repeat 9] [--check]

``--modules N`` times a generated project of N one-file modules instead (issue 16's
"200-module project: keep a no-op ``scons -j2`` <= 1.1x plain SCons + ``ld -r``"): its
SConstruct with one ``GameVMModule`` per module against plain SCons compiling the same
files with the same compiler and flags and combining each with ``ld -r``, both with
``-j2`` and ``DefaultEnvironment(tools=[])``::

    python bench/bench_scons_noop.py --modules 200 [--check]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

GOAL = 1.5

#: the example's sources (examples/game/SConscript): module -> sources
SOURCES = {
    "physics": ["physics/fixed.c", "physics/body.c"],
    "level1": ["level1/level1.c", "level1/map.c"],
    "boss": ["boss/boss.c"],
    "kernel": ["kernel/start.S", "kernel/main.c", "kernel/console.c", "kernel/mem.c",
               "kernel/services.c", "kernel/boot.c", "kernel/loader.c"],
}

PLAIN = """\
# plain SCons: the example's sources, compiled and combined with ld -r, no gamevm tool
env = Environment(tools=['default'], CC={cc!r}, AS={cc!r},
                  CCFLAGS={cflags!r} + ['-O2', '-Wall', '-Wextra'],
                  ASFLAGS={asflags!r}, ASPPFLAGS={cflags!r},
                  CPPPATH=['#examples/game/include', {include!r}])
VariantDir('build/plain', 'examples/game', duplicate=False)
outputs = []
for name, sources in {sources!r}.items():
    objects = [env.Object('build/plain/' + s) for s in sources]
    outputs += env.Command('build/plain/' + name + '.o', objects,
                           {ld!r} + ' -r -o $TARGET $SOURCES')
Default(Alias('game', outputs))
"""


#: --modules: the generated project with the gamevm tool, and without it
MODULES_GAMEVM = """\
import gamevm_build.scons
DefaultEnvironment(tools=[])
env = Environment(tools=['default', 'gamevm'], toolpath=[gamevm_build.scons.TOOLPATH],
                  GAMEVM_TARGET={target!r})
Default([env.GameVMModule('build/m%d' % i, ['src/m%d.c' % i]) for i in range({n})])
"""
MODULES_PLAIN = """\
DefaultEnvironment(tools=[])
env = Environment(tools=['default'], CC={cc!r}, CCFLAGS={cflags!r} + ['-O2'],
                  CPPPATH=[{include!r}])
Default([env.Command('build/m%d.o' % i, env.Object('build/o/m%d.o' % i, 'src/m%d.c' % i),
                     {ld!r} + ' -r -o $TARGET $SOURCES') for i in range({n})])
"""
#: --modules: the goal against plain SCons + ld -r
MODULES_GOAL = 1.1


def _env() -> dict:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def scons(cwd: Path, env: dict, *args: str) -> float:
    """Seconds of one whole ``python -m SCons -Q`` process; exits when it fails."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "SCons", "-Q", *args], cwd=cwd, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode:
        sys.exit(f"bench_scons_noop: scons {' '.join(args)} in {cwd} failed:\n{proc.stdout}")
    return elapsed


def setup(root: Path, target: str) -> dict[str, tuple[Path, list[str]]]:
    """The three projects under ``root``: name -> (directory, scons arguments)."""
    from gamevm_build import INCLUDE_DIR
    from gamevm_build.link.toolchain import find_toolchain
    from gamevm_build.project.profile import load_profile

    example = root / "example"
    example.mkdir()
    shutil.copy(REPO / "SConstruct", example / "SConstruct")
    for sub in ("site_scons", "examples"):
        shutil.copytree(REPO / sub, example / sub, ignore=shutil.ignore_patterns("__pycache__"))
    empty = root / "empty"
    empty.mkdir()
    (empty / "SConstruct").write_text("")
    plain = root / "plain"
    plain.mkdir()
    shutil.copytree(REPO / "examples", plain / "examples",
                    ignore=shutil.ignore_patterns("__pycache__"))
    tc = find_toolchain(target)
    (plain / "SConstruct").write_text(PLAIN.format(
        cc=tc.prefix + "gcc", ld=tc.prefix + "ld", cflags=list(tc.cflags),
        asflags=list(load_profile(target).asflags), include=str(INCLUDE_DIR),
        sources=SOURCES))
    return {"example": (example, [f"target={target}"]), "empty": (empty, []),
            "plain SCons": (plain, [])}


def setup_modules(root: Path, target: str, n: int) -> dict[str, tuple[Path, list[str]]]:
    """--modules: the generated project of ``n`` modules, with and without the tool."""
    from gamevm_build import INCLUDE_DIR
    from gamevm_build.link.toolchain import find_toolchain

    tc = find_toolchain(target)
    out = {}
    for name, text in (("gamevm", MODULES_GAMEVM), ("plain SCons + ld -r", MODULES_PLAIN)):
        d = root / name.split()[0]
        (d / "src").mkdir(parents=True)
        for i in range(n):
            (d / "src" / f"m{i}.c").write_text(
                f"int m{i}_value(int x) {{ return x * {i + 3} + {i}; }}\n"
                f"int m{i}_table[4] = {{{i}, {i + 1}, {i + 2}, {i + 3}}};\n")
        (d / "SConstruct").write_text(text.format(
            target=target, n=n, cc=tc.prefix + "gcc", ld=tc.prefix + "ld",
            cflags=list(tc.cflags), include=str(INCLUDE_DIR)))
        out[name] = (d, ["-j2"])
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--target", default="psx", help="console to build the example for")
    ap.add_argument("--repeat", type=int, default=9, help="runs of each, interleaved (default 9)")
    ap.add_argument("--check", action="store_true", help="exit 1 when the goal is missed")
    ap.add_argument("--modules", type=int, metavar="N",
                    help="time a generated N-module project (-j2) against plain SCons + ld -r")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-scons-") as tmp:
        root = Path(tmp)
        env = _env()
        env["PYTHONPYCACHEPREFIX"] = str(root / "pycache")
        projects = setup_modules(root, args.target, args.modules) if args.modules \
            else setup(root, args.target)
        t0 = time.perf_counter()
        for cwd, sargs in projects.values():
            scons(cwd, env, *sargs)            # the build (and the bytecode caches)
        build = time.perf_counter() - t0
        times: dict[str, list[float]] = {k: [] for k in projects}
        for _ in range(args.repeat):
            for name, (cwd, sargs) in projects.items():
                times[name].append(scons(cwd, env, *sargs))
    med = {k: statistics.median(v) for k, v in times.items()}
    what = (f"no-op scons -Q -j2, a generated {args.modules}-module project" if args.modules
            else "no-op scons -Q")
    print(f"bench_scons_noop: {what}, target {args.target}, median of {args.repeat} "
          f"interleaved runs (first builds {build:.1f} s)")
    width = max(len(k) for k in med)
    for name, t in med.items():
        print(f"  {name:<{width}}: {t * 1000:7.0f} ms   (best {min(times[name]) * 1000:.0f} ms)")
    ours, ref, goal = (("gamevm", "plain SCons + ld -r", MODULES_GOAL) if args.modules
                       else ("example", "empty", GOAL))
    ratio = med[ours] / med[ref]
    print(f"  {ours} / {ref} : {ratio:5.2f}x   goal <= {goal:g}x: "
          f"{'met' if ratio <= goal else 'NOT met'}")
    if not args.modules:
        print(f"  example / plain SCons : {med['example'] / med['plain SCons']:5.2f}x")
    return 1 if args.check and ratio > goal else 0

if __name__ == "__main__":
    sys.exit(main())
