"""Differential test against the host: same C, native results vs. modules on the emulated CPU.

The corpus in tests/corpus/native is a resident (kernel.c) and two modules:
``physics`` and ``level`` (which needs physics).  Built natively with the host
gcc, a generated main() calls a fixed sequence of functions and prints each
result: the oracle.  Built for each console, the modules are linked by
``gamevm module``, the resident by ``gamevm resident``, both modules are
prelinked at their bases, and the images run on unicorn's CPU model in the
same sequence (state shared between calls, constructors run first as a
loader does).  Every result must match the host's.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import ALL_TARGETS, module_base, run_gamevm
from gamevm_build.emu.machine import Machine
from gamevm_build.link.module import read_module
from gamevm_build.link.prelink import chain_resolver, module_symbols, relocate
from gamevm_build.link.resident import read_resident

CORPUS = Path(__file__).parent / "corpus" / "native"

#: (function, args) in call order; results depend on earlier calls (shared state)
CALLS = [
    ("level_ready_value", ()),
    *[("level_tick", (f,)) for f in range(10)],
    ("level_score_value", ()),
    ("level_combo", (3, 9)),
    ("level_combo", (-4, 100)),
    ("level_mix", (7,)),
    ("level_greeting_len", ()),
    ("level_has_hook", ()),
    ("level_big", (5,)),
    ("level_counter", ()),
    ("level_names", ()),
    ("level_bodies", ()),
    ("level_fx", (300, -200)),
    ("phys_classify", (2,)),
    ("phys_classify", (9,)),
    ("phys_apply", (2, -6, 7)),
    ("phys_sin", (20,)),
    ("k_mix", (1, -2, 3, -4, 5, -6)),
]


def host_results(tmp: Path) -> list[int]:
    """Run the corpus natively and return each call's result as unsigned 32-bit."""
    decls = "\n".join(sorted({f"extern int {name}();" for name, _ in CALLS}))
    body = "\n".join(f'    printf("%u\\n", (unsigned){name}({", ".join(map(str, args))}));'
                     for name, args in CALLS)
    main = tmp / "host_main.c"
    main.write_text(f"#include <stdio.h>\n{decls}\nint main(void) {{\n{body}\n    return 0;\n}}\n")
    exe = tmp / "host_corpus"
    subprocess.run(["gcc", "-O2", "-DGAMEVM_HOST", "-fno-builtin", "-w", f"-I{CORPUS}",
                    str(CORPUS / "kernel.c"), str(CORPUS / "physics.c"), str(CORPUS / "level.c"),
                    str(main), "-o", str(exe)], check=True)
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
    return [int(line) for line in out.split()]


@pytest.fixture(scope="module")
def expected(tmp_path_factory):
    return host_results(tmp_path_factory.mktemp("host"))


def build_game(tmp: Path, target: str, runtime: str = "host") -> tuple[Path, Path, Path]:
    phys, level, kernel = tmp / "physics.elf", tmp / "level.elf", tmp / "kernel.elf"
    inc = f"-I{CORPUS}"
    for args in (["module", "-t", target, "-o", phys, inc, CORPUS / "physics.c"],
                 ["module", "-t", target, "-o", level, inc, "--needs", phys, CORPUS / "level.c"],
                 ["resident", "-t", target, "-o", kernel, inc, "--modules", phys, level,
                  "--runtime", runtime, CORPUS / "kernel.c"]):
        proc = run_gamevm(*args)
        assert proc.returncode == 0, proc.stderr
    return kernel, phys, level


def run_constructors(machine: Machine, module, base: int) -> None:
    """What a loader does after relocation: init_array in order, then .ctors in reverse."""
    if "init_array" in module.init:
        off, count = module.init["init_array"]
        for i in range(count):
            machine.call(machine.read_u32(base + off + 4 * i))
    if "ctors" in module.init:
        off, count = module.init["ctors"]
        for i in reversed(range(count)):
            machine.call(machine.read_u32(base + off + 4 * i))


@pytest.mark.parametrize("target", ALL_TARGETS)
def test_modules_return_host_results(tmp_path, target, profile, expected):
    kernel, phys_path, level_path = build_game(tmp_path, target)
    resident = read_resident(kernel, profile)
    phys, level = read_module(phys_path), read_module(level_path)
    phys_base = module_base(profile, resident.end)       # leave a gap: bases are not 0-aligned
    level_base = (phys_base + phys.image_size + 0x1230 + 15) & ~15
    phys_img = relocate(phys, phys_base, chain_resolver(resident.symbols))
    phys_syms = module_symbols(phys, phys_base)
    level_img = relocate(level, level_base, chain_resolver(resident.symbols, phys_syms))

    m = Machine(target)
    m.load_elf(kernel)
    m.write(phys_base, bytes(phys_img))
    m.write(level_base, bytes(level_img))
    run_constructors(m, phys, phys_base)
    run_constructors(m, level, level_base)
    table = {**resident.symbols, **phys_syms, **module_symbols(level, level_base)}
    got = [m.call(table[name], *args) for name, args in CALLS]
    assert got == expected, "\n".join(
        f"{name}{args}: target {g} host {e}" for (name, args), g, e in zip(CALLS, got, expected) if g != e)


@pytest.mark.parametrize("target", ALL_TARGETS)
def test_console_side_runtime_gives_host_results(tmp_path, target, expected):
    """The same corpus loaded by the C runtime on the console's CPU (level needs physics)."""
    from gamevm_build.play.console import Console

    kernel, _phys, _level = build_game(tmp_path, target, runtime="target")
    c = Console(target, kernel, search_paths=[tmp_path])
    assert c.loader_kind == "target"
    level = c.load("level")
    assert {m.name for m in c.loader.loaded.values()} == {"physics", "level"}
    got = [c.call(c.symbol(name) if name.startswith("k_") else level.symbols.get(name)
                  or c.symbol(name), *args) for name, args in CALLS]
    assert got == expected, "\n".join(
        f"{name}{args}: target {g} host {e}" for (name, args), g, e in zip(CALLS, got, expected) if g != e)


@pytest.mark.parametrize("target", ALL_TARGETS)
def test_prelink_cli_image_matches_library_relocation(tmp_path, target, profile):
    """`gamevm prelink` (subprocess) writes exactly what relocate() computes."""
    kernel, phys_path, level_path = build_game(tmp_path, target)
    resident = read_resident(kernel, profile)
    phys_base = module_base(profile, resident.end)
    level_base = phys_base + 0x8000
    img = tmp_path / "level.bin"
    proc = run_gamevm("prelink", level_path, "--base", hex(level_base), "--resident", kernel,
                      "--needs", f"{phys_path}@{hex(phys_base)}", "-o", img)
    assert proc.returncode == 0, proc.stderr
    phys_syms = module_symbols(read_module(phys_path), phys_base)
    ref = relocate(read_module(level_path), level_base, chain_resolver(resident.symbols, phys_syms))
    assert img.read_bytes() == bytes(ref)
