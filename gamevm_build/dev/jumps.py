"""Jumps written over a replaced function's old entry point (the Live++/jet-live technique).

A function pointer stored at run time (in resident data, in a module's data, on the
heap) is invisible to the loader: no relocation names it.  After a reload the old
copy's entry points therefore jump to the new copy, so such a pointer reaches the new
code with every argument register untouched.  Each CPU gets the first jump of its
list (:data:`ENCODERS`, in this order) that fits in the old function and reaches the
new one:

=========  ============================================  =====
CPU        jump                                          bytes
=========  ============================================  =====
MIPS       ``j new`` + ``nop`` (delay slot)              8
           ``lui at,hi; ori at,lo; jr at; nop``          16
68000      ``jmp new.l``                                 6
           ``bra.w new`` (within 32 KiB)                 4
ARM        ``b new`` (within 32 MiB)                     4
           ``ldr pc,[pc,#-4]; .word new``                8
           ``ldr ip,[pc]; bx ip; .word new`` (ARMv4T)    12
Thumb      ``bx pc; nop; ldr ip,[pc]; bx ip; .word``     16
=========  ============================================  =====

``ip``/``at`` are the registers the ABIs leave to veneers, so the callee sees the
caller's registers.  :func:`entry_jump` returns None when nothing fits (the caller
then redirects the entry with a host breakpoint and says so in its report).
"""

from __future__ import annotations

MASK32 = 0xFFFFFFFF


def _words(order: str, *words: int) -> bytes:
    return b"".join((w & MASK32).to_bytes(4, order) for w in words)


def _halves(order: str, *halves: int) -> bytes:
    return b"".join((h & 0xFFFF).to_bytes(2, order) for h in halves)


def _mips_j(at, to, room, order, has_bx):
    # j reaches the 256 MiB segment of its delay slot
    if room >= 8 and (at + 4) & 0xF0000000 == to & 0xF0000000 and to % 4 == 0:
        return _words(order, 0x08000000 | (to >> 2 & 0x03FFFFFF), 0)
    return None


def _mips_jr(at, to, room, order, has_bx):
    if room >= 16:
        return _words(order, 0x3C010000 | to >> 16, 0x34210000 | to & 0xFFFF, 0x00200008, 0)
    return None


def _m68k_jmp(at, to, room, order, has_bx):
    return _halves(order, 0x4EF9, to >> 16, to) if room >= 6 else None


def _m68k_bra(at, to, room, order, has_bx):
    disp = to - (at + 2)
    if room >= 4 and -0x8000 <= disp <= 0x7FFF:
        return _halves(order, 0x6000, disp)
    return None


def _arm_b(at, to, room, order, has_bx):
    off = to - (at + 8)
    if not (at | to) & 1 and room >= 4 and -(1 << 25) <= off < (1 << 25):
        return _words(order, 0xEA000000 | (off >> 2 & 0xFFFFFF))
    return None


def _arm_ldr_pc(at, to, room, order, has_bx):
    # loading pc does not change state on ARMv4T: ARM targets only
    return _words(order, 0xE51FF004, to) if not (at | to) & 1 and room >= 8 else None


def _arm_bx_ip(at, to, room, order, has_bx):
    if not at & 1 and room >= 12 and has_bx:
        return _words(order, 0xE59FC000, 0xE12FFF1C, to)       # ldr ip,[pc,#0]; bx ip; .word
    return None


def _thumb_veneer(at, to, room, order, has_bx):
    # bx pc (ARM state at at+4), nop; ldr ip,[pc,#0]; bx ip; .word to
    if at & 1 and (at & ~1) % 4 == 0 and room >= 16 and has_bx:
        return _halves(order, 0x4778, 0x46C0) + _words(order, 0xE59FC000, 0xE12FFF1C, to)
    return None


#: per architecture, the jumps in order of preference: ``(kind, encoder)``
ENCODERS = {
    "mips": [("j", _mips_j), ("lui/ori/jr", _mips_jr)],
    "m68k": [("jmp.l", _m68k_jmp), ("bra.w", _m68k_bra)],
    "arm": [("b", _arm_b), ("ldr pc", _arm_ldr_pc), ("ldr ip/bx ip", _arm_bx_ip),
            ("thumb bx veneer", _thumb_veneer)],
}


def entry_jump(arch: str, at: int, to: int, room: int, order: str, *, has_bx: bool = True
               ) -> tuple[bytes, str] | None:
    """``(code, kind)`` jumping from ``at`` to ``to`` in at most ``room`` bytes, or None.

    ARM addresses carry the Thumb bit (bit 0) as symbol values do.
    """
    if arch not in ENCODERS:
        raise ValueError(f"no entry jump for architecture '{arch}'")
    for kind, encode in ENCODERS[arch]:
        code = encode(at & MASK32, to & MASK32, room, order, has_bx)
        if code is not None:
            return code, kind
    return None
