"""Link cross-compiled objects into one relocatable GameVM module.

Pipeline: read inputs (objects, archives) -> check each against the target
profile -> resolve symbols (strong/weak/COMMON, pulling archive members on
demand) -> merge sections into ``.text .rodata | .init_array .fini_array
.ctors .dtors .data .bss`` -> lay them out from address 0 -> apply every
relocation for base 0 and record it as RELA for the loader -> write the Minimal
ELF file (:mod:`gamevm_build.link.modformat`).

The format is described in ``docs/format.md``.
"""

from __future__ import annotations

import operator
import os
import re
from collections import namedtuple
from pathlib import Path

from . import elf32 as E
from ..arch import WORD, RelocationOverflow, get_arch
from ..errors import ConfigError, InputError, IsaError, LinkError, RelocationError, location
from ..fileutil import Outputs, read_input
from ..gcpause import gc_paused
from .modformat import MAX_ALIGN, MAX_NEEDS, ModuleImage, OutReloc, OutSymbol, serialize
from ..project.profile import Profile, load_profile
from ..record import Factory, Record

#: output sections in layout order; the first two form the code segment
CODE_SECTIONS = (".text", ".rodata")
DATA_SECTIONS = (".init_array", ".fini_array", ".ctors", ".dtors", ".data", ".bss")
OUTPUT_ORDER = CODE_SECTIONS + DATA_SECTIONS
#: the data segment starts on its own boundary so a loader can tell the segments apart
DATA_SEGMENT_ALIGN = 16

#: sections dropped on purpose (with their relocations): debug info, ABI notes,
#: MIPS bookkeeping no loader reads, unwind tables (retro consoles do not unwind)
_DROP = re.compile(r"^(\.pdr|\.reginfo|\.MIPS\.abiflags|\.MIPS\.options|\.comment|"
                   r"\.note(\..*)?|\.gnu\.attributes|\.mdebug\..*|\.gptab\..*|\.debug.*|"
                   r"\.zdebug.*|\.eh_frame|\.gcc_except_table.*|\.gnu_debuglink|"
                   r"\.llvm_addrsig|\.stab.*|\.ARM\.(exidx|extab|attributes).*)$")


class MapEntry(namedtuple("MapEntry", "obj section out_section offset size")):
    """Where one input section landed (like a line of ``ld -Map``; a named tuple: a link
    makes one per input section): ``obj`` and ``section`` (names), ``out_section`` (name),
    ``offset`` (in the module) and ``size``."""

    __slots__ = ()


class LinkResult(Record):
    output: Path
    image: ModuleImage
    section_map: list[MapEntry]
    warnings: list[str] = Factory(list)
    #: the debug file written beside the module (None: no input has debug info)
    debug_file: Path | None = None
    #: the shipping form written (docs/format.md "Shipping forms") and, for ``auto``, why
    form: str = "plain"
    form_why: str = ""


class _Input(Record):
    elf: E.ElfFile
    placed: dict[int, tuple[str, int]]          # shndx -> (out, offset)

    def __init__(self, elf: E.ElfFile):
        self.elf = elf
        self.placed = {}


class _Def(Record):
    __slots__ = ("inp", "sym")
    inp: _Input
    sym: E.Symbol

    def __init__(self, inp: _Input, sym: E.Symbol):
        self.inp = inp
        self.sym = sym


def classify(sec: E.Section) -> str | None:
    """Output section for an allocated input section, or None to drop it."""
    key = (sec.name, sec.type, sec.flags)
    found = _CLASSIFIED.get(key, _UNSEEN)     # one lookup: another link may clear the table
    if found is _UNSEEN:
        found = _CLASSIFIED[key] = _classify(sec)
    return found


_CLASSIFIED: dict[tuple, str | None] = {}
_UNSEEN = object()
_ALLOC_TLS = E.SHF_ALLOC | E.SHF_TLS
#: builds a NamedTuple (OutSymbol, MapEntry, OutReloc) from a tuple of its fields in C:
#: their own __new__ is Python code, and a link makes one per symbol, section, relocation
_new = tuple.__new__


def _classify(sec: E.Section) -> str | None:
    name = sec.name
    if _DROP.match(name) or not sec.alloc:
        return None
    for out in (".init_array", ".fini_array", ".ctors", ".dtors"):
        if name == out or name.startswith(out + "."):
            return out
    if sec.type == E.SHT_INIT_ARRAY:
        return ".init_array"
    if sec.type == E.SHT_FINI_ARRAY:
        return ".fini_array"
    if sec.flags & E.SHF_EXECINSTR:
        return ".text"
    if sec.type == E.SHT_NOBITS:
        return ".bss"
    if sec.flags & E.SHF_WRITE:
        return ".data"
    return ".rodata"


def _sort_key(out: str, sec: E.Section) -> tuple:
    """GNU ld order inside .init_array/.fini_array: numbered priorities first, ascending."""
    if out in (".init_array", ".fini_array", ".ctors", ".dtors"):
        suffix = sec.name.rpartition(".")[2]
        return (0, int(suffix)) if suffix.isdigit() else (1, 0)
    return (0, 0)


_OFFSET = operator.itemgetter(0)       # OutReloc.offset
_TYPE = operator.itemgetter(1)         # a relocation row's type (ElfFile.reloc_rows)


