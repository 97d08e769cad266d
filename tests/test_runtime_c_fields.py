"""Every field of a module's headers at its edges: the C runtime gives the reference
loader's status, RAM and modules.

The corrupted-modules property (tests/test_target_runtime.py) draws 40 random changes per
console, and mutation testing's fresh samples of the runtime kept finding checks no
random change reaches: a table's last entry, the first symbol, a visibility byte, an
offset one past its bound. This sweep is the systematic complement: each field of the ELF
header, of every program and section header, of the symbols of each kind (the first, the last,
the last local, the first import and export), of the first and the last
relocation of every table and of the metadata note's header is set, one at a time, to
the values at its edges (0, 1, one less, one more, its top bit flipped, all ones; and for
a relocation's symbol and type, the first, the last and one past the last), and the
module is loaded by both loaders over the same console state.  Every disagreement is
collected and reported together, naming the field and the value.

Its first run found a disagreement on every console: a module whose `.text` section was
moved over its metadata note (`sh_offset` 0 or 1) loads on both, but the runtime copied
the note's bytes as its JSON parser had left them (strings unescaped and NUL-terminated
in place, in the first read's buffer) where the reference copies the file's bytes. The
runtime now parses a copy of the note.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from conftest import ALL_TARGETS
from example_game import example_game  # noqa: F401  (fixture)
from gamevm_build.errors import EmulationError
from gamevm_build.runtime.reference import TLoadStatus
from test_target_runtime import MODULES, host_load, pair, same_modules, target_resident

SHT_SYMTAB, SHT_NOTE, SHT_REL, SHT_RELA = 2, 7, 9, 4

EHDR = (("e_type", 16, 2), ("e_machine", 18, 2), ("e_version", 20, 4),
        ("e_entry", 24, 4), ("e_phoff", 28, 4), ("e_shoff", 32, 4), ("e_flags", 36, 4),
        ("e_ehsize", 40, 2), ("e_phentsize", 42, 2), ("e_phnum", 44, 2),
        ("e_shentsize", 46, 2), ("e_shnum", 48, 2), ("e_shstrndx", 50, 2))
PHDR = ("p_type", "p_offset", "p_vaddr", "p_paddr", "p_filesz", "p_memsz", "p_flags",
        "p_align")
SHDR = ("sh_name", "sh_type", "sh_flags", "sh_addr", "sh_offset", "sh_size", "sh_link",
        "sh_info", "sh_addralign", "sh_entsize")
SYM = (("st_name", 0, 4), ("st_value", 4, 4), ("st_size", 8, 4), ("st_info", 12, 1),
       ("st_other", 13, 1), ("st_shndx", 14, 2))


def edges(value: int, width: int) -> list[int]:
    """The values at a ``width``-byte field's edges, around its ``value``."""
    top = 1 << (8 * width)
    near = {0, 1, value - 1, value + 1, value ^ (top >> 1), top - 1}
    return sorted(v % top for v in near if v % top != value)


