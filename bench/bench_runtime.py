#!/usr/bin/env python3
"""Runtime benchmark: lazy binding's first-call overhead, async loader throughput, and
bound ÷ observed load times over the example's scenarios (docs/runtime.md).

Builds the example game (examples/game) for ``--target`` with the real scons in a
temporary directory (or uses ``--build-dir DIR`` holding a build: kernel.elf, the
modules and layout.json), then:

* **lazy vs eager**: loads ``boss`` eagerly and lazily (``lazy=True``) into fresh
  consoles and calls ``boss:gamevm_selftest()`` twice on each; prints the emulated
  instructions of each call (Machine.instructions), the lazy stubs taken, the modelled
  resolver cycles (binary search + patching the call sites, at the profile's clock)
  and the binding cycles the load itself saves;
* **async throughput**: ``--loads`` asynchronous loads of ``boss`` (request, frames
  until complete, unload) on one console: host time per async load and per frame of
  the frame loop, and simulated frames per load;
* **bound ÷ observed**: plays examples/game/scenarios/*.json on the build's disc
  layout and checks each trace against the static analysis
  (``gamevm_build.analysis.trace.check_trace``): tightness = bound ÷ worst observed per
  transition and stream.  Goal: every tightness <= 1.15, none < 1.

Output (2-core VM, unicorn 2.1.4)::

    bench_runtime: example game, target psx

    lazy binding (boss, 11 imports; calls of boss:gamevm_selftest())
                   1st call   2nd call   stubs  resolved  resolver cycles
      eager            1298       1297       0         0                0   (+1 instr)
      lazy             1388       1297      11         9             7028   (+91 instr)
      load: bind 10677 cycles eager, 0 lazy (315.2 us saved at load, 207.5 us at first calls)

    async loader (boss, 200 loads, 1.0 ms CPU per frame)
      host time               :   0.48 ms per async load (6 frames each), 0.001 ms per idle frame
      simulated               :   6.0 frames per load (100.0 ms at 60 Hz)

    bound / worst observed over 3 scenario(s) on build/psx/layout.json
      title -> level1                     76.415 ms /    75.798 ms = 1.008
      streams[0] (boss during level1)       4 fr /      4 fr = 1.000
      goal <= 1.15 and >= 1: met (1.000..1.008)
"""

from __future__ import annotations

import argparse
import glob
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

GOAL = 1.15


def build(target: str, root: Path) -> Path:
    shutil.copy(REPO / "SConstruct", root / "SConstruct")
    for sub in ("site_scons", "examples"):
        shutil.copytree(REPO / sub, root / sub, ignore=shutil.ignore_patterns("__pycache__"))
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    subprocess.run([sys.executable, "-m", "SCons", "-Q", f"target={target}"], cwd=root,
                   env=env, check=True, stdout=subprocess.DEVNULL)
    return root / "build" / target


def project(out: Path, target: str, root: Path):
    """The example's configuration with this build's modules and disc layout."""
    from gamevm_build.project.config import load_config

    config = root / "examples" / "game" / ("gamevm.json" if target == "psx"
                                           else f"gamevm-{target}.json")
    layout = out / "layout.json"
    modules = {n: out / f"{n}.elf" for n in ("physics", "level1", "boss")}
    lay = str(layout) if layout.exists() else None
    return config, modules, lay, load_config(config, module_files=modules,
                                             resident_file=out / "kernel.elf", layout_file=lay)


def console(out: Path, target: str, cfg) -> Console:
    return Console(target, out / "kernel.elf", search_paths=[out], config=cfg, loader="host")


def lazy_vs_eager(out: Path, target: str, cfg) -> None:
    rows = []
    for mode in ("eager", "lazy"):
        c = console(out, target, cfg)
        c.load("physics")
        lm = c.load("boss", lazy=mode == "lazy")
        stubs = len(lm.lazy)
        bind_s = lm.timing.cpu["bind"]
        counts = []
        for _ in range(2):
            before = c.machine.instructions
            c.call("boss:gamevm_selftest")
            counts.append(c.machine.instructions - before)
        binds = [e for e in c.loader.events if e["event"] == "lazy-bind"]
        cycles = sum(e["resolver_cycles"] for e in binds)
        rows.append((mode, counts, stubs, len(binds), cycles, bind_s, c.timer.costs))
    imports = len(lm.module.imports)
    print(f"lazy binding (boss, {imports} imports; calls of boss:gamevm_selftest())")
    print(f"  {'':<10} {'1st call':>10} {'2nd call':>10} {'stubs':>7} {'resolved':>9} "
          f"{'resolver cycles':>16}")
    for mode, (first, second), stubs, resolved, cycles, _bind, _c in rows:
        extra = f"   (+{first - second} instr)" if first != second else ""
        print(f"  {mode:<10} {first:>10} {second:>10} {stubs:>7} {resolved:>9} "
              f"{cycles:>16.0f}{extra}")
    (_, _, _, _, _, bind_eager, costs), (_, _, _, _, lazy_cycles, bind_lazy, _) = rows
    print(f"  load: bind {bind_eager * costs.clock_hz:.0f} cycles eager, "
          f"{bind_lazy * costs.clock_hz:.0f} lazy ({(bind_eager - bind_lazy) * 1e6:.1f} us "
          f"saved at load, {costs.seconds(lazy_cycles) * 1e6:.1f} us at first calls)")


