"""Differential test against GNU ld.

The corpus in ``tests/corpus/oracle/`` (C, asm and an archive) is compiled once
per target and linked twice:

* by ``gamevm_build`` (``link_module`` -> ``read_module`` -> ``prelink_module``
  at ``BASE`` with the resident's symbols), and
* by the target's GNU ``ld`` into an executable at the same ``BASE``, with the
  same resident symbols given by ``--defsym`` and a ``-Map`` file (no
  ``--unresolved-symbols``: weak undefined symbols resolve to 0 in both links,
  anything else undefined is an error in both).

The resident (``resident.s``) is itself linked by GNU ld at the profile's
``resident_base``; its symbols feed both ``--defsym`` and ``prelink_module``.

GNU ld lays the sections out differently, so the comparison is
layout-independent: every relocation site of every linked input object is
found in both images (our section map / ld's map), the address it refers to is
decoded per relocation type (HI16 and LO16 are rebuilt into full addresses
through their partner) and translated back to *symbol + addend*: an input
section of an input object plus an offset, a COMMON symbol plus an offset, or
a resident symbol plus an offset.  The two translations must agree.  Targets in
SHF_MERGE sections (string literals, which ld merges) are compared by the
bytes (the NUL-terminated string) found at the address instead.

Besides the relocation sites, every other byte of every input section must be
copied unchanged (and .bss zeroed), input sections and COMMON symbols must be
aligned, the same archive members must be pulled (GNU ld's rules: weak
references pull nothing, a definition in an archive replaces a COMMON symbol),
small global data must start with the same contents, the module must satisfy
binutils (readelf, objdump) and pyelftools, and linking must be deterministic.
Our module is compared with two GNU ld layouts (A: code then data like a
module; B: data first, reversed inputs, odd padding).

A second, separate corpus (``packed.c``) holds pointers in packed structures:
R_MIPS_32 relocations at offsets that are not multiples of 4.

The oracle itself is checked: the ld map parser must account for every input
section, two GNU ld links with very different layouts must agree, and a
deliberately corrupted site must be reported.
"""

from __future__ import annotations

import io
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile
from elftools.elf.relocation import RelocationSection
from elftools.elf.sections import SymbolTableSection

from conftest import Builder, run_gamevm

CORPUS = Path(__file__).resolve().parent / "corpus" / "oracle"
#: objects passed to both linkers, in link order (the archive goes last)
OBJECT_SOURCES = ("main.c", "other.c", "asm_refs.s")
ARCHIVE_SOURCES = ("lib_a.c", "lib_b.c", "lib_c.c", "lib_d.c")
ARCHIVE_NAME = "liboracle.a"
#: archive members a correct link pulls: lib_a.o (main.o calls lib_entry), lib_b.o
#: (lib_a.o needs it), lib_d.o (defines shared_common, COMMON in the objects);
#: lib_c.o is needed by nobody (main.o's reference to its opt_hook is weak)
PULLED_MEMBERS = ("lib_a.o", "lib_b.o", "lib_d.o")
RESIDENT_SOURCE = "resident.s"
#: load address of the module in both links
BASES = {"psx": 0x80100000, "n64": 0x80200000}

R_MIPS_NONE, R_MIPS_32, R_MIPS_26, R_MIPS_HI16, R_MIPS_LO16, R_MIPS_PC16 = 0, 2, 4, 5, 6, 10
RELOC_NAMES = {R_MIPS_32: "R_MIPS_32", R_MIPS_26: "R_MIPS_26", R_MIPS_HI16: "R_MIPS_HI16",
               R_MIPS_LO16: "R_MIPS_LO16", R_MIPS_PC16: "R_MIPS_PC16"}
#: bits of the site word each relocation type rewrites (the rest must be copied verbatim)
FIELD_MASK = {R_MIPS_32: 0xFFFFFFFF, R_MIPS_26: 0x03FFFFFF, R_MIPS_HI16: 0xFFFF,
              R_MIPS_LO16: 0xFFFF, R_MIPS_PC16: 0xFFFF}
#: sections that both links drop (MIPS/ABI bookkeeping a module does not load)
DISCARDED = (".reginfo", ".MIPS.abiflags", ".MIPS.options", ".pdr", ".comment",
             ".gnu.attributes", ".mdebug.*", ".note.*", ".eh_frame")
#: sections GNU ld synthesises and attributes to the first input object
LD_SYNTHETIC = {".rel.dyn"}
MASK32 = 0xFFFFFFFF


def _sext16(v: int) -> int:
    v &= 0xFFFF
    return v - 0x10000 if v & 0x8000 else v


def _glob_re(patterns) -> re.Pattern:
    return re.compile("|".join(re.escape(p).replace(r"\*", ".*") + "$" for p in patterns))


_DISCARDED_RE = _glob_re(DISCARDED)


# ------------------------------------------------------------------------------------------
# GNU ld: linker scripts, the link itself, and the -Map parser
# ------------------------------------------------------------------------------------------

_DISCARD_CLAUSE = "  /DISCARD/ : { " + " ".join(f"*({p})" for p in DISCARDED) + " }\n"

#: the reference layout: code then data, like a module
LD_SCRIPT_A = """\
SECTIONS {
  . = @BASE@;
  .text : { *(.text .text.*) }
  .rodata : { *(.rodata .rodata.*) }
  .init_array : { KEEP(*(SORT_BY_INIT_PRIORITY(.init_array.*))) KEEP(*(.init_array)) }
  .fini_array : { KEEP(*(SORT_BY_INIT_PRIORITY(.fini_array.*))) KEEP(*(.fini_array)) }
  .ctors : { KEEP(*(.ctors .ctors.*)) }
  .data : { *(.data .data.*) }
  .bss : { *(.bss .bss.*) *(COMMON) }
""" + _DISCARD_CLAUSE + "}\n"

#: a deliberately different layout (data first, odd padding that moves every
#: 0x8000 boundary) used to check that the comparison is layout-independent
LD_SCRIPT_B = """\
SECTIONS {
  . = @BASE@ + 0x7ff0;
  .bss : { *(COMMON) *(.bss .bss.*) }
  . = . + 0x4330;
  .data : { *(.data.*) *(.data) }
  .init_array : { KEEP(*(.init_array .init_array.*)) }
  .fini_array : { KEEP(*(.fini_array .fini_array.*)) }
  .ctors : { KEEP(*(.ctors .ctors.*)) }
  . = ALIGN(0x10000) + 0x8ff8;
  .rodata : { *(.rodata.*) *(.rodata) }
  .text : { *(.text.*) *(.text) }
""" + _DISCARD_CLAUSE + "}\n"

