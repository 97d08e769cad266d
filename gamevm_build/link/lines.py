"""Source lines and call frame info from a debug file (``boss.debug``), read with pyelftools.

A module's debug file describes it at base 0 and the resident's at its link
addresses (:mod:`gamevm_build.link.debugfile`), so a console address is looked
up at ``address - base``.  Each file is parsed once per process (cached by
path, size and modification time), and only when it exists: a console whose
modules have no debug file pays nothing.

- :meth:`DebugInfo.line` gives ``(file, line)`` of an address from
  ``.debug_line`` (the file as ``addr2line -s`` names it: its base name).
- :meth:`DebugInfo.cfa_rule` gives the ``.debug_frame`` row for an address:
  how to compute the canonical frame address and where the caller's registers
  (among them the return address) were saved.
"""

from __future__ import annotations

import bisect
import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DebugInfo", "FrameRule", "debug_info", "describe"]


@dataclass(frozen=True)
class FrameRule:
    """One ``.debug_frame`` row: ``CFA = reg(cfa_reg) + cfa_offset``; register ``n`` of the
    caller was saved at ``CFA + saved[n]``; ``return_column`` holds the return address."""

    cfa_reg: int
    cfa_offset: int
    saved: dict
    return_column: int


class DebugInfo:
    """Line table and CFI of one debug file (parsed on first use)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lines: tuple[list[int], list[tuple[int, str, int]]] | None = None
        self._fdes: tuple[list[int], list] | None = None

    def _load(self) -> None:
        from elftools.common.exceptions import ELFError, DWARFError
        starts: list[int] = []
        rows: list[tuple[int, str, int]] = []           # (end, file, line)
        fstarts: list[int] = []
        fdes: list = []
        try:
            with open(self.path, "rb") as f:
                from elftools.elf.elffile import ELFFile
                elf = ELFFile(f)
                dwarf = elf.get_dwarf_info() if elf.has_dwarf_info() else None
                if dwarf is not None:
                    spans = []
                    for cu in dwarf.iter_CUs():
                        spans += _line_spans(dwarf, cu)
                    spans.sort()
                    for lo, hi, name, line in spans:
                        starts.append(lo)
                        rows.append((hi, name, line))
                    if dwarf.has_CFI():
                        for lo, hi, fde in sorted(_fdes(dwarf), key=lambda t: t[0]):
                            fstarts.append(lo)
                            fdes.append((hi, fde))
        except (OSError, ELFError, DWARFError, ValueError, KeyError, AssertionError):
            starts, rows, fstarts, fdes = [], [], [], []       # unreadable: no line info
        self._lines = (starts, rows)
        self._fdes = (fstarts, fdes)

    def line(self, addr: int) -> tuple[str, int] | None:
        """``(file, line)`` of the instruction at ``addr`` (a debug-file address)."""
        if self._lines is None:
            self._load()
        starts, rows = self._lines
        i = bisect.bisect_right(starts, addr) - 1
        if i < 0 or addr >= rows[i][0]:
            return None
        return rows[i][1], rows[i][2]

    def cfa_rule(self, addr: int) -> FrameRule | None:
        """The CFI row in effect at ``addr`` (a debug-file address), None without CFI."""
        if self._fdes is None:
            self._load()
        starts, fdes = self._fdes
        i = bisect.bisect_right(starts, addr) - 1
        if i < 0 or addr >= fdes[i][0]:
            return None
        fde = fdes[i][1]
        from elftools.common.exceptions import DWARFError
        try:
            table = fde.get_decoded().table
        except (DWARFError, ValueError, KeyError, AssertionError):
            return None                 # a malformed table: unwind this frame another way
        row = None
        for r in table:
            if r["pc"] <= addr:
                row = r
            else:
                break
        if row is None or "cfa" not in row or row["cfa"].reg is None:
            return None
        saved = {}
        for reg, rule in row.items():
            if isinstance(reg, int) and getattr(rule, "type", None) == "OFFSET":
                saved[reg] = rule.arg
        return FrameRule(row["cfa"].reg, row["cfa"].offset, saved,
                         fde.cie["return_address_register"])


def _line_spans(dwarf, cu) -> list[tuple[int, int, str, int]]:
    lp = dwarf.line_program_for_CU(cu)
    if lp is None:
        return []
    files = lp["file_entry"]
    first = 0 if lp.header["version"] >= 5 else 1
    out = []
    prev = None
    for entry in lp.get_entries():
        st = entry.state
        if st is None:
            continue
        if prev is not None and st.address > prev.address:
            idx = prev.file - first
            name = files[idx].name if 0 <= idx < len(files) else b"?"
            name = os.path.basename(name.decode("utf-8", "replace"))
            out.append((prev.address, st.address, name, prev.line))
        prev = None if st.end_sequence else st
    return out


def _fdes(dwarf):
    from elftools.dwarf.callframe import FDE
    for entry in dwarf.CFI_entries():
        if isinstance(entry, FDE):
            lo = entry.header["initial_location"]
            yield lo, lo + entry.header["address_range"], entry


_CACHE: dict[Path, tuple[tuple[int, int], DebugInfo]] = {}


def debug_info(path) -> DebugInfo | None:
    """The parsed debug file at ``path``, or None when there is none (cached per file)."""
    path = Path(path)
    try:
        st = path.stat()
    except OSError:
        return None
    key = (st.st_size, st.st_mtime_ns)
    hit = _CACHE.get(path)
    if hit is not None and hit[0] == key:
        return hit[1]
    info = DebugInfo(path)
    _CACHE[path] = (key, info)
    return info


def describe(info: DebugInfo | None, addr: int) -> str | None:
    """``"boss.c:70"`` for a debug-file address, or None without line info."""
    if info is None:
        return None
    where = info.line(addr)
    return None if where is None else f"{where[0]}:{where[1]}"