def _align(value: int, align: int) -> int:
    return (value + align - 1) & ~(align - 1) if align > 1 else value


def load_inputs(paths, profile: Profile, sources=None
                ) -> tuple[list[_Input], list[list[tuple[str, bytes]]]]:
    """Read objects and archives; archive members are returned unparsed for lazy pulling.

    Objects ``sources`` (a :class:`~gamevm_build.link.sources.SourceMap`) knows are
    named after their source file in every message.
    """
    arch = get_arch(profile.arch)
    objects, archives = [], []
    for p in paths:
        path = str(p)
        try:
            data = read_input(path, "input")
        except OSError as exc:
            raise InputError(f"{path}: cannot read input: {exc.strerror}") from None
        if E.is_archive(data):
            archives.append([(f"{path}({m.name})", m.data) for m in E.read_archive(data, path)])
        else:
            name = sources.name(path) if sources is not None else path
            objects.append(_Input(_parse_object(data, name, profile, arch, path, sources)))
    return objects, archives


def _parse_object(data: bytes, name: str, profile: Profile, arch, path: str | None = None,
                  sources=None) -> E.ElfFile:
    elf = E.parse(data, name)
    _check_object(elf, name, profile, arch, path, sources)
    return elf


def _check_object(elf: E.ElfFile, name: str, profile: Profile, arch, path: str | None = None,
                  sources=None) -> None:
    """Fail unless ``elf`` is a relocatable object the console's CPU runs (an input or
    an archive member pulled into the link)."""
    if elf.e_type != E.ET_REL:
        raise InputError(f"{name}: is not a relocatable object (ELF type {elf.e_type}); "
                         "pass .o files or .a archives")
    if elf.e_machine != profile.e_machine:
        raise InputError(f"{name}: built for ELF machine {elf.e_machine}, but target "
                         f"{profile.name} needs {profile.e_machine_name}; use the "
                         f"{profile.toolchain_prefixes[-1]}gcc toolchain")
    if elf.endian != profile.endian:
        raise InputError(f"{name}: is {elf.endian}-endian but target {profile.name} is "
                         f"{profile.endian}-endian; use the {profile.toolchain_prefixes[-1]} "
                         "toolchain")
    _reject_relocations(elf, arch)
    arch.check_object(elf, profile)
    check_isa(elf, profile, arch, path, sources)


def check_isa(elf: E.ElfFile, profile: Profile, arch, path: str | None = None,
              sources=None) -> None:
    """Fail when the object's code uses instructions the console's CPU lacks (disassembled).

    Each instruction is reported at its source line when the object (at
    ``path``) has line info or ``sources`` can compile a copy with it.
    """
    def describe(violations):
        from .sources import SourceMap, describe_lines
        return describe_lines(violations, path, sources or SourceMap(), elf.name, profile)

    report = arch.isa_report(elf, profile, elf.name, describe if path else None)
    if report:
        raise IsaError(f"{elf.name}: {report}")


def _reject_relocations(elf: E.ElfFile, arch) -> None:
    """Fail on the first relocation a module cannot carry, naming where it is.

    Runs before the ABI/flag checks so that a PIC, -G8 or TLS object is
    reported at the exact site (object, section, offset, symbol) with the fix.
    """
    for rsec in elf.sections:
        if rsec.type not in (E.SHT_REL, E.SHT_RELA):
            continue
        tsec = elf.sections[rsec.info]              # in range: elf32.parse checks
        if not tsec.alloc or classify(tsec) is None:
            continue
        if not set(map(_TYPE, elf.reloc_rows(rsec))) - arch.accepted:
            continue
        for r in elf.relocations(rsec):
            if r.type in arch.accepted:
                continue
            sym = elf.symbols[r.sym].name or None
            where = location(elf.name, tsec.name, r.offset, sym)
            try:
                arch.recipe(r.type, where=where, symbol=sym)
            except RelocationError as exc:
                exc.obj, exc.section, exc.offset = elf.name, tsec.name, r.offset
                raise


