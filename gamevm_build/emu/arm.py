"""ARM facts the emulator needs (GBA ARM7TDMI, 3DO ARM60).

Calls follow the AAPCS: arguments in ``r0``-``r3`` then on the stack, result
in ``r0``, return address in ``lr``; a function address with bit 0 set is
Thumb code.  gamevm.h traps are ``svc``: in ARM state the 24-bit comment is
the service number, in Thumb state the 8-bit comment is its low byte (the
``GVM_SYS_*`` numbers are all 0x47xx); arguments in ``r0``-``r2``, result in
``r0``.

Notes on unicorn 2.1.4 (ARM), exercised by ``tests/test_emu_consoles.py``:

* ``svc`` reaches the interrupt hook with ``pc`` after the instruction;
  writing ``pc`` there resumes elsewhere (bit 0 selects Thumb).  ``bkpt``
  arrives with ``pc`` at the instruction.
* An undefined instruction does not reach the hook: ``emu_start`` fails with
  ``UC_ERR_INSN_INVALID`` and ``pc`` at the instruction.
* No model is an ARM7TDMI or ARM60: an ARM926 (ARMv5TE) runs both CPUs'
  code, and the instructions it has beyond theirs are refused before
  anything runs (:mod:`gamevm_build.arch.isacheck`).  A big-endian engine is
  BE32, like the ARM60.
* The ARM926 reads and writes unaligned words and halfwords across the
  boundary, and its SCTLR alignment bit (cp15 c1 bit 1) changes nothing: this
  QEMU checks alignment only on M-profile cores, and on ``SWP``, which raises a
  data abort.  The machine therefore hooks every data access
  (:attr:`ArmCpu.alignment`) and redoes an unaligned one the way the ARM7TDMI
  and ARM60 make it (:mod:`.armalign`: rotated loads, stores at the aligned
  address).
"""

from __future__ import annotations

from unicorn import arm_const as _a

from . import armalign
from .cpu import MASK32, Cpu, Exception_, Trap

REGISTERS = {f"r{i}": getattr(_a, f"UC_ARM_REG_R{i}") for i in range(16)}
REGISTERS.update(sb=_a.UC_ARM_REG_R9, sl=_a.UC_ARM_REG_R10, fp=_a.UC_ARM_REG_R11,
                 ip=_a.UC_ARM_REG_R12, sp=_a.UC_ARM_REG_SP, lr=_a.UC_ARM_REG_LR,
                 pc=_a.UC_ARM_REG_PC, cpsr=_a.UC_ARM_REG_CPSR)

EXCP_UDEF, EXCP_SWI, EXCP_PREFETCH_ABORT, EXCP_DATA_ABORT, EXCP_BKPT = 1, 2, 3, 4, 7
CPSR_T = 1 << 5
#: a permanently undefined instruction (``udf``), the fill of freed memory
UDF = 0xE7F000F0
SVC = 0xEF000000
SYS_PREFIX = 0x4700               # Thumb svc carries only the low byte of a GVM_SYS_* number


