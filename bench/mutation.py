#!/usr/bin/env python3
"""Mutation testing of the core with mutmut: kill rate per package and the surviving mutants.

mutmut (https://mutmut.readthedocs.io, 3.x) changes the code one small edit at a
time (``+`` for ``-``, ``<`` for ``<=``, a constant plus one, an argument dropped,
...) and runs the tests that execute the changed function; a mutant the tests
still pass is a *survivor*: a bug of that shape would go unnoticed.  This script
runs it on "the core" (docs/testing.md), one package at a time, each against the
test files of its own area, and prints a table (mutants tested, killed, survived,
no tests, timeout, equivalent, kill rate with its 95% interval when sampled, time),
then each survivor with its diff.  The kill rate is
``(killed + timeout) / (tested - equivalent)``: a mutant that no selected test
executes ("no tests") counts as a survivor.  Equivalent mutants (the program
behaves the same, so no test can kill them) are listed with the reason in
docs/testing.md ("Equivalent mutants"); they are shown but not counted.

By default each package is tested on a sample of its mutants (``--sample``, drawn
at random but the same for the same code); ``--all`` tests every one.

The user's checkout is never changed: the working tree (tracked and untracked,
not ignored files) is copied into ``--workdir`` (default: a temporary directory,
removed afterwards) and mutmut writes its mutants into ``mutants/`` there.  The
run is niced (``--nice``, default 19) so that interactive work keeps priority.

    python bench/mutation.py                      # every package, 2 jobs
    python bench/mutation.py -p linker -p arch    # some packages
    python bench/mutation.py --check              # exit 1 below the goal (95%)
    python bench/mutation.py --recheck run.json   # only what an earlier --json run missed
    python bench/mutation.py --list               # the packages, files and tests

Needs mutmut (``pip install -e '.[mutation]'``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GOAL = 0.95
SAMPLE = 60               #: mutants per package by default: the five take ~30 min on 2 shared cores
DOCS = REPO / "docs" / "testing.md"


@dataclass(frozen=True)
class Package:
    """A part of the core: the files mutated and the test files that guard them."""
    name: str
    sources: tuple[str, ...]
    tests: tuple[str, ...]


PACKAGES = (
    Package("arch", ("gamevm_build/arch/*.py",),
            ("tests/test_relocations.py", "tests/test_isacheck.py", "tests/test_linker.py",
             "tests/test_ld_oracle.py", "tests/test_consoles.py", "tests/test_arch_checks.py")),
    Package("linker", ("gamevm_build/link/linker.py", "gamevm_build/link/modformat.py",
                       "gamevm_build/link/module.py", "gamevm_build/link/elf32.py"),
            ("tests/test_linker.py", "tests/test_linker_mutants.py", "tests/test_linker_paths.py",
             "tests/test_module_reader_errors.py", "tests/test_link_fastpaths.py",
             "tests/test_ld_oracle.py", "tests/test_consoles.py")),
    # the reference loader is also the oracle the C runtime is compared with: a mutant
    # that makes the two disagree is caught by the differential tests too
    Package("loader", ("gamevm_build/runtime/reference.py", "gamevm_build/runtime/allocator.py"),
            ("tests/test_loader.py", "tests/test_loader_mutants.py",
             "tests/test_reference_paths.py", "tests/test_runtime.py",
             "tests/test_runtime_c_mutants.py", "tests/test_runtime_c_edges.py",
             "tests/test_target_runtime_gaps.py", "tests/test_dev_reload.py")),
    Package("analysis", ("analysis/timing.py", "analysis/streaming.py"),
            ("tests/test_analysis.py", "tests/test_analysis_properties.py",
             "tests/test_analysis_streaming.py", "tests/test_analysis_transitions.py",
             "tests/test_analysis_prefetch.py")),
    Package("layout", ("gamevm_build/layout/lbaheader.py",),
            ("tests/test_layout.py", "tests/test_layout_disc.py")),
)

#: exit codes of mutmut's workers (mutmut/stats.py), grouped the way the kill rate counts them;
#: a mutant that hangs (killed for its CPU time) or crashes the interpreter is caught too
KILLED = {1, 3}
TIMEOUT = {36, -24, 24, 152, 255, -9, -11}
SURVIVED = {0}
NO_TESTS = {5, 33}


@dataclass
class Mutant:
    name: str          # mutmut's name: module.x_function__mutmut_N
    path: str          # source file, relative to the repository
    status: str        # killed, timeout, survived, no tests, equivalent, other
    diff: str = ""


@dataclass
class Result:
    package: Package
    mutants: list[Mutant] = field(default_factory=list)   # those tested (all, or a sample)
    total: int = 0                                          # mutants of the package
    seconds: float = 0.0
    error: str = ""
    #: ``--recheck``: mutants of the earlier run that the code no longer has (a function
    #: changed or went away since); they are left out of the counts, and said so
    gone: list[str] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(m.status == status for m in self.mutants)

    @property
    def kill_rate(self) -> float:
        counted = len(self.mutants) - self.count("equivalent")
        return (self.count("killed") + self.count("timeout")) / counted if counted else 1.0

    @property
    def sampled(self) -> bool:
        return len(self.mutants) < self.total

    def interval(self) -> tuple[float, float]:
        """95% Wilson interval of the package's kill rate estimated from a sample."""
        n = len(self.mutants) - self.count("equivalent")
        if not n:
            return (1.0, 1.0)
        p, z = self.kill_rate, 1.96
        mid = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        return (max(0.0, mid - half), min(1.0, mid + half))


