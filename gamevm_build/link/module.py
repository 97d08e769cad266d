"""Reading and validating GameVM module files.

:func:`read_module` checks everything a loader relies on before anything uses
it: ELF identity, the GameVM note and its format version, the target's
machine, byte order and ABI (``e_flags``, as the linker checks objects),
section and segment bounds, symbol and relocation indices, relocation types
and that every site lies inside its section.  Any violation is a
:class:`~gamevm_build.errors.ModuleFormatError` naming the file and the field,
so a corrupted module is rejected before a byte of RAM is touched.  Last, the
contents must hash to the metadata's ``hash``
(:class:`~gamevm_build.errors.ModuleChecksumError` otherwise): a byte changed
in code, data, relocations or symbols after linking is caught.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path

from . import elf32 as E
from ..arch import get_arch
from ..errors import (ConfigError, GameVMError, ImageDecodeError, InputError, ModuleChecksumError,
                      ModuleFormatError)
from ..fileutil import read_input
from .shipform import (CH_TYPES, CHDR_SIZE, PACKED_FORMAT, SHF_COMPRESSED, SHT_GVM_RELPACK,
                       decoded_relocations, file_image_size, footprint)
from .modformat import (FORMAT_VERSION, MAX_ALIGN, MAX_NEEDS, NOTE_NAME, NT_GAMEVM_MODULE,
                        SECTION_ORDER, content_hash)
from ..project.profile import Profile, load_profile

_KIND = {E.STT_FUNC: "func", E.STT_OBJECT: "object", E.STT_NOTYPE: "notype"}
_BIND = {E.STB_GLOBAL: "global", E.STB_WEAK: "weak", E.STB_LOCAL: "local"}


@dataclass(frozen=True)
class Export:
    name: str
    value: int                   # module offset
    size: int
    kind: str                    # func | object | notype
    bind: str                    # global | weak
    section: str | None


@dataclass
class Import:
    name: str
    weak: bool
    refs: int = 0


@dataclass(frozen=True)
class Reloc:
    offset: int                  # module offset of the site
    type: int
    type_name: str
    symbol: str                  # import name, or section name for internal targets
    addend: int
    section: str                 # section holding the site
    is_import: bool

    @property
    def internal(self) -> bool:
        return not self.is_import


@dataclass
class Module:
    """A parsed module.  Offsets are relative to the load base."""

    path: str
    target: str
    name: str
    needs: list[str]
    entry: str | None
    hash: str
    format: int
    endian: str
    e_flags: int
    sections: dict[str, tuple[int, bytes | int]]   # name -> (offset, bytes | bss size)
    image_size: int
    align: int
    exports: dict[str, Export]
    imports: dict[str, Import]
    relocations: list[Reloc]
    locals: list[Export] = field(default_factory=list)
    init: dict[str, list[int]] = field(default_factory=dict)
    metadata: dict = field(default_factory=dict)
    file_size: int = 0
    metadata_size: int = 0       #: bytes of the metadata note's descriptor
    symbol_count: int = 0        #: entries of .symtab, the null symbol included
    form: str = "plain"          #: shipping form (gamevm_build.link.shipform.FORMS)
    footprint: int = 0           #: bytes a loader allocates (image_size, or more to decode)
    relpack_size: int = 0        #: bytes of .gvm.relpack (packed forms)
    stored_image: int = 0        #: bytes of .gvm.image (lz4, zx0: the Chdr and the block)
    hashed_symbols: list = field(default_factory=list)   #: as the content hash takes them
    #: lz4: the block's tokens, literal and match bytes; zx0: its blocks, literal and
    #: match bytes (what the decoder works, loadcost.CpuCosts.decode_cycles)
    decode_stats: tuple = (0, 0, 0)

    @property
    def compressed(self) -> bool:
        """The image is stored compressed (``.gvm.image``)."""
        return self.form in CH_TYPES

    @property
    def load_size(self) -> int:
        """Bytes a loader allocates: the image, or for a compressed module the room to
        decode it in place (:func:`gamevm_build.link.shipform.footprint`)."""
        return max(self.footprint, self.image_size)

    @property
    def copy_bytes(self) -> int:
        """Bytes the reader puts in place: the stored block of a compressed module, else
        the file-backed sections."""
        return self.stored_image if self.compressed else self.image_size - self.bss_size

    @property
    def zero_bytes(self) -> int:
        """Bytes the loader zeroes: bss, or all a compressed module's block does not decode."""
        if not self.compressed:
            return self.bss_size
        return self.load_size - file_image_size(
            {n: (off, self.section_size(n)) for n, (off, _b) in self.sections.items()})

    @property
    def local_symbols(self) -> int:
        """Symbols that are neither exports nor imports (sections, statics): each is checked."""
        return max(self.symbol_count - 1 - len(self.exports) - len(self.imports), 0)

    @property
    def emission(self) -> str:
        """Emission format of the module's threads (docs/formats.md): the metadata's
        ``emission``, ``stc`` when absent (every native module)."""
        from .emission import of_metadata
        return of_metadata(self.metadata)

    @property
    def profile(self) -> Profile:
        return load_profile(self.target)

    def section_size(self, name: str) -> int:
        if name not in self.sections:
            return 0
        body = self.sections[name][1]
        return body if isinstance(body, int) else len(body)

    @property
    def code_size(self) -> int:
        return sum(self.section_size(s) for s in (".text", ".rodata"))

    @property
    def data_size(self) -> int:
        return sum(self.section_size(s) for s in SECTION_ORDER[2:-1])

    @property
    def bss_size(self) -> int:
        return self.section_size(".bss")

    def unrelocated_image(self) -> bytearray:
        """The module's RAM contents at base 0 before relocation (bss zeroed)."""
        image = bytearray(self.image_size)
        for off, body in self.sections.values():
            if not isinstance(body, int):
                image[off:off + len(body)] = body
        return image

    def symbolize(self, offset: int) -> str | None:
        """``name+0xN`` for a module offset, from exports and local symbols."""
        best, start = None, 0
        for s in list(self.exports.values()) + self.locals:
            value = s.value & ~1 if s.kind == "func" else s.value     # Thumb functions: bit 0
            if s.section and value <= offset and (best is None or value > start):
                if s.size == 0 or offset < value + max(s.size, 1) or best is None:
                    best, start = s, value
        if best is None:
            return None
        delta = offset - start
        return best.name + (f"+0x{delta:x}" if delta else "")


