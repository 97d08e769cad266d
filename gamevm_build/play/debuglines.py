"""Source lines and CFI for console addresses, from the debug files beside modules and the resident.

A :class:`ConsoleLines` answers for any address of a running console: which debug
file describes it (the loaded module's ``X.debug`` at ``address - base``, or
the resident's at ``address``) and so its ``file:line``
(:mod:`gamevm_build.link.lines`).  It wraps the machine's symbolizer, so every
report that names an address (fault reports, backtraces, stale calls, timeouts,
validation failures) gains ``, boss.c:70`` after the symbol.  Without a debug
file nothing is read and names stay as they were.
"""

from __future__ import annotations

from pathlib import Path

from ..link.debugfile import DEBUG_SUFFIX
from ..link.lines import FrameRule, debug_info, describe

__all__ = ["ConsoleLines"]


class ConsoleLines:
    """Debug files of a console's resident and loaded modules (looked up per file once)."""

    def __init__(self, console):
        self.console = console
        self._infos: dict[str, object] = {}
        self.resident_info = self._info(getattr(console.resident, "path", "") or "")

    def _info(self, path: str):
        if not path:
            return None
        if path not in self._infos:
            debug = Path(path).with_suffix(DEBUG_SUFFIX)
            self._infos[path] = None if debug == Path(path) else debug_info(debug)
        return self._infos[path]

    def locate(self, addr: int):
        """``(DebugInfo, debug-file address)`` of a console address, or None."""
        lm = self.console.loader.module_at(addr)
        if lm is not None:
            info = self._info(getattr(lm, "path", "") or "")
            return (info, addr - lm.base) if info is not None else None
        if self.resident_info is not None and any(
                v <= addr < v + max(len(data), memsz)
                for v, data, memsz, _f in self.console.resident.segments):
            return self.resident_info, addr
        return None

    def _lookup_address(self, addr: int, caller: bool) -> int:
        arch = self.console.machine.cpu.arch
        if arch == "arm":
            addr &= ~1
        if caller:
            # a return address follows the call: look up the call itself (MIPS: before
            # the delay slot)
            addr -= 8 if arch == "mips" else 1
        return addr

    def line(self, addr: int, *, caller: bool = False) -> str | None:
        """``"boss.c:70"`` of the instruction at ``addr`` (``caller``: of the call that
        returns to ``addr``), None without line info."""
        where = self.locate(self._lookup_address(addr, caller))
        if where is None:
            return None
        info, off = where
        return describe(info, off)

    def frame_rule(self, addr: int, caller: bool = False) -> FrameRule | None:
        """The CFI row at ``addr``, for :func:`gamevm_build.emu.stackwalk.walk`."""
        where = self.locate(self._lookup_address(addr, caller))
        if where is None:
            return None
        info, off = where
        return info.cfa_rule(off)

    def install(self) -> None:
        """Wrap the machine's symbolizer (after the loader installed its own): its names
        gain ``, file:line``."""
        machine = self.console.machine
        self._symbolize = inner = machine.symbolizer

        def symbolize_with_line(addr: int) -> str | None:
            return self._with_line(inner(addr) if inner else None, self.line(addr))
        machine.symbolizer = symbolize_with_line

    _symbolize = None

    @staticmethod
    def _with_line(name: str | None, line: str | None) -> str | None:
        if line is None:
            return name
        return f"{name}, {line}" if name else line

    def symbolize(self, addr: int, *, caller: bool = False) -> str | None:
        """The machine's name of ``addr``; for a return address (``caller``) with the line
        of the call rather than of the instruction it returns to."""
        machine = self.console.machine
        if not caller or addr == machine.sentinel:
            return machine.symbolize(addr)
        name = self._symbolize(addr) if self._symbolize else None
        return self._with_line(name, self.line(addr, caller=True))
