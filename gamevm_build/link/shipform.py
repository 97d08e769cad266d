"""A module's shipping forms (issue #14): packed relocations and a compressed image.

``plain``
    The Minimal ELF module ``gamevm module`` writes (format 1, docs/format.md): RELA
    relocations, the loadable bytes stored as they are in memory.
``packed``
    Format 2: the ``.rela.*`` sections replaced by one ``.gvm.relpack`` section
    (:data:`SHT_GVM_RELPACK`) in :mod:`gamevm_build.link.packrel`'s encoding, the
    addends stored in the fields they patch.
``lz4``
    ``packed``, and the loadable bytes in one ``SHF_COMPRESSED`` section ``.gvm.image``:
    an ``Elf32_Chdr`` (``ch_type`` :data:`ELFCOMPRESS_GVM_LZ4`, ``ch_size`` the plain
    loadable bytes, ``ch_addralign`` the module's alignment) and one LZ4 block.  The
    loadable sections keep their addresses and sizes as ``SHT_NOBITS``; the loader reads
    the section to the end of the module's memory and decodes it in place.
``zx0``
    As ``lz4`` with one ZX0 block (``ch_type`` :data:`ELFCOMPRESS_GVM_ZX0`; ZX0 format 2
    by Einar Saukas): about 10 % fewer bytes than LZ4, decoded at about twice LZ4's
    cycles a byte, so it pays where the medium is slow against the CPU.  ZX0 has no
    closed-form in-place bound: the section's ``sh_entsize`` holds the exact margin the
    writer measured (0 for LZ4, whose bound follows from the block's size).

Everything else (symbols, strings, the note's keys but ``format`` and ``hash``) is the
plain module's, so ``readelf`` and ``nm`` read every form; ``gamevm pack --form plain``
gives a module ``objdump -d`` disassembles.  The format 2 note's ``hash`` is the
content hash of what a loader takes from the packed file (the relocations as
:func:`gamevm_build.link.packrel.decode` gives them back), so a loader checks a packed
module without unpacking it first.
"""

from __future__ import annotations

import struct

from . import elf32 as E
from .modformat import (CODE_SECTIONS, DATA_SECTIONS, SECTION_ORDER, TABLES, content_hash,
                        put_headers, put_strings_and_note, _StrTab, _pad)
from ..errors import ModuleFormatError

__all__ = ["FORMS", "CODECS", "SHT_GVM_RELPACK", "ELFCOMPRESS_GVM_LZ4", "ELFCOMPRESS_GVM_ZX0",
           "SHF_COMPRESSED", "CHDR_SIZE", "PACKED_FORMAT", "convert", "footprint",
           "file_image_size", "decoded_relocations"]

FORMS = ("plain", "packed", "lz4", "zx0")
CODECS = ("lz4", "zx0")           #: the forms with a compressed image
PACKED_FORMAT = 2                 #: the note's ``format`` of the packed forms
SHT_GVM_RELPACK = 0x80474D52      #: SHT_LOUSER + "GMR": packed relocations
ELFCOMPRESS_GVM_LZ4 = 0x60474D01  #: ELFCOMPRESS_LOOS range: one LZ4 block
ELFCOMPRESS_GVM_ZX0 = 0x60474D02  #: one ZX0 block (format 2, forward, end marker)
CH_TYPES = {"lz4": ELFCOMPRESS_GVM_LZ4, "zx0": ELFCOMPRESS_GVM_ZX0}
SHF_COMPRESSED = 0x800
CHDR_SIZE = 12                    #: Elf32_Chdr: ch_type, ch_size, ch_addralign


def lz4_margin(stored: int) -> int:
    """Bytes LZ4's in-place decoding needs after the output's end (``GVM_LZ4_INPLACE_MARGIN``
    of gvm_lz4.h, from the compressed bytes' size)."""
    return (max(stored - CHDR_SIZE, 0) >> 8) + 32


