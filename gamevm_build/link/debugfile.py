"""Debug files: the inputs' DWARF, kept beside a module or resident (docs/debugging.md).

A module ships without debug info, so it is byte-identical whether or not its
sources were compiled with ``-g``.  The DWARF goes to a separate ELF file
(``boss.elf`` -> ``boss.debug``) that binutils and gdb read like the output of
``objcopy --only-keep-debug``:

- the module's loadable sections as ``SHT_NOBITS`` at their module addresses
  (base 0), so ``add-symbol-file boss.debug -o BASE`` (or ``-s .text ADDR``) in
  gdb and ``addr2line -e boss.debug OFFSET`` work;
- every ``.debug_*`` section, the inputs' parts concatenated in link order, with
  their relocations applied by the linker's own recipes (:mod:`gamevm_build.arch`):
  a target in a loadable section becomes its module address, a target in a
  debug section the offset of that input's part;
- the module's symbols, locals too.

The resident is linked by GNU ld, which already relocates its DWARF: it is split
with ``objcopy`` (:func:`split_resident`).
"""

from __future__ import annotations

import struct
from pathlib import Path

from . import elf32 as E
from ..arch import WORD, RelocationOverflow
from ..errors import InputError, RelocationError, location

#: sh_flags bit of a compressed section (``-gz``): its parts cannot be concatenated
SHF_COMPRESSED = 0x800

DEBUG_SUFFIX = ".debug"


def debug_path(output) -> Path:
    """The debug file of ``output``: the same name with ``.debug`` for its suffix."""
    output = Path(output)
    path = output.with_suffix(DEBUG_SUFFIX)
    if path == output:
        raise InputError(f"{output}: output is named like its debug file; give the module or "
                         "resident another suffix (e.g. .elf)")
    return path


def remove_stale(output) -> None:
    """Remove the debug file an earlier ``-g`` build left beside ``output``: it describes
    code that is no longer there (only an ELF file is removed, never anything else)."""
    path = Path(output).with_suffix(DEBUG_SUFFIX)
    if path == Path(output):
        return
    try:
        with open(path, "rb") as f:
            if not path.is_file() or f.read(4) != E.ELFMAG:
                return
    except OSError:
        return
    path.unlink(missing_ok=True)


def is_debug_section(sec: E.Section) -> bool:
    return sec.name.startswith(".debug_") and sec.type not in (E.SHT_REL, E.SHT_RELA)


def has_debug(elf: E.ElfFile) -> bool:
    return any(map(is_debug_section, elf.sections))


def _load_flags(name: str) -> int:
    if name == ".text":
        return E.SHF_ALLOC | E.SHF_EXECINSTR
    if name == ".rodata":
        return E.SHF_ALLOC
    return E.SHF_ALLOC | E.SHF_WRITE


