"""bench/mutation_c.py stays runnable and finds the sites it documents: its tokenizer skips
comments, strings and preprocessor lines; each operator makes the mutants docs/testing.md
("The C runtime") describes; the documented commands run (``--list``, ``--dry-run``) or at
least parse; the documented equivalent C mutants point at real lines.

The mutation run itself takes most of an hour; these checks take seconds.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

import mutation_c  # noqa: E402

SAMPLE_C = r'''
#include "gvm_int.h"
#define LIMIT(x) ((x) < 4 && \
                  (x) > 1)
static const u32 table[3] = { 1, 2, 3 };
/* a comment: if (a < b) return lsSuccess; */
static __attribute__((unused)) int f(int a, int b)
{
    const char *s = "a < b || c";   // a + b
    char c = '-';
    if (a < b && b != 0)
        flush(a, (b));
    else
        a += b - 1;
    return lsBadFormat;
}
'''


def mutants(text: str = SAMPLE_C) -> dict[str, tuple[str, str]]:
    out = {}
    for site in mutation_c.sites_of("x.c", text):
        old, new = site.lines(text)
        out[site.name] = (old, new)
    return out


def test_the_tokenizer_skips_comments_strings_and_preprocessor_lines():
    tokens = mutation_c.tokenize(SAMPLE_C)
    texts = [t.text for t in tokens]
    assert "#include" not in texts and "LIMIT" not in texts   # a continued #define too
    assert '"a < b || c"' in texts and "'-'" in texts
    assert texts.count("<") == 1                               # only the code's
    line = {t.text: t.line for t in tokens}
    assert line["flush"] == 12 and SAMPLE_C.splitlines()[11].strip().startswith("flush")


def test_each_operator_makes_its_mutants_in_functions_and_tables():
    got = mutants()
    table = {k: v for k, v in got.items() if k.startswith("x.c:table:")}
    assert [v[1] for v in table.values()] == [
        "static const u32 table[3] = { 2, 2, 3 };", "static const u32 table[3] = { 0, 2, 3 };",
        "static const u32 table[3] = { 1, 3, 3 };", "static const u32 table[3] = { 1, 1, 3 };",
        "static const u32 table[3] = { 1, 2, 4 };", "static const u32 table[3] = { 1, 2, 2 };"]
    got = {k: v for k, v in got.items() if k not in table}
    assert got == {
        "x.c:f:ror_1": ("if (a < b && b != 0)", "if (a <= b && b != 0)"),
        "x.c:f:lcr_1": ("if (a < b && b != 0)", "if (a < b || b != 0)"),
        "x.c:f:ror_2": ("if (a < b && b != 0)", "if (a < b && b == 0)"),
        "x.c:f:const_1": ("if (a < b && b != 0)", "if (a < b && b != 1)"),
        "x.c:f:call_1": ("flush(a, (b));", "(void)0;"),
        "x.c:f:aor_1": ("a += b - 1;", "a -= b - 1;"),
        "x.c:f:aor_2": ("a += b - 1;", "a += b + 1;"),
        "x.c:f:const_2": ("a += b - 1;", "a += b - 2;"),
        "x.c:f:const_3": ("a += b - 1;", "a += b - 0;"),
        "x.c:f:status_1": ("return lsBadFormat;", "return lsRelocationError;"),
    }, got    # not the array's size: a declaration, no code


def test_a_unary_minus_a_hex_constant_and_a_status_of_success():
    text = "int g(int a)\n{\n    a = -a + 0x10u;\n    return a ? lsSuccess : 0;\n}\n" \
           "int h(void)\n{\n    return lsSuccess;\n}\n"
    got = mutants(text)
    assert ("a = -a + 0x10u;", "a = -a - 0x10u;") in got.values()
    assert ("a = -a + 0x10u;", "a = -a + 0x11u;") in got.values()
    assert ("a = -a + 0x10u;", "a = -a + 0xFu;") in got.values()
    assert ("a = -a + 0x10u;", "a = +a + 0x10u;") not in got.values()       # unary: kept
    assert got["x.c:h:status_1"] == ("return lsSuccess;", "return lsBadFormat;")
    assert not any(k.startswith("x.c:g:status") for k in got)   # only `return lsX;`


def test_the_runtime_has_sites_of_every_operator():
    sites = mutation_c.all_sites(REPO)
    ops = {s.name.split(":")[2].rsplit("_", 1)[0] for s in sites}
    assert ops == set(mutation_c.OPERATORS)
    assert len({s.name for s in sites}) == len(sites)          # names are unique
    files = mutation_c.source_files(REPO)
    assert "gamevm_build/runtime/loader/gvm_loader.c" in files
    assert mutation_c.RUNTIME_TU not in files


def test_the_sample_is_the_same_for_the_same_code():
    run = lambda: subprocess.run(  # noqa: E731
        [sys.executable, str(REPO / "bench" / "mutation_c.py"), "--dry-run", "--sample", "5",
         "--op", "ror"], capture_output=True, text=True, cwd=REPO)
    first, second = run(), run()
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    assert re.search(r"^5 of \d+ sites psx compiles$", first.stdout, re.M), first.stdout


def test_a_seed_draws_another_sample_the_same_for_the_same_code():
    run = lambda *seed: subprocess.run(  # noqa: E731
        [sys.executable, str(REPO / "bench" / "mutation_c.py"), "--dry-run", "--sample", "8",
         "--op", "const", *seed], capture_output=True, text=True, cwd=REPO)
    names = lambda proc: set(re.findall(r"^(\S+:\S+:const_\d+)  ", proc.stdout, re.M))  # noqa: E731
    default, fresh, again = run(), run("--seed", "2026120501"), run("--seed", "2026120501")
    assert fresh.returncode == 0, fresh.stderr
    assert fresh.stdout == again.stdout and len(names(fresh)) == 8
    assert names(fresh) != names(default)


def test_specific_draws_only_the_sites_psx_does_not_compile():
    """``--specific`` keeps a console's own branches: the 68000's call forms, none of the
    sites psx compiles (site names are unique across ``#if`` branches)."""
    run = lambda *args: subprocess.run(  # noqa: E731
        [sys.executable, str(REPO / "bench" / "mutation_c.py"), "--dry-run", "--all", *args],
        capture_output=True, text=True, cwd=REPO)
    names = lambda proc: set(re.findall(r"^(\S+:\S+:\w+_\d+)  ", proc.stdout, re.M))  # noqa: E731
    psx, own = run(), run("--console", "segacd", "--specific")
    assert own.returncode == 0, own.stderr
    assert re.search(r"^(\d+) of \1 sites segacd compiles and psx does not$", own.stdout, re.M)
    assert names(own) and not names(own) & names(psx)
    assert any(":gvm_after_call:" in n for n in names(own))
    alone = run("--specific")                     # psx against itself: nothing to draw
    assert alone.returncode == 2 and "another --console" in alone.stderr, alone.stderr


def _documented() -> list[str]:
    text = (REPO / "docs" / "testing.md").read_text()
    section = text[text.index("## The C runtime"):]
    return re.findall(r"^\.venv/bin/python (bench/mutation_c\.py.*?)\s*(?:#.*)?$", section, re.M)


def test_the_documented_commands_run_or_parse(tmp_path, monkeypatch):
    """``--list`` and ``--dry-run`` run as shown; the others (most of an hour each) must be
    accepted by the option parser as written (in a directory holding the earlier runs'
    files they read: the parser checks them)."""
    commands = _documented()
    assert any("--list" in c for c in commands) and any("--dry-run" in c for c in commands)
    for cmd in commands:
        argv = shlex.split(cmd)[1:]
        if "--list" in argv or "--dry-run" in argv:
            proc = subprocess.run([sys.executable, str(REPO / "bench" / "mutation_c.py"), *argv],
                                  capture_output=True, text=True, cwd=REPO)
            assert proc.returncode == 0, (cmd, proc.stderr)
            assert "Traceback" not in proc.stderr
        else:
            for option, value in zip(argv, argv[1:]):
                if option in ("--recheck", "--report"):
                    (tmp_path / value).write_text("{}")
            monkeypatch.chdir(tmp_path)
            mutation_c.parser().parse_args(argv)      # exits (2) on an unknown option


def test_documented_equivalent_c_mutants_point_at_real_sites():
    sites = {(s.path, s.name.split(":")[1], *s.lines((REPO / s.path).read_text()))
             for s in mutation_c.all_sites(REPO)}
    from conftest import ALL_TARGETS
    for e in mutation_c.equivalents():
        assert set(e) - {"consoles"} == {"file", "function", "line", "mutant", "why"}, e
        assert (e["file"], e["function"], e["line"], e["mutant"]) in sites, e
        assert e["why"].strip()
        consoles = e.get("consoles", ALL_TARGETS)          # only where it is equivalent
        assert consoles and set(consoles) <= set(ALL_TARGETS), e


def test_an_equivalent_listed_for_some_consoles_counts_only_on_them(tmp_path):
    """An entry with ``consoles`` (a mutant that one CPU's calling convention makes
    equivalent) applies to a run on those consoles only: elsewhere it is a survivor."""
    docs = tmp_path / "testing.md"
    docs.write_text('<!-- equivalent-c-mutants -->\n```toml\n[[equivalent]]\nfile = "a.c"\n'
                    'function = "f"\nline = "x;"\nmutant = "y;"\nwhy = "w"\n'
                    'consoles = ["psx", "n64"]\n```\n')
    assert len(mutation_c.equivalents(docs)) == 1
    assert [len(mutation_c.equivalents(docs, c)) for c in ("psx", "n64", "gba")] == [1, 1, 0]


def test_a_report_of_a_saved_run(tmp_path):
    """--report prints a saved run: the counts, the rate and each survivor as a diff."""
    site = mutation_c.Site("a.c:f:ror_1", "a.c", 3, 0, 0, "")
    outcomes = [mutation_c.Outcome(site, "survived", "if (a < b)", "if (a <= b)")] + [
        mutation_c.Outcome(mutation_c.Site(f"a.c:f:const_{i}", "a.c", 4, 0, 0, ""), status)
        for i, status in enumerate(["killed"] * 17 + ["timeout", "same object",
                                                      "compile error"])]
    saved = tmp_path / "run.json"
    mutation_c.save(saved, outcomes, 100, 60, "psx")
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "mutation_c.py"), "--report",
                           str(saved), "--check"], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 1                       # 18 of 19: 94.7%, below the goal
    assert "94.7%" in proc.stdout
    assert "# survived: a.c:f:ror_1  (a.c:3)\n-if (a < b)\n+if (a <= b)" in proc.stdout


