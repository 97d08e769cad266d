"""TTC token widths: byte and halfword tokens (issue 18, docs/formats.md).

A TTC thread is a list of tokens, "bytes or halfwords": ``gamevm thread`` (and SCons's
``GameVMThread``) takes ``--token-width 1|2`` (``GAMEVM_TOKEN_WIDTH``) or chooses the
narrowest width whose tokens name the whole token table; the width goes into each word's
descriptor, which is how the resident's interpreter learns it.  Both widths run on every
console and give the reference values.
"""

from __future__ import annotations

import re
import shutil

import pytest

from conftest import ALL_TARGETS, REPO, run_gamevm
from example_game import scons
from gamevm_build.errors import ConfigError
from gamevm_build.link import emission
from gamevm_build.link.threadc import (ThreadSourceError, compile_source, parse,
                                       ttc_token_width)
from test_emission import ARGS, PRIMITIVE_CASES, PRIMITIVES_SOURCE, run_words

EXAMPLE = REPO / "examples" / "emission"
STEP = (EXAMPLE / "step.gvm").read_text()

#: words more than one byte's tokens can name: w0 ... w299 each add their number, and
#: `big` calls every one of them, behind a forward and around a backward branch
N_WORDS = 300
BIG_SOURCE = ("".join(f": w{k} {k} + ;\n" for k in range(N_WORDS))
              + ": all " + " ".join(f"w{k}" for k in range(N_WORDS)) + " ;\n"
              + ": big dup 0 < if drop 7 else all then ;\n"
              + ": twice 0 swap begin dup while swap all swap 1 - repeat drop ;\n"
              + "export big 1\nexport twice 1\n")
BIG_SUM = sum(range(N_WORDS))
BIG_CASES = {"big": lambda a: 7 if a < 0 else a + BIG_SUM,
             "twice": lambda a: a * BIG_SUM}       # a >= 0: counts a down to 0


def thread_text(asm: str) -> str:
    return asm.split(".section .gvm.ttc_table")[0].split(".section .gvm.thread.ttc")[1]


# --------------------------------------------------------------------------- definitions

def test_token_widths_are_defined_once():
    ttc = emission.FORMATS["ttc"]
    assert ttc.token_widths == (1, 2) and ttc.token_bytes == 1
    assert all(not emission.FORMATS[f].token_widths for f in ("stc", "dtc", "itc"))
    assert emission.TOKEN_ENTRIES == {1: 256, 2: 65536}
    assert emission.token_width(26) == 1 and emission.token_width(256) == 1
    assert emission.token_width(257) == 2 and emission.token_width(65537) is None
    assert emission.token_width(26, 2) == 2 and emission.token_width(300, 1) is None
    with pytest.raises(ConfigError, match=r"TTC token width 3: one of 1, 2 \(bytes\)"):
        emission.token_width(26, 3)


# --------------------------------------------------------------------------- the compiler

def test_the_width_is_chosen_by_the_table_or_asked():
    assert ttc_token_width(parse(STEP)) == (26, 1)
    assert ttc_token_width(parse(BIG_SOURCE)) == (N_WORDS + 12, 2)
    assert ttc_token_width(parse(STEP), 2) == (26, 2)
    auto = compile_source(STEP, "ttc", "mips")
    assert "1-byte tokens" in auto and "gvm_w_body:\n    .byte 0, 1, 4, 0, 0, 0, 2," in auto
    assert auto == compile_source(STEP, "ttc", "mips", token_width=1)
    wide = compile_source(STEP, "ttc", "mips", token_width=2)
    # the same stream with each token two bytes, low first; operands unchanged
    assert "gvm_w_body:\n    .byte 0, 0, 1, 0, 4, 0, 0, 0, 2, 0," in thread_text(wide)
    assert len(re.findall(r"\d+", thread_text(wide))) > len(re.findall(r"\d+", thread_text(auto)))
    # descriptors carry the width after nargs: the interpreter's only source for it
    assert re.search(r"^simulate:\n    \.4byte 3, gvm_w_simulate, gvm_ttc_table\n"
                     r"    \.byte 2, 2, 0, 0$", wide, re.M)
    assert re.search(r"^simulate:\n.*\n    \.byte 2, 1, 0, 0$", auto, re.M)
    assert re.search(r"^simulate:\n.*\n    \.byte 2, 0, 0, 0$",
                     compile_source(STEP, "dtc", "mips"), re.M)
    # 2-byte tokens are bytes too: the same text (and bytes) on every console
    assert len({compile_source(BIG_SOURCE, "ttc", f) for f in ("mips", "m68k", "arm")}) == 1
    big = compile_source(BIG_SOURCE, "ttc", "arm")
    assert "2-byte tokens" in big and "token 311 */" in big


