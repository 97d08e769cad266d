"""MIPS facts the emulator needs: register names, CPU exception numbers, a
little instruction decoding (trap codes, branches, memory operands) and the
CP0 setup code a machine runs once (TLB entries, ``Status``).

Only what :mod:`gamevm_build.emu.machine` uses to run o32 functions and to
explain faults lives here; relocation arithmetic is :mod:`gamevm_build.arch.mips`.
"""

from __future__ import annotations

from unicorn import mips_const as _mc

MASK32 = 0xFFFFFFFF

#: o32 register names -> unicorn register ids (``$``-prefixed and ``rN`` forms too).
REGISTERS: dict[str, int] = {}
_NAMES = ("zero at v0 v1 a0 a1 a2 a3 t0 t1 t2 t3 t4 t5 t6 t7 "
          "s0 s1 s2 s3 s4 s5 s6 s7 t8 t9 k0 k1 gp sp fp ra").split()
for _n, _name in enumerate(_NAMES):
    _reg = getattr(_mc, f"UC_MIPS_REG_{_n}")
    REGISTERS[_name] = REGISTERS[f"r{_n}"] = REGISTERS[str(_n)] = _reg
REGISTERS["s8"] = REGISTERS["fp"]
REGISTERS.update(pc=_mc.UC_MIPS_REG_PC, hi=_mc.UC_MIPS_REG_HI, lo=_mc.UC_MIPS_REG_LO)

ARG_REGISTERS = ("a0", "a1", "a2", "a3")


def register_id(name: str) -> int:
    """Unicorn register id of an o32 register name (``"a0"``, ``"$sp"``, ``"r31"``, ``"pc"``)."""
    try:
        return REGISTERS[name.lower().lstrip("$")]
    except KeyError:
        raise KeyError(f"unknown MIPS register '{name}'") from None


# QEMU's MIPS exception numbers, as unicorn passes them to UC_HOOK_INTR.
EXCP_ADEL, EXCP_ADES = 12, 13
EXCP_SYSCALL, EXCP_BREAK, EXCP_CPU, EXCP_RI, EXCP_OVERFLOW, EXCP_TRAP, EXCP_FPE = range(17, 24)
EXCP_TLBL, EXCP_TLBS = 26, 27

EXCEPTION_NAMES = {
    EXCP_ADEL: "address error on load or fetch",
    EXCP_ADES: "address error on store",
    EXCP_SYSCALL: "syscall",
    EXCP_BREAK: "break",
    EXCP_CPU: "coprocessor unusable",
    EXCP_RI: "reserved instruction",
    EXCP_OVERFLOW: "integer overflow",
    EXCP_TRAP: "conditional trap",
    EXCP_FPE: "floating-point exception",
    EXCP_TLBL: "TLB miss on load or fetch",
    EXCP_TLBS: "TLB miss on store",
}

#: Exceptions raised while *translating* an instruction: QEMU ends the
#: translation block there, so the faulting instruction is the block's last.
BLOCK_ENDING_EXCEPTIONS = frozenset({EXCP_SYSCALL, EXCP_BREAK, EXCP_CPU, EXCP_RI})


def sext16(value: int) -> int:
    value &= 0xFFFF
    return value - 0x10000 if value & 0x8000 else value


def opcode(word: int) -> int:
    return word >> 26


def is_syscall(word: int) -> bool:
    return opcode(word) == 0 and word & 0x3F == 0x0C


def is_break(word: int) -> bool:
    return opcode(word) == 0 and word & 0x3F == 0x0D


def trap_code(word: int) -> int:
    """The 20-bit code field (bits 6..25) of a ``syscall`` or ``break``.

    gas writes ``syscall n`` as ``n`` but ``break a, b`` as ``a << 10 | b``, so
    ``break 7`` (gcc's divide-by-zero check) has code ``7 << 10``.
    """
    return (word >> 6) & 0xFFFFF


def describe_trap(word: int) -> str:
    """``syscall 0x42`` / ``break 7`` / ``break 1, 2``, as objdump prints them."""
    code = trap_code(word)
    if is_syscall(word):
        return f"syscall 0x{code:x}"
    hi, lo = code >> 10, code & 0x3FF
    return f"break {hi}" + (f", {lo}" if lo else "")


def has_delay_slot(word: int) -> bool:
    """True for branches and jumps (the next instruction is their delay slot)."""
    op = opcode(word)
    if op == 0:
        return word & 0x3F in (0x08, 0x09)                     # jr, jalr
    if op == 1:
        return (word >> 16) & 0x1F in (0x00, 0x01, 0x02, 0x03, 0x10, 0x11, 0x12, 0x13)
    if op in (0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x14, 0x15, 0x16, 0x17):
        return True
    if op in (0x10, 0x11, 0x12):                                # bc0/bc1/bc2
        return (word >> 21) & 0x1F == 0x08
    return False


