"""Finding the instruction behind a CPU exception that unicorn misreports.

For every MIPS exception but ``syscall``, unicorn 2.1 hands the interrupt hook
a stale pc (see :mod:`gamevm_build.emu.machine`).  What is known instead is the
last translation block entered (``start``, ``size``) and the registers, which
still hold their values from just before the faulting instruction.  Exceptions
raised while translating (``break``, reserved instruction, coprocessor
unusable) end their block, so they are its last instruction; the others are
found by decoding the block and re-evaluating its loads, stores and jumps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from . import mips

MASK32 = 0xFFFFFFFF

Block = tuple[int, int]
ReadWord = Callable[[int], "int | None"]
ReadReg = Callable[[int], int]


@dataclass(frozen=True)
class MemoryFault:
    access: str              # "read", "write" or "fetch"
    address: int
    size: int
    pc: int


def _words(block: Block, word: ReadWord):
    start, size = block
    for pc in range(start, start + size, 4):
        value = word(pc)
        if value is None:
            return
        yield pc, value


def exception_pc(intno: int, block: Block | None, word: ReadWord) -> tuple[int | None, bool]:
    """``(pc, exact)`` of the instruction that raised ``intno`` in ``block``."""
    if block is None:
        return None, False
    start, size = block
    last = start + size - 4
    if intno in mips.BLOCK_ENDING_EXCEPTIONS:
        return last, True
    for pc, value in _words(block, word):
        if intno == mips.EXCP_TRAP and mips.is_conditional_trap(value) or \
                intno == mips.EXCP_OVERFLOW and mips.may_overflow(value):
            return pc, False
    return last, False


def memory_fault(intno: int, block: Block | None, word: ReadWord, reg: ReadReg,
                 reachable: Callable[[int], bool]) -> MemoryFault | None:
    """The access behind an address error or TLB miss, or None when not found.

    Loads/stores of ``block`` are re-evaluated for an address that is
    misaligned (address errors) or not ``reachable`` (TLB misses); for a
    load/fetch exception with no such load, the block's final ``jr``/``jalr``
    target is checked as a fetch.
    """
    if block is None:
        return None
    if intno in (mips.EXCP_ADEL, mips.EXCP_ADES):
        def bad(addr, size): return addr % size != 0
    elif intno in (mips.EXCP_TLBL, mips.EXCP_TLBS):
        def bad(addr, size): return not reachable(addr)
    else:
        return None
    store = intno in (mips.EXCP_ADES, mips.EXCP_TLBS)
    for pc, value in _words(block, word):
        operand = mips.memory_operand(value)
        if operand is None or (operand[0] == "write") != store:
            continue
        access, size, base, offset = operand
        addr = (reg(base) + offset) & MASK32
        if bad(addr, size):
            return MemoryFault(access, addr, size, pc)
    if not store:
        start, size = block
        jump = word(start + size - 8) if size >= 8 else None
        rs = mips.register_jump(jump) if jump is not None else None
        if rs is not None:
            target = reg(rs) & MASK32
            if bad(target, 4):
                return MemoryFault("fetch", target, 4, target)
    return None
