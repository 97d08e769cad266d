"""Packed relocations (gamevm_build.link.packrel, docs/format.md "Packed relocations").

Unpacking gives back exactly the module's relocations (sites, types, targets, addends as
far as their fields keep them): on generated sets of every console's relocation types,
including addends a field cannot hold, and on every module of the example game, whose
relocations pack into at most 2 bytes each on every console.  Malformed packed data is a
ValueError, never another exception.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ALL_TARGETS, examples
from example_game import example_game  # noqa: F401  (fixture)
from gamevm_build.link.packrel import canonical, pack, packed_size, unpack


@dataclass(frozen=True)
class R:
    offset: int
    type: int
    type_name: str
    symbol: str
    addend: int
    is_import: bool


ARCHES = {
    "mips": {"R_MIPS_32": 2, "R_MIPS_26": 4, "R_MIPS_HI16": 5, "R_MIPS_LO16": 6},
    "m68k": {"R_68K_32": 1, "R_68K_16": 2, "R_68K_8": 3},
    "arm": {"R_ARM_ABS32": 2, "R_ARM_TARGET1": 38},
}
SECTIONS = {".text": 0, ".rodata": 0x600, ".data": 0x900}
IMAGE = 0x1000
IMPORTS = ["a_fn", "b_data", "c_fn", "zz"]


@st.composite
def relocation_sets(draw):
    arch = draw(st.sampled_from(sorted(ARCHES)))
    big = draw(st.booleans())
    types = ARCHES[arch]
    sites = draw(st.lists(st.integers(0, IMAGE // 4 - 2), min_size=1, max_size=60, unique=True))
    out = []
    for word in sites:
        t = draw(st.sampled_from(sorted(types)))
        off = word * 4 + (draw(st.sampled_from([0, 2])) if arch == "m68k" else 0)
        if t == "R_68K_8":
            off += draw(st.integers(0, 1))
        if draw(st.booleans()):
            sym, imp = draw(st.sampled_from(IMPORTS)), True
            addend = draw(st.sampled_from([0, 0, 4, -8, 0x12345, draw(st.integers(-2**31, 2**31))]))
        else:
            sym, imp = draw(st.sampled_from(sorted(SECTIONS))), False
            addend = draw(st.integers(-SECTIONS[sym], IMAGE - SECTIONS[sym]))
        out.append(R(off, types[t], t, sym, addend, imp))
        if t == "R_MIPS_HI16" and draw(st.booleans()):    # most HI16s have their LO16
            lo = off + 4 * draw(st.integers(1, 3))
            if lo + 4 <= IMAGE and all(r.offset != lo for r in out) and lo // 4 not in sites:
                out.append(R(lo, types["R_MIPS_LO16"], "R_MIPS_LO16", sym, addend, imp))
    # what the fields held before (the linker's values): any bytes, from a seed
    image = random.Random(draw(st.integers(0, 2**32))).randbytes(IMAGE)
    return out, image, types, big


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(relocation_sets())
def test_unpacking_gives_back_the_relocations(case):
    relocs, image, types, big = case
    p = pack(relocs, image, SECTIONS, IMPORTS, types, big=big)
    assert p.count == len(relocs) and len(p.image) == len(image)
    assert unpack(p.data, p.image, IMPORTS, types, big=big) == canonical(relocs, SECTIONS)


def test_a_field_that_cannot_hold_the_addend_is_explicit():
    types = ARCHES["mips"]
    relocs = [R(0, 4, "R_MIPS_26", ".text", 0x102, False),       # an unaligned target
              R(8, 5, "R_MIPS_HI16", "a_fn", 0x18000, True),      # no LO16 to pair with
              R(16, 2, "R_MIPS_32", ".data", 8, False)]
    p = pack(relocs, bytes(64), SECTIONS, IMPORTS, types, big=False)
    assert unpack(p.data, p.image, IMPORTS, types, big=False) == canonical(relocs, SECTIONS)
    assert p.image[16:20] == (0x908).to_bytes(4, "little")    # the module offset in place
    implicit = pack([relocs[2]], bytes(64), SECTIONS, IMPORTS, types, big=False)
    # type table 2, the module's group 1 + the site 1, four imports without any 4
    assert implicit.data == bytes([1, 2, 0x20 | 0x40 | 0x80, 4, 0xFF, 0xFF, 0xFF, 0xFF])
    assert len(implicit.data) < len(p.data)


@pytest.mark.parametrize("target", ALL_TARGETS)
def test_example_modules_pack_under_two_bytes_a_relocation(example_game, target):
    out = example_game(target)
    from gamevm_build.link.module import read_module
    total = count = 0
    for name in ("physics", "level1", "boss"):
        m = read_module((out / f"{name}.elf").read_bytes(), name=name)
        p = packed_size(m)
        types = {r.type_name: r.type for r in m.relocations}
        offsets = {n: off for n, (off, _b) in m.sections.items()}
        assert unpack(p.data, p.image, sorted(m.imports), types,
                      big=m.endian == "big") == canonical(m.relocations, offsets), name
        total, count = total + len(p.data), count + p.count
    assert count and total / count <= 2.0, (target, total, count)


def test_malformed_packed_data_is_a_value_error():
    types = ARCHES["mips"]
    relocs = [R(4 * i, 4, "R_MIPS_26", IMPORTS[i % 4], 0, True) for i in range(20)]
    p = pack(relocs, bytes(256), SECTIONS, IMPORTS, types, big=False)
    for cut in range(len(p.data)):
        with pytest.raises(ValueError):
            unpack(p.data[:cut], p.image, IMPORTS, types, big=False)
    with pytest.raises(ValueError):
        unpack(p.data + b"\0", p.image, IMPORTS, types, big=False)


@settings(max_examples=examples(200), deadline=None)
@given(st.binary(max_size=64))
def test_random_bytes_unpack_or_raise_value_error(data):
    types = ARCHES["arm"]
    try:
        unpack(data, bytes(0x1000), IMPORTS, types, big=True)
    except ValueError:
        pass
