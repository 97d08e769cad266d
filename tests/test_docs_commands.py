"""Every ``gamevm`` command the documentation shows runs as shown.

The README's by-hand example has its own test (tests/test_repo.py); this one takes every
fenced block of README.md and docs/*.md and runs each ``gamevm`` command in it, from the
root of a checkout whose example game is built (``scons`` for psx, n64, gba and 3do),
with ``gamevm`` on PATH, through the shell (pipes, globs and comments as written):

- ``$ gamevm ...`` lines are transcripts: the lines after one, up to the next ``$`` or
  the end of the block, are its output.  The command must exit 0, or non-zero when the
  transcript shows ``gamevm: error:``; each line shown must appear in the real output,
  in order, once numbers are masked (addresses and timings move with the code; wording,
  fields and units may not).  A line ending in ``…`` matches any line it begins.
- bare ``gamevm ...`` lines are commands to copy: they must exit 0.
- synopses (``[OPTION]``, ``TARGET``-style placeholders) are not run.

Sources a command names that the repository does not hold (the error examples' ``hw.c``
and ``level.c``) are in :data:`SOURCES`.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import REPO, shell_env
from example_game import example_game  # noqa: F401  (fixture)

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]

#: inputs of documented commands that show an error, as the docs describe them
SOURCES = {
    "hw.c": "int pick(short *p, int i)\n{\n    return p[i];\n}\n"
            "unsigned long long wide(unsigned a, unsigned b) { return (unsigned long long)a * b; }\n",
    "level.c": '#include "gamevm.h"\n#include <stdio.h>\nint f(void) { return 0; }\n',
}
_PLACEHOLDER = re.compile(r"\[|\b[A-Z][A-Z0-9_]{2,}\b(?!\.elf)|\.\.\.")


def doc_commands():
    """``(doc, line, command, expected output lines or None)`` for every documented command."""
    out = []
    for doc in DOCS:
        text = doc.read_text()
        for m in re.finditer(r"^```[a-z]*\n(.*?)^```", text, re.S | re.M):
            first = text.count("\n", 0, m.start()) + 2
            lines = m.group(1).splitlines()
            i = 0
            while i < len(lines):
                line, start = lines[i], i
                transcript = line.startswith("$ gamevm ")
                if not (transcript or re.match(r"gamevm [a-z]+ ", line)):
                    i += 1
                    continue
                cmd = line[2:] if transcript else line
                while cmd.endswith("\\") and i + 1 < len(lines):
                    i += 1
                    cmd = cmd[:-1] + " " + lines[i].strip()
                i += 1
                expected = None
                if transcript:
                    expected = []
                    while i < len(lines) and not lines[i].startswith("$ "):
                        expected.append(lines[i])
                        i += 1
                elif _PLACEHOLDER.search(cmd.split("#")[0]):
                    continue                           # a synopsis
                out.append((doc.relative_to(REPO).as_posix(), first + start, cmd, expected))
    return out


COMMANDS = doc_commands()


def mask(line: str) -> str:
    """Numbers become ``#`` and runs of blanks one (table columns size to their numbers)."""
    return re.sub(r"\s+", " ", re.sub(r"0x[0-9a-fA-F]+|\d+(\.\d+)?", "#", line)).strip()


def shows_in_order(expected: list[str], actual: str) -> str | None:
    """The first documented line missing from ``actual`` (masked, in order), or None."""
    got = [mask(a) for a in actual.splitlines()]
    pos = 0
    for line in expected:
        if not line.strip() or line.strip() in ("…", "..."):
            continue
        want = mask(line)
        prefix = want.endswith("…")
        want = want.rstrip("…").rstrip()
        for j in range(pos, len(got)):
            if got[j] == want or (prefix and got[j].startswith(want)):
                pos = j + 1
                break
        else:
            return line
    return None


@pytest.fixture(scope="module")
def checkout(example_game, tmp_path_factory):
    """A checkout with the example built, ``build/*.elf`` as the by-hand example leaves them."""
    built = {t: example_game(t) for t in ("psx", "n64", "gba", "3do")}
    root = tmp_path_factory.mktemp("checkout")
    src = built["psx"].parents[1]
    for name in ("SConstruct", "site_scons", "examples"):
        (shutil.copytree if (src / name).is_dir() else shutil.copy)(src / name, root / name)
    for target, out in built.items():
        shutil.copytree(out, root / "build" / target)
    for m in ("physics", "boss", "level1", "kernel"):
        shutil.copy(root / "build" / "psx" / f"{m}.elf", root / "build" / f"{m}.elf")
    for name, text in SOURCES.items():
        (root / name).write_text(text)
    env = shell_env(root)
    return root, env


def test_the_error_examples_show_their_sources():
    """What SOURCES holds is what the docs show the reader (docs/cli.md)."""
    cli = (REPO / "docs" / "cli.md").read_text()
    assert SOURCES["hw.c"] in cli and "#include <stdio.h>" in cli


def test_the_docs_show_commands():
    docs = {d for d, *_ in COMMANDS}
    assert {"docs/cli.md", "docs/loader.md", "docs/budget.md", "docs/runtime.md"} <= docs
    assert len(COMMANDS) >= 15


@pytest.mark.parametrize("doc,line,cmd,expected", COMMANDS,
                         ids=[f"{d}:{n}" for d, n, *_ in COMMANDS])
def test_documented_command_runs_as_shown(checkout, doc, line, cmd, expected):
    root, env = checkout
    run_as_shown(doc, line, cmd, expected, root, env)


def run_as_shown(doc, line, cmd, expected, cwd, env) -> None:
    """Run one documented command in ``cwd``: no traceback, it fails exactly when the docs
    show an error, and it prints what the docs show, in order."""
    proc = subprocess.run(cmd, shell=True, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)
    output = proc.stdout + proc.stderr
    assert "Traceback" not in output, output
    fails = expected is not None and any("gamevm: error:" in e for e in expected)
    assert (proc.returncode != 0) == fails, f"{doc}:{line}: {cmd}\n{output}"
    if expected:
        missing = shows_in_order(expected, output)
        assert missing is None, (f"{doc}:{line}: {cmd}\nthe docs show\n  {missing}\n"
                                 f"but the command printed\n{output}")