class _Resolver:
    """Global symbol resolution with ld's strong/weak/COMMON rules."""

    def __init__(self):
        self.defs: dict[str, _Def] = {}
        self.commons: dict[str, tuple[int, int, _Input]] = {}   # name -> (size, align, first obj)
        self.undef: dict[str, bool] = {}                       # name -> weak-only?
        #: undefined symbols declared hidden or internal -> the first object declaring so
        self.hidden_undef: dict[str, str] = {}
        self.groups: set[str] = set()                          # group signatures seen
        #: per input added, in order: the sections of its duplicate COMDAT groups
        self.dropped: list[set[int]] = []

    def add(self, inp: _Input) -> None:
        # as GNU ld: a duplicate COMDAT group is discarded before its symbols are resolved,
        # so its definitions neither clash with nor replace those of the group kept (the
        # inputs are added in link order: COMDAT keeps the first group of a signature)
        dropped = _duplicate_group_sections(inp.elf, self.groups)
        self.dropped.append(dropped)
        unused = _used_only_by(inp.elf, dropped) if dropped else ()
        sections = inp.elf.sections
        for sym in inp.elf.symbols[1:]:
            if sym.bind == E.STB_LOCAL or not sym.name:
                continue
            shndx = sym.shndx
            if shndx in dropped:
                continue
            name = sym.name
            defined = shndx != E.SHN_UNDEF and shndx not in E.COMMON_SHNDX    # sym.defined
            if sym.type == E.STT_TLS or (defined and shndx < len(sections)
                                         and sections[shndx].flags & E.SHF_TLS):
                raise LinkError(f"{inp.elf.name}: symbol '{name}' is thread-local; GameVM "
                                "consoles have no TLS: remove __thread/_Thread_local")
            if sym.type == E.STT_GNU_IFUNC:
                raise LinkError(f"{inp.elf.name}: symbol '{name}' is an indirect function "
                                "(gnu_indirect_function); no GameVM loader runs its resolver: "
                                "make it a plain function and choose the implementation at "
                                "run time")
            if defined:
                old = self.defs.get(name)
                if old is None or (old.sym.bind == E.STB_WEAK and sym.bind != E.STB_WEAK):
                    self.defs[name] = _Def(inp, sym)
                elif old.sym.bind != E.STB_WEAK and sym.bind != E.STB_WEAK:
                    raise LinkError(
                        f"multiple definition of '{name}': first defined in {old.inp.elf.name} "
                        f"({_secname(old)}), again in {inp.elf.name} ({_secname(_Def(inp, sym))}); "
                        "make one of them static or weak")
            elif sym.common:
                size, align, first = self.commons.get(name, (0, 1, inp))
                self.commons[name] = (max(size, sym.size), max(align, sym.value or 1), first)
            else:
                if sym.visibility in (E.STV_HIDDEN, E.STV_INTERNAL):
                    self.hidden_undef.setdefault(name, inp.elf.name)
                if name not in unused:
                    weak = sym.bind == E.STB_WEAK
                    self.undef[name] = self.undef.get(name, True) and weak

    def unresolved(self) -> dict[str, bool]:
        return {n: w for n, w in self.undef.items() if n not in self.defs and n not in self.commons}


def _section_label(elf: E.ElfFile, shndx: int) -> str | int:
    """Section ``shndx``'s name, or the index itself when the file has no such section."""
    return elf.sections[shndx].name if shndx < len(elf.sections) else shndx


def _secname(d: _Def) -> str:
    s = d.sym.shndx
    return d.inp.elf.sections[s].name if s < len(d.inp.elf.sections) else "ABS"


def _pull_archives(resolver: _Resolver, objects: list[_Input], archives, profile, arch) -> None:
    """Add archive members that define a currently undefined (non-weak) symbol, to a fixpoint."""
    def wanted() -> set[str]:
        # as GNU ld: a member is pulled for a strong undefined symbol, and for a
        # COMMON symbol it defines for real (the definition replaces the common)
        want = {n for n, weak in resolver.unresolved().items() if not weak}
        return want | {n for n in resolver.commons if n not in resolver.defs}

    parsed: dict[str, E.ElfFile] = {}
    loaded: set[str] = set()
    want = wanted()
    changed = True
    while changed and want:
        changed = False
        for members in archives:
            for name, data in members:
                if name in loaded:
                    continue
                if not want:
                    return
                if name not in parsed:
                    # as GNU ld, which finds members by the archive's symbol index: a
                    # member that is no ELF file (a README, a .def) defines nothing
                    parsed[name] = E.parse(data, name) if data[:4] == E.ELFMAG else None
                elf = parsed[name]
                if elf is not None and any(s.defined and s.bind != E.STB_LOCAL and
                                           s.name in want for s in elf.symbols):
                    _check_object(elf, name, profile, arch)
                    inp = _Input(elf)
                    objects.append(inp)
                    resolver.add(inp)
                    loaded.add(name)
                    changed = True
                    want = wanted()          # only a pull changes what is wanted


def _duplicate_group_sections(elf: E.ElfFile, seen: set[str]) -> set[int]:
    """The sections of ``elf``'s COMDAT groups whose signature is in ``seen`` (an earlier
    input has the group); adds ``elf``'s group signatures to ``seen``."""
    dropped: set[int] = set()
    for sec in elf.sections:
        if sec.type != E.SHT_GROUP:
            continue
        if len(sec.data) < 8 or len(sec.data) % 4:
            # GNU ld does not recognize such a file either
            raise InputError(f"{elf.name}: section group {sec.name} [{sec.index}] is "
                             f"{len(sec.data)} bytes, not a flag word and one or more member "
                             "indices; the object is malformed: build it again")
        words = [w for (w,) in WORD[elf.endian, 4].iter_unpack(sec.data)]
        sig = elf.symbols[sec.info].name if sec.info < len(elf.symbols) else str(sec.info)
        members = set(words[1:])
        for m in words[1:]:
            # GNU ld refuses it too: dropping the group would drop the relocations of
            # a section that stays
            rel = elf.sections[m] if m < len(elf.sections) else None
            if rel is not None and rel.type in (E.SHT_REL, E.SHT_RELA) and rel.info not in members:
                raise InputError(f"{elf.name}: COMDAT group '{sig}' holds relocation section "
                                 f"{rel.name} but not {elf.sections[rel.info].name}, the "
                                 "section it relocates; "
                                 "the object is malformed: build it again")
        if words[0] & E.GRP_COMDAT and sig in seen:
            dropped.update(words[1:])
        seen.add(sig)
    return dropped


