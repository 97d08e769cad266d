"""Compressing a module's segments for the console (issue #14): the host side.

LZ4 blocks (the ``lz4`` package's high-compression encoder, the block format LZ4
defines) that the console decodes with ``gamevm_build/runtime/codec/gvm_lz4.c``
(:func:`gamevm_build.runtime.build.link_codecs` builds it for the emulator), in
place when the compressed bytes sit :func:`lz4_inplace_margin` bytes past the end of
the output.  The decoder's cost per byte on each console's CPU is measured by
``bench/bench_codecs.py``.
"""

from __future__ import annotations

__all__ = ["lz4_compress", "lz4_inplace_margin"]


def lz4_compress(data: bytes) -> bytes:
    """``data`` as one LZ4 block (no size header), at the encoder's best ratio."""
    import lz4.block
    if not data:
        raise ValueError("nothing to compress")
    return lz4.block.compress(bytes(data), mode="high_compression", compression=12,
                              store_size=False)


def lz4_inplace_margin(compressed_size: int) -> int:
    """Bytes a block of ``compressed_size`` must end after its output's end to decode in
    place (``GVM_LZ4_INPLACE_MARGIN`` in gvm_lz4.h, as lz4.h documents it)."""
    return (compressed_size >> 8) + 32
