"""The emulator on the 68000 and ARM consoles: gamevm.h traps, CPU faults, freed memory.

Runs real cross-compiled code on unicorn's CPU models through the loader (the
quirks each family's :class:`gamevm_build.emu.cpu.Cpu` works around are in
``gamevm_build/emu/m68k.py`` and ``gamevm_build/emu/arm.py``).
"""

from __future__ import annotations

import pytest

from conftest import NEW_TARGETS, Builder, run_gamevm
from gamevm_build.console import Console
from gamevm_build.errors import EmulationFault
from gamevm_build.toolchain import find_toolchain

MODULE = r"""
#include "gamevm.h"
static int ready;
__attribute__((constructor)) static void init(void) { ready = 41; }
int hello(void) { GameVMPrint("hello from the module"); return ready + 1; }
int nested(void) {
    TLoadStatus st = lsSuccess;
    TModuleHandle h = LoadModuleEx("missing", &st);
    return h == 0 ? (int)st : -1;
}
int wild(int *p) { return *p; }
"""
KERNEL = "int k_unused;\nvoid _start(void) {}\n"
#: an instruction every console's CPU refuses, as hand-assembled data in .text
BAD = {"segacd": ".short 0x4afc", "gba": ".word 0xe7f000f0", "3do": ".word 0xe7f000f0"}
BAD_CAUSE = {"segacd": "illegal instruction", "gba": "undefined instruction",
             "3do": "undefined instruction"}


@pytest.fixture(params=NEW_TARGETS)
def console(request, tmp_path):
    target = request.param
    b = Builder(tmp_path, find_toolchain(target))
    flags = ["-mthumb"] if target == "gba" else []          # gamevm.h traps from Thumb code
    src = b.source("mod.c", MODULE)
    bad = b.source("bad.s", f"        .text\n        .global bad\nbad:    {BAD[target]}\n")
    for args in (["module", "-t", target, "-o", tmp_path / "mod.elf", src, bad,
                  *(f"--cflags={f}" for f in flags)],
                 ["resident", "-t", target, "-o", tmp_path / "kernel.elf",
                  "--modules", tmp_path / "mod.elf", b.source("kernel.c", KERNEL)]):
        proc = run_gamevm(*args)
        assert proc.returncode == 0, proc.stderr
    c = Console(target, tmp_path / "kernel.elf", search_paths=[tmp_path])
    return target, c, c.loader.load("mod")


def test_trap_constructor_and_print(console):
    target, c, lm = console
    assert c.machine.call(lm.symbols["hello"]) == 42          # the constructor ran on the CPU
    assert "hello from the module" in c.output


def test_trap_returns_status_through_pointer(console):
    target, c, lm = console
    assert c.machine.call(lm.symbols["nested"]) == 1           # lsFileNotFound, written by the trap


def test_undefined_instruction_fault(console):
    target, c, lm = console
    with pytest.raises(EmulationFault) as exc:
        c.machine.call(lm.symbols["bad"])
    report = exc.value.report
    assert report.cause == BAD_CAUSE[target] and report.pc == lm.symbols["bad"]
    assert "bad" in (report.pc_symbol or "")


def test_wild_pointer_names_address_and_function(console):
    target, c, lm = console
    with pytest.raises(EmulationFault) as exc:
        c.machine.call(lm.symbols["wild"], 0x10000000)
    r = exc.value.report
    assert (r.cause, r.access, r.address) == ("unmapped address", "read", 0x10000000)
    assert (r.pc_symbol or "").startswith("mod:wild") or "wild" in (r.pc_symbol or "")


def test_call_into_unloaded_module_faults(console):
    target, c, lm = console
    hello = lm.symbols["hello"]
    c.loader.unload(lm.handle)
    with pytest.raises(EmulationFault) as exc:
        c.machine.call(hello)
    assert "not executable" in str(exc.value) or "unloaded" in str(exc.value)