def _used_only_by(elf: E.ElfFile, dropped: set[int]) -> set[str]:
    """The undefined symbols of ``elf`` that only relocations of the ``dropped`` sections
    use: as in GNU ld, a discarded COMDAT copy's references go with it, so a helper only
    that copy calls is not imported (nor pulled from an archive)."""
    kept: set[int] = set()
    gone: set[int] = set()
    for sec in elf.sections:
        if sec.type in (E.SHT_REL, E.SHT_RELA):
            uses = gone if sec.index in dropped or sec.info in dropped else kept
            uses.update(row[2] for row in elf.reloc_rows(sec))
    symbols = elf.symbols
    return {symbols[i].name for i in gone - kept
            if i < len(symbols) and symbols[i].shndx == E.SHN_UNDEF}


class _Veneers:
    """Veneers a family needs for calls its branches cannot make (``Arch.veneer``).

    One veneer per (caller state, target); every call relocation planned
    here branches to its veneer instead, and the veneer's literal word gets
    an absolute relocation against the real target.
    """

    def __init__(self):
        self.planned: dict[tuple, tuple[int, object]] = {}   # key -> (offset in glue, Veneer)
        self.calls: dict[tuple, tuple] = {}                  # (object, site) -> key
        self.targets: dict[tuple, object] = {}               # key -> import name | (input, symbol)
        self.code = b""
        self.base = 0
        self.abs_type = 0

    def add(self, n: int, rsec_index: int, r, key: tuple, veneer, target) -> None:
        if key not in self.planned:
            off = len(self.code)
            self.planned[key] = (off, veneer)
            self.targets[key] = target
            self.code += veneer.code
        self.calls[n, rsec_index, r.offset] = key

    def entry_for(self, n: int, rsec_index: int, offset: int) -> int | None:
        key = self.calls.get((n, rsec_index, offset))
        if key is None:
            return None
        off, veneer = self.planned[key]
        return self.base + off + veneer.entry

    def literals(self, text: bytearray, addr: dict, export_addr: dict, order: str) -> list:
        """Write each veneer's target word; return the relocations the loader applies to it."""
        out = []
        for key, (off, veneer) in self.planned.items():
            P = self.base + off + veneer.literal
            target = self.targets[key]
            if key[1] == "import":
                out.append(OutReloc(P, self.abs_type, target, 0, ".text"))
                continue
            owner, d = target
            t_out, t_off = owner.placed[d.shndx]
            S = t_off + d.value
            WORD[order, 4].pack_into(text, P - addr[".text"], S & 0xFFFFFFFF)
            out.append(OutReloc(P, self.abs_type, t_out, S - addr[t_out], ".text"))
        return out


def _plan_veneers(objects, dropped_groups, resolver, arch, profile) -> _Veneers:
    """Find the calls that need a veneer: to imports, or to code in the other ARM/Thumb state."""
    plan = _Veneers()
    if not hasattr(arch, "veneer"):
        return plan
    plan.abs_type = arch.ABS32
    for n, inp in enumerate(objects):
        elf = inp.elf
        drop = dropped_groups.get(n, ())
        for rsec in elf.sections:
            if rsec.type not in (E.SHT_REL, E.SHT_RELA) or rsec.index in drop or \
                    classify(elf.sections[rsec.info]) is None:
                continue
            for r in elf.relocations(rsec):
                recipe = arch.relocations.get(r.type)
                if recipe is None or not getattr(recipe, "call", False):
                    continue
                from_thumb = getattr(recipe, "thumb", False)
                sym = elf.symbols[r.sym]
                if sym.bind != E.STB_LOCAL and sym.type != E.STT_SECTION and \
                        sym.name not in resolver.defs and sym.name not in resolver.commons:
                    key = (from_thumb, "import", sym.name)
                    target = sym.name
                else:
                    d = sym if sym.bind == E.STB_LOCAL else resolver.defs[sym.name].sym
                    owner = inp if sym.bind == E.STB_LOCAL else resolver.defs[sym.name].inp
                    if d.type != E.STT_FUNC or bool(d.value & 1) == from_thumb or \
                            not 0 < d.shndx < len(owner.elf.sections):
                        continue                          # same state (or data): a direct branch
                    key = (from_thumb, "local", id(owner), d.index)
                    target = (owner, d)
                plan.add(n, rsec.index, r, key, arch.veneer(profile, from_thumb=from_thumb), target)
    return plan


class _Linked(Record):
    """A link in memory, with what the debug file needs (:mod:`gamevm_build.link.debugfile`)."""

    image: ModuleImage
    section_map: list[MapEntry]
    warnings: list[str]
    objects: list[_Input]                       # each with where its sections were placed
    dropped_groups: dict[int, set[int]]
    export_addr: dict[str, tuple[int, str | None]]


def link(target: str | Profile, inputs, *, name: str, needs=(), entry: str | None = None,
         sources=None, emission: str = "stc") -> tuple[ModuleImage, list[MapEntry], list[str]]:
    """Link ``inputs`` into an in-memory :class:`ModuleImage` (no file written)."""
    linked = _link(target, inputs, name=name, needs=needs, entry=entry, sources=sources,
                   emission=emission)
    return linked.image, linked.section_map, linked.warnings


