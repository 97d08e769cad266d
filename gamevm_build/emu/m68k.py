"""Motorola 68000 facts the emulator needs (Sega CD main CPU).

Calls follow gcc's m68k SVR4 convention: arguments on the stack above the
return address (``jsr`` pushes it), results in ``d0`` (pointers also in
``a0``), ``d0``/``d1``/``a0``/``a1`` scratch.  gamevm.h traps are ``trap #15``
with the service number in ``d0`` and arguments in ``d1``, ``a0``, ``a1``.

Notes on unicorn 2.1.4 (m68k), exercised by ``tests/test_emu_consoles.py``:

* The interrupt hook sees ``pc`` at the ``trap``/``illegal``/``divu``
  instruction itself (exact), and nothing is pushed: resuming means writing
  ``pc``.  Unmapped accesses arrive at the memory hook with the virtual
  address (there is no MMU) and the pc of the accessing instruction.
* The ``UC_CPU_M68K_M68000`` model also executes 68020 instructions
  (``mulu.l``, ``extb.l``): what a 68000 lacks is refused before anything
  runs, by the disassembler check (:mod:`gamevm_build.arch.isacheck`).
* It also reads and writes words and longs at odd addresses, and runs code at
  an odd pc, where a 68000 raises an address error (vector 3).  The machine
  hooks every data access (:attr:`M68kCpu.alignment`) and checks each
  translation block's address (:attr:`M68kCpu.fetch_alignment`); the access is
  aborted before it lands, so memory and registers stay as the 68000 leaves
  them.  An odd pc reached without block tracking shows as whatever exception
  the misread code raises, reported as the address error it is.
"""

from __future__ import annotations

from functools import lru_cache

from unicorn import m68k_const as _k

from .cpu import MASK32, Cpu, Exception_, Trap

REGISTERS = {f"d{i}": getattr(_k, f"UC_M68K_REG_D{i}") for i in range(8)}
REGISTERS.update({f"a{i}": getattr(_k, f"UC_M68K_REG_A{i}") for i in range(8)})
REGISTERS.update(sp=_k.UC_M68K_REG_A7, fp=_k.UC_M68K_REG_A6, pc=_k.UC_M68K_REG_PC,
                 sr=_k.UC_M68K_REG_SR)

TRAP_SERVICE = 15                 # trap #15 carries gamevm.h calls and the loader's stubs
EXCP_TRAP0 = 32
EXCEPTIONS = {2: "bus error", 3: "address error", 4: "illegal instruction",
              5: "division by zero", 6: "CHK out of bounds", 7: "TRAPV overflow",
              8: "privilege violation", 9: "trace", 10: "line-A instruction",
              11: "line-F instruction (no FPU)"}
ILLEGAL = 0x4AFC
NOP = 0x4E71
ADDRESS_ERROR = "address error"
DATA_HINT = ("the 68000 reads and writes words and longs only at even addresses: look for a "
             "packed struct, a char or byte pointer cast to a wider type, or an odd offset "
             "into a buffer (copy the bytes one at a time instead)")
FETCH_HINT = ("the 68000 fetches instructions only at even addresses: a corrupted function "
              "pointer or return address")


def _move_l_imm_d0(value: int) -> tuple[int, ...]:
    return (0x203C, value >> 16 & 0xFFFF, value & 0xFFFF)        # move.l #value, d0