def test_a_width_too_narrow_or_for_another_format_is_an_error():
    with pytest.raises(ThreadSourceError,
                       match=r"^big\.gvm: 312 table entries; a 1-byte token names at most "
                             r"256: use --token-width 2 \(GAMEVM_TOKEN_WIDTH=2\)"):
        compile_source(BIG_SOURCE, "ttc", "mips", "big.gvm", token_width=1)
    with pytest.raises(ConfigError, match="a token width is for TTC threads only, not DTC"):
        compile_source(STEP, "dtc", "mips", token_width=2)
    # a halfword token stream's branch offsets count its 2-byte tokens
    long_branch = ": f 1 if " + "1 + " * 5000 + "then ;\nexport f 0\n"
    compile_source(long_branch, "ttc", "mips", token_width=1)         # 30,002 bytes
    with pytest.raises(ThreadSourceError, match=r"f\.gvm:1: word 'f': a branch spans 40002 "):
        compile_source(long_branch, "ttc", "mips", "f.gvm", token_width=2)


def test_thread_cli_token_width(tmp_path):
    big = tmp_path / "big.gvm"
    big.write_text(BIG_SOURCE)
    proc = run_gamevm("thread", "-t", "psx", "--format", "ttc", big, "-o", tmp_path / "b.o")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (f"{tmp_path / 'b.o'}: ttc threads (2-byte tokens, chosen; 312 "
                           f"table entries) for psx from {big}\n")
    proc = run_gamevm("thread", "-t", "psx", "--format", "ttc", "--token-width", "1", big,
                      "-o", tmp_path / "c.o")
    assert proc.returncode == 1 and "312 table entries; a 1-byte token names at most 256" \
        in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "c.o").exists()
    proc = run_gamevm("thread", "-t", "psx", "--format", "ttc", "--token-width", "3",
                      EXAMPLE / "step.gvm", "-o", tmp_path / "d.o")
    assert proc.returncode == 2 and "invalid choice: 3 (choose from 1, 2)" in proc.stderr
    proc = run_gamevm("thread", "-t", "psx", "--format", "dtc", "--token-width", "2",
                      EXAMPLE / "step.gvm", "-o", tmp_path / "e.o")
    assert proc.returncode == 2 and "--token-width is for --format ttc only, not dtc" \
        in proc.stderr
    proc = run_gamevm("thread", "-t", "segacd", "--format", "ttc", "--token-width", "2",
                      EXAMPLE / "step.gvm", "-o", tmp_path / "s.s")
    assert proc.returncode == 0 and "(2-byte tokens, asked; 26 table entries)" in proc.stdout
    assert (tmp_path / "s.s").read_text() == compile_source(
        STEP, "ttc", "m68k", str(EXAMPLE / "step.gvm"), token_width=2)


# --------------------------------------------------------------------------- on the consoles

