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

__all__ = ["lz4_compress", "lz4_decode", "lz4_inplace_margin", "lz4_block_stats",
           "zx0_compress", "zx0_decode", "zx0_decode_in_place", "zx0_inplace_margin",
           "zx0_block_stats", "ZX0_MAX_OFFSET"]


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


# --- ZX0 ---------------------------------------------------------------------------------
#
# The ZX0 format, version 2 (Einar Saukas, "ZX0" README, github.com/einar-saukas/ZX0), in
# its forward form: an LZ77 stream of three kinds of block, told apart by one bit,
#
#   literals          0  gamma(length)                  then `length` bytes
#   copy, last offset 0  gamma(length)                  (only right after literals)
#   copy, new offset  1  gamma'(msb)  byte  gamma(length - 1)
#
# where gamma is ZX0's interlaced Elias gamma code (after the implicit leading 1, each bit
# comes after a control bit 0; a control bit 1 ends it), gamma' the same with its data
# bits inverted, the offset is ``msb * 128 - (byte >> 1)`` (1 to 32640) and the byte's low
# bit is the length's first control bit.  The stream starts with literals (no kind bit)
# and ends with a new offset whose msb is 256.  Bits are read most significant first from
# a byte taken from the stream when the previous one is used up.  The encoder here is a
# greedy-lazy parser of our own (hash chains, the last offset tried first), not ZX0's
# optimal one: on the CD game it comes within a few percent of it in a fraction of the time.

ZX0_MAX_OFFSET = 32640
_ZX0_END_MSB = 256
#: a length longer than this is corrupt (the decoders never shift a length past 24 bits)
_ZX0_GAMMA_LIMIT = 1 << 23
_ZX0_DEPTH = 24          # hash-chain candidates tried per position
_ZX0_GOOD = 96           # a match this long is taken without looking further


def _gamma_bits(v: int) -> int:
    return 2 * v.bit_length() - 1


class _Bits:
    """ZX0's output: bytes, with bit bytes interleaved where their first bit falls."""

    def __init__(self) -> None:
        self.out = bytearray()
        self.mask = 0
        self.at = 0
        self.backtrack = False

    def bit(self, b: int) -> None:
        if self.backtrack:                  # the length's first control bit: in the byte
            if b:
                self.out[-1] |= 1
            self.backtrack = False
            return
        if not self.mask:
            self.mask, self.at = 0x80, len(self.out)
            self.out.append(0)
        if b:
            self.out[self.at] |= self.mask
        self.mask >>= 1

    def gamma(self, v: int, invert: bool = False) -> None:
        for k in range(v.bit_length() - 2, -1, -1):
            self.bit(0)
            self.bit(((v >> k) & 1) ^ invert)
        self.bit(1)


def _match_length(d: bytes, p: int, i: int, limit: int) -> int:
    """How many bytes from ``i`` repeat those from ``p < i`` (at most ``limit``), by
    comparing slices that double, then halve (a long run costs a few compares)."""
    if limit < 2 or d[p] != d[i] or d[p + 1] != d[i + 1]:
        return 1 if limit >= 1 and d[p] == d[i] else 0
    lo, step = 2, 8
    while lo < limit:
        hi = min(lo + step, limit)
        if d[p + lo:p + hi] != d[i + lo:i + hi]:
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if d[p + lo:p + mid] == d[i + lo:i + mid]:
                    lo = mid
                else:
                    hi = mid
            return lo
        lo, step = hi, step * 2
    return lo