def _link(target: str | Profile, inputs, *, name: str, needs=(), entry: str | None = None,
          sources=None, emission: str = "stc") -> _Linked:
    from . import emission as emission_formats
    profile = load_profile(target) if isinstance(target, str) else target
    arch = get_arch(profile.arch)
    fmt = emission_formats.get(emission)
    if not inputs:
        raise InputError("no input files: give at least one .c/.s/.o/.a file")
    # section classes are remembered for one link: names repeat across its objects, not
    # across links (-ffunction-sections names one per function), so in a long-lived process
    # (SCons) the table would only grow
    _CLASSIFIED.clear()
    objects, archives = load_inputs(inputs, profile, sources)
    resolver = _Resolver()
    for inp in objects:
        resolver.add(inp)
    if archives:
        _pull_archives(resolver, objects, archives, profile, arch)
    if not objects:
        raise InputError("no objects to link: the archives given define nothing the module needs "
                         "(a module made only of archives pulls no members)")
    for inp in objects:
        # thread sections carry only what the declared format relocates (docs/formats.md)
        emission_formats.check_object(inp.elf, profile.arch, fmt, arch.type_name)
    # the duplicate COMDAT groups' sections per input, as the resolver found them: it was
    # given ``objects`` in order (archive members as they were pulled)
    assert len(resolver.dropped) == len(objects)
    dropped_groups = {n: drop for n, drop in enumerate(resolver.dropped) if drop}
    warnings: list[str] = []

    veneers = _plan_veneers(objects, dropped_groups, resolver, arch, profile)

    # --- place input sections --------------------------------------------------------------
    buckets: dict[str, list[tuple[_Input, E.Section]]] = {o: [] for o in OUTPUT_ORDER}
    classified = _CLASSIFIED.get
    for n, inp in enumerate(objects):
        drop = dropped_groups.get(n, ())
        for sec in inp.elf.sections:
            if sec.index in drop:
                continue
            if sec.flags & _ALLOC_TLS == _ALLOC_TLS:
                raise LinkError(f"{inp.elf.name}: section {sec.name} holds thread-local data; "
                                "GameVM consoles have no TLS: remove __thread/_Thread_local")
            out = classified((sec.name, sec.type, sec.flags), _UNSEEN)   # classify(), inline
            if out is _UNSEEN:
                out = classify(sec)
            if out is not None:
                buckets[out].append((inp, sec))
    for out in (".init_array", ".fini_array", ".ctors", ".dtors"):
        buckets[out].sort(key=lambda item: _sort_key(out, item[1]))

    sections: dict[str, bytearray] = {}
    addr: dict[str, int] = {}
    out_align: dict[str, int] = {}
    sizes: dict[str, int] = {}
    section_map: list[MapEntry] = []
    cursor = 0
    data_started = False
    common_syms: dict[str, int] = {}
    for out in OUTPUT_ORDER:
        items = buckets[out]
        if out == ".bss":
            commons = [(n, c) for n, c in resolver.commons.items() if n not in resolver.defs]
        else:
            commons = []
        glue = veneers.code if out == ".text" else b""
        if not items and not commons and not glue:
            continue
        align = max([max(s.addralign, 1) for _, s in items] + [c[1] for _, c in commons] + [4])
        if align > MAX_ALIGN:
            _refuse_alignment(items, commons, sources)
        if out in DATA_SECTIONS and not data_started:
            align = max(align, DATA_SEGMENT_ALIGN)
            data_started = True
        cursor = _align(cursor, align)
        addr[out] = cursor
        out_align[out] = align
        buf = bytearray()
        for inp, sec in items:
            off = len(buf)
            if sec.addralign > 1:
                off = _align(off, sec.addralign)
                buf.extend(b"\0" * (off - len(buf)))
            if sec.type == E.SHT_NOBITS:
                buf.extend(b"\0" * sec.size)
            else:
                buf.extend(sec.data)
            inp.placed[sec.index] = (out, cursor + off)
            section_map.append(_new(MapEntry, (inp.elf.name, sec.name, out, cursor + off,
                                               sec.size)))
        if glue:
            off = _align(len(buf), 4)
            buf.extend(b"\0" * (off - len(buf)) + glue)
            veneers.base = cursor + off
            section_map.append(MapEntry("<interworking and long-call veneers>", ".glue",
                                        out, cursor + off, len(glue)))
        for cname, (csize, calign, first) in commons:
            off = _align(len(buf), calign)
            buf.extend(b"\0" * (off + csize - len(buf)))
            common_syms[cname] = cursor + off
            section_map.append(MapEntry(first.elf.name, "COMMON", out, cursor + off, csize))
        sections[out] = buf
        sizes[out] = len(buf)
        cursor += len(buf)

    # --- symbols -------------------------------------------------------------------------
    def unplaced_error(d: _Def) -> LinkError:
        sym = d.sym
        return LinkError(f"{d.inp.elf.name}: symbol '{sym.name}' is defined in section "
                         f"{_section_label(d.inp.elf, sym.shndx)}, which is not loaded "
                         "(debug/discarded); it cannot be referenced by a module")

    exports: list[OutSymbol] = []
    export_addr: dict[str, tuple[int, str | None]] = {}
    #: globals defined in sections the module does not load: as GNU ld, not an error
    #: until something refers to one
    unplaced: dict[str, _Def] = {}
    hidden: set[str] = set()
    for sname, d in resolver.defs.items():
        sym = d.sym
        if sym.shndx == E.SHN_ABS:
            value, out = sym.value, None
        else:
            placed = d.inp.placed.get(sym.shndx)
            if placed is None:
                unplaced[sname] = d
                continue
            value, out = placed[1] + sym.value, placed[0]
        export_addr[sname] = (value, out)
        if sym.visibility in (E.STV_HIDDEN, E.STV_INTERNAL):
            hidden.add(sname)
            continue
        exports.append(_new(OutSymbol, (sname, value, sym.size, sym.type, sym.bind, out)))
    for cname, off in common_syms.items():
        size = resolver.commons[cname][0]
        export_addr[cname] = (off, ".bss")
        exports.append(OutSymbol(cname, off, size, E.STT_OBJECT, E.STB_GLOBAL, ".bss"))
    unresolved = resolver.unresolved()
    imports = [OutSymbol(n, 0, 0, E.STT_NOTYPE, E.STB_WEAK if weak else E.STB_GLOBAL, None)
               for n, weak in sorted(unresolved.items())]
    # as GNU ld ("hidden symbol isn't defined"): a hidden reference is one the module
    # promised to define itself, so it cannot be bound to another module's symbol
    for hname, obj in resolver.hidden_undef.items():
        if hname in unresolved:
            raise LinkError(f"{obj}: symbol '{hname}' has hidden visibility but is not defined "
                            "in this module; define it in one of the module's objects, or "
                            "declare it without visibility(\"hidden\") to import it")

    locals_: list[OutSymbol] = []
    for inp in objects:
        placed = inp.placed
        for sym in inp.elf.symbols[1:]:
            if (sym.bind == E.STB_LOCAL and sym.type in (E.STT_FUNC, E.STT_OBJECT) and sym.name
                    and sym.shndx in placed):
                out, base_off = placed[sym.shndx]
                locals_.append(_new(OutSymbol, (sym.name, base_off + sym.value, sym.size,
                                                sym.type, E.STB_LOCAL, out)))
    for sname in sorted(hidden):
        value, out = export_addr[sname]
        d = resolver.defs[sname]
        locals_.append(OutSymbol(sname, value, d.sym.size, d.sym.type, E.STB_LOCAL, out))

    # --- relocations ---------------------------------------------------------------------
    # kept by the output section of their site, in link order (sorted by offset below)
    by_section: dict[str, list[OutReloc]] = {o: [] for o in OUTPUT_ORDER}
    new_reloc = _new
    order = "little" if profile.endian == "little" else "big"
    recipes, ignored = arch.relocations, arch.ignored
    via_veneers = bool(veneers.planned)
    # type -> (recipe, site struct, recipe.apply, recipe.pc_relative, recipe.size)
    by_type: dict[int, tuple] = {}
    for n, inp in enumerate(objects):
        elf = inp.elf
        symbols = elf.symbols
        placed = inp.placed
        drop = dropped_groups.get(n, ())
        # symbol index -> (S, output section or None, import name or None, S less the
        # output section's address): an object's relocations name few symbols many
        # times (section symbols above all)
        targets: dict[int, tuple] = {}
        for rsec in elf.sections:
            if rsec.type not in (E.SHT_REL, E.SHT_RELA) or rsec.info not in placed:
                continue
            if rsec.index in drop:
                continue
            tsec = elf.sections[rsec.info]
            tsize = tsec.size
            out, sec_off = placed[tsec.index]
            buf = sections[out]
            base_in_buf = sec_off - addr[out]
            keep = by_section[out].append
            entries = elf.reloc_rows(rsec)
            if rsec.type == E.SHT_REL:
                addends = arch.rel_addends(elf, tsec, entries)
            else:
                addends = [r[3] for r in entries]
            for (roff, rtype, rsym, _), A in zip(entries, addends):
                kind = by_type.get(rtype)           # never an ignored type's
                if kind is None:
                    if rtype in ignored:
                        if rtype in arch.fixups:
                            if roff + 4 > tsize:        # a marker of a word it lacks
                                raise RelocationError.past_end(elf.name, tsec.name, roff)
                            site = WORD[order, 4]
                            i = base_in_buf + roff
                            site.pack_into(buf, i, arch.fixup(profile, rtype,
                                                              site.unpack_from(buf, i)[0]))
                        continue
                    recipe = recipes.get(rtype)
                    if recipe is not None:
                        kind = by_type[rtype] = (recipe, WORD[order, recipe.size], recipe.apply,
                                                 recipe.pc_relative, recipe.size)
                if kind is None or roff + kind[4] > tsize:
                    sym = symbols[rsym]
                    where = location(elf.name, tsec.name, roff, sym.name or None)
                    recipe = arch.recipe(rtype, where=where, symbol=sym.name or None)
                    raise RelocationError.past_end(elf.name, tsec.name, roff, sym.name)
                recipe, site, apply, pc_relative, _ = kind
                # the target: internal (module offset + output section), absolute, or import
                target = targets.get(rsym)
                if target is None:
                    sym = symbols[rsym]
                    if rsym == 0:                   # STN_UNDEF: the symbol's value is 0
                        target = (0, None, None, 0)
                    elif sym.bind == E.STB_LOCAL or sym.type == E.STT_SECTION:
                        if sym.shndx == E.SHN_ABS:
                            target = (sym.value, None, None, 0)
                        elif sym.shndx in placed:
                            t_out, t_off = placed[sym.shndx]
                            target = (t_off + sym.value, t_out, None,
                                      t_off + sym.value - addr[t_out])
                        else:
                            tname = _section_label(elf, sym.shndx)
                            raise RelocationError(
                                f"{location(elf.name, tsec.name, roff, sym.name)}: refers to section {tname}, which is discarded; "
                                "only loadable sections can be referenced", obj=elf.name,
                                section=tsec.name, offset=roff, symbol=sym.name)
                    elif sym.name in export_addr:
                        S, t_out = export_addr[sym.name]
                        target = (S, t_out, None, 0 if t_out is None else S - addr[t_out])
                    elif sym.name in unplaced:
                        raise unplaced_error(unplaced[sym.name])
                    else:
                        target = (0, None, sym.name, 0)
                    targets[rsym] = target
                S, target_out, import_name, S_in_out = target
                if via_veneers:
                    via = veneers.entry_for(n, rsec.index, roff)
                    if via is not None:
                        S, target_out, import_name = via, ".text", None
                        S_in_out = via - addr[".text"]
                if pc_relative and import_name:
                    sym = symbols[rsym]
                    raise RelocationError(
                        f"{location(elf.name, tsec.name, roff, sym.name)}: {recipe.name()} to imported symbol '{sym.name}' cannot "
                        f"reach another module; {arch.far_reference_hint}",
                        obj=elf.name, section=tsec.name, offset=roff, symbol=sym.name,
                        rtype=recipe.name())
                i = base_in_buf + roff
                try:
                    site.pack_into(buf, i, apply(site.unpack_from(buf, i)[0], S, A,
                                                 sec_off + roff))
                except RelocationOverflow as exc:
                    sym = symbols[rsym]
                    where = location(elf.name, tsec.name, roff, sym.name or None)
                    raise RelocationError(f"{where}: {recipe.name()}: {exc}", obj=elf.name,
                                          section=tsec.name, offset=roff, symbol=sym.name,
                                          rtype=recipe.name()) from None
                if pc_relative:
                    if target_out is None:
                        raise RelocationError(f"{location(elf.name, tsec.name, roff)}: "
                                              f"{recipe.name()} against an absolute "
                                              "symbol cannot be relocated", obj=elf.name,
                                              section=tsec.name, offset=roff)
                    continue
                if import_name:
                    keep(new_reloc(OutReloc, (sec_off + roff, rtype, import_name, A, out)))
                elif target_out is not None:
                    keep(new_reloc(OutReloc, (sec_off + roff, rtype, target_out, S_in_out + A,
                                              out)))
                # absolute targets are final: nothing to do at load time

    if veneers.planned:
        for r in veneers.literals(sections[".text"], addr, export_addr, order):
            by_section[r.section].append(r)

    # by output section in layout order, then by offset (a stable sort: sites at the same
    # offset keep their input order)
    relocs: list[OutReloc] = []
    for rows in by_section.values():
        rows.sort(key=_OFFSET)
        relocs += rows
    image = ModuleImage(
        target=profile.name, name=name, needs=list(needs), e_flags=objects[0].elf.e_flags,
        e_machine=profile.e_machine, endian=profile.endian,
        sections={o: bytes(sections[o]) for o in OUTPUT_ORDER if o in sections},
        addresses=addr, alignments=out_align, exports=exports, imports=imports,
        locals=locals_, relocations=relocs, entry=entry, emission=fmt.name,
    )
    if entry and entry not in export_addr:
        raise LinkError(f"entry symbol '{entry}' is not defined in the module")
    return _Linked(image, section_map, warnings, objects, dropped_groups, export_addr)