def inplace_margin(stored: int, sh_entsize: int) -> int:
    """Bytes the compressed image must end past the ``file_image`` bytes it decodes to:
    the ``.gvm.image`` section's ``sh_entsize`` (ZX0's measured margin), or when it is 0
    LZ4's bound from the ``stored`` bytes."""
    return sh_entsize if sh_entsize else lz4_margin(stored)


def footprint(image_size: int, file_image: int, stored: int | None, sh_entsize: int = 0) -> int:
    """Bytes a loader allocates for a module: its image, or for a compressed one enough to
    read the ``stored`` bytes of ``.gvm.image`` to the end and decode in place (the block,
    placed at a word boundary, ends at least :func:`inplace_margin` past the
    ``file_image`` bytes it decodes to)."""
    if stored is None:
        return image_size
    need = (file_image + inplace_margin(stored, sh_entsize) + 3 + 3) & ~3
    return max(image_size, need)


def file_image_size(sections) -> int:
    """The loadable bytes a file stores: up to the end of the last section but ``.bss``
    (``sections``: name -> (offset, size))."""
    return max((off + size for name, (off, size) in sections.items() if name != ".bss"),
               default=0)


def decoded_relocations(data: bytes, image: bytes, sections: dict, imports: dict, arch, *,
                        big: bool, fail) -> list:
    """The :class:`~gamevm_build.link.module.Reloc` objects packed in ``data`` (a
    ``.gvm.relpack``) over the module's stored bytes ``image``: each site inside a
    section with contents, an internal target through the module's first section (its
    offset taken from the value), each import's ``refs`` counted in ``imports`` (name ->
    Import, whose name order ranks them).  ``fail(message)`` raises for what is wrong."""
    from . import packrel
    from .module import Reloc
    numbers = _type_numbers(arch)
    try:
        rows = packrel.decode(data, image, sorted(imports), numbers, big=big)
    except ValueError as exc:
        fail(str(exc))
    spans = sorted((off, off + (b if isinstance(b, int) else len(b)), n)
                   for n, (off, b) in sections.items() if n != ".bss")
    first = next(n for n in SECTION_ORDER if n in sections)
    base = sections[first][0]
    out = []
    for off, t, target, value in rows:
        end = off + arch.relocations[numbers[t]].size
        where = next((n for lo, hi, n in spans if lo <= off and end <= hi), None)
        if where is None:
            fail(f"the relocation at 0x{off:x} does not lie inside a section with contents")
        if target[0] == "import":
            imports[target[1]].refs += 1
            out.append(Reloc(off, numbers[t], t, target[1], value, where, True))
        else:
            out.append(Reloc(off, numbers[t], t, first, value - base, where, False))
    return out


def _type_numbers(arch) -> dict[str, int]:
    return {arch.type_name(n): n for n, r in arch.relocations.items() if not r.pc_relative}


def packed_hash(module, relocs) -> str:
    """The note's ``hash`` of ``module`` carrying ``relocs`` (as a loader reads them)."""
    return content_hash(
        module.target, module.name, module.needs, module.entry, module.image_size,
        module.align, module.init,
        ((n, module.sections[n][0], module.section_size(n), module.sections[n][1])
         for n in SECTION_ORDER if n in module.sections),
        ((r.offset, r.type, r.symbol, r.addend) for r in relocs),
        module.hashed_symbols)


