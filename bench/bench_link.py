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
state), and prints both times, the ratio and whether the goal (gamevm within
3x of GNU ld) holds.  With ``--check`` the exit status is 1 when it does not.

    python bench/bench_link.py [--objects 500] [--target psx] [--repeat 3]
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
    for i, name in enumerate(names):
        (work / f"{name}.c").write_text(source(i, n))

    def compile_one(name: str) -> None:
        tc.compile(work / f"{name}.c", work / f"{name}.o")

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        list(pool.map(compile_one, names))
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
                    help=f"exit 1 when gamevm is slower than {GOAL_RATIO:g}x GNU ld -r")
    args = ap.parse_args(argv)
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
        objs = generate_and_compile(work, args.objects, tc, args.jobs)
        compile_time = time.perf_counter() - t0

        env = dict(os.environ)
        env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
        gamevm_cmd = [sys.executable, "-m", "gamevm_build", "module", "-t", args.target,
                      "-q", "-o", "bench.elf", *objs]
        ld_cmd = [ld, "-r", "-o", "bench-r.o", *objs]
        gamevm_times, ld_times = [], []
        for _ in range(max(1, args.repeat)):
            gamevm_times.append(run_timed(gamevm_cmd, work, env))
            ld_times.append(run_timed(ld_cmd, work, env))
        g, l = min(gamevm_times), min(ld_times)
        ratio = g / l if l > 0 else float("inf")
        ok = ratio <= GOAL_RATIO
        size = (work / "bench.elf").stat().st_size
        print(f"bench_link: {args.objects} objects, target {args.target} ({tc.prefix}), "
              f"best of {max(1, args.repeat)} (compile {compile_time:.1f} s)")
        print(f"  gamevm module : {g:8.3f} s   ({size} bytes)")
        print(f"  GNU ld -r     : {l:8.3f} s")
        print(f"  ratio         : {ratio:8.2f}x  goal <= {GOAL_RATIO:g}x: "
              f"{'met' if ok else 'NOT met'}")
        return 1 if args.check and not ok else 0
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
