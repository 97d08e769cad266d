"""ARM (AAPCS, ARMv3/ARMv4T) relocation semantics for GameVM modules (GBA, 3DO).

References: "ELF for the Arm Architecture" (IHI 0044, relocation table and
the ``(S + A) | T`` formulas), GNU binutils ``bfd/elf32-arm.c`` (the Thumb
BL pair, interworking glue, ``--fix-v4bx``).

Input objects are REL: addends live in the instruction words.  The ``T``
bit: a Thumb function's symbol value has bit 0 set, so ``S + A`` already
carries it into data words (``R_ARM_ABS32`` function pointers).

An ARMv4T CPU has no ``BLX``: a BL cannot change between ARM and Thumb
state, and a BL reaches only +-32 MiB (ARM) or +-4 MiB (Thumb), while GBA
code may call from cartridge ROM (0x08000000) into RAM (0x02000000).  So
every call to an imported function, and every call that changes state,
goes through a **veneer** the linker appends to the module's ``.text``
(:meth:`ArmArch.veneer`): it loads the target from a literal word
(``R_ARM_ABS32``, the loader's only kind of call relocation) and ``bx``-es
to it, so the target's bit 0 picks the state.  The ARM60 (ARMv3) has no
``BX`` either: its veneer is ``ldr pc, [pc, #-4]``.  BL and B themselves
are therefore resolved at link time, inside the module.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InputError
from . import AbsWord, Arch, Rejection, RelocationOverflow, RelocType
from . import sext as _sext

MASK32 = 0xFFFFFFFF


class R_ARM_ABS32(AbsWord):
    """Word: (S + A) | T (pointers, jump tables, veneer literals)."""

    number = 2


class R_ARM_TARGET1(R_ARM_ABS32):
    """``.init_array``/``.fini_array`` entries: ABS32 on bare-metal ARM (``--target1-abs``)."""

    number = 38


class R_ARM_REL32(RelocType):
    """Word: ((S + A) | T) - P, resolved inside the module at link time."""

    number = 3
    pc_relative = True

    @staticmethod
    def addend(word):
        return _sext(word, 32)

    @staticmethod
    def apply(word, S, A, P):
        return (S + A - P) & MASK32


def _arm_branch_apply(word, S, A, P):
    delta = _sext(S + A - P, 32)
    if S & 1:
        raise RelocationOverflow("ARM branch to Thumb code needs a veneer (no BLX on ARMv4T)")
    if delta & 3 or not -(1 << 25) <= delta < (1 << 25):
        raise RelocationOverflow(
            f"ARM branch displacement {delta} does not fit 26 signed bits (+-32 MiB); "
            "call it through a function pointer or keep caller and callee in one memory area")
    return (word & 0xFF000000) | ((delta >> 2) & 0x00FFFFFF)


class R_ARM_CALL(RelocType):
    """BL imm24: S + A - P, +-32 MiB, ARM to ARM (calls)."""

    number = 28
    pc_relative = True
    call = True
    addend = staticmethod(lambda word: _sext((word & 0x00FFFFFF) << 2, 26))
    apply = staticmethod(_arm_branch_apply)


class R_ARM_JUMP24(R_ARM_CALL):
    """B/BL<cond> imm24 (tail calls, conditional calls)."""

    number = 29


class R_ARM_PC24(R_ARM_CALL):
    """Pre-EABI branch (old assemblers)."""

    number = 1


class R_ARM_THM_CALL(RelocType):
    """Thumb BL pair (two halfwords, little-endian word): S + A - P, +-4 MiB on ARMv4T."""

    number = 10
    pc_relative = True
    call = True
    thumb = True

    @staticmethod
    def addend(word):
        hi, lo = word & 0xFFFF, word >> 16
        return _sext((hi & 0x7FF) << 12 | (lo & 0x7FF) << 1, 23)

    @staticmethod
    def apply(word, S, A, P):
        delta = _sext(S + A - P, 32)
        if not -(1 << 22) <= delta < (1 << 22):
            raise RelocationOverflow(
                f"Thumb BL displacement {delta} is out of range: ARMv4T's BL reaches "
                "+-4 MiB; move the callee closer (same memory area), call it through a "
                "function pointer, or compile the caller as ARM code (-marm)")
        hi = 0xF000 | (delta >> 12) & 0x7FF
        lo = 0xF800 | (delta >> 1) & 0x7FF
        return lo << 16 | hi


class R_ARM_THM_JUMP24(RelocType):
    """Thumb-2 B.W (two halfwords, little-endian word): +-16 MiB (ARMv6T2+ code only)."""

    number = 30
    pc_relative = True
    call = True
    thumb = True

    @staticmethod
    def addend(word):
        hi, lo = word & 0xFFFF, word >> 16
        s = hi >> 10 & 1
        i1 = 1 - ((lo >> 13 & 1) ^ s)
        i2 = 1 - ((lo >> 11 & 1) ^ s)
        return _sext(s << 24 | i1 << 23 | i2 << 22 | (hi & 0x3FF) << 12 | (lo & 0x7FF) << 1, 25)

    @staticmethod
    def apply(word, S, A, P):
        delta = _sext(S + A - P, 32)
        if not -(1 << 24) <= delta < (1 << 24):
            raise RelocationOverflow(f"Thumb B.W displacement {delta} is out of range (+-16 MiB)")
        s = delta >> 24 & 1
        j1 = (1 - (delta >> 23 & 1)) ^ s
        j2 = (1 - (delta >> 22 & 1)) ^ s
        hi = (word & 0xF800) | s << 10 | (delta >> 12) & 0x3FF
        lo = (word >> 16 & 0xD000) | j1 << 13 | j2 << 11 | (delta >> 1) & 0x7FF
        return lo << 16 | hi


class R_ARM_THM_JUMP11(RelocType):
    """Thumb B imm11: +-2 KiB, inside a function."""

    number = 102
    size = 2
    pc_relative = True
    addend = staticmethod(lambda word: _sext((word & 0x7FF) << 1, 12))

    @staticmethod
    def apply(word, S, A, P):
        delta = _sext(S + A - P, 32)
        if not -(1 << 11) <= delta < (1 << 11):
            raise RelocationOverflow(f"Thumb B displacement {delta} is out of range (+-2 KiB)")
        return (word & 0xF800) | (delta >> 1) & 0x7FF


class R_ARM_THM_JUMP8(RelocType):
    """Thumb B<cond> imm8: +-256 bytes, inside a function."""

    number = 103
    size = 2
    pc_relative = True
    addend = staticmethod(lambda word: _sext((word & 0xFF) << 1, 9))

    @staticmethod
    def apply(word, S, A, P):
        delta = _sext(S + A - P, 32)
        if not -(1 << 8) <= delta < (1 << 8):
            raise RelocationOverflow(f"Thumb B<cond> displacement {delta} is out of range "
                                     "(+-256 bytes)")
        return (word & 0xFF00) | (delta >> 1) & 0xFF


@dataclass(frozen=True)
class Veneer:
    """Code the linker appends to ``.text`` to reach a call's target (module docstring).

    ``code`` is in the target's byte order with a zero literal at
    ``literal``; callers branch to ``entry`` (Thumb entries have bit 0 set,
    as a symbol would)."""

    code: bytes
    entry: int
    literal: int


_PIC = Rejection("PIC/GOT/PLT relocation",
                 "modules are not position-independent code; compile with -fno-pic")
_TLS = Rejection("thread-local storage relocation",
                 "GameVM consoles have no TLS; remove __thread/_Thread_local")
_SB = Rejection("static-base (SB) relative relocation",
                "modules address data absolutely; do not build with -msingle-pic-base/RWPI")
_MOVW = Rejection("MOVW/MOVT relocation",
                  "MOVW/MOVT need ARMv6T2; compile for the console's CPU (profile cflags)")
_DYN = Rejection("dynamic-linker relocation",
                 "link modules from relocatable objects (.o/.a), not from shared libraries")


class ArmArch(Arch):
    name = "arm"
    relocations = {c.number: c for c in (R_ARM_ABS32, R_ARM_TARGET1, R_ARM_REL32, R_ARM_CALL,
                                          R_ARM_JUMP24, R_ARM_PC24, R_ARM_THM_CALL,
                                          R_ARM_THM_JUMP24, R_ARM_THM_JUMP11, R_ARM_THM_JUMP8)}
    rejections = {
        **{n: _PIC for n in (24, 25, 26, 27, 95, 96, 97, 98)},
        **{n: _TLS for n in (17, 18, 19, *range(104, 109))},
        **{n: _SB for n in (9, 35, 36, 37)},
        **{n: _MOVW for n in (43, 44, 45, 46, 47, 48, 49, 50)},
        **{n: _DYN for n in (20, 21, 22, 23)},
    }
    #: R_ARM_NONE, R_ARM_V4BX (a marker on every BX, see fixup), R_ARM_PREL31 in dropped unwind tables
    ignored = frozenset({0, 40})
    fixups = frozenset({40})
    V4BX = 40
    ABS32 = R_ARM_ABS32.number

    def all_names(self) -> dict[int, str]:
        from elftools.elf.enums import ENUM_RELOC_TYPE_ARM
        return {v: k.replace("R_ARM_SWI24", "R_ARM_TLS_DESC") for k, v in ENUM_RELOC_TYPE_ARM.items()}

    EF_ARM_ABI_FLOAT_SOFT, EF_ARM_ABI_FLOAT_HARD = 0x200, 0x400
    EF_ARM_BE8 = 0x00800000
    #: EF_ARM_EABIMASK's versions: 0 (GNU, pre-EABI) to 5 (what arm-none-eabi writes)
    EABI_VERSIONS = range(0, 6)

    def check_object(self, elf, profile) -> None:
        """Refuse objects with an unknown EABI version, the wrong float ABI or BE8 byte order."""
        flags = elf.e_flags
        if flags >> 24 not in self.EABI_VERSIONS:
            raise InputError(f"{elf.name}: unknown ARM EABI version {flags >> 24} (e_flags "
                             f"0x{flags:08x}); build it with arm-none-eabi-gcc")
        if flags & self.EF_ARM_ABI_FLOAT_HARD and profile.float_abi == "soft":
            raise InputError(f"{elf.name}: uses the hard-float ABI (e_flags 0x{flags:08x}) but "
                             f"target {profile.name} has no FPU; compile with -mfloat-abi=soft")
        if flags & self.EF_ARM_BE8:
            raise InputError(f"{elf.name}: BE8 (ARMv6+) byte order; the {profile.cpu_name} is "
                             "BE32: compile with the profile flags (-mbig-endian, no -mbe8)")

    def fixup(self, profile, number: int, word: int) -> int:
        """``--fix-v4bx`` for ARMv3: ``bx Rm`` becomes ``mov pc, Rm`` (no Thumb to return to)."""
        if number == self.V4BX and profile.isa == "armv3" and word & 0x0FFFFFF0 == 0x012FFF10:
            return (word & 0xF000000F) | 0x01A0F000
        return word

    def isa_violations(self, elf, profile) -> list:
        """As :meth:`Arch.isa_violations`, less the ``bx`` the v4bx fix rewrites (:meth:`fixup`)."""
        violations = super().isa_violations(elf, profile)
        if not violations or profile.isa != "armv3":
            return violations
        fixed = set()
        for rsec in elf.sections:
            if rsec.type in (9, 4) and rsec.info < len(elf.sections):      # SHT_REL, SHT_RELA
                name = elf.sections[rsec.info].name
                fixed |= {(name, r.offset) for r in elf.relocations(rsec) if r.type == self.V4BX}
        return [v for v in violations if (v.section, v.offset) not in fixed]

    def thumb_capable(self, profile) -> bool:
        return profile.isa != "armv3"

    def veneer(self, profile, *, from_thumb: bool) -> Veneer:
        """Code reaching any 32-bit target in either state (module docstring)."""
        order = profile.endian
        def words(*ws): return b"".join(w.to_bytes(4, order) for w in ws)
        ldr_ip, bx_ip = 0xE59FC000, 0xE12FFF1C            # ldr ip, [pc, #0]; bx ip
        if not self.thumb_capable(profile):
            return Veneer(words(0xE51FF004, 0), 0, 4)        # ldr pc, [pc, #-4]; .word
        if from_thumb:
            thumb = (0x4778).to_bytes(2, order) + (0x46C0).to_bytes(2, order)   # bx pc; nop
            return Veneer(thumb + words(ldr_ip, bx_ip, 0), 1, 12)
        return Veneer(words(ldr_ip, bx_ip, 0), 0, 8)


ARCH = ArmArch()