def zx0_compress(data: bytes, *, block_bits: int = 4) -> bytes:
    """``data`` as one ZX0 block (format 2, forward, with its end marker).

    Deterministic; about 1 to 3 s per MiB of module data in CPython.
    """
    d = bytes(data)
    n = len(d)
    if not n:
        raise ValueError("nothing to compress")
    head: dict[int, int] = {}
    prev = [-1] * n
    inserted = 0

    def insert_to(j: int) -> None:
        nonlocal inserted
        stop = min(j, n - 2)
        for k in range(inserted, stop):
            key = d[k] << 16 | d[k + 1] << 8 | d[k + 2]
            prev[k] = head.get(key, -1)
            head[key] = k
        if j > inserted:
            inserted = j

    def best_new(i: int) -> tuple[int, int, int]:
        """(saving in bits, length, offset) of the best new-offset match at ``i``."""
        insert_to(i)
        if i + 2 >= n:
            return 0, 0, 0
        best = (0, 0, 0)
        p = head.get(d[i] << 16 | d[i + 1] << 8 | d[i + 2], -1)
        limit, depth = n - i, _ZX0_DEPTH
        while p >= 0 and depth and i - p <= ZX0_MAX_OFFSET:
            length = _match_length(d, p, i, limit)
            if length > best[1]:
                off = i - p
                saving = 8 * length - (1 + _gamma_bits(((off - 1) >> 7) + 1) + 8
                                       + _gamma_bits(length - 1) - 1)
                if saving > best[0]:
                    best = (saving, length, off)
                if length >= _ZX0_GOOD or length == limit:
                    break
            p, depth = prev[p], depth - 1
        return best

    w = _Bits()
    last = 1
    i, lit = 1, 0            # the first byte is always a literal: pending literals from `lit`
    while i < n:
        rep = 0
        if i > lit and last <= i:
            rep = _match_length(d, i - last, i, n - i)
        rep_saving = 8 * rep - 1 - _gamma_bits(rep) if rep else 0
        saving, length, off = best_new(i)
        if rep_saving >= saving and rep_saving > block_bits // 2:
            choice = ("rep", rep, last)
        elif saving > block_bits:
            nxt = best_new(i + 1) if i + 1 < n and length < _ZX0_GOOD else (0, 0, 0)
            if nxt[0] > saving + 8:                  # lazy: a literal, then the better match
                i += 1
                continue
            choice = ("new", length, off)
        else:
            i += 1
            continue
        kind, length, off = choice
        if i > lit:                                  # the literals before it
            if lit:
                w.bit(0)
            w.gamma(i - lit)
            w.out += d[lit:i]
        if kind == "rep":
            w.bit(0)
            w.gamma(length)
        else:
            w.bit(1)
            w.gamma(((off - 1) >> 7) + 1, invert=True)
            w.out.append(((127 - ((off - 1) & 127)) << 1) & 0xFF)
            w.backtrack = True
            w.gamma(length - 1)
            last = off
        i += length
        lit = i
    if n > lit:
        if lit:
            w.bit(0)
        w.gamma(n - lit)
        w.out += d[lit:n]
    w.bit(1)                                         # the end: a new offset of msb 256
    w.gamma(_ZX0_END_MSB, invert=True)
    return bytes(w.out)


class _Zx0Reader:
    """The input side of gvm_zx0.c: the same reads in the same order."""

    __slots__ = ("src", "at", "end", "byte", "mask")

    def __init__(self, src, at: int, end: int) -> None:
        self.src, self.at, self.end = src, at, end
        self.byte = self.mask = 0

    def bit(self) -> int | None:
        self.mask >>= 1
        if not self.mask:
            if self.at >= self.end:
                return None
            self.byte = self.src[self.at]
            self.at += 1
            self.mask = 0x80
        return 1 if self.byte & self.mask else 0

    def gamma(self, invert: int, first: int | None = None) -> int | None:
        v = 1
        c = self.bit() if first is None else first
        while c == 0:
            if v >= _ZX0_GAMMA_LIMIT:
                return None
            b = self.bit()
            if b is None:
                return None
            v = v << 1 | (b ^ invert)
            c = self.bit()
        return None if c is None else v


def _zx0_run(buf: bytearray, src_at: int, src_end: int, cap: int) -> tuple[int | None, int]:
    """Decode the block at ``buf[src_at:src_end]`` into ``buf[0:cap]`` as gvm_zx0.c does:
    ``(bytes written or None when corrupt, the largest write position minus the input
    bytes consumed then)``.  The block may overlap the output (decoding in place): reads
    then see what earlier writes left, exactly as on the console."""
    r = _Zx0Reader(buf, src_at, src_end)
    op, last, worst = 0, 1, -(1 << 62)

    def wrote(end_op: int) -> None:       # the writes up to end_op, with input consumed
        nonlocal worst
        worst = max(worst, end_op - 1 - (r.at - src_at))

    def copy(distance: int, n: int) -> int | None:   # a match, then the next block's bit
        nonlocal op
        for _k in range(n):
            buf[op] = buf[op - distance]
            op += 1
        wrote(op)
        return r.bit()

    state = "lit"
    while True:
        if state == "lit":
            length = r.gamma(0)
            if length is None or length > src_end - r.at or length > cap - op:
                return None, worst
            for _k in range(length):                # a byte read, then a byte written
                buf[op] = buf[r.at]
                r.at += 1
                worst = max(worst, op - (r.at - src_at))
                op += 1
            b = r.bit()
            if b is None:
                return None, worst
            if not b:
                length = r.gamma(0)
                if length is None or length > cap - op:
                    return None, worst
                b = copy(last, length)
                if b is None:
                    return None, worst
            state = "new" if b else "lit"
        else:
            msb = r.gamma(1)
            if msb is None or msb > _ZX0_END_MSB:
                return None, worst
            if msb == _ZX0_END_MSB:
                return op, worst
            if r.at >= src_end:
                return None, worst
            low = buf[r.at]
            r.at += 1
            off = msb * 128 - (low >> 1)
            if off > op:
                return None, worst
            length = r.gamma(0, low & 1)
            if length is None or length + 1 > cap - op:
                return None, worst
            last = off
            b = copy(off, length + 1)
            if b is None:
                return None, worst
            state = "new" if b else "lit"