class ArmCpu(Cpu):
    arch = "arm"
    result_register = "r0"
    link_register = "lr"
    trap_registers = ("r0", "r1", "r2", "r3")
    alignment = {2: 1, 4: 3}
    redoes_accesses = True
    counts_vary = True            # 2 or 4 bytes per instruction, by the Thumb bit of cpsr

    def __init__(self, profile):
        super().__init__(profile)
        # ARMv3 has no bx: code the runtime writes returns and calls with mov pc
        self.has_bx = profile.isa != "armv3"
        self.has_halfwords = profile.isa != "armv3"

    def reg_id(self, name: str) -> int:
        try:
            return REGISTERS[name.lower()]
        except KeyError:
            raise KeyError(f"unknown ARM register '{name}'") from None

    def configure(self, machine, uc) -> None:
        # System mode: privileged (msr works) with the user-mode register bank
        uc.reg_write(_a.UC_ARM_REG_CPSR, (uc.reg_read(_a.UC_ARM_REG_CPSR) & ~0x3F) | 0x1F | 0xC0)

    def setup_call(self, machine, addr: int, args) -> int:
        stack_args = args[4:]
        sp = (machine.stack_top - 4 * len(stack_args)) & ~7
        if stack_args:
            machine.write(sp, self._words(*stack_args))
        for i, value in enumerate(args[:4]):
            machine.set_reg(f"r{i}", value)
        machine.set_reg("sp", sp)
        machine.set_reg("lr", self.sentinel)
        return addr

    def thumb(self, machine) -> bool:
        return bool(machine.reg("cpsr") & CPSR_T)

    def interrupt(self, machine, intno: int):
        pc = machine.reg("pc")
        if intno == EXCP_SWI:
            if self.thumb(machine):
                at = (pc - 2) & MASK32
                imm = int.from_bytes(machine.read(at, 2), self.byteorder) & 0xFF
                return Trap(at, pc | 1, "syscall", SYS_PREFIX | imm, f"svc 0x{imm:x} (Thumb)")
            at = (pc - 4) & MASK32
            imm = (machine.word_at(at) or 0) & 0xFFFFFF
            return Trap(at, pc, "syscall", imm, f"svc 0x{imm:x}")
        if intno == EXCP_BKPT:
            return Trap(pc, pc + (2 if self.thumb(machine) else 4), "break", 0, "bkpt")
        if intno == EXCP_DATA_ABORT and not self.thumb(machine) and \
                armalign.is_swp(machine.word_at(pc) or 0):
            # without an MMU this is unicorn's alignment check on SWP, before any access
            return armalign.redo(machine, pc, False, self.has_halfwords)
        names = {EXCP_UDEF: "undefined instruction", EXCP_PREFETCH_ABORT: "prefetch abort",
                 EXCP_DATA_ABORT: "data abort"}
        return Exception_(names.get(intno, f"CPU exception {intno}"), pc)

    def misaligned(self, machine, pc: int, access: str, address: int, size: int):
        return armalign.redo(machine, pc, self.thumb(machine), self.has_halfwords)

    def set_pc(self, machine, addr: int) -> None:
        machine.set_reg("pc", addr)           # unicorn: bit 0 selects Thumb state

    def instructions_in_block(self, machine, address: int, size: int) -> int:
        return size >> 1 if self.thumb(machine) else size >> 2

    def poison(self, size: int) -> bytes:
        return self._words(UDF) * (size // 4) + bytes(size % 4)

    def stub(self, code: int) -> bytes:
        # Reached through a veneer or a function pointer with bit 0 clear: ARM state.
        # r0-r3 still hold the arguments; the trap must not touch them.
        return self._words(SVC | code & 0xFFFFFF, UDF)

    def trampoline(self, next_code: int, resume_code: int) -> bytes:
        call_r0 = 0xE12FFF10 if self.has_bx else 0xE1A0F000       # bx r0 / mov pc, r0
        jump_ip = 0xE12FFF1C if self.has_bx else 0xE1A0F00C       # bx ip / mov pc, ip
        return self._words(
            0xE92D401F,               # 0: stmfd sp!, {r0-r4, lr} (8-byte aligned frame)
            SVC | next_code,          # 4: r0 = next constructor or 0
            0xE3500000,               # 8: cmp r0, #0
            0x0A000002,               # 12: beq 28
            0xE1A0E00F,               # 16: mov lr, pc
            call_r0,                  # 20
            0xEAFFFFF9,               # 24: b 4
            SVC | resume_code,        # 28: r0 = where to go
            0xE1A0C000,               # 32: mov ip, r0
            0xE8BD401F,               # 36: ldmfd sp!, {r0-r4, lr}
            jump_ip)                  # 40

    def is_return_address(self, machine, value: int, is_code) -> bool:
        """``value`` follows a BL (ARM or Thumb) or a ``mov lr, pc`` + jump."""
        if not is_code(value & ~1):
            return False
        if value & 1:                                      # Thumb: after a BL pair
            try:
                hi, lo = (int.from_bytes(machine.read((value & ~1) - n, 2), self.byteorder)
                          for n in (4, 2))
            except Exception:
                return False
            return hi & 0xF800 == 0xF000 and lo & 0xF800 in (0xF800, 0xE800)
        if value & 3:
            return False
        prev = machine.word_at((value - 4) & MASK32)
        if prev is None:
            return False
        if prev & 0x0F000000 == 0x0B000000:                # bl
            return True
        before = machine.word_at((value - 8) & MASK32)
        return before is not None and before & 0x0FFFFFFF == 0x01A0E00F   # mov lr, pc

    def return_registers(self) -> tuple[str, ...]:
        return tuple(f"r{i}" for i in range(13)) + ("lr",)


CPU = ArmCpu
