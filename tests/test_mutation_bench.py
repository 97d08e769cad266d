"""bench/mutation.py stays runnable: its packages name files that exist, and the equivalent
mutants documented in docs/testing.md parse and point at real code (docs/testing.md).

The mutation run itself takes half an hour and needs mutmut; these checks take a second.
"""

from __future__ import annotations

import ast
import glob
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

import mutation  # noqa: E402


def test_every_package_names_existing_sources_and_tests():
    seen = set()
    for pkg in mutation.PACKAGES:
        files = [f for pattern in pkg.sources for f in glob.glob(str(REPO / pattern))]
        assert files, pkg
        assert not seen & set(files), f"{pkg.name}: a file is in two packages"
        seen |= set(files)
        for test in pkg.tests:
            assert (REPO / test).is_file(), (pkg.name, test)


def test_list_prints_the_packages():
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "mutation.py"), "--help"],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0 and "--recheck" in proc.stdout, proc.stderr
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "mutation.py"), "--list"],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    for pkg in mutation.PACKAGES:
        assert f"{pkg.name}: {' '.join(pkg.sources)}" in proc.stdout


def _functions(path: Path) -> set[str]:
    """mutmut's names of the functions in ``path``: x_f, and xǁClassǁmethod for methods."""
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef):
            names.add(f"x_{node.name}")
        elif isinstance(node, ast.ClassDef):
            names |= {f"xǁ{node.name}ǁ{f.name}" for f in node.body
                      if isinstance(f, ast.FunctionDef)}
    return names


def test_documented_equivalent_mutants_point_at_real_lines():
    known = mutation.equivalents()
    assert known, "docs/testing.md lists the equivalent mutants in a toml block"
    for e in known:
        assert set(e) == {"file", "function", "line", "mutant", "why"}, e
        path = REPO / e["file"]
        assert e["function"] in _functions(path), e
        assert e["line"] in {line.strip() for line in path.read_text().splitlines()}, e
        assert e["line"] != e["mutant"] and e["why"].strip()


@pytest.mark.parametrize("diff, lines", [
    ("--- a.py\n+++ a.py\n@@ -1,3 +1,3 @@\n x = 1\n-    y = a + b\n+    y = a - b\n",
     ("y = a + b", "y = a - b")),
    ("--- a.py\n+++ a.py\n@@ -1 +1 @@\n-f(a, b)\n+f(b)\n", ("f(a, b)", "f(b)")),
])
def test_a_survivor_is_matched_by_its_changed_line(diff, lines):
    assert mutation.changed_lines(diff) == lines
    m = mutation.Mutant("pkg.a.x_f__mutmut_3", "a.py", "survived", diff)
    entry = {"file": "a.py", "function": "x_f", "line": lines[0], "mutant": lines[1], "why": "."}
    assert mutation.is_equivalent(m, [entry])
    assert not mutation.is_equivalent(m, [dict(entry, function="x_g")])


def test_a_recheck_names_the_sampled_mutants_the_code_no_longer_has(tmp_path):
    """A mutant is named by its function and number: when the code changed, a name of the
    earlier sample may be gone; the recheck leaves it out of the counts and says so."""
    M = mutation.Mutant
    earlier = [M("m.x_f__mutmut_1", "m.py", "killed"), M("m.x_f__mutmut_2", "m.py", "survived"),
               M("m.x_g__mutmut_7", "m.py", "no tests"), M("m.x_h__mutmut_3", "m.py", "timeout")]
    now = [M("m.x_f__mutmut_1", "m.py", "not checked"), M("m.x_f__mutmut_2", "m.py", "not checked")]
    kept, chosen, gone = mutation.recheck_selection(earlier, now)
    assert [m.name for m in kept] == ["m.x_f__mutmut_1", "m.x_h__mutmut_3"]
    assert [m.name for m in chosen] == ["m.x_f__mutmut_2"] and gone == ["m.x_g__mutmut_7"]

    import io
    import json

    pkg = mutation.PACKAGES[0]
    result = mutation.Result(pkg, kept + chosen, total=100, gone=gone)
    out = io.StringIO()
    mutation.report([result], out, survivors=False)
    assert (f"{pkg.name}: 1 mutant(s) of the earlier run no longer exist (their function "
            "changed or went away), left out of the counts: m.x_g__mutmut_7") in out.getvalue()
    # and --report shows it again from the --json file
    saved = tmp_path / "run.json"
    saved.write_text(json.dumps({pkg.name: {"total": 100, "seconds": 1, "gone": gone,
                                            "mutants": [m.__dict__ for m in kept + chosen]}}))
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "mutation.py"), "--report",
                           str(saved), "--no-survivors"], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0 and "left out of the counts: m.x_g__mutmut_7" in proc.stdout


