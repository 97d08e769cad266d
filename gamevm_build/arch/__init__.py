"""Relocation semantics, one module per CPU family.

Each architecture module defines one class per relocation type (named exactly
as the ELF spec: ``R_MIPS_HI16``), a table ``RELOCATIONS = {number: class}``,
the types it rejects with a fix-it hint, and an :class:`Arch` instance that
checks objects and extracts REL addends.  The linker, the prelinker, the
emulated loader and the cost model all use these tables; nothing else
encodes relocation arithmetic.
"""

from __future__ import annotations

import importlib
import struct

from ..errors import ConfigError, RelocationError
from ..record import Record

#: unsigned words by (byte order, size), for reading and patching relocation sites
WORD = {(order, size): struct.Struct(("<" if order == "little" else ">") + code)
        for order in ("little", "big") for size, code in ((1, "B"), (2, "H"), (4, "I"))}


def sext(value: int, bits: int) -> int:
    """``value``'s low ``bits`` bits as a signed number (addends, displacements)."""
    value &= (1 << bits) - 1
    return value - (1 << bits) if value & (1 << (bits - 1)) else value


class RelocationOverflow(Exception):
    """Raised by a recipe when its result does not fit the field; callers add context."""


class RelocType:
    """One relocation type: how to read its REL addend and how to apply it.

    Subclasses set ``number`` and override :meth:`addend` and :meth:`apply`.
    Words are unsigned ints of ``size`` bytes in the target's byte order;
    the caller converts bytes <-> int, so recipes never care about endianness
    (which is where angr CLE's big-endian HI16 bug came from).
    """

    # class attributes: a recipe is the class itself, never an instance
    number: int
    size: int = 4
    #: PC-relative within a module: resolved at link time, never emitted.
    pc_relative: bool = False

    @classmethod
    def name(cls) -> str:
        return cls.__name__

    @staticmethod
    def addend(word: int) -> int:
        """The addend stored in place in a REL entry (unpaired types)."""
        raise NotImplementedError

    @staticmethod
    def apply(word: int, S: int, A: int, P: int) -> int:
        """Return ``word`` with the relocated field; raise RelocationOverflow if it cannot fit."""
        raise NotImplementedError


class AbsWord(RelocType):
    """A whole 32-bit word holding S + A: a pointer in data, a jump table entry, a
    constructor table entry, a 68000 ``jsr abs.l``.  The same on every family; each names
    it with its own number (R_MIPS_32, R_ARM_ABS32, R_68K_32)."""

    @staticmethod
    def addend(word):
        return sext(word, 32)

    @staticmethod
    def apply(word, S, A, P):
        return (S + A) & 0xFFFFFFFF


class Rejection(Record, frozen=True):
    """Why a relocation type is refused, and what flag fixes it."""

    what: str
    fix: str


