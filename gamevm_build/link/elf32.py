"""Fast reader for 32-bit ELF files: headers, sections, symbols, relocations.

Why not pyelftools here: the linker reads hundreds of objects per link and
pyelftools' construct-based parsing costs ~milliseconds per object, which
alone would break the "within 3x of GNU ld" goal.  This reader does only what
linking needs, with ``struct.unpack_from``, and checks every offset it
follows so that a truncated or corrupted file is an :class:`InputError` naming
the file and the broken field, never an IndexError.  Tests cross-check its
output against pyelftools.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from ..errors import InputError

ELFMAG = b"\x7fELF"
ELFCLASS32 = 1
ELFDATA2LSB, ELFDATA2MSB = 1, 2

ET_REL, ET_EXEC, ET_DYN = 1, 2, 3

SHT_NULL, SHT_PROGBITS, SHT_SYMTAB, SHT_STRTAB, SHT_RELA = 0, 1, 2, 3, 4
SHT_NOTE, SHT_NOBITS, SHT_REL = 7, 8, 9
SHT_INIT_ARRAY, SHT_FINI_ARRAY, SHT_PREINIT_ARRAY, SHT_GROUP = 14, 15, 16, 17

SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR = 0x1, 0x2, 0x4
SHF_MERGE, SHF_STRINGS, SHF_INFO_LINK = 0x10, 0x20, 0x40
SHF_GROUP, SHF_TLS = 0x200, 0x400

SHN_UNDEF, SHN_LORESERVE, SHN_ABS, SHN_COMMON, SHN_XINDEX = 0, 0xFF00, 0xFFF1, 0xFFF2, 0xFFFF
SHN_MIPS_ACOMMON, SHN_MIPS_SCOMMON, SHN_MIPS_SUNDEFINED = 0xFF00, 0xFF03, 0xFF04

STB_LOCAL, STB_GLOBAL, STB_WEAK = 0, 1, 2
STT_NOTYPE, STT_OBJECT, STT_FUNC, STT_SECTION, STT_FILE, STT_COMMON, STT_TLS = 0, 1, 2, 3, 4, 5, 6
STV_DEFAULT, STV_INTERNAL, STV_HIDDEN, STV_PROTECTED = 0, 1, 2, 3

PT_NULL, PT_LOAD, PT_NOTE = 0, 1, 4
PF_X, PF_W, PF_R = 1, 2, 4

GRP_COMDAT = 1

EHDR_SIZE, SHDR_SIZE, PHDR_SIZE, SYM_SIZE, REL_SIZE, RELA_SIZE = 52, 40, 32, 16, 8, 12


@dataclass(slots=True)
class Section:
    index: int
    name: str
    type: int
    flags: int
    addr: int
    offset: int
    size: int
    link: int
    info: int
    addralign: int
    entsize: int
    data: bytes = b""          # empty for SHT_NOBITS

    @property
    def alloc(self) -> bool:
        return bool(self.flags & SHF_ALLOC)


@dataclass(slots=True)
class Symbol:
    index: int
    name: str
    value: int
    size: int
    bind: int
    type: int
    visibility: int
    shndx: int

    @property
    def defined(self) -> bool:
        return self.shndx != SHN_UNDEF and self.shndx not in (SHN_COMMON, SHN_MIPS_SCOMMON,
                                                                SHN_MIPS_ACOMMON)

    @property
    def common(self) -> bool:
        return self.shndx in (SHN_COMMON, SHN_MIPS_SCOMMON, SHN_MIPS_ACOMMON)


@dataclass(slots=True)
class Reloc:
    offset: int
    type: int
    sym: int
    addend: int | None          # None for SHT_REL (addend is in place)


@dataclass
class Segment:
    type: int
    offset: int
    vaddr: int
    paddr: int
    filesz: int
    memsz: int
    flags: int
    align: int


@dataclass
class ElfFile:
    """A parsed ELF32 file.  ``name`` is what messages call it."""

    name: str
    data: bytes
    endian: str                 # 'little' | 'big'
    e_type: int
    e_machine: int
    e_flags: int
    e_entry: int
    sections: list[Section] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)
    symbols: list[Symbol] = field(default_factory=list)
    symtab_index: int = 0
    _relocs: dict = field(default_factory=dict, repr=False)

    def section_by_name(self, name: str) -> Section | None:
        for sec in self.sections:
            if sec.name == name:
                return sec
        return None

    def relocations(self, sec: Section) -> list[Reloc]:
        """Decode a SHT_REL or SHT_RELA section (once; later calls reuse the list)."""
        cached = self._relocs.get(sec.index)
        if cached is None:
            cached = self._relocs[sec.index] = _read_relocs(self, sec)
        return cached


def _fail(name: str, what: str) -> InputError:
    return InputError(f"{name}: not a valid ELF file: {what}")


def _cstr(table: str, offset: int, name: str, what: str) -> str:
    """The NUL-terminated name at ``offset`` of a string table decoded as latin-1.

    latin-1 maps bytes 1:1 to characters, so byte offsets index the str
    directly; the rare non-ASCII name is re-decoded as UTF-8.
    """
    end = table.find("\0", offset)
    if end < 0:
        if offset >= len(table) and offset != 0:
            raise _fail(name, f"{what} name offset 0x{offset:x} is outside the string table")
        raise _fail(name, f"{what} name at 0x{offset:x} is not NUL-terminated")
    text = table[offset:end]
    return text if text.isascii() else text.encode("latin-1").decode("utf-8", "replace")


def parse(data: bytes, name: str, *, want_symbols: bool = True) -> ElfFile:
    """Parse an ELF32 file held in ``data``.

    Raises
    ------
    InputError
        On any structural problem; the message names ``name`` and the field.
    """
    if len(data) < EHDR_SIZE or data[:4] != ELFMAG:
        raise _fail(name, "missing ELF magic (is this an object file?)")
    if data[4] != ELFCLASS32:
        raise InputError(f"{name}: is a 64-bit ELF file; GameVM targets use 32-bit ELF "
                         "(compile with the target's -mabi=32 toolchain)")
    if data[5] not in (ELFDATA2LSB, ELFDATA2MSB):
        raise _fail(name, f"unknown data encoding {data[5]}")
    endian = "little" if data[5] == ELFDATA2LSB else "big"
    e = "<" if endian == "little" else ">"
    (e_type, e_machine, _ver, e_entry, e_phoff, e_shoff, e_flags, _ehsize, e_phentsize,
     e_phnum, e_shentsize, e_shnum, e_shstrndx) = struct.unpack_from(e + "HHIIIIIHHHHHH", data, 16)
    elf = ElfFile(name=name, data=data, endian=endian, e_type=e_type, e_machine=e_machine,
                  e_flags=e_flags, e_entry=e_entry)
    size = len(data)
    if e_shnum:
        if e_shentsize != SHDR_SIZE:
            raise _fail(name, f"section header size {e_shentsize} (expected {SHDR_SIZE})")
        if e_shoff + e_shnum * SHDR_SIZE > size:
            raise _fail(name, f"section headers at 0x{e_shoff:x} ({e_shnum} entries) run past "
                              f"the end of the file ({size} bytes)")
        raw = list(struct.iter_unpack(e + "10I", data[e_shoff:e_shoff + e_shnum * SHDR_SIZE]))
        if e_shstrndx >= e_shnum:
            raise _fail(name, f"e_shstrndx {e_shstrndx} >= e_shnum {e_shnum}")
        s = raw[e_shstrndx]
        if s[4] + s[5] > size:
            raise _fail(name, "section name string table runs past the end of the file")
        shstr = data[s[4]:s[4] + s[5]].decode("latin-1")
        for i, (sh_name, sh_type, flags, addr, off, sz, link, info, align, entsize) in enumerate(raw):
            secname = _cstr(shstr, sh_name, name, f"section [{i}]")
            body = b""
            if sh_type not in (SHT_NOBITS, SHT_NULL):
                if off + sz > size:
                    raise _fail(name, f"section {secname} [{i}] at 0x{off:x}+0x{sz:x} runs past "
                                      f"the end of the file ({size} bytes)")
                body = data[off:off + sz]
            elf.sections.append(Section(i, secname, sh_type, flags, addr, off, sz, link, info,
                                        align, entsize, body))
    if e_phnum:
        if e_phentsize != PHDR_SIZE or e_phoff + e_phnum * PHDR_SIZE > size:
            raise _fail(name, f"program headers at 0x{e_phoff:x} ({e_phnum} entries) are invalid")
        for fields in struct.iter_unpack(e + "8I", data[e_phoff:e_phoff + e_phnum * PHDR_SIZE]):
            elf.segments.append(Segment(*fields))
    if want_symbols:
        _read_symbols(elf)
    return elf


def _read_symbols(elf: ElfFile) -> None:
    e = "<" if elf.endian == "little" else ">"
    for sec in elf.sections:
        if sec.type != SHT_SYMTAB:
            continue
        if sec.link >= len(elf.sections):
            raise _fail(elf.name, f"{sec.name}: string table index {sec.link} out of range")
        strtab = elf.sections[sec.link].data.decode("latin-1")
        if sec.size % SYM_SIZE:
            raise _fail(elf.name, f"{sec.name}: size 0x{sec.size:x} is not a multiple of {SYM_SIZE}")
        nsec = len(elf.sections)
        syms = []
        keep, find = syms.append, strtab.find
        for i, (st_name, value, sz, info, other, shndx) in enumerate(
                struct.iter_unpack(e + "IIIBBH", sec.data)):
            if shndx >= nsec and shndx < SHN_LORESERVE:
                raise _fail(elf.name, f"{sec.name}: symbol [{i}] has section index {shndx} "
                                      f"but the file has {nsec} sections")
            end = find("\0", st_name)            # _cstr inline for the common case
            name = strtab[st_name:end]
            if end < 0 or not name.isascii():
                name = _cstr(strtab, st_name, elf.name, f"symbol [{i}]")
            keep(Symbol(i, name, value, sz, info >> 4, info & 0xF, other & 0x3, shndx))
        elf.symbols = syms
        elf.symtab_index = sec.index
        return


def _read_relocs(elf: ElfFile, sec: Section) -> list[Reloc]:
    e = "<" if elf.endian == "little" else ">"
    rela = sec.type == SHT_RELA
    entsize = RELA_SIZE if rela else REL_SIZE
    if sec.size % entsize:
        raise _fail(elf.name, f"{sec.name}: size 0x{sec.size:x} is not a multiple of {entsize}")
    nsyms = len(elf.symbols)
    if rela:
        out = [Reloc(off, info & 0xFF, info >> 8, addend)
               for off, info, addend in struct.iter_unpack(e + "IIi", sec.data)]
    else:
        out = [Reloc(off, info & 0xFF, info >> 8, None)
               for off, info in struct.iter_unpack(e + "II", sec.data)]
    if out and max([r.sym for r in out]) >= nsyms:
        i, r = next((i, r) for i, r in enumerate(out) if r.sym >= nsyms)
        raise _fail(elf.name, f"{sec.name}: relocation [{i}] at offset 0x{r.offset:x} names "
                              f"symbol index {r.sym} but the symbol table has {nsyms} entries")
    return out


# --- archives -------------------------------------------------------------------------------

@dataclass
class ArchiveMember:
    name: str
    data: bytes


def is_archive(data: bytes) -> bool:
    return data.startswith(b"!<arch>\n") or data.startswith(b"!<thin>\n")


def read_archive(data: bytes, name: str) -> list[ArchiveMember]:
    """Members of a System V / GNU ``ar`` archive (the symbol index and name table skipped)."""
    if data.startswith(b"!<thin>\n"):
        raise InputError(f"{name}: thin archives are not supported; create it with 'ar rcs' "
                         "(without T)")
    pos, members, longnames = 8, [], b""
    while pos + 60 <= len(data):
        hdr = data[pos:pos + 60]
        if hdr[58:60] != b"`\n":
            raise InputError(f"{name}: corrupt archive member header at offset 0x{pos:x}")
        raw_name = hdr[:16].decode("ascii", "replace").rstrip()
        try:
            size = int(hdr[48:58].decode("ascii").strip())
        except ValueError:
            raise InputError(f"{name}: corrupt archive member size at offset 0x{pos:x}") from None
        body = data[pos + 60:pos + 60 + size]
        if len(body) != size:
            raise InputError(f"{name}: archive member at offset 0x{pos:x} is truncated")
        if raw_name in ("/", "/SYM64/", "__.SYMDEF", "__.SYMDEF SORTED"):
            pass
        elif raw_name == "//":
            longnames = body
        else:
            if raw_name.startswith("/") and raw_name[1:].isdigit():
                off = int(raw_name[1:])
                end = longnames.find(b"/\n", off)
                raw_name = longnames[off:end if end >= 0 else None].decode("utf-8", "replace")
            members.append(ArchiveMember(raw_name.rstrip("/"), body))
        pos += 60 + size + (size & 1)
    return members