# ----------------------------------------------------------------------------------------
# equivalent mutants: a TOML block in docs/testing.md, so the list and its reasons are one text


def equivalents(docs: Path = DOCS) -> list[dict]:
    """The documented equivalent mutants: ``[[equivalent]]`` tables with file, function, line,
    mutant (the changed line as mutmut shows it, stripped) and why."""
    if not docs.exists():
        return []
    match = re.search(r"<!-- equivalent-mutants -->\s*```toml\n(.*?)```", docs.read_text(), re.S)
    return tomllib.loads(match.group(1)).get("equivalent", []) if match else []


def changed_lines(diff: str) -> tuple[str, str]:
    """The removed and added line of a mutant's unified diff, stripped."""
    lines = diff.splitlines()
    minus = [x[1:].strip() for x in lines if x.startswith("-") and not x.startswith("---")]
    plus = [x[1:].strip() for x in lines if x.startswith("+") and not x.startswith("+++")]
    return " ".join(minus), " ".join(plus)


def is_equivalent(mutant: Mutant, known: list[dict]) -> bool:
    func = mutant.name.rsplit(".", 1)[-1].split("__mutmut_")[0]
    old, new = changed_lines(mutant.diff)
    return any(wheel_path(e["file"]) == mutant.path and e["function"] == func and e["line"] == old
               and e["mutant"] == new for e in known)


# ----------------------------------------------------------------------------------------
# one package: copy the tree, configure mutmut, run it, read its results


def snapshot(root: Path, dest: Path) -> None:
    """Copy the working tree of ``root`` (tracked and untracked files that git does not
    ignore; the whole tree when it is no git checkout) to ``dest``."""
    try:
        out = subprocess.run(["git", "-C", str(root), "ls-files", "-z", "-co",
                              "--exclude-standard"], capture_output=True, check=True).stdout
        files = [f for f in out.decode().split("\0") if f]
    except (OSError, subprocess.CalledProcessError):
        shutil.copytree(root, dest, dirs_exist_ok=True, ignore=shutil.ignore_patterns(
            ".git", ".venv", "build", "mutants", "__pycache__", ".hypothesis", "*.egg-info"))
        if (dest / "analysis").is_dir():
            shutil.move(dest / "analysis", dest / "gamevm_build" / "analysis")
        _analysis_alias(dest)
        return
    for rel in files:
        src = root / rel
        if rel.startswith("mutants/") or not src.is_file():
            continue  # deleted in the working tree, or a leftover mutmut run
        (dest / wheel_path(rel)).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest / wheel_path(rel))
    _analysis_alias(dest)


#: tests import the checkout's analysis/ as ``analysis`` too (test_analysis's doctests); in
#: the copy it is gamevm_build.analysis, so ``analysis`` names that same module there
_ANALYSIS_ALIAS = """\
import sys

import gamevm_build.analysis as _installed

sys.modules[__name__] = _installed
"""


