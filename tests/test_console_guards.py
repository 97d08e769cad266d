"""What a module cannot do to the console, and how a runaway call is reported (issue 13).

- The resident's code is guarded against writes from modules, like module code; its
  data (and, with the C runtime, the module images it writes) is not.
- A jump to an unmapped or zeroed address is a wild jump, reported at the jump with the
  code that jumped, not as "an endless loop?" once the budget has run out.
- The default budget is a time on the console (emulated seconds at one instruction per
  cycle of the profile's clock), said in the message; a long call reports its progress.
"""

from __future__ import annotations

import re

import pytest

from conftest import run_gamevm
from example_game import example_game  # noqa: F401  (fixture)
from gamevm_build.play.console import Console
from gamevm_build.emu.machine import DEFAULT_SECONDS
from gamevm_build.errors import EmulationFault, EmulationTimeout

EVIL = r"""
int wild_jump(unsigned a) { return ((int (*)(void))a)(); }
int wild_write(unsigned a, unsigned v) { *(volatile unsigned *)a = v; return 0; }
static int cell;
int data_write(int v) { cell = v; return cell; }
"""


@pytest.fixture(scope="module", params=["psx", "gba", "segacd"])
def evil(request, example_game, tmp_path_factory):
    target = request.param
    out = example_game(target)
    d = tmp_path_factory.mktemp(f"evil-{target}")
    (d / "evil.c").write_text(EVIL)
    p = run_gamevm("module", "-t", target, "-o", d / "evil.elf", d / "evil.c")
    assert p.returncode == 0, p.stderr
    return target, out, d


def console(evil, loader=None) -> Console:
    target, out, d = evil
    c = Console(target, out / "kernel.elf", search_paths=[d, out], loader=loader)
    c.load("evil")
    return c


@pytest.mark.parametrize("loader", ["host", "target"])
def test_a_module_cannot_rewrite_the_residents_code(evil, loader):
    c = console(evil, loader)
    victim = c.machine.symbols["gvm_strlen"]
    before = c.machine.read(victim, 4)
    with pytest.raises(EmulationFault) as err:
        c.call("evil:wild_write", victim, 0)
    assert "write of code of the resident (read+execute)" in str(err.value)
    assert "<gvm_strlen>" in str(err.value)
    assert c.machine.read(victim, 4) == before               # the store did not land
    assert c.call("gvm_strlen", c.machine.alloc_string("abc")) == 3
    # its data stays writable (the resident's own .data/.bss and its modules' data)
    assert c.call("evil:data_write", 7) == 7
    lm = c.load("level1", needs=True)        # the C runtime writes module images: still fine
    assert lm is not None


@pytest.mark.parametrize("address", [0x10, 0x2000])
def test_a_wild_jump_is_reported_at_the_jump(evil, address):
    c = console(evil, "host")
    with pytest.raises(EmulationFault) as err:
        c.call("evil:wild_jump", address)
    text = str(err.value)
    assert f"0x{address:08x}" in text and "a wild jump from" in text
    assert re.search(r"a wild jump from 0x[0-9a-f]{8} <evil:wild_jump", text), text
    assert "endless loop" not in text
    assert c.call("evil:data_write", 3) == 3                 # the console goes on


def test_the_default_budget_is_console_time(evil):
    target, out, _ = evil
    c = console(evil, "host")
    c.load("crashy", needs=True)
    budget = c.machine.default_budget
    assert budget == round(DEFAULT_SECONDS * c.profile.clock_hz)
    with pytest.raises(EmulationTimeout) as err:
        c.call("crashy:crashy_spin", 1)
    text = str(err.value)
    assert f"within its budget of {DEFAULT_SECONDS:g} s on the console ({budget} instructions" \
        in text and "MHz" in text
    assert err.value.budget == budget


def test_a_long_call_reports_progress(evil, monkeypatch):
    import gamevm_build.emu.machine as machine_mod

    monkeypatch.setattr(machine_mod, "PROGRESS_AFTER", 0.0)     # report at the first look
    c = console(evil, "host")
    c.load("crashy", needs=True)
    seen = []
    c.machine.progress = lambda m, n, wall: seen.append((n, wall, m.reg("pc")))
    with pytest.raises(EmulationTimeout):
        c.call("crashy:crashy_spin", 1, max_instructions=3 << 18)
    assert seen and all(n > 0 for n, _, _ in seen)
    assert [n for n, *_ in seen] == sorted(n for n, *_ in seen)
    assert c.machine.symbolize(seen[-1][2]).startswith("crashy:crashy_spin")


def test_the_cli_says_the_budget_in_console_seconds(evil):
    target, out, _ = evil
    p = run_gamevm("call", "-t", target, "--resident", out / "kernel.elf", "--search", out,
                   "--loader", "host", "--load", "crashy", "--max-seconds", "0.01",
                   "crashy:crashy_spin(1)")
    assert p.returncode == 1, p.stderr
    assert "budget of 0.01 s on the console" in p.stderr
    assert "--max-seconds S" in p.stderr and "Traceback" not in p.stderr


def test_validation_reports_progress_of_a_long_test(evil, monkeypatch, capsys):
    """GameVMValidate passes print_progress: a long test says where it is, on stderr."""
    import gamevm_build.emu.machine as machine_mod
    from gamevm_build.play.validate import parse_tests, print_progress, validate

    monkeypatch.setattr(machine_mod, "PROGRESS_AFTER", 0.0)     # report at the first look
    target, out, _ = evil
    result = validate(target, out / "kernel.elf", [out / "crashy.elf"],
                      parse_tests(["crashy:crashy_spin(1)"]), max_instructions=3 << 18,
                      progress=print_progress)
    err = capsys.readouterr().err
    assert not result.ok
    assert "gamevm: still running after" in err and "<crashy:crashy_spin" in err