def convert(data: bytes, form: str, *, path: str = "<module>") -> bytes:
    """The module in ``data`` (any form) written in ``form``; a plain module asked for
    as plain comes back unchanged.  Raises what :func:`read_module` raises, and
    :class:`ValueError` when ``form`` cannot hold this module (``lz4`` of bytes that do
    not compress)."""
    from .module import read_module
    from . import packrel
    from ..arch import get_arch
    if form not in FORMS:
        raise ValueError(f"unknown form {form!r} (one of {', '.join(FORMS)})")
    module = read_module(data, name=path)
    if form == "plain" and module.form == "plain":
        return bytes(data)
    if form in CODECS and form not in module.profile.codecs:
        raise ValueError(f"{path}: target {module.target}'s runtime does not decode {form} "
                         f"(its profile's codecs: {', '.join(module.profile.codecs)})")
    elf = E.parse(data, path)
    arch = get_arch(module.profile.arch)
    big = module.endian == "big"
    image = bytes(module.unrelocated_image())
    file_image = file_image_size({n: (off, module.section_size(n))
                                  for n, (off, _b) in module.sections.items()})
    imports = sorted(module.imports)
    if form == "plain":
        relpack, relocs = None, _rela_rows(module)          # in the order the file holds them
    else:
        types = {r.type_name: r.type for r in module.relocations}
        offsets = {n: off for n, (off, _b) in module.sections.items()}
        packed = packrel.pack(module.relocations, image, offsets, imports, types, big=big)
        if packed.image[:file_image] != image[:file_image]:
            raise AssertionError(f"{path}: packing changed the image")   # the format's promise
        relpack = packed.data
        from .module import Import

        def fail(message: str):
            raise ModuleFormatError(f"{path}: .gvm.relpack: {message}")
        relocs = decoded_relocations(relpack, image[:file_image], module.sections,
                                     {n: Import(n, i.weak) for n, i in module.imports.items()},
                                     arch, big=big, fail=fail)
    meta = dict(module.metadata)
    meta["format"] = 1 if form == "plain" else PACKED_FORMAT
    meta["hash"] = packed_hash(module, relocs)
    stored_bytes, margin = None, 0
    if form in CODECS:
        stored_bytes, margin = _compressed(image[:file_image], form, module, path)
    return _write(elf, module, meta, relpack, relocs if form == "plain" else None,
                  image[:file_image], stored_bytes, margin)


def _compressed(image: bytes, form: str, module, path: str) -> tuple[bytes, int]:
    """``.gvm.image``'s contents (the Chdr and the block) and its ``sh_entsize``; ValueError
    when the block does not make the file smaller."""
    from . import compress
    file_image = len(image)
    margin = 0
    if form == "lz4":
        block = compress.lz4_compress(image) if file_image else b""
    else:
        block = compress.zx0_compress(image) if file_image else b""
        # at least 1: an sh_entsize of 0 stands for LZ4's bound
        margin = max(compress.zx0_inplace_margin(block, file_image), 1) if block else 1
    stored = CHDR_SIZE + len(block)
    # the section's header and Chdr cost 52 bytes: a block that does not save more
    # makes the file larger
    if not file_image or stored > footprint(module.image_size, file_image, stored, margin) \
            or stored + E.SHDR_SIZE >= file_image:
        raise ValueError(f"{path}: its {file_image} loadable bytes do not compress "
                         f"({form.upper()}: {len(block)} bytes and a 52-byte header); ship "
                         "it as 'packed'")
    chdr = struct.pack((">" if module.endian == "big" else "<") + "III", CH_TYPES[form],
                       file_image, module.align)
    return chdr + block, margin


def _rela_rows(module):
    """A packed module's relocations as a plain module's RELA rows in file order: by
    section, then offset (the target through the first section's symbol, as
    :func:`decoded_relocations` made them)."""
    return [r for s in SECTION_ORDER
            for r in sorted((r for r in module.relocations if r.section == s),
                            key=lambda r: r.offset)]