def test_a_report_counts_the_survivors_listed_equivalent_since_as_equivalent(tmp_path):
    """--report applies the equivalent mutants docs/testing.md lists now, as bench/mutation.py's
    does: a survivor of the saved run that is listed since is shown as equivalent and left
    out of the rate."""
    known = mutation_c.equivalents()[0]
    site = mutation_c.Site(f"{known['file'].rsplit('/', 1)[1]}:{known['function']}:ror_1",
                           known["file"], 3, 0, 0, "")
    outcomes = [mutation_c.Outcome(site, "survived", known["line"], known["mutant"])] + [
        mutation_c.Outcome(mutation_c.Site(f"a.c:f:const_{i}", "a.c", 4, 0, 0, ""), "killed")
        for i in range(19)]
    saved = tmp_path / "run.json"
    mutation_c.save(saved, outcomes, 100, 60, "psx")
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "mutation_c.py"), "--report",
                           str(saved), "--check"], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0 and "100.0%" in proc.stdout, proc.stdout
    assert "# survived" not in proc.stdout


def test_a_number_of_jobs_below_one_is_a_usage_error(capsys):
    """``--jobs`` (here and in bench/mutation.py) takes 1 to 64: 0, -1, 65, 2**64 (as a
    whole number or a float), or a word exit 2 with the option named, before anything
    runs."""
    import pytest
    for bad in ("0", "-1", "65", str(2 ** 64), "1.8e19", "two"):
        with pytest.raises(SystemExit) as exc:
            mutation_c.parser().parse_args(["--jobs", bad])
        assert exc.value.code == 2
        assert "--jobs" in capsys.readouterr().err
    assert mutation_c.parser().parse_args(["-j", "3"]).jobs == 3


