#!/usr/bin/env python3
"""Link-time benchmark: ``gamevm module`` against GNU ``ld -r`` on the same objects.

Generates N small C files (default 500) that reference each other (calls,
data pointers, function-pointer tables in .rodata and .data, switch jump
tables, string literals, static helpers, one resident import), compiles them
once with the target's cross compiler, then times, in the same run:

* ``python -m gamevm_build module -t TARGET -o bench.elf *.o`` (the whole CLI
  process, as a build system would run it), and
* ``<prefix>ld -r -o bench-r.o *.o`` (GNU ld's relocatable link),

best of ``--repeat`` runs each (interleaved, so both see the same machine
state; gamevm with Python's bytecode caches written by a first run, in
``WORKDIR/.pycache``), and prints both times, the ratio and whether the goal (gamevm within
3x of GNU ld; 5x for a link of at most 10 objects, where Python's start-up is
most of the time) holds.  With ``--check`` the exit status is 1 when it does not.

``--growth 50,500,2000`` instead links the first N of max(N) generated objects
in this process (``link_module``, best of ``--repeat``) and prints the time per
object at each N and its growth against linear.

A ``--workdir`` keeps the sources and objects; an object whose source is
unchanged is not compiled again.

    python bench/bench_link.py [--objects 500] [--target psx] [--repeat 3]
    python bench/bench_link.py --growth 50,500,2000 --workdir /tmp/bl
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gamevm_build.errors import GameVMError  # noqa: E402
from gamevm_build.link.toolchain import find_toolchain  # noqa: E402

GOAL_RATIO = 3.0
GOAL_RATIO_SMALL = 5.0          # at most SMALL objects
SMALL = 10


def source(i: int, n: int) -> str:
    """C source of object ``i`` of ``n``: a few functions and data referring to others."""
    a, b, c = (i + 1) % n, (i * 7 + 3) % n, (i * 13 + 5) % n
    return f"""\
/* bench_link.py generated object {i} of {n} */
extern int bench_import(int);
extern int f{a}_a(int);
extern int f{b}_a(int);
extern int f{a}_b(int);
extern int d{c}[8];

int d{i}[8] = {{ {i}, {i + 1}, {i + 2}, {i + 3}, 4, 5, 6, 7 }};
static int s{i};
static const char *const names{i}[2] = {{ "object {i}", "a string every object has" }};
int *data_ptrs{i}[3] = {{ d{c} + 2, &s{i}, d{i} + 7 }};

static int __attribute__((noinline)) helper{i}(int x)
{{
    return x * {i + 3} + s{i} + d{c}[x & 7];
}}

int f{i}_a(int x)
{{
    s{i} += x;
    return x > 0 ? helper{i}(x) + f{a}_a(x - 1) : *data_ptrs{i}[x & 1];
}}

int f{i}_b(int x);
int (*const table{i}[4])(int) = {{ f{i}_a, f{a}_b, f{b}_a, helper{i} }};
int (*hooks{i}[2])(int) = {{ f{b}_a, bench_import }};

