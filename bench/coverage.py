#!/usr/bin/env python3
"""Lines of the core that no test of their package runs: mutation testing's cheap first pass.

A mutant of a line no test executes survives whatever it changes, so those lines are
survivors known before mutmut runs (hours): this runs each package's test files
(``PACKAGES`` in bench/mutation.py, the one place they are set) once under coverage.py
with branch coverage, subprocesses (``python -m gamevm_build``, SCons, pytest-xdist's
workers) included, and prints, per package, its files' statements and branches missed
with their line numbers.  Each is a test to write, dead code to remove, or a check an
earlier one makes redundant (docs/testing.md, "Lines no test runs").

    python bench/coverage.py                 # every package (~10 min on 2 cores)
    python bench/coverage.py -p linker       # one package (~1 min)
    python bench/coverage.py -p linker --tests tests/test_linker_paths.py   # what one file runs

The checkout is not changed: coverage's data goes to a temporary directory.  Exit 1
when a test fails (the figures would not be those of the suite), 2 for a usage error.
Needs coverage.py (``pip install -e '.[mutation]'``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mutation import MAX_JOBS, PACKAGES, REPO, jobs_count, bad_test_file  # noqa: E402


def measure(package, jobs: int, tmp: Path, tests: list[str] | None = None) -> int:
    """Run ``package``'s tests under coverage and print the report; the tests' exit code."""
    rc = tmp / f"{package.name}.rc"
    rc.write_text("[run]\nbranch = True\nparallel = True\npatch = subprocess\n"
                  f"data_file = {tmp / package.name / '.coverage'}\n"
                  "source = gamevm_build, analysis\n")
    (tmp / package.name).mkdir()
    env = dict(os.environ, COVERAGE_RCFILE=str(rc))
    py = [sys.executable, "-m", "coverage"]
    files = tests or package.tests
    print(f"# {package.name}: {' '.join(files)}", flush=True)
    run = subprocess.run([*py, "run", "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "-n", str(jobs), *files], cwd=REPO, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if run.returncode:
        print(run.stdout[-4000:])
    subprocess.run([*py, "combine", "-q"], cwd=REPO, env=env, check=True)
    include = ",".join(package.sources)
    subprocess.run([*py, "report", "-m", f"--include={include}"], cwd=REPO, env=env)
    return run.returncode


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-p", "--package", action="append", choices=[p.name for p in PACKAGES],
                    help="a package of the core (repeatable; default: all)")
    ap.add_argument("-j", "--jobs", type=jobs_count, default=min(os.cpu_count() or 1, MAX_JOBS),
                    help="pytest-xdist workers (default: one per CPU)")
    ap.add_argument("--tests", action="append", metavar="FILE",
                    help="run this test file instead of the package's (repeatable)")
    args = ap.parse_args(argv)
    for test in args.tests or ():
        if (problem := bad_test_file(test)) is not None:
            ap.error(f"--tests {test}: {problem}")
    try:
        import coverage  # noqa: F401
    except ImportError:
        print("bench/coverage.py: coverage.py is not installed: "
              "pip install -e '.[mutation]'", file=sys.stderr)
        return 2
    chosen = [p for p in PACKAGES if not args.package or p.name in args.package]
    failed = []
    with tempfile.TemporaryDirectory(prefix="gamevm-coverage-") as tmp:
        for package in chosen:
            if measure(package, args.jobs, Path(tmp), args.tests):
                failed.append(package.name)
    if failed:
        print(f"tests failed under coverage: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
