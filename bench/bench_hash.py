#!/usr/bin/env python3
"""The cost of checking a module's hash at load (issue 13: "measure the cost").

Reads each module with :func:`gamevm_build.link.module.read_module` with the hash check on
(the default: the contents hashed and compared with the metadata's ``hash``) and off,
interleaved, best of ``--repeat``, and prints the time per read and the check's share.
Modules: the files given, or the example game's built for ``--target`` (scons in a
temporary directory, as bench_loader.py does).  A large module for the worst case:
``python bench/bench_link.py --workdir /tmp/bl`` leaves ``/tmp/bl/bench.elf`` (500
objects, 22,500 relocations).

    python bench/bench_hash.py [--target psx] [--repeat 5] [MODULE.elf ...]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gamevm_build.link.module import read_module  # noqa: E402


def best(fn, repeat: int, n: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        times.append((time.perf_counter() - t0) / n)
    return min(times)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("modules", nargs="*", type=Path)
    ap.add_argument("--target", default="psx")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    modules = args.modules
    tmp = None
    if not modules:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from example_game import build_example
        tmp = tempfile.TemporaryDirectory()
        out = build_example(Path(tmp.name), args.target)
        modules = [out / f"{m}.elf" for m in ("physics", "level1", "boss")]
    print(f"bench_hash: read_module with and without the hash check, best of {args.repeat}")
    for path in modules:
        data = path.read_bytes()
        m = read_module(data, name=str(path))
        n = max(1, int(2e6 // max(len(data), 1)))
        off = best(lambda: read_module(data, name=path.name, verify_hash=False), args.repeat, n)
        on = best(lambda: read_module(data, name=path.name), args.repeat, n)
        print(f"  {path.name:<14} {len(data):>8} bytes {len(m.relocations):>6} relocs: "
              f"{off * 1e3:8.3f} ms unchecked, {on * 1e3:8.3f} ms checked "
              f"(+{(on - off) * 1e3:.3f} ms, +{(on / off - 1) * 100:.0f}%)")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
