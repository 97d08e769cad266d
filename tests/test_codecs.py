"""The console-side LZ4 decoder (gamevm_build/runtime/codec/gvm_lz4.c) on every console's
emulated CPU, against the lz4 package's encoder (gamevm_build.link.compress).

Real data (module images, source text) and generated data decode to the bytes that were
compressed, also in place with the documented margin; a corrupt or truncated block is
-1 and nothing is written outside the output buffer.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conftest import ALL_TARGETS, examples
from gamevm_build.emu.machine import Machine
from gamevm_build.link.compress import lz4_compress, lz4_decode, lz4_inplace_margin
from gamevm_build.runtime.build import link_codecs

REPO = Path(__file__).resolve().parents[1]
GUARD = b"\xa5" * 16
_MACHINES: dict = {}


def decoder(target, tmp_path_factory) -> tuple[Machine, int]:
    """A machine with gvm_lz4.c loaded (built once per console); its buffer's address."""
    if target not in _MACHINES:
        from gamevm_build.link.toolchain import find_toolchain
        from gamevm_build.project.profile import load_profile
        profile = load_profile(target)
        tc = find_toolchain(profile)
        elf = link_codecs(profile, tc, tmp_path_factory.mktemp(f"lz4-{target}"))
        m = Machine(profile)
        m.load_elf(elf)
        _MACHINES[target] = m
    m = _MACHINES[target]
    return m, m.profile.main_ram.start + m.profile.main_ram.size // 2


def decode(m: Machine, buf: int, block: bytes, size: int, *, in_place: bool = False,
           room: int | None = None) -> tuple[int, bytes, bytes, int]:
    """Run gvm_lz4_decode; ``(result, output, the guard bytes after it, instructions)``."""
    room = size if room is None else room
    out = buf + len(GUARD)
    if in_place:
        src = out + size + lz4_inplace_margin(len(block)) - len(block)
        end = out + size + lz4_inplace_margin(len(block))
    else:
        src = out + room + 2 * len(GUARD)
        end = out + room
    m.write(buf, GUARD)
    m.write(out, b"\x5a" * (end - out))
    m.write(end, GUARD)
    m.write(src, block)
    before = m.instructions
    r = m.call("gvm_lz4_decode", src, len(block), out, room)
    r = r - (1 << 32) if r >= 1 << 31 else r
    return r, m.read(out, max(r, 0)), m.read(buf, len(GUARD)) + m.read(end, len(GUARD)), \
        m.instructions - before


def samples() -> list[bytes]:
    rng = random.Random(14)
    text = (REPO / "gamevm_build" / "link" / "linker.py").read_bytes()[:6000]
    words = b" ".join(rng.choice([b"load", b"module", b"relocate", b"0x8001"]) for _ in range(900))
    return [text, words, bytes(rng.getrandbits(8) for _ in range(700)), b"\0" * 3000, b"x"]


@pytest.mark.parametrize("target", ALL_TARGETS)
def test_blocks_decode_to_what_was_compressed(target, tmp_path_factory):
    m, buf = decoder(target, tmp_path_factory)
    for data in samples():
        block = lz4_compress(data)
        r, out, guard, _n = decode(m, buf, block, len(data))
        assert (r, out, guard) == (len(data), data, GUARD * 2), target
        r, out, _guard, _n = decode(m, buf, block, len(data), in_place=True)
        assert (r, out) == (len(data), data), f"{target}: in place"


@pytest.mark.parametrize("target", ALL_TARGETS)
def test_corrupt_blocks_fail_without_writing_outside(target, tmp_path_factory):
    m, buf = decoder(target, tmp_path_factory)
    data = samples()[1]
    block = lz4_compress(data)
    r, _out, guard, _n = decode(m, buf, block, len(data), room=len(data) - 1)  # too small
    assert r == -1 and guard == GUARD * 2
    for cut in (1, len(block) // 3, len(block) - 1):                            # truncated
        r, _out, guard, _n = decode(m, buf, block[:cut], len(data))
        assert r in (-1, *range(len(data))) and guard == GUARD * 2
    r, _out, guard, _n = decode(m, buf, bytes([0x0F]) + b"\xff\xff", len(data))
    assert r == -1 and guard == GUARD * 2


@pytest.mark.parametrize("target", ALL_TARGETS)
@pytest.mark.parametrize("offset, want", [(4, b"abcdabcde"), (1, b"abcddddde"),
                                          (5, None), (0, None), (0xFFFF, None)])
def test_a_match_reaches_back_into_the_output_only(target, offset, want, tmp_path_factory):
    """Four literals, then a 4-byte match ``offset`` bytes back, then one literal: a match
    within what was written decodes (overlapping ones too); one reaching before the
    output's first byte, or an offset of 0, is a corrupt block (-1).  Written for the
    survivor gvm_lz4.c:gvm_lz4_decode:lcr_3 (``!off || off > ...`` made ``&&``: both
    decoded, from the bytes before the buffer)."""
    m, buf = decoder(target, tmp_path_factory)
    block = b"\x40abcd" + offset.to_bytes(2, "little") + b"\x10e"
    r, out, guard, _n = decode(m, buf, block, 9)
    assert (r, guard) == ((len(want), GUARD * 2) if want else (-1, GUARD * 2))
    assert want is None or out == want


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(block=st.binary(min_size=1, max_size=80), target=st.sampled_from(ALL_TARGETS))
def test_random_blocks_never_write_outside(block, target, tmp_path_factory):
    m, buf = decoder(target, tmp_path_factory)
    r, out, guard, _n = decode(m, buf, block, 256)
    assert -1 <= r <= 256 and guard == GUARD * 2


@st.composite
def blocks(draw):
    """A block the encoder wrote for random data, with a byte or two changed or cut
    short, or random bytes; and the room the decoder is given."""
    data = draw(st.binary(min_size=1, max_size=120) | st.sampled_from(samples()[1:]))
    block = bytearray(lz4_compress(data) if draw(st.booleans()) else draw(st.binary(max_size=60)))
    for _ in range(draw(st.integers(0, 2)) if block else 0):
        at = draw(st.integers(0, len(block) - 1))
        block[at] = draw(st.sampled_from((0, 1, 4, 0x0F, 0x10, 0xF0, 0xFF, block[at] ^ 1)))
    if block and draw(st.booleans()):
        block = block[:draw(st.integers(1, len(block)))]
    room = draw(st.sampled_from((len(data), len(data) - 1, len(data) + 1, 0, 4, 5, 256)))
    return bytes(block), max(room, 0)


@pytest.mark.parametrize("target", ALL_TARGETS)
@settings(max_examples=examples(60), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(case=blocks())
# a match that fills the room to its last byte, then an empty last sequence (the
# survivor gvm_lz4.c:gvm_lz4_decode:ror_9 refused a match that reaches the room's end)
@example(case=(bytes([0x40]) + b"abcd" + b"\x04\x00\x00", 8))
def test_any_block_decodes_as_the_mirror_decodes(target, case, tmp_path_factory):
    """The decoder and its Python mirror (compress.lz4_decode, which the reference loader
    uses) give the same result for any block and room: the same bytes, or -1 for both.
    The other tests check only that a bad block fails; a refusal with another value (the
    survivor gvm_lz4.c:gvm_lz4_decode:const_32, a match longer than the room returning
    -2) or a valid block refused was not told apart."""
    block, room = case
    m, buf = decoder(target, tmp_path_factory)
    r, out, guard, _n = decode(m, buf, block, room)
    want = lz4_decode(block, room)
    assert (r, out, guard) == ((len(want), want, GUARD * 2) if want is not None
                               else (-1, b"", GUARD * 2))
