"""Compressing a module's segments for the console (issue #14): the host side.

LZ4 blocks (the ``lz4`` package's high-compression encoder, the block format LZ4
defines) that the console decodes with ``gamevm_build/runtime/codec/gvm_lz4.c``
(:func:`gamevm_build.runtime.build.link_codecs` builds it for the emulator), in
place when the compressed bytes sit :func:`lz4_inplace_margin` bytes past the end of
the output.  The decoder's cost per byte on each console's CPU is measured by
``bench/bench_codecs.py``.
"""

from __future__ import annotations

import threading

__all__ = ["lz4_compress", "lz4_decode", "lz4_inplace_margin", "lz4_block_stats"]


def lz4_compress(data: bytes) -> bytes:
    """``data`` as one LZ4 block (no size header), at the encoder's best ratio."""
    if not data:
        raise ValueError("nothing to compress")
    if threading.current_thread() is threading.main_thread():
        return _compress(bytes(data))
    # LZ4's high-compression encoder keeps its state (about 256 KiB) on the stack, more
    # than a worker thread may have (SCons's -j threads get 256 KiB): in a thread of its own
    out: list = []
    with _STACK_LOCK:
        old = threading.stack_size(_STACK)
        try:
            worker = threading.Thread(target=lambda: out.append(_compress(bytes(data))))
            worker.start()
        finally:
            threading.stack_size(old)
    worker.join()
    if not out:
        raise RuntimeError("the LZ4 encoder failed")
    return out[0]


_STACK = 8 << 20
_STACK_LOCK = threading.Lock()


def _compress(data: bytes) -> bytes:
    import lz4.block
    return lz4.block.compress(data, mode="high_compression", compression=12, store_size=False)


def lz4_inplace_margin(compressed_size: int) -> int:
    """Bytes a block of ``compressed_size`` must end after its output's end to decode in
    place (``GVM_LZ4_INPLACE_MARGIN`` in gvm_lz4.h, as lz4.h documents it)."""
    return (compressed_size >> 8) + 32


def _length(block: bytes, at: int, n: int) -> tuple[int, int] | None:
    """An LZ4 length: a nibble of 15 goes on in bytes, each added, until one is not 255.
    ``(length, next position)``, or None when the block ends first."""
    if n == 15:
        while True:
            if at >= len(block):
                return None
            b = block[at]
            at += 1
            n += b
            if b != 255:
                break
    return n, at


def lz4_block_stats(block: bytes) -> tuple[int, int, int]:
    """``(tokens, literal bytes, match bytes)`` of an LZ4 block: what the console's decoder
    spends its time on (the load-time model charges each at its measured cost).
    ``ValueError`` for a block that ends inside a sequence."""
    tokens = literals = matches = 0
    at, end = 0, len(block)
    while at < end:
        token = block[at]
        tokens += 1
        got = _length(block, at + 1, token >> 4)
        if got is None:
            raise ValueError("LZ4 block ends inside a length")
        literals += got[0]
        at = got[1] + got[0]
        if at >= end:
            break                      # the last sequence: literals only
        got = _length(block, at + 2, token & 15)      # after the match offset
        if got is None:
            raise ValueError("LZ4 block ends inside a length")
        matches += got[0] + 4
        at = got[1]
    if at > end:
        raise ValueError("LZ4 block ends inside its literals or an offset")
    return tokens, literals, matches


def lz4_decode(block: bytes, size: int) -> bytes | None:
    """The ``size`` bytes LZ4 block ``block`` decodes to, or None when it is corrupt or
    decodes to more.  Step for step what the console's decoder (gvm_lz4.c) accepts and
    writes, so the reference loader and the runtime agree on every block, valid or not
    (LZ4's own decoder is stricter about how a block ends)."""
    out = bytearray()
    at, end = 0, len(block)
    while True:
        if at >= end:
            return None
        token = block[at]
        got = _length(block, at + 1, token >> 4)
        if got is None:
            return None
        lit, at = got
        if lit > end - at or lit > size - len(out):
            return None
        out += block[at:at + lit]
        at += lit
        if at == end:                                  # the last sequence: literals only
            return bytes(out)
        if end - at < 2:
            return None
        off = block[at] | block[at + 1] << 8
        if not off or off > len(out):
            return None
        got = _length(block, at + 2, token & 15)
        if got is None:
            return None
        match, at = got[0] + 4, got[1]
        if match > size - len(out):
            return None
        start = len(out) - off
        if off >= match:
            out += out[start:start + match]
        else:                                          # overlaps its own output: repeats
            pattern = bytes(out[start:])
            out += (pattern * (match // off + 1))[:match]
