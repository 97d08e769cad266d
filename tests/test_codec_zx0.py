"""The ZX0 codec (issue 14's stronger codec): the host encoder and mirror decoder
(gamevm_build.link.compress) and the console-side decoder (runtime/codec/gvm_zx0.c) on
every console's emulated CPU.

Data of many shapes round-trips; decoding in place works with the margin the mirror
computes and one byte less is caught as unsafe (a write overtakes input still to read);
the C decoder gives the mirror's bytes and status on valid, corrupted, truncated and
random blocks, and never writes outside its output.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ALL_TARGETS, examples
from gamevm_build.emu.machine import Machine
from gamevm_build.link.compress import (ZX0_MAX_OFFSET, lz4_compress, zx0_block_stats, zx0_compress,
                                        zx0_decode, zx0_decode_in_place, zx0_inplace_margin)
from gamevm_build.runtime.build import link_codecs

REPO = Path(__file__).resolve().parents[1]
GUARD = b"\xa5" * 16
_MACHINES: dict = {}


def samples() -> list[bytes]:
    rng = random.Random(140)
    text = (REPO / "gamevm_build" / "link" / "linker.py").read_bytes()[:5000]
    tiles = bytes(rng.choice((0x11, 0x12, 0x21, rng.randrange(256))) for _ in range(1500))
    far = bytes(rng.getrandbits(8) for _ in range(600))
    return [b"x", b"ab", text, tiles, bytes(rng.getrandbits(8) for _ in range(700)),
            b"\0" * 3000, far + b"\0" * (ZX0_MAX_OFFSET - 640) + far[:300]]


# data with matches near and far, runs, repeats of the last offset, and noise
chunks = st.one_of(
    st.binary(min_size=1, max_size=40),
    st.tuples(st.binary(min_size=1, max_size=8), st.integers(1, 60)).map(lambda t: t[0] * t[1]),
    st.sampled_from([b"load module ", b"\x00\x01\x00\x02", b"\xff" * 7]))
varied = st.lists(chunks, min_size=1, max_size=25).map(b"".join)


@settings(max_examples=examples(150), deadline=None)
@given(data=varied)
def test_round_trip_and_exact_in_place_margin(data):
    block = zx0_compress(data)
    assert zx0_decode(block, len(data)) == data
    assert zx0_decode(block, len(data) - 1) is None                # one byte too little room
    margin = zx0_inplace_margin(block, len(data))
    assert zx0_decode_in_place(block, len(data), margin) == (data, True)
    assert margin <= len(block)
    if margin:
        _out, safe = zx0_decode_in_place(block, len(data), margin - 1)
        assert not safe
    blocks, literals, matches = zx0_block_stats(block, len(data))
    assert literals + matches == len(data) and blocks >= 1


def test_samples_round_trip_and_compress_better_than_stored():
    for data in samples():
        block = zx0_compress(data)
        assert zx0_decode(block, len(data)) == data
        assert zx0_compress(data) == block                         # deterministic
    text = samples()[2]
    assert len(zx0_compress(text)) < len(lz4_compress(text))       # the stronger codec
    far = samples()[-1]           # the repeat lies 32,600 bytes back: still inside the window
    assert len(zx0_compress(far)) < 600 + 100


def test_a_block_that_writes_past_its_input_needs_a_margin():
    data = b"\0" * 4000                             # 4000 bytes out of 7: far ahead of its input
    block = zx0_compress(data)
    margin = zx0_inplace_margin(block, len(data))
    assert 0 < margin <= len(block)
    assert zx0_decode_in_place(block, len(data), margin) == (data, True)
    assert zx0_decode_in_place(block, len(data), margin - 1)[1] is False


def test_corrupt_blocks_are_rejected():
    data = samples()[2]
    block = zx0_compress(data)
    assert zx0_decode(block[:len(block) // 2], len(data)) is None    # ends early
    assert zx0_decode(b"", 10) is None
    with pytest.raises(ValueError):
        zx0_inplace_margin(block[:-1], len(data))
    # a new offset reaching before the output: literal 'a', then offset 128
    assert zx0_decode(bytes([0b11100101, ord("a"), 0x00, 0x00]), 100) is None


# --- the console-side decoder ----------------------------------------------------------------

def machine(target, tmp_path_factory) -> tuple[Machine, int]:
    """A machine with the decoders loaded (built once per console); a buffer's address."""
    if target not in _MACHINES:
        from gamevm_build.link.toolchain import find_toolchain
        from gamevm_build.project.profile import load_profile
        profile = load_profile(target)
        elf = link_codecs(profile, find_toolchain(profile), tmp_path_factory.mktemp(f"zx0-{target}"))
        m = Machine(profile)
        m.load_elf(elf)
        _MACHINES[target] = m
    m = _MACHINES[target]
    return m, m.profile.main_ram.start + m.profile.main_ram.size // 2


