"""Motorola 68000 relocation semantics for GameVM modules (Sega CD main CPU).

References: System V ABI Motorola 68000 Processor Family Supplement
(relocation types), GNU binutils ``bfd/elf32-m68k.c`` (howto table:
``R_68K_16``/``R_68K_8`` overflow as "bitfield", the PC-relative ones as
"signed").

Input objects are RELA, so there is nothing to pair.  gcc ``-m68000`` calls
and addresses everything outside a function with absolute long addressing
(``jsr sym``, ``lea sym,%a0``: ``R_68K_32``); the PC-relative types only
appear inside a module, where the linker resolves them.  A module therefore
carries ``R_68K_32`` (and, rarely, absolute short ``R_68K_16``) for the loader.
"""

from __future__ import annotations

from ..errors import IsaError
from . import AbsWord, Arch, Rejection, RelocationOverflow, RelocType
from . import sext as _sext

MASK32 = 0xFFFFFFFF


def _absolute(bits: int, S: int, A: int) -> int:
    """An absolute field of ``bits``: S + A fits signed or unsigned ("bitfield")."""
    value = _sext(S + A, 32)
    if not -(1 << (bits - 1)) <= value < (1 << bits):
        raise RelocationOverflow(
            f"address 0x{(S + A) & MASK32:08x} does not fit a {bits}-bit absolute field; "
            "use absolute long addressing (drop the .w/.b size suffix) for symbols "
            "outside the first/last 32 KiB")
    return value & ((1 << bits) - 1)


def _relative(bits: int, what: str, S: int, A: int, P: int) -> int:
    """A PC-relative field of ``bits`` (signed): S + A - P."""
    delta = _sext(S + A - P, 32)
    if not -(1 << (bits - 1)) <= delta < (1 << (bits - 1)):
        raise RelocationOverflow(
            f"PC-relative displacement {delta} does not fit {bits} signed bits on the "
            f"68000 ({what}); use a longer form (bra.w/bsr.w or jmp/jsr with absolute "
            "long addressing), or move the target closer")
    return delta & ((1 << bits) - 1)


class R_68K_32(AbsWord):
    """Absolute long: S + A (jsr/lea/move.l #sym, pointers in data)."""

    number = 1


class R_68K_16(RelocType):
    """Absolute short: S + A in 16 bits (sign-extended by the CPU)."""

    number = 2
    size = 2
    addend = staticmethod(lambda word: _sext(word, 16))
    apply = staticmethod(lambda word, S, A, P: _absolute(16, S, A))


class R_68K_8(RelocType):
    """Absolute byte: S + A in 8 bits."""

    number = 3
    size = 1
    addend = staticmethod(lambda word: _sext(word, 8))
    apply = staticmethod(lambda word, S, A, P: _absolute(8, S, A))


class R_68K_PC32(RelocType):
    """32-bit PC-relative: resolved inside the module at link time."""

    number = 4
    pc_relative = True
    addend = staticmethod(lambda word: _sext(word, 32))

    @staticmethod
    def apply(word, S, A, P):
        return (S + A - P) & MASK32


class R_68K_PC16(RelocType):
    """16-bit PC-relative (bsr.w/bra.w/bcc.w, (d16,pc)): resolved at link time."""

    number = 5
    size = 2
    pc_relative = True
    addend = staticmethod(lambda word: _sext(word, 16))
    apply = staticmethod(lambda word, S, A, P: _relative(
        16, "bsr.w/bra.w/bcc.w or (d16,pc) reach +-32 KiB", S, A, P))


class R_68K_PC8(RelocType):
    """8-bit PC-relative (bra.s/bsr.s/bcc.s, (d8,pc,xn)): resolved at link time."""

    number = 6
    size = 1
    pc_relative = True
    addend = staticmethod(lambda word: _sext(word, 8))
    apply = staticmethod(lambda word, S, A, P: _relative(
        8, "short branches and (d8,pc,Xn) reach +-128 bytes", S, A, P))


