"""The console-side C runtime: its size and the time it takes to load each example module.

For each console it builds the example game (the real ``scons target=T`` in a
temporary copy of the repository), then on a fresh emulated console per module
loads the module's needs first and then the module itself with the runtime's
``LoadModuleEx``, counting the instructions the CPU executes for that one load
(``Machine.instructions``: every instruction of every translation block entered).
It prints, per console and module, the instructions, the milliseconds they take at
the profile's clock at one instruction per cycle (a lower bound: memory stalls
come on top), the analyzer's modelled CPU cycles for the same load (its costs are
measured from this runtime, ``bench/measure_runtime_costs.py``; a constructor's own body,
which the analyzer charges as the configuration's ``init_ms``, as what it executes:
``gamevm_build.runtime.target.measure_load``) and the ratio;
then the runtime's size (code, data, Global Symbol Table) per console.

    python bench/bench_runtime_c.py                 # all five consoles
    python bench/bench_runtime_c.py --target psx --target gba
    python bench/bench_runtime_c.py --target gba --runtime-isa thumb

``--runtime-isa thumb`` relinks each console's example kernel (``gamevm resident`` with the
SConscript's sources and options) with the runtime compiled as Thumb code, and measures
the loads and the size with it (ARM consoles only).

Reading: ``measured/model`` at most 1 means the analyzer's CPU charge covers the load
(a bound must never be below a run); far below 1, the bound is loose.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

MODULES = ("physics", "level1", "boss")


def build(root: Path, target: str) -> Path:
    if not (root / "SConstruct").exists():
        shutil.copy(REPO / "SConstruct", root / "SConstruct")
        for sub in ("site_scons", "examples"):
            shutil.copytree(REPO / sub, root / sub, ignore=shutil.ignore_patterns("__pycache__"))
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-m", "SCons", "-Q", f"target={target}",
                           f"build/{target}/kernel.elf"] +
                          [f"build/{target}/{m}.elf" for m in MODULES],
                          cwd=root, env=env, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"bench_runtime_c: scons target={target} failed:\n{proc.stdout}{proc.stderr}")
    sizes = next(line for line in proc.stdout.splitlines() if "console-side runtime" in line)
    return root / "build" / target, sizes.split("console-side runtime ", 1)[1]


KERNEL_SOURCES = ("start.S", "main.c", "console.c", "mem.c", "services.c", "boot.c",
                  "loader.c")


def relink(out: Path, target: str, isa: str) -> tuple[Path, str]:
    """The example kernel of ``out`` linked again with the runtime built for ``isa``."""
    kernel = out / f"kernel-{isa}.elf"
    example = REPO / "examples" / "game"
    proc = subprocess.run(
        [sys.executable, "-m", "gamevm_build", "resident", "-t", target, "-o", str(kernel),
         "--runtime", "target", "--runtime-isa", isa, "--keep", "kernel_selftest",
         "-I", str(example / "include"), "--modules", *(str(out / f"{m}.elf") for m in MODULES),
         *(str(example / "kernel" / s) for s in KERNEL_SOURCES)],
        env=dict(os.environ, PYTHONPATH=str(REPO)), capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"bench_runtime_c: gamevm resident --runtime-isa {isa} failed:\n{proc.stderr}")
    sizes = next(line for line in proc.stdout.splitlines() if "console-side runtime" in line)
    return kernel, sizes.split("console-side runtime: ", 1)[1]


def measure(out: Path, target: str, kernel: Path | None = None) -> list[tuple]:
    from gamevm_build.play.console import Console
    from gamevm_build.project.profile import load_profile
    from gamevm_build.runtime.target import measure_load

    profile = load_profile(target)
    rows = []
    for name in MODULES:
        n, model, mod = measure_load(target, kernel or out / "kernel.elf", out, name)
        rows.append((name, len(mod.relocations), len(mod.imports), n,
                     n / profile.clock_hz * 1e3, model, n / model))
    return rows


def main(argv=None) -> int:
    from gamevm_build.project.profile import available_targets

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--target", action="append", choices=available_targets(),
                   help="console (repeatable; default: all)")
    p.add_argument("--runtime-isa", choices=("arm", "thumb"),
                   help="relink the kernel with the runtime built for this instruction set "
                        "(ARM consoles)")
    args = p.parse_args(argv)
    targets = args.target or ["psx", "n64", "segacd", "gba", "3do"]
    sizes = {}
    with tempfile.TemporaryDirectory(prefix="bench-runtime-c-") as tmp:
        root = Path(tmp)
        print(f"{'console':8} {'module':8} {'relocs':>6} {'imports':>7} {'instructions':>12} "
              f"{'ms':>7} {'model cyc':>9} {'measured/model':>14}")
        for target in targets:
            out, sizes[target] = build(root, target)
            kernel = None
            if args.runtime_isa:
                kernel, sizes[target] = relink(out, target, args.runtime_isa)
            for name, nrel, nimp, n, ms, model, ratio in measure(out, target, kernel):
                print(f"{target:8} {name:8} {nrel:6} {nimp:7} {n:12} {ms:7.3f} {model:9.0f} "
                      f"{ratio:14.2f}")
    print()
    for target in targets:
        print(f"{target:8} runtime: {sizes[target]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