RESIDENT_SCRIPT = """\
SECTIONS {
  . = @BASE@;
  .text : { *(.text) }
  . = ALIGN(0x10000);
  .data : { *(.data) }
  .bss : { *(.bss) }
""" + _DISCARD_CLAUSE + "}\n"


def _ld(tc, script_text: str, out: Path, inputs, extra=()) -> tuple[Path, Path]:
    """Link ``inputs`` with the target's GNU ld; return (executable, map file)."""
    script = out.with_suffix(".ld")
    script.write_text(script_text)
    map_file = out.with_suffix(".map")
    cmd = [tc.ld, "-nostdlib", "-static", "-G0", "-e", "0", "-T", str(script),
           "-Map", str(map_file), "-o", str(out), *map(str, inputs), *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, f"GNU ld failed:\n{' '.join(cmd)}\n{proc.stderr}"
    assert "warning" not in proc.stderr.lower(), proc.stderr
    return out, map_file


@dataclass
class LdMap:
    """What ``ld -Map`` says: where each input section went, what was pulled or dropped."""

    #: (input file, input section) -> (address, size); input file as ld prints it
    sections: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    #: (input file, input section) of discarded input sections
    discarded: set[tuple[str, str]] = field(default_factory=set)
    #: archive members pulled in, ``archive(member)``
    members: set[str] = field(default_factory=set)
    #: COMMON blocks: (input file, address, size)
    commons: list[tuple[str, int, int]] = field(default_factory=list)


_MAP_FULL = re.compile(r"^ (?P<name>[^\s*]\S*)\s+0x(?P<addr>[0-9a-fA-F]+)\s+"
                       r"0x(?P<size>[0-9a-fA-F]+)\s+(?P<file>\S.*?)\s*$")
_MAP_NAME_ONLY = re.compile(r"^ (?P<name>[^\s*]\S*)\s*$")
_MAP_CONT = re.compile(r"^\s{8,}0x(?P<addr>[0-9a-fA-F]+)\s+0x(?P<size>[0-9a-fA-F]+)\s+"
                       r"(?P<file>\S.*?)\s*$")
_MAP_MEMBER = re.compile(r"^(?P<member>\S+\.a\([^)]+\))\s*$")


def parse_ld_map(text: str) -> LdMap:
    """Parse a GNU ld ``-Map`` file.

    Input section lines are `` NAME  0xADDR  0xSIZE  FILE``; a NAME of 15 or
    more characters is printed alone and the rest follows on the next line.
    Lines that are not input sections (output sections at column 0, ``*fill*``,
    ``*(pattern)``, symbol assignments, ``0x.. (size before relaxing)``) are
    skipped.  The ``Discarded input sections`` block uses the same format.
    """
    result = LdMap()
    part = "head"
    pending: str | None = None
    for line in text.splitlines():
        if line.startswith("Archive member included"):
            part = "members"
            continue
        if line.startswith("Discarded input sections"):
            part, pending = "discarded", None
            continue
        if line.startswith("Memory Configuration") or line.startswith("Allocating common"):
            part, pending = "head", None
            continue
        if line.startswith("Linker script and memory map"):
            part, pending = "map", None
            continue
        if part == "members":
            m = _MAP_MEMBER.match(line)
            if m:
                result.members.add(m.group("member"))
            continue
        if part not in ("map", "discarded"):
            continue
        m = _MAP_FULL.match(line)
        name = addr = size = obj = None
        if m:
            name, addr, size, obj = m["name"], int(m["addr"], 16), int(m["size"], 16), m["file"]
            pending = None
        elif pending is not None and (m := _MAP_CONT.match(line)):
            name, addr, size, obj = pending, int(m["addr"], 16), int(m["size"], 16), m["file"]
            pending = None
        else:
            m = _MAP_NAME_ONLY.match(line)
            pending = m["name"] if m else None
            continue
        if part == "discarded":
            result.discarded.add((obj, name))
        elif name == "COMMON":
            result.commons.append((obj, addr, size))
        else:
            key = (obj, name)
            assert key not in result.sections, f"ld map lists {key} twice"
            result.sections[key] = (addr, size)
    return result


# ------------------------------------------------------------------------------------------
# Input objects: sections, symbols, relocation sites
# ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SymInfo:
    name: str
    bind: str
    type: str
    shndx: object
    #: None, ("str",) for SHF_MERGE|SHF_STRINGS or ("cst", entsize) for SHF_MERGE targets
    merge: tuple | None


@dataclass(frozen=True)
class Site:
    obj: str
    section: str
    offset: int
    rtype: int
    sym: SymInfo
    #: HI16: offset of its LO16 partner; LO16: offset of the HI16 providing its high half
    partner: int | None = None

    def where(self) -> str:
        return (f"{self.obj}:{self.section}+0x{self.offset:x} "
                f"{RELOC_NAMES.get(self.rtype, self.rtype)} -> {self.sym.name or '?'}")


@dataclass
class InputObject:
    name: str                      # as both linkers print it (path or archive(member))
    data: bytes
    #: input section name -> (bytes or None for NOBITS, size, flags, entsize, addralign)
    sections: dict[str, tuple[bytes | None, int, int, int, int]]
    sites: list[Site]
    #: names of global symbols defined in a section: name -> (section, value)
    globals: dict[str, tuple[str, int]]
    #: COMMON symbols: name -> alignment
    commons: dict[str, int]


def _rs(word: int) -> int:
    return (word >> 21) & 31


def _rt(word: int) -> int:
    return (word >> 16) & 31


def read_input_object(name: str, data: bytes, byteorder: str) -> InputObject:
    elf = ELFFile(io.BytesIO(data))
    secs = list(elf.iter_sections())
    symtab = next(s for s in secs if isinstance(s, SymbolTableSection))
    syms = list(symtab.iter_symbols())
    sections = {}
    for s in secs:
        if s["sh_flags"] & SH_FLAGS.SHF_ALLOC:
            raw = None if s["sh_type"] == "SHT_NOBITS" else s.data()
            assert s.name not in sections, f"{name}: two sections named {s.name}"
            sections[s.name] = (raw, s["sh_size"], s["sh_flags"], s["sh_entsize"],
                                s["sh_addralign"])

    def syminfo(idx: int) -> SymInfo:
        sym = syms[idx]
        shndx = sym["st_shndx"]
        name_ = sym.name
        merge = None
        if isinstance(shndx, int):
            tsec = secs[shndx]
            if not name_:
                name_ = tsec.name
            flags = tsec["sh_flags"]
            if flags & SH_FLAGS.SHF_MERGE:
                merge = ("str",) if flags & SH_FLAGS.SHF_STRINGS else ("cst", tsec["sh_entsize"])
        return SymInfo(name_, sym["st_info"]["bind"], sym["st_info"]["type"], shndx, merge)

    glob, commons = {}, {}
    for sym in syms:
        shndx = sym["st_shndx"]
        if shndx == "SHN_COMMON":
            commons[sym.name] = sym["st_value"]
        if (sym["st_info"]["bind"] != "STB_LOCAL" and isinstance(shndx, int)
                and sym["st_info"]["type"] in ("STT_FUNC", "STT_OBJECT", "STT_NOTYPE")):
            glob[sym.name] = (secs[shndx].name, sym["st_value"])

    sites: list[Site] = []
    for rsec in secs:
        if not isinstance(rsec, RelocationSection):
            continue
        target = secs[rsec["sh_info"]]
        if not target["sh_flags"] & SH_FLAGS.SHF_ALLOC or _DISCARDED_RE.match(target.name):
            continue
        code = target.data() if target["sh_type"] != "SHT_NOBITS" else b""
        is_code = bool(target["sh_flags"] & SH_FLAGS.SHF_EXECINSTR)

        def word_at(off: int) -> int:
            return int.from_bytes(code[off:off + 4], byteorder)

        relocs = [(r["r_offset"], r["r_info_type"], r["r_info_sym"])
                  for r in rsec.iter_relocations()]
        for i, (off, rtype, symidx) in enumerate(relocs):
            if rtype == R_MIPS_NONE:
                continue
            partner = None
            if rtype == R_MIPS_HI16:
                # ld's rule: the next LO16 against the same symbol completes the addend
                partner = next((o for (o, t, s) in relocs[i + 1:]
                                if t == R_MIPS_LO16 and s == symidx), None)
            elif rtype == R_MIPS_LO16:
                partner = _lo16_partner(relocs, i, word_at if is_code else None)
            sites.append(Site(name, target.name, off, rtype, syminfo(symidx), partner))
    return InputObject(name, data, sections, sites, glob, commons)


def _lo16_partner(relocs, i: int, word_at) -> int | None:
    """Offset of the HI16 whose ``lui`` feeds the LO16 ``relocs[i]``.

    A HI16 right before it (same symbol) is gas's matched pair.  A LO16 that
    shares an earlier ``lui`` is matched by register: the nearest HI16 against
    the same symbol whose ``lui`` target is the LO16 instruction's base/source
    register (preceding in address order first, then following).  Last resort:
    the most recent HI16 against the same symbol in the list.
    """
    off, _, symidx = relocs[i]
    if i and relocs[i - 1][1] == R_MIPS_HI16 and relocs[i - 1][2] == symidx:
        return relocs[i - 1][0]
    his = [o for (o, t, s) in relocs if t == R_MIPS_HI16 and s == symidx]
    if word_at is not None:
        reg = _rs(word_at(off))
        same_reg = [o for o in his if _rt(word_at(o)) == reg]
        before = [o for o in same_reg if o < off]
        after = [o for o in same_reg if o > off]
        if before:
            return max(before)
        if after:
            return min(after)
    earlier = [o for (o, t, s) in relocs[:i] if t == R_MIPS_HI16 and s == symidx]
    return earlier[-1] if earlier else None


def _archive_members(path: Path) -> list[tuple[str, bytes]]:
    """Members of a System V/GNU ``ar`` archive (long names via ``//``)."""
    data = path.read_bytes()
    assert data.startswith(b"!<arch>\n"), path
    pos, longnames, out = 8, b"", []
    while pos + 60 <= len(data):
        header = data[pos:pos + 60]
        name = header[:16].decode().rstrip()
        size = int(header[48:58].decode().strip())
        body = data[pos + 60:pos + 60 + size]
        pos += 60 + size + (size & 1)
        if name in ("/", "/SYM64/"):
            continue
        if name == "//":
            longnames = body
            continue
        if name.startswith("/") and name[1:].isdigit():
            start = int(name[1:])
            name = longnames[start:longnames.index(b"/\n", start)].decode()
        out.append((name.rstrip("/"), body))
    return out


# ------------------------------------------------------------------------------------------
# Linked images and the layout-independent translation of addresses
# ------------------------------------------------------------------------------------------

class Memory:
    """Sparse little/big-endian memory made of (address, bytes) chunks."""

    def __init__(self, chunks, byteorder: str):
        self.chunks = sorted((a, bytes(b)) for a, b in chunks if len(b))
        self.byteorder = byteorder

    def read(self, addr: int, size: int) -> bytes | None:
        for start, blob in self.chunks:
            if start <= addr and addr + size <= start + len(blob):
                return blob[addr - start:addr - start + size]
        return None

    def word(self, addr: int) -> int:
        raw = self.read(addr, 4)
        assert raw is not None, f"no memory at 0x{addr:08x}"
        return int.from_bytes(raw, self.byteorder)

    def write_word(self, addr: int, value: int) -> None:
        for n, (start, blob) in enumerate(self.chunks):
            if start <= addr and addr + 4 <= start + len(blob):
                i = addr - start
                blob = blob[:i] + (value & MASK32).to_bytes(4, self.byteorder) + blob[i + 4:]
                self.chunks[n] = (start, blob)
                return
        raise AssertionError(f"no memory at 0x{addr:08x}")

    def cstring(self, addr: int, limit: int = 4096) -> bytes | None:
        for start, blob in self.chunks:
            if start <= addr < start + len(blob):
                i = addr - start
                end = blob.find(b"\0", i, i + limit)
                return blob[i:end] if end >= 0 else None
        return None


@dataclass
class Layout:
    """One linked image of the corpus, as seen by the comparison."""

    label: str
    memory: Memory
    #: (object, input section) -> (address, size)
    sections: dict[tuple[str, str], tuple[int, int]]
    #: global symbols defined by the image: (name, address, size)
    symbols: list[tuple[str, int, int]]
    #: resident symbols the image was bound against
    resident: dict[str, int]
    #: [lo, hi) of the image
    extent: tuple[int, int]

    def translate(self, addr: int, common: frozenset = frozenset()) -> frozenset:
        """Every layout-independent name of ``addr``.

        Input section + offset; for the ``common`` symbols (COMMON in some input:
        no input section holds them) symbol + offset; outside the image the
        nearest resident symbol + offset; else the absolute address.  Other
        global symbols are deliberately not used as names: a reference bound to
        the wrong one of two definitions (weak/strong) must not match by name.
        """
        addr &= MASK32
        names = set()
        lo, hi = self.extent
        if lo <= addr <= hi:
            for (obj, sec), (start, size) in self.sections.items():
                if start <= addr <= start + size:
                    names.add(("section", obj, sec, addr - start))
            for name, start, size in self.symbols:
                if name in common and start <= addr <= start + size:
                    names.add(("symbol", name, addr - start))
        else:
            below = [(addr - v, n) for n, v in self.resident.items() if 0 <= addr - v < 0x100000]
            if below:
                off, name = min(below)
                names.add(("resident", name, off))
        if not names:
            names.add(("absolute", addr))
        return frozenset(names)

    def site_address(self, site: Site, offset: int | None = None) -> int:
        start, _ = self.sections[(site.obj, site.section)]
        return start + (site.offset if offset is None else offset)

    def target(self, site: Site) -> int:
        """The absolute address the relocated site refers to."""
        p = self.site_address(site)
        word = self.memory.word(p)
        if site.rtype == R_MIPS_32:
            return word
        if site.rtype == R_MIPS_26:
            return ((p + 4) & 0xF0000000) | ((word & 0x03FFFFFF) << 2)
        if site.rtype == R_MIPS_PC16:
            return (p + 4 + (_sext16(word) << 2)) & MASK32
        if site.rtype in (R_MIPS_HI16, R_MIPS_LO16):
            assert site.partner is not None, f"{site.where()}: no HI16/LO16 partner"
            other = self.memory.word(self.site_address(site, site.partner))
            hi, lo = (word, other) if site.rtype == R_MIPS_HI16 else (other, word)
            return (((hi & 0xFFFF) << 16) + _sext16(lo)) & MASK32
        raise AssertionError(f"{site.where()}: relocation type {site.rtype} is not in the "
                             "oracle's table")

    def describe(self, site: Site, common: frozenset = frozenset()):
        """What the site refers to, independent of where things were placed."""
        addr = self.target(site)
        if site.sym.merge is not None:
            if site.sym.merge[0] == "str":
                return ("string", self.memory.cstring(addr))
            return ("constant", self.memory.read(addr, site.sym.merge[1]))
        return self.translate(addr, common)


def _equal(a, b) -> bool:
    if isinstance(a, frozenset) and isinstance(b, frozenset):
        return bool(a & b)
    return a == b


def compare_layouts(objects: list[InputObject], a: Layout, b: Layout) -> list[str]:
    """Mismatches between two links of ``objects`` (empty list: they agree)."""
    problems = []
    common = frozenset(name for obj in objects for name in obj.commons)
    for obj in objects:
        for site in obj.sites:
            missing = [lay.label for lay in (a, b) if (site.obj, site.section) not in lay.sections]
            if missing:
                problems.append(f"{site.where()}: section not placed by {', '.join(missing)}")
                continue
            da, db = a.describe(site, common), b.describe(site, common)
            if not _equal(da, db):
                problems.append(f"{site.where()}: {a.label} -> {_fmt(da)} "
                                f"(0x{a.target(site):08x}), {b.label} -> {_fmt(db)} "
                                f"(0x{b.target(site):08x})")
    return problems


def _fmt(desc) -> str:
    if isinstance(desc, frozenset):
        parts = []
        for d in sorted(desc, key=str):
            if d[0] == "section":
                parts.append(f"{Path(d[1]).name}:{d[2]}+0x{d[3]:x}")
            elif d[0] == "absolute":
                parts.append(f"0x{d[1]:08x}")
            else:
                parts.append(f"{d[1]}+0x{d[2]:x}")
        return "{" + ", ".join(parts) + "}"
    return repr(desc)


def check_copied_bytes(objects: list[InputObject], lay: Layout, byteorder: str) -> list[str]:
    """Every input section's bytes outside relocated fields are copied verbatim; .bss is zero."""
    problems = []
    for obj in objects:
        masks: dict[str, dict[int, int]] = {}
        for site in obj.sites:
            masks.setdefault(site.section, {})[site.offset] = FIELD_MASK.get(site.rtype, MASK32)
        for sec, (raw, size, flags, _ent, _align) in obj.sections.items():
            if _DISCARDED_RE.match(sec) or size == 0 or flags & SH_FLAGS.SHF_MERGE:
                continue
            key = (obj.name, sec)
            if key not in lay.sections:
                problems.append(f"{obj.name}:{sec}: not placed by {lay.label}")
                continue
            start, placed_size = lay.sections[key]
            got = lay.memory.read(start, size)
            if placed_size != size or got is None:
                problems.append(f"{obj.name}:{sec}: {lay.label} placed 0x{placed_size:x} bytes "
                                f"of 0x{size:x}")
                continue
            want = bytearray(raw if raw is not None else bytes(size))
            have = bytearray(got)
            for off, mask in masks.get(sec, {}).items():
                w = int.from_bytes(want[off:off + 4], byteorder) & ~mask & MASK32
                h = int.from_bytes(have[off:off + 4], byteorder) & ~mask & MASK32
                want[off:off + 4] = w.to_bytes(4, byteorder)
                have[off:off + 4] = h.to_bytes(4, byteorder)
            if want != have:
                first = next(i for i in range(size) if want[i] != have[i])
                problems.append(f"{obj.name}:{sec}+0x{first:x}: {lay.label} changed bytes "
                                "outside relocated fields")
    return problems


def ld_layout(label: str, elf_path: Path, ld_map: LdMap, resident: dict[str, int],
              byteorder: str) -> Layout:
    chunks, symbols = [], []
    lo, hi = MASK32, 0
    with open(elf_path, "rb") as f:
        elf = ELFFile(f)
        for s in elf.iter_sections():
            if not s["sh_flags"] & SH_FLAGS.SHF_ALLOC or s.name in LD_SYNTHETIC:
                continue
            raw = bytes(s["sh_size"]) if s["sh_type"] == "SHT_NOBITS" else s.data()
            chunks.append((s["sh_addr"], raw))
            if s["sh_size"]:
                lo, hi = min(lo, s["sh_addr"]), max(hi, s["sh_addr"] + s["sh_size"])
        for sym in elf.get_section_by_name(".symtab").iter_symbols():
            if (sym["st_info"]["bind"] != "STB_LOCAL" and isinstance(sym["st_shndx"], int)
                    and sym.name not in resident):
                symbols.append((sym.name, sym["st_value"], sym["st_size"]))
    sections = {k: v for k, v in ld_map.sections.items() if k[1] not in LD_SYNTHETIC}
    return Layout(label, Memory(chunks, byteorder), sections, symbols,
                  resident, (lo, hi))


# ------------------------------------------------------------------------------------------
# The corpus, built once per target
# ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Spec:
    """One link of the corpus: objects (in order), then an archive of members."""

    name: str
    objects: tuple[str, ...]
    archive: tuple[str, ...] = ()
    #: archive members a correct link pulls
    pulled: tuple[str, ...] = ()


SPECS = {
    "main": Spec("main", OBJECT_SOURCES, ARCHIVE_SOURCES, PULLED_MEMBERS),
    # packed structures: R_MIPS_32 at offsets that are not multiples of 4
    "packed": Spec("packed", ("packed.c",)),
}


@dataclass
class Corpus:
    spec: Spec
    target: str
    tc: object
    dir: Path
    base: int
    inputs: list[Path]                  # objects then the archive, in link order
    resident_elf: Path
    resident: dict[str, int]            # resident symbol -> address
    byteorder: str
    _ld: dict = field(default_factory=dict)
    _ours: object = None

    @property
    def archive(self) -> Path | None:
        return self.dir / ARCHIVE_NAME if self.spec.archive else None

    def objects(self, names) -> list[InputObject]:
        """The input objects called ``names`` (paths or ``archive(member)``)."""
        by_name = {}
        for path in self.inputs:
            if path.suffix == ".a":
                for member, data in _archive_members(path):
                    by_name[f"{path}({member})"] = data
            else:
                by_name[str(path)] = path.read_bytes()
        return [read_input_object(n, by_name[n], self.byteorder) for n in sorted(names)]

    def expected_objects(self) -> list[str]:
        return ([str(p) for p in self.inputs if p.suffix != ".a"]
                + [f"{self.archive}({m})" for m in self.spec.pulled])

    def gnu_ld(self, variant: str = "A"):
        """(Layout, LdMap, executable) of the corpus linked by GNU ld."""
        if variant not in self._ld:
            script = {"A": LD_SCRIPT_A, "B": LD_SCRIPT_B}[variant]
            objs = [p for p in self.inputs if p.suffix != ".a"]
            archives = [p for p in self.inputs if p.suffix == ".a"]
            if variant == "B":   # another input order as well (archives stay last)
                objs = objs[::-1]
            defsyms = [f"--defsym={n}=0x{v:08x}" for n, v in sorted(self.resident.items())]
            out = self.dir / f"ld-{variant}.elf"
            elf, map_file = _ld(self.tc, script.replace("@BASE@", f"0x{self.base:08x}"), out,
                                objs + archives, defsyms)
            ld_map = parse_ld_map(map_file.read_text())
            lay = ld_layout(f"GNU ld ({variant})", elf, ld_map, self.resident, self.byteorder)
            self._ld[variant] = (lay, ld_map, elf)
        return self._ld[variant]

    def ours(self):
        """(Layout, LinkResult, module) of the corpus linked by gamevm_build."""
        if self._ours is None:
            from gamevm_build.link.linker import link_module
            from gamevm_build.link.module import read_module
            from gamevm_build.link.prelink import prelink_module

            out = self.dir / "ours" / "oracle.elf"
            out.parent.mkdir(exist_ok=True)
            from gamevm_build.errors import GameVMError

            res = link_module(self.target, [str(p) for p in self.inputs], out, name="oracle",
                              resident=str(self.resident_elf))
            try:
                mod = read_module(out)
            except GameVMError as exc:
                raise AssertionError(f"link_module wrote a module that read_module rejects: "
                                     f"{exc}") from None
            image = prelink_module(mod, self.base, dict(self.resident))
            sections = {(e.obj, e.section): (self.base + e.offset, e.size)
                        for e in res.section_map if e.section != "COMMON"}
            symbols = [(x.name, self.base + x.value, x.size) for x in mod.exports.values()]
            lay = Layout("gamevm", Memory([(self.base, image)], self.byteorder), sections,
                         symbols, dict(self.resident), (self.base, self.base + len(image)))
            self._ours = (lay, res, mod)
        return self._ours


_CORPORA: dict[tuple[str, str], Corpus] = {}


def _flags_of(src: Path) -> list[str]:
    m = re.search(r"oracle-flags:(.*)", src.read_text())
    return m.group(1).split() if m else []


def _build_corpus(spec: Spec, target, profile, toolchain, tmp_path_factory) -> Corpus:
    key = (spec.name, target)
    if key in _CORPORA and _CORPORA[key].dir.exists():    # a later session in this process
        return _CORPORA[key]                               # may find an earlier one's removed
    work = tmp_path_factory.mktemp(f"oracle-{spec.name}-{target}")
    b = Builder(work, toolchain)
    inputs = [b.obj(s, (CORPUS / s).read_text(), *_flags_of(CORPUS / s)) for s in spec.objects]
    if spec.archive:
        members = [b.obj(s, (CORPUS / s).read_text(), *_flags_of(CORPUS / s))
                   for s in spec.archive]
        inputs.append(b.archive(ARCHIVE_NAME, members))
        for m in members:          # only the archive is linked
            m.unlink()
    res_obj = b.obj(RESIDENT_SOURCE, (CORPUS / RESIDENT_SOURCE).read_text())
    script = RESIDENT_SCRIPT.replace("@BASE@", f"0x{profile.resident_base:08x}")
    res_elf, _ = _ld(toolchain, script, work / "resident.elf", [res_obj])
    with open(res_elf, "rb") as f:
        resident = {s.name: s["st_value"]
                    for s in ELFFile(f).get_section_by_name(".symtab").iter_symbols()
                    if s["st_info"]["bind"] == "STB_GLOBAL" and s.name.startswith("imp_")}
    assert len(resident) == 5, resident
    _CORPORA[key] = Corpus(spec, target, toolchain, work, BASES[target], inputs, res_elf,
                           resident, profile.byteorder)
    return _CORPORA[key]


@pytest.fixture
def corpus(target, profile, toolchain, tmp_path_factory) -> Corpus:
    """The main oracle corpus compiled (and linked lazily) for ``target``; built once per run."""
    return _build_corpus(SPECS["main"], target, profile, toolchain, tmp_path_factory)


@pytest.fixture
def packed_corpus(target, profile, toolchain, tmp_path_factory) -> Corpus:
    return _build_corpus(SPECS["packed"], target, profile, toolchain, tmp_path_factory)


# ------------------------------------------------------------------------------------------
# The oracle checks itself
# ------------------------------------------------------------------------------------------

def test_ld_map_parser_finds_every_input_section(corpus):
    _lay, ld_map, elf = corpus.gnu_ld("A")
    assert ld_map.members == {f"{corpus.archive}({m})" for m in PULLED_MEMBERS}
    objects = corpus.objects(corpus.expected_objects())
    listed = set(ld_map.sections) | ld_map.discarded
    for obj in objects:
        for sec, (_raw, size, _flags, _ent, _align) in obj.sections.items():
            assert (obj.name, sec) in listed, f"map parser missed {obj.name}:{sec}"
            if not _DISCARDED_RE.match(sec):
                assert (obj.name, sec) in ld_map.sections, f"{obj.name}:{sec} not placed"
    known = {(o.name, s) for o in objects for s in o.sections}
    for key in ld_map.sections:
        assert key in known or key[1] in LD_SYNTHETIC, f"map parser invented {key}"
    # long (wrapped) names were parsed too
    assert any(len(sec) >= 15 for _, sec in ld_map.sections)
    # every global symbol sits at map address + its value (except merged sections)
    with open(elf, "rb") as f:
        final = {s.name: s["st_value"]
                 for s in ELFFile(f).get_section_by_name(".symtab").iter_symbols()}
    checked = 0
    for obj in objects:
        for name, (sec, value) in obj.globals.items():
            if obj.sections[sec][2] & SH_FLAGS.SHF_MERGE or final.get(name) is None:
                continue
            if name == "weak_def_overridden" and obj.name.endswith("main.o"):
                continue       # the weak copy loses to other.o's definition
            assert final[name] == ld_map.sections[(obj.name, sec)][0] + value, name
            checked += 1
    assert checked >= 20
    # COMMON blocks are attributed to the object that first declared them
    assert [Path(o).name for o, _, _ in ld_map.commons] == ["main.o"]


def test_parse_ld_map_formats():
    text = """\
Archive member included to satisfy reference by file (symbol)

/t/lib.a(m.o)
                              /t/a.o (f)

Discarded input sections

 .reginfo       0x00000000       0x18 /t/a.o
 .MIPS.abiflags
                0x00000000       0x18 /t/a.o

Memory Configuration

Linker script and memory map

                0x80100000                        . = 0x80100000

.text           0x80100000       0x40
 *(.text .text.*)
 .text          0x80100000       0x20 /t/a.o
                0x80100000                f
 .text.a_rather_long_name
                0x80100020        0x8 /t/lib.a(m.o)
 *fill*         0x80100028        0x8 
 .rodata.str1.4
                0x80100030        0x7 /t/a.o
                                  0xc (size before relaxing)
.bss            0x80100040       0x10
 COMMON         0x80100040       0x10 /t/a.o
                0x80100040                c
LOAD /t/a.o
OUTPUT(x.elf elf32-tradlittlemips)
"""
    m = parse_ld_map(text)
    assert m.members == {"/t/lib.a(m.o)"}
    assert m.discarded == {("/t/a.o", ".reginfo"), ("/t/a.o", ".MIPS.abiflags")}
    assert m.sections == {("/t/a.o", ".text"): (0x80100000, 0x20),
                          ("/t/lib.a(m.o)", ".text.a_rather_long_name"): (0x80100020, 8),
                          ("/t/a.o", ".rodata.str1.4"): (0x80100030, 7)}
    assert m.commons == [("/t/a.o", 0x80100040, 0x10)]


def test_oracle_is_layout_independent(corpus):
    """Two GNU ld links with different layouts agree; a corrupted site is reported."""
    a, map_a, _ = corpus.gnu_ld("A")
    b, map_b, _ = corpus.gnu_ld("B")
    objects = corpus.objects(corpus.expected_objects())
    sites = [s for o in objects for s in o.sites]
    assert {s.rtype for s in sites} == {R_MIPS_32, R_MIPS_26, R_MIPS_HI16, R_MIPS_LO16}
    assert len(sites) > 150
    # the layouts really differ
    moved = sum(map_a.sections[k][0] != map_b.sections[k][0]
                for k in map_a.sections if k[1] not in LD_SYNTHETIC)
    assert moved > len(map_a.sections) // 2
    assert compare_layouts(objects, a, b) == []
    for lay in (a, b):
        assert check_copied_bytes(objects, lay, corpus.byteorder) == []
    # negative controls: a word pointer off by 4, a HI16 without its carry, a jal elsewhere
    for rtype, delta in ((R_MIPS_32, 4), (R_MIPS_HI16, 1), (R_MIPS_26, 1)):
        site = next(s for s in sites if s.rtype == rtype and s.sym.merge is None)
        p = b.site_address(site)
        old = b.memory.word(p)
        b.memory.write_word(p, old + delta)
        try:
            problems = compare_layouts(objects, a, b)
        finally:
            b.memory.write_word(p, old)
        assert problems and all(site.where() in p_ or "R_MIPS_LO16" in p_ for p_ in problems)


def test_corpus_exercises_hard_cases(corpus, profile):
    """The corpus really contains what the oracle is meant to cover."""
    lay, _, _ = corpus.gnu_ld("A")
    objects = corpus.objects(corpus.expected_objects())
    sites = [s for o in objects for s in o.sites]
    hi_lo = [s for s in sites if s.rtype in (R_MIPS_HI16, R_MIPS_LO16)]
    # negative LO16 (carry into HI16) at some sites
    assert any(_sext16(lay.memory.word(lay.site_address(s))) < 0
               for s in hi_lo if s.rtype == R_MIPS_LO16)
    # several LO16 sharing one HI16
    partners = [s.partner for s in hi_lo if s.rtype == R_MIPS_LO16]
    assert len(partners) > len(set(partners))
    kinds = {(s.sym.merge or ("plain",))[0] for s in sites}
    assert "str" in kinds
    if profile.float_abi != "soft":            # merged FPU constants (.rodata.cst4/8)
        assert "cst" in kinds
    binds = {s.sym.bind for s in sites if s.sym.shndx == "SHN_UNDEF"}
    assert binds == {"STB_GLOBAL", "STB_WEAK"}
    assert any(s.sym.shndx == "SHN_COMMON" for s in sites)
    secs = {s.section for s in sites}
    assert {".rodata", ".data", ".init_array", ".fini_array", ".ctors"} <= secs
    assert any(sec.startswith(".init_array.") for sec in secs)     # priority constructors
    assert any(s.sym.shndx == "SHN_ABS" for s in sites)
    assert any(sec.startswith(".text.") for sec in secs)
    assert any(s.obj.endswith(")") for s in sites)       # archive members
    assert any(s.sym.name in corpus.resident for s in sites)


# ------------------------------------------------------------------------------------------
# gamevm_build against GNU ld
# ------------------------------------------------------------------------------------------

def differences_from_gnu_ld(corpus: Corpus) -> list[str]:
    """Everything in which our module differs from GNU ld's link of the same corpus."""
    problems = []
    ours, res, mod = corpus.ours()
    placed = {e.obj for e in res.section_map}
    expected = set(corpus.expected_objects())
    for name in sorted(expected - placed):
        problems.append(f"{name}: GNU ld links this archive member, gamevm does not")
    for name in sorted(placed - expected):
        problems.append(f"{name}: gamevm links this input, GNU ld does not")
    objects = corpus.objects(sorted(expected & placed))
    for variant in ("A", "B"):
        ld, _, _ = corpus.gnu_ld(variant)
        problems += compare_layouts(objects, ours, ld)
    problems += check_copied_bytes(objects, ours, corpus.byteorder)
    # every input section and COMMON symbol at its required alignment
    for obj in objects:
        for sec, (_raw, _size, _flags, _ent, align) in obj.sections.items():
            where = ours.sections.get((obj.name, sec))
            if where and align > 1 and where[0] % align:
                problems.append(f"{obj.name}:{sec}: placed at 0x{where[0]:08x}, not aligned "
                                f"to {align}")
        for name, align in obj.commons.items():
            value = next((v for n, v, _ in ours.symbols if n == name), None)
            if value is not None and value % align:
                problems.append(f"COMMON {name} ({obj.name}): at 0x{value:08x}, not aligned "
                                f"to {align}")
    # the values GNU ld gives the module's own (initialised) global data
    ld, _, _ = corpus.gnu_ld("A")
    ld_syms = {n: (v, size) for n, v, size in ld.symbols}
    for name, value, size in ours.symbols:
        if name in ld_syms and 0 < size <= 64 and ld_syms[name][1] == size:
            mine, theirs = ours.memory.read(value, size), ld.memory.read(ld_syms[name][0], size)
            if mine != theirs and not _holds_relocated_words(objects, name):
                problems.append(f"symbol {name}: initial contents {mine.hex()} (gamevm) != "
                                f"{theirs.hex()} (GNU ld)")
    return problems


def _holds_relocated_words(objects: list[InputObject], name: str) -> bool:
    """Does the definition of ``name`` contain relocation sites (pointers differ by layout)?"""
    for obj in objects:
        if name in obj.globals:
            sec, value = obj.globals[name]
            return any(s.section == sec and value <= s.offset < value + 64 for s in obj.sites)
    return False


def test_module_matches_gnu_ld(corpus):
    problems = differences_from_gnu_ld(corpus)
    assert not problems, (f"{len(problems)} differences from GNU ld:\n  "
                          + "\n  ".join(problems))


def test_unaligned_pointers_match_gnu_ld(packed_corpus):
    """Pointers in packed structures: R_MIPS_32 at offsets that are not multiples of 4."""
    objects = packed_corpus.objects(packed_corpus.expected_objects())
    assert any(s.rtype == R_MIPS_32 and s.offset % 4 for o in objects for s in o.sites)
    problems = differences_from_gnu_ld(packed_corpus)
    assert not problems, (f"{len(problems)} differences from GNU ld:\n  "
                          + "\n  ".join(problems))


def test_module_binutils_clean(corpus):
    _, res, mod = corpus.ours()
    path = res.output
    tc = corpus.tc
    proc = subprocess.run([tc.readelf, "-a", "-W", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    bad = [line for line in (proc.stdout + proc.stderr).splitlines()
           if "Warning" in line or "Error" in line]
    assert not bad, "\n".join(bad)
    proc = subprocess.run([tc.objdump, "-d", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert not [line for line in proc.stderr.splitlines() if line.strip()], proc.stderr
    labels = set(re.findall(r"^[0-9a-f]+ <([^>]+)>:$", proc.stdout, re.M))
    funcs = {n for n, x in mod.exports.items() if "func" in str(x.kind).lower()}
    assert {"main_entry", "dispatch", "other_func", "lib_entry", "asm_func"} <= funcs
    assert funcs <= labels, f"objdump did not disassemble {sorted(funcs - labels)}"
    with open(path, "rb") as f:
        elf = ELFFile(f)
        n_rel = 0
        for sec in elf.iter_sections():
            if isinstance(sec, RelocationSection):
                assert sec.is_RELA(), sec.name
                symtab = elf.get_section(sec["sh_link"])
                for r in sec.iter_relocations():
                    symtab.get_symbol(r["r_info_sym"])
                    n_rel += 1
        assert n_rel == len(mod.relocations) > 0


def test_link_is_deterministic(corpus, tmp_path, monkeypatch):
    from gamevm_build.link.linker import link_module

    _, res, _ = corpus.ours()
    first = res.output.read_bytes()
    inputs = [str(p) for p in corpus.inputs]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    again = tmp_path / "again" / "oracle.elf"
    again.parent.mkdir()
    link_module(corpus.target, inputs, again, name="oracle", resident=str(corpus.resident_elf))
    assert again.read_bytes() == first
    cli_out = tmp_path / "cli" / "oracle.elf"
    cli_out.parent.mkdir()
    proc = run_gamevm("module", "-t", corpus.target, "-o", cli_out, "--name", "oracle",
                      "--resident", corpus.resident_elf, *inputs, cwd=elsewhere)
    assert proc.returncode == 0, proc.stderr
    assert cli_out.read_bytes() == first


# ------------------------------------------------------------------------------------------
# Small hand-written objects: each pair site decoded in both links
# ------------------------------------------------------------------------------------------

def _hilo_in_both_links(target, profile, toolchain, tmp_path, asm: str, sites,
                        imports=None) -> dict[str, list[tuple[int, int]]]:
    """Link ``asm`` (function ``f``) by gamevm_build and by GNU ld at the same base.

    ``sites`` are (HI16 offset, LO16 offset) pairs in ``f``.  Returns per linker the
    address each pair builds (``%hi << 16`` plus the sign-extended ``%lo``) and the
    address the symbol named in ``sites`` is at, as (built, symbol address) tuples.
    """
    from gamevm_build.link.linker import link_module
    from gamevm_build.link.module import read_module
    from gamevm_build.link.prelink import prelink_module

    imports = imports or {}
    base, order = BASES[target], profile.byteorder
    obj = Builder(tmp_path, toolchain).obj("pairs.s", asm)
    link_module(target, [str(obj)], tmp_path / "ours.elf", name="pairs")
    mod = read_module(tmp_path / "ours.elf")
    image = prelink_module(mod, base, dict(imports))
    ours = {n: base + x.value for n, x in mod.exports.items()}
    elf, _ = _ld(toolchain, LD_SCRIPT_A.replace("@BASE@", f"0x{base:08x}"), tmp_path / "ld.elf",
                 [obj], [f"--defsym={n}=0x{v:08x}" for n, v in sorted(imports.items())])
    with open(elf, "rb") as f:
        e = ELFFile(f)
        theirs = {s.name: s["st_value"] for s in e.get_section_by_name(".symtab").iter_symbols()
                  if s.name}
        text = e.get_section_by_name(".text")
        text_addr, text_data = text["sh_addr"], text.data()

    def word(memory, start, at):
        return int.from_bytes(memory[at - start:at - start + 4], order)

    out = {}
    for label, memory, start, syms in (("gamevm", image, base, ours),
                                       ("GNU ld", text_data, text_addr, theirs)):
        got = []
        for sym, hi_off, lo_off in sites:
            f = syms["f"]
            hi, lo = word(memory, start, f + hi_off), word(memory, start, f + lo_off)
            built = (((hi & 0xFFFF) << 16) + _sext16(lo)) & MASK32
            got.append((built, imports.get(sym, syms.get(sym))))
        out[label] = got
    return out


def test_lo16_of_an_odd_address_keeps_no_bit_of_its_rel_addend(target, profile, toolchain,
                                                               tmp_path):
    """``%hi``/``%lo`` of ``c+1`` with ``c`` a byte at an odd address (a module symbol, and
    an import the loader binds to an odd address): the LO16 word holds the REL addend 1
    (bit 0 set), and S + A is even, so the linked low half must be S + A with none of the
    old field's bits kept; both the module linked and prelinked by gamevm_build and the
    executable GNU ld links build c + 1.  Written for the survivor
    mips.xǁR_MIPS_LO16ǁapply__mutmut_3."""
    asm = (".set noreorder\n.text\n.globl f\nf:\n"
           " lui $3, %hi(c+1)\n lb $2, %lo(c+1)($3)\n"
           " lui $4, %hi(ext+1)\n lb $4, %lo(ext+1)($4)\n"
           " jr $ra\n nop\n"
           ".data\n.globl c\n .byte 1, 2, 3\nc: .byte 4, 5\n")
    ext = 0x80128011
    got = _hilo_in_both_links(target, profile, toolchain, tmp_path, asm,
                              [("c", 0, 4), ("ext", 8, 12)], {"ext": ext})
    for label, pairs in got.items():
        (c_built, c), (ext_built, ext_at) = pairs
        assert c % 2 == 1 and ext_at == ext, label
        assert (c_built, ext_built) == (c + 1, ext + 1), (label, hex(c_built), hex(c))


def test_hi16s_of_two_symbols_wait_for_their_own_lo16s(target, profile, toolchain, tmp_path):
    """``lui`` for ``a`` and ``b``, then the LO16 of ``a``, then that of ``b`` (placed by
    ``.reloc``: gas itself moves each HI16 next to its LO16): the HI16 of ``b`` stays
    pending while that of ``a`` is paired, and each pair builds its own symbol's
    address plus addend, as GNU ld links them.  Written for the survivor
    mips.xǁMipsArchǁrel_addends__mutmut_66."""
    asm = (".set noreorder\n.text\n.globl f\nf:\n"
           " lui $2, 0\n lui $3, 1\n addiu $2, $2, 0x10\n addiu $3, $3, -0x20\n"
           " jr $ra\n nop\n"
           " .reloc f, R_MIPS_HI16, a\n .reloc f+4, R_MIPS_HI16, b\n"
           " .reloc f+8, R_MIPS_LO16, a\n .reloc f+12, R_MIPS_LO16, b\n"
           ".data\n.globl a, b\na: .word 1, 2\nb: .word 3\n")
    got = _hilo_in_both_links(target, profile, toolchain, tmp_path, asm,
                              [("a", 0, 8), ("b", 4, 12)])
    for label, ((a_built, a), (b_built, b)) in got.items():
        assert (a_built, b_built) == (a + 0x10, b + 0x10000 - 0x20), label