def test_a_seed_draws_another_sample_of_the_same_code():
    """--seed: once tests were written against a sample's survivors, a fresh sample measures
    the code again; each seed still gives the same sample for the same code, of the asked size."""
    mutants = [mutation.Mutant(f"m.x_f__mutmut_{i}", "m.py", "not checked") for i in range(500)]
    names = lambda ms: [m.name for m in ms]  # noqa: E731
    default = names(mutation.sample_of(mutants, 60))
    fresh = names(mutation.sample_of(mutants, 60, 2026120501))
    assert default == names(mutation.sample_of(list(reversed(mutants)), 60)[::-1])
    assert fresh == names(mutation.sample_of(mutants, 60, 2026120501))
    assert len(fresh) == len(set(fresh)) == 60 and set(fresh) <= set(names(mutants))
    assert len(set(fresh) & set(default)) < 30             # ~7 in common by chance
    assert set(names(mutation.sample_of(mutants, 60, 2026120502))) != set(fresh)


def test_the_copy_imports_the_checkouts_analysis_as_the_installed_package(tmp_path):
    """The copy lays analysis/ out as gamevm_build/analysis (the wheel's layout); tests that
    import the checkout's ``analysis`` (test_analysis's doctests) get that same module."""
    mutation.snapshot(REPO, tmp_path)
    proc = subprocess.run([sys.executable, "-c", "import analysis, gamevm_build.analysis as a; "
                           "assert analysis is a; print(a.__file__)"],
                          cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(tmp_path)},
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(str(tmp_path / "gamevm_build" / "analysis"))


def test_a_number_of_jobs_below_one_is_a_usage_error(capsys):
    """``-j 0`` exits 2 naming the option, before any package is copied or tested."""
    import pytest
    with pytest.raises(SystemExit) as exc:
        mutation.main(["-j", "0"])
    assert exc.value.code == 2 and "--jobs" in capsys.readouterr().err


def test_coverage_prints_the_lines_a_packages_tests_miss():
    """bench/coverage.py (docs/testing.md, "Lines no test runs"): the package's files with
    their statements, branches and missed lines, measured on the tests given."""
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "coverage.py"), "-p", "layout",
                           "-j", "1", "--tests", "tests/test_layout.py"],
                          capture_output=True, text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "# layout: tests/test_layout.py" in proc.stdout
    row = next(line.split() for line in proc.stdout.splitlines()
               if line.startswith("gamevm_build/layout/lbaheader.py"))
    statements, missed, branches, partial, cover = row[1:6]
    assert int(statements) > 0 and int(branches) > 0 and cover.endswith("%"), row
    assert int(missed) <= int(statements) and int(partial) <= int(branches), row


def test_coverage_refuses_a_test_file_that_does_not_exist():
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "coverage.py"), "--tests",
                           "tests/no_such_test.py"], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 2
    assert "--tests tests/no_such_test.py: no such test file" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("path", ["bench/mutation.py", "../README.md", "/dev/null"])
def test_coverage_refuses_a_test_file_outside_the_checkouts_tests(path):
    """A file of the checkout that is no test, a path above it, a device node: usage
    errors naming tests/, before pytest runs anything."""
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "coverage.py"), "--tests",
                           path], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"--tests {path}: outside {REPO / 'tests'}: give one of this checkout's test " \
           "files" in proc.stderr


@pytest.mark.parametrize("script", ["mutation.py", "mutation_c.py"])
def test_result_files_are_checked_before_the_run(script, tmp_path):
    """--json into a directory that does not exist, onto a directory or a FIFO; --recheck
    or --report of a missing file, one that is not JSON, a FIFO (which would hang the read)
    or a device: a usage error naming the file, exit 2, before any mutant is tested (the
    --json directory was found missing only after a run's minutes, by a traceback)."""
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "nan.json").write_text('{"x": NaN}')
    os.mkfifo(tmp_path / "fifo")
    for args, says in [(["--json", str(tmp_path / "no" / "r.json")], "does not exist"),
                       (["--json", str(tmp_path)], "names a directory"),
                       (["--json", str(tmp_path / "fifo")], "is a FIFO"),
                       (["--recheck", str(tmp_path / "none.json")], "not found"),
                       (["--report", str(tmp_path / "bad.json")], "not valid JSON"),
                       (["--report", str(tmp_path / "nan.json")], "not nan"),
                       (["--report", str(tmp_path / "fifo")], "is a FIFO"),
                       (["--recheck", "/dev/null"], "is a device")]:
        proc = subprocess.run([sys.executable, str(REPO / "bench" / script), *args],
                              capture_output=True, text=True, cwd=REPO, timeout=60)
        assert proc.returncode == 2 and says in proc.stderr, (args, proc.stderr)
        assert "Traceback" not in proc.stderr