class M68kCpu(Cpu):
    arch = "m68k"
    result_register = "d0"
    trap_registers = ("d1", "a0", "a1")
    stub_trap_offset = 6
    alignment = {2: 1, 4: 1}
    fetch_alignment = 1
    counts_vary = True            # instructions are 2 to 10 bytes: the count is the code's

    def reg_id(self, name: str) -> int:
        try:
            return REGISTERS[name.lower().lstrip("%")]
        except KeyError:
            raise KeyError(f"unknown 68000 register '{name}'") from None

    def configure(self, machine, uc) -> None:
        uc.reg_write(_k.UC_M68K_REG_SR, 0x2700)       # supervisor, interrupts masked: as at reset

    def setup_call(self, machine, addr: int, args) -> int:
        sp = (machine.stack_top & ~3) - 4 * len(args) - 4
        machine.write(sp, self._words(self.sentinel, *args))
        machine.set_reg("sp", sp)
        return addr

    def set_result(self, machine, value: int) -> None:
        machine.set_reg("d0", value)
        machine.set_reg("a0", value)          # pointer results are read from a0

    def interrupt(self, machine, intno: int):
        pc = machine.reg("pc")
        if intno == EXCP_TRAP0 + TRAP_SERVICE:
            code = machine.reg("d0")
            return Trap(pc, pc + 2, "syscall", code, f"trap #{TRAP_SERVICE} (d0 = 0x{code:x})")
        if EXCP_TRAP0 <= intno < EXCP_TRAP0 + 16:
            return Trap(pc, pc + 2, "break", intno - EXCP_TRAP0, f"trap #{intno - EXCP_TRAP0}")
        if pc & 1:              # without block tracking nothing stopped the odd jump
            return self.fetch_fault(pc)
        return Exception_(EXCEPTIONS.get(intno, f"CPU exception {intno}"), pc)

    def misaligned(self, machine, pc: int, access: str, address: int, size: int):
        return Exception_(ADDRESS_ERROR, pc, access=access, address=address, size=size,
                          detail=DATA_HINT)

    def fetch_fault(self, address: int):
        return Exception_(ADDRESS_ERROR, address, access="fetch", address=address,
                          detail=FETCH_HINT)

    def instructions_in_block(self, machine, address: int, size: int) -> int:
        return _count(machine.read(address, size), address)

    def poison(self, size: int) -> bytes:
        return self._halves(ILLEGAL) * (size // 2) + bytes(size % 2)

    def stub(self, code: int) -> bytes:
        return self._halves(*_move_l_imm_d0(code), 0x4E40 | TRAP_SERVICE)

    def trampoline(self, next_code: int, resume_code: int) -> bytes:
        # The arguments stay on the stack untouched; constructors take none.
        return self._halves(
            *_move_l_imm_d0(next_code), 0x4E40 | TRAP_SERVICE,   # 0: d0 = next constructor or 0
            0x4A80,                                               # 8: tst.l d0
            0x6708,                                               # 10: beq.s 20
            0x2040,                                               # 12: movea.l d0, a0
            0x4E90,                                               # 14: jsr (a0)
            0x6000, 0x10000 - 18,                                 # 16: bra.w 0
            *_move_l_imm_d0(resume_code), 0x4E40 | TRAP_SERVICE,  # 20: d0 = where to go
            0x2040,                                               # 28: movea.l d0, a0
            0x4ED0)                                               # 30: jmp (a0)

    def is_return_address(self, machine, value: int, is_code) -> bool:
        """``value`` follows a ``jsr``/``bsr`` (2, 4 or 6 bytes long)."""
        if value & 1 or not is_code(value):
            return False
        for back in (2, 4, 6):
            try:
                op = int.from_bytes(machine.read((value - back) & MASK32, 2), "big")
            except Exception:
                continue
            if back == 2 and (op & 0xFFF8 in (0x4E90,) or op & 0xFF00 == 0x6100 and op & 0xFF):
                return True                          # jsr (an) / bsr.s
            if back == 4 and (op & 0xFFF8 in (0x4EA8, 0x4EB0) or op in (0x4EB8, 0x4EBA, 0x4EBB)
                              or op == 0x6100):
                return True                          # jsr d16(an)/(d8,an,xn)/abs.w/pc / bsr.w
            if back == 6 and op == 0x4EB9:
                return True                          # jsr abs.l
        return False


@lru_cache(maxsize=4096)
def _count(code: bytes, address: int) -> int:
    """Instructions in a translated block (68000 instructions are 2 to 10 bytes)."""
    from capstone import CS_ARCH_M68K, CS_MODE_BIG_ENDIAN, CS_MODE_M68K_000, Cs
    md = _disassembler(Cs, CS_ARCH_M68K, CS_MODE_M68K_000 | CS_MODE_BIG_ENDIAN)
    n = sum(1 for _ in md.disasm_lite(code, address))
    return max(n, 1)


@lru_cache(maxsize=None)
def _disassembler(cs, arch, mode):
    return cs(arch, mode)


CPU = M68kCpu
