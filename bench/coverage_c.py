#!/usr/bin/env python3
"""Lines of the console-side C runtime that its differential tests never run.

bench/coverage.py's twin for the C runtime (docs/testing.md, "Lines no test runs"),
whose code runs on unicorn's CPU models, where coverage.py cannot see: the tests a C
mutant faces (bench/mutation_c.py's ``TESTS`` and ``FILE_TESTS``, with ``-k CONSOLE``) run
with a pytest plugin (bench/c_coverage_plugin.py) that records each translation block the
emulated CPU executes in a resident's code.  Each executed offset of a runtime function
is mapped to its source line through a copy of the runtime compiled with ``-g`` (gcc
generates the same code with and without it; :class:`~gamevm_build.link.sources.SourceMap`
checks the bytes before trusting the copy).  It prints, per source file, the lines that
have code, how many no test ran, and which.  A line never run is a survivor of every
mutant on it, known in minutes rather than hours.

    python bench/coverage_c.py                     # psx, the mutation run's tests
    python bench/coverage_c.py --tests tests/test_runtime_c_sequences.py

Exit 1 when a test fails (the figures would not be the suite's), 2 for a usage error.
The checkout is not changed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mutation import MAX_JOBS, REPO, jobs_count, bad_test_file  # noqa: E402
from mutation_c import FILE_TESTS, TESTS  # noqa: E402

sys.path.insert(0, str(REPO))


def run_tests(console: str, tests: list[str], jobs: int, data: Path) -> int:
    env = dict(os.environ, GAMEVM_C_COVERAGE=str(data),
               PYTHONPATH=os.pathsep.join([str(REPO / "bench"), str(REPO),
                                           os.environ.get("PYTHONPATH", "")]))
    print(f"# {console}: {' '.join(tests)}", flush=True)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-p", "c_coverage_plugin", "-n", str(jobs), "-k", console, *tests],
                          cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)
    print(proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else "", flush=True)
    if proc.returncode:
        print(proc.stdout[-4000:])
    return proc.returncode


def executed(data: Path) -> dict[str, set[int]]:
    out: dict[str, set[int]] = defaultdict(set)
    for part in data.glob("*.json"):
        for name, offsets in json.loads(part.read_text()).items():
            out[name].update(offsets)
    return out


def runtime_lines(console: str, build: Path):
    """``{function: (section size, {offset: "file:line"})}`` of the runtime's code."""
    from gamevm_build.link import elf32
    from gamevm_build.link.sources import SourceMap
    from gamevm_build.link.toolchain import find_toolchain
    from gamevm_build.project.profile import load_profile
    from gamevm_build.runtime.build import LOADER_DIR, compile_runtime_loader
    profile = load_profile(console)
    tc = find_toolchain(profile)
    sources = SourceMap(tc)
    objs = compile_runtime_loader(profile, tc, build, "target", sources)
    step = 4 if profile.arch == "mips" or (profile.arch == "arm" and not profile.runtime_isa) \
        else 2
    out = {}
    try:
        for obj in objs:
            if Path(sources.source(obj) or "").parent != LOADER_DIR:
                continue                        # the host traps' twins
            elf = elf32.parse(obj.read_bytes(), str(obj))
            for sec in elf.sections:
                if sec.name.startswith(".text.") and sec.size:
                    lines = sources.lines(obj, sec.name, range(0, sec.size, step), profile)
                    out[sec.name[len(".text."):]] = (sec.size, step, lines)
    finally:
        sources.close()
    return out


def ranges(numbers: list[int]) -> str:
    parts, start = [], None
    for i, n in enumerate(numbers):
        if start is None:
            start = n
        if i + 1 == len(numbers) or numbers[i + 1] != n + 1:
            parts.append(str(start) if start == n else f"{start}-{n}")
            start = None
    return ", ".join(parts)


def report(functions, ran: dict[str, set[int]]) -> None:
    code: dict[str, set[int]] = defaultdict(set)
    hit: dict[str, set[int]] = defaultdict(set)
    for name, (size, step, lines) in functions.items():
        done = {o - o % step for o in ran.get(name, ()) if o < size}
        for offset, where in lines.items():
            path, _, number = where.rpartition(":")
            code[Path(path).name].add(int(number))
            if offset in done:
                hit[Path(path).name].add(int(number))
    width = max(map(len, code), default=4)
    print(f"{'file':<{width}}  lines  missed  cover  missing")
    total = missed_total = 0
    for name in sorted(code):
        missed = sorted(code[name] - hit[name])
        total += len(code[name])
        missed_total += len(missed)
        cover = 100.0 * (len(code[name]) - len(missed)) / len(code[name])
        print(f"{name:<{width}}  {len(code[name]):5}  {len(missed):6}  {cover:4.0f}%  "
              f"{ranges(missed)}")
    if total:
        print(f"{'TOTAL':<{width}}  {total:5}  {missed_total:6}  "
              f"{100.0 * (total - missed_total) / total:4.0f}%")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--console", default="psx",
                    help="the console whose runtime is measured (default psx)")
    ap.add_argument("--tests", action="append", metavar="FILE",
                    help="run this test file instead of the mutation run's (repeatable)")
    ap.add_argument("-j", "--jobs", type=jobs_count, default=min(os.cpu_count() or 1, MAX_JOBS),
                    help="pytest-xdist workers (default: one per CPU)")
    args = ap.parse_args(argv)
    from gamevm_build.project.profile import available_targets
    if args.console not in available_targets():
        ap.error(f"--console {args.console}: one of {', '.join(available_targets())}")
    tests = args.tests or [*dict.fromkeys(t for ts in FILE_TESTS.values() for t in ts), *TESTS]
    for test in tests:
        if (problem := bad_test_file(test)) is not None:
            ap.error(f"--tests {test}: {problem}")
    with tempfile.TemporaryDirectory(prefix="gamevm-coverage-c-") as tmp:
        data, build = Path(tmp) / "data", Path(tmp) / "build"
        data.mkdir()
        build.mkdir()
        failed = run_tests(args.console, tests, args.jobs, data)
        report(runtime_lines(args.console, build), executed(data))
    if failed:
        print("tests failed under the coverage plugin", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