# opcode -> (access, size) of loads and stores; lwl/lwr/swl/swr never fault on alignment.
_MEMORY_OPS = {
    0x20: ("read", 1), 0x21: ("read", 2), 0x23: ("read", 4), 0x24: ("read", 1),
    0x25: ("read", 2), 0x27: ("read", 4), 0x30: ("read", 4), 0x31: ("read", 4),
    0x35: ("read", 8), 0x37: ("read", 8),
    0x28: ("write", 1), 0x29: ("write", 2), 0x2B: ("write", 4), 0x38: ("write", 4),
    0x39: ("write", 4), 0x3D: ("write", 8), 0x3F: ("write", 8),
}


def memory_operand(word: int) -> tuple[str, int, int, int] | None:
    """``(access, size, base_register_number, offset)`` of a load/store, else None."""
    op = _MEMORY_OPS.get(opcode(word))
    if op is None:
        return None
    return op[0], op[1], (word >> 21) & 0x1F, sext16(word)


def register_jump(word: int) -> int | None:
    """Source register number of ``jr``/``jalr``, else None."""
    if opcode(word) == 0 and word & 0x3F in (0x08, 0x09):
        return (word >> 21) & 0x1F
    return None


def is_conditional_trap(word: int) -> bool:
    op = opcode(word)
    if op == 0:
        return 0x30 <= word & 0x3F <= 0x36                      # tge .. tne
    return op == 1 and 0x08 <= (word >> 16) & 0x1F <= 0x0E      # tgei .. tnei


def may_overflow(word: int) -> bool:
    op = opcode(word)
    if op == 0:
        return word & 0x3F in (0x20, 0x22, 0x2C, 0x2E)          # add, sub, dadd, dsub
    return op in (0x08, 0x18)                                   # addi, daddi


# ---------------------------------------------------------------- assembling

_T0 = 8
CP0_INDEX, CP0_ENTRYLO0, CP0_ENTRYLO1, CP0_PAGEMASK, CP0_WIRED, CP0_ENTRYHI, CP0_STATUS = \
    0, 2, 3, 5, 6, 10, 12
STATUS_ERL = 1 << 2          # reset/error level: kuseg unmapped 1:1
STATUS_CU1 = 1 << 29         # coprocessor 1 (FPU) usable


def _li(reg: int, value: int) -> list[int]:
    return [0x3C000000 | reg << 16 | (value >> 16) & 0xFFFF,            # lui
            0x34000000 | reg << 21 | reg << 16 | value & 0xFFFF]        # ori


def _mtc0(value: int, cp0_reg: int) -> list[int]:
    return _li(_T0, value) + [0x40800000 | _T0 << 16 | cp0_reg << 11]


def cp0_setup_code(tlb, status: int) -> list[int]:
    """Instruction words writing wired TLB entries and then ``Status``.

    ``tlb`` holds :class:`gamevm_build.emu.memory.TlbEntry` objects; they are
    written at indices 0.. and made wired so a ``tlbwr`` cannot evict them.
    """
    code: list[int] = []
    for index, entry in enumerate(tlb):
        code += _mtc0(index, CP0_INDEX) + _mtc0(entry.page_mask, CP0_PAGEMASK)
        code += _mtc0(entry.vpn2, CP0_ENTRYHI)                   # ASID 0; entries are global
        code += _mtc0(entry.entry_lo(entry.even), CP0_ENTRYLO0)
        code += _mtc0(entry.entry_lo(entry.odd), CP0_ENTRYLO1)
        code.append(0x42000002)                                  # tlbwi
    code += _mtc0(len(tlb), CP0_WIRED) + _mtc0(0, CP0_PAGEMASK) + _mtc0(0, CP0_ENTRYHI)
    code += _mtc0(status, CP0_STATUS) + [0, 0]                   # nops: CP0 hazard
    return code


#: ``break 0x3ff, 0x3ff``: the fill of freed module memory (Machine.poison)
POISON_WORD = 0x0000000D | (0xFFFFF << 6)


# ------------------------------------------------- code the runtime writes itself
# (loader stubs and trampolines, docs/runtime.md) and decoding for stack walks

REG_NUMBERS = {name: n for n, name in enumerate(_NAMES)}
NOP = 0


def _r(name: str) -> int:
    return REG_NUMBERS[name]


def enc_syscall(code: int) -> int:
    """``syscall code`` (20-bit code field)."""
    return (code & 0xFFFFF) << 6 | 0x0C