def _analysis_alias(dest: Path) -> None:
    if (dest / "gamevm_build" / "analysis").is_dir() and not (dest / "analysis").exists():
        (dest / "analysis").mkdir()
        (dest / "analysis" / "__init__.py").write_text(_ANALYSIS_ALIAS)


def wheel_path(rel: str) -> str:
    """Where a checkout's file sits in the installed package: analysis/ installs as
    gamevm_build/analysis (pyproject.toml's package-dir), and the copy is laid out the
    same way so that mutmut's mutants of it are the ones ``gamevm_build.analysis`` imports."""
    return "gamevm_build/" + rel if rel.startswith("analysis/") else rel


def mutmut_config(pkg: Package, tree: Path) -> str:
    """setup.cfg's [mutmut] section for one package (the project's pyproject.toml has no
    [tool.mutmut], so mutmut reads this)."""
    sources = [wheel_path(s) for s in pkg.sources]
    tops = sorted({s.split("/")[0] for s in sources})
    also = sorted(p.name for p in tree.iterdir()
                  if p.name not in tops and p.name not in {"tests", "setup.cfg", "mutants"})
    lines = ["[mutmut]",
             "source_paths =\n" + "".join(f"    {t}\n" for t in tops).rstrip(),
             "only_mutate =\n" + "".join(f"    {s}\n" for s in sources).rstrip(),
             "pytest_add_cli_args_test_selection =\n"
             + "".join(f"    {t}\n" for t in pkg.tests).rstrip(),
             "pytest_add_cli_args =\n    -n\n    0\n    -p\n    no:cacheprovider\n"
             "    -p\n    gamevm_mutation_plugin",
             "also_copy =\n" + "".join(f"    {a}\n" for a in also).rstrip(),
             "use_git_change_detection = false",
             ""]
    return "\n".join(lines)


#: imported by every Python the tests start (it is on their PYTHONPATH).  mutmut's trampolines
#: read its configuration from the working directory, which for ``python -m gamevm_build`` or
#: SCons in a test's temporary directory is not the copied tree; and mutmut maps a function
#: to the tests that run it only in its own process, so while it collects that map ("stats")
#: a subprocess writes the functions it ran to HITS for the plugin below to add.
_SITECUSTOMIZE = """\
import os


def _gamevm_mutation():
    tree = os.environ.get("GAMEVM_MUTATION_TREE")
    mutant = os.environ.get("MUTANT_UNDER_TEST")
    if not tree or not mutant:
        return
    import mutmut.configuration
    cwd = os.getcwd()
    os.chdir(tree)
    try:
        mutmut.configuration.config()
    finally:
        os.chdir(cwd)
    if mutant == "stats":
        import atexit

        def dump():
            from mutmut.state import state
            if state()._stats:
                hits = os.path.join(tree, "subprocess-hits")
                os.makedirs(hits, exist_ok=True)
                with open(os.path.join(hits, f"{os.getpid()}.txt"), "a") as f:
                    f.write("\\n".join(sorted(state()._stats)) + "\\n")
        atexit.register(dump)


_gamevm_mutation()
"""

#: a pytest plugin (``-p gamevm_mutation_plugin``): before mutmut files the functions a test ran,
#: add those its subprocesses ran; and when testing a mutant run the cheapest test files first,
#: fastest tests first within a file (a killed mutant then costs its first failing test, and a
#: module's fixtures are still built once)
_HITS_PLUGIN = """\
import os

import pytest

_NOT_A_MUTANT = ("", "stats", "list_all_tests", "fail", "mutant_generation")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items):
    if os.environ.get("MUTANT_UNDER_TEST", "") in _NOT_A_MUTANT:
        return
    from mutmut.state import state
    seconds = state().duration_by_test
    cost = {}
    for item in items:
        file = item.nodeid.split("::")[0]
        cost[file] = cost.get(file, 0.0) + seconds.get(item.nodeid, 0.0)
    items.sort(key=lambda item: (cost[item.nodeid.split("::")[0]], item.nodeid.split("::")[0],
                                 seconds.get(item.nodeid, 0.0)))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item, nextitem):
    if os.environ.get("MUTANT_UNDER_TEST") != "stats":
        return
    hits = os.path.join(os.environ["GAMEVM_MUTATION_TREE"], "subprocess-hits")
    if not os.path.isdir(hits):
        return
    from mutmut.state import state
    for name in os.listdir(hits):
        path = os.path.join(hits, name)
        with open(path) as f:
            state()._stats.update(line for line in f.read().split() if line)
        os.remove(path)
"""


