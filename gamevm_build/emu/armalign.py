"""Unaligned transfers as the ARM7TDMI (GBA) and ARM60 (3DO) make them, redone in Python.

Neither CPU checks alignment (no cp15), and neither does what unicorn's ARM926
does, which is to read and write across the word boundary:

* ``LDR``/``SWP`` read the word at ``addr & ~3`` rotated right by
  ``(addr & 3) * 8`` (ARM DUI 0068B, "Address alignment for word transfers";
  GBATEK "ARM CPU Memory Alignments").  The rule is the same in big-endian
  (BE32) mode, where the word is read big-endian: the addressed byte lands in
  bits 31:24 (address bit 0 clear) or 15:8 (bit 0 set).
* ``STR`` ignores the low two address bits; ``LDM``/``STM`` (Thumb ``PUSH``,
  ``POP``) ignore them for every transfer, the base writeback keeps them.
* ARMv4 (GBA): ``LDRH Rd,[odd]`` reads ``LDRH Rd,[odd-1]`` rotated right by 8
  (a 32-bit rotate), ``LDRSH Rd,[odd]`` reads as ``LDRSB Rd,[odd]``, ``STRH``
  stores at ``odd-1``.  ARMv3 (3DO) has no halfword transfers at all.

The machine stops the instruction before it changes registers (a store has
already landed and is undone) and applies the :class:`~.cpu.Redo` built here.
Instructions are decoded from their bits: the transfer's semantics follow the
P/U/W/L/S bits directly, and capstone's operands do not say everything needed
(capstone 5 reports ``ldrh r2, [r1], #2`` as not post-indexed).
"""

from __future__ import annotations

from ..errors import EmulationError
from .cpu import MASK32, Exception_, Redo

CPSR_C = 1 << 29


class _Undefined(Exception):
    pass


class _Unmapped(Exception):
    def __init__(self, access: str, address: int):
        super().__init__(access, address)
        self.access, self.address = access, address


def ror(value: int, bits: int) -> int:
    bits &= 31
    return ((value >> bits) | (value << (32 - bits))) & MASK32 if bits else value & MASK32


def sext(value: int, bits: int) -> int:
    """``value``'s low ``bits`` sign-extended to 32 bits (unsigned result)."""
    sign = 1 << (bits - 1)
    return (((value & (2 * sign - 1)) ^ sign) - sign) & MASK32


def signed32(value: int) -> int:
    return value - (1 << 32) if value >> 31 else value


class Transfer:
    """Registers and memory as one instruction sees them, and what it changes."""

    def __init__(self, machine, pc: int, thumb: bool):
        self.machine, self.pc, self.thumb = machine, pc, thumb
        self.order = machine.profile.byteorder
        self.registers: dict[int, int] = {}
        self.writes: list[tuple[int, bytes]] = []
        self.resume = (pc + 2) | 1 if thumb else pc + 4

    def reg(self, n: int, *, stored: bool = False) -> int:
        """Register ``n`` before the instruction; r15 reads ahead as the pipeline has it."""
        if n != 15:
            return self.machine.reg(f"r{n}")
        return self.pc + (4 if self.thumb else 12 if stored else 8)

    def set(self, n: int, value: int) -> None:
        if n == 15:      # ARMv4T and ARMv3 loads into pc never change state
            self.resume = (value & ~1) | 1 if self.thumb else value & ~3
        else:
            self.registers[n] = value & MASK32

    def load(self, addr: int, size: int) -> int:
        try:
            return int.from_bytes(self.machine.read(addr & MASK32, size), self.order)
        except EmulationError:
            raise _Unmapped("read", addr & MASK32) from None

    def store(self, addr: int, value: int, size: int) -> None:
        addr &= MASK32
        if self.machine.space.translate(addr, size) is None:
            raise _Unmapped("write", addr)
        self.writes.append((addr, (value & ((1 << 8 * size) - 1)).to_bytes(size, self.order)))

    def redo(self) -> Redo:
        return Redo(self.resume, tuple((f"r{n}", v) for n, v in self.registers.items()),
                    tuple(self.writes))


# ------------------------------------------------------------------ the rules

def load_word(t: Transfer, addr: int) -> int:
    return ror(t.load(addr & ~3, 4), 8 * (addr & 3))


