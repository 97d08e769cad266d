"""What went wrong in an emulated call, in a form tests and front ends can inspect."""

from __future__ import annotations

from dataclasses import dataclass


def _at(addr: int | None, symbol: str | None) -> str:
    if addr is None:
        return "?"
    return f"0x{addr:08x}" + (f" <{symbol}>" if symbol else "")


@dataclass(frozen=True)
class FaultReport:
    """One CPU fault.

    Attributes
    ----------
    cause
        ``"unmapped address"`` for a bad access, else the CPU exception
        (``"break"``, ``"syscall"``, ``"integer overflow"``, ...).
    access
        ``"read"``, ``"write"`` or ``"fetch"`` for memory faults, else None.
    address
        The faulting virtual address (for fetches: the jump target), if known.
    pc, ra
        Program counter of the faulting instruction and the return address
        register.  ``pc_exact`` is False when unicorn did not report the pc and
        it was inferred from the last translation block (see ``block``).
    detail
        Extra words, e.g. the trap instruction (``"break 7"``).
    function
        The function :meth:`Machine.call` started.
    block
        ``(start, size)`` of the last translation block entered, if tracked:
        for a bad jump, the block that jumped.
    *_symbol
        Names from the machine's symbolizer (``"fn+0x10"``), or None.
    backtrace
        ``((address, symbol), ...)``, innermost first, added by the console
        (:meth:`gamevm_build.play.console.Console.with_backtrace`) where the stack can
        be walked; ``backtrace_complete`` is False when unwinding stopped early.
    """

    cause: str
    access: str | None
    address: int | None
    pc: int | None
    ra: int | None
    pc_exact: bool = True
    size: int | None = None
    detail: str = ""
    function: int | None = None
    block: tuple[int, int] | None = None
    address_symbol: str | None = None
    pc_symbol: str | None = None
    ra_symbol: str | None = None
    function_symbol: str | None = None
    block_symbol: str | None = None
    #: ``((address, symbol), ...)`` innermost first, when the stack could be walked
    backtrace: tuple = ()
    backtrace_complete: bool = True
    #: how each backtrace frame was found: "pc", "cfi", "prologue", "link", "scan"
    backtrace_how: tuple = ()

    def __str__(self) -> str:
        if self.access is not None:
            width = f" ({self.size} bytes)" if self.size and self.access != "fetch" else ""
            what = f"{self.access} of {self.cause} {_at(self.address, self.address_symbol)}{width}"
        else:
            what = self.cause + (f" ({self.detail})" if self.detail else "")
            if self.address is not None:
                what += f" at address {_at(self.address, self.address_symbol)}"
        pc = _at(self.pc, self.pc_symbol)
        text = f"{what}: pc {pc if self.pc_exact else 'near ' + pc}, ra {_at(self.ra, self.ra_symbol)}"
        if self.access is not None and self.detail:
            text += f"; {self.detail}"
        if self.block is not None and (self.access == "fetch" or not self.pc_exact):
            start, size = self.block
            text += (f"; last block entered 0x{start:08x}..0x{start + size:08x}"
                     + (f" <{self.block_symbol}>" if self.block_symbol else ""))
        if self.function is not None:
            text += f"; in call to {_at(self.function, self.function_symbol)}"
        if self.backtrace:
            text += "\nbacktrace" + ("" if self.backtrace_complete else " (partial)") + ":"
            for i, (addr, symbol) in enumerate(self.backtrace):
                how = self.backtrace_how[i] if i < len(self.backtrace_how) else ""
                text += f"\n  #{i} {_at(addr, symbol)}" + (f" [{how}]" if i and how else "")
        return text
