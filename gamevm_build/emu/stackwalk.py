"""Walking the emulated stack, for safe mode's reference tracking (seed §4.2).

On MIPS (below) frames are unwound from prologues.  On the 68000 and ARM the
stack is **scanned** from ``sp`` to the top for return addresses (values
pointing just after a ``jsr``/``bsr`` or ``bl``/``mov lr, pc``), plus ``lr``
on ARM: ``jsr`` pushes every return address on the 68000 and gcc's ARM
prologues push ``lr`` in non-leaf functions, so the scan finds every live
frame (sound), and only rarely a stale value in an uninitialised local
(conservative).

gcc's MIPS code at ``-O2`` keeps no frame pointer, so frames are found the way
gdb's heuristic MIPS unwinder finds them: from a function's start (the nearest
preceding function symbol of the resident or of a loaded module) scan forward
to the pc for the prologue's ``addiu sp, sp, -N`` (the frame size) and
``sw ra, off(sp)`` (where the return address is saved).  The caller's pc is
the saved return address (or ``ra`` in the innermost frame, before it is
saved, or in a leaf), its ``sp`` is ``sp + N``.  The walk ends at the host's
return address (:data:`~gamevm_build.emu.memory.SENTINEL`).

When a frame cannot be unwound (no symbol and no recognisable prologue), the
rest of the stack is **scanned conservatively**: every word between ``sp``
and the stack top that looks like a return address (it points into code and
the instruction two words before it is a call: ``jal``, ``jalr``, ``bal``...)
counts as a frame.  That is sound (no live frame is missed) and rarely
over-approximates, because a return address is a very specific value.

:func:`references` combines both with the registers: which frames, saved
return addresses or registers point into a given address range.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from . import mips
from ..errors import EmulationError

__all__ = ["Frame", "Reference", "walk", "references", "prologue"]

MASK32 = 0xFFFFFFFF
MAX_FRAMES = 128
#: instructions scanned forward from a function's start for its prologue
PROLOGUE_SCAN = 512
#: instructions scanned backwards when no symbol gives the function's start
BACKWARD_SCAN = 1024


@dataclass(frozen=True)
class Frame:
    index: int
    pc: int
    sp: int
    how: str                      # "pc", "saved ra at sp+0x14 of frame #0", "ra register", "scan"


@dataclass(frozen=True)
class Reference:
    """Something live that points into the range: a frame's pc or a register."""

    what: str                     # "frame #2", "register s1"
    address: int
    how: str

    def describe(self, symbolize: Callable[[int], str | None]) -> str:
        sym = symbolize(self.address)
        at = f"0x{self.address:08x}" + (f" <{sym}>" if sym else "")
        return f"{self.what} at {at} ({self.how})"


def _word(machine, addr: int) -> int | None:
    try:
        return machine.read_u32(addr)
    except EmulationError:
        return None


def prologue(machine, start: int, pc: int) -> tuple[int | None, int | None]:
    """``(frame size, ra save offset)`` of the prologue between ``start`` and ``pc``."""
    size = ra_off = None
    addr = start
    end = min(pc, start + 4 * PROLOGUE_SCAN)
    while addr < end:
        w = _word(machine, addr)
        if w is None:
            break
        if size is None:
            n = mips.frame_alloc(w)
            if n is not None:
                size = n
        off = mips.saves_ra(w)
        if off is not None and ra_off is None:
            ra_off = off
        addr += 4
    return size, ra_off


def _backward_start(machine, pc: int) -> int | None:
    """A function start found by scanning back from ``pc`` past the previous ``jr ra``."""
    addr = pc - 4
    for _ in range(BACKWARD_SCAN):
        w = _word(machine, addr)
        if w is None:
            return None
        if mips.frame_alloc(w) is not None:
            return addr
        if w == mips.JR_RA:
            return addr + 8                       # after the previous function's delay slot
        addr -= 4
    return None


def looks_like_return(machine, value: int, is_code: Callable[[int], bool]) -> bool:
    """``value`` points into code just after a call (``jal``'s delay slot, ``jsr``, ``bl``)."""
    return machine.cpu.is_return_address(machine, value, is_code)


