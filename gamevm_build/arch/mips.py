"""MIPS (o32) relocation semantics for GameVM modules.

References: System V ABI MIPS RISC Processor Supplement (relocation
calculations, "AHL" addends), GNU binutils ``bfd/elfxx-mips.c``.

Input objects are REL: addends live in the instruction/data words.  A
``R_MIPS_HI16`` addend needs the low half from the ``R_MIPS_LO16`` that
follows it against the same symbol; several HI16s may share one LO16 and one
HI16 may be followed by several LO16s (gcc does both).  Modules are written as
RELA with full addends, so a loader never pairs anything.
"""

from __future__ import annotations

import functools

from ..errors import InputError, IsaError, RelocationError, location
from . import WORD, AbsWord, Arch, Rejection, RelocationOverflow, RelocType
from . import sext as _sext

MASK32 = 0xFFFFFFFF


class R_MIPS_32(AbsWord):
    """Word: S + A (pointers in .data/.rodata, jump tables, constructor tables)."""

    number = 2


class R_MIPS_26(RelocType):
    """j/jal target: ((S + A) >> 2) in 26 bits, within the 256 MB segment of P + 4."""

    number = 4

    @staticmethod
    def addend(word):
        # Sign-extended as for external symbols (bfd); local references' addends are
        # small positive offsets, for which both readings agree.
        return _sext((word & 0x3FFFFFF) << 2, 28)

    @staticmethod
    def apply(word, S, A, P):
        target = (S + A) & MASK32
        if target & 3:
            raise RelocationOverflow(f"jump target 0x{target:08x} is not 4-byte aligned")
        if (target & 0xF0000000) != ((P + 4) & 0xF0000000):
            raise RelocationOverflow(
                f"jump target 0x{target:08x} is outside the 256 MB segment of the jump at "
                f"0x{P:08x}; load the module in the same segment as its callee or call through "
                "a function pointer")
        return (word & 0xFC000000) | ((target >> 2) & 0x3FFFFFF)


class R_MIPS_HI16(RelocType):
    """lui: high half of S + A, rounded so the signed LO16 add lands on the value."""

    number = 5

    @staticmethod
    def addend(word):  # only the high half: completed by pairing, see MipsArch.rel_addends
        return (word & 0xFFFF) << 16

    @staticmethod
    def apply(word, S, A, P):
        return (word & 0xFFFF0000) | ((((S + A) + 0x8000) >> 16) & 0xFFFF)


class R_MIPS_LO16(RelocType):
    """addiu/lw/sw immediate: low half of S + A."""

    number = 6

    @staticmethod
    def addend(word):
        return _sext(word, 16)

    @staticmethod
    def apply(word, S, A, P):
        return (word & 0xFFFF0000) | ((S + A) & 0xFFFF)


class R_MIPS_PC16(RelocType):
    """Branch offset (b/bal/beq): resolved inside the module at link time."""

    number = 10
    pc_relative = True

    @staticmethod
    def addend(word):
        return _sext((word & 0xFFFF) << 2, 18)

    @staticmethod
    def apply(word, S, A, P):
        delta = S + A - P
        if delta & 3 or not -(1 << 17) <= delta < (1 << 17):
            raise RelocationOverflow(f"branch displacement {delta} does not fit 18 signed bits")
        return (word & 0xFFFF0000) | ((delta >> 2) & 0xFFFF)


_GP = Rejection("GP-relative relocation",
                "modules cannot use $gp-relative small data; compile with -G0 "
                "(and keep data out of .sdata/.sbss)")
_PIC = Rejection("PIC/GOT relocation",
                 "modules are not position-independent code; compile with "
                 "-mno-abicalls -fno-pic")
_TLS = Rejection("thread-local storage relocation",
                 "GameVM consoles have no TLS; remove __thread/_Thread_local")


#: R_MIPS_TLS_DTPMOD32 .. R_MIPS_TLS_TPREL_LO16 (System V MIPS ABI / glibc elf.h)
_TLS_TYPES = range(38, 51)