int f{i}_b(int x)
{{
    switch (x & 7) {{
    case 0: return d{c}[1];
    case 1: return f{a}_a(x);
    case 2: return names{i}[x & 1][0];
    case 3: return helper{i}(x);
    case 4: return table{i}[x & 3](x);
    case 5: return hooks{i}[x & 1](x);
    case 6: return d{i}[x & 7] + f{b}_a(x);
    default: return bench_import(x);
    }}
}}
"""


def generate_and_compile(work: Path, n: int, tc, jobs: int) -> list[str]:
    """Write and compile ``n`` sources in ``work``; return the object names (relative)."""
    names = [f"o{i:04d}" for i in range(n)]
    stale = []
    for i, name in enumerate(names):
        c, text = work / f"{name}.c", source(i, n)
        if not (work / f"{name}.o").is_file() or not c.is_file() or c.read_text() != text:
            c.write_text(text)
            stale.append(name)

    def compile_one(name: str) -> None:
        tc.compile(work / f"{name}.c", work / f"{name}.o")

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        list(pool.map(compile_one, stale))
    return [f"{name}.o" for name in names]


def run_timed(cmd: list[str], cwd: Path, env: dict) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"bench_link: command failed (exit {proc.returncode}): {' '.join(cmd[:6])} ...\n"
                 f"{proc.stderr.strip()}")
    return elapsed


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--objects", type=int, default=500, metavar="N",
                    help="number of generated objects (default 500)")
    ap.add_argument("--target", default="psx", help="target profile (default psx)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per linker; best is kept")
    ap.add_argument("--jobs", type=int, default=2, help="parallel compiles (default 2)")
    ap.add_argument("--workdir", help="keep generated files here (default: a temp dir)")
    ap.add_argument("--check", action="store_true",
                    help=f"exit 1 when gamevm is slower than {GOAL_RATIO:g}x GNU ld -r "
                         f"({GOAL_RATIO_SMALL:g}x for at most {SMALL} objects)")
    ap.add_argument("--growth", metavar="N,N,...",
                    help="time in-process links of the first N objects for each N")
    args = ap.parse_args(argv)
    growth = sorted({int(x) for x in args.growth.split(",")}) if args.growth else None
    if growth and growth[0] < 2:
        ap.error("--growth sizes must be at least 2")
    if args.objects < 2:
        ap.error("--objects must be at least 2")

    try:
        tc = find_toolchain(args.target)
        ld = tc.ld
    except GameVMError as exc:
        print(f"bench_link: {exc}", file=sys.stderr)
        return 2

    tmp = None
    if args.workdir:
        work = Path(args.workdir).resolve()
        work.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.mkdtemp(prefix="bench-link-")
        work = Path(tmp)
    try:
        t0 = time.perf_counter()
        objs = generate_and_compile(work, growth[-1] if growth else args.objects, tc, args.jobs)
        compile_time = time.perf_counter() - t0
        if growth:
            return run_growth(work, objs, growth, args, compile_time)

        env = dict(os.environ)
        env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
        # bytecode caches, as an installed package has them (bench_scons_noop.py does the
        # same): without them every process compiles the package's sources again
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(work / ".pycache")
        gamevm_cmd = [sys.executable, "-m", "gamevm_build", "module", "-t", args.target,
                      "-q", "-o", "bench.elf", *objs]
        ld_cmd = [ld, "-r", "-o", "bench-r.o", *objs]
        gamevm_times, ld_times = [], []
        run_timed(gamevm_cmd, work, env)            # writes the bytecode caches
        for _ in range(max(1, args.repeat)):
            gamevm_times.append(run_timed(gamevm_cmd, work, env))
            ld_times.append(run_timed(ld_cmd, work, env))
        g, l = min(gamevm_times), min(ld_times)
        ratio = g / l if l > 0 else float("inf")
        goal = GOAL_RATIO_SMALL if args.objects <= SMALL else GOAL_RATIO
        ok = ratio <= goal
        size = (work / "bench.elf").stat().st_size
        print(f"bench_link: {args.objects} objects, target {args.target} ({tc.prefix}), "
              f"best of {max(1, args.repeat)} (compile {compile_time:.1f} s)")
        print(f"  gamevm module : {g:8.3f} s   ({size} bytes)")
        print(f"  GNU ld -r     : {l:8.3f} s")
        print(f"  ratio         : {ratio:8.2f}x  goal <= {goal:g}x: "
              f"{'met' if ok else 'NOT met'}")
        return 1 if args.check and not ok else 0
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def run_growth(work: Path, objs: list[str], sizes: list[int], args, compile_time: float) -> int:
    """In-process links of the first N objects: milliseconds, per object, growth vs linear."""
    from gamevm_build.link.linker import link_module

    print(f"bench_link: in-process link_module of the first N of {len(objs)} objects, "
          f"target {args.target}, best of {max(1, args.repeat)} (compile {compile_time:.1f} s)")
    print(f"  {'objects':>8} {'ms':>9} {'us/object':>10} {'growth vs linear':>17}")
    first = None
    for n in sizes:
        inputs = [work / o for o in objs[:n]]
        times = []
        for _ in range(max(1, args.repeat)):
            start = time.perf_counter()
            link_module(args.target, inputs, work / "growth.elf")
            times.append(time.perf_counter() - start)
        t = min(times)
        first = first or (n, t)
        growth = (t / first[1]) / (n / first[0])
        print(f"  {n:8d} {t * 1e3:9.1f} {t / n * 1e6:10.1f} {growth:16.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