def zx0_decode(block: bytes, size: int) -> bytes | None:
    """The at most ``size`` bytes ZX0 block ``block`` decodes to, or None when it is
    corrupt or decodes to more.  Step for step what gvm_zx0.c accepts and writes (the
    same reads in the same order, the same checks), so both agree on every block."""
    buf = bytearray(size) + bytes(block)
    got, _worst = _zx0_run(buf, size, len(buf), size)
    return None if got is None else bytes(buf[:got])


def zx0_inplace_margin(block: bytes, size: int) -> int:
    """The fewest bytes the block must end after the end of its ``size``-byte output to
    decode in place: placed at the end of a buffer of ``size + margin`` bytes and decoded
    to its start, no write lands on an input byte still to be read.  Exact, from a decode
    (``ValueError`` for a corrupt block).  ZX0 has no useful closed-form bound: a long
    match costs a few bits, so the output can run ahead of the input by nearly the whole
    output; ``len(block)`` is always enough (the block past the output)."""
    buf = bytearray(size) + bytes(block)
    got, worst = _zx0_run(buf, size, len(buf), size)
    if got is None:
        raise ValueError("corrupt ZX0 block")
    # a write at op with `used` input bytes read is safe when op < (size + margin - n) + used
    return max(len(block) - size, worst + len(block) - size + 1, 0)


def zx0_decode_in_place(block: bytes, size: int, margin: int) -> tuple[bytes | None, bool]:
    """Decode ``block`` placed at the end of one buffer of ``size + margin`` bytes into
    its start, as the console does: ``(the output or None, whether no write overtook the
    input still to be read)``."""
    n = len(block)
    total = size + margin
    if total < n:
        return None, False
    buf = bytearray(total)
    buf[total - n:] = block
    got, worst = _zx0_run(buf, total - n, total, size)
    safe = worst < total - n
    return (None if got is None else bytes(buf[:got])), safe


def zx0_decode_at(stored: bytes, size: int, room: int, at: int) -> tuple[bytes | None, bool]:
    """Decode a ``.gvm.image`` section's contents ``stored`` (the 12-byte Chdr, then the
    block) placed at ``at`` in a module's ``room`` bytes into their start, as the console's
    loader does: ``(the output, or None when the block is corrupt or a write would land
    on input still to be read; whether no write did)``.  gvm_zx0.c refuses such a write
    (-1), so both loaders refuse a margin too small for the block."""
    if at < 0 or at + len(stored) > room or len(stored) < 12:
        return None, False
    buf = bytearray(room)
    buf[at:at + len(stored)] = stored
    got, worst = _zx0_run(buf, at + 12, at + len(stored), size)
    safe = worst < at + 12
    return (bytes(buf[:got]) if got is not None and safe else None), safe


def zx0_block_stats(block: bytes, size: int, *, decoded: bool = False) -> tuple[int, int, int]:
    """``(blocks, literal bytes, match bytes)`` of a ZX0 block (the decoder's work).
    ``decoded``: the caller has decoded the block to ``size`` bytes already, so it is not
    decoded again to check it (the walk below trusts a valid block)."""
    blocks = literals = matches = 0
    if not decoded and zx0_decode(block, size) is None:
        raise ValueError("corrupt ZX0 block")
    r = _Zx0Reader(block, 0, len(block))
    state = "lit"
    while True:
        blocks += 1
        if state == "lit":
            length = r.gamma(0)
            literals += length
            r.at += length
            if not r.bit():
                blocks += 1
                matches += r.gamma(0)
                state = "new" if r.bit() else "lit"
            else:
                state = "new"
        else:
            msb = r.gamma(1)
            if msb == _ZX0_END_MSB:
                return blocks - 1, literals, matches
            low = block[r.at]
            r.at += 1
            matches += r.gamma(0, low & 1) + 1
            state = "new" if r.bit() else "lit"
