"""Which source file each object came from, so that messages name the user's files.

``gamevm module a.c`` compiles ``a.c`` into a temporary object that is gone by
the time the user reads an error; a message naming
``/tmp/gamevm-x1y2/0000_a.o`` helps nobody.  The builders record here which
source each object was compiled from; linker and resident messages then name
the source, and, for code the CPU cannot run, the source line.

Line numbers come from DWARF line tables read with the toolchain's
``addr2line``.  An object compiled without ``-g`` is compiled again with it,
only when a line is wanted (after a failure), into a separate file: gcc
generates the same code with and without ``-g`` (it checks that itself with
``-fcompare-debug``), and :meth:`SourceMap.lines` compares the section bytes
before trusting the copy.  The objects that are linked are never compiled
with a flag the user did not give, so outputs do not change.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from ..record import Record


class _Origin(Record):
    obj: str
    source: str
    #: writes the same object with DWARF line info to the given path, or None
    recompile: Callable[[Path], object] | None = None
    debug_object: Path | None = None
    tried: bool = False


class SourceMap:
    """Object path -> the source it was compiled from (and how to get its line info)."""

    def __init__(self, toolchain=None):
        self.toolchain = toolchain
        self._origins: dict[str, _Origin] = {}
        self._tmp: tempfile.TemporaryDirectory | None = None

    def add(self, obj, source, recompile: Callable[[Path], object] | None = None) -> None:
        """Record that ``obj`` was compiled from ``source``.

        ``recompile(path)`` writes the same object compiled with ``-g`` to
        ``path``; without it, lines are only found when ``obj`` has them.
        """
        self._origins[_key(obj)] = _Origin(str(obj), str(source), recompile)

    def add_compiled(self, toolchain, source, obj, extra_flags=(), include_dirs=(),
                     cwd=None) -> None:
        """Record an object :meth:`Toolchain.compile` made, recompilable with ``-g``."""
        extra, dirs = list(extra_flags), list(include_dirs)
        self.add(obj, source,
                 lambda out: toolchain.compile(source, out, [*extra, "-g"], dirs, cwd=cwd))

    def __contains__(self, obj) -> bool:
        return _key(obj) in self._origins

    def source(self, obj) -> str | None:
        """The source ``obj`` was compiled from, or None for an object the user gave."""
        if not self._origins:       # nothing compiled: no absolute path to make per object
            return None
        origin = self._origins.get(_key(obj))
        return origin.source if origin else None

    def name(self, obj) -> str:
        """What messages call ``obj``: its source, or the object itself."""
        return self.source(obj) or str(obj)

    def rewrite(self, text: str) -> str:
        """``text`` (a tool's messages) with each known object's path replaced by its source."""
        for origin in sorted(self._origins.values(), key=lambda o: -len(o.obj)):
            text = text.replace(origin.obj, origin.source)
        return text

    def lines(self, obj, section: str, offsets: Iterable[int], profile=None) -> dict[int, str]:
        """``file:line`` of code offsets in ``section`` of ``obj`` (those that have one).

        Uses the object's own line info (the user passed ``-g``), else a copy
        compiled with ``-g`` whose ``section`` has the same bytes.  Without a
        toolchain of its own, the map uses ``profile``'s.  Never raises: a message
        without a line is still a message.
        """
        path = Path(str(obj))
        try:
            toolchain = self.toolchain
            if toolchain is None and profile is not None:
                from .toolchain import find_toolchain
                toolchain = find_toolchain(profile)
            if toolchain is None:
                return {}
            with_lines = path if _has_line_info(path) else self._debug_copy(path, section)
            if with_lines is None:
                return {}
            return toolchain.source_lines(with_lines, section, offsets)
        except Exception:           # noqa: BLE001 - line numbers are a courtesy
            return {}

    def _debug_copy(self, obj: Path, section: str) -> Path | None:
        origin = self._origins.get(_key(obj))
        if origin is None or origin.recompile is None:
            return None
        if not origin.tried:
            origin.tried = True
            if self._tmp is None:
                import tempfile      # only after a failure: not among every link's imports
                self._tmp = tempfile.TemporaryDirectory(prefix="gamevm-lines-")
            out = Path(self._tmp.name) / f"{len(os.listdir(self._tmp.name)):04d}_{obj.name}"
            origin.recompile(out)
            origin.debug_object = out
        copy = origin.debug_object
        if copy is None or _section_bytes(copy, section) != _section_bytes(obj, section):
            return None
        return copy

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _key(obj) -> str:
    return os.path.abspath(str(obj))


def _has_line_info(path: Path) -> bool:
    from . import elf32
    elf = elf32.parse(path.read_bytes(), str(path))
    return elf.section_by_name(".debug_line") is not None


def _section_bytes(path: Path, section: str) -> bytes | None:
    from . import elf32
    sec = elf32.parse(path.read_bytes(), str(path)).section_by_name(section)
    return None if sec is None else bytes(sec.data)


def describe_lines(violations, obj, sources: SourceMap, default: str, profile=None) -> list[str]:
    """One line per :class:`~gamevm_build.arch.isacheck.IsaViolation` of ``obj``.

    Each names the source line when there is one (``level.c:12: .text+0x38
    <f+0x8>: ...``), else ``default`` (the source or object name).
    """
    by_section: dict[str, set[int]] = {}
    for v in violations:
        by_section.setdefault(v.section, set()).add(v.offset)
    lines: dict[tuple[str, int], str] = {}
    for section, offsets in by_section.items():
        for offset, where in sources.lines(obj, section, offsets, profile).items():
            lines[section, offset] = where
    return [v.describe(lines.get((v.section, v.offset), default)) for v in violations]