def load_half(t: Transfer, addr: int, signed: bool) -> int:
    if addr & 1:
        return sext(t.load(addr, 1), 8) if signed else ror(t.load(addr - 1, 2), 8)
    value = t.load(addr, 2)
    return sext(value, 16) if signed else value


def load_sized(t: Transfer, addr: int, size: int, signed: bool) -> int:
    if size == 4:
        return load_word(t, addr)
    if size == 2:
        return load_half(t, addr, signed)
    value = t.load(addr, 1)
    return sext(value, 8) if signed else value


def store_sized(t: Transfer, addr: int, value: int, size: int) -> None:
    t.store(addr & -size, value, size)


def single(t: Transfer, load: bool, size: int, signed: bool, rd: int, addr: int,
           writeback: tuple[int, int] | None) -> None:
    """One register from or to ``addr``; a loaded value wins over the base writeback."""
    if not load:
        store_sized(t, addr, t.reg(rd, stored=True), size)
    value = load_sized(t, addr, size, signed) if load else None
    if writeback is not None:
        t.set(*writeback)
    if load:
        t.set(rd, value)


def block(t: Transfer, load: bool, rn: int, rlist: int, *, up: bool, before: bool,
          writeback: bool) -> None:
    """LDM/STM: ascending registers at ascending word addresses, low address bits ignored."""
    regs = [n for n in range(16) if rlist >> n & 1]
    base = t.reg(rn)
    span = 4 * len(regs)
    low = base + (4 if before else 0) if up else base - span + (0 if before else 4)
    new_base = base + span if up else base - span
    addrs = [((low & ~3) + 4 * i) & MASK32 for i in range(len(regs))]
    if load:
        values = [t.load(a, 4) for a in addrs]
        if writeback:
            t.set(rn, new_base)
        for n, value in zip(regs, values):
            t.set(n, value)
        return
    for n, a in zip(regs, addrs):
        # ARM7: the base, stored with writeback, is the original value only when it comes first
        value = new_base if n == rn and writeback and n != regs[0] else t.reg(n, stored=True)
        t.store(a, value, 4)
    if writeback:
        t.set(rn, new_base)


# ------------------------------------------------------------------ ARM state

def _shifted_register(t: Transfer, word: int) -> int:
    rm = t.reg(word & 15)
    kind, amount = (word >> 5) & 3, (word >> 7) & 31
    if kind == 0:
        return (rm << amount) & MASK32
    if kind == 1:
        return rm >> amount if amount else 0
    if kind == 2:
        return (signed32(rm) >> (amount or 32)) & MASK32
    if amount:
        return ror(rm, amount)
    carry = 1 if t.machine.reg("cpsr") & CPSR_C else 0
    return (carry << 31) | (rm >> 1)                                      # RRX


def _indexed(t: Transfer, word: int, rn: int, offset: int) -> tuple[int, tuple | None]:
    """Address and base writeback of a P/U/W-indexed transfer."""
    pre, up, write = word >> 24 & 1, word >> 23 & 1, word >> 21 & 1
    base = t.reg(rn)
    moved = (base + offset if up else base - offset) & MASK32
    writeback = (rn, moved) if not pre or write else None
    return (moved if pre else base), writeback


def is_swp(word: int) -> bool:
    return word & 0x0FB00FF0 == 0x01000090


def arm_transfer(t: Transfer, word: int, halfwords: bool) -> str | None:
    """Redo an ARM-state transfer; the reason it cannot, or None."""
    if is_swp(word):
        return _swp(t, word)
    if word & 0x0C000000 == 0x04000000:
        return _word_or_byte(t, word)
    if word & 0x0E000000 == 0x08000000:
        return _multiple(t, word)
    if word & 0x0E000090 == 0x00000090 and word & 0x60:     # SH = 00 is a multiply
        return _halfword(t, word, halfwords)
    return "not a load or store"


def _swp(t: Transfer, word: int) -> None:
    size = 1 if word >> 22 & 1 else 4
    addr = t.reg(word >> 16 & 15)
    value = load_sized(t, addr, size, False)
    store_sized(t, addr, t.reg(word & 15, stored=True), size)
    t.set(word >> 12 & 15, value)


