"""Reading statically linked ELF executables for the emulator.

Only what :meth:`Machine.load_elf` needs: the ``PT_LOAD`` segments (file bytes
plus the zero-filled ``.bss`` tail, flags, the sections they hold) and the
symbol table, values masked to 32 bits (GNU ld and ``nm`` may show 32-bit MIPS
addresses sign-extended).
"""

from __future__ import annotations

import bisect
import io
import os
from dataclasses import dataclass

from elftools.common.exceptions import ELFError
from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile

from ..errors import InputError
from ..project.profile import Profile

MASK32 = 0xFFFFFFFF

# When several symbols share an address the report names the most telling one.
_TYPE_RANK = {"STT_FUNC": 3, "STT_OBJECT": 2, "STT_NOTYPE": 1}


#: section types that hold the program (code, data, bss, constructor tables): a segment
#: with one of them, or executable, must be loaded
PROGRAM_SECTION_TYPES = frozenset({"SHT_PROGBITS", "SHT_NOBITS", "SHT_INIT_ARRAY",
                                   "SHT_FINI_ARRAY", "SHT_PREINIT_ARRAY", "SHT_ARM_EXIDX"})
PF_X, PF_W, PF_R = 1, 2, 4


@dataclass(frozen=True)
class Segment:
    vaddr: int
    data: bytes          # memsz bytes: file contents then zeros
    flags: int = PF_R | PF_W | PF_X
    #: names of the allocated sections it holds
    sections: tuple[str, ...] = ()
    #: holds code or data; False for ABI records alone (binutils' ``.MIPS.abiflags``)
    program: bool = True

    @property
    def end(self) -> int:
        return self.vaddr + len(self.data)

    def describe(self) -> str:
        """``segment 0x80010000..0x80012340 (R-X: .text .rodata)``."""
        perms = "".join(c if self.flags & bit else "-"
                        for c, bit in (("R", PF_R), ("W", PF_W), ("X", PF_X)))
        names = " ".join(self.sections) or "no sections"
        return f"segment 0x{self.vaddr:08x}..0x{self.end:08x} ({perms}: {names})"


@dataclass(frozen=True)
class ElfImage:
    path: str
    entry: int
    segments: tuple[Segment, ...]
    symbols: dict[str, int]
    #: (address, rank, size, name) of symbols worth naming in reports, sorted.
    named: tuple[tuple[int, int, int, str], ...]


def read_elf(path: str | os.PathLike, profile: Profile) -> ElfImage:
    """Parse ``path`` and check it was built for ``profile``'s CPU.

    Raises
    ------
    InputError
        Unreadable file, not an executable, or wrong class/machine/byte order.
    """
    path = os.fspath(path)
    try:
        from ..fileutil import read_input

        with io.BytesIO(read_input(path, "executable")) as stream:
            elf = ELFFile(stream)
            _check(elf, path, profile)
            segments = tuple(_segment(elf, seg) for seg in elf.iter_segments(type="PT_LOAD")
                             if seg["p_memsz"])
            symbols, named = _symbols(elf)
            return ElfImage(path, elf.header["e_entry"] & MASK32, segments, symbols, named)
    except (OSError, ELFError) as exc:
        raise InputError(f"{path}: cannot read ELF executable: {exc}") from exc


def _segment(elf: ELFFile, seg) -> Segment:
    sections = [sec for sec in elf.iter_sections()
                if sec["sh_flags"] & SH_FLAGS.SHF_ALLOC and seg.section_in_segment(sec)]
    flags = seg["p_flags"]
    program = bool(flags & PF_X) or any(sec["sh_type"] in PROGRAM_SECTION_TYPES
                                        for sec in sections)
    return Segment(seg["p_vaddr"] & MASK32, seg.data() + bytes(seg["p_memsz"] - seg["p_filesz"]),
                   flags, tuple(sec.name for sec in sections), program)


def _check(elf: ELFFile, path: str, profile: Profile) -> None:
    if elf.header["e_type"] != "ET_EXEC":
        raise InputError(f"{path}: is {elf.header['e_type']}, not a linked executable "
                         "(link it with the target's ld first)")
    if elf.elfclass != profile.elfclass or elf.header["e_machine"] != profile.e_machine_name:
        raise InputError(f"{path}: built for {elf.header['e_machine']} ELF{elf.elfclass}, but "
                         f"target '{profile.name}' needs {profile.e_machine_name} "
                         f"ELF{profile.elfclass}")
    if elf.little_endian == profile.big_endian:
        order = "little" if elf.little_endian else "big"
        raise InputError(f"{path}: is {order}-endian, but target '{profile.name}' is "
                         f"{profile.endian}-endian")


def _symbols(elf: ELFFile) -> tuple[dict[str, int], tuple]:
    symtab = elf.get_section_by_name(".symtab")
    if symtab is None:
        return {}, ()
    symbols: dict[str, int] = {}
    globals_: dict[str, int] = {}
    named = []
    for sym in symtab.iter_symbols():
        kind = sym["st_info"]["type"]
        if not sym.name or sym["st_shndx"] == "SHN_UNDEF" or kind in ("STT_SECTION", "STT_FILE"):
            continue
        value = sym["st_value"] & MASK32
        # A static function may share its name with another file's; the global wins.
        target = symbols if sym["st_info"]["bind"] == "STB_LOCAL" else globals_
        target[sym.name] = value
        if kind in _TYPE_RANK and not sym.name.startswith(("$", ".L")):
            rank = _TYPE_RANK[kind] * 2 + (sym["st_info"]["bind"] != "STB_LOCAL")
            at = value & ~1 if kind == "STT_FUNC" else value      # Thumb functions: bit 0
            named.append((at, rank, sym["st_size"], sym.name))
    symbols.update(globals_)
    return symbols, tuple(sorted(named))


class Symbolizer:
    """Names addresses ``symbol+0xoff`` from the executables a machine loaded.

    Only addresses inside a loaded segment are named, so a wild pointer is not
    dressed up as ``last_symbol+0x7ff00000``.
    """

    def __init__(self):
        self._entries: list[tuple[int, int, int, str]] = []
        self._addrs: list[int] = []
        self._ranges: list[tuple[int, int]] = []

    def add(self, image: ElfImage) -> None:
        self._ranges.extend((s.vaddr, s.vaddr + len(s.data)) for s in image.segments)
        self._entries = sorted(self._entries + list(image.named))
        self._addrs = [e[0] for e in self._entries]

    def __call__(self, addr: int) -> str | None:
        if not any(lo <= addr < hi for lo, hi in self._ranges):
            return None
        i = bisect.bisect_right(self._addrs, addr)
        if i == 0:
            return None
        base = self._addrs[i - 1]
        # Among the symbols at the nearest address, the best ranked (sorted last).
        name = self._entries[i - 1][3]
        offset = addr - base
        return name if offset == 0 else f"{name}+0x{offset:x}"


#: A GNU ld script for bare programs loaded straight into a Machine (tests, benchmarks):
#: everything at ``base`` (``BARE_METAL_SCRIPT.format(base=...)``), no binutils extras.
BARE_METAL_SCRIPT = """\
SECTIONS
{{
  . = 0x{base:08x};
  .text : {{ *(.text .text.*) }}
  .rodata : {{ *(.rodata .rodata.*) }}
  .data : {{ *(.data .data.*) }}
  .bss : {{ *(.bss .bss.* COMMON) }}
  /DISCARD/ : {{ *(.comment) *(.note*) *(.MIPS.abiflags) *(.reginfo) *(.pdr) *(.gnu.attributes) }}
}}
"""