def decode(m: Machine, buf: int, block: bytes, size: int, *, margin: int | None = None):
    """gvm_zx0_decode on the console: ``(result, output, guard bytes)``; with ``margin``,
    in place (the block at the end of ``size + margin`` bytes)."""
    out = buf + len(GUARD)
    if margin is None:
        end = out + size
        src = end + 2 * len(GUARD)
    else:
        end = out + size + margin
        src = end - len(block)
    m.write(buf, GUARD)
    m.write(out, b"\x5a" * (end - out))
    m.write(end, GUARD)
    m.write(src, block)
    r = m.call("gvm_zx0_decode", src, len(block), out, size)
    r = r - (1 << 32) if r >= 1 << 31 else r
    return r, m.read(out, max(r, 0)), m.read(buf, len(GUARD)) + m.read(end, len(GUARD))


def mirror(block: bytes, size: int) -> tuple[int, bytes]:
    got = zx0_decode(block, size)
    return (-1, b"") if got is None else (len(got), got)


@pytest.mark.parametrize("target", ALL_TARGETS)
def test_console_decodes_what_was_compressed_also_in_place(target, tmp_path_factory):
    m, buf = machine(target, tmp_path_factory)
    for data in samples():
        block = zx0_compress(data)
        r, out, guard = decode(m, buf, block, len(data))
        assert (r, out, guard) == (len(data), data, GUARD * 2), target
        margin = zx0_inplace_margin(block, len(data))
        r, out, guard = decode(m, buf, block, len(data), margin=margin)
        assert (r, out, guard) == (len(data), data, GUARD * 2), f"{target}: in place"


@pytest.mark.parametrize("target", ALL_TARGETS)
def test_output_starting_where_the_input_ends_decodes(target, tmp_path_factory):
    """The output may start right where the input ends: nothing written is still to be
    read, so the decoder writes its first literals at the input's end and decodes the
    block whole.  Written for the survivor gvm_zx0.c:gvm_zx0_decode:ror_4 (``op < iend``
    made ``<=``: an output starting at the input's end was refused as overtaking it)."""
    m, buf = machine(target, tmp_path_factory)
    data = samples()[0]
    block = zx0_compress(data)
    src = buf + len(GUARD)
    out = src + len(block)
    end = out + len(data)
    m.write(buf, GUARD)
    m.write(src, block)
    m.write(out, b"\x5a" * len(data))
    m.write(end, GUARD)
    r = m.call("gvm_zx0_decode", src, len(block), out, len(data))
    assert r == len(data) and m.read(out, r) == data, target
    assert m.read(buf, len(GUARD)) + m.read(end, len(GUARD)) == GUARD * 2


@pytest.mark.parametrize("target", ALL_TARGETS)
def test_a_margin_too_small_is_refused_before_a_write_overtakes_the_input(target,
                                                                          tmp_path_factory):
    """In place with one byte less than the exact margin, a write would land on input
    still to be read: the console's decoder refuses (-1) as the module reader's mirror
    does (a module's margin is only as good as its file); with the margin it decodes."""
    from gamevm_build.link.compress import zx0_decode_at
    m, buf = machine(target, tmp_path_factory)
    data = bytes(range(64)) + bytes(4000) + bytes(range(64))   # output runs ahead of input
    block = zx0_compress(data)
    margin = zx0_inplace_margin(block, len(data))
    assert margin > 1
    for room, ok in ((margin, True), (margin - 1, False)):
        r, out, guard = decode(m, buf, block, len(data), margin=room)
        assert guard == GUARD * 2
        assert (r == len(data) and out == data) if ok else r == -1, (target, room)
        total = len(data) + room                   # the mirror, with a Chdr before the block
        stored = bytes(12) + block
        got, safe = zx0_decode_at(stored, len(data), total, total - len(stored))
        assert (got == data and safe) if ok else (got is None and not safe)


@pytest.mark.parametrize("target", ALL_TARGETS)
def test_console_agrees_with_the_mirror_on_corrupt_blocks(target, tmp_path_factory):
    m, buf = machine(target, tmp_path_factory)
    rng = random.Random(target)
    data = samples()[3]
    block = zx0_compress(data)
    cases = [(block, len(data) - 1), (block, len(data) + 5)]          # too small, roomy
    # a first literal run of 64 bytes: longer than the output's room, or than what is left
    # of the block
    literal = zx0_compress(bytes(rng.randrange(256) for _ in range(64)))
    cases += [(literal, 10), (literal[:20], 64)]
    cases += [(block[:cut], len(data)) for cut in (1, 2, len(block) // 3, len(block) - 1)]
    for _ in range(12):                                                # flipped bits
        bad = bytearray(block)
        bad[rng.randrange(len(bad))] ^= 1 << rng.randrange(8)
        cases.append((bytes(bad), len(data)))
    for blk, size in cases:
        r, out, guard = decode(m, buf, blk, size)
        assert (r, out) == mirror(blk, size) and guard == GUARD * 2, (target, blk[:8])


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(block=st.binary(min_size=1, max_size=80), size=st.integers(0, 300),
       target=st.sampled_from(ALL_TARGETS))
def test_random_blocks_agree_and_never_write_outside(block, size, target, tmp_path_factory):
    m, buf = machine(target, tmp_path_factory)
    r, out, guard = decode(m, buf, block, size)
    assert (r, out) == mirror(block, size) and guard == GUARD * 2