@pytest.mark.parametrize("target", ALL_TARGETS)
def test_halfword_tokens_give_the_reference_values_on_every_console(tmp_path, target):
    """Every primitive with 2-byte tokens (asked), and a program of 312 table entries
    (2-byte tokens, chosen), beside the same primitives with 1-byte tokens."""
    prim_cases = {}
    for word, ref in PRIMITIVE_CASES.items():
        prim_cases[word] = [((a, b, c), ref(a, b, c)) for a, b, c in ARGS
                            if word not in ("t_while", "t_until") or 0 < a < 12]
    big_cases = {w: [((a, 0, 0), f(a)) for a in (5, -3, 0, 3) if w == "big" or a >= 0]
                 for w, f in BIG_CASES.items()}
    wrong = run_words(tmp_path, target,
                      {"p2": (PRIMITIVES_SOURCE, "ttc", 2), "p1": (PRIMITIVES_SOURCE, "ttc", 1),
                       "big": (BIG_SOURCE, "ttc", None)},
                      {"p2": prim_cases, "p1": prim_cases, "big": big_cases})
    assert not wrong, "\n".join(wrong[:20])


# --------------------------------------------------------------------------- SCons

SCONSTRUCT = """
import sys
DefaultEnvironment(tools=[])
sys.path.insert(0, {repo!r})
import gamevm_build.scons
env = Environment(tools=['default', 'gamevm'], toolpath=[gamevm_build.scons.TOOLPATH],
                  GAMEVM_TARGET='gba', GAMEVM_TOKEN_WIDTH=ARGUMENTS.get('width', ''))
env.GameVMThread('ttc.s', 'step.gvm', GAMEVM_EMISSION='ttc')
env.GameVMThread('dtc.s', 'step.gvm', GAMEVM_EMISSION='dtc')
"""


def test_scons_token_width_is_a_signature_variable(tmp_path):
    shutil.copy(EXAMPLE / "step.gvm", tmp_path / "step.gvm")
    (tmp_path / "SConstruct").write_text(SCONSTRUCT.format(repo=str(REPO)))
    proc = scons(tmp_path)
    assert proc.returncode == 0, proc.stdout
    assert "1-byte tokens" in (tmp_path / "ttc.s").read_text()
    dtc = (tmp_path / "dtc.s").read_text()
    proc = scons(tmp_path, "width=2")
    assert proc.returncode == 0, proc.stdout
    assert (tmp_path / "ttc.s").read_text() == compile_source(STEP, "ttc", "arm", "step.gvm", 2)
    # the width is TTC's only: the DTC thread is unchanged (and not refused)
    assert (tmp_path / "dtc.s").read_text() == dtc
    assert "is up to date" in scons(tmp_path, "width=2", "ttc.s").stdout
    proc = scons(tmp_path, "width=x")
    assert proc.returncode == 2, proc.stdout
    assert "GAMEVM_TOKEN_WIDTH='x': 1 or 2 (bytes per TTC token)" in proc.stdout
    proc = scons(tmp_path, "width=3")
    assert proc.returncode == 2 and "TTC token width 3: one of 1, 2" in proc.stdout


# --------------------------------------------------------------------------- docs

def test_emission_commands_of_the_other_docs_run_as_shown(tmp_path):
    """The `gamevm thread` / `--emission` examples of docs/cli.md and docs/format.md, as
    tests/test_docs_commands.py runs them (that test runs them too, in a checkout with the
    example game built; these need only examples/emission)."""

    from conftest import shell_env
    from test_docs_commands import doc_commands, run_as_shown

    commands = [c for c in doc_commands()
                if c[0] != "docs/formats.md" and "examples/emission" in c[2]]
    assert {c[0] for c in commands} >= {"docs/cli.md", "docs/format.md"}
    assert any("--token-width 2" in c[2] for c in commands)
    shutil.copytree(EXAMPLE, tmp_path / "examples" / "emission")
    env = shell_env(tmp_path)
    for doc, line, cmd, expected in commands:
        run_as_shown(doc, line, cmd, expected, tmp_path, env)