def mutmut_exe() -> str:
    exe = Path(sys.executable).with_name("mutmut")
    if not exe.exists():
        sys.exit("mutation: mutmut is not installed in this Python; "
                 "install it with: python -m pip install -e '.[mutation]'")
    return str(exe)


def run_package(pkg: Package, root: Path, work: Path, jobs: int, niceness: int,
                sample: int | None, earlier: list[Mutant] | None = None,
                seed: int | None = None) -> Result:
    """Test ``pkg``'s mutants: all, a sample, or (``earlier``: a previous run's mutants) again
    those that were not killed, keeping the earlier verdicts of the others."""
    tree = work / pkg.name
    if tree.exists():
        shutil.rmtree(tree)
    tree.mkdir(parents=True)
    snapshot(root, tree)
    (tree / "setup.cfg").write_text(mutmut_config(pkg, tree))
    # made now, or the interpreter caches "no such directory" for this PYTHONPATH entry and
    # imports the user's checkout through its editable install
    (tree / "mutants").mkdir()
    site = work / f"{pkg.name}-site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(_SITECUSTOMIZE)
    (site / "gamevm_mutation_plugin.py").write_text(_HITS_PLUGIN)
    env = dict(os.environ)
    # subprocesses of the tests (python -m gamevm_build, SCons) import the mutated copy too
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tree / "mutants"), str(site),
                                                      env.get("PYTHONPATH")]))
    env["GAMEVM_MUTATION_TREE"] = str(tree)
    # the tests' temporary directories: pytest keeps the last three sessions' under one root,
    # and each mutant is a session; a private root keeps that rotation away from other runs
    (tree / "pytest-tmp").mkdir()
    env["PYTEST_DEBUG_TEMPROOT"] = str(tree / "pytest-tmp")
    env.pop("MUTANT_UNDER_TEST", None)
    start = time.monotonic()
    log = work / f"{pkg.name}.log"
    nice = ["nice", "-n", str(niceness)]
    code = _niced(nice + [sys.executable, "-c", _GENERATE, str(jobs)], tree, env, log)
    result = Result(pkg)
    if code == 0:
        everything = read_results(tree)
        result.total = len(everything)
        kept: list[Mutant] = []
        if earlier is not None:
            kept, chosen, result.gone = recheck_selection(earlier, everything)
        else:
            chosen = everything if sample is None else sample_of(everything, sample, seed)
        if chosen:
            # named mutants are tested even when mutmut has a result for them
            code = _niced(nice + [mutmut_exe(), "run", "--max-children", str(jobs),
                                  *(m.name for m in chosen)], tree, env, log)
        names = {m.name for m in chosen}
        result.mutants = kept + [m for m in read_results(tree) if m.name in names]
    result.seconds = time.monotonic() - start
    if code != 0:
        tail = log.read_text(errors="replace").splitlines()[-15:]
        result.error = f"mutmut exited {code} (log: {log}):\n" + "\n".join(tail)
    add_diffs(tree, [m for m in result.mutants if m.status not in ("killed", "timeout")], env)
    known = equivalents(root / "docs" / "testing.md")
    for m in result.mutants:
        if m.status in ("survived", "no tests") and is_equivalent(m, known):
            m.status = "equivalent"
    return result


def recheck_selection(earlier: list[Mutant], everything: list[Mutant]
                      ) -> tuple[list[Mutant], list[Mutant], list[str]]:
    """For ``--recheck``: the earlier verdicts that stand (killed, timeout), the mutants to
    test again (the others, as the code has them now), and the names of those the code no
    longer has (a mutant is named by its function and number, so a function that changed or
    went away takes its names with it)."""
    again = {m.name for m in earlier if m.status not in ("killed", "timeout")}
    kept = [m for m in earlier if m.name not in again]
    chosen = [m for m in everything if m.name in again]
    return kept, chosen, sorted(again - {m.name for m in everything})