def enc_addiu(rt: str, rs: str, imm: int) -> int:
    return 0x24000000 | _r(rs) << 21 | _r(rt) << 16 | imm & 0xFFFF


def enc_sw(rt: str, offset: int, base: str) -> int:
    return 0xAC000000 | _r(base) << 21 | _r(rt) << 16 | offset & 0xFFFF


def enc_lw(rt: str, offset: int, base: str) -> int:
    return 0x8C000000 | _r(base) << 21 | _r(rt) << 16 | offset & 0xFFFF


def enc_beq(rs: str, rt: str, words: int) -> int:
    """``beq rs, rt, .+4+4*words`` (offset counted from the delay slot)."""
    return 0x10000000 | _r(rs) << 21 | _r(rt) << 16 | words & 0xFFFF


def enc_jr(rs: str) -> int:
    return _r(rs) << 21 | 0x08


def enc_jalr(rs: str) -> int:
    return _r(rs) << 21 | _r("ra") << 11 | 0x09


def enc_j(target: int, *, link: bool = False) -> int:
    """``j``/``jal`` to ``target`` (same 256 MB segment as the delay slot)."""
    return (0x0C000000 if link else 0x08000000) | (target >> 2) & 0x03FFFFFF


def is_jal(word: int) -> bool:
    return opcode(word) == 0x03


def is_call(word: int) -> bool:
    """``jal``, ``jalr`` or a linking branch (``bal``, ``bgezal``, ``bltzal``...)."""
    op = opcode(word)
    if op == 0x03:
        return True
    if op == 0:
        return word & 0x3F == 0x09
    return op == 1 and (word >> 16) & 0x1F in (0x10, 0x11, 0x12, 0x13)


def frame_alloc(word: int) -> int | None:
    """Bytes of ``addiu sp, sp, -N`` (a prologue's frame allocation), else None."""
    if word >> 16 == 0x27BD and word & 0x8000:
        return 0x10000 - (word & 0xFFFF)
    return None


def saves_ra(word: int) -> int | None:
    """Offset of ``sw ra, off(sp)``, else None."""
    if word >> 16 == 0xAFBF:
        return sext16(word)
    return None


#: ``jr ra``
JR_RA = 0x03E00008


# ----------------------------------------------------------------- the family object

from . import locate as _locate                     # noqa: E402  (locate imports this module)
from .cpu import Cpu as _Cpu, Exception_, Trap     # noqa: E402

from .memory import SENTINEL                        # noqa: E402  (kseg1 of the reserved page)