def _bad(path: str, what: str) -> ModuleFormatError:
    return ModuleFormatError(f"{path}: not a valid GameVM module: {what}")


#: the metadata rules a console-side loader can check too (gvm_meta.c mirrors them)
META_MAX_NESTING = 32
_TABLE_KEYS = ("init_array", "fini_array", "ctors", "dtors")


class _Pairs(list):
    """A JSON object as its ``(key, value)`` pairs in file order (duplicates kept)."""


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _uint(value) -> bool:
    return type(value) is int and 0 <= value <= 0xFFFFFFFF


def _nested_ok(value, depth: int) -> bool:
    if depth > META_MAX_NESTING:
        return False
    if isinstance(value, _Pairs):
        return all(_nested_ok(v, depth + 1) for _, v in value)
    if isinstance(value, list):
        return all(_nested_ok(v, depth + 1) for v in value)
    return True


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\0" in value
    if isinstance(value, _Pairs):
        return any(_has_nul(k) or _has_nul(v) for k, v in value)
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def check_metadata(pairs: "_Pairs", path: str) -> dict:
    """The metadata object, checked by the rules every GameVM loader applies.

    Any JSON may surround the known keys, but each occurrence of a known key must
    have its type (the last one counts), and the result must be complete:
    ``format`` 1, ``target``, a non-empty ``name``, ``image_size``, ``align`` a power
    of two up to 64 KiB, at most 16 ``needs``, ``init`` tables inside the image.
    The console-side runtime (``runtime/loader/gvm_meta.c``) checks exactly this.
    """
    if not isinstance(pairs, _Pairs):
        raise _bad(path, ".note.gamevm metadata is not an object")
    if _has_nul(pairs):
        raise _bad(path, ".note.gamevm metadata has a NUL character in a string")
    meta: dict = {}
    for key, value in pairs:
        ok = True
        if key in ("format", "image_size", "align"):
            ok = _uint(value)
        elif key in ("target", "name", "hash"):
            ok = isinstance(value, str)
        elif key == "entry":
            ok = value is None or isinstance(value, str)
        elif key == "needs":
            ok = (type(value) is list and len(value) <= MAX_NEEDS
                  and all(isinstance(n, str) for n in value))
        elif key == "init":
            ok = isinstance(value, _Pairs) and all(
                k in _TABLE_KEYS and type(v) is list and len(v) == 2 and all(map(_uint, v))
                for k, v in value)
            value = dict(value) if ok else value
        else:
            ok = _nested_ok(value, 1)
        if not ok:
            raise _bad(path, f"metadata key {key!r} has an invalid value")
        meta[key] = value
    for key in ("format", "target", "name", "image_size"):
        if key not in meta:
            raise _bad(path, f"metadata has no {key!r}")
    if meta["format"] not in (FORMAT_VERSION, PACKED_FORMAT):
        raise _bad(path, f"format version {meta['format']!r}; this gamevm_build reads versions "
                         f"{FORMAT_VERSION} (plain) and {PACKED_FORMAT} (packed)")
    if not meta["name"]:
        raise _bad(path, "metadata name is empty")
    align = meta.get("align", 4)
    if not 1 <= align <= MAX_ALIGN or align & (align - 1):
        raise _bad(path, f"metadata align {align} is not a power of two up to {MAX_ALIGN}")
    image_size = meta["image_size"]
    for table, (off, count) in meta.get("init", {}).items():
        if off % 4 or count > 0x3FFFFFFF or off > image_size or 4 * count > image_size - off:
            raise _bad(path, f"metadata init table {table} [{off}, {count}] lies outside the image")
    return meta


