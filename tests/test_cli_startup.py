"""`gamevm` starts fast: registering subcommands imports no heavy machinery."""

import subprocess
import sys

from conftest import REPO


def test_cli_start_imports_no_emulator_or_analysis():
    code = ("import sys; from gamevm_build.cli import build_parser; build_parser(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('unicorn', 'networkx', 'elftools', 'analysis', 'jsonschema', 'pycdlib')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                         check=True).stdout.strip()
    assert out == "[]"


def test_a_command_line_imports_only_its_command():
    """``gamevm budget ...`` registers (and imports) the budget command alone; it parses
    the same as with every command registered."""
    argv = ["budget", "-c", "gamevm.json", "--format", "json", "-o", "b.json"]
    code = ("import sys; from gamevm_build.cli import build_parser, _command_of; "
            f"parser = build_parser(_command_of({argv!r})); "
            "imported = sorted(m for m in sys.modules if m.startswith('gamevm_build.commands.')); "
            f"assert vars(parser.parse_args({argv!r})) == vars(build_parser().parse_args({argv!r})); "
            "print(imported)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                         check=True).stdout.strip()
    assert out == "['gamevm_build.commands._build', 'gamevm_build.commands.budget']"


def test_command_of():
    from gamevm_build.cli import _command_of
    assert _command_of(["budget", "-c", "x.json"]) == "budget"
    assert _command_of(["--version"]) is None and _command_of([]) is None
    assert _command_of(["--help", "budget"]) is None        # the full list of commands
    assert _command_of(["bogus"]) == "bogus"                # an error naming every command


def test_spelled_out_constants_match_their_sources():
    from gamevm_build.analysis.report import FORMATS, SUFFIXES
    from gamevm_build.commands import budget, call
    from gamevm_build.emu.machine import DEFAULT_SECONDS
    from gamevm_build.link.debugfile import DEBUG_SUFFIX
    from gamevm_build.scons import gamevm as tool
    assert tuple(budget.FORMATS) == tuple(FORMATS)
    assert call.DEFAULT_SECONDS == DEFAULT_SECONDS
    assert tool.REPORT_SUFFIXES == SUFFIXES and tuple(tool.REPORT_SUFFIXES) == tuple(FORMATS)
    assert tool.DEBUG_SUFFIX == DEBUG_SUFFIX
