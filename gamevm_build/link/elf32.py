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

import array
import itertools
import operator
import struct
import sys

from ..errors import InputError
from ..record import Record

ELFMAG = b"\x7fELF"
ELFCLASS32 = 1
ELFDATA2LSB, ELFDATA2MSB = 1, 2
EV_CURRENT = 1

ET_REL, ET_EXEC, ET_DYN = 1, 2, 3

SHT_NULL, SHT_PROGBITS, SHT_SYMTAB, SHT_STRTAB, SHT_RELA = 0, 1, 2, 3, 4
SHT_NOTE, SHT_NOBITS, SHT_REL = 7, 8, 9
SHT_INIT_ARRAY, SHT_FINI_ARRAY, SHT_PREINIT_ARRAY, SHT_GROUP = 14, 15, 16, 17

SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR = 0x1, 0x2, 0x4
SHF_MERGE, SHF_STRINGS, SHF_INFO_LINK = 0x10, 0x20, 0x40
SHF_GROUP, SHF_TLS = 0x200, 0x400

SHN_UNDEF, SHN_LORESERVE, SHN_ABS, SHN_COMMON, SHN_XINDEX = 0, 0xFF00, 0xFFF1, 0xFFF2, 0xFFFF
SHN_MIPS_ACOMMON, SHN_MIPS_SCOMMON, SHN_MIPS_SUNDEFINED = 0xFF00, 0xFF03, 0xFF04
#: section indices of COMMON symbols: neither defined nor undefined
COMMON_SHNDX = frozenset({SHN_COMMON, SHN_MIPS_SCOMMON, SHN_MIPS_ACOMMON})

STB_LOCAL, STB_GLOBAL, STB_WEAK = 0, 1, 2
STT_NOTYPE, STT_OBJECT, STT_FUNC, STT_SECTION, STT_FILE, STT_COMMON, STT_TLS = 0, 1, 2, 3, 4, 5, 6
STT_GNU_IFUNC = 10
STV_DEFAULT, STV_INTERNAL, STV_HIDDEN, STV_PROTECTED = 0, 1, 2, 3

PT_NULL, PT_LOAD, PT_NOTE = 0, 1, 4
PF_X, PF_W, PF_R = 1, 2, 4

GRP_COMDAT = 1

EHDR_SIZE, SHDR_SIZE, PHDR_SIZE, SYM_SIZE, REL_SIZE, RELA_SIZE = 52, 40, 32, 16, 8, 12


class Section(Record):
    # slotted, with its own __init__: a link makes one per section of every object
    __slots__ = ("index", "name", "type", "flags", "addr", "offset", "size", "link", "info",
                 "addralign", "entsize", "data")
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
    data: bytes                # empty for SHT_NOBITS

    def __init__(self, index, name, type, flags, addr, offset, size, link, info, addralign,
                 entsize, data=b""):
        self.index = index
        self.name = name
        self.type = type
        self.flags = flags
        self.addr = addr
        self.offset = offset
        self.size = size
        self.link = link
        self.info = info
        self.addralign = addralign
        self.entsize = entsize
        self.data = data

    @property
    def alloc(self) -> bool:
        return bool(self.flags & SHF_ALLOC)


class Symbol(Record):
    # slotted, with its own __init__: a link makes one per symbol of every object
    __slots__ = ("index", "name", "value", "size", "bind", "type", "visibility", "shndx")
    index: int
    name: str
    value: int
    size: int
    bind: int
    type: int
    visibility: int
    shndx: int

    def __init__(self, index, name, value, size, bind, type, visibility, shndx):
        self.index = index
        self.name = name
        self.value = value
        self.size = size
        self.bind = bind
        self.type = type
        self.visibility = visibility
        self.shndx = shndx

    @property
    def defined(self) -> bool:
        return self.shndx != SHN_UNDEF and self.shndx not in COMMON_SHNDX

    @property
    def common(self) -> bool:
        return self.shndx in COMMON_SHNDX


class Reloc(Record):
    offset: int
    type: int
    sym: int
    addend: int | None          # None for SHT_REL (addend is in place)


class Segment(Record):
    type: int
    offset: int
    vaddr: int
    paddr: int
    filesz: int
    memsz: int
    flags: int
    align: int


class ElfFile(Record):
    """A parsed ELF32 file.  ``name`` is what messages call it."""

    name: str
    data: bytes
    endian: str                 # 'little' | 'big'
    e_type: int
    e_machine: int
    e_flags: int
    e_entry: int
    sections: list[Section]
    segments: list[Segment]
    symbols: list[Symbol]
    symtab_index: int
    _relocs: dict
    _rows: dict

    def __init__(self, name, data, endian, e_type, e_machine, e_flags, e_entry, sections=None,
                 segments=None, symbols=None, symtab_index=0):
        # Record's generic __init__ cost a 500-object link ~25 M instructions more
        self.name = name
        self.data = data
        self.endian = endian
        self.e_type = e_type
        self.e_machine = e_machine
        self.e_flags = e_flags
        self.e_entry = e_entry
        self.sections = [] if sections is None else sections
        self.segments = [] if segments is None else segments
        self.symbols = [] if symbols is None else symbols
        self.symtab_index = symtab_index
        self._relocs = {}
        self._rows = {}

    def section_by_name(self, name: str) -> Section | None:
        for sec in self.sections:
            if sec.name == name:
                return sec
        return None

    def relocations(self, sec: Section) -> list[Reloc]:
        """Decode a SHT_REL or SHT_RELA section (once; later calls reuse the list)."""
        cached = self._relocs.get(sec.index)
        if cached is None:
            cached = self._relocs[sec.index] = [Reloc(*row) for row in self.reloc_rows(sec)]
        return cached

    def reloc_rows(self, sec: Section) -> list[tuple[int, int, int, int | None]]:
        """:meth:`relocations` as plain ``(offset, type, sym, addend)`` tuples (once; later
        calls reuse the list): the linker's hot path, where building a :class:`Reloc` per
        entry and reading its fields cost more than the rest of the entry's work."""
        cached = self._rows.get(sec.index)
        if cached is None:
            cached = self._rows[sec.index] = _read_relocs(self, sec)
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