def _word_or_byte(t: Transfer, word: int) -> str | None:
    register_offset = word >> 25 & 1
    if register_offset and word >> 4 & 1:
        return "not a load or store"                     # a register-shifted offset is undefined
    offset = _shifted_register(t, word) if register_offset else word & 0xFFF
    addr, writeback = _indexed(t, word, word >> 16 & 15, offset)
    single(t, bool(word >> 20 & 1), 1 if word >> 22 & 1 else 4, False, word >> 12 & 15, addr,
           writeback)
    return None


def _multiple(t: Transfer, word: int) -> None:
    # the S bit (user bank) changes nothing: calls run in System mode, whose bank it is
    block(t, bool(word >> 20 & 1), word >> 16 & 15, word & 0xFFFF, up=bool(word >> 23 & 1),
          before=bool(word >> 24 & 1), writeback=bool(word >> 21 & 1))


def _halfword(t: Transfer, word: int, halfwords: bool) -> str | None:
    if not halfwords:
        raise _Undefined("the ARM60 (ARMv3) has no halfword or signed-byte transfers")
    sh, load = word >> 5 & 3, bool(word >> 20 & 1)
    if not load and sh != 1:
        return "LDRD/STRD is ARMv5E"
    offset = (word >> 4 & 0xF0 | word & 15) if word >> 22 & 1 else t.reg(word & 15)
    addr, writeback = _indexed(t, word, word >> 16 & 15, offset)
    single(t, load, 1 if sh == 2 else 2, sh != 1, word >> 12 & 15, addr, writeback)
    return None


# ---------------------------------------------------------------- Thumb state

#: format 8 (``0101 H S 1``) by bits 11:10: (load, size, signed)
_FORMAT8 = {0: (False, 2, False), 2: (True, 2, False), 1: (True, 1, True), 3: (True, 2, True)}


def thumb_transfer(t: Transfer, h: int) -> str | None:
    """Redo an ARMv4T Thumb transfer; the reason it cannot, or None."""
    low3, mid3 = h & 7, h >> 3 & 7
    load = bool(h >> 11 & 1)
    if h >> 12 == 0b0101:                                                # register offset
        addr = t.reg(mid3) + t.reg(h >> 6 & 7)
        if h & 0x200:
            load, size, signed = _FORMAT8[h >> 10 & 3]
        else:
            size, signed = (1 if h >> 10 & 1 else 4), False
        single(t, load, size, signed, low3, addr, None)
    elif h >> 13 == 0b011:                                               # word/byte immediate
        size = 1 if h >> 12 & 1 else 4
        single(t, load, size, False, low3, t.reg(mid3) + (h >> 6 & 31) * size, None)
    elif h >> 12 == 0b1000:                                              # halfword immediate
        single(t, load, 2, False, low3, t.reg(mid3) + (h >> 6 & 31) * 2, None)
    elif h >> 12 == 0b1001:                                              # sp-relative
        single(t, load, 4, False, h >> 8 & 7, t.reg(13) + (h & 0xFF) * 4, None)
    elif h & 0xF600 == 0xB400:                                           # PUSH, POP
        extra = (1 << 15 if load else 1 << 14) if h & 0x100 else 0
        block(t, load, 13, h & 0xFF | extra, up=load, before=not load, writeback=True)
    elif h >> 12 == 0b1100:                                              # LDMIA, STMIA
        rb, rlist = h >> 8 & 7, h & 0xFF
        block(t, load, rb, rlist, up=True, before=False,
              writeback=not (load and rlist >> rb & 1))
    else:
        return "not a load or store"
    return None


def redo(machine, pc: int, thumb: bool, halfwords: bool) -> Redo | Exception_:
    """What the instruction at ``pc`` does on the console's CPU (see the module docstring)."""
    t = Transfer(machine, pc, thumb)
    try:
        if thumb:
            problem = thumb_transfer(t, t.load(pc, 2))
        else:
            problem = arm_transfer(t, t.load(pc, 4), halfwords)
    except _Unmapped as exc:
        return Exception_("unmapped address", pc, access=exc.access, address=exc.address)
    except _Undefined as exc:
        return Exception_("undefined instruction", pc, detail=str(exc))
    if problem:
        return Exception_("unaligned access", pc, detail=f"the emulator cannot redo it: {problem}")
    return t.redo()