class MipsCpu(_Cpu):
    """o32 calls (``a0``-``a3``, stack from ``sp+16``, ``v0``), kseg0/kseg1/TLB-mapped kuseg,
    ``syscall``/``break`` traps (see :mod:`gamevm_build.emu.machine` for unicorn's quirks)."""

    arch = "mips"
    sentinel = SENTINEL
    result_register = "v0"
    link_register = "ra"
    trap_registers = ("a0", "a1", "a2", "a3")
    stub_trap_offset = 4

    def physical(self, vaddr: int) -> int | None:
        vaddr &= MASK32
        if vaddr < 0x80000000:
            return vaddr
        if vaddr < 0xC0000000:
            return vaddr & 0x1FFFFFFF
        return None

    def view_problem(self, start: int, physical: int) -> str | None:
        if self.physical(start) != physical:
            return (f"a MIPS CPU reaches physical 0x{physical:08x} only at kuseg, kseg0 or "
                    "kseg1 addresses of it")
        return None

    def code_alias(self, paddr: int) -> int:
        # kseg0 never misses the TLB (the PS1's kuseg page 0 would)
        return 0x80000000 | paddr

    def configure(self, machine, uc) -> None:
        """Write the kuseg TLB entries and ``Status`` (see :mod:`.memory`).

        ``Status``: ``ERL`` cleared, so kuseg goes through the TLB; ``CU1`` set
        for hard-float targets (their first FPU instruction would otherwise
        raise "coprocessor unusable"; soft-float targets keep it clear, so a
        stray FPU instruction faults as on the real CPU).  Only ``tlbwi`` writes
        TLB entries, and an ``mtc0`` to ``Status`` also makes QEMU recompute its
        cached mode flags.
        """
        status = uc.reg_read(_mc.UC_MIPS_REG_CP0_STATUS) & ~STATUS_ERL
        if self.profile.float_abi == "hard":
            status |= STATUS_CU1
        code = self._words(*cp0_setup_code(machine.space.tlb, status))
        # Run it from the sentinel's page, through kseg0, then wipe it.
        paddr, vaddr = self.sentinel_phys + 0x100, 0x80000000 + self.sentinel_phys + 0x100
        uc.mem_write(paddr, code)
        uc.emu_start(vaddr, vaddr + len(code))
        uc.mem_write(paddr, bytes(len(code)))
        uc.ctl_flush_tb()

    def reg_id(self, name: str) -> int:
        return register_id(name)

    def setup_call(self, machine, addr: int, args) -> int:
        stack_args = args[4:]
        sp = machine.stack_top - ((16 + 4 * len(stack_args) + 7) & ~7)
        for i, value in enumerate(stack_args):
            machine.write_u32(sp + 16 + 4 * i, value)
        for name, value in zip(ARG_REGISTERS, args):
            machine.set_reg(name, value)
        machine.set_reg("sp", sp)
        machine.set_reg("ra", self.sentinel)
        machine.set_reg("t9", addr)       # PIC (abicalls) callees derive $gp from $t9
        machine.set_reg("gp", machine.gp)
        return addr

    def interrupt(self, machine, intno: int):
        if intno == EXCP_SYSCALL:
            pc, exact = (machine.reg("pc") - 4) & MASK32, True    # unicorn got this one right
        else:
            pc, exact = _locate.exception_pc(intno, machine.last_block, machine.word_at)
        cause = EXCEPTION_NAMES.get(intno, f"CPU exception {intno}")
        word = machine.word_at(pc) if pc is not None else None
        if intno in (EXCP_SYSCALL, EXCP_BREAK) and exact and word is not None:
            text = describe_trap(word)
            before = machine.word_at(pc - 4)
            if before is not None and has_delay_slot(before):
                return Exception_(cause, pc, detail=text + " in a branch delay slot (not supported)")
            return Trap(pc, pc + 4, "syscall" if intno == EXCP_SYSCALL else "break",
                        trap_code(word), text)
        fault = None
        if intno in (EXCP_ADEL, EXCP_ADES, EXCP_TLBL, EXCP_TLBS):
            fault = _locate.memory_fault(intno, machine.last_block, machine.word_at,
                                         lambda n: machine.reg(str(n)), machine.space.cpu_reaches)
        if fault is None:
            detail = "" if pc is not None else "pc unknown: enable track_blocks"
            return Exception_(cause, pc, exact=exact, detail=detail)
        cause = "unaligned address" if intno in (EXCP_ADEL, EXCP_ADES) else "unmapped address"
        # A fetch's pc is its address; a load/store's was inferred from the block.
        return Exception_(cause, fault.pc, exact=fault.access == "fetch", access=fault.access,
                          address=fault.address, size=fault.size,
                          engine_suspect=fault.access == "fetch")

    def access_address(self, machine, pc: int, paddr: int) -> int | None:
        # The hooks get the physical address; the instruction gives the virtual one.
        operand = memory_operand(machine.word_at(pc) or 0)
        vaddr = None if operand is None else (machine.reg(str(operand[2])) + operand[3]) & MASK32
        return vaddr if vaddr is not None and self.physical(vaddr) == paddr else None

    def poison(self, size: int) -> bytes:
        return self._words(POISON_WORD) * (size // 4) + bytes(size % 4)

    def stub(self, code: int) -> bytes:
        return self._words(NOP, enc_syscall(code))

    def trampoline(self, next_code: int, resume_code: int) -> bytes:
        return self._words(
            enc_addiu("sp", "sp", -32), enc_sw("a0", 0, "sp"), enc_sw("a1", 4, "sp"),
            enc_sw("a2", 8, "sp"), enc_sw("a3", 12, "sp"), enc_sw("ra", 16, "sp"),
            enc_syscall(next_code),                     # 6: v0 = next constructor or 0
            enc_beq("v0", "zero", 5), NOP,              # 7: -> 13
            enc_jalr("v0"), NOP,
            enc_beq("zero", "zero", -6), NOP,           # 11: -> 6
            enc_syscall(resume_code),                   # 13: v0 = where to go
            enc_lw("a0", 0, "sp"), enc_lw("a1", 4, "sp"), enc_lw("a2", 8, "sp"),
            enc_lw("a3", 12, "sp"), enc_lw("ra", 16, "sp"), enc_addiu("sp", "sp", 32),
            enc_jr("v0"), NOP)

    def is_return_address(self, machine, value: int, is_code) -> bool:
        """``value`` points into code and follows a call's delay slot."""
        if value & 3 or not is_code(value):
            return False
        w = machine.word_at((value - 8) & MASK32)
        return w is not None and is_call(w)

    def return_registers(self) -> tuple[str, ...]:
        return tuple(n for n in REG_NUMBERS if n not in ("zero", "sp"))


CPU = MipsCpu
