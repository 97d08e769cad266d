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


def test_spelled_out_constants_match_their_sources():
    from gamevm_build.analysis.report import FORMATS
    from gamevm_build.commands import budget, call
    from gamevm_build.emu.machine import DEFAULT_SECONDS
    assert tuple(budget.FORMATS) == tuple(FORMATS)
    assert call.DEFAULT_SECONDS == DEFAULT_SECONDS