def _niced(cmd: list[str], cwd: Path, env: dict, log: Path) -> int:
    """Run ``cmd`` in its own process group, output appended to ``log``; on an interrupt
    stop the whole group (mutmut's workers too)."""
    with open(log, "a") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            return proc.wait()
        except BaseException:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait()
            raise


def sample_of(mutants: list[Mutant], n: int, seed: int | None = None) -> list[Mutant]:
    """``n`` mutants drawn uniformly, the same ones for the same code (seeded by the names).

    ``seed`` draws another sample of the same code (still the same one for the same code
    and seed): once tests were written against a sample's survivors, its kill rate no longer
    estimates the code's, and a fresh sample is needed to measure it again."""
    if n >= len(mutants):
        return mutants
    names = sorted(m.name for m in mutants)
    key = "\n".join(names) if seed is None else f"seed {seed}\n" + "\n".join(names)
    rng = random.Random(hashlib.sha256(key.encode()).hexdigest())
    keep = set(rng.sample(names, n))
    return [m for m in mutants if m.name in keep]


def status_of(code) -> str:
    if code in KILLED:
        return "killed"
    if code in TIMEOUT:
        return "timeout"
    if code in SURVIVED:
        return "survived"
    if code in NO_TESTS:
        return "no tests"
    return "not checked" if code is None else f"other ({code})"


def read_results(tree: Path) -> list[Mutant]:
    mutants = []
    for meta in sorted((tree / "mutants").rglob("*.py.meta")):
        path = str(meta.relative_to(tree / "mutants"))[:-len(".meta")]
        data = json.loads(meta.read_text())
        for name, code in data.get("exit_code_by_key", {}).items():
            mutants.append(Mutant(name, path, status_of(code)))
    return mutants


#: mutmut's own first steps of ``run`` (copy the sources, write the mutants), without testing
_GENERATE = """
import sys
import mutmut.__main__ as mm
mm.set_mutant_under_test("mutant_generation")
mm.makedirs("mutants", exist_ok=True)
mm.copy_src_dir()
mm.copy_also_copy_files()
mm.setup_source_paths()
mm.create_mutants(int(sys.argv[1]))
"""

_DIFFS = """
import json, sys
from mutmut.__main__ import get_diff_for_mutant
out = {}
for line in sys.stdin:
    name, path = line.split()
    out[name] = get_diff_for_mutant(name, path=path)
json.dump(out, sys.stdout)
"""


def add_diffs(tree: Path, mutants: list[Mutant], env: dict) -> None:
    """Fill in the diff of each mutant (mutmut's own ``show``, in one process)."""
    if not mutants:
        return
    proc = subprocess.run([sys.executable, "-c", _DIFFS], cwd=tree, env=env, text=True,
                          input="".join(f"{m.name} {m.path}\n" for m in mutants),
                          capture_output=True)
    if proc.returncode:
        for m in mutants:
            m.diff = "(no diff: " + proc.stderr.strip().splitlines()[-1] + ")"
        return
    diffs = json.loads(proc.stdout)
    for m in mutants:
        m.diff = diffs.get(m.name, "")


# ----------------------------------------------------------------------------------------