def fields(data: bytes):
    """Yield ``(label, offset, width, values)`` for every field the sweep changes."""
    order = "<" if data[5] == 1 else ">"

    def word(at: int, width: int) -> int:
        return struct.unpack_from(order + {1: "B", 2: "H", 4: "I"}[width], data, at)[0]

    for i in range(9):                # EI_PAD, the rest, is read by neither
        yield f"e_ident[{i}]", i, 1, edges(data[i], 1)
    for name, at, width in EHDR:
        yield name, at, width, edges(word(at, width), width)
    phoff, shoff = word(28, 4), word(32, 4)
    for p in range(word(44, 2)):
        for k, name in enumerate(PHDR):
            at = phoff + 32 * p + 4 * k
            yield f"program header {p} {name}", at, 4, edges(word(at, 4), 4)
    sections = [struct.unpack_from(order + "10I", data, shoff + 40 * s)
                for s in range(word(48, 2))]
    for s, header in enumerate(sections):
        for k, name in enumerate(SHDR):
            yield f"section {s} {name}", shoff + 40 * s + 4 * k, 4, edges(header[k], 4)
    symbols = next((h[5] // 16 for h in sections if h[1] == SHT_SYMTAB), 0)
    for s, header in enumerate(sections):
        kind, offset, size = header[1], header[4], header[5]
        if kind == SHT_SYMTAB:
            for n in chosen_symbols(data, order, offset, size // 16, header[7]):
                for name, at, width in SYM:
                    at += offset + 16 * n
                    yield f"symbol {n} {name}", at, width, edges(word(at, width), width)
        elif kind in (SHT_REL, SHT_RELA) and size:
            entry = 12 if kind == SHT_RELA else 8
            for n in sorted({0, size // entry - 1}):
                at = offset + entry * n
                yield f"section {s} relocation {n} r_offset", at, 4, edges(word(at, 4), 4)
                info = word(at + 4, 4)
                values = {info + 1, info - 1, info & 0xFF, (info & 0xFF) | 0xFFFFFF00} | {
                    (sym << 8) | (info & 0xFF) for sym in (0, symbols - 1, symbols)} | {
                    (info & ~0xFF) | t for t in (0, 255)}
                yield (f"section {s} relocation {n} r_info", at + 4, 4,
                       sorted(v & 0xFFFFFFFF for v in values if v & 0xFFFFFFFF != info))
                if kind == SHT_RELA:
                    yield (f"section {s} relocation {n} r_addend", at + 8, 4,
                           edges(word(at + 8, 4), 4))
        elif kind == SHT_NOTE and size >= 12:
            for k, name in enumerate(("n_namesz", "n_descsz", "n_type")):
                at = offset + 4 * k
                yield f"section {s} note {name}", at, 4, edges(word(at, 4), 4)


def chosen_symbols(data: bytes, order: str, offset: int, count: int, first_global: int):
    """The symbols whose fields the sweep changes: the null symbol, the first and the last,
    the last local and the first global, the first defined and the first undefined global
    (an export and an import), and the first of each other type."""
    chosen = {0, 1, count - 1, first_global - 1, first_global}
    seen = set()
    for n in range(first_global, count):
        info, = struct.unpack_from("B", data, offset + 16 * n + 12)
        shndx, = struct.unpack_from(order + "H", data, offset + 16 * n + 14)
        kind = (shndx == 0, info & 0xF)
        if kind not in seen:
            seen.add(kind)
            chosen.add(n)
    return sorted(n for n in chosen if 0 <= n < count)


def changed(data: bytes, at: int, width: int, value: int) -> bytes:
    order = "little" if data[5] == 1 else "big"
    return data[:at] + value.to_bytes(width, order) + data[at + width:]


def disagreements(host, tl, directory: Path, data: bytes) -> list[str]:
    """Load each change of ``data`` (as ``victim``) with both loaders; return what differed."""
    found = []
    for label, at, width, values in fields(data):
        for value in values:
            (directory / "victim.elf").write_bytes(changed(data, at, width, value))
            lm, status = host_load(host, "victim")
            try:
                handle, t_status = tl.load_module("victim")
            except EmulationError as exc:
                # a constructor that faults is a crash on the console, not a status
                if status != TLoadStatus.lsInitFailed:
                    found.append(f"{label} = {value:#x}: host {status.name}, target crashed: {exc}")
                return found + ["(the console crashed: the sweep stops here)"]
            if t_status != status:
                found.append(f"{label} = {value:#x}: host {status.name}, target {t_status.name}")
            elif status == TLoadStatus.lsSuccess:
                try:
                    same_modules(host, tl)
                except AssertionError as exc:
                    found.append(f"{label} = {value:#x}: loaded differently: {exc}")
            if lm is not None:
                host.unload(lm.handle)
            if t_status == TLoadStatus.lsSuccess:
                tl.unload_module(handle)
    return found


@pytest.fixture(scope="module", params=ALL_TARGETS)
def console(request, example_game, tmp_path_factory):
    target = request.param
    out = example_game(target)
    kernel = target_resident(out, target, [out / f"{m}.elf" for m in MODULES])
    return target, out, kernel, tmp_path_factory.mktemp(f"fields-{target}")


@pytest.mark.parametrize("victim", ["boss", "physics"])
def test_every_header_field_at_its_edges_gets_the_host_status(console, victim):
    target, out, kernel, directory = console
    (directory / "physics.elf").write_bytes((out / "physics.elf").read_bytes())
    host, tl = pair(target, kernel, directory)
    if victim == "boss":          # boss imports from physics: it stays loaded
        assert host_load(host, "physics")[1] == TLoadStatus.lsSuccess
        assert tl.load_module("physics")[1] == TLoadStatus.lsSuccess
    data = (out / f"{victim}.elf").read_bytes()
    with open(out / f"{victim}.elf", "rb") as f:
        assert ELFFile(f).num_sections() > 0
    found = disagreements(host, tl, directory, data)
    assert not found, f"{target} {victim}: {len(found)} disagreements:\n" + "\n".join(found)
    same_modules(host, tl)