def _scan(machine, pc: int, is_code) -> tuple[list[Frame], bool]:
    """Frames of a CPU without prologue analysis: pc, the link register, then the stack."""
    sentinel = machine.sentinel
    sp = machine.reg("sp")
    frames = [Frame(0, pc, sp, "pc")]
    link = machine.cpu.link_register
    if link:
        v = machine.reg(link)
        if v == sentinel:
            return frames, True
        if v != pc and looks_like_return(machine, v, is_code):
            frames.append(Frame(1, v, sp, f"{link} register"))
    addr = sp & ~3 if link else sp & ~1
    step = 4 if link else 2
    while addr < machine.stack_top and len(frames) < MAX_FRAMES:
        v = _word(machine, addr)
        if v == sentinel:
            return frames, True
        if v is not None and looks_like_return(machine, v, is_code) and v != frames[-1].pc:
            frames.append(Frame(len(frames), v, addr, f"return address at 0x{addr:08x} (scan)"))
            addr += 4
            continue
        addr += step
    return frames, len(frames) < MAX_FRAMES


def walk(machine, function_start: Callable[[int], int | None], is_code: Callable[[int], bool],
         *, pc: int | None = None) -> tuple[list[Frame], bool]:
    """Frames of the running call, innermost first; ``complete`` is False when unwinding stopped.

    ``function_start(addr)`` names the start of the function holding ``addr``
    (None when unknown); ``is_code(addr)`` says whether an address is code.
    """
    pc = machine.trap_pc if pc is None else pc
    if pc is None:
        pc = machine.reg("pc")
    if machine.cpu.arch != "mips":
        return _scan(machine, pc, is_code)
    SENTINEL = machine.sentinel
    sp = machine.reg("sp")
    ra = machine.reg("ra")
    frames: list[Frame] = []
    how = "pc"
    top = machine.stack_top
    for depth in range(MAX_FRAMES):
        if pc == SENTINEL:
            return frames, True
        frames.append(Frame(depth, pc, sp, how))
        start = function_start(pc)
        if start is None:
            start = _backward_start(machine, pc)
        if start is None:
            return frames, False
        size, ra_off = prologue(machine, start, pc)
        if ra_off is not None and size is not None:
            ret = _word(machine, sp + ra_off)
            how = f"return address saved at sp+0x{ra_off:x} of frame #{depth}"
        elif depth == 0:
            ret = ra
            how = "ra register"
        else:
            return frames, False
        if ret is None:
            return frames, False
        sp = (sp + (size or 0)) & MASK32
        pc = ret
        if pc != SENTINEL and (sp > top or not (pc == SENTINEL or is_code(pc))):
            return frames, False
    return frames, False


def references(machine, ranges: list[tuple[int, int]], function_start, is_code,
               *, pc: int | None = None) -> list[Reference]:
    """Frames, saved return addresses and registers pointing into any of ``ranges``.

    ``ranges`` are ``[start, end)`` code ranges (the module being unloaded).
    Only meaningful while the machine runs (inside a trap handler); between
    calls there are no frames and the result is empty.
    """
    if not machine.running:
        return []

    def inside(a: int) -> bool:
        return any(lo <= a < hi for lo, hi in ranges)

    frames, complete = walk(machine, function_start, is_code, pc=pc)
    out: list[Reference] = []
    for f in frames:
        if inside(f.pc):
            out.append(Reference(f"frame #{f.index}", f.pc, f.how))
    if not complete:
        sp = frames[-1].sp if frames else machine.reg("sp")
        limit = machine.stack_top if sp <= machine.stack_top else sp + 0x4000
        addr = sp & ~3
        while addr < limit:
            v = _word(machine, addr)
            if v is not None and inside(v) and looks_like_return(machine, v, is_code):
                out.append(Reference("stack word", v,
                                     f"possible return address at 0x{addr:08x} "
                                     "(conservative scan: the stack could not be unwound)"))
            addr += 4
    seen = {r.address for r in out}
    link = machine.cpu.link_register
    for name in machine.cpu.return_registers():
        v = machine.reg(name)
        if v in seen:
            continue
        if inside(v & ~1) and (name == link or looks_like_return(machine, v, is_code)):
            out.append(Reference(f"register {name}", v, "holds a return address into it"))
    return out