def module_debug_file(linked, profile, arch) -> tuple[bytes | None, list[str]]:
    """The debug file of a module link (``linker._Linked``) and its warnings.

    ``None`` when no input has debug sections (nothing compiled with ``-g``).
    """
    objects, dropped = linked.objects, linked.dropped_groups
    if not any(has_debug(inp.elf) for inp in objects):
        return None, []
    order = "little" if profile.endian == "little" else "big"
    warnings: list[str] = []
    # --- concatenate each .debug_* section over the inputs, in link order
    bodies: dict[str, bytearray] = {}
    headers: dict[str, E.Section] = {}             # first input's header: type, flags, entsize
    parts: dict[tuple[int, int], tuple[str, int]] = {}   # (input, shndx) -> (name, offset)
    for n, inp in enumerate(objects):
        drop = dropped.get(n, ())
        for sec in inp.elf.sections:
            if not is_debug_section(sec) or sec.index in drop:
                continue
            if sec.flags & SHF_COMPRESSED:
                raise InputError(f"{inp.elf.name}: section {sec.name} is compressed; the debug "
                                 "file needs plain DWARF: compile without -gz")
            body = bodies.setdefault(sec.name, bytearray())
            headers.setdefault(sec.name, sec)
            align = max(sec.addralign, 1)
            body.extend(b"\0" * (-len(body) % align))
            parts[n, sec.index] = (sec.name, len(body))
            body.extend(sec.data)
    # --- apply their relocations with the linker's recipes
    export_addr = linked.export_addr
    unknown: set[str] = set()
    for n, inp in enumerate(objects):
        elf = inp.elf
        for rsec in elf.sections:
            if rsec.type not in (E.SHT_REL, E.SHT_RELA) or (n, rsec.info) not in parts:
                continue
            tsec = elf.sections[rsec.info]
            name, base = parts[n, rsec.info]
            body = bodies[name]
            entries = elf.relocations(rsec)
            addends = (arch.rel_addends(elf, tsec, elf.reloc_rows(rsec))
                       if rsec.type == E.SHT_REL else [r.addend for r in entries])
            for r, A in zip(entries, addends):
                if r.type in arch.ignored:
                    continue
                recipe = arch.relocations.get(r.type)
                if recipe is None:
                    unknown.add(arch.type_name(r.type))
                    continue
                sym = elf.symbols[r.sym]
                if r.offset + recipe.size > tsec.size:
                    raise RelocationError.past_end(elf.name, tsec.name, r.offset, sym.name)
                S = _target(inp, n, sym, parts, export_addr)
                site = WORD[order, recipe.size]
                i = base + r.offset
                try:
                    site.pack_into(body, i, recipe.apply(site.unpack_from(body, i)[0], S, A, i))
                except RelocationOverflow as exc:
                    warnings.append(f"{location(elf.name, tsec.name, r.offset)}: debug info "
                                    f"not relocated ({recipe.name()}: {exc})")
    if unknown:
        warnings.append(f"debug info uses relocations the linker does not apply "
                        f"({', '.join(sorted(unknown))}); those fields are left as compiled")
    img = linked.image
    loadable = [(s, img.addresses[s], len(img.sections[s]), img.alignments[s])
                for s in img.sections]
    symbols = [(s.name, s.value, s.size, s.type, s.bind, s.section)
               for s in (*img.locals, *img.exports)]
    entry = next((s.value for s in img.exports if s.name == img.entry), 0)
    debug = [(name, headers[name], bytes(body)) for name, body in bodies.items()]
    return write_elf(profile, img.e_flags, E.ET_DYN, entry, loadable, debug, symbols), warnings


def _target(inp, n: int, sym: E.Symbol, parts, export_addr) -> int:
    """S of a debug relocation: where its symbol ended up (0 for discarded code, as ld)."""
    if sym.shndx == E.SHN_ABS:
        return sym.value
    placed = inp.placed.get(sym.shndx)
    if placed is not None:
        return placed[1] + sym.value
    part = parts.get((n, sym.shndx))
    if part is not None:
        return part[1] + sym.value
    if sym.name and sym.bind != E.STB_LOCAL and sym.name in export_addr:
        return export_addr[sym.name][0]
    return 0