def _names_at(table: str) -> dict[int, str]:
    """Offset -> name of each NUL-terminated ASCII name in a string table (decoded as
    latin-1) that starts after a NUL: what :func:`_cstr` gives at those offsets, found by
    one split instead of a search per symbol.  Other offsets (inside a name, past the end,
    non-ASCII names) are not in it; :func:`_cstr` reads or refuses them."""
    names = table.split("\0")[:-1]           # the last piece has no NUL after it
    starts = itertools.accumulate(map((1).__add__, map(len, names)), initial=0)
    if table.isascii():
        return dict(zip(starts, names))
    return {at: text for at, text in zip(starts, names) if text.isascii()}


_SHNDX = operator.itemgetter(5)           # a symbol table row's section index


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
    if data[6] != EV_CURRENT:       # as BFD: "file format not recognized"
        raise _fail(name, f"ELF version {data[6]} in e_ident[EI_VERSION] (the only one is "
                          f"{EV_CURRENT}, EV_CURRENT)")
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
        named = _names_at(shstr).get
        sections = elf.sections
        for i, (sh_name, sh_type, flags, addr, off, sz, link, info, align, entsize) in enumerate(raw):
            secname = named(sh_name)
            if secname is None:
                secname = _cstr(shstr, sh_name, name, f"section [{i}]")
            body = b""
            if sh_type != SHT_NOBITS and sh_type != SHT_NULL:
                if off + sz > size:
                    raise _fail(name, f"section {secname} [{i}] at 0x{off:x}+0x{sz:x} runs past "
                                      f"the end of the file ({size} bytes)")
                body = data[off:off + sz]
            if (sh_type == SHT_REL or sh_type == SHT_RELA) and info >= e_shnum:
                raise _fail(name, f"relocation section {secname} [{i}] applies to section "
                                  f"{info}, but the file has {e_shnum} sections")
            sections.append(Section(i, secname, sh_type, flags, addr, off, sz, link, info,
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
        rows = list(struct.iter_unpack(e + "IIIBBH", sec.data))
        # the section indices checked once each, not once per symbol
        if any(nsec <= shndx < SHN_LORESERVE for shndx in set(map(_SHNDX, rows))):
            i, shndx = next((i, r[5]) for i, r in enumerate(rows)
                            if nsec <= r[5] < SHN_LORESERVE)
            raise _fail(elf.name, f"{sec.name}: symbol [{i}] has section index {shndx} "
                                  f"but the file has {nsec} sections")
        syms = []
        keep, named = syms.append, _names_at(strtab).get
        for i, (st_name, value, sz, info, other, shndx) in enumerate(rows):
            name = named(st_name)
            if name is None:
                name = _cstr(strtab, st_name, elf.name, f"symbol [{i}]")
            keep(Symbol(i, name, value, sz, info >> 4, info & 0xF, other & 0x3, shndx))
        elf.symbols = syms
        elf.symtab_index = sec.index
        return


def _read_relocs(elf: ElfFile, sec: Section) -> list[tuple[int, int, int, int | None]]:
    rela = sec.type == SHT_RELA
    entsize = RELA_SIZE if rela else REL_SIZE
    if sec.size % entsize:
        raise _fail(elf.name, f"{sec.name}: size 0x{sec.size:x} is not a multiple of {entsize}")
    nsyms = len(elf.symbols)
    # The fields as columns, each cut from the table by C code (array and bytes slices,
    # map, zip) rather than a Python loop per entry, which cost a link of 22,500
    # relocations ~8 ms: r_offset and r_info words, the type (r_info's low byte), the
    # symbol (r_info >> 8), the addend.
    words = array.array(_U32, sec.data)
    if elf.endian != sys.byteorder:
        words.byteswap()
    step = entsize // 4
    infos = words[1::step]
    if infos and max(infos) >> 8 >= nsyms:
        i = next(i for i, info in enumerate(infos) if info >> 8 >= nsyms)
        raise _fail(elf.name, f"{sec.name}: relocation [{i}] at offset 0x{words[i * step]:x} "
                              f"names symbol index {infos[i] >> 8} but the symbol table has "
                              f"{nsyms} entries")
    types = sec.data[4::entsize] if elf.endian == "little" else sec.data[7::entsize]
    syms = map(operator.rshift, infos, itertools.repeat(8))
    if rela:
        addends = array.array(_S32, sec.data)
        if elf.endian != sys.byteorder:
            addends.byteswap()
        addends = addends[2::3]
    else:
        addends = itertools.repeat(None)
    return list(zip(words[0::step], types, syms, addends))


#: array typecodes of 32-bit words, unsigned and signed
_U32 = next(code for code in "IL" if array.array(code).itemsize == 4)
_S32 = _U32.lower()


# --- archives -------------------------------------------------------------------------------

class ArchiveMember(Record):
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
