"""Debug info survives the link (docs/debugging.md): ``.debug`` files beside modules and the
resident, read by the consoles' binutils and gdb-multiarch; the shipped files do not change."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from conftest import ALL_TARGETS, REPO, shell_env
from example_game import scons
from gamevm_build import INCLUDE_DIR
from gamevm_build.commands._build import compile_inputs
from gamevm_build.errors import InputError
from gamevm_build.link.linker import link_module
from gamevm_build.link.module import read_module
from gamevm_build.link.resident import build_resident
from gamevm_build.link.toolchain import find_toolchain

GAME = REPO / "examples" / "game"
PHYSICS = [GAME / "physics" / "body.c", GAME / "physics" / "fixed.c"]
KERNEL = [*sorted((GAME / "kernel").glob("*.c")), GAME / "kernel" / "start.S"]


def tool(target: str, name: str) -> str:
    return find_toolchain(target).tool(name)


def run(*cmd) -> subprocess.CompletedProcess:
    return subprocess.run(list(map(str, cmd)), capture_output=True, text=True, timeout=120)


def link_physics(target: str, out: Path, *flags: str):
    out.parent.mkdir(parents=True, exist_ok=True)
    objs = compile_inputs(target, list(map(str, PHYSICS)), out.parent, list(flags),
                          [str(GAME / "include")])
    return link_module(target, objs, out)


def function_lines(source: Path, name: str) -> range:
    """The lines of a C function's definition (from its name to its closing brace)."""
    lines = source.read_text().splitlines()
    start = next(i for i, line in enumerate(lines, 1) if re.match(rf"\w.*\b{name}\(", line))
    end = next(i for i, line in enumerate(lines, 1) if i > start and line == "}")
    return range(start, end + 1)


@pytest.mark.parametrize("target", ALL_TARGETS)
def test_module_debug_file_reads_in_binutils_and_gdb(tmp_path, target):
    plain = link_physics(target, tmp_path / "plain" / "physics.elf")
    debug = link_physics(target, tmp_path / "g" / "physics.elf", "-g")
    # the module that ships is the same bytes with or without -g
    assert plain.output.read_bytes() == debug.output.read_bytes()
    assert plain.debug_file is None and not (tmp_path / "plain" / "physics.debug").exists()
    path = debug.debug_file
    assert path == tmp_path / "g" / "physics.debug"

    mod = read_module(debug.output)
    with open(path, "rb") as f:
        elf = ELFFile(f)
        assert elf["e_machine"] == ELFFile(open(debug.output, "rb"))["e_machine"]
        assert elf["e_flags"] == mod.e_flags and elf.little_endian == (mod.endian == "little")
        for name, (addr, body) in mod.sections.items():
            sec = elf.get_section_by_name(name)
            size = body if isinstance(body, int) else len(body)
            assert (sec["sh_type"], sec["sh_addr"], sec["sh_size"]) == ("SHT_NOBITS", addr, size)
        symbols = {s.name: s["st_value"] for s in elf.get_section_by_name(".symtab").iter_symbols()}
    assert {n: e.value for n, e in mod.exports.items()}.items() <= symbols.items()
    assert {e.name for e in mod.locals} <= set(symbols)

    dump = run(tool(target, "objdump"), "--dwarf=decodedline", path)
    assert dump.returncode == 0 and not dump.stderr, dump.stderr
    assert "body.c" in dump.stdout and "fixed.c" in dump.stdout

    # fx_isqrt lies in the second input: its line info was relocated to its module address
    addr = mod.exports["fx_isqrt"].value & ~1
    a2l = run(tool(target, "addr2line"), "-f", "-e", path, hex(addr))
    func, where = a2l.stdout.split()
    file, line = where.rsplit(":", 1)
    assert func == "fx_isqrt" and file.endswith("physics/fixed.c") and not a2l.stderr
    assert int(line) in function_lines(GAME / "physics" / "fixed.c", "fx_isqrt")

    base = 0x80100000 if target in ("psx", "n64") else 0x00200000
    mul = mod.exports["fx_mul"].value & ~1
    gdb = run("gdb-multiarch", "-batch", "-ex", "info line fx_mul", path)
    assert gdb.returncode == 0 and not gdb.stderr, gdb.stderr
    assert re.search(rf'Line \d+ of ".*fixed.c" starts at address {mul:#x} <fx_mul>', gdb.stdout)
    # at a load address, as a loaded module: every section moves with it
    gdb = run("gdb-multiarch", "-batch", "-ex", f"add-symbol-file {path} -o {base:#x}",
              "-ex", "info line fx_mul", "-ex", "info address phys_floor_y")
    assert gdb.returncode == 0 and not gdb.stderr, gdb.stderr
    assert f"with all sections offset by {base:#x}" in gdb.stdout
    assert re.search(rf"starts at address {base + mul:#x} <fx_mul>", gdb.stdout), gdb.stdout
    floor = base + mod.exports["phys_floor_y"].value
    assert f"at address {floor:#x}" in gdb.stdout


