#!/usr/bin/env python3
"""Disc layout benchmark: the example game and synthetic flows of 100 and 1000 modules.

For each project it plans the layout (``gamevm_build.layout.plan_layout``,
docs/layout.md) and prints, with the project's media model (PS1 worst of
DuckStation and Mednafen, 2x, drive paused between loads):

* **plan ÷ bound**: the plan's weighted worst-case load time over the lower
  bound (per-load floor, or the 2-matching bound when copies are off);
* **alpha ÷ plan**: alphabetical order (what mastering without a sort file
  gives) over the plan; also declaration order;
* the optimiser's run time.

The example is built first (``scons`` in a temporary copy of the
repository's SConstruct and examples) unless ``--build-dir`` names a build.
The synthetic projects are generated in memory (modules are ``estimate``
entries): worlds of 8 levels and a map (hub) scene each, every level needs
six modules of its own, its world's shared enemy pack (an overlay module
used by all eight levels) and a core module from the resident region; the
player clears a level (likelihood 0.8), goes back to the map (0.15) or quits
to the title (0.05); maps lead on to the next world and back; every level
streams the next level's first module into the other half of a double
buffer.  Output (2-core machine)::

    bench_layout: PS1 2x (ps1-worst-2x), drive paused between loads
      project         modules  loads  plan/bound  alpha/plan  (seek part)  decl/plan  copies    time
      example               3      2      1.032x       1.18x        1.26x      1.21x       0   0.01s
      synthetic-100       100     30      1.001x       1.72x        3.79x      1.08x       0   0.71s
      synthetic-1000     1000    300      1.010x       2.93x        5.84x      1.08x       0   3.91s

Goals (docs/layout.md): plan ≤ 1.10× the bound; ≥ 3× better than
alphabetical on the example; 1000 modules planned in ≤ 30 s.  ``--check``
exits 1 when one is missed (the example's goal only if some layout could meet
it: alphabetical ÷ bound ≥ 3).

    python bench/bench_layout.py [--sizes 100,1000] [--build-dir build/psx] [--check]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gamevm_build.project.config import config_from_dict  # noqa: E402
from gamevm_build.layout.plan import plan_layout  # noqa: E402
from gamevm_build.layout.problem import load_problem, problem_from_project  # noqa: E402

GOAL_BOUND = 1.10
GOAL_ALPHA = 3.0
GOAL_SECONDS = 30.0
GOAL_3000_SECONDS, GOAL_3000_BOUND = 10.0, 1.02
WORLD = 8
OWN = 6
#: What a level's own modules hold; names start with it (``geo3_5``: world 3, level 5), so
#: alphabetical order groups modules by kind, as asset pipelines often name them.
KINDS = ("geo", "ai", "snd", "tex", "fx", "map")


def synthetic(n_modules: int, seed: int = 1) -> dict:
    """A synthetic gamevm.json (dict) with about ``n_modules`` modules (see the docstring)."""
    rng = random.Random(seed)
    n_core = max(n_modules // 50, 1)
    per_world = WORLD * OWN + 1
    n_worlds = max((n_modules - n_core) // per_world, 1)
    regions = [{"name": "Main", "start": "0x80010000", "size": "896KB"},
               {"name": "LevelA", "start": "0x80100000", "size": "256KB", "type": "overlay",
                "pair": "LevelB"},
               {"name": "LevelB", "start": "0x80140000", "size": "256KB", "type": "overlay"}]
    for r in range(OWN - 1):
        regions.append({"name": f"O{r}", "start": hex(0x80180000 + r * 0x10000),
                        "size": "64KB", "type": "overlay"})
    regions.append({"name": "Pack", "start": "0x801D0000", "size": "64KB", "type": "overlay"})
    modules: dict = {}

    def est(lo, hi):
        size = rng.randrange(lo, hi)
        return {"size": size, "bss": size // 8, "relocations": size // 40,
                "imports": 6, "constructors": rng.randrange(2)}

    for c in range(n_core):
        modules[f"core{c}"] = {"region": "Main", "estimate": est(4096, 16384)}
    scenes: dict = {"title": {"modules": []}}
    transitions: list = []
    streams: list = []
    levels: list = []
    for w in range(n_worlds):
        scenes[f"map{w}"] = {"modules": []}
        pack = f"pack{w}"
        modules[pack] = {"region": "Pack", "estimate": est(8192, 32768)}
        for k in range(WORLD):
            name = f"w{w}l{k}"
            own = []
            for j in range(OWN):
                m = f"{KINDS[j]}{w}_{k}"
                region = ("LevelA" if k % 2 == 0 else "LevelB") if j == 0 else f"O{j - 1}"
                modules[m] = {"region": region, "estimate": est(2048, 24576)}
                if j:
                    modules[m]["needs"] = [own[0]]
                own.append(m)
            core = f"core{(w * WORLD + k) % n_core}"
            modules[own[0]]["needs"] = [core, pack]
            scenes[name] = {"modules": own}
            levels.append((w, k, name))

    def go(u, v, likelihood, budget=3000):
        transitions.append({"from": u, "to": v, "budget_ms": budget, "likelihood": likelihood})

    go("title", "map0", 1.0)
    for w in range(n_worlds):
        go(f"map{w}", f"w{w}l0", 1.0)
        if w:
            go(f"map{w}", f"map{w - 1}", 0.1)
        go(f"map{w}", "title", 0.05)
    for w, k, name in levels:
        nxt = f"w{w}l{k + 1}" if k + 1 < WORLD else (f"map{w + 1}" if w + 1 < n_worlds
                                                      else "title")
        go(name, nxt, 0.8 if nxt != "title" else 0.85)
        go(name, f"map{w}", 0.15)
        if nxt != "title":
            go(name, "title", 0.05)
        if k + 1 < WORLD:
            streams.append({"scene": name, "modules": [f"{KINDS[0]}{w}_{k + 1}"],
                            "deadline_frames": 900, "cpu_slice_ms": 2})
    return {"target": "psx", "media": "ps1-worst-2x", "frame_rate": 60,
            "memoryMap": {"regions": regions}, "modules": modules, "scenes": scenes,
            "start": "title", "transitions": transitions, "streams": streams,
            "disc": {"duplicates": {"policy": "auto"}}}


def dense(n_scenes: int, n_transitions: int, seed: int = 1) -> dict:
    """:func:`synthetic` grown to ``n_scenes`` scenes (extra ones entered from the title,
    one module each) and ``n_transitions`` transitions (random pairs, likelihood 0.01): a
    dense flow graph, where the layout's head sources are the slow part."""
    doc = synthetic(50 * max((n_scenes - 1) // (WORLD + 1), 1), seed)
    rng = random.Random(seed + 1)
    mods = sorted(doc["modules"])
    i = 0
    while len(doc["scenes"]) < n_scenes:
        doc["scenes"][f"extra{i}"] = {"modules": [rng.choice(mods)]}
        doc["transitions"].append({"from": "title", "to": f"extra{i}", "budget_ms": 3000,
                                   "likelihood": 0.01})
        i += 1
    names = list(doc["scenes"])
    pairs = {(t["from"], t["to"]) for t in doc["transitions"]}
    while len(pairs) < n_transitions:
        a, b = rng.sample(names, 2)
        if (a, b) not in pairs:
            pairs.add((a, b))
            doc["transitions"].append({"from": a, "to": b, "budget_ms": 3000,
                                       "likelihood": 0.01})
    return doc


def synthetic_problem(n_modules: int, seed: int = 1):
    from gamevm_build.analysis.model import load_project

    config = config_from_dict(synthetic(n_modules, seed))
    return problem_from_project(load_project(config))


def example_problem(build_dir: Path | None):
    if build_dir is None:
        tmp = Path(tempfile.mkdtemp(prefix="bench-layout-"))
        shutil.copy(REPO / "SConstruct", tmp / "SConstruct")
        for sub in ("site_scons", "examples"):
            shutil.copytree(REPO / sub, tmp / sub, ignore=shutil.ignore_patterns("__pycache__"))
        env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH",
                                                                                    ""))
        proc = subprocess.run([sys.executable, "-m", "SCons", "-Q", "game"], cwd=tmp, env=env,
                              capture_output=True, text=True)
        if proc.returncode:
            sys.exit(f"bench_layout: building the example failed:\n{proc.stdout}{proc.stderr}")
        root = tmp
    else:
        root = Path(build_dir).resolve().parents[1]
    return load_problem(root / "examples" / "game" / "gamevm.json")