class MipsArch(Arch):
    name = "mips"
    relocations = {c.number: c for c in (R_MIPS_32, R_MIPS_26, R_MIPS_HI16, R_MIPS_LO16,
                                          R_MIPS_PC16)}
    rejections = {
        **{n: _GP for n in (7, 8, 12)},                   # GPREL16, LITERAL, GPREL32
        **{n: _PIC for n in (9, 11, 19, 20, 21, 22, 23, 30, 31)},  # GOT16, CALL16, GOT_*, CALL_*
        **{n: _TLS for n in _TLS_TYPES},
    }
    ignored = frozenset({0, 37})
    far_reference_hint = "call it with jal (no b/bal to external symbols)"                           # R_MIPS_NONE, R_MIPS_JALR (hint)

    def all_names(self) -> dict[int, str]:
        # pyelftools' table, imported only when a message needs a rejected type's name
        from elftools.elf.enums import ENUM_RELOC_TYPE_MIPS
        return {v: k for k, v in ENUM_RELOC_TYPE_MIPS.items()}

    # e_flags fields
    EF_MIPS_NOREORDER, EF_MIPS_PIC, EF_MIPS_CPIC = 0x1, 0x2, 0x4
    EF_MIPS_ABI2, EF_MIPS_ABI, EF_MIPS_ARCH = 0x20, 0xF000, 0xF0000000
    E_MIPS_ABI_O32 = 0x1000
    #: EF_MIPS_ARCH value -> (name, ISA level for comparisons with profile.isa_max)
    ARCH_LEVELS = {0: ("mips1", 1), 1: ("mips2", 2), 2: ("mips3", 3), 3: ("mips4", 4),
                   4: ("mips5", 5), 5: ("mips32", 32), 6: ("mips64", 64), 7: ("mips32r2", 32),
                   8: ("mips64r2", 64), 9: ("mips32r6", 32), 10: ("mips64r6", 64)}
    #: .MIPS.abiflags fp_abi / Tag_GNU_MIPS_ABI_FP values
    FP_ABI = {0: "any", 1: "hard (double)", 2: "hard (single)", 3: "soft", 4: "hard (64-bit)",
              5: "hard (fpxx)", 6: "hard (fp64)", 7: "hard (fp64a)"}
    MARCH_HINT = {"psx": "-march=r3000", "n64": "-march=vr4300"}

    def check_object(self, elf, profile) -> None:
        """Refuse objects built for another ABI, ISA, float model or as PIC."""
        flags = elf.e_flags
        if flags & (self.EF_MIPS_PIC | self.EF_MIPS_CPIC):
            raise InputError(f"{elf.name}: compiled as position-independent/abicalls code "
                             f"(e_flags 0x{flags:08x}); modules need -mno-abicalls -fno-pic")
        abi = flags & self.EF_MIPS_ABI
        if flags & self.EF_MIPS_ABI2 or abi not in (0, self.E_MIPS_ABI_O32):
            raise InputError(f"{elf.name}: not an o32 object (e_flags 0x{flags:08x}); "
                             f"target {profile.name} uses the o32 ABI: compile with -mabi=32")
        problem = self.isa_problem(elf, profile)
        if problem:
            raise IsaError(f"{elf.name}: {problem}; compile with "
                           f"{self.MARCH_HINT.get(profile.name, 'the profile flags')}")
        fp = self.fp_abi(elf)
        if fp is not None and fp != 0:
            soft = fp == 3
            if soft != (profile.float_abi == "soft"):
                want = "-msoft-float" if profile.float_abi == "soft" else "-mhard-float"
                raise InputError(
                    f"{elf.name}: uses {self.FP_ABI.get(fp, fp)} float ABI but target "
                    f"{profile.name} is {profile.float_abi}-float; compile with {want}")

    def isa_problem(self, elf, profile) -> str | None:
        """Why the profile's CPU cannot run ``elf``'s instruction set, or None."""
        # An EF_MIPS_ARCH value no ABI defines runs on no target, whatever its isa_max; the
        # console-side loader decides alike from this table (runtime.build target_header)
        number = elf.e_flags >> 28
        arch_name, level = self.ARCH_LEVELS.get(number, (f"arch {number}", None))
        if level is None or level > profile.isa_max:
            return f"built for {arch_name}, which the {profile.cpu_name} of target {profile.name} cannot run"
        return None

    @staticmethod
    def fp_abi(elf) -> int | None:
        """Float ABI from .MIPS.abiflags (fp_abi byte) or None when absent."""
        sec = elf.section_by_name(".MIPS.abiflags")
        if sec is not None and len(sec.data) >= 8:
            return sec.data[7]
        return None

    @functools.cached_property
    def _addend_of(self) -> dict:
        """Relocation type -> its recipe's ``addend`` (looked up per entry)."""
        return {number: recipe.addend for number, recipe in self.relocations.items()}

    def rel_addends(self, elf, section, relocs) -> list[int]:
        """REL addends, completing each HI16 with the low half of its LO16.

        A HI16 takes the low half of the next LO16 against the same symbol
        (later in the list); a LO16 takes the high half of the most recent HI16
        against the same symbol, so each gets the full "AHL" addend.  ``relocs``
        are the section's ``(offset, type, sym, addend)`` rows
        (:meth:`ElfFile.reloc_rows`).
        """
        data, unpack = section.data, WORD[elf.endian, 4].unpack_from
        size = len(data)
        addend_of = self._addend_of
        out: list[int] = []
        keep = out.append
        pending: list[tuple[int, int]] = []             # (index in out, symbol) of open HI16s
        last_hi: dict[int, int] = {}
        for offset, t, sym, _ in relocs:
            addend = addend_of.get(t)
            if addend is None:
                keep(0)
                continue
            if offset + 4 > size:
                self.read_site(elf, section, offset, 4)     # raises with the location
            w = unpack(data, offset)[0]
            if t == 5:                                      # R_MIPS_HI16
                pending.append((len(out), sym))
                keep((w & 0xFFFF) << 16)
            elif t == 6:                                    # R_MIPS_LO16
                lo = w & 0xFFFF
                lo = lo - 0x10000 if lo & 0x8000 else lo
                if pending:
                    still = []
                    for j, hsym in pending:
                        if hsym == sym:
                            last_hi[sym] = out[j]
                            ahl = (out[j] + lo) & MASK32        # _sext(..., 32), inline
                            out[j] = ahl - 0x100000000 if ahl & 0x80000000 else ahl
                        else:
                            still.append((j, hsym))
                    pending = still
                hi = last_hi.get(sym)
                if hi is None:
                    keep(lo)
                else:
                    ahl = (hi + lo) & MASK32
                    keep(ahl - 0x100000000 if ahl & 0x80000000 else ahl)
            else:
                keep(addend(w))
        if pending:
            offset, _t, sym_index, _a = relocs[pending[0][0]]
            sym = elf.symbols[sym_index].name if sym_index < len(elf.symbols) else None
            raise RelocationError(
                f"{location(elf.name, section.name, offset, sym)}: R_MIPS_HI16 has no matching "
                "R_MIPS_LO16 against the same symbol after it; the object is malformed "
                "(hand-written asm must pair %hi with %lo)",
                obj=elf.name, section=section.name, offset=offset, symbol=sym,
                rtype="R_MIPS_HI16")
        return out

ARCH = MipsArch()