_PIC = Rejection("PIC/GOT/PLT relocation",
                 "modules are not position-independent code; compile with -fno-pic "
                 "(and without -msep-data/-mid-shared-library)")
_TLS = Rejection("thread-local storage relocation",
                 "GameVM consoles have no TLS; remove __thread/_Thread_local")
_DYN = Rejection("dynamic-linker relocation",
                 "link modules from relocatable objects (.o/.a), not from shared libraries "
                 "or executables")


class M68kArch(Arch):
    name = "m68k"
    relocations = {c.number: c for c in (R_68K_32, R_68K_16, R_68K_8, R_68K_PC32, R_68K_PC16,
                                          R_68K_PC8)}
    rejections = {
        **{n: _PIC for n in range(7, 19)},        # R_68K_GOT32 .. R_68K_PLT8O
        **{n: _DYN for n in range(19, 23)},       # COPY, GLOB_DAT, JMP_SLOT, RELATIVE
        **{n: _TLS for n in range(25, 43)},       # R_68K_TLS_GD32 .. R_68K_TLS_TPREL32
    }
    ignored = frozenset({0, 23, 24})
    far_reference_hint = ("use absolute long addressing (jsr/jmp/lea sym): no bsr/bra or "
                          "(d16,pc) references to other modules, and no -mpcrel")              # R_68K_NONE, GNU_VTINHERIT, GNU_VTENTRY

    NAMES = {0: "R_68K_NONE", 1: "R_68K_32", 2: "R_68K_16", 3: "R_68K_8", 4: "R_68K_PC32",
             5: "R_68K_PC16", 6: "R_68K_PC8", 7: "R_68K_GOT32", 8: "R_68K_GOT16",
             9: "R_68K_GOT8", 10: "R_68K_GOT32O", 11: "R_68K_GOT16O", 12: "R_68K_GOT8O",
             13: "R_68K_PLT32", 14: "R_68K_PLT16", 15: "R_68K_PLT8", 16: "R_68K_PLT32O",
             17: "R_68K_PLT16O", 18: "R_68K_PLT8O", 19: "R_68K_COPY", 20: "R_68K_GLOB_DAT",
             21: "R_68K_JMP_SLOT", 22: "R_68K_RELATIVE"}

    #: e_flags (binutils include/elf/m68k.h): the CPU family an object was built for
    EF_M68K_M68000, EF_M68K_CPU32, EF_M68K_FIDO, EF_M68K_CFV4E = \
        0x01000000, 0x00810000, 0x02000000, 0x00008000
    EF_M68K_CF_ISA_MASK = 0xF

    def all_names(self) -> dict[int, str]:
        return self.NAMES

    def family(self, flags: int) -> str:
        if flags & self.EF_M68K_M68000:
            return "68000"
        if flags & self.EF_M68K_CF_ISA_MASK or flags & self.EF_M68K_CFV4E:
            return "ColdFire"
        if flags & self.EF_M68K_FIDO:
            return "Fido"
        if flags & self.EF_M68K_CPU32 == self.EF_M68K_CPU32:
            return "CPU32"
        return "68020+"

    def check_object(self, elf, profile) -> None:
        """Refuse objects for another member of the family than the profile's CPU."""
        problem = self._family_problem(elf, profile)
        if problem:
            raise IsaError(f"{elf.name}: {problem}; compile and assemble with -m68000")

    def _family_problem(self, elf, profile) -> str | None:
        # e_flags 0 is gas's default: 68020+ code, or no instructions at all (a data-only
        # .s file).  The disassembler decides those (isa_violations); other families are
        # refused here outright.
        family = self.family(elf.e_flags)
        if profile.isa == "m68000" and family not in ("68000", "68020+"):
            return (f"built for the {family} (e_flags 0x{elf.e_flags:08x}), which the "
                    f"{profile.cpu_name} of target {profile.name} cannot run")
        return None

    def isa_problem(self, elf, profile) -> str | None:
        return self._family_problem(elf, profile) or super().isa_problem(elf, profile)


ARCH = M68kArch()