def test_source_draws_only_that_files_sites_and_refuses_a_name_it_does_not_know():
    """``--source gvm_meta.c --list`` lists that file alone; a name that is no runtime
    source (another file, a path outside the runtime, a device) exits 2 naming it, with
    no traceback and before anything is copied or compiled."""
    def run(*argv):
        return subprocess.run([sys.executable, str(REPO / "bench" / "mutation_c.py"), *argv],
                              capture_output=True, text=True, cwd=REPO, timeout=120)
    proc = run("--source", "gvm_meta.c", "--list")
    assert proc.returncode == 0, proc.stderr
    listed = [line.split(":")[0] for line in proc.stdout.splitlines()
              if line.startswith("gamevm_build/")]
    assert listed == ["gamevm_build/runtime/loader/gvm_meta.c"]
    for bad in ("nope.c", "../../etc/passwd", "/dev/null", "gvm_runtime.c"):
        proc = run("--source", bad, "--dry-run")
        assert proc.returncode == 2 and f"no such source: {bad}" in proc.stderr, proc
        assert "Traceback" not in proc.stderr


def test_function_draws_only_that_functions_sites_and_refuses_a_name_it_does_not_know():
    """``--function link_prepare --all --dry-run`` prints that function's mutants alone
    (every one, in the sources' order of sites); ``--function`` with ``--source`` keeps
    both filters; a name that is no function of the runtime (none, a path, a mutant's
    whole name) exits 2 naming it, quoted."""
    def run(*argv):
        return subprocess.run([sys.executable, str(REPO / "bench" / "mutation_c.py"), *argv],
                              capture_output=True, text=True, cwd=REPO, timeout=300)
    proc = run("--function", "link_prepare", "--function", "utf8_len", "--all", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    names = re.findall(r"^(\S+:\S+:\S+)  \(", proc.stdout, re.M)
    assert {n.split(":")[1] for n in names} == {"link_prepare", "utf8_len"}
    assert proc.stdout.splitlines()[-1] == f"{len(names)} of {len(names)} sites psx compiles"
    proc = run("--function", "utf8_len", "--source", "gvm_loader.c", "--all", "--dry-run")
    assert proc.returncode == 0 and proc.stdout.splitlines()[-1].startswith("0 of 0 sites")
    for bad in ("no_such_function", "", "../../etc/passwd", "link_prepare:const_1"):
        proc = run("--function", bad, "--dry-run")
        assert proc.returncode == 2 and f"no such function: {bad!r}" in proc.stderr, proc
        assert "Traceback" not in proc.stderr


def _coverage_c(*argv, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "bench" / "coverage_c.py"), *argv],
                          capture_output=True, text=True, cwd=REPO, timeout=timeout)


