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

Where a module or the resident has a debug file with DWARF call frame info
(``.debug_frame``), its frames are unwound **by CFI** first (``cfi=``, a lookup
of :class:`gamevm_build.link.lines.FrameRule` by address): the canonical frame
address, the saved return address and the saved registers come from the table
the compiler wrote, which is exact at every instruction (in prologues,
epilogues, and functions whose prologue the heuristics cannot read).  A frame
without CFI continues with prologue analysis (MIPS) or the scan.  Each
:class:`Frame` says how it was found (``method``: ``"pc"``, ``"cfi"``,
``"prologue"``, ``"link"``, ``"scan"``).
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
    #: how the frame was found: "pc", "cfi", "prologue", "link" (register) or "scan"
    method: str = ""


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


def _scan(machine, pc: int, is_code, *, sp: int | None = None, frames=None,
          link: bool = True) -> tuple[list[Frame], bool]:
    """Frames of a CPU without prologue analysis: pc, the link register, then the stack.

    ``frames`` already found (by CFI) are kept and the scan goes on from ``sp``; the
    link register only counts for the innermost frame."""
    sentinel = machine.sentinel
    frames = list(frames) if frames else [Frame(0, pc, machine.reg("sp"), "pc", "pc")]
    if sp is None:
        sp = machine.reg("sp")
    reg = machine.cpu.link_register
    if reg and link and len(frames) == 1:
        v = machine.reg(reg)
        if v == sentinel:
            return frames, True
        if v != pc and looks_like_return(machine, v, is_code):
            frames.append(Frame(1, v, sp, f"{reg} register", "link"))
    addr = sp & ~3 if reg else sp & ~1
    step = 4 if reg else 2
    while addr < machine.stack_top and len(frames) < MAX_FRAMES:
        v = _word(machine, addr)
        if v == sentinel:
            return frames, True
        if v is not None and looks_like_return(machine, v, is_code) and v != frames[-1].pc:
            frames.append(Frame(len(frames), v, addr, f"return address at 0x{addr:08x} (scan)",
                                "scan"))
            addr += 4
            continue
        addr += step
    return frames, len(frames) < MAX_FRAMES


#: DWARF register numbers of the stack pointer, per CPU family
_DWARF_SP = {"mips": 29, "arm": 13, "m68k": 15}


def _dwarf_name(arch: str, n: int) -> str | None:
    """Machine register name of DWARF register ``n`` (None for columns that are none)."""
    if arch in ("mips",) and 0 <= n < 32 or arch == "arm" and 0 <= n < 16:
        return f"r{n}"
    if arch == "m68k" and 0 <= n < 16:
        return f"d{n}" if n < 8 else f"a{n - 8}"
    return None


def _cfi_walk(machine, pc: int, cfi, is_code):
    """Frames unwound by CFI from the innermost: ``(frames, state, complete)``, where
    ``state`` is ``(pc, sp, registers)`` of the first frame CFI does not cover (None
    when the walk ended at the host's return address or could go no further)."""
    arch = machine.cpu.arch
    sp_col = _DWARF_SP[arch]
    cache: dict[int, int] = {}

    def reg0(n: int) -> int | None:
        if n not in cache:
            name = _dwarf_name(arch, n)
            cache[n] = None if name is None else machine.reg(name)
        return cache[n]

    regs: dict[int, int | None] = {}
    sp = machine.reg("sp")
    frames: list[Frame] = []
    how, method = "pc", "pc"
    for depth in range(MAX_FRAMES):
        if pc == machine.sentinel:
            return frames, None, True
        frames.append(Frame(depth, pc, sp, how, method))
        rule = cfi(pc & ~1 if arch == "arm" else pc, depth > 0)
        if rule is None:
            return frames, (pc, sp, regs), False

        def get(n):
            if n == sp_col:
                return sp
            return regs[n] if n in regs else (reg0(n) if depth == 0 else None)

        base = get(rule.cfa_reg)
        if base is None:
            return frames, None, False
        cfa = (base + rule.cfa_offset) & MASK32
        caller = dict(regs)
        for n, off in rule.saved.items():
            caller[n] = _word(machine, (cfa + off) & MASK32)
        if rule.return_column in rule.saved:
            ret = caller[rule.return_column]
            how = f"return address saved at CFA{rule.saved[rule.return_column]:+d} (CFI)"
        else:
            ret = get(rule.return_column)
            how = "return address in the link register (CFI)"
        if ret is None or (ret == pc and cfa == sp):
            return frames, None, False
        if depth == 0:
            for n in range(32):
                if n not in caller and n != sp_col and _dwarf_name(arch, n):
                    caller[n] = reg0(n)
        regs, sp, pc, method = caller, cfa, ret, "cfi"
        if pc != machine.sentinel and (sp > machine.stack_top or
                                       not is_code(pc & ~1 if arch == "arm" else pc)):
            return frames, None, False
    return frames, None, False


def walk(machine, function_start: Callable[[int], int | None], is_code: Callable[[int], bool],
         *, pc: int | None = None, cfi=None) -> tuple[list[Frame], bool]:
    """Frames of the running call, innermost first; ``complete`` is False when unwinding stopped.

    ``function_start(addr)`` names the start of the function holding ``addr``
    (None when unknown); ``is_code(addr)`` says whether an address is code;
    ``cfi(addr, caller)`` gives the :class:`~gamevm_build.link.lines.FrameRule`
    at ``addr`` where a debug file has one (``caller``: ``addr`` is a return
    address), tried first for every frame.
    """
    pc = machine.trap_pc if pc is None else pc
    if pc is None:
        pc = machine.reg("pc")
    sp = machine.reg("sp")
    frames: list[Frame] = []
    if cfi is not None:
        frames, state, complete = _cfi_walk(machine, pc, cfi, is_code)
        if state is None:
            return frames, complete
        pc, sp, _regs = state
        if len(frames) == 1:
            frames = []                       # nothing unwound: the usual walk from the top
    if machine.cpu.arch != "mips":
        if not frames:
            return _scan(machine, pc, is_code)
        return _scan(machine, pc, is_code, sp=sp, frames=frames)
    SENTINEL = machine.sentinel
    ra = machine.reg("ra") if not frames else None
    how, method = ("pc", "pc") if not frames else (frames[-1].how, frames[-1].method)
    first = len(frames)
    frames = frames[:-1]
    top = machine.stack_top
    for depth in range(first - 1 if first else 0, MAX_FRAMES):
        if pc == SENTINEL:
            return frames, True
        frames.append(Frame(depth, pc, sp, how, method))
        start = function_start(pc)
        if start is None:
            start = _backward_start(machine, pc)
        if start is None:
            return frames, False
        size, ra_off = prologue(machine, start, pc)
        if ra_off is not None and size is not None:
            ret = _word(machine, sp + ra_off)
            how = f"return address saved at sp+0x{ra_off:x} of frame #{depth}"
            method = "prologue"
        elif depth == 0 and ra is not None:
            ret = ra
            how, method = "ra register", "link"
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
               *, pc: int | None = None, cfi=None) -> list[Reference]:
    """Frames, saved return addresses and registers pointing into any of ``ranges``.

    ``ranges`` are ``[start, end)`` code ranges (the module being unloaded).
    Only meaningful while the machine runs (inside a trap handler); between
    calls there are no frames and the result is empty.
    """
    if not machine.running:
        return []

    def inside(a: int) -> bool:
        return any(lo <= a < hi for lo, hi in ranges)

    frames, complete = walk(machine, function_start, is_code, pc=pc, cfi=cfi)
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
