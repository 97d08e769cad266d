"""The N64's VR4300 caches, as far as code written at run time needs them.

The VR4300 has a write-back data cache (8 KiB of 16-byte lines) and an instruction cache
(16 KiB of 32-byte lines) that does not look at it: code the CPU has just written sits in
the data cache, and the instruction cache may still hold what was there before.  Before
that code runs, each of its data lines must be written back to RAM and each of its
instruction lines invalidated, with the ``CACHE`` instruction (libultra's
``osWritebackDCache`` + ``osInvalICache``, libdragon's ``data_cache_hit_writeback`` +
``inst_cache_hit_invalidate``).  A loader that skips a line, strides past one or uses the
wrong operation runs stale instructions on the console, not a fault.

unicorn runs ``CACHE`` as a no-op, so :class:`CodeCaches` follows the ``CACHE``
instructions of the code it is told to watch (the runtime's ``GameVMSyncCode``, with a
breakpoint on each) and keeps which written lines are still dirty or stale.  The
emulated console (:class:`~gamevm_build.runtime.target.TargetLoader`) keeps written
code unexecutable until none of its lines is.
"""

from __future__ import annotations

MASK32 = 0xFFFFFFFF
D_LINE, I_LINE = 16, 32
#: lines per cache: the index an Index_* operation names (8 KiB / 16, 16 KiB / 32)
D_SETS, I_SETS = 512, 512
CACHE_OPCODE = 0x2F

#: CACHE op field (bits 20-16): the cache (bits 1-0: 0 instruction, 1 data) and the
#: operation (bits 4-2); the ones that make written code visible
I_INVALIDATE = {0x00: "index", 0x10: "hit"}            # Index_Invalidate, Hit_Invalidate
D_WRITE_BACK = {0x01: "index", 0x15: "hit", 0x19: "hit"}  # Index_WB_Inv, Hit_WB_Inv, Hit_WB


class CodeCaches:
    """Lines of code written since the last write back (data) and invalidate (instruction)."""

    def __init__(self, machine):
        self.machine = machine
        self.dirty: set[int] = set()      # physical data lines not written back
        self.stale: set[int] = set()      # physical instruction lines not invalidated

    def watch(self, start: int, end: int) -> None:
        """Follow every ``CACHE`` instruction in ``[start, end)``."""
        code = self.machine.read(start & ~3, end - (start & ~3))
        for at in range(0, len(code) - 3, 4):
            word = int.from_bytes(code[at:at + 4], self.machine.profile.byteorder)
            if word >> 26 == CACHE_OPCODE:
                op, base, offset = word >> 16 & 31, word >> 21 & 31, word & 0xFFFF
                self.machine.breakpoint((start & ~3) + at, lambda m, op=op, reg=f"r{base}",
                                        off=offset - ((offset & 0x8000) << 1):
                                        self._on_cache(m, op, reg, off))

    def written(self, addr: int, size: int) -> None:
        """The CPU wrote code to ``[addr, addr+size)``: its lines are dirty and stale."""
        self.dirty.update(self._lines(addr, size, D_LINE))
        self.stale.update(self._lines(addr, size, I_LINE))

    def pending(self, addr: int, size: int) -> bool:
        """Some line of ``[addr, addr+size)`` is not yet visible to instruction fetch."""
        # last lines first: a sync cleans lines upwards, so a partial one is found at once
        return (any(x in self.stale for x in reversed(self._lines(addr, size, I_LINE))) or
                any(x in self.dirty for x in reversed(self._lines(addr, size, D_LINE))))

    def line_state(self, addr: int) -> tuple[bool, bool]:
        """``(dirty, stale)``: the data line and the instruction line holding ``addr``."""
        p = self.machine._physical(addr, 1)
        return p & -D_LINE in self.dirty, p & -I_LINE in self.stale

    def _lines(self, addr: int, size: int, line: int) -> range:
        if size <= 0:
            return range(0)
        start = self.machine._physical(addr, size)
        return range(start & -line, start + size, line)

    def _on_cache(self, machine, op: int, reg: str, offset: int) -> None:
        """``cache op, offset(reg)`` is about to run."""
        ea = (machine.reg(reg) + offset) & MASK32
        paddr = machine.space.translate(ea, 1)
        if paddr is None:
            if not 0x80000000 <= ea < 0xC0000000:
                # kuseg and kseg2 go through the TLB, which holds no mapping here: on the
                # console the CACHE instruction takes a TLB miss exception
                machine.fault(f"cache operation at 0x{ea:08x}, an address the TLB does not "
                              "map (TLB miss)", None, ea)
            return                 # kseg0/kseg1 past RAM: no line of RAM to clean
        if op in I_INVALIDATE:
            self._clean(self.stale, paddr, I_LINE, I_SETS, I_INVALIDATE[op])
        elif op in D_WRITE_BACK:
            self._clean(self.dirty, paddr, D_LINE, D_SETS, D_WRITE_BACK[op])

    @staticmethod
    def _clean(lines: set[int], paddr: int, line: int, sets: int, how: str) -> None:
        """Take out of ``lines`` the one a Hit operation at ``paddr`` names, or, for an
        Index operation, every line of the set its index bits name."""
        if how == "hit":
            lines.discard(paddr & -line)
            return
        index = paddr // line % sets
        lines.difference_update([x for x in lines if x // line % sets == index])