def report(results: list[Result], out=sys.stdout, survivors: bool = True) -> None:
    cols = ("killed", "survived", "no tests", "timeout", "equivalent")
    print(f"{'package':<10} {'tested':>13} " + " ".join(f"{c:>10}" for c in cols)
          + f" {'kill rate':>9} {'95% interval':>13} {'time':>6}", file=out)
    for r in results:
        lo, hi = r.interval()
        span = f"{100 * lo:.1f}-{100 * hi:.1f}%" if r.sampled else "(all)"
        print(f"{r.package.name:<10} {len(r.mutants):>6} of {r.total:<4}"
              + " ".join(f"{r.count(c):>10}" for c in cols)
              + f" {100 * r.kill_rate:>8.1f}% {span:>13} {r.seconds / 60:>5.1f}m", file=out)
    if len(results) > 1:
        tested = [m for r in results for m in r.mutants]
        counted = [m for m in tested if m.status != "equivalent"]
        rate = sum(m.status in ("killed", "timeout") for m in counted) / max(len(counted), 1)
        print(f"{'together':<10} {len(tested):>6} of {sum(r.total for r in results):<4}"
              + " ".join(f"{sum(m.status == c for m in tested):>10}" for c in cols)
              + f" {100 * rate:>8.1f}% {'':>13} {sum(r.seconds for r in results) / 60:>5.1f}m",
              file=out)
    for r in results:
        if r.gone:
            print(f"\n{r.package.name}: {len(r.gone)} mutant(s) of the earlier run no longer "
                  "exist (their function changed or went away), left out of the counts: "
                  + ", ".join(r.gone), file=out)
    for r in results:
        if r.error:
            print(f"\n{r.package.name}: {r.error}", file=out)
    if not survivors:
        return
    for r in results:
        for m in r.mutants:
            if m.status in ("killed", "timeout"):
                continue
            print(f"\n# {m.status}: {m.name}  ({m.path})", file=out)
            print(m.diff.rstrip(), file=out)


def load_results(path: Path, packages) -> list[Result]:
    """Results saved by ``--json``, with today's list of equivalent mutants applied."""
    saved = json.loads(path.read_text())
    known = equivalents()
    results = []
    for pkg in packages:
        if pkg.name not in saved:
            continue
        r = saved[pkg.name]
        result = Result(pkg, total=r["total"], seconds=r["seconds"], gone=r.get("gone", []))
        for m in r["mutants"]:
            m = Mutant(m["name"], m["path"], m["status"], m.get("diff", ""))
            if m.status == "equivalent" and not is_equivalent(m, known):
                m.status = "survived"
            elif m.status in ("survived", "no tests") and is_equivalent(m, known):
                m.status = "equivalent"
            result.mutants.append(m)
        results.append(result)
    return results


def _interrupted(signum, frame):
    raise KeyboardInterrupt


#: the most jobs a run starts: each is a process tree (pytest and its workers, or a
#: copy of the checkout), so a mistyped number must not fork without bound
MAX_JOBS = 64


def json_out(text: str) -> Path:
    """``--json``: a regular file (or none yet) in a directory that exists, checked before
    the run rather than after its hours (an argparse type: a usage error, exit 2)."""
    from gamevm_build.errors import GameVMError
    from gamevm_build.fileutil import check_output
    path = Path(text)
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: the directory {path.parent} does not "
                                         "exist; create it or write elsewhere")
    try:
        return check_output(path, "the --json file")
    except GameVMError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def json_in(text: str) -> Path:
    """``--recheck``, ``--report``: an earlier run's ``--json`` file, read as gamevm reads
    its inputs (a regular file, bounded, strict JSON: a FIFO or device cannot hang it)."""
    from gamevm_build.errors import GameVMError
    from gamevm_build.fileutil import read_json
    try:
        read_json(text, "an earlier run's --json file")
    except GameVMError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return Path(text)


def jobs_count(text: str) -> int:
    """``--jobs``: 1 to :data:`MAX_JOBS` (an argparse type: anything else is a usage error,
    exit 2)."""
    try:
        n = int(text)
    except ValueError:
        n = 0
    if not 1 <= n <= MAX_JOBS:
        raise argparse.ArgumentTypeError(f"{text!r}: give a whole number of jobs, 1 to "
                                         f"{MAX_JOBS}")
    return n


