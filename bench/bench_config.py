#!/usr/bin/env python3
"""Config validation against ``json.loads`` of the same data (issue 16).

Generates the synthetic PlayStation projects of ``bench_budget.py`` (``--sizes``,
default 10,000 modules and 1,000 scenes), serialises each to JSON text, then times in
the same run, interleaved, best of ``--repeat``:

* **json.loads**: parsing the text (the reference: C code, the least any check costs);
* **validation**: what ``config_from_dict`` does before the cross-references:
  ``check_json`` (finite numbers, nesting) and the schema check (``validate``:
  fastjsonschema's compiled validator);
* **config_from_dict**: the whole configuration check (validation, profile, memory map,
  cross-references), for scale;
* with ``--jsonschema``: jsonschema's validator of the same schema (what ``validate``
  asks only to describe a config it refuses), once;
* the compilation of the schema by fastjsonschema, which every process that checks a
  configuration pays once (a no-op ``scons`` among them).

and prints the ratio of validation to ``json.loads``.  Goal: validation of the 10k
project within 0.3 s.  ``--check`` exits 1 when it is missed::

    python bench/bench_config.py [--sizes 1000:100,10000:1000] [--repeat 5] [--jsonschema] [--check]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_budget import project  # noqa: E402
from gamevm_build.fileutil import check_json  # noqa: E402
from gamevm_build.project import config as cfgmod  # noqa: E402

GOAL_S = 0.3


def _time(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def measure(n_modules: int, n_scenes: int, repeat: int, with_jsonschema: bool) -> dict:
    data = project(n_modules, n_scenes)
    text = json.dumps(data)
    cfgmod.validate(data)                  # compiles the schema once, as any first check does
    runs = {
        "json.loads": lambda: json.loads(text),
        "check_json": lambda: check_json(data, "bench.json"),
        "schema": lambda: cfgmod.validate(data, where="bench.json"),
        "config_from_dict": lambda: cfgmod.config_from_dict(data),
    }
    best = {k: float("inf") for k in runs}
    for _ in range(repeat):               # interleaved: a busy moment hits every measure
        for k, fn in runs.items():
            best[k] = min(best[k], _time(fn))
    best["validation"] = best["check_json"] + best["schema"]
    if with_jsonschema:
        best["jsonschema"] = _time(lambda: cfgmod._validator().validate(data))
    best["bytes"] = len(text)
    return best


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10000:1000",
                    help="MODULES:SCENES pairs (default 10000:1000); the goal is for the last")
    ap.add_argument("--repeat", type=int, default=5, help="best of N runs (default 5)")
    ap.add_argument("--jsonschema", action="store_true",
                    help="also time jsonschema's validator once (slow)")
    ap.add_argument("--check", action="store_true", help="exit 1 when the goal is missed")
    args = ap.parse_args(argv)
    sizes = [tuple(int(x) for x in pair.split(":")) for pair in args.sizes.split(",")]
    print(f"bench_config: synthetic psx projects, best of {args.repeat}, interleaved")
    print(f"  {'modules':>7}  {'scenes':>6}  {'JSON':>8}  {'json.loads':>10}  {'check_json':>10}  "
          f"{'schema':>8}  {'validation':>10}  {'ratio':>7}  {'config':>8}"
          + (f"  {'jsonschema':>10}" if args.jsonschema else ""))
    last = None
    for n, s in sizes:
        r = measure(n, s, args.repeat, args.jsonschema)
        ratio = r["validation"] / r["json.loads"]
        print(f"  {n:>7}  {s:>6}  {r['bytes'] / 1e6:>6.1f}MB  {r['json.loads']:>9.3f}s  "
              f"{r['check_json']:>9.3f}s  {r['schema']:>7.3f}s  {r['validation']:>9.3f}s  "
              f"{ratio:>6.2f}x  {r['config_from_dict']:>7.3f}s"
              + (f"  {r['jsonschema']:>9.3f}s" if args.jsonschema else ""))
        last = (n, s, r)
    n, s, r = last
    compiles = []
    for _ in range(args.repeat):
        cfgmod._fast_check.cache_clear()
        compiles.append(_time(cfgmod._fast_check))
    print(f"  compiling the schema (once per process): {min(compiles) * 1000:.1f} ms")
    met = r["validation"] <= GOAL_S
    print(f"  goal validation <= {GOAL_S:g} s for {n}/{s}: {'met' if met else 'NOT met'} "
          f"({r['validation']:.3f} s, {r['validation'] / r['json.loads']:.2f}x json.loads)")
    return 1 if args.check and not met else 0


if __name__ == "__main__":
    sys.exit(main())
