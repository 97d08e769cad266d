"""The GameVM "Minimal ELF" module format: in-memory image and writer.

See ``docs/format.md`` for the byte-level description.  Summary: ELF32
``ET_DYN`` linked at address 0; PT_LOAD code (R+X: .text, .rodata) and data
(R+W: .init_array .fini_array .ctors .dtors .data, .bss as memsz > filesz);
one ``.rela.<section>`` per section with relocation sites, always RELA with
full addends (S + A); internal references go through the target section's
STT_SECTION symbol, imports through undefined GLOBAL/WEAK symbols; metadata
in a ``GameVM`` note (``.note.gamevm``, PT_NOTE).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import operator
import struct
from collections import namedtuple

from . import elf32 as E
from ..fileutil import atomic_write
from ..record import Factory, Record

FORMAT_VERSION = 1
NOTE_NAME = b"GameVM\0"
#: what every GameVM loader accepts (module.check_metadata, gvm_meta.c): the linker
#: refuses to write more, so that no module it writes is refused when loaded
MAX_NEEDS = 16
MAX_ALIGN = 0x10000
NT_GAMEVM_MODULE = 1
CODE_SECTIONS = (".text", ".rodata")
DATA_SECTIONS = (".init_array", ".fini_array", ".ctors", ".dtors", ".data", ".bss")
SECTION_ORDER = CODE_SECTIONS + DATA_SECTIONS
_SECTION_TYPE = {".init_array": E.SHT_INIT_ARRAY, ".fini_array": E.SHT_FINI_ARRAY,
                 ".bss": E.SHT_NOBITS}
_SECTION_FLAGS = {".text": E.SHF_ALLOC | E.SHF_EXECINSTR, ".rodata": E.SHF_ALLOC}
#: constructor/destructor tables recorded in the metadata (all 4-byte pointers)
TABLES = (".init_array", ".fini_array", ".ctors", ".dtors")


class OutSymbol(namedtuple("OutSymbol", "name value size type bind section")):
    """One symbol of the output (a named tuple: links create thousands, and its fields are
    the hashed symbol rows, in order).  ``section`` is the output section; None: undefined
    (import) or absolute."""

    __slots__ = ()


class OutReloc(namedtuple("OutReloc", "offset type symbol addend section")):
    """One relocation of the output (a named tuple: links create tens of thousands):
    ``offset``, the module offset of the site; ``type``; ``symbol``, the import name, or the
    output section name for internal targets; ``addend``; ``section``, the output section
    holding the site."""

    __slots__ = ()


class ModuleImage(Record):
    target: str
    name: str
    needs: list[str]
    e_flags: int
    e_machine: int
    endian: str
    sections: dict[str, bytes]   # name -> contents (zeros for .bss)
    addresses: dict[str, int]
    alignments: dict[str, int]
    exports: list[OutSymbol]
    imports: list[OutSymbol]
    locals: list[OutSymbol]
    relocations: list[OutReloc]
    entry: str | None = None
    metadata: dict = Factory(dict)
    #: emission format (gamevm_build.link.emission); recorded only when not stc
    emission: str = "stc"

    @property
    def image_size(self) -> int:
        return max((self.addresses[s] + len(d) for s, d in self.sections.items()), default=0)

    @property
    def align(self) -> int:
        return max(self.alignments.values(), default=4)

    def content_hash(self) -> str:
        """sha256 of everything a loader uses (seed 001's source_hash for rebuild detection)."""
        return content_hash(
            self.target, self.name, self.needs, self.entry, self.image_size, self.align,
            self.init_tables(),
            ((n, self.addresses[n], len(self.sections[n]), self.sections[n])
             for n in SECTION_ORDER if n in self.sections),
            self.relocations,
            sorted(self.exports, key=_NAME) + sorted(self.imports, key=_NAME))

    def init_tables(self) -> dict[str, list[int]]:
        """The metadata's ``init``: ``{table: [offset, count]}`` of the tables present."""
        return {t.lstrip("."): [self.addresses[t], len(self.sections[t]) // 4]
                for t in TABLES if t in self.sections}

    def build_metadata(self) -> dict:
        from .emission import metadata_entry
        return {
            **metadata_entry(self.emission),
            "format": FORMAT_VERSION,
            "target": self.target,
            "name": self.name,
            "needs": list(self.needs),
            "entry": self.entry,
            "init": self.init_tables(),
            "image_size": self.image_size,
            "align": self.align,
            "hash": self.content_hash(),
        }


def content_hash(target: str, name: str, needs, entry, image_size: int, align: int,
                 init: dict, sections, relocations, symbols) -> str:
    """The metadata's ``hash``: sha256 of everything a loader uses.

    The writer (:meth:`ModuleImage.content_hash`) and the reader
    (:func:`gamevm_build.link.module.read_module`, which checks it) both call this, with
    the parts in file order: ``sections`` as ``(name, address, size, bytes)`` in
    :data:`SECTION_ORDER` (``.bss`` hashed by size), ``relocations`` as ``(offset,
    type, symbol, addend, ...)`` in ``.rela`` order, ``symbols`` as ``(name, value,
    size, type, bind, section)``: the exports, then the imports, each by name.
    """
    h = hashlib.sha256()
    h.update(f"{target}\0{name}\0{','.join(needs)}\0{entry}\0".encode())
    h.update(f"{image_size}\0{align}\0{sorted(init.items())}\0".encode())
    for sec, addr, size, data in sections:
        h.update(f"{sec}@{addr}:{size}\0".encode())
        if sec != ".bss":
            h.update(data)
    # one update per table: the bytes are the same as one per entry, in a fifth of the time
    h.update(_table_text("R%s,%s,%s,%s\0", relocations, _RELOC_FIELDS))
    h.update(_table_text("S%s,%s,%s,%s,%s,%s\0", symbols, _SYMBOL_FIELDS))
    return "sha256:" + h.hexdigest()


_RELOC_FIELDS = operator.itemgetter(0, 1, 2, 3)
_SYMBOL_FIELDS = operator.itemgetter(0, 1, 2, 3, 4, 5)


def _table_text(row_format: str, rows, fields) -> bytes:
    """``row_format`` filled with each row's ``fields`` (its first ones), all rows as one
    string: one ``%`` over the table instead of an f-string per row (``%s`` is ``str``, as
    ``{}`` is)."""
    rows = rows if isinstance(rows, list) else list(rows)
    width = row_format.count("%s")
    lengths = set(map(len, rows))
    if len(lengths) == 1 and (extra := lengths.pop() - width) >= 0:
        # rows of one length: flattened whole, the fields past ``width`` printed as nothing
        row_format += "%.0s" * extra
        flat = tuple(itertools.chain.from_iterable(rows))
    else:
        flat = tuple(itertools.chain.from_iterable(map(fields, rows)))
    return ((row_format * len(rows)) % flat).encode()


_SECTION = operator.itemgetter(4)        # OutReloc.section
_NAME = operator.itemgetter(0)           # OutSymbol.name


def _string_table(names) -> tuple[bytes, dict[str, int]]:
    """The bytes and name offsets a :class:`_StrTab` gets from ``add`` of each of ``names``
    in turn, built by map and join instead of a Python call per name."""
    unique = dict.fromkeys(names)
    unique.pop("", None)                 # offset 0: the table's leading NUL
    encoded = list(map(str.encode, unique))
    offsets = itertools.accumulate(map((1).__add__, map(len, encoded)), initial=1)
    index = dict(zip(unique, offsets))
    index[""] = 0
    return b"\0".join([b"", *encoded, b""]), index


class _StrTab:
    def __init__(self):
        self.data = bytearray(b"\0")
        self.index: dict[str, int] = {"": 0}

    def add(self, s: str) -> int:
        if s not in self.index:
            self.index[s] = len(self.data)
            self.data += s.encode() + b"\0"
        return self.index[s]


def _pad(buf: bytearray, align: int) -> None:
    buf.extend(b"\0" * ((-len(buf)) % align))


def encode_note(metadata: dict, byteorder: str = "<") -> bytes:
    """An ELF note (GameVM, NT_GAMEVM_MODULE) whose descriptor is canonical JSON."""
    desc = json.dumps(metadata, sort_keys=True, separators=(",", ":")).encode()
    desc += b"\0" * ((-len(desc)) % 4)
    return (struct.pack(byteorder + "III", len(NOTE_NAME), len(desc), NT_GAMEVM_MODULE) + NOTE_NAME
            + b"\0" * ((-len(NOTE_NAME)) % 4) + desc)


def _metadata(img: ModuleImage, e: str, meta: dict, present: list,
              phnum: int) -> tuple[bytearray, list, tuple]:
    """The file up to the loadable bytes: ELF and program header room, relocations,
    symbols, strings, the note and section names; and the section headers, unpacked,
    the output sections' offsets relative to the loadable bytes (their file offset is
    only known once the headers' size is)."""
    out = bytearray(E.EHDR_SIZE + phnum * E.PHDR_SIZE)
    # section header indices: NULL, output sections, .rela.*, .symtab, .strtab, .note, .shstrtab
    shidx = {s: i + 1 for i, s in enumerate(present)}
    by_section: dict[str, list[OutReloc]] = {}
    for sec, rows in itertools.groupby(img.relocations, _SECTION):   # runs of one section
        by_section.setdefault(sec, []).extend(rows)
    rela_secs = [s for s in present if s in by_section]
    n = len(present) + 1
    rela_idx = {s: n + i for i, s in enumerate(rela_secs)}
    symtab_idx = n + len(rela_secs)
    strtab_idx, shstr_idx = symtab_idx + 1, symtab_idx + 3      # the note between them

    # symbols: null, section symbols, locals, then globals (exports, imports), each sorted
    order = {s: i for i, s in enumerate(SECTION_ORDER)}
    local_syms = sorted(img.locals, key=lambda x: (order[x.section], x.value, x.name))
    export_syms = sorted(img.exports, key=_NAME)
    import_syms = sorted(img.imports, key=_NAME)
    strtab, name_at = _string_table(map(_NAME, itertools.chain(local_syms, export_syms,
                                                                import_syms)))
    syms = [(0, 0, 0, 0, 0, 0)]
    symidx: dict[str, int] = {}
    for s in present:
        symidx["\0" + s] = len(syms)
        syms.append((0, img.addresses[s], 0, (E.STB_LOCAL << 4) | E.STT_SECTION, 0, shidx[s]))
    syms += [(name_at[s.name], s.value, s.size, (E.STB_LOCAL << 4) | s.type, 0,
              shidx[s.section]) for s in local_syms]
    first_global = len(syms)
    symidx.update(zip(map(_NAME, export_syms), itertools.count(first_global)))
    syms += [(name_at[s.name], s.value, s.size, (s.bind << 4) | s.type, 0,
              shidx[s.section] if s.section else E.SHN_ABS) for s in export_syms]
    symidx.update(zip(map(_NAME, import_syms), itertools.count(len(syms))))
    syms += [(name_at[s.name], 0, 0, (s.bind << 4) | s.type, 0, E.SHN_UNDEF)
             for s in import_syms]

    shstr = _StrTab()
    headers = [(0,) * 10]
    for s in present:
        headers.append((shstr.add(s), _SECTION_TYPE.get(s, E.SHT_PROGBITS),
                        _SECTION_FLAGS.get(s, E.SHF_ALLOC | E.SHF_WRITE), img.addresses[s],
                        img.addresses[s], len(img.sections[s]), 0, 0,
                        img.alignments[s], 4 if s in TABLES else 0))
    # a relocation's symbol: the global of its name, else the section's symbol
    index_of = {s: symidx["\0" + s] for s in present}
    index_of.update((name, i) for name, i in symidx.items() if name[:1] != "\0")
    pack = struct.Struct(e + "IIi").pack
    for s in rela_secs:
        _pad(out, 4)
        rows = by_section[s]
        # one compiled Struct for every entry: a format of the whole table ("IIi" * n) is
        # parsed anew per link and kept in struct's cache
        body = b"".join([pack(r[0], (index_of[r[2]] << 8) | r[1], r[3]) for r in rows])
        headers.append((shstr.add(".rela" + s), E.SHT_RELA, E.SHF_INFO_LINK, 0, len(out),
                        len(body), symtab_idx, shidx[s], 4, E.RELA_SIZE))
        out.extend(body)
    _pad(out, 4)
    symbody = b"".join(itertools.starmap(struct.Struct(e + "IIIBBH").pack, syms))
    headers.append((shstr.add(".symtab"), E.SHT_SYMTAB, 0, 0, len(out), len(symbody),
                    strtab_idx, first_global, 4, E.SYM_SIZE))
    out.extend(symbody)
    note_off, _note_len = put_strings_and_note(out, headers, shstr, strtab, meta, e)
    name_off = shstr.add(".shstrtab")
    headers.append((name_off, E.SHT_STRTAB, 0, 0, len(out), len(shstr.data) + 0, 0, 0, 1, 0))
    out.extend(shstr.data)
    _pad(out, 4)
    return out, headers, (note_off, len(out), shstr_idx)


def put_strings_and_note(out: bytearray, headers: list, shstr: _StrTab, strtab: bytes,
                         meta: dict, e: str) -> tuple[int, int]:
    """Append ``.strtab`` and the metadata note (and their section headers):
    ``(note offset, note size)``."""
    headers.append((shstr.add(".strtab"), E.SHT_STRTAB, 0, 0, len(out), len(strtab), 0, 0, 1, 0))
    out.extend(strtab)
    _pad(out, 4)
    note = encode_note(meta, e)
    note_off = len(out)
    headers.append((shstr.add(".note.gamevm"), E.SHT_NOTE, 0, 0, note_off, len(note), 0, 0, 4, 0))
    out.extend(note)
    return note_off, len(note)


def serialize(img: ModuleImage) -> bytes:
    """The module file's bytes (deterministic for a given image)."""
    e = "<" if img.endian == "little" else ">"
    meta = img.build_metadata()
    img.metadata = meta
    present = [s for s in SECTION_ORDER if s in img.sections]
    code = [s for s in present if s in CODE_SECTIONS]
    data = [s for s in present if s in DATA_SECTIONS]
    phnum = (1 if code else 0) + (1 if data else 0) + 1
    max_align = max([img.alignments[s] for s in present] + [16])
    # Metadata first, then the loadable bytes: a loader reads the file front to back in
    # one stream (headers, symbols, relocations, note; then the image), never seeking
    # back on a CD.  The section offsets of the image are only known once the metadata
    # is laid out: its size does not depend on them, so they are added to the output
    # sections' headers last.
    out, headers, meta_parts = _metadata(img, e, meta, present, phnum)
    note_off, shoff, shstr_idx = meta_parts
    load_off = -(-(shoff + len(headers) * E.SHDR_SIZE) // max_align) * max_align
    for i, h in enumerate(headers):
        if 1 <= i <= len(present):
            h = h[:4] + (load_off + h[4],) + h[5:]
        out.extend(struct.pack(e + "10I", *h))
    out.extend(b"\0" * (load_off - len(out)))
    for s in present:
        if s == ".bss":
            continue
        pos = load_off + img.addresses[s]
        out.extend(b"\0" * (pos - len(out)))
        out.extend(img.sections[s])
    note_len = len(encode_note(meta, e))

    phdrs = []
    if code:
        end = max(img.addresses[s] + len(img.sections[s]) for s in code)
        phdrs.append((E.PT_LOAD, load_off, 0, 0, end, end, E.PF_R | E.PF_X,
                      max(img.alignments[s] for s in code)))
    if data:
        start = img.addresses[data[0]]
        file_end = max([img.addresses[s] + len(img.sections[s]) for s in data if s != ".bss"]
                       + [start])
        mem_end = max(img.addresses[s] + len(img.sections[s]) for s in data)
        phdrs.append((E.PT_LOAD, load_off + start, start, start, file_end - start,
                      mem_end - start, E.PF_R | E.PF_W, max(img.alignments[s] for s in data)))
    phdrs.append((E.PT_NOTE, note_off, 0, 0, note_len, 0, E.PF_R, 4))
    entry_value = 0
    if img.entry:
        entry_value = next(s.value for s in img.exports if s.name == img.entry)
    put_headers(out, e, img.endian, img.e_machine, entry_value, img.e_flags, phdrs, shoff,
                len(headers), shstr_idx)
    return bytes(out)


def put_headers(out: bytearray, e: str, endian: str, machine: int, entry: int, flags: int,
                phdrs, shoff: int, shnum: int, shstrndx: int) -> None:
    """The ELF header and the program headers at the start of ``out`` (room left for them)."""
    ident = E.ELFMAG + bytes([E.ELFCLASS32, 1 if endian == "little" else 2, 1, 0]) + bytes(8)
    out[:E.EHDR_SIZE] = ident + struct.pack(e + "HHIIIIIHHHHHH", E.ET_DYN, machine, 1, entry,
                                            E.EHDR_SIZE, shoff, flags, E.EHDR_SIZE,
                                            E.PHDR_SIZE, len(phdrs), E.SHDR_SIZE, shnum,
                                            shstrndx)
    for i, ph in enumerate(phdrs):
        pos = E.EHDR_SIZE + i * E.PHDR_SIZE
        out[pos:pos + E.PHDR_SIZE] = struct.pack(e + "8I", *ph)


def write_module(img: ModuleImage, path) -> None:
    atomic_write(path, serialize(img))