def async_throughput(out: Path, target: str, loads: int, cfg) -> None:
    c = console(out, target, cfg)
    c.load("physics")
    frames = 0
    t = time.perf_counter()
    for _ in range(loads):
        job = c.load_async("boss", slice_ms=1.0)
        while job.pending:
            c.advance(1)
            frames += 1
        c.loader.unload(job.handle)
    host = time.perf_counter() - t
    t = time.perf_counter()
    c.advance(1000)
    idle = (time.perf_counter() - t) / 1000
    fps = c.clock.frame_rate
    print(f"async loader (boss, {loads} loads, 1.0 ms CPU per frame)")
    print(f"  host time               : {host / loads * 1e3:6.2f} ms per async load "
          f"({frames / loads:.0f} frames each), {idle * 1e3:.3f} ms per idle frame")
    print(f"  simulated               : {frames / loads:5.1f} frames per load "
          f"({frames / loads / fps * 1e3:.1f} ms at {fps} Hz)")


def tightness(out: Path, target: str, root: Path) -> tuple[float | None, float | None]:
    from gamevm_build.analysis import check_project
    from gamevm_build.analysis.trace import check_trace
    from gamevm_build.play.scenario import run_scenario

    config, modules, lay, _cfg = project(out, target, root)
    layout = out / "layout.json"
    scenarios = sorted(glob.glob(str(root / "examples" / "game" / "scenarios" / "*.json")))
    traces = []
    for sc in scenarios:
        r = run_scenario(sc, config=config, module_files=modules, resident=out / "kernel.elf",
                         target=target, layout=lay)
        if not r.ok:
            raise SystemExit(f"{sc}: {r.summary_line()}")
        traces.append(r.trace())
    check = check_trace(check_project(config, module_files=modules,
                                      resident_file=out / "kernel.elf", layout_file=lay), traces)
    print(f"bound / worst observed over {len(traces)} scenario(s)"
          + (f" on {layout}" if lay else " (no disc layout)"))
    for c in check.comparisons:
        if c.tightness is None:
            continue
        w = c.worst
        if c.kind == "stream":
            print(f"  {c.label:<32} {c.bound_frames:>6} fr / {w.frames:>6} fr = {c.tightness:.3f}")
        else:
            print(f"  {c.label:<32} {c.bound_ms:>9.3f} ms / {w.observed_ms:>9.3f} ms = "
                  f"{c.tightness:.3f}")
    lo, hi = check.tightness
    if not check.ok:
        print("  UNSOUND: an observed load exceeds its bound")
        return 0.0, hi
    met = lo is not None and lo >= 1.0 - 1e-9 and hi <= GOAL
    print(f"  goal <= {GOAL} and >= 1: {'met' if met else 'NOT met'}"
          + (f" ({lo:.3f}..{hi:.3f})" if lo is not None else ""))
    return lo, hi


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--target", default="psx", choices=["psx", "n64"])
    ap.add_argument("--loads", type=int, default=200)
    ap.add_argument("--build-dir", type=Path,
                    help="an existing build/<target> of the example (next to its examples/)")
    ap.add_argument("--check", action="store_true", help="exit 1 when the tightness goal is missed")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="gamevm-bench-rt-") as tmp:
        if args.build_dir:
            out = args.build_dir.resolve()
            root = out.parents[1]
        else:
            root = Path(tmp)
            out = build(args.target, root)
        print(f"bench_runtime: example game, target {args.target}\n")
        cfg = project(out, args.target, root)[3]
        lazy_vs_eager(out, args.target, cfg)
        print()
        async_throughput(out, args.target, args.loads, cfg)
        print()
        lo, hi = tightness(out, args.target, root)
    if args.check and (lo is None or lo < 1.0 - 1e-9 or hi > GOAL):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
