"""Short backtraces for fault reports, where the frames allow it.

MIPS o32 code built with gcc keeps no frame pointer, so frames cannot be
walked exactly.  What crash handlers on these consoles do instead: take
``pc`` and ``ra``, then scan the stack upwards for words that *look like
return addresses*: an address in RAM whose instruction two slots earlier is a
``jal``/``jalr`` (the call, then its delay slot).  A function's prologue saves
``ra`` on the stack, so every active non-leaf caller leaves one such word; a
stale word from a finished call can appear too, which is why the result is
labelled a *probable* backtrace and kept short.
"""

from __future__ import annotations

from collections.abc import Callable

MASK32 = 0xFFFFFFFF


def is_call(word: int) -> bool:
    """``jal target`` (opcode 3) or ``jalr rs`` / ``jalr rd, rs`` (SPECIAL funct 9)."""
    return (word >> 26) == 3 or ((word >> 26) == 0 and (word & 0x3F) == 9)


def scan_return_addresses(read_word: Callable[[int], int | None], sp: int, top: int, *,
                          limit: int = 8, max_words: int = 4096) -> list[int]:
    """Probable return addresses saved on the stack between ``sp`` and ``top``.

    Parameters
    ----------
    read_word : callable
        ``addr -> 32-bit word or None`` (None: not readable).
    sp, top : int
        The stack pointer at the fault and the stack's top (exclusive).
    limit : int
        At most this many addresses, innermost first.
    """
    out: list[int] = []
    addr = sp & ~3
    end = min(top, addr + 4 * max_words)
    while addr < end and len(out) < limit:
        value = read_word(addr)
        if value is not None and value & 3 == 0 and value >= 8:
            call = read_word((value - 8) & MASK32)
            if call is not None and is_call(call) and value not in out:
                out.append(value)
        addr += 4
    return out


def backtrace(read_word, symbolize, *, pc: int | None, ra: int | None, sp: int, top: int,
              limit: int = 8) -> list[tuple[int, str | None]]:
    """``[(address, symbol)]``: pc, then ra (when it returns after a call), then stack scan."""
    frames: list[int] = []
    if pc is not None:
        frames.append(pc)
    if ra is not None and ra >= 8:
        call = read_word((ra - 8) & MASK32)
        if call is not None and is_call(call):
            frames.append(ra)
    for addr in scan_return_addresses(read_word, sp, top, limit=limit):
        if addr not in frames:
            frames.append(addr)
    return [(a, symbolize(a)) for a in frames[:limit]]
