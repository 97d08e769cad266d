#!/usr/bin/env python3
"""Load-budget analyzer benchmark: synthetic projects of 1k and 10k modules.

Generates two synthetic PlayStation projects in memory (no ELF files: modules
are ``estimate`` entries with import and export names, so graph building,
import resolution and every check run as for real modules), then times, best
of ``--repeat``:

* **config**: JSON-schema validation and cross-reference checks (``config_from_dict``);
* **graph**: building the networkx project graph (``build_graph``);
* **analyze**: residency dataflow, load plans, head positions, worst-case
  times, streams, memory and closure checks (``analysis.analyze``);
* **report**: the report dict and its text rendering.

Each project has a resident region of shared "core" modules (1 per 100)
and 24 overlay regions of 64 KiB; levels need 6 overlay modules each (in 6
different overlays, with needs chains and imports of core and kernel
symbols).  The flow graph is a world map: worlds of 10 levels with a hub
scene each, levels lead to the next level and back to their hub, hubs to the
previous hub, everything can quit to the title, and every 50th level has a
warp to another world (so the flow graph is one big strongly connected
component).  Every 5th level streams the next level's first module.  Disc
positions follow module order, with small gaps.  Output (2-core machine)::

    bench_budget: synthetic psx projects, best of 3
      modules  scenes  transitions   config    graph  analyze   report    total
         1000     100          224    0.02s    0.02s    0.07s    0.02s    0.14s
        10000    1000         2290    0.38s    0.21s    1.04s    0.34s    1.96s
      growth (10x the project): graph+analyze 13.4x, total 14.0x   goal graph+analyze <= 2 s for 10000/1000: met (1.24 s)

The goal: graph + analysis of 10k modules / 1k scenes in at most 2 s on a
2-core machine, growing near-linearly (ratio close to 10; module sets are
bitsets, whose operations grow with the module count).  Config validation
(fastjsonschema, then cross-references) is reported separately
(``bench_config.py`` compares the schema check with ``json.loads``).
``--check`` exits 1 when the goal is missed.

    python bench/bench_budget.py [--repeat 3] [--sizes 1000:100,10000:1000] [--check]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gamevm_build.analysis import analyze, build_graph, render  # noqa: E402
from gamevm_build.analysis.model import estimated_module  # noqa: E402
from gamevm_build.project.config import config_from_dict  # noqa: E402

GOAL_S = 2.0
OVERLAYS = 24
PER_SCENE = 6
WORLD = 10


def project(n_modules: int, n_scenes: int) -> dict:
    """A synthetic gamevm.json (as a dict) with ``n_modules`` modules and ``n_scenes`` scenes."""
    n_core = max(n_modules // 100, 1)
    regions = [{"name": "Main", "start": "0x80010000", "size": "448KB", "reserved": "32KB"}]
    for r in range(OVERLAYS):
        regions.append({"name": f"O{r}", "start": hex(0x80080000 + r * 0x10000), "size": "64KB",
                        "type": "overlay"})
    modules: dict = {}
    positions: dict = {}
    lba = 1000
    for i in range(n_modules):
        core = i < n_core
        name = f"c{i}" if core else f"m{i}"
        size = 1024 + (i * 7919) % (3 * 1024 if core else 12 * 1024)
        exports = [f"{name}_f{k}" for k in range(4)]
        if core:
            needs = [f"c{i - 1}"] if i and i % 4 else []
            imports = ["k_print", "k_alloc"] + [f"c{i - 1}_f0"] * bool(needs)
            region = "Main"
        else:
            j = i - n_core
            c = j % n_core
            needs = [f"c{c}"]
            if j % PER_SCENE and (j * 31) % 3:
                needs.append(f"m{i - 1}")
            imports = ["k_print", f"c{c}_f1"] + ([f"m{i - 1}_f2"] if len(needs) > 1 else [])
            region = f"O{j % OVERLAYS}"
        modules[name] = {"region": region, "needs": needs, "estimate": {
            "size": size, "bss": size // 4, "relocations": {"R_MIPS_26": size // 64,
                                                            "R_MIPS_HI16": size // 200,
                                                            "R_MIPS_LO16": size // 180,
                                                            "R_MIPS_32": size // 400},
            "imports": sorted(set(imports)), "exports": exports,
            "constructors": 1 if i % 5 == 0 else 0}}
        if not needs:
            del modules[name]["needs"]
        positions[name] = lba
        lba += -(-size // 2048) + (i % 3 == 0)          # mostly contiguous, some gaps
    overlay_names = [f"m{i}" for i in range(n_core, n_modules)]
    # a world map: worlds of WORLD levels, each with a hub scene (the map, no modules)
    n_levels = max(n_scenes - 1 - n_scenes // (WORLD + 1), 1)
    n_worlds = -(-n_levels // WORLD)
    scenes = {"title": {"modules": []}}
    for w in range(n_worlds):
        scenes[f"hub{w}"] = {"modules": []}
    for k in range(n_levels):
        group = overlay_names[(k * PER_SCENE) % len(overlay_names):][:PER_SCENE]
        scenes[f"s{k}"] = {"modules": group}
    transitions = []

    def go(u, v, budget=3000):
        transitions.append({"from": u, "to": v, "budget_ms": budget})

    go("title", "hub0")
    for w in range(n_worlds):
        hub, first = f"hub{w}", w * WORLD
        go(hub, f"s{first}")
        if w:
            go(hub, f"hub{w - 1}")                              # back on the map
        go(hub, "title")
    for k in range(n_levels):
        w = k // WORLD
        u = f"s{k}"
        nxt = f"s{k + 1}" if (k + 1) % WORLD and k + 1 < n_levels else (
            f"hub{w + 1}" if w + 1 < n_worlds else "title")
        go(u, nxt)                                              # clear the level
        go(u, f"hub{w}")                                        # back to the map
        if k % 5 == 4:
            go(u, "title")                                      # quit
        if k % 50 == 49:
            go(u, f"hub{(w * 3 + 1) % n_worlds}") if f"hub{(w * 3 + 1) % n_worlds}" not in (
                nxt, f"hub{w}") else None                       # secret warp
    seen, unique = set(), []
    for t in transitions:
        if (t["from"], t["to"]) not in seen:
            seen.add((t["from"], t["to"]))
            unique.append(t)
    transitions = unique
    names = [f"s{k}" for k in range(n_levels)]
    streams = []
    for k in range(0, n_levels - 1, 5):
        nxt = scenes[names[k + 1]]["modules"]
        if nxt:
            streams.append({"scene": names[k], "modules": [nxt[0]], "deadline_frames": 600,
                            "cpu_slice_ms": 2})
    return {"target": "psx", "media": "ps1-worst-2x", "frame_rate": 60,
            "memoryMap": {"regions": regions}, "modules": modules, "scenes": scenes,
            "start": "title", "transitions": transitions, "streams": streams,
            "disc": {"positions": positions}}


def measure(n_modules: int, n_scenes: int, repeat: int) -> dict:
    data = project(n_modules, n_scenes)
    best: dict = {}
    for _ in range(repeat):
        t0 = time.perf_counter()
        config = config_from_dict(data)
        t1 = time.perf_counter()
        infos = {n: estimated_module(n, s.estimate) for n, s in config.modules.items()}
        from gamevm_build.analysis.model import ResidentInfo
        G = build_graph(config, infos, ResidentInfo("kernel.elf", 0x80010000, 0x80020000,
                                                    frozenset({"k_print", "k_alloc"})))
        t2 = time.perf_counter()
        result = analyze(G)
        t3 = time.perf_counter()
        render(result.to_dict(), "text")
        t4 = time.perf_counter()
        times = {"config": t1 - t0, "graph": t2 - t1, "analyze": t3 - t2, "report": t4 - t3}
        for k, v in times.items():
            best[k] = min(best.get(k, v), v)
    best["total"] = sum(best[k] for k in ("config", "graph", "analyze", "report"))
    best["transitions"] = len(data["transitions"])
    best["errors"] = len(result.errors)
    return best


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3, help="best of N runs (default 3)")
    ap.add_argument("--sizes", default="1000:100,10000:1000",
                    help="MODULES:SCENES pairs, smallest first (default 1000:100,10000:1000)")
    ap.add_argument("--check", action="store_true", help="exit 1 when the goal is missed")
    args = ap.parse_args(argv)
    sizes = [tuple(int(x) for x in pair.split(":")) for pair in args.sizes.split(",")]
    print(f"bench_budget: synthetic psx projects, best of {args.repeat}")
    print(f"  {'modules':>7}  {'scenes':>6}  {'transitions':>11}  {'config':>7}  {'graph':>7}  "
          f"{'analyze':>7}  {'report':>7}  {'total':>7}")
    rows = []
    for n, s in sizes:
        r = measure(n, s, args.repeat)
        rows.append((n, s, r))
        print(f"  {n:>7}  {s:>6}  {r['transitions']:>11}  {r['config']:>6.2f}s  {r['graph']:>6.2f}s"
              f"  {r['analyze']:>6.2f}s  {r['report']:>6.2f}s  {r['total']:>6.2f}s")
    ok = True
    if len(rows) >= 2:
        (n0, _, a), (n1, s1, b) = rows[0], rows[-1]
        core = lambda r: r["graph"] + r["analyze"]  # noqa: E731
        ratio = core(b) / core(a)
        met = core(b) <= GOAL_S
        ok = met
        print(f"  growth ({n1 // n0}x the project): graph+analyze {ratio:.1f}x, "
              f"total {b['total'] / a['total']:.1f}x   "
              f"goal graph+analyze <= {GOAL_S:g} s for {n1}/{s1}: "
              f"{'met' if met else 'NOT met'} ({core(b):.2f} s)")
    return 1 if args.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