def write_elf(profile, e_flags: int, e_type: int, entry: int, loadable, debug, symbols) -> bytes:
    """An ELF32 file of ``loadable`` sections as NOBITS, ``debug`` sections and a symbol table.

    ``loadable``: ``(name, address, size, align)``; ``debug``: ``(name, input header, bytes)``;
    ``symbols``: ``(name, value, size, type, bind, section name or None)``, locals first.
    """
    e = "<" if profile.endian == "little" else ">"
    shstr = bytearray(b"\0")

    def name_of(s: str) -> int:
        off = len(shstr)
        shstr.extend(s.encode() + b"\0")
        return off

    out = bytearray(E.EHDR_SIZE)
    headers = [(0,) * 10]
    index: dict[str, int] = {}
    for name, addr, size, align in loadable:
        index[name] = len(headers)
        headers.append((name_of(name), E.SHT_NOBITS, _load_flags(name), addr, len(out), size,
                        0, 0, align, 0))
    for name, sec, body in debug:
        align = max(sec.addralign, 1)
        out.extend(b"\0" * (-len(out) % align))
        headers.append((name_of(name), sec.type, sec.flags & (E.SHF_MERGE | E.SHF_STRINGS), 0,
                        len(out), len(body), 0, 0, align, sec.entsize))
        out.extend(body)
    strtab = bytearray(b"\0")
    syms = [struct.pack(e + "IIIBBH", 0, 0, 0, 0, 0, 0)]
    first_global = None
    for name, value, size, stype, bind, section in symbols:
        if bind != E.STB_LOCAL and first_global is None:
            first_global = len(syms)
        syms.append(struct.pack(e + "IIIBBH", len(strtab), value, size, (bind << 4) | stype, 0,
                                index[section] if section in index else E.SHN_ABS))
        strtab.extend(name.encode() + b"\0")
    symtab_idx = len(headers)
    out.extend(b"\0" * (-len(out) % 4))
    headers.append((name_of(".symtab"), E.SHT_SYMTAB, 0, 0, len(out), len(syms) * E.SYM_SIZE,
                    symtab_idx + 1, first_global or len(syms), 4, E.SYM_SIZE))
    out.extend(b"".join(syms))
    headers.append((name_of(".strtab"), E.SHT_STRTAB, 0, 0, len(out), len(strtab), 0, 0, 1, 0))
    out.extend(strtab)
    shstr_idx = len(headers)
    headers.append((name_of(".shstrtab"), E.SHT_STRTAB, 0, 0, len(out), 0, 0, 0, 1, 0))
    headers[-1] = headers[-1][:5] + (len(shstr),) + headers[-1][6:]
    out.extend(shstr)
    out.extend(b"\0" * (-len(out) % 4))
    shoff = len(out)
    for h in headers:
        out.extend(struct.pack(e + "10I", *h))
    ident = E.ELFMAG + bytes([E.ELFCLASS32, 1 if profile.endian == "little" else 2, 1, 0]) + bytes(8)
    out[:E.EHDR_SIZE] = ident + struct.pack(
        e + "HHIIIIIHHHHHH", e_type, profile.e_machine, 1, entry, 0, shoff, e_flags,
        E.EHDR_SIZE, 0, 0, E.SHDR_SIZE, len(headers), shstr_idx)
    return bytes(out)


def inputs_have_debug(paths) -> bool:
    """Whether any of the objects or archive members at ``paths`` has DWARF.

    Only the inputs given count: Debian's and Arm's libgcc carry line info for their
    assembly helpers, which must not make every build write a debug file.
    """
    from ..fileutil import read_input

    for path in map(str, paths):
        try:
            data = read_input(path, "input")
        except OSError:
            continue                      # reported by the link itself
        blobs = [m.data for m in E.read_archive(data, path)] if E.is_archive(data) else [data]
        for blob in blobs:
            try:
                if has_debug(E.parse(blob, path, want_symbols=False)):
                    return True
            except InputError:
                continue
    return False


def split_resident(tc, linked: Path, keep: bool) -> bytes | None:
    """Strip ``linked`` (a resident ld wrote) of debug info in place; return its debug file.

    Always stripped, so the resident is the same bytes with or without ``-g``
    (``-g`` also changes the ``STT_FILE`` symbols, which stripping drops); the
    debug file (``objcopy --only-keep-debug``) only when ``keep`` and there is DWARF.
    """
    from ..errors import ToolchainError
    from .toolchain import run

    debug = None
    keep = keep and has_debug(E.parse(linked.read_bytes(), str(linked), want_symbols=False))
    try:
        objcopy = tc.tool("objcopy")
    except ToolchainError:
        if keep:
            raise
        return None          # a toolchain without objcopy (a custom prefix): ld's file as is
    if keep:
        out = linked.with_name(linked.name + DEBUG_SUFFIX)
        run([objcopy, "--only-keep-debug", str(linked), str(out)])
        debug = out.read_bytes()
    run([objcopy, "--strip-debug", str(linked)])
    return debug