@pytest.mark.parametrize("target", ["psx", "gba"])
def test_resident_debug_file_and_stripped_resident(tmp_path, target):
    """The resident is the same bytes with -g (its DWARF goes to kernel.debug), and the
    toolchain's libgcc, which has line info on ARM, does not make a debug file."""
    module = link_physics(target, tmp_path / "physics.elf").output
    out = {}
    for kind, flags in (("plain", []), ("g", ["-g"])):
        work = tmp_path / kind
        work.mkdir()
        objs = compile_inputs(target, list(map(str, KERNEL)), work, flags,
                              [str(GAME / "include")], resident=True)
        out[kind] = build_resident(target, objs, work / "kernel.elf", modules=[module],
                                   runtime="target")
    assert out["plain"].output.read_bytes() == out["g"].output.read_bytes()
    assert out["plain"].debug_file is None and not (tmp_path / "plain" / "kernel.debug").exists()
    path = out["g"].debug_file
    addr = out["g"].resident.symbols["gvm_kernel_selftest"]
    a2l = run(tool(target, "addr2line"), "-f", "-s", "-e", path, hex(addr))
    assert a2l.stdout.split()[0] == "gvm_kernel_selftest" and "main.c:" in a2l.stdout
    gdb = run("gdb-multiarch", "-batch", "-ex", "info line gvm_kernel_selftest", path)
    assert not gdb.stderr and f"starts at address {addr:#x}" in gdb.stdout


def test_a_link_without_debug_info_removes_the_stale_debug_file(tmp_path):
    out = tmp_path / "physics.elf"
    assert link_physics("psx", out, "-g").debug_file.exists()
    link_physics("psx", out)
    assert not (tmp_path / "physics.debug").exists()
    (tmp_path / "physics.debug").write_text("my notes\n")       # not ELF: left alone
    link_physics("psx", out)
    assert (tmp_path / "physics.debug").read_text() == "my notes\n"


def test_compressed_debug_info_is_refused(tmp_path):
    with pytest.raises(InputError, match=r"\.debug_\w+ is compressed.*without -gz"):
        link_physics("gba", tmp_path / "physics.elf", "-g", "-gz")
    assert not list(tmp_path.glob("physics.*"))


def test_scons_debug_option(tmp_path):
    """``scons debug=1``: .debug files beside the modules and the kernel; the .elf files
    are the same as a default build's; ``scons -c`` removes them."""
    shutil.copy(REPO / "SConstruct", tmp_path / "SConstruct")
    for sub in ("site_scons", "examples"):
        shutil.copytree(REPO / sub, tmp_path / sub, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path / "build" / "gba"
    names = ("kernel", "physics", "level1", "boss")
    proc = scons(tmp_path, "target=gba", "game")
    assert proc.returncode == 0, proc.stdout
    plain = {n: (out / f"{n}.elf").read_bytes() for n in names}
    assert not list(out.glob("*.debug"))
    proc = scons(tmp_path, "target=gba", "debug=1", "game")
    assert proc.returncode == 0, proc.stdout
    assert {n: (out / f"{n}.elf").read_bytes() for n in names} == plain
    assert sorted(p.stem for p in out.glob("*.debug")) == sorted(names)
    gdb = run("gdb-multiarch", "-batch", "-ex", "info line boss_hit", out / "boss.debug")
    assert not gdb.stderr and "boss.c" in gdb.stdout      # Thumb code on the GBA
    proc = scons(tmp_path, "-c", "target=gba", "debug=1", "game")
    assert proc.returncode == 0, proc.stdout
    assert not list(out.glob("*.debug")) and not list(out.glob("*.elf"))


def test_debugging_md_commands_run_as_shown(tmp_path):
    """Every command docs/debugging.md shows (gamevm, binutils, gdb, scons) runs as shown."""
    from test_docs_commands import shows_in_order

    doc = (REPO / "docs" / "debugging.md").read_text()
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    shutil.copy(REPO / "SConstruct", tmp_path / "SConstruct")
    shutil.copytree(REPO / "site_scons", tmp_path / "site_scons")
    env = shell_env(tmp_path)
    ran = 0
    for block in re.findall(r"^```sh\n(.*?)^```", doc, re.S | re.M):
        lines = block.replace("\\\n", " ").splitlines()
        i = 0
        while i < len(lines):
            line = lines[i]
            i += 1
            if line.startswith(". .venv/bin/activate") or not line.strip():
                continue
            transcript = line.startswith("$ ")
            cmd = line[2:] if transcript else line
            expected = []
            while transcript and i < len(lines) and not lines[i].startswith("$ "):
                expected.append(lines[i])
                i += 1
            # the example's scons build: only the game itself (validation, disc and
            # budgets are tested elsewhere), with this checkout's Python
            cmd = cmd.replace(".venv/bin/scons debug=1", f"{sys.executable} -m SCons -Q "
                              "debug=1 game")
            proc = subprocess.run(cmd, shell=True, cwd=tmp_path, env=env, capture_output=True,
                                  text=True, timeout=300)
            assert proc.returncode == 0 and "warning" not in proc.stderr.lower(), \
                (cmd, proc.stdout, proc.stderr)
            missing = shows_in_order(expected, proc.stdout + proc.stderr)
            assert missing is None, (cmd, missing, proc.stdout)
            ran += 1
    assert ran >= 9