def test_c_coverage_names_the_runtime_lines_a_test_file_runs_and_misses():
    """bench/coverage_c.py (docs/testing.md, "Lines no test runs"): one test file's run on
    the psx, mapped to the runtime's source lines.  The trust tests run the digest and the
    trust table; none reloads a module in a development session, so gvm_reload.c (linked
    only for gamevm dev) is never run."""
    proc = _coverage_c("--tests", "tests/test_trust.py", "-j", "1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = {line.split()[0]: line.split() for line in proc.stdout.splitlines()
            if line.split() and line.split()[0].endswith((".c", ".h"))}
    for name in ("gvm_loader.c", "gvm_sha256.c", "gvm_trust.c", "gvm_reload.c"):
        lines, missed = int(rows[name][1]), int(rows[name][2])
        assert 0 <= missed <= lines and rows[name][3].endswith("%"), rows[name]
    assert int(rows["gvm_sha256.c"][2]) < int(rows["gvm_sha256.c"][1])      # it ran
    assert rows["gvm_reload.c"][1] == rows["gvm_reload.c"][2]                # it did not
    assert "TOTAL" in proc.stdout


def test_c_coverage_refuses_an_unknown_console_and_a_missing_test_file():
    """An unknown console, a test file that does not exist, one outside the checkout's
    tests/ (another file of the checkout, a path above it, an absolute one) and a job
    count past 64 are usage errors, before any test runs."""
    outside = "test files"
    for argv, words in ((["--console", "dreamcast"], "--console dreamcast: one of"),
                        (["--tests", "tests/no_such_test.py"], "no such test file"),
                        (["--tests", "bench/coverage.py"], outside),
                        (["--tests", "../README.md"], outside),
                        (["--tests", "/etc/hostname"], outside),
                        (["-j", str(2 ** 64)], "--jobs")):
        proc = _coverage_c(*argv, timeout=60)
        assert proc.returncode == 2 and words in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr


def test_the_tests_load_the_checked_build_unless_unchecked(tmp_path, capsys):
    """Every pytest run the script starts asks for the runtime's checked build
    (``GAMEVM_RUNTIME_CHECKS=bounds``); ``--unchecked`` asks for the shipping one."""
    tree = tmp_path / "tree"
    tree.mkdir()
    assert mutation_c._env(tree)["GAMEVM_RUNTIME_CHECKS"] == "bounds"
    try:
        assert mutation_c.main(["--unchecked", "--list"]) == 0
        assert mutation_c._env(tree)["GAMEVM_RUNTIME_CHECKS"] == ""
    finally:
        mutation_c.CHECKS = "bounds"
    capsys.readouterr()
