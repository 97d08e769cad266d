"""Packed relocations: a module's relocations in about a byte and a half each.

A module carries 12-byte RELA entries plus the symbols they name (the example game:
22 bytes per relocation, its files 2.2x their loadable bytes).  Packed, a relocation
is a site offset and, for the few that need it, a partner: everything else is shared
or stored where the relocation applies.

* **Implicit addends** (REL, as the MIPS o32, ARM and 68000 ABIs define them): the value
  a relocation adds to its target is stored in the field it patches.  A target inside the
  module is its module offset, so the loader only adds the load base (RELR's idea); an
  import adds its symbol's address to what the field holds.  A MIPS ``R_MIPS_HI16``
  names the ``R_MIPS_LO16`` that completes its addend, as the o32 ABI pairs them.
* **Groups** of sites sharing a type and a target (the module, or one import), their
  offsets ascending and delta-encoded in units of the sites' alignment (ULEB128: a byte
  for sites less than 512 bytes apart), like GameCube REL's per-section lists and
  Android's packed relocations.
* An addend the field cannot hold (an ``R_MIPS_26`` to an odd target, a ``HI16``
  without a ``LO16`` of the same value) goes in a group of explicit addends.

Layout (numbers ULEB128, signed ones zig-zag encoded)::

    types used: count, their ELF numbers
    then for the module itself and each import in name order its groups (0xFF: none),
        each a byte (type index | explicit addends << 3 | log2 unit << 4 | one site << 6
        | last group << 7), [count when not one], per site: delta from the previous site
        / unit [, the HI16's partner delta / 2 | the explicit addend]

:func:`pack` turns a module's relocations and image into the packed bytes and the
image with the addends in place; :func:`unpack` gives the relocations back from those
two (:func:`canonical` is what "the same relocations" means: a target as a module offset
or an import, the addend as far as the field keeps it).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Packed", "pack", "decode", "unpack", "canonical", "packed_size"]

FORMAT = 1
_NONE = 0xFF                     # a target without relocations

#: field widths by type name: what of the addend a field keeps (bits), and how it is stored
_MIPS26, _HI16, _LO16 = "R_MIPS_26", "R_MIPS_HI16", "R_MIPS_LO16"
_WORD = {"R_MIPS_32", "R_ARM_ABS32", "R_ARM_TARGET1", "R_68K_32"}
_HALF = {"R_68K_16"}
_BYTE = {"R_68K_8"}
_SIZE = {**{t: 2 for t in _HALF}, **{t: 1 for t in _BYTE}}


@dataclass(frozen=True)
class Packed:
    data: bytes                 # the packed relocations
    image: bytes                # the module image with the implicit addends in place
    count: int                  # relocations

    @property
    def bytes_per_relocation(self) -> float:
        return len(self.data) / self.count if self.count else 0.0


def _uleb(out: bytearray, v: int) -> None:
    if v < 0:
        raise ValueError(f"negative value {v}")
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return


def _sleb(out: bytearray, v: int) -> None:
    _uleb(out, (v << 1) ^ (v >> 63) if -(1 << 62) <= v < 1 << 62 else _too_big(v))


def _too_big(v):
    raise ValueError(f"value {v} out of range")


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.at = data, 0

    def uleb(self) -> int:
        """A ULEB128 number of at most 32 bits (five bytes), as the console decodes them."""
        v = shift = 0
        while True:
            if self.at >= len(self.data):
                raise ValueError("packed relocations end inside a number")
            b = self.data[self.at]
            self.at += 1
            v |= (b & 0x7F) << shift
            shift += 7
            if v > 0xFFFFFFFF or (b & 0x80 and shift >= 35):
                raise ValueError("packed relocations: a number of more than 32 bits")
            if not b & 0x80:
                return v

    def sleb(self) -> int:
        z = self.uleb()
        return (z >> 1) ^ -(z & 1)


def _s32(v: int) -> int:
    """``v`` as the signed 32-bit number a loader's arithmetic sees (modulo 2**32)."""
    return ((v + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def canonical(relocs, section_offsets: dict) -> list[tuple]:
    """``(offset, type name, target, addend as the field keeps it)`` sorted: the target is
    ``("module", offset)`` for one inside the module, ``("import", name)`` else."""
    out = []
    for r in relocs:
        if r.is_import:
            target, value = ("import", r.symbol), r.addend
        else:
            target, value = ("module", None), section_offsets[r.symbol] + r.addend
        out.append((r.offset, r.type_name, target, _kept(r.type_name, value)))
    return sorted(out, key=lambda t: (t[0], t[1], str(t[2]), t[3]))


def _kept(type_name: str, v: int) -> int:
    if type_name == _LO16:
        return v & 0xFFFF
    if type_name in _HALF:
        return v & 0xFFFF
    if type_name in _BYTE:
        return v & 0xFF
    return v & 0xFFFFFFFF


def _field(image, off: int, size: int, big: bool) -> int:
    return int.from_bytes(image[off:off + size], "big" if big else "little")


def _put(image, off: int, size: int, v: int, big: bool) -> None:
    image[off:off + size] = (v & ((1 << 8 * size) - 1)).to_bytes(size, "big" if big else "little")


def _store(type_name: str, image, off: int, v: int, big: bool) -> bool:
    """Store addend value ``v`` in the field at ``off``; False when it cannot hold it."""
    if type_name in _WORD:
        if off + 4 > len(image):
            return False
        _put(image, off, 4, v, big)
    elif type_name in _HALF:
        if not -0x8000 <= v < 0x8000:      # the loader sign-extends the field
            return False
        _put(image, off, 2, v, big)
    elif type_name in _BYTE:
        if not -0x80 <= v < 0x80:
            return False
        _put(image, off, 1, v, big)
    elif type_name == _MIPS26:
        if v & 3 or not 0 <= v < 1 << 28:
            return False
        w = _field(image, off, 4, big)
        _put(image, off, 4, (w & 0xFC000000) | (v >> 2), big)
    elif type_name in (_HI16, _LO16):
        w = _field(image, off, 4, big)
        half = ((v + 0x8000) >> 16) if type_name == _HI16 else v
        _put(image, off, 4, (w & 0xFFFF0000) | (half & 0xFFFF), big)
    else:
        return False
    return True


def _load(type_name: str, image, off: int, big: bool) -> int:
    if type_name in _WORD:
        return _field(image, off, 4, big)
    if type_name in _HALF:
        return _sext(_field(image, off, 2, big), 16)
    if type_name in _BYTE:
        return _sext(_field(image, off, 1, big), 8)
    if type_name == _MIPS26:
        return (_field(image, off, 4, big) & 0x3FFFFFF) << 2
    return _field(image, off, 4, big) & 0xFFFF                 # HI16, LO16: the half


def _sext(v: int, bits: int) -> int:
    return v - (1 << bits) if v >> (bits - 1) & 1 else v


def _unit(sites) -> int:
    g = 0
    for s in sites:
        g |= s
    return 4 if not g & 3 else 2 if not g & 1 else 1


def pack(relocs, image: bytes, section_offsets: dict, imports, types: dict, *,
         big: bool) -> Packed:
    """Pack ``relocs`` (:class:`~gamevm_build.link.module.Reloc`) of a module whose image is
    ``image``; ``imports`` orders the import names, ``types`` maps type names to numbers."""
    img = bytearray(image)
    imp = {n: i for i, n in enumerate(imports)}
    rows = canonical(relocs, section_offsets)
    # a HI16's partner: a LO16 whose field holds the same low half (the o32 pairing; the
    # HI16's own field holds the rest: (hi << 16) + (s16)lo is the addend again)
    lo_by_half: dict = {}
    for off, t, _target, v in rows:
        if t == _LO16:
            lo_by_half.setdefault(v, []).append(off)
    full = {(r.offset, r.type_name): r.addend if r.is_import
            else section_offsets[r.symbol] + r.addend for r in relocs}
    groups: dict = {}
    written: set = set()
    for off, t, target, _v in rows:
        value = full[(off, t)]
        partner = None
        explicit = any(off + k in written for k in range(4))    # two relocations, one field
        if not explicit and t == _HI16:
            cands = lo_by_half.get(value & 0xFFFF, ())
            partner = min(cands, key=lambda p: (abs(p - off), p), default=None)
            explicit = partner is None or (partner - off) % 2 != 0
        if not explicit:
            explicit = not _store(t, img, off, value, big)
        if not explicit:
            written.update(range(off, off + (1 if t in _BYTE else 2 if t in _HALF else 4)))
        groups.setdefault((t, target, explicit), []).append((off, partner, value))
    table = sorted({types[t] for t, _target, _e in groups})
    out = bytearray()
    _uleb(out, len(table))
    for n in table:
        _uleb(out, n)
    index = {n: i for i, n in enumerate(table)}
    by_target: dict = {}
    for (t, target, explicit), sites in groups.items():
        by_target.setdefault(target, []).append((t, explicit, sites))
    if len(table) > 7:
        raise ValueError(f"packed relocations: {len(table)} relocation types (at most 7)")
    for target in [("module", None)] + [("import", n) for n in imports]:
        mine = sorted(by_target.get(target, ()), key=lambda g: (g[2][0][0], g[0], g[1]))
        if not mine:
            out.append(_NONE)
        for k, (t, explicit, sites) in enumerate(mine):
            unit = _unit(o for o, _p, _v in sites)
            out.append(index[types[t]] | int(explicit) << 3 | {1: 0, 2: 1, 4: 2}[unit] << 4
                       | int(len(sites) == 1) << 6 | int(k == len(mine) - 1) << 7)
            if len(sites) > 1:
                _uleb(out, len(sites))
            prev = 0
            for off, partner, value in sites:
                _uleb(out, (off - prev) // unit)
                prev = off
                if explicit:
                    _sleb(out, _s32(value))
                elif t == _HI16:
                    _sleb(out, (partner - off) // 2)
    return Packed(bytes(out), bytes(img), len(relocs))


def decode(data: bytes, image: bytes, imports, types: dict, *, big: bool) -> list[tuple]:
    """``(offset, type name, target, value)`` of every relocation packed in ``data`` over
    ``image``, in stream order: ``value`` is what the loader adds to the target (a
    ``LO16``'s the low half as stored).  ``ValueError`` names what is wrong."""
    names = {v: k for k, v in types.items()}
    rd = _Reader(data)
    table = []
    count = rd.uleb()
    if count > 7:
        raise ValueError(f"packed relocations: {count} relocation types (at most 7)")
    for _i in range(count):
        n = rd.uleb()
        if n not in names:
            raise ValueError(f"packed relocations: relocation type {n} is not this target's")
        table.append(names[n])
    out = []
    for target in [("module", None)] + [("import", n) for n in imports]:
        while True:
            if rd.at >= len(data):
                raise ValueError("packed relocations end inside a group")
            head = data[rd.at]
            rd.at += 1
            if head == _NONE:
                break
            if head & 7 >= len(table) or head >> 4 & 3 == 3:
                raise ValueError("packed relocations: a group of an unknown kind")
            t, explicit, unit = table[head & 7], head & 8, 1 << (head >> 4 & 3)
            off = 0
            for _s in range(1 if head & 0x40 else rd.uleb()):
                off += rd.uleb() * unit
                if off + _SIZE.get(t, 4) > len(image):
                    raise ValueError(f"packed relocations: a site at 0x{off:x} outside the "
                                     "module's loadable bytes")
                if explicit:
                    value = rd.sleb()
                elif t == _HI16:
                    partner = off + rd.sleb() * 2
                    if not 0 <= partner <= len(image) - 4:
                        raise ValueError(f"packed relocations: the R_MIPS_HI16 at 0x{off:x} "
                                         f"pairs with 0x{partner:x}, outside the module")
                    hi = _load(t, image, off, big)
                    lo = _load(_LO16, image, partner, big)
                    value = (hi << 16) + (lo - 0x10000 if lo & 0x8000 else lo)
                else:
                    value = _load(t, image, off, big)
                out.append((off, t, target, value))
            if head & 0x80:
                break
    if rd.at != len(data):
        raise ValueError(f"packed relocations: {len(data) - rd.at} bytes after the last group")
    return out


def unpack(data: bytes, image: bytes, imports, types: dict, *, big: bool) -> list[tuple]:
    """The relocations of ``data`` (packed by :func:`pack`) over ``image``, as
    :func:`canonical` lists them."""
    rows = [(off, t, target, _kept(t, value))
            for off, t, target, value in decode(data, image, imports, types, big=big)]
    return sorted(rows, key=lambda r: (r[0], r[1], str(r[2]), r[3]))


def packed_size(module) -> Packed:
    """:func:`pack` of a :class:`~gamevm_build.link.module.Module`."""
    image = bytearray(module.image_size)
    offsets = {}
    for name, (off, body) in module.sections.items():
        offsets[name] = off
        if isinstance(body, (bytes, bytearray)):
            image[off:off + len(body)] = body
    types = {}
    for r in module.relocations:
        types.setdefault(r.type_name, r.type)
    return pack(module.relocations, bytes(image), offsets, sorted(module.imports), types,
                big=module.endian == "big")
