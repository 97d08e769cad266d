"""The console-side runtime's CPU-specific parts, called one by one on the emulated CPU,
against the Python models they mirror.

gvm_reloc.c holds one table per CPU family: the relocation types a module may carry
(their field sizes, overflow checks, the addends a packed module keeps in place, the
patching loop) and safe mode's test for a return address.  The differential tests load
whole modules, which reach only the values a compiler happens to emit; here each function
meets every type number, boundary values of every field, every alignment of a site, and
every form of call with each of its bits flipped, on every console's CPU and byte order.

The runtime is one translation unit whose parts are static, so a probe (C that includes
gvm_reloc.c and exports thin wrappers, :func:`~gamevm_build.runtime.build.link_probe`)
is linked alone at the resident's base and called there.  The oracles:
:mod:`gamevm_build.arch`'s recipes (what the host's linker and reference loader apply),
:mod:`gamevm_build.link.packrel` (the addends a packed module keeps) and the CPU models'
``is_return_address`` (what the reference loader's unwinder takes for a call).  Written
for the sites a psx mutation sample never draws (``bench/mutation_c.py --console segacd
--specific``: the 68000's and ARM's own branches)."""

from __future__ import annotations

import random

import pytest

from conftest import ALL_TARGETS
from gamevm_build.arch import RelocationOverflow, get_arch, sext
from gamevm_build.link import packrel

MASK32 = 0xFFFFFFFF
FAMILIES = ("mips", "m68k", "arm")          # GVM_FAMILY_MIPS, _M68K, _ARM in gvm_int.h

PROBE = r"""
#include "gvm_reloc.c"
u32 probe_size(u32 family, u32 type) { return gvm_reloc_size(family, type); }
u32 probe_may_overflow(u32 type) { return gvm_reloc_may_overflow(type); }
int probe_check(u32 type, u32 S, u32 A, u32 P) { return gvm_reloc_check(type, S, A, P); }
u32 probe_field(u32 type, const u8 *site) { return gvm_reloc_field(type, site); }
void probe_relocate(const u8 *rela, u32 n, u32 base, const u32 *S)
{
    gvm_relocate(rela, n, base, S);
}
int probe_after_call(u32 v, u32 lo) { return gvm_after_call(v, lo); }
"""
ENTRIES = ["probe_size", "probe_may_overflow", "probe_check", "probe_field",
           "probe_relocate", "probe_after_call"]

_PROBES: dict = {}


@pytest.fixture(params=ALL_TARGETS)
def probe(request, tmp_path_factory):
    """``(machine with the probe loaded, the console's arch)``, built once per console."""
    from gamevm_build.emu.machine import Machine
    from gamevm_build.link.toolchain import find_toolchain
    from gamevm_build.project.profile import load_profile
    from gamevm_build.runtime.build import link_probe
    target = request.param
    if target not in _PROBES:
        profile = load_profile(target)
        m = Machine(profile)
        m.load_elf(link_probe(profile, find_toolchain(profile),
                              tmp_path_factory.mktemp(f"probe-{target}"), PROBE, ENTRIES))
        _PROBES[target] = m
    m = _PROBES[target]
    m.reset_scratch()
    return m, get_arch(m.profile.arch)


def loaded_types(arch) -> dict:
    """The types a module may carry (number -> recipe): the absolute ones; the linker
    resolves PC-relative ones inside the module."""
    return {n: r for n, r in arch.relocations.items() if not r.pc_relative}


def applied(recipe, word: int, S: int, A: int, P: int) -> int | None:
    """The field the host's recipe makes, None when the value does not fit."""
    try:
        return recipe.apply(word, S & MASK32, A, P) & ((1 << 8 * recipe.size) - 1)
    except RelocationOverflow:
        return None


#: values around every field's limits: signed and unsigned 8, 16, 26-bit jumps, segments
EDGES = sorted({e + d & MASK32 for e in (0, 0x80, 0x100, 0x8000, 0x10000, 0x0FFFFFFC,
                                          0x10000000, 0x80000000, 0x7FFFFF80, 0xFFFF8000,
                                          0xFFFFFF80, 0x8FFFFFFC)
                for d in (-2, -1, 0, 1, 2, 4)})