class Arch:
    """Per-family behaviour beyond single relocations (object checks, REL addend pairing)."""

    name: str = ""
    relocations: dict[int, type[RelocType]] = {}
    rejections: dict[int, Rejection] = {}
    #: how to reach another module when a PC-relative reference cannot (link error hint)
    far_reference_hint: str = "reference it with an absolute address"
    #: relocation types that carry no work (hints, NONE): dropped silently
    ignored: frozenset[int] = frozenset()

    @property
    def accepted(self) -> frozenset[int]:
        """Types an input object may carry: applied ones plus ignored hints."""
        if "_accepted" not in self.__dict__:
            self._accepted = frozenset(self.relocations) | self.ignored
        return self._accepted

    def all_names(self) -> dict[int, str]:
        """Names of every relocation type of the family, supported or not."""
        return {}

    def type_name(self, number: int) -> str:
        recipe = self.relocations.get(number)
        if recipe is not None:
            return recipe.name()
        return self.all_names().get(number, f"type {number}")

    def check_object(self, elf, profile) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def isa_problem(self, elf, profile) -> str | None:
        """Why the profile's CPU cannot run the object's instruction set (None: it can).

        Used on every archive member a resident link pulls in, since toolchain
        libraries (Debian's libgcc) may be built for a newer CPU than the console's.
        The base version disassembles the code when the profile names an ``isa``
        (:mod:`.isacheck`); families add what their ELF flags tell.
        """
        violations = self.isa_violations(elf, profile)
        if violations:
            more = f" (and {len(violations) - 1} more)" if len(violations) > 1 else ""
            return violations[0].describe("").removeprefix(": ") + more     # without a file name
        return None

    def isa_report(self, elf, profile, name: str, describe=None) -> str | None:
        """"code the CPU of target T cannot execute:" and up to 8 violations, or None.

        ``describe(violations)`` may return the lines itself (naming source lines,
        :func:`gamevm_build.link.sources.describe_lines`); by default each names ``name``.
        """
        violations = self.isa_violations(elf, profile)
        if not violations:
            return None
        shown = "\n  ".join(describe(violations[:8]) if describe else
                            [v.describe(name) for v in violations[:8]])
        more = f"\n  ... and {len(violations) - 8} more" if len(violations) > 8 else ""
        return (f"code the {profile.cpu_name} of target {profile.name} cannot execute:"
                f"\n  {shown}{more}")

    def isa_violations(self, elf, profile) -> list:
        """Instructions of ``elf``'s code the profile's CPU lacks (:mod:`.isacheck`)."""
        if not profile.isa:
            return []
        from . import isacheck
        return isacheck.check_elf32(elf, isa=profile.isa)

    def fixup(self, profile, number: int, word: int) -> int:
        """New site word for a marker relocation in :attr:`fixups` (e.g. ``R_ARM_V4BX``)."""
        return word

    #: marker relocations (not in :attr:`relocations`) whose site :meth:`fixup` may rewrite
    fixups: frozenset[int] = frozenset()

    def read_site(self, elf, section, offset: int, size: int) -> int:
        """The ``size``-byte word at ``offset`` of ``section`` (a relocation site), in the
        object's byte order."""
        if offset + size > len(section.data):
            raise RelocationError.past_end(elf.name, section.name, offset)
        return WORD[elf.endian, size].unpack_from(section.data, offset)[0]

    def rel_addends(self, elf, section, relocs) -> list[int]:
        """Addends of a SHT_REL section's entries (in entry order); ``relocs`` are its
        ``(offset, type, sym, addend)`` rows (:meth:`ElfFile.reloc_rows`)."""
        out = []
        for offset, rtype, _sym, _addend in relocs:
            recipe = self.relocations.get(rtype)
            out.append(recipe.addend(self.read_site(elf, section, offset, recipe.size))
                       if recipe else 0)
        return out

    def recipe(self, number: int, *, where: str = "", symbol: str | None = None) -> type[RelocType]:
        """The recipe for ``number`` or a RelocationError explaining the rejection."""
        recipe = self.relocations.get(number)
        if recipe is not None:
            return recipe
        rej = self.rejections.get(number)
        if rej is not None:
            raise RelocationError(f"{where}: {rej.what} ({self.type_name(number)}) is not "
                                  f"supported in modules: {rej.fix}",
                                  symbol=symbol, rtype=self.type_name(number))
        supported = ", ".join(c.name() for c in self.relocations.values())
        raise RelocationError(f"{where}: unsupported relocation {self.type_name(number)}; "
                              f"modules may use {supported}", symbol=symbol,
                              rtype=self.type_name(number))


_ARCHES: dict[str, Arch] = {}


def get_arch(name: str) -> Arch:
    """The :class:`Arch` for a profile's ``arch`` key (``mips``, ...)."""
    if name not in _ARCHES:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError:
            raise ConfigError(f"profile arch '{name}': no relocation table "
                              f"gamevm_build/arch/{name}.py") from None
        _ARCHES[name] = module.ARCH
    return _ARCHES[name]
