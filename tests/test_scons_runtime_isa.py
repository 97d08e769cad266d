"""``GAMEVM_RUNTIME_ISA``: the SCons spelling of ``gamevm resident --runtime-isa``.

The real scons builds the example game's kernel with the console-side runtime on the GBA,
as Thumb code and as ARM code, and refuses an instruction set the console cannot run (or a
value that is none), naming the variable, while the SConscripts are read.
"""

from __future__ import annotations

import re
import shutil

import pytest

from test_scons import REPO, elf, failed, ok, scons

SCONSTRUCT = """\
import gamevm_build.scons

env = Environment(tools=['default', 'gamevm'], toolpath=[gamevm_build.scons.TOOLPATH],
                  GAMEVM_TARGET=ARGUMENTS.get('target', 'gba'),
                  GAMEVMRESIDENTCOMSTR='Resident $TARGET')
env.Append(CPPPATH=['include'])
isa = ARGUMENTS.get('isa')
env.GameVMResident('build/kernel', Glob('kernel/*.c') + ['kernel/start.S'],
                   GAMEVM_RUNTIME=ARGUMENTS.get('runtime', 'target'),
                   GAMEVM_RUNTIME_ISA=None if isa is None else isa)
"""


@pytest.fixture(scope="module")
def kernel_project(tmp_path_factory):
    root = tmp_path_factory.mktemp("isa")
    for sub in ("kernel", "include"):
        shutil.copytree(REPO / "examples" / "game" / sub, root / sub,
                        ignore=shutil.ignore_patterns("__pycache__"))
    (root / "SConstruct").write_text(SCONSTRUCT)
    return root


def runtime_code(out: str) -> int:
    """The runtime's code bytes the resident link printed."""
    found = re.search(r"console-side runtime (\d+) bytes code", out)
    assert found, out
    return int(found.group(1))


def functions(path) -> dict[str, int]:
    symtab = elf(path).get_section_by_name(".symtab")
    return {s.name: s["st_value"] for s in symtab.iter_symbols()
            if s["st_info"]["type"] == "STT_FUNC"}


def test_thumb_runtime_on_the_gba_and_changing_it_relinks(kernel_project):
    """'thumb' compiles the runtime as Thumb code (bit 0 of its functions' symbols, and
    smaller), the kernel and the API entries that take the caller's frame stay ARM;
    changing the variable relinks the resident, and an unchanged one is up to date."""
    kernel = kernel_project / "build" / "kernel.elf"
    out = ok(scons(kernel_project, "isa=thumb"))
    assert "Resident build/kernel.elf" in out
    thumb_code = runtime_code(out)
    syms = functions(kernel)
    assert syms["GetModuleProc"] & 1 and syms["GameVMInit"] & 1 and syms["LoadModule"] & 1
    assert not syms["gvm_stub_entry"] & 1 and not syms["LoadModuleEx"] & 1
    assert not syms["_start"] & 1
    assert scons(kernel_project, "-q", "isa=thumb").returncode == 0

    out = ok(scons(kernel_project, "isa=arm"))
    assert "Resident build/kernel.elf" in out            # the signature changed
    arm_code = runtime_code(out)
    assert not functions(kernel)["GetModuleProc"] & 1
    assert thumb_code < arm_code * 0.85, (thumb_code, arm_code)
    # None: the profile's runtime_isa (the bundled GBA profile leaves it unset: ARM code)
    out = ok(scons(kernel_project))
    assert "Resident build/kernel.elf" in out
    assert runtime_code(out) == arm_code
    assert not functions(kernel)["GetModuleProc"] & 1
    assert scons(kernel_project, "-q").returncode == 0


@pytest.mark.parametrize("args, words", [
    (("target=psx", "isa=thumb"), ["GAMEVM_RUNTIME_ISA (target psx)", "'thumb'", "mips"]),
    (("target=3do", "isa=thumb"), ["GAMEVM_RUNTIME_ISA (target 3do)", "armv3",
                                   'choose "arm"']),
    (("isa=x86",), ["GAMEVM_RUNTIME_ISA = 'x86'", "choose 'arm', 'thumb'"]),
    (("isa=thumb", "runtime=host"), ["GAMEVM_RUNTIME_ISA = 'thumb'",
                                     "GAMEVM_RUNTIME = 'target'"]),
])
def test_refused_instruction_sets_name_the_variable(kernel_project, args, words):
    """A console without Thumb, a value that is no instruction set, or a resident without
    the console-side runtime: the build stops before compiling anything, with a message
    that names GAMEVM_RUNTIME_ISA and what to choose."""
    out = failed(scons(kernel_project, "-n", *args))
    for word in words:
        assert word in out, (word, out)
    assert "Resident" not in out