def parse_note(sec: E.Section, endian: str, path: str) -> dict:
    e = "<" if endian == "little" else ">"
    data = sec.data
    if len(data) < 12:
        raise _bad(path, ".note.gamevm is truncated")
    namesz, descsz, ntype = struct.unpack_from(e + "III", data, 0)
    name_end = 12 + namesz
    desc_off = 12 + namesz + ((-namesz) % 4)
    if data[12:name_end] != NOTE_NAME or ntype != NT_GAMEVM_MODULE:
        raise _bad(path, ".note.gamevm does not hold a GameVM module note")
    if desc_off + descsz > len(data):
        raise _bad(path, ".note.gamevm descriptor runs past the section")
    try:
        pairs = json.loads(data[desc_off:desc_off + descsz].rstrip(b"\0").decode(),
                           object_pairs_hook=_Pairs, parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise _bad(path, f".note.gamevm metadata is not JSON ({exc})") from None
    meta = check_metadata(pairs, path)
    meta["__bytes__"] = descsz               # what a loader parses (costed per byte)
    return meta


def _check_segments(elf: E.ElfFile, image_size: int, path: str) -> None:
    """PT_LOAD bounds, as ``readelf -l`` checks them, and inside the image."""
    for i, seg in enumerate(elf.segments):
        if seg.type != E.PT_LOAD:
            continue
        where = f"program header [{i}] (PT_LOAD)"
        if seg.offset + seg.filesz > len(elf.data):
            raise _bad(path, f"{where} p_offset 0x{seg.offset:x} + p_filesz 0x{seg.filesz:x} "
                             f"runs past the end of the file ({len(elf.data)} bytes)")
        if seg.filesz > seg.memsz:
            raise _bad(path, f"{where} p_filesz 0x{seg.filesz:x} is larger than p_memsz "
                             f"0x{seg.memsz:x}")
        if seg.vaddr + seg.memsz > image_size:
            raise _bad(path, f"{where} [0x{seg.vaddr:x}, +0x{seg.memsz:x}) lies outside the "
                             f"image (size 0x{image_size:x})")


def read_module(source, *, name: str | None = None, expect_target: str | None = None,
                verify_hash: bool = True) -> Module:
    """Parse and validate a module from a path or bytes.

    Parameters
    ----------
    source : path or bytes
    name : str, optional
        What messages call the module when ``source`` is bytes.
    expect_target : str, optional
        Reject a module built for another target (``IncompatibleTarget``).
    verify_hash : bool
        Check the contents against the metadata's ``hash`` (a module without one
        is refused too).  ``gamevm inspect`` reads with ``False`` to show a module
        whatever its hash once the checked read has failed.

    Raises
    ------
    ModuleChecksumError
        Well-formed, but the contents do not match the recorded ``hash``.
    ModuleFormatError
        Malformed or not a GameVM module.
    InputError
        Unreadable file, or built for another target than ``expect_target``.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        data, path = bytes(source), name or "<module>"
    else:
        path = str(source)
        try:
            data = read_input(path, "module")
        except FileNotFoundError:
            raise InputError(f"{path}: module file not found") from None
        except OSError as exc:
            raise InputError(f"{path}: cannot read module: {exc.strerror}") from None
    try:
        elf = E.parse(data, path)
    except InputError as exc:                  # elf32 raises InputError only
        raise ModuleFormatError(str(exc)) from None
    if elf.e_type != E.ET_DYN:
        raise _bad(path, f"ELF type {elf.e_type} (modules are ET_DYN; build it with "
                         "'gamevm module')")
    note = next((s for s in elf.sections if s.name == ".note.gamevm"), None)
    if note is None:
        raise _bad(path, "no .note.gamevm section (build it with 'gamevm module')")
    meta = parse_note(note, elf.endian, path)
    fmt = meta["format"]
    target = meta["target"]
    try:
        profile = load_profile(str(target))
    except ConfigError:
        raise _bad(path, f"unknown target {target!r} in metadata") from None
    if expect_target is not None and target != expect_target:
        raise InputError(f"{path}: module is built for target {target}, not {expect_target}")
    if elf.e_machine != profile.e_machine or elf.endian != profile.endian:
        raise _bad(path, f"ELF machine {elf.e_machine}/{elf.endian}-endian does not match "
                         f"target {target} ({profile.e_machine_name}, {profile.endian}-endian)")
    arch = get_arch(profile.arch)
    try:
        arch.check_object(elf, profile)
    except GameVMError as exc:    # the linker's own check of objects, on the module
        raise _bad(path, f"ELF header: {str(exc).removeprefix(path + ': ')}") from None
    image_size = meta["image_size"]
    _check_segments(elf, image_size, path)

    sections: dict[str, tuple[int, bytes | int]] = {}
    spans: dict[str, tuple[int, int]] = {}
    by_index: dict[int, str] = {}
    packed = fmt == PACKED_FORMAT
    zimage = _compressed_image(elf, path) if packed else None
    for sec in elf.sections:
        if sec.name in SECTION_ORDER and sec.alloc:
            size = sec.size
            if sec.addr + size > image_size:
                raise _bad(path, f"section {sec.name} [0x{sec.addr:x}, +0x{size:x}) lies outside "
                                 f"the image (size 0x{image_size:x})")
            if sec.type == E.SHT_NULL:
                # neither bytes (SHT_PROGBITS) nor bss (SHT_NOBITS): the C runtime refuses
                # it too, rather than guess which it was meant to be
                raise _bad(path, f"section {sec.name} has type SHT_NULL (0): a module's "
                                 f"loadable section is SHT_PROGBITS or SHT_NOBITS")
            body = size if sec.type == E.SHT_NOBITS else sec.data
            if zimage is not None and sec.name != ".bss":
                body = None                       # from the decoded block, below
            sections[sec.name] = (sec.addr, body)
            spans[sec.name] = (sec.addr, size)
            by_index[sec.index] = sec.name
    stored = footprint_ = None
    codec, stats = None, (0, 0, 0)
    if zimage is not None:
        try:
            codec, plain, stats = _decode_image(zimage, spans, image_size, elf.endian,
                                                meta.get("align", 4), path, profile.codecs)
        except ImageDecodeError as exc:
            exc.module_name = meta["name"]
            raise
        stored = zimage.size
        for name, (off, body) in list(sections.items()):
            if body is None:
                sections[name] = (off, plain[off:off + spans[name][1]])
    if not elf.symbols:
        raise _bad(path, "no .symtab")

    exports: dict[str, Export] = {}
    imports: dict[str, Import] = {}
    locals_: list[Export] = []
    hashed_exports: list[tuple] = []      # (name, value, size, type, bind, section) in file order
    hashed_imports: list[tuple] = []
    section_syms: dict[int, str] = {}
    for sym in elf.symbols[1:]:
        if sym.type == E.STT_SECTION:
            if sym.shndx not in by_index:
                raise _bad(path, f"section symbol [{sym.index}] refers to section index "
                                 f"{sym.shndx}, which is not a loadable section")
            section_syms[sym.index] = by_index[sym.shndx]
            continue
        if sym.shndx == E.SHN_UNDEF:
            if sym.bind == E.STB_LOCAL:
                raise _bad(path, f"undefined local symbol [{sym.index}] '{sym.name}'")
            imports[sym.name] = Import(sym.name, sym.bind == E.STB_WEAK)
            hashed_imports.append((sym.name, 0, 0, sym.type, sym.bind, None))
            continue
        sec = by_index.get(sym.shndx)
        if sec is None and sym.shndx != E.SHN_ABS:
            raise _bad(path, f"symbol '{sym.name}' refers to section index {sym.shndx}, "
                             "which is not a loadable section")
        if sec is not None and sym.value > image_size:
            raise _bad(path, f"symbol '{sym.name}' value 0x{sym.value:x} is outside the image")
        exp = Export(sym.name, sym.value, sym.size, _KIND.get(sym.type, "notype"),
                     _BIND.get(sym.bind, "global"), sec)
        if sym.bind == E.STB_LOCAL:
            locals_.append(exp)
        else:
            exports[sym.name] = exp
            hashed_exports.append((sym.name, sym.value, sym.size, sym.type, sym.bind, sec))

    relocs: list[Reloc] = []
    relpack = [sec for sec in elf.sections if sec.type == SHT_GVM_RELPACK]
    if packed:
        relocs = _packed_relocations(elf, relpack, sections, imports, arch, path)
    elif relpack:
        raise _bad(path, f"{relpack[0].name}: packed relocations in a format 1 module "
                         f"(packed modules are format {PACKED_FORMAT})")
    for sec in elf.sections:
        if sec.type not in (E.SHT_RELA, E.SHT_REL):
            continue
        if packed:
            raise _bad(path, f"{sec.name}: a packed (format {PACKED_FORMAT}) module carries its "
                             "relocations in .gvm.relpack only")
        if sec.type == E.SHT_REL:
            raise _bad(path, f"{sec.name}: modules carry RELA relocations only")
        if sec.link != elf.symtab_index:
            raise _bad(path, f"{sec.name}: sh_link {sec.link} is not the symbol table")
        target_sec = by_index.get(sec.info)
        if target_sec is None:
            raise _bad(path, f"{sec.name}: sh_info {sec.info} is not a loadable section")
        t_off, t_body = sections[target_sec]
        t_size = t_body if isinstance(t_body, int) else len(t_body)
        try:
            entries = elf.relocations(sec)
        except InputError as exc:
            raise ModuleFormatError(str(exc)) from None
        for i, r in enumerate(entries):
            recipe = arch.relocations.get(r.type)
            if recipe is None or recipe.pc_relative:   # PC-relative ones are resolved at link time
                raise _bad(path, f"{sec.name}[{i}]: relocation type "
                                 f"{arch.type_name(r.type).removeprefix('type ')} "
                                 "is not one a loader applies")
            if not (t_off <= r.offset and r.offset + recipe.size <= t_off + t_size):
                raise _bad(path, f"{sec.name}[{i}]: offset 0x{r.offset:x} is outside section "
                                 f"{target_sec} [0x{t_off:x}, 0x{t_off + t_size:x})")
            sym = elf.symbols[r.sym]
            if r.sym == 0:
                raise _bad(path, f"{sec.name}[{i}]: relocation against symbol 0")
            if sym.index in section_syms:
                relocs.append(Reloc(r.offset, r.type, arch.type_name(r.type),
                                    section_syms[sym.index], r.addend, target_sec, False))
            elif sym.shndx == E.SHN_UNDEF:
                imports[sym.name].refs += 1
                relocs.append(Reloc(r.offset, r.type, arch.type_name(r.type), sym.name, r.addend,
                                    target_sec, True))
            else:
                raise _bad(path, f"{sec.name}[{i}]: relocation against defined symbol "
                                 f"'{sym.name}' (modules use section symbols for internal targets)")
    needs = meta.get("needs", [])
    metadata_size = meta.pop("__bytes__", 0)
    recorded = meta.get("hash")
    if verify_hash and not recorded:
        # the linker always records one: without it a changed key name ("hasx") would
        # switch the check off
        raise ModuleChecksumError(f"{path}: hash mismatch: the metadata records no hash; "
                                  "rebuild the module with 'gamevm module'", actual="")
    if verify_hash:
        actual = content_hash(
            target, meta["name"], needs, meta.get("entry"), image_size, meta.get("align", 4),
            meta.get("init", {}),
            # a section typed SHT_NOBITS holds zeros in the image: hashed as such (.bss
            # is hashed by its size alone)
            ((n, off, body, bytes(body)) if isinstance(body, int) else (n, off, len(body), body)
             for n, (off, body) in sorted(sections.items(), key=lambda kv: SECTION_ORDER.index(kv[0]))),
            ((r.offset, r.type, r.symbol, r.addend) for r in relocs),
            hashed_exports + hashed_imports)
        if actual != recorded:
            exc = ModuleChecksumError(
                f"{path}: hash mismatch: the metadata records {recorded}, but the module's "
                f"contents hash to {actual}; the file changed after it was linked (corrupted "
                "on the way?): rebuild or copy it again", recorded=recorded, actual=actual)
            exc.module_name = meta["name"]
            raise exc
    return Module(
        path=path, target=target, name=meta["name"], needs=needs,
        entry=meta.get("entry"), hash=str(meta.get("hash", "")), format=fmt,
        endian=elf.endian, e_flags=elf.e_flags, sections=sections, image_size=image_size,
        align=meta.get("align", 4), exports=exports, imports=imports, relocations=relocs,
        locals=locals_, init=meta.get("init", {}), metadata=meta, file_size=len(data),
        metadata_size=metadata_size, symbol_count=len(elf.symbols),
        form=codec or ("packed" if packed else "plain"),
        footprint=footprint(image_size, file_image_size(spans), stored,
                            zimage.entsize if zimage is not None else 0),
        relpack_size=sum(s.size for s in relpack), stored_image=stored or 0,
        decode_stats=stats,
        hashed_symbols=hashed_exports + hashed_imports,
    )


def _compressed_image(elf: E.ElfFile, path: str):
    """The ``.gvm.image`` section of a packed module, or None (docs/format.md)."""
    found = [s for s in elf.sections if s.name == ".gvm.image"]
    if not found:
        return None
    sec = found[0]
    if not sec.flags & SHF_COMPRESSED or sec.type != E.SHT_PROGBITS or sec.alloc \
            or len(found) > 1:
        raise _bad(path, ".gvm.image: one SHT_PROGBITS section flagged SHF_COMPRESSED, not "
                         "SHF_ALLOC, is what a packed module stores its image in")
    return sec


def _decode_image(sec: E.Section, spans: dict, image_size: int, endian: str, align: int,
                  path: str, codecs=tuple(CH_TYPES)) -> tuple[str, bytes, tuple]:
    """``(codec, the loadable bytes, the decoder's work)`` of a ``.gvm.image`` section,
    checked and decoded as the console's loader does: in place, the block at a word
    boundary at the end of the module's footprint (docs/format.md "Shipping forms")."""
    from . import compress
    e = "<" if endian == "little" else ">"
    data = sec.data
    want = file_image_size(spans)
    if len(data) < CHDR_SIZE:
        raise _bad(path, ".gvm.image: shorter than its 12-byte compression header")
    # sh_entsize is read with the headers: it sets the footprint before the block is read
    if sec.entsize > image_size:
        raise _bad(path, f".gvm.image: an in-place margin (sh_entsize) of {sec.entsize} bytes, more "
                         f"than the module's {image_size}")
    room = footprint(image_size, want, len(data), sec.entsize)
    if len(data) > room:
        raise _bad(path, f".gvm.image: {len(data)} bytes do not fit the module's {room}")
    block = data[CHDR_SIZE:]
    if not sec.entsize and want > 255 * len(block) + 16:   # LZ4 expands a byte to at most 255
        raise _bad(path, f".gvm.image: {len(block)} bytes cannot decode to {want}")
    ch_type, ch_size, ch_align = struct.unpack_from(e + "III", data)
    codec = next((c for c, t in CH_TYPES.items() if t == ch_type), None)
    if codec is None or (codec == "lz4") != (sec.entsize == 0):
        raise ImageDecodeError(
            f"{path}: not a valid GameVM module: .gvm.image: compression type 0x{ch_type:x} "
            f"with sh_entsize {sec.entsize} (this gamevm_build decodes "
            + ", ".join(f"0x{t:x} ({c.upper()})" for c, t in CH_TYPES.items())
            + "; sh_entsize is 0 for LZ4 and ZX0's in-place margin)")
    if codec not in codecs:
        raise ImageDecodeError(
            f"{path}: .gvm.image: a {codec.upper()} image, which this console's runtime does "
            f"not decode (its profile's codecs: {', '.join(codecs)}); ship the module as "
            f"{' or '.join(('packed',) + tuple(codecs))}")
    if ch_size != want or ch_align != align or want == 0:
        raise ImageDecodeError(f"{path}: not a valid GameVM module: .gvm.image: the header "
                               f"says {ch_size} bytes aligned to {ch_align}, the sections "
                               f"{want} aligned to {align}")
    if codec == "lz4":
        plain = compress.lz4_decode(block, want)        # as the console decodes it
    else:
        plain, _safe = compress.zx0_decode_at(data, want, room, (room - len(data)) & ~3)
    if plain is None or len(plain) != want:
        raise ImageDecodeError(f"{path}: not a valid GameVM module: .gvm.image: the "
                               f"{codec.upper()} block is corrupt (it does not decode in place "
                               f"to the {want} bytes its header says); build the module again")
    gaps = bytearray(plain)             # the padding between sections: zeros, as linked
    for name, (off, size) in spans.items():
        if name != ".bss":
            gaps[off:off + size] = bytes(len(gaps[off:off + size]))
    at = len(gaps) - len(gaps.lstrip(b"\0"))
    if at < len(gaps):
        raise ImageDecodeError(f"{path}: not a valid GameVM module: .gvm.image: the "
                               f"{codec.upper()} block decodes byte 0x{gaps[at]:02x} at image "
                               f"offset 0x{at:x}, outside every section, where the linker pads "
                               f"with zeros (the console refuses it too); build the module again")
    stats = compress.lz4_block_stats(block) if codec == "lz4" else \
        compress.zx0_block_stats(block, want, decoded=True)
    return codec, plain, stats


def _packed_relocations(elf, relpack, sections, imports, arch, path) -> list[Reloc]:
    """A packed module's relocations, as :func:`gamevm_build.link.packrel.decode` gives
    them back over the module's loadable bytes, each site inside a section with contents."""
    if len(relpack) != 1:
        raise _bad(path, f"a packed module has one .gvm.relpack section, not {len(relpack)}")
    sec = relpack[0]
    if sec.link != elf.symtab_index:
        raise _bad(path, f"{sec.name}: sh_link {sec.link} is not the symbol table")
    names = [s.name for s in elf.symbols[1:] if s.type != E.STT_SECTION and s.shndx == E.SHN_UNDEF]
    if any(a >= b for a, b in zip(names, names[1:])):
        raise _bad(path, f"{sec.name}: the imports are not in strictly ascending name order "
                         "(packed relocations name them by rank)")
    spans = {n: (off, b if isinstance(b, int) else len(b)) for n, (off, b) in sections.items()}
    image = bytearray(file_image_size(spans))
    for n, (off, b) in sections.items():
        if not isinstance(b, int):
            image[off:off + len(b)] = b

    def fail(message: str):
        raise _bad(path, f"{sec.name}: {message}")
    return decoded_relocations(sec.data, bytes(image), sections, imports, arch,
                               big=elf.endian == "big", fail=fail)


__all__ = ["Module", "Export", "Import", "Reloc", "read_module", "GameVMError"]