def row(label: str, problem, time_limit: float | None):
    t0 = time.perf_counter()
    plan = plan_layout(problem, time_limit=time_limit)
    seconds = time.perf_counter() - t0
    from gamevm_build.layout.cost import Evaluator

    alpha = plan.naive["alphabetical"][1].total
    decl = plan.naive["declaration"][1].total
    ev = Evaluator(problem)
    reads = sum(ld.weight * ev.read_s(ld) for ld in problem.loads)
    r = {"label": label, "modules": len(problem.modules),
         "loads": sum(1 for ld in problem.loads if ld.modules),
         "bound": plan.cost / plan.bound.total if plan.bound.total else 1.0,
         "alpha": alpha / plan.cost if plan.cost else 1.0,
         "decl": decl / plan.cost if plan.cost else 1.0,
         "alpha_bound": alpha / plan.bound.total if plan.bound.total else 1.0,
         "alpha_access": (alpha - reads) / (plan.cost - reads) if plan.cost > reads else 1.0,
         "copies": plan.result.copies, "seconds": seconds, "chosen": plan.result.chosen}
    print(f"  {label:<15} {r['modules']:>7} {r['loads']:>6} {r['bound']:>10.3f}x "
          f"{r['alpha']:>10.2f}x {r['alpha_access']:>11.2f}x {r['decl']:>9.2f}x "
          f"{r['copies']:>7} {seconds:>6.2f}s   ({r['chosen']})", flush=True)
    return r


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="100,1000", help="synthetic sizes (default 100,1000)")
    ap.add_argument("--build-dir", help="an existing build of the example (build/psx)")
    ap.add_argument("--time-limit", type=float, default=None,
                    help="optimiser time limit in seconds (default: by project size)")
    ap.add_argument("--no-example", action="store_true", help="skip the example game")
    ap.add_argument("--dense", default="", metavar="SCENES:TRANSITIONS,...",
                    help="also dense flow graphs, e.g. 100:3340,303:3340 (time limit checks)")
    ap.add_argument("--check", action="store_true", help="exit 1 when a goal is missed")
    args = ap.parse_args(argv)
    print("bench_layout: PS1 2x (ps1-worst-2x), drive paused between loads")
    print(f"  {'project':<15} {'modules':>7} {'loads':>6} {'plan/bound':>11} {'alpha/plan':>11}"
          f" {'(seek part)':>12} {'decl/plan':>10} {'copies':>7} {'time':>7}")
    rows = []
    if not args.no_example:
        ex = row("example", example_problem(Path(args.build_dir) if args.build_dir else None),
                 args.time_limit)
        rows.append(ex)
    for n in (int(x) for x in args.sizes.split(",") if x):
        rows.append(row(f"synthetic-{n}", synthetic_problem(n), args.time_limit))
    for spec in (x for x in args.dense.split(",") if x):
        from gamevm_build.analysis.model import load_project

        s, tr = (int(v) for v in spec.split(":"))
        problem = problem_from_project(load_project(config_from_dict(dense(s, tr))))
        r = row(f"dense-{s}/{tr}", problem, args.time_limit)
        print(f"  {'':<15} time limit {args.time_limit if args.time_limit is not None else 'default'}"
              f" s: planned in {r['seconds']:.2f} s")
    ok = True
    if rows:                 # the goals are for the example and the synthetic projects
        worst = max(r["bound"] for r in rows)
        met = worst <= GOAL_BOUND
        ok &= met
        print(f"  goal plan <= {GOAL_BOUND:.2f}x bound: {'met' if met else 'NOT met'} "
              f"(worst {worst:.3f}x)")
    if not args.no_example:
        ex = rows[0]
        met = ex["alpha"] >= GOAL_ALPHA
        attainable = ex["alpha_bound"] >= GOAL_ALPHA
        ok &= met or not attainable          # --check does not fail on the impossible
        print(f"  goal alphabetical >= {GOAL_ALPHA:.0f}x plan on the example: "
              f"{'met' if met else 'NOT met'} ({ex['alpha']:.2f}x; no layout can beat "
              f"{ex['alpha_bound']:.2f}x: alphabetical / bound)")
    big = [r for r in rows if r["modules"] >= 1000]
    if big:
        met = all(r["seconds"] <= GOAL_SECONDS for r in big)
        ok &= met
        print(f"  goal 1000 modules in <= {GOAL_SECONDS:.0f} s: {'met' if met else 'NOT met'} "
              f"({max(r['seconds'] for r in big):.1f} s)")
    huge = [r for r in rows if r["modules"] >= 3000]
    if huge:                 # issue 16: 3000 modules in 10 s at the same quality
        met = all(r["seconds"] <= GOAL_3000_SECONDS and r["bound"] <= GOAL_3000_BOUND
                  for r in huge)
        ok &= met
        print(f"  goal 3000 modules in <= {GOAL_3000_SECONDS:.0f} s at <= "
              f"{GOAL_3000_BOUND:.2f}x the bound: {'met' if met else 'NOT met'} "
              f"({max(r['seconds'] for r in huge):.1f} s, "
              f"{max(r['bound'] for r in huge):.3f}x)")
    return 0 if ok or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