def bad_test_file(test: str) -> str | None:
    """What is wrong with ``test`` as a ``--tests`` file of this checkout, or None: it must
    be a regular file under tests/ (run by pytest from the checkout's root)."""
    path = (REPO / test).resolve()
    if not path.is_relative_to((REPO / "tests").resolve()):
        return f"outside {REPO / 'tests'}: give one of this checkout's test files"
    if not path.is_file():
        return f"no such test file under {REPO}"
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-p", "--package", action="append", choices=[p.name for p in PACKAGES],
                    help="a package to test (repeatable; default: all)")
    ap.add_argument("-j", "--jobs", type=jobs_count, default=2,
                    help=f"mutants tested at once, 1 to {MAX_JOBS} (default 2)")
    ap.add_argument("--sample", type=int, default=SAMPLE, metavar="N",
                    help=f"test N mutants per package, drawn at random but the same for the same "
                         f"code (default {SAMPLE}); the kill rate is then an estimate with its "
                         f"95%% interval")
    ap.add_argument("--seed", type=int, metavar="N",
                    help="draw another sample of the same code (default: the one seeded by the "
                         "mutant names alone): for a fresh measure once tests were written "
                         "against a sample's survivors")
    ap.add_argument("--all", action="store_true", help="test every mutant (hours on 2 cores)")
    ap.add_argument("--recheck", type=json_in, metavar="JSON",
                    help="test again only the mutants a previous run (its --json file) did not "
                         "kill, keeping its other verdicts: after adding tests")
    ap.add_argument("--nice", type=int, default=19, help="niceness of the run (default 19)")
    ap.add_argument("--root", type=Path, default=REPO,
                    help="the checkout to test (default: this one); it is copied, never changed")
    ap.add_argument("--workdir", type=Path,
                    help="keep the copies, mutmut's state and logs here (default: a temporary "
                         "directory, removed afterwards)")
    ap.add_argument("--json", type=json_out, help="also write the results as JSON to this file")
    ap.add_argument("--no-survivors", action="store_true", help="print only the table")
    ap.add_argument("--check", action="store_true",
                    help=f"exit 1 when a package's kill rate is below {GOAL * 100:.0f}%%")
    ap.add_argument("--list", action="store_true", help="print the packages and exit")
    ap.add_argument("--report", type=json_in, metavar="JSON",
                    help="print an earlier run's results (its --json file) again, with the "
                         "equivalent mutants docs/testing.md lists now; runs nothing")
    args = ap.parse_args(argv)

    chosen = [p for p in PACKAGES if not args.package or p.name in args.package]
    signal.signal(signal.SIGTERM, _interrupted)   # stop mutmut's process group too
    if args.list:
        for p in chosen:
            print(f"{p.name}: {' '.join(p.sources)}\n    tests: {' '.join(p.tests)}")
        return 0
    if args.report:
        results = load_results(args.report, chosen)
        report(results, survivors=not args.no_survivors)
        return 1 if args.check and any(r.kill_rate < GOAL for r in results) else 0
    mutmut_exe()
    earlier, earlier_gone, seeds = {}, {}, {}
    if args.recheck:
        for name, r in json.loads(args.recheck.read_text()).items():
            earlier[name] = [Mutant(m["name"], m["path"], m["status"], m.get("diff", ""))
                             for m in r["mutants"]]
            earlier_gone[name] = r.get("gone", [])
            seeds[name] = r.get("seed")     # a recheck keeps saying which seed drew its sample
    work = (args.workdir.resolve() if args.workdir
            else Path(tempfile.mkdtemp(prefix="gamevm-mutation-")))
    work.mkdir(parents=True, exist_ok=True)
    results = []
    try:
        for pkg in chosen:
            print(f"mutation: {pkg.name} ({', '.join(pkg.sources)}) against "
                  f"{', '.join(Path(t).name for t in pkg.tests)} ...", file=sys.stderr, flush=True)
            if args.recheck and pkg.name not in earlier:
                continue
            results.append(run_package(pkg, args.root.resolve(), work, args.jobs, args.nice,
                                       None if args.all else args.sample, earlier.get(pkg.name),
                                       args.seed))
            # a recheck of a recheck still says which of the sample went missing before
            results[-1].gone = sorted({*results[-1].gone, *earlier_gone.get(pkg.name, [])})
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    report(results, survivors=not args.no_survivors)
    if args.json:
        from gamevm_build.fileutil import atomic_write     # never a half-written file
        atomic_write(args.json, json.dumps(
            {r.package.name: {"kill_rate": r.kill_rate, "interval": r.interval(),
                              "total": r.total, "seconds": round(r.seconds),
                              "seed": seeds.get(r.package.name, args.seed),
                              "gone": r.gone,
                              "mutants": [m.__dict__ for m in r.mutants]} for r in results},
            indent=1).encode())
    failed = any(r.error for r in results)
    if args.check and any(r.kill_rate < GOAL for r in results):
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
