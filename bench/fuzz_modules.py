#!/usr/bin/env python3
"""Mutated modules through ``gamevm inspect``'s reader and the host loader: outcome counts.

The longer exploration of tests/test_module_integrity.py's fuzz driver (issue 13's
experiment: single-byte mutations of the example's modules).  Each mutation sets one
byte of physics, level1 or boss (``random.Random(--seed)``, so a run is reproducible)
to a different value, then loads the module on a fresh psx console with the reference
loader (the C runtime's verdicts are compared with it by tests/test_target_runtime.py).
Prints how many of each outcome: every mutation must end in a TLoadStatus or a clean
load, never an uncaught exception; a clean load must have its hash intact.

    python bench/fuzz_modules.py [--count 200] [--seed 13] [--target psx] [--build-dir DIR]
"""

from __future__ import annotations

import argparse
import collections
import random
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from gamevm_build.play.console import Console  # noqa: E402
from gamevm_build.runtime.reference import LoadError  # noqa: E402
from gamevm_build.link.module import read_module  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--target", default="psx")
    ap.add_argument("--build-dir", type=Path)
    args = ap.parse_args(argv)
    tmp = tempfile.TemporaryDirectory()
    out = args.build_dir
    if out is None:
        from example_game import build_example
        out = build_example(Path(tmp.name), args.target)
    rng = random.Random(args.seed)
    fuzz = Path(tmp.name) / "fuzz"
    fuzz.mkdir()
    (fuzz / "physics.elf").write_bytes((out / "physics.elf").read_bytes())
    outcomes: collections.Counter = collections.Counter()
    crashes = []
    for i in range(args.count):
        victim = rng.choice(["physics", "level1", "boss"])
        data = bytearray((out / f"{victim}.elf").read_bytes())
        at = rng.randrange(len(data))
        data[at] = (data[at] + rng.randrange(1, 256)) % 256
        (fuzz / "m.elf").write_bytes(bytes(data))
        console = Console(args.target, out / "kernel.elf", search_paths=[fuzz], loader="host")
        try:
            lm = console.load("m", needs=True, run_init=False)
        except LoadError as exc:
            outcomes[exc.status.name] += 1
            continue
        except Exception as exc:              # what the fuzzing is for: must stay 0
            crashes.append((victim, at, repr(exc)))
            outcomes["uncaught exception"] += 1
            continue
        intact = lm.module.hash == read_module(out / f"{victim}.elf").hash
        outcomes["loaded (hash intact)" if intact else "loaded, CHANGED"] += 1
    print(f"fuzz_modules: {args.count} single-byte mutations of the example's modules "
          f"({args.target}, seed {args.seed}), host loader")
    for name, n in outcomes.most_common():
        print(f"  {n:>5}  {name}")
    for c in crashes[:10]:
        print("  crash:", *c)
    tmp.cleanup()
    return 1 if crashes or outcomes["loaded, CHANGED"] else 0


if __name__ == "__main__":
    sys.exit(main())