def _refuse_alignment(items, commons, sources) -> None:
    """A LinkError naming the first input section or COMMON symbol aligned past what a
    loader places (:data:`MAX_ALIGN`), by its source where it was compiled."""
    def named(inp) -> str:
        return sources.name(inp.elf.name) if sources is not None else inp.elf.name
    for inp, sec in items:
        if sec.addralign > MAX_ALIGN:
            raise LinkError(f"{named(inp)}: section {sec.name} asks for {sec.addralign}-byte "
                            f"alignment; a module's sections may be aligned to at most "
                            f"{MAX_ALIGN} bytes (64 KiB, what every GameVM loader places): "
                            "lower its aligned() attribute or .balign")
    for cname, (_size, calign, first) in commons:
        if calign > MAX_ALIGN:
            raise LinkError(f"{named(first)}: common symbol '{cname}' asks for {calign}-byte "
                            f"alignment; a module's data may be aligned to at most {MAX_ALIGN} "
                            "bytes (64 KiB, what every GameVM loader places): lower its "
                            "aligned() attribute")


def _check_module_fields(name: str, needs: list[str], output: Path) -> None:
    """Refuse, before linking, a name or needs list that no GameVM loader would accept in
    the written module's metadata (module.check_metadata, gvm_meta.c)."""
    if not name or "\0" in name:
        raise LinkError(f"{output}: module name {name!r} must be a non-empty string without "
                        "NUL characters: give another name (the output's stem by default)")
    bad = [n for n in needs if not n or "\0" in n]
    if bad:
        raise LinkError(f"{output}: needed module name {bad[0]!r} must be a non-empty string "
                        "without NUL characters")
    if len(needs) > MAX_NEEDS:
        raise LinkError(f"{output}: module '{name}' needs {len(needs)} modules; a module may "
                        f"need at most {MAX_NEEDS} (what every GameVM loader records): merge "
                        "some of them, or load the others from the game's code")