def test_the_runtime_knows_the_types_a_module_may_carry_and_their_sizes(probe):
    """``gvm_reloc_size(family, type)``, for every type number 0-255 of every family (a
    resident reads another console's module well enough to call it foreign): the field
    size of the family's absolute types, 0 for the others, PC-relative ones included."""
    m, _ = probe
    for fi, family in enumerate(FAMILIES):
        types = loaded_types(get_arch(family))
        got = {t: m.call("probe_size", fi, t) for t in range(256)}
        assert got == {t: types[t].size if t in types else 0 for t in range(256)}, family


def test_the_runtime_refuses_the_values_the_host_refuses(probe):
    """``gvm_reloc_check(type, S, A, P)`` refuses exactly the values the host's recipe
    cannot fit (an odd jump target, one outside the jump's 256 MB segment, a 68000 short
    or byte past its signed and unsigned range), for values around every limit, and
    ``gvm_reloc_may_overflow`` says which types it can refuse."""
    m, arch = probe
    addends = (0, 1, 2, MASK32, 0x8000, 0xFFFF8000)
    places = (0x80010000, 0x8FFFFFF8, 0x8FFFFFFC, 0x0FFFFFFC, 0x90000000, 0x00000100)
    wrong = []
    for t, recipe in loaded_types(arch).items():
        refusals = 0
        for S in EDGES:
            for A in addends:
                for P in places:
                    want = applied(recipe, 0, S, sext(A, 32), P) is None
                    refusals += want
                    got = m.call("probe_check", t, S, A, P) != 0
                    if got != want:
                        wrong.append(f"{recipe.name()} S=0x{S:x} A=0x{A:x} P=0x{P:x}: "
                                     f"runtime {'refuses' if got else 'takes'} it")
        assert (m.call("probe_may_overflow", t) != 0) == (refusals > 0), recipe.name()
    assert not wrong, f"{len(wrong)} disagree, e.g. " + "; ".join(wrong[:5])


def test_the_runtime_reads_a_packed_modules_addends_as_the_packer_stored_them(probe):
    """``gvm_reloc_field(type, site)``, the addend a packed module keeps in the field
    (:mod:`gamevm_build.link.packrel`): a word, a jump's target, a half, a 68000 short or
    byte sign-extended, from random fields at every alignment of the site."""
    m, arch = probe
    big = m.profile.endian == "big"
    rng = random.Random(f"field-{m.profile.name}")
    buf = m.alloc(16, align=16)
    for t, recipe in loaded_types(arch).items():
        for _ in range(24):
            data = rng.randbytes(12)
            m.write(buf, data)
            for off in range(4):
                want = packrel._load(recipe.name(), data, off, big) & MASK32
                got = m.call("probe_field", t, buf + off)
                assert got == want, f"{recipe.name()} at +{off} of {data.hex()}"


def test_the_runtime_patches_fields_as_the_host_recipes_do(probe):
    """``gvm_relocate`` over two RELA entries at a time (the second patching a field
    after the first's, so the loop's stride and the symbol index count), for every type,
    symbol values around every limit, and sites at every alignment: each field holds the
    host recipe's bytes, or stays as it was when the value does not fit; no other byte
    changes (a 68000 long at an odd site is written byte by byte, where a move.l would
    fault)."""
    m, arch = probe
    order = "big" if m.profile.endian == "big" else "little"
    rng = random.Random(f"relocate-{m.profile.name}")
    types = loaded_types(arch)
    area = m.alloc(64, align=16)
    rela = m.alloc(24, align=4)
    symbols = m.alloc(12, align=4)
    wrong = []
    for t, recipe in types.items():
        for S in EDGES:
            A = rng.choice((0, 4, 0x8000, 0xFFFFFFFC))
            offs = (rng.randrange(0, 8), rng.randrange(12, 24))
            before = rng.randbytes(32)
            m.write(area, before)
            m.write(symbols, (0x12345678).to_bytes(4, order) + S.to_bytes(4, order)
                    + (0x9ABCDEF0).to_bytes(4, order))
            entries = [(off, 1 << 8 | t, A) for off in offs]
            m.write(rela, b"".join(w.to_bytes(4, order) for e in entries for w in e))
            m.call("probe_relocate", rela, 2, area, symbols)
            want = bytearray(before)
            for off in offs:
                size = recipe.size
                word = int.from_bytes(want[off:off + size], order)
                field = applied(recipe, word, S, sext(A, 32), area + off)
                if field is not None:
                    want[off:off + size] = field.to_bytes(size, order)
            got = m.read(area, 32)
            if got != bytes(want):
                wrong.append(f"{recipe.name()} S=0x{S:x} A=0x{A:x} at +{offs}: "
                             f"{got.hex()} not {bytes(want).hex()}")
    assert not wrong, f"{len(wrong)} disagree, e.g. " + "; ".join(wrong[:3])


