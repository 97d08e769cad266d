#!/usr/bin/env python3
"""Mutation testing of the console-side C runtime: kill rate and the surviving mutants.

bench/mutation.py mutates the Python core with mutmut, which cannot mutate C.  This
script does the same for the runtime the console runs (gamevm_build/runtime/loader/*.c
and the decoders in gamevm_build/runtime/codec/*.c, compiled into the resident by
gamevm_build/runtime/build.py), whose oracle is the Python reference loader: the
differential tests (tests/test_target_runtime*.py) load the same modules with both on the
emulated console and must see the same bases, bytes and statuses.

Mutation sites come from a small tokenizer of its own (a regular-expression lexer that
skips comments, string and character literals and preprocessor lines; pycparser cannot
read this code, which uses GNU C), with six operators (``OPERATORS``):

    ror    relational swap: < <=, > >=, == !=  (each way)
    aor    arithmetic swap of a binary + or - (and += -=)
    const  an integer constant plus one, and minus one when it is not 0
    lcr    && for ||, || for &&
    call   a call that is a whole statement deleted (a cache flush, a free, a hook)
    status a returned TLoadStatus changed: lsSuccess to lsBadFormat, any other to
           lsSuccess (lsBadFormat to lsRelocationError)

Only sites on lines the console's compiler sees are drawn (``gcc -E`` of gvm_runtime.c
with the runtime's flags: another CPU family's ``#if`` branch is not code for this
console).  Each mutant is one site changed in a copy of the working tree (the checkout is
never changed; ``--jobs N`` mutants are tested side by side, default one per CPU, each job
in a copy of its own); the copy's runtime is compiled first: a mutant that does not compile is
left out of the counts ("compile error"), and one whose object's code and data are the
same bytes as the original's is *equivalent by construction* ("same object": the compiler
made the same program of it, e.g. a change in code it proved dead), also left out.  The
others run the mutated file's tests (``FILE_TESTS``) and the differential tests (``TESTS``)
with ``-x -k "CONSOLE or any_console"`` (tests marked ``any_console`` check the shared
code where CONSOLE cannot: another CPU, or the C compiled for the host) and a timeout of
3x the unmutated run plus 30 s; a test failing kills the mutant, a run past the timeout
counts as a kill too (an endless loop).  The tests load the runtime's checked build
(``GAMEVM_RUNTIME_CHECKS=bounds``: an index past the end of one of its arrays traps, and
the emulated console reports the fault), as C code is tested under a sanitizer; the
tests that compare what it executes with its measured costs link the shipping build, and
``--unchecked`` tests the shipping build only.

The kill rate is ``(killed + timeout) / (tested - equivalent)``, with its 95% Wilson
interval (bench/mutation.py's), since a sample is tested: ``--sample N`` (default 60)
sites drawn at random, seeded by the site names (FILE:FUNCTION:OPERATOR_N), so the same
code gives the same sample; ``--seed N`` draws another one (a fresh measure, once tests
were written against a sample's survivors).  Equivalent mutants found by reading are listed in
docs/testing.md ("The C runtime"); they are shown but not counted.

    python bench/mutation_c.py --list                  # operators, sources, tests, site counts
    python bench/mutation_c.py --dry-run               # the sample, with each mutant's diff
    python bench/mutation_c.py --json run.json         # test the sample (psx, ~31 min, 2 cores)
    python bench/mutation_c.py --recheck run.json      # after adding tests: what survived
    python bench/mutation_c.py --console segacd --specific --all
                                                       # the 68000's own branches
    python bench/mutation_c.py --check                 # exit 1 below 95%
    python bench/mutation_c.py --mutant NAME --tests tests/test_runtime_c_mutants.py
                                                       # a new test against one mutant
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

import mutation  # noqa: E402  (the Python driver: its tree copy, sampling and interval)

GOAL = mutation.GOAL
SAMPLE = 60
DOCS = REPO / "docs" / "testing.md"
#: mutated: everything gvm_runtime.c includes (it is only the list of includes)
SOURCES = ("gamevm_build/runtime/loader/*.c", "gamevm_build/runtime/codec/*.c")
SKIP = {"gamevm_build/runtime/loader/gvm_runtime.c"}
RUNTIME_TU = "gamevm_build/runtime/loader/gvm_runtime.c"
#: the differential tests: the C runtime against the reference loader, run with ``-k CONSOLE``;
#: every mutant runs these, after the tests of its own file (``FILE_TESTS``); the walks
#: of API calls and the header field sweep last, since they are the slowest (25 s on psx)
TESTS = ("tests/test_runtime_c_mutants.py", "tests/test_runtime_c_edges.py",
         "tests/test_runtime_c_safemode.py", "tests/test_target_runtime.py",
         "tests/test_target_runtime_gaps.py", "tests/test_runtime_c_sequences.py",
         "tests/test_runtime_c_fields.py")
#: the parts with tests of their own: the CPU tables called one by one against the host's
#: recipes and CPU models (tests/test_runtime_c_cpu.py), the metadata text and packed
#: relocations generated (tests/test_runtime_c_streams.py), the decoders (C against the Python
#: mirror, and compressed modules through the runtime), packed relocations, module digests,
#: the stale-stub reload (GVM_STALE_RELOAD, in gvm_stubs.c) and hot reload (gvm_reload.c)
FILE_TESTS = {
    "gvm_meta.c": ("tests/test_runtime_c_streams.py",),
    "gvm_reloc.c": ("tests/test_runtime_c_cpu.py",),
    "gvm_stubs.c": ("tests/test_target_runtime_reload.py",),
    "gvm_lz4.c": ("tests/test_codecs.py", "tests/test_shipforms.py"),
    "gvm_zx0.c": ("tests/test_codec_zx0.py", "tests/test_shipforms.py"),
    "gvm_relpack.c": ("tests/test_runtime_c_streams.py", "tests/test_shipforms.py"),
    "gvm_sha256.c": ("tests/test_trust.py",),
    "gvm_trust.c": ("tests/test_trust.py",),
    "gvm_reload.c": ("tests/test_dev_reload_target.py",),   # linked only for gamevm dev
}
OPERATORS = ("ror", "aor", "const", "lcr", "call", "status")

# ----------------------------------------------------------------------------------------
# the tokenizer

_TOKEN = re.compile(r"""
    (?P<space>[ \t\r\f\v]+|\\\n)
  | (?P<newline>\n)
  | (?P<comment>//[^\n]*|/\*.*?\*/)
  | (?P<string>"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*')
  | (?P<number>(?:0[xX][0-9a-fA-F]+|\d+)(?:\.\d*)?(?:[eE][+-]?\d+)?[uUlLfF]*)
  | (?P<ident>[A-Za-z_]\w*)
  | (?P<punct><<=|>>=|\.\.\.|->|\+\+|--|<<|>>|<=|>=|==|!=|&&|\|\|
              |[-+*/%&|^]=|[][(){};,.?:~!<>=+\-*/%&|^])
""", re.S | re.X)


@dataclass(frozen=True)
class Token:
    kind: str       # number, ident, punct, string
    text: str
    start: int      # offset in the file
    line: int       # 1-based


def tokenize(text: str) -> list[Token]:
    """The tokens of a C file, without comments, whitespace and preprocessor lines (a
    ``#`` first on a line, with its backslash continuations)."""
    out, pos, line, at_line_start = [], 0, 1, True
    while pos < len(text):
        if at_line_start:
            m = re.match(r"[ \t]*#(?:[^\n\\]|\\.)*", text[pos:], re.S)
            if m:
                line += m.group(0).count("\n")
                pos += m.end()
                continue
        m = _TOKEN.match(text, pos)
        if not m:
            raise ValueError(f"line {line}: cannot read {text[pos:pos + 20]!r}")
        kind = m.lastgroup
        if kind == "newline":
            at_line_start = True
        elif kind not in ("space", "comment"):
            at_line_start = False
            out.append(Token(kind, m.group(0), pos, line))
        elif kind == "comment" and "\n" in m.group(0):
            at_line_start = False   # code may follow a block comment on its last line
        line += m.group(0).count("\n")
        pos = m.end()
    return out


# ----------------------------------------------------------------------------------------
# mutation sites

@dataclass(frozen=True)
class Site:
    name: str       # FILE:FUNCTION:OPERATOR_N (N counts that operator's sites in the function)
    path: str       # relative to the repository
    line: int
    start: int      # offsets of the replaced text
    end: int
    new: str        # replacement

    def apply(self, text: str) -> str:
        return text[:self.start] + self.new + text[self.end:]

    def lines(self, text: str) -> tuple[str, str]:
        """The changed line before and after, stripped."""
        old = text.splitlines()[self.line - 1]
        new = self.apply(text).splitlines()[self.line - 1]
        return old.strip(), new.strip()


_SWAP = {"<": "<=", "<=": "<", ">": ">=", ">=": ">", "==": "!=", "!=": "==",
         "&&": "||", "||": "&&", "+": "-", "-": "+", "+=": "-=", "-=": "+="}
_ROR = {"<", "<=", ">", ">=", "==", "!="}
_KEYWORDS = {"if", "while", "for", "switch", "return", "sizeof", "do", "else", "case",
             "goto", "break", "continue", "default", "typedef", "struct", "union", "enum"}


def _functions(tokens: list[Token]) -> list[str]:
    """The name of the top-level definition each token is in (a function, or the variable
    a top-level initializer belongs to), "" outside any."""
    names, depth, current, since = [], 0, "", 0
    for i, t in enumerate(tokens):
        if t.text == "{":
            if depth == 0:
                head = tokens[since:i]
                texts = [h.text for h in head]
                current = ""
                if "=" in texts:
                    idents = [h.text for h in head[:texts.index("=")] if h.kind == "ident"]
                    current = idents[-1] if idents else ""
                else:
                    # the first name called like a function, attributes aside
                    calls = [h.text for h, n in zip(head, head[1:]) if h.kind == "ident"
                             and n.text == "(" and not h.text.startswith("__")]
                    current = calls[0] if calls else ""
            depth += 1
        elif t.text == "}":
            depth = max(0, depth - 1)
        names.append(current if depth else "")
        if depth == 0 and t.text in (";", "}"):
            since, current = i + 1, ""
    return names


def _statement_start(tokens: list[Token], i: int) -> bool:
    """Whether token ``i`` begins a statement: after ``;``, a brace, ``else``, or the
    closing parenthesis of an ``if``/``while``/``for`` header."""
    prev = tokens[i - 1] if i else None
    if prev is None or prev.text in (";", "{", "}", "else"):
        return prev is not None
    if prev.text != ")":
        return False
    depth = 0
    for j in range(i - 1, -1, -1):
        depth += {")": 1, "(": -1}.get(tokens[j].text, 0)
        if depth == 0:
            return j > 0 and tokens[j - 1].text in ("if", "while", "for")
    return False


def _called(tokens: list[Token], i: int) -> int | None:
    """When the statement at ``i`` is a call alone (``f(...);``, ``G.cfg.sync_code(...);``),
    the index of its closing parenthesis."""
    j = i + 1
    while j + 1 < len(tokens) and tokens[j].text in (".", "->") and tokens[j + 1].kind == "ident":
        j += 2
    if j >= len(tokens) or tokens[j].text != "(":
        return None
    close = _matching_paren(tokens, j)
    if close > 0 and close + 1 < len(tokens) and tokens[close + 1].text == ";":
        return close
    return None


def _matching_paren(tokens: list[Token], i: int) -> int:
    depth = 0
    for j in range(i, len(tokens)):
        depth += {"(": 1, ")": -1}.get(tokens[j].text, 0)
        if depth == 0:
            return j
    return -1


def sites_of(path: str, text: str) -> list[Site]:
    """Every mutation site of one C file, in file order."""
    tokens = tokenize(text)
    funcs = _functions(tokens)
    counters: dict[tuple[str, str], int] = {}
    out = []

    def add(func: str, op: str, tok: Token, new: str, end: int | None = None):
        key = (func, op)
        counters[key] = counters.get(key, 0) + 1
        name = f"{Path(path).name}:{func or '-'}:{op}_{counters[key]}"
        out.append(Site(name, path, tok.line, tok.start,
                        tok.start + len(tok.text) if end is None else end, new))

    for i, t in enumerate(tokens):
        func = funcs[i]
        if not func:
            continue                        # declarations, enum and array sizes: no code
        prev = tokens[i - 1] if i else None
        if t.kind == "punct" and t.text in _ROR:
            add(func, "ror", t, _SWAP[t.text])
        elif t.kind == "punct" and t.text in ("&&", "||"):
            add(func, "lcr", t, _SWAP[t.text])
        elif t.kind == "punct" and t.text in ("+=", "-="):
            add(func, "aor", t, _SWAP[t.text])
        elif t.kind == "punct" and t.text in ("+", "-"):
            # binary only: after an operand (a name, a number, a closing bracket)
            if prev and (prev.kind in ("ident", "number") and prev.text not in _KEYWORDS
                         or prev.text in (")", "]")):
                add(func, "aor", t, _SWAP[t.text])
        elif t.kind == "number" and re.fullmatch(r"(0[xX][0-9a-fA-F]+|\d+)[uUlL]*", t.text):
            digits = re.match(r"0[xX][0-9a-fA-F]+|\d+", t.text).group(0)
            suffix = t.text[len(digits):]
            value = int(digits, 16) if digits[:2].lower() == "0x" else int(digits, 8) \
                if len(digits) > 1 and digits[0] == "0" else int(digits)
            fmt = (lambda v: f"0x{v:X}") if digits[:2].lower() == "0x" else str
            add(func, "const", t, fmt(value + 1) + suffix)
            if value:
                add(func, "const", t, fmt(value - 1) + suffix)
        elif (t.kind == "ident" and t.text not in _KEYWORDS and _statement_start(tokens, i)
              and (call := _called(tokens, i)) is not None):
            add(func, "call", t, "(void)0", tokens[call].start + 1)
        elif (t.kind == "ident" and re.fullmatch(r"ls[A-Z]\w+", t.text) and prev is not None
              and prev.text == "return" and tokens[i + 1].text == ";"):
            new = ("lsBadFormat" if t.text == "lsSuccess" else
                   "lsRelocationError" if t.text == "lsBadFormat" else "lsSuccess")
            add(func, "status", t, new)
    return out


def source_files(root: Path) -> list[str]:
    files = sorted({str(p.relative_to(root)) for pattern in SOURCES for p in root.glob(pattern)})
    return [f for f in files if f not in SKIP]


def all_sites(root: Path) -> list[Site]:
    return [s for f in source_files(root) for s in sites_of(f, (root / f).read_text())]


# ----------------------------------------------------------------------------------------
# the console's view: which lines it compiles, the object a mutant makes

#: run in the tree copy (its gamevm_build): ``pre OUT CONSOLE`` writes the runtime's
#: preprocessed text to OUT; ``obj DIR CONSOLE`` compiles the runtime as a resident build
#: does and prints a hash of its object's code and data (not its debug information)
_HELPER = r"""
import hashlib, subprocess, sys
from pathlib import Path
from elftools.elf.elffile import ELFFile
from gamevm_build.link.toolchain import find_toolchain
from gamevm_build.project.profile import load_profile
from gamevm_build.runtime import build

mode, out, console = sys.argv[1:4]
profile, out = load_profile(console), Path(out)
tc = find_toolchain(console)
out.mkdir(parents=True, exist_ok=True)
if mode == "pre":
    gen = out / "gvm_gen"
    gen.mkdir(exist_ok=True)
    (gen / "gvm_target.h").write_text(build.target_header(profile))
    flags = [*build.RUNTIME_CFLAGS, *getattr(build, "RUNTIME_ISA_FLAGS", {}).get(
        getattr(profile, "runtime_isa", None), ())]
    cmd = [tc.gcc, *tc.cflags, *flags, f"-I{gen}", f"-I{build.INCLUDE_DIR}",
           f"-I{build.LOADER_DIR}", "-E", str(build.LOADER_DIR / "gvm_runtime.c")]
    (out / "runtime.i").write_text(subprocess.run(cmd, check=True, capture_output=True,
                                                  text=True).stdout)
else:
    objs = build.compile_runtime_loader(profile, tc, out, "target")
    obj = next(o for o in objs if o.stem.endswith("gvm_runtime"))
    h = hashlib.sha256()
    with open(obj, "rb") as f:
        for sec in ELFFile(f).iter_sections():
            name = sec.name
            if sec["sh_type"] not in ("SHT_PROGBITS", "SHT_NOBITS", "SHT_REL", "SHT_RELA") or \
                    any(k in name for k in (".debug", ".comment", ".note", ".pdr", ".mdebug")):
                continue
            h.update(name.encode() + b"\0" + str(sec["sh_size"]).encode() + b"\0")
            if sec["sh_type"] != "SHT_NOBITS":
                h.update(sec.data())
    print(h.hexdigest())
"""


#: the runtime build the tests load with (gamevm_build.runtime.build.RUNTIME_CHECKS): a
#: mutant that indexes past one of the runtime's arrays traps there, and the emulated
#: console reports the fault; ``--unchecked`` tests the shipping build
CHECKS = "bounds"


def _env(tree: Path) -> dict:
    env = dict(os.environ)
    env["GAMEVM_RUNTIME_CHECKS"] = CHECKS
    env["PYTHONPATH"] = str(tree) + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTEST_DEBUG_TEMPROOT"] = str(tree.parent / f"{tree.name}-tmp")
    Path(env["PYTEST_DEBUG_TEMPROOT"]).mkdir(exist_ok=True)
    for var in ("PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER"):
        env.pop(var, None)
    return env


def compiled_lines(tree: Path, console: str, work: Path, nice: list[str]) -> set[tuple[str, int]]:
    """(file, line) of every line of the runtime the console's compiler sees: the lines
    ``gcc -E`` keeps non-blank (another family's ``#if`` branch is dropped)."""
    out = work / "pre"
    proc = subprocess.run(nice + [sys.executable, "-c", _HELPER, "pre", str(out), console],
                          cwd=tree, env=_env(tree), capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"mutation_c: preprocessing the runtime failed:\n{proc.stderr}")
    seen, file, line = set(), None, 0
    for text in (out / "runtime.i").read_text().splitlines():
        m = re.match(r'# (\d+) "([^"]+)"', text)
        if m:
            line, file = int(m.group(1)), m.group(2)
            continue
        if file and text.strip():
            try:
                rel = str(Path(os.path.normpath(file)).resolve().relative_to(tree))
            except ValueError:
                rel = None
            if rel:
                seen.add((rel, line))
        line += 1
    return seen


def object_hash(tree: Path, console: str, work: Path, nice: list[str]) -> str | None:
    """The hash of the runtime object the tree's sources make, None when they do not compile."""
    out = work / "obj"
    shutil.rmtree(out, ignore_errors=True)
    proc = subprocess.run(nice + [sys.executable, "-c", _HELPER, "obj", str(out), console],
                          cwd=tree, env=_env(tree), capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else None


# ----------------------------------------------------------------------------------------
# running the tests

#: the test runs going on (one per job), stopped all together when the run is interrupted
RUNNING: set[subprocess.Popen] = set()


def run_tests(tree: Path, console: str, tests: tuple[str, ...], timeout: float,
              nice: list[str], log: Path) -> tuple[int | None, float]:
    """pytest on the tree copy, ``-x -k "CONSOLE or any_console"``, one CPU (jobs run side by
    side, each in its own copy and pytest directory); (exit code or None on timeout,
    seconds)."""
    cmd = nice + [sys.executable, "-m", "pytest", "-q", "-x", "-n", "0", "-p", "no:cacheprovider",
                  "--basetemp", str(log.parent / "pytest"), "-k", f"{console} or any_console",
                  *tests]
    start = time.monotonic()
    with open(log, "a") as out:
        out.write(f"\n$ {' '.join(cmd)}\n")
        out.flush()
        proc = subprocess.Popen(cmd, cwd=tree, env=_env(tree), stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        RUNNING.add(proc)
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            code = None
        except BaseException:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
        finally:
            RUNNING.discard(proc)
    return code, time.monotonic() - start


def stop_running() -> None:
    """Kill every test run going on (the run was interrupted)."""
    for proc in list(RUNNING):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@dataclass
class Outcome:
    site: Site
    status: str        # killed, timeout, survived, equivalent, same object, compile error
    old: str = ""
    new: str = ""
    seconds: float = 0.0

    def as_mutant(self) -> mutation.Mutant:
        return mutation.Mutant(self.site.name, self.site.path, self.status,
                               f"-{self.old}\n+{self.new}")


def tests_for(path: str, tests: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """The test files a mutant of ``path`` runs: its own first, then the common ones
    (``tests``, when given, replaces both)."""
    if tests:
        return tests
    return FILE_TESTS.get(Path(path).name, ()) + TESTS


def test_mutant(site: Site, tree: Path, console: str, tests, timeout: float, original: str,
                nice: list[str], work: Path, known: list[dict]) -> Outcome:
    path = tree / site.path
    text = path.read_text()
    old, new = site.lines(text)
    outcome = Outcome(site, "", old, new)
    start = time.monotonic()
    path.write_text(site.apply(text))
    try:
        digest = object_hash(tree, console, work, nice)
        if digest is None:
            outcome.status = "compile error"
        elif digest == original:
            outcome.status = "same object"
        else:
            code, _ = run_tests(tree, console, tests_for(site.path, tests), timeout, nice,
                                work / "tests.log")
            outcome.status = ("timeout" if code is None else "survived" if code == 0
                              else "killed" if code == 1 else f"error ({code})")
            if outcome.status == "survived" and is_equivalent(site, old, new, known):
                outcome.status = "equivalent"
    finally:
        path.write_text(text)
    outcome.seconds = time.monotonic() - start
    return outcome


# ----------------------------------------------------------------------------------------
# equivalent mutants: a TOML block in docs/testing.md, as for the Python core

def equivalents(docs: Path = DOCS, console: str | None = None) -> list[dict]:
    """``[[equivalent]]`` tables with file, function, line, mutant (stripped) and why, and
    optionally ``consoles``: the only consoles where the mutant is equivalent (a CPU's
    calling convention can make it so); with ``console``, those that hold on it."""
    if not docs.exists():
        return []
    m = re.search(r"<!-- equivalent-c-mutants -->\s*```toml\n(.*?)```", docs.read_text(), re.S)
    known = tomllib.loads(m.group(1)).get("equivalent", []) if m else []
    return [e for e in known if console is None or console in e.get("consoles", [console])]


def is_equivalent(site: Site, old: str, new: str, known: list[dict]) -> bool:
    func = site.name.split(":")[1]
    return any(e["file"] == site.path and e["function"] == func and e["line"] == old
               and e["mutant"] == new for e in known)


# ----------------------------------------------------------------------------------------
# report

COUNTED = ("killed", "timeout", "survived")


def result_of(outcomes: list[Outcome], total: int, seconds: float) -> mutation.Result:
    """bench/mutation.py's Result (its kill rate and Wilson interval) for the counted mutants
    and the equivalent ones.  Left out: same object, compile error, and "error (N)" (pytest
    exited neither 0 nor 1: interrupted, an internal error, no test collected), which says
    nothing about the mutant; the report shows those."""
    pkg = mutation.Package("c-runtime", SOURCES, TESTS)
    kept = [o.as_mutant() for o in outcomes if o.status in COUNTED + ("equivalent",)]
    return mutation.Result(pkg, kept, total=total, seconds=seconds)


def report(outcomes: list[Outcome], total: int, seconds: float, out=sys.stdout,
           survivors: bool = True) -> mutation.Result:
    r = result_of(outcomes, total, seconds)
    count = {s: sum(o.status == s for o in outcomes)
             for s in ("killed", "timeout", "survived", "equivalent", "same object",
                       "compile error")}
    other = [o for o in outcomes if o.status not in count]
    lo, hi = r.interval()
    print(f"{'sites':>12} " + " ".join(f"{c:>13}" for c in count) + f" {'kill rate':>9} "
          f"{'95% interval':>13} {'time':>6}", file=out)
    print(f"{len(outcomes):>5} of {total:<5}" + " ".join(f"{n:>13}" for n in count.values())
          + f" {100 * r.kill_rate:>8.1f}% {f'{100 * lo:.1f}-{100 * hi:.1f}%':>13} "
          f"{seconds / 60:>5.1f}m", file=out)
    for o in other:
        print(f"{o.site.name}: {o.status}", file=out)
    if survivors:
        for o in outcomes:
            if o.status in ("survived",) or o.status.startswith("error"):
                print(f"\n# {o.status}: {o.site.name}  ({o.site.path}:{o.site.line})\n"
                      f"-{o.old}\n+{o.new}", file=out)
    return r


def save(path: Path, outcomes: list[Outcome], total: int, seconds: float, console: str,
         seed: int | None = None) -> None:
    from gamevm_build.fileutil import atomic_write     # never a half-written file
    r = result_of(outcomes, total, seconds)
    atomic_write(path, json.dumps({
        "console": console, "total": total, "seconds": round(seconds), "seed": seed,
        "kill_rate": r.kill_rate, "interval": r.interval(),
        "mutants": [{"name": o.site.name, "path": o.site.path, "line": o.site.line,
                     "status": o.status, "old": o.old, "new": o.new,
                     "seconds": round(o.seconds, 1)} for o in outcomes]}, indent=1).encode())


def load(path: Path, sites: dict[str, Site]) -> tuple[list[Outcome], list[str], dict]:
    """An earlier --json run: its outcomes (for sites the code still has) and the names
    it had that the code no longer has."""
    saved = json.loads(path.read_text())
    outcomes, gone = [], []
    for m in saved["mutants"]:
        site = sites.get(m["name"]) or Site(m["name"], m["path"], m["line"], 0, 0, "")
        if m["name"] not in sites:
            gone.append(m["name"])
        outcomes.append(Outcome(site, m["status"], m["old"], m["new"], m.get("seconds", 0)))
    return outcomes, gone, saved


# ----------------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--console", default="psx",
                    help="the console whose runtime is compiled and tested (default psx: the "
                         "fastest differential tests); its name is the tests' -k")
    ap.add_argument("--tests", nargs="+", metavar="FILE",
                    help="run these test files for every mutant (default: the file's own "
                         "tests, FILE_TESTS, then " + ", ".join(TESTS) + ")")
    ap.add_argument("--sample", type=int, default=SAMPLE, metavar="N",
                    help=f"test N sites drawn at random, the same for the same code "
                         f"(default {SAMPLE})")
    ap.add_argument("--seed", type=int, metavar="N",
                    help="draw another sample of the same code (default: the one seeded by the "
                         "site names alone): for a fresh measure once tests were written "
                         "against a sample's survivors")
    ap.add_argument("--all", action="store_true", help="test every site (many hours)")
    ap.add_argument("--specific", action="store_true",
                    help="only the sites on lines this console compiles and psx does not: its "
                         "CPU's own branches (stack, calls, relocations, cache), which a psx "
                         "sample cannot draw; the shared code is psx's to measure")
    ap.add_argument("--mutant", action="append", metavar="NAME",
                    help="test this mutant (a name the run printed; repeatable), e.g. with "
                         "--tests to try a new test on a survivor")
    ap.add_argument("--op", action="append", choices=OPERATORS,
                    help="only this operator's sites (repeatable; default: all)")
    ap.add_argument("--source", action="append", metavar="FILE",
                    help="only the sites of this source, by file name (e.g. gvm_meta.c; "
                         "repeatable; default: all of them)")
    ap.add_argument("--function", action="append", metavar="NAME",
                    help="only the sites of this C function (e.g. link_prepare; repeatable): "
                         "with --all, every mutant of a function a sample found weak")
    ap.add_argument("--budget", type=float, metavar="MINUTES",
                    help="stop starting mutants after this long; the report says how many "
                         "of the sample were tested")
    ap.add_argument("--recheck", type=mutation.json_in, metavar="JSON",
                    help="test again only the mutants an earlier --json run did not kill, "
                         "keeping its other verdicts")
    ap.add_argument("--report", type=mutation.json_in, metavar="JSON",
                    help="print an earlier --json run again, with the equivalent mutants "
                         "docs/testing.md lists now; runs nothing")
    ap.add_argument("--json", type=mutation.json_out, help="write the results to this file")
    ap.add_argument("--jobs", "-j", type=mutation.jobs_count,
                    default=min(os.cpu_count() or 1, mutation.MAX_JOBS), metavar="N",
                    help="mutants tested side by side, each in its own copy of the tree "
                         "(default: the number of CPUs)")
    ap.add_argument("--unchecked", action="store_true",
                    help="test the shipping build of the runtime, not the bounds-checked one")
    ap.add_argument("--nice", type=int, default=19, help="niceness of the run (default 19)")
    ap.add_argument("--root", type=Path, default=REPO,
                    help="the checkout to test (default: this one); it is copied, never changed")
    ap.add_argument("--workdir", type=Path,
                    help="keep the tree copy and the tests' log here (default: a temporary "
                         "directory, removed afterwards)")
    ap.add_argument("--no-survivors", action="store_true", help="print only the table")
    ap.add_argument("--check", action="store_true",
                    help=f"exit 1 when the kill rate is below {GOAL * 100:.0f}%%")
    ap.add_argument("--list", action="store_true",
                    help="print the operators, sources, tests and site counts, and exit")
    ap.add_argument("--dry-run", action="store_true",
                    help="print the sample's mutants (name, line, diff) and exit")
    return ap


def job_copy(root: Path, work: Path) -> tuple[Path, Path]:
    """Another job's copy of the tree, in ``work``: (tree, work)."""
    tree = work / "tree"
    if tree.exists():
        shutil.rmtree(tree)
    tree.mkdir(parents=True)
    mutation.snapshot(root, tree)
    return tree, work


def in_order(done: dict[str, "Outcome"], chosen: list[Site]) -> list["Outcome"]:
    """The outcomes in the sample's order, whichever job finished first."""
    return [done[s.name] for s in chosen if s.name in done]


def run_jobs(chosen: list[Site], places, start: float, budget: float | None, tested, done,
             test, originals) -> int:
    """Test ``chosen`` with one job per ``(tree, work)`` place, side by side: each takes the
    next mutant of the sample until none is left or ``budget`` minutes have passed since
    ``start`` (a mutant started is finished).  ``tested(i, outcome)`` is called as each ends,
    under a lock.  Returns how many were not started."""
    import threading
    lock = threading.Lock()
    queue = list(enumerate(chosen))[::-1]
    stop = threading.Event()

    def job(tree: Path, work: Path) -> None:
        while not stop.is_set():
            with lock:
                if not queue or (budget and time.monotonic() - start > 60 * budget):
                    return
                i, s = queue.pop()
            o = test(s, tree, work, originals[tree])
            with lock:
                done[s.name] = o
                tested(i, o)

    threads = [threading.Thread(target=job, args=place, daemon=True) for place in places]
    for t in threads:
        t.start()
    try:
        for t in threads:
            while t.is_alive():
                t.join(1.0)
    except BaseException:
        stop.set()
        stop_running()
        raise
    return len(queue)


def main(argv: list[str] | None = None) -> int:
    global CHECKS
    args = parser().parse_args(argv)
    root = args.root.resolve()
    ops = set(args.op or OPERATORS)
    if args.unchecked:
        CHECKS = ""

    if args.report:
        saved = json.loads(args.report.read_text())
        outcomes = [Outcome(Site(m["name"], m["path"], m["line"], 0, 0, ""), m["status"],
                            m["old"], m["new"], m.get("seconds", 0)) for m in saved["mutants"]]
        known = equivalents(console=saved.get("console"))   # as it stands now, as mutation.py's
        for o in outcomes:
            if o.status == "survived" and is_equivalent(o.site, o.old, o.new, known):
                o.status = "equivalent"
        r = report(outcomes, saved["total"], saved["seconds"], survivors=not args.no_survivors)
        return 1 if args.check and r.kill_rate < GOAL else 0

    if args.specific and args.console == "psx":
        print("mutation_c: --specific keeps the sites psx does not compile: give another "
              "--console (segacd, gba, 3do, n64)", file=sys.stderr)
        return 2
    chosen_sources = set(args.source or ())
    unknown = chosen_sources - {Path(f).name for f in source_files(root)}
    if unknown:
        print(f"mutation_c: no such source: {', '.join(sorted(unknown))} (--list names them)",
              file=sys.stderr)
        return 2

    chosen_functions = set(args.function or ())

    def wanted(site: Site) -> bool:
        _, function, op = site.name.split(":")
        return (op.rsplit("_", 1)[0] in ops and
                (not chosen_sources or Path(site.path).name in chosen_sources) and
                (not chosen_functions or function in chosen_functions))

    every = all_sites(root)
    unknown = chosen_functions - {s.name.split(":")[1] for s in every}
    if unknown:
        print(f"mutation_c: no such function: {', '.join(repr(n) for n in sorted(unknown))} "
              "(function names are the middle part of a mutant's name: --dry-run --all "
              "lists them)",
              file=sys.stderr)
        return 2
    sites = [s for s in every if wanted(s)]
    if args.list:
        print(f"operators: {' '.join(OPERATORS)}")
        for f in source_files(root):
            mine = [s for s in sites if s.path == f]
            if not mine:
                continue
            by_op = {op: sum(s.name.split(':')[2].startswith(op + "_") for s in mine)
                     for op in OPERATORS}
            print(f"{f}: {len(mine)} sites (" + ", ".join(f"{op} {n}" for op, n in by_op.items()
                                                          if n) + ")")
            print(f"    tests (-k {args.console}): "
                  + " ".join(Path(t).name for t in tests_for(f, args.tests and tuple(args.tests))))
        print(f"together: {len(sites)} sites (before keeping the lines {args.console} compiles)")
        return 0

    nice = ["nice", "-n", str(args.nice)]
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    work = (args.workdir.resolve() if args.workdir
            else Path(tempfile.mkdtemp(prefix="gamevm-mutation-c-")))
    work.mkdir(parents=True, exist_ok=True)
    tree = work / "tree"
    try:
        if tree.exists():
            shutil.rmtree(tree)
        tree.mkdir()
        mutation.snapshot(root, tree)
        sites = [s for s in all_sites(tree) if wanted(s)]
        seen = compiled_lines(tree, args.console, work, nice)
        sites = [s for s in sites if (s.path, s.line) in seen]
        if args.specific:
            shared = compiled_lines(tree, "psx", work, nice)
            sites = [s for s in sites if (s.path, s.line) not in shared]
        by_name = {s.name: s for s in sites}
        kept, gone, earlier = [], [], None
        if args.recheck:
            previous, gone, earlier = load(args.recheck, by_name)
            kept = [o for o in previous if o.status not in ("survived", "equivalent")
                    and not o.status.startswith("error")]
            gone = [g for g in gone if g not in {o.site.name for o in kept}]
            again = {o.site.name for o in previous} - {o.site.name for o in kept} - set(gone)
            chosen = [s for s in sites if s.name in again]
        elif args.mutant:
            unknown = [n for n in args.mutant if n not in by_name]
            if unknown:
                print(f"mutation_c: no such mutant on {args.console}: {', '.join(unknown)} "
                      "(--dry-run --all lists them)", file=sys.stderr)
                return 2
            chosen = [by_name[n] for n in args.mutant]
        elif args.all:
            chosen = sites
        else:
            chosen = [by_name[m.name] for m in mutation.sample_of(
                [mutation.Mutant(s.name, s.path, "") for s in sites], args.sample, args.seed)]
        # a recheck tests the earlier run's sample, and says which seed drew it
        seed = earlier.get("seed") if earlier else args.seed
        # tested in an order seeded by the names, so that a run cut short by --budget has
        # tested a uniform part of the sample, not the first files
        chosen.sort(key=lambda s: hashlib.sha256(s.name.encode()).hexdigest())
        if args.dry_run:
            for s in chosen:
                old, new = s.lines((tree / s.path).read_text())
                print(f"{s.name}  ({s.path}:{s.line})\n  -{old}\n  +{new}")
            print(f"{len(chosen)} of {len(sites)} sites {args.console} compiles"
                  + (" and psx does not" if args.specific else ""))
            return 0
        original = object_hash(tree, args.console, work, nice)
        if original is None:
            raise SystemExit("mutation_c: the unmutated runtime does not compile")
        print(f"mutation_c: {len(chosen)} of {len(sites)} sites; the unmutated tests ...",
              file=sys.stderr, flush=True)
        given = tuple(args.tests) if args.tests else None
        every = sorted({t for s in chosen for t in tests_for(s.path, given)}) or list(TESTS)
        code, base = run_tests(tree, args.console, tuple(every), 7200, nice, work / "tests.log")
        if code != 0:
            raise SystemExit(f"mutation_c: the tests fail without a mutant (exit {code}); "
                             f"log: {work / 'tests.log'}")
        timeout = 3 * base + 30
        print(f"mutation_c: unmutated tests {base:.0f} s; timeout {timeout:.0f} s",
              file=sys.stderr, flush=True)
        known = equivalents(root / "docs" / "testing.md", args.console)
        places = [(tree, work)] + [job_copy(root, work / f"job{j}")
                                   for j in range(1, min(args.jobs, len(chosen)))]
        start = time.monotonic()

        def tested(i: int, o: Outcome) -> None:     # under the jobs' lock
            print(f"  [{i + 1}/{len(chosen)}] {o.status:<13} {o.seconds:5.0f}s {o.site.name}: "
                  f"{o.new}", file=sys.stderr, flush=True)
            if args.json:   # a partial run is kept too
                save(args.json, kept + in_order(done, chosen), len(sites),
                     time.monotonic() - start, args.console, seed)

        done: dict[str, Outcome] = {}
        left = run_jobs(chosen, places, start, args.budget, tested, done,
                        lambda s, t, w, orig: test_mutant(s, t, args.console, given, timeout,
                                                          orig, nice, w, known),
                        {t: (original if t == tree else object_hash(t, args.console, w, nice))
                         for t, w in places})
        if left:
            print(f"mutation_c: budget spent after {len(chosen) - left} of {len(chosen)} "
                  "mutants", file=sys.stderr)
        outcomes = in_order(done, chosen)
        seconds = time.monotonic() - start
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    outcomes = kept + outcomes
    if gone:
        print(f"{len(gone)} mutant(s) of the earlier run no longer exist (their line changed "
              f"or went away), left out of the counts: {', '.join(gone)}")
    r = report(outcomes, len(sites), seconds, survivors=not args.no_survivors)
    if args.json:
        save(args.json, outcomes, len(sites), seconds, args.console, seed)
    return 1 if args.check and r.kill_rate < GOAL else 0


if __name__ == "__main__":
    sys.exit(main())