def link_module(target, inputs, output, *, name: str | None = None, needs=(),
                resident=None, entry: str | None = None, map_file=None,
                sources=None, form: str = "plain", trusted: bool = False,
                emission: str = "stc") -> LinkResult:
    """Link ``inputs`` (.o/.a paths) into the module file ``output``.

    Parameters
    ----------
    target : str
        Profile name (``psx``, ``n64``...).
    inputs : list of path
        ELF relocatable objects and ``ar`` archives, in link order.
    output : path
        Module file to write (atomically).
    name : str, optional
        Module name recorded in the metadata (default: stem of ``output``).
    needs : list of str or path
        Modules this one imports from: built module files (their names and
        exports are read) or plain module names.
    resident : path, optional
        Resident ELF; when given, imports that neither it nor ``needs``
        provides are an error now rather than at load time.
    entry : str, optional
        Exported symbol recorded as the module's entry point.
    map_file : path, optional
        Write a link map (input section -> module offset).
    sources : gamevm_build.link.sources.SourceMap, optional
        The source file of each compiled object: messages (and the map) name
        it instead of the object, and code the CPU cannot run is reported at
        its source line.
    form : str
        Shipping form of the file (:data:`gamevm_build.link.shipform.FORMS`), or ``auto``:
        the one the load-time model loads soonest
        (:func:`gamevm_build.link.shipform.choose`).
    trusted : bool
        With ``auto``: the resident checks every module's digest (it links a trust
        table, docs/signing.md), so each form is also charged hashing its own file.
    emission : str
        Emission format of the module's threads (:mod:`gamevm_build.link.emission`,
        docs/formats.md): recorded in the metadata, and thread sections carrying a
        relocation it does not allow are refused.

    Raises
    ------
    InputError, LinkError, IsaError, RelocationError, UndefinedSymbolError
    """
    output = Path(output)
    profile = load_profile(target) if isinstance(target, str) else target
    need_names, need_mods = [], []
    for need in needs:
        p = Path(str(need))
        looks_like_file = p.suffix or os.sep in str(need) or "/" in str(need)
        if looks_like_file and not p.is_file():
            raise InputError(f"needed module '{need}' not found: give a built module file "
                             "or a plain module name")
        if looks_like_file:
            from .module import read_module
            mod = read_module(p)
            if mod.target != profile.name:
                raise InputError(f"{p}: needed module is for target {mod.target}, not "
                                 f"{profile.name}")
            need_mods.append(mod)
            need_names.append(mod.name)
        else:
            need_names.append(str(need))
    # the collector stays paused until the parsed inputs are gone (by reference count):
    # resumed with them alive, its first pass walks all of them
    with gc_paused():
        _check_module_fields(name or output.stem, need_names, output)
        linked = _link(profile, list(inputs), name=name or output.stem, needs=need_names,
                       entry=entry, sources=sources, emission=emission)
        image, smap, warnings = linked.image, linked.section_map, linked.warnings
        if resident is not None:
            from .resident import check_imports, read_resident  # pyelftools: only when needed
            res = read_resident(resident, profile)
            warnings += check_imports(image.name,
                                      {i.name: i.bind == E.STB_WEAK for i in image.imports},
                                      [x.name for x in image.exports], res, need_mods)
        from .debugfile import debug_path, module_debug_file, remove_stale

        debug, debug_warnings = module_debug_file(linked, profile, get_arch(profile.arch))
        warnings += debug_warnings
        del linked
        body = serialize(image)
    why = ""
    if form != "plain":
        from .shipform import FORMS, choose, convert
        if form == "auto":
            form, body, why = choose(body, path=str(output), trusted=trusted)
        elif form in FORMS:
            try:
                body = convert(body, form, path=str(output))
            except ValueError as exc:
                raise LinkError(str(exc)) from None
        else:
            raise ConfigError(f"form {form!r}: one of {', '.join(FORMS)} or auto")
    debug_file = debug_path(output) if debug is not None else None
    with Outputs() as outs:
        outs.write(output, body)
        if debug is not None:
            outs.write(debug_file, debug, "debug file")
    if debug is None:
        remove_stale(output)
    if map_file:
        _write_map(map_file, smap)
    return LinkResult(output, image, smap, warnings, debug_file, form, why)


def _write_map(path, smap: list[MapEntry]) -> None:
    lines = [f"{e.out_section:<12} 0x{e.offset:08x} 0x{e.size:06x} {e.obj}({e.section})"
             for e in smap]
    from ..fileutil import atomic_write
    atomic_write(path, ("\n".join(lines) + "\n").encode())