def _write(elf, module, meta: dict, relpack: bytes | None, relas, image: bytes,
           stored: bytes | None, margin: int = 0) -> bytes:
    """The file: ELF and program headers, relocations, the input's symbols and strings,
    the note, section names, section headers, then the image (stored or compressed)."""
    e = "<" if module.endian == "little" else ">"
    present = [s for s in SECTION_ORDER if s in module.sections]
    in_secs = {s.name: s for s in elf.sections}
    for i, name in enumerate(present, 1):
        if elf.sections[i].name != name:
            raise ModuleFormatError(f"{module.path}: section {i} is {elf.sections[i].name}, "
                                    f"not {name} (a module 'gamevm module' wrote?)")
    symtab, strtab = elf.sections[elf.symtab_index], elf.sections[elf.sections[
        elf.symtab_index].link]
    code = [s for s in present if s in CODE_SECTIONS]
    data = [s for s in present if s in DATA_SECTIONS]
    phnum = (1 if code else 0) + (1 if data else 0) + 1
    out = bytearray(E.EHDR_SIZE + phnum * E.PHDR_SIZE)
    shstr = _StrTab()
    headers = [(0,) * 10]
    compressed = stored is not None
    for s in present:
        sec = in_secs[s]
        stype = E.SHT_NOBITS if compressed or s == ".bss" else \
            (sec.type if sec.type != E.SHT_NOBITS else E.SHT_PROGBITS)
        headers.append((shstr.add(s), stype, sec.flags, sec.addr, sec.addr, sec.size, 0, 0,
                        sec.addralign, 4 if s in TABLES else 0))
    n = len(headers)
    symtab_idx = n + (1 if relpack is not None else len({r.section for r in relas}))
    if relpack is not None:
        headers.append((shstr.add(".gvm.relpack"), SHT_GVM_RELPACK, 0, 0, len(out),
                        len(relpack), symtab_idx, 0, 1, 0))
        out.extend(relpack)
    else:
        symindex = _symbol_indices(elf, present)
        for s in [s for s in present if any(r.section == s for r in relas)]:
            _pad(out, 4)
            rows = [r for r in relas if r.section == s]
            body = b"".join(struct.pack(e + "IIi", r.offset,
                                        symindex[(r.is_import, r.symbol)] << 8 | r.type,
                                        _s32(r.addend)) for r in rows)
            headers.append((shstr.add(".rela" + s), E.SHT_RELA, E.SHF_INFO_LINK, 0, len(out),
                            len(body), symtab_idx, present.index(s) + 1, 4, E.RELA_SIZE))
            out.extend(body)
    _pad(out, 4)
    headers.append((shstr.add(".symtab"), E.SHT_SYMTAB, 0, 0, len(out), symtab.size,
                    symtab_idx + 1, symtab.info, 4, E.SYM_SIZE))
    out.extend(symtab.data)
    note_off, note_len = put_strings_and_note(out, headers, shstr, strtab.data, meta, e)
    if compressed:
        headers.append((shstr.add(".gvm.image"), E.SHT_PROGBITS, SHF_COMPRESSED, 0, 0,
                        len(stored), 0, 0, 4, margin))
    shstr_idx = len(headers)
    name_off = shstr.add(".shstrtab")
    headers.append((name_off, E.SHT_STRTAB, 0, 0, len(out), len(shstr.data), 0, 0, 1, 0))
    out.extend(shstr.data)
    _pad(out, 4)
    shoff = len(out)
    max_align = max([in_secs[s].addralign for s in present] + [16])
    load_off = -(-(shoff + len(headers) * E.SHDR_SIZE) // max_align) * max_align
    if compressed:
        load_off = shoff + len(headers) * E.SHDR_SIZE      # the block, right after
    for i, h in enumerate(headers):
        if 1 <= i <= len(present):
            h = h[:4] + (load_off + h[4],) + h[5:]
        elif compressed and i == shstr_idx - 1:
            h = h[:4] + (load_off,) + h[5:]
        out.extend(struct.pack(e + "10I", *h))
    out.extend(b"\0" * (load_off - len(out)))
    out.extend(stored if compressed else image)

    def end(secs, bss):
        return max(in_secs[s].addr + in_secs[s].size for s in secs if bss or s != ".bss")
    phdrs = []
    if code:
        size = end(code, True)
        phdrs.append((E.PT_LOAD, load_off, 0, 0, 0 if compressed else size, size,
                      E.PF_R | E.PF_X, max(in_secs[s].addralign for s in code)))
    if data:
        start = in_secs[data[0]].addr
        file_end = max([in_secs[s].addr + in_secs[s].size for s in data if s != ".bss"]
                       + [start])
        phdrs.append((E.PT_LOAD, load_off + (0 if compressed else start), start, start,
                      0 if compressed else file_end - start, end(data, True) - start,
                      E.PF_R | E.PF_W, max(in_secs[s].addralign for s in data)))
    phdrs.append((E.PT_NOTE, note_off, 0, 0, note_len, 0, E.PF_R, 4))
    put_headers(out, e, module.endian, elf.e_machine, elf.e_entry, elf.e_flags, phdrs, shoff,
                len(headers), shstr_idx)
    return bytes(out)


def _symbol_indices(elf, present) -> dict:
    """(is import, name) -> symbol index: imports by name, sections by their symbol."""
    out = {}
    for sym in elf.symbols[1:]:
        if sym.type == E.STT_SECTION and 1 <= sym.shndx <= len(present):
            out.setdefault((False, present[sym.shndx - 1]), sym.index)
        elif sym.shndx == E.SHN_UNDEF:
            out[(True, sym.name)] = sym.index
    return out


def _s32(v: int) -> int:
    return ((v + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def form_costs(data: bytes, *, path: str = "<module>", media=None,
               trusted: bool = False) -> list[dict]:
    """What loading the module in ``data`` costs in each form, by the analyzer's model:
    per form its ``bytes`` on the medium, ``read_s`` (their transfer on the target's
    media model, or ``media``), ``cpu_s`` (:func:`gamevm_build.runtime.loadtime.cpu_steps`
    with every import bound; with ``trusted``, the SHA-256 of the file a resident that
    checks digests computes), of which ``decode_s`` is LZ4's, ``ram`` (what it takes),
    ``data`` (the file) — forms this module cannot take are left out."""
    from .module import read_module
    from ..project.media import default_model_for
    from ..runtime.loadcost import cpu_costs
    from ..runtime.loadtime import cpu_steps
    module = read_module(data, name=path)
    model = media if media is not None else default_model_for(module.profile)
    costs = cpu_costs(module.target, trusted=trusted)
    out = []
    for form in FORMS:
        try:
            blob = data if form == module.form else convert(data, form, path=path)
        except ValueError:
            continue
        m = module if blob is data else read_module(blob, name=path, verify_hash=False)
        cpu_s = sum(cpu_steps(costs, m, symbols=0, eager_imports=len(m.imports)).values())
        out.append({"form": form, "bytes": len(blob), "read_s": model.transfer_s(len(blob)),
                    "cpu_s": cpu_s, "decode_s": costs.seconds(costs.decode_cycles(m.form, m.decode_stats)),
                    "ram": -(-m.load_size // m.align) * m.align, "data": blob})
    return out


def choose(data: bytes, *, path: str = "<module>", media=None,
           trusted: bool = False) -> tuple[str, bytes, str]:
    """The form that loads the module soonest (its bytes' transfer plus the CPU's work);
    ``(form, file, why)``.

    A module's form changes only its own read and CPU time, which every transition that
    loads it adds up: the quickest form for the module is the quickest for each of them
    (the layout then places the files it gets).  An LZ4 image may take a little more RAM
    (its in-place margin, at most size / 256 + 38 bytes, where the module's bss does not
    cover it): the load-budget analyzer's memory check proves it still fits, and
    ``--form packed`` or ``plain`` keeps a module that does not fit.  ``trusted``: the
    resident checks every module's digest, so each byte saved also saves its hashing."""
    rows = form_costs(data, path=path, media=media, trusted=trusted)
    plain = next(r for r in rows if r["form"] == "plain")
    best = min(rows, key=lambda r: (r["read_s"] + r["cpu_s"], r["bytes"], FORMS.index(r["form"])))
    why = ("digests checked: " if trusted else "") + "; ".join(
        f"{r['form']} {r['bytes']} B: read {r['read_s'] * 1e3:.2f} ms + CPU "
        f"{r['cpu_s'] * 1e3:.2f} ms" + (f" (decode {r['decode_s'] * 1e3:.2f})" if r["decode_s"]
                                         else "")
        + (f", {r['ram'] - plain['ram']} B more RAM" if r["ram"] > plain["ram"] else "")
        for r in rows)
    return best["form"], best["data"], why