def _call_candidates(family: str, order: str, rng) -> list[bytes]:
    """The 8 bytes before a return address, per CPU family: every form of call the CPU
    model knows, each of its bits flipped, every primary opcode (and, for MIPS's SPECIAL
    and REGIMM, every function and rt) and random bytes."""
    def word(w: int) -> bytes:
        return w.to_bytes(4, order)

    def flips(w, bits):
        return [w] + [w ^ (1 << b) for b in range(bits)]

    noise = [rng.randbytes(8) for _ in range(64)]
    if family == "mips":
        calls = [0x0C000123, 0x0320F809, 0x04100005, 0x04110005, 0x04120005, 0x04130005]
        ws = [w for c in calls for w in flips(c, 32)]
        ws += [op << 26 | 0x00A0_0040 for op in range(64)]
        ws += [0x0080_0000 | (0x0321 << 11) | f for f in range(64)]            # SPECIAL
        ws += [1 << 26 | rt << 16 | 0x0005 for rt in range(32)]                 # REGIMM
        return [word(w) + bytes(4) for w in ws] + noise      # the call, its delay slot
    if family == "m68k":
        calls = [0x4E90, 0x4E97, 0x4EA8, 0x4EAF, 0x4EB0, 0x4EB7, 0x4EB8, 0x4EB9, 0x4EBA,
                 0x4EBB, 0x6100, 0x6101, 0x61FF]
        ops = sorted({o for c in calls for o in flips(c, 16)}
                     | set(range(0x4E80, 0x4F00)) | set(range(0x6000, 0x6200, 0x11)))
        out = []
        for op in ops:                      # the op 2, 4 and 6 bytes before the address
            for back in (2, 4, 6):
                b = bytearray(8)
                b[8 - back:10 - back] = op.to_bytes(2, "big")
                out.append(bytes(b))
        return out + noise
    arm = [0xEB000010, 0x0B000010, 0xE1A0E00F, 0x01A0E00F]       # bl, mov lr, pc
    ws = [w for c in arm for w in flips(c, 32)] + [c << 24 | 0x0012_3450 for c in range(256)]
    out = [bytes(4) + word(w) for w in ws]
    out += [word(w) + bytes(4) for w in ws if w & 0x0FFFFFFF == 0x01A0E00F]
    halves = [x << 11 | 0x123 for x in range(32)]                # Thumb bl pairs and others
    out += [bytes(4) + hi.to_bytes(2, order) + lo.to_bytes(2, order)
            for hi in halves for lo in [x << 11 | 0x45 for x in range(32)]]
    return out + noise


def test_the_runtime_reads_a_call_before_an_address_as_the_cpu_model_does(probe):
    """Safe mode's test for a return address (``gvm_after_call(v, lo)``) against the CPU
    model the reference loader unwinds with (``is_return_address``), for every form of
    call and each of its bits flipped, every opcode near them, random bytes, every
    alignment of the address (bit 0 is ARM's Thumb state) and a module start ``lo``
    (4-aligned, as every module's base) 0, 4 or 8 bytes before it.  A call must lie
    inside the module: the model sees the bytes before ``lo`` as zeros, which no CPU
    calls with."""
    m, arch = probe
    order = "big" if m.profile.endian == "big" else "little"
    rng = random.Random(f"after-call-{m.profile.name}")
    v0 = m.alloc(64, align=16) + 32
    # the call's bytes end at the address (bit 0 aside); the module starts before them
    places = [(v0 + a, v0 - n) for n in (0, 4, 8) for a in range(4)]
    wrong = []
    for cand in _call_candidates(arch.name, order, rng):
        for v, lo in places:
            end = v & ~1                        # where the call would end
            m.write(end - 8, cand)
            got = m.call("probe_after_call", v, lo) != 0
            outside = max(0, lo - (end - 8))
            m.write(end - 8, bytes(outside) + cand[outside:])
            want = m.cpu.is_return_address(m, v, lambda a: a >= lo)
            if got != want:
                wrong.append(f"{cand.hex()} before 0x{end:x}, v=0x{v:x}, lo=0x{lo:x}: "
                             f"runtime {got}, model {want}")
    assert not wrong, f"{len(wrong)} disagree, e.g. " + "; ".join(wrong[:5])
