"""CPU cost of loading a module on a target: copy, relocate, bind, construct.

Every number the load-budget analyzer (and later the emulated runtime, which
reports measured values to cross-check) uses for the CPU side of a load lives
here, except one: the cycles per relocation, which are the ``cycles`` attribute
of each relocation class in the architecture's table
(:mod:`gamevm_build.arch.mips`: ``R_MIPS_32`` 19, ``R_MIPS_26`` 27,
``R_MIPS_HI16`` 21, ``R_MIPS_LO16`` 25), so a relocation type and its cost are
defined together.  Costs are converted to seconds at the profile's clock
(``[cpu] clock_hz``: 33.8688 MHz psx, 93.75 MHz n64).

The relocation cycles are the instructions a reference relocation loop
(:data:`REFERENCE_RELOC_LOOP_C`, RELA entries, a ``switch`` on the type)
executes per entry, compiled by the target's gcc (``-O2``, the psx profile's
``-march=r3000`` flags, load-delay slots included) and counted on unicorn by
:func:`reference_reloc_instructions`: ``R_MIPS_32`` 19, ``R_MIPS_26`` 27,
``R_MIPS_HI16`` 21, ``R_MIPS_LO16`` 25 (the n64 build needs no more).  The
test suite re-measures them against the arch table.

The cost of one module (seed §3.1 loader steps 3-5)::

    cycles = module_fixed                       # header, section table, allocation
           + copy_per_byte   * (text + rodata + data bytes)
           + zero_per_byte   * bss bytes
           + Σ_type cycles(type) * relocations of that type
           + imports * (bind_fixed + bind_per_probe * ceil(log2(symbols + 1)))
           + ctor_call * constructors
    seconds = cycles / clock_hz + init_ms / 1000   (the module's own constructor time)

Derivation of the constants
---------------------------
The reference loader is the straightforward C/assembly loop a GameVM runtime
uses; the counts are of its instructions, on a single-issue pipeline (R3000A,
VR4300: one instruction per cycle outside stalls), plus memory stalls:

``copy_per_byte``
    Word copy loop ``lw; addiu; addiu; sw; bne; nop`` = 6 instructions per
    4 bytes.  psx: the R3000A has no data cache, each ``lw`` from main RAM
    stalls (estimated 4 cycles; writes are absorbed by the write buffer):
    10 cycles/word = **2.5 cycles/byte**.  n64: cached, an RDRAM line fill per
    16 bytes (estimated 8 stall cycles/word amortised 2): 8 cycles/word =
    **2.0 cycles/byte**.
``zero_per_byte``
    ``sw; addiu; bne; nop`` = 4 instructions per word = **1.0 cycle/byte**
    (both targets; stores do not stall).
``bind_fixed`` + ``bind_per_probe`` × probes
    Imports are bound by binary search of the sorted global symbol table
    (seed §9.1, O(log n)): ⌈log2(n+1)⌉ probes, each a ``strcmp`` that usually
    decides on the first 1-4 characters plus the index arithmetic: **40
    cycles/probe** (psx, with RAM stalls) / **30** (n64); **60 cycles**
    per import to fetch its name and store the address.
``ctor_call``
    Loading a pointer from ``.init_array`` and ``jalr`` through it, with the
    callee's minimal prologue/epilogue: **12 cycles** per constructor; the
    constructor's own work is the module's ``init_ms`` in the project config.
``module_fixed``
    Parsing the ELF header, program and section headers (≈8 headers × ~60
    instructions), allocation and bookkeeping: **2000 cycles** per module.

All of these are estimates to be replaced by the emulated runtime's measured
values (issue 3); they are deliberately pessimistic (no overlap of CPU work
with the drive's reading, no cache hits on the psx).

Examples
--------
>>> costs = cpu_costs("psx")
>>> c = module_cost(costs, copy_bytes=2048, zero_bytes=0,
...                 relocations={"R_MIPS_26": 10, "R_MIPS_HI16": 5, "R_MIPS_LO16": 5},
...                 imports=2, symbols=100, constructors=1)
>>> c.cycles
{'fixed': 2000.0, 'copy': 5120.0, 'zero': 0.0, 'relocate': 500.0, 'bind': 680.0, 'init': 12.0}
>>> round(c.total_s * 1e3, 4)          # 8312 cycles at 33.8688 MHz
0.2454
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping

from .arch import get_arch
from .errors import ConfigError
from .profile import Profile, load_profile

__all__ = ["CpuCosts", "ModuleCost", "cpu_costs", "module_cost", "TARGET_COSTS",
           "REFERENCE_RELOC_LOOP_C", "reference_reloc_instructions"]


@dataclass(frozen=True)
class CpuCosts:
    """Per-target CPU cost constants of the reference loader (cycles, at ``clock_hz``)."""

    target: str
    clock_hz: int
    reloc_cycles: Mapping[str, int]
    copy_per_byte: float
    zero_per_byte: float
    bind_fixed: float
    bind_per_probe: float
    ctor_call: float
    module_fixed: float
    sources: tuple[str, ...] = field(default=(), compare=False)

    def seconds(self, cycles: float) -> float:
        """``cycles`` at this target's clock, in seconds."""
        return cycles / self.clock_hz

    def reloc(self, type_name: str) -> int:
        """Cycles per relocation of ``type_name`` (the arch table's ``cycles``).

        ``"*"`` (a count of unknown types, from an estimate) costs the dearest type.
        """
        if type_name == "*":
            return max(self.reloc_cycles.values())
        try:
            return self.reloc_cycles[type_name]
        except KeyError:
            raise ConfigError(f"relocation type {type_name} is not one target {self.target} "
                              f"applies (known: {', '.join(sorted(self.reloc_cycles))})") from None

    def describe(self) -> dict:
        return {"target": self.target, "clock_hz": self.clock_hz,
                "reloc_cycles": dict(sorted(self.reloc_cycles.items())),
                "copy_per_byte": self.copy_per_byte, "zero_per_byte": self.zero_per_byte,
                "bind_fixed": self.bind_fixed, "bind_per_probe": self.bind_per_probe,
                "ctor_call": self.ctor_call, "module_fixed": self.module_fixed}


#: Per-target constants other than relocations (see the module docstring for each).
TARGET_COSTS: dict[str, dict] = {
    "psx": {"copy_per_byte": 2.5, "zero_per_byte": 1.0, "bind_fixed": 60, "bind_per_probe": 40,
            "ctor_call": 12, "module_fixed": 2000},
    "n64": {"copy_per_byte": 2.0, "zero_per_byte": 1.0, "bind_fixed": 60, "bind_per_probe": 30,
            "ctor_call": 12, "module_fixed": 2000},
    # 68000: move.l (a0)+,(a1)+ / dbra = 30 cycles per 4 bytes; clr.l (a0)+ / dbra 22 per 4;
    # a binary-search probe (string compare of ~8 bytes at 18 cycles per byte pair) ~150.
    "segacd": {"copy_per_byte": 7.5, "zero_per_byte": 5.5, "bind_fixed": 200,
               "bind_per_probe": 150, "ctor_call": 40, "module_fixed": 6000},
    # ARM7TDMI on the GBA's 16-bit EWRAM (3/3/2 wait states): ldmia/stmia of 8 words costs
    # ~3 cycles per byte; probes ~60 cycles (Thumb strcmp from ROM with wait states).
    "gba": {"copy_per_byte": 3.0, "zero_per_byte": 1.5, "bind_fixed": 80, "bind_per_probe": 60,
            "ctor_call": 12, "module_fixed": 2500},
    # ARM60 at 12.5 MHz on 3DO DRAM (no cache): ldmia/stmia ~2 cycles per byte.
    "3do": {"copy_per_byte": 2.0, "zero_per_byte": 1.0, "bind_fixed": 60, "bind_per_probe": 45,
            "ctor_call": 12, "module_fixed": 2000},
}
#: Used for a profile without its own row (a new console): the psx row, the more pessimistic.
_FALLBACK = "psx"


def cpu_costs(profile: Profile | str) -> CpuCosts:
    """The loader cost constants of ``profile`` (a Profile or a target name).

    Relocation cycles come from the profile's architecture table
    (``RelocType.cycles``); the other constants from :data:`TARGET_COSTS`.
    """
    profile = load_profile(profile)
    arch = get_arch(profile.arch)
    row = TARGET_COSTS.get(profile.name, TARGET_COSTS[_FALLBACK])
    reloc = {cls.name(): cls.cycles for cls in arch.relocations.values() if not cls.pc_relative}
    return CpuCosts(profile.name, profile.clock_hz, reloc, **row,
                    sources=(f"relocations: gamevm_build/arch/{profile.arch}.py RelocType.cycles",
                             "other constants: gamevm_build/loadcost.py TARGET_COSTS "
                             "(reference loader instruction counts)"))


@dataclass(frozen=True)
class ModuleCost:
    """CPU time of loading one module, by step (``cycles``) and in seconds."""

    cycles: dict
    init_s: float
    clock_hz: int

    def step_s(self, step: str) -> float:
        """Seconds of one step (``copy``, ``relocate``...; ``init`` includes ``init_ms``)."""
        extra = self.init_s if step == "init" else 0.0
        return self.cycles.get(step, 0.0) / self.clock_hz + extra

    @property
    def total_cycles(self) -> float:
        return sum(self.cycles.values())

    @property
    def total_s(self) -> float:
        return self.total_cycles / self.clock_hz + self.init_s


def module_cost(costs: CpuCosts, *, copy_bytes: int, zero_bytes: int,
                relocations: Mapping[str, int], imports: int, symbols: int,
                constructors: int = 0, init_ms: float = 0.0) -> ModuleCost:
    """CPU cost of loading one module with the given contents.

    Parameters
    ----------
    costs : CpuCosts
        From :func:`cpu_costs`.
    copy_bytes, zero_bytes : int
        Bytes copied into place (code, read-only and writable data) and bss bytes zeroed.
    relocations : mapping
        Relocation type name -> count.
    imports : int
        Distinct imported symbols to bind.
    symbols : int
        Entries in the global symbol table the imports are looked up in.
    constructors : int
        Constructor calls (``.init_array`` and ``.ctors`` entries).
    init_ms : float
        The constructors' own run time (from the project configuration).
    """
    probes = math.ceil(math.log2(symbols + 1)) if symbols > 0 else 0
    cycles = {
        "fixed": float(costs.module_fixed),
        "copy": costs.copy_per_byte * copy_bytes,
        "zero": costs.zero_per_byte * zero_bytes,
        "relocate": float(sum(costs.reloc(t) * n for t, n in relocations.items())),
        "bind": float(imports * (costs.bind_fixed + costs.bind_per_probe * probes)),
        "init": float(costs.ctor_call * constructors),
    }
    return ModuleCost(cycles, init_ms / 1000.0, costs.clock_hz)


#: The reference relocation loop of the MIPS cost model: what a GameVM loader does per
#: RELA entry (``sym`` holds the resolved address of every symbol index).
REFERENCE_RELOC_LOOP_C = r"""
typedef unsigned int u32;
typedef struct { u32 r_offset, r_info; int r_addend; } Rela;

void relocate(unsigned char *base, const Rela *r, const Rela *end, const u32 *sym)
{
    for (; r != end; r++) {
        u32 *p = (u32 *)(base + r->r_offset);
        u32 s = sym[r->r_info >> 8] + r->r_addend;
        switch (r->r_info & 0xff) {
        case 2: *p = s; break;                                                   /* R_MIPS_32 */
        case 4: *p = (*p & 0xfc000000) | ((s >> 2) & 0x03ffffff); break;         /* R_MIPS_26 */
        case 5: *p = (*p & 0xffff0000) | (((s + 0x8000) >> 16) & 0xffff); break; /* R_MIPS_HI16 */
        case 6: *p = (*p & 0xffff0000) | (s & 0xffff); break;                    /* R_MIPS_LO16 */
        }
    }
}
"""


def reference_reloc_instructions(target: Profile | str = "psx") -> dict[str, int]:
    """Instructions :data:`REFERENCE_RELOC_LOOP_C` executes per entry, by relocation type.

    Compiles the loop with the target's cross compiler and flags, runs it on
    unicorn over tables of one and two entries of each type, and returns the
    difference (so the prologue and epilogue cancel out).  Needs the target's
    toolchain; MIPS targets only.

    Raises
    ------
    ConfigError
        The target is not a MIPS one.
    ToolchainError
        The cross compiler is missing or fails.
    """
    import struct
    import tempfile
    from pathlib import Path

    import unicorn
    from unicorn import mips_const

    from . import elf32
    from .toolchain import find_toolchain

    profile = load_profile(target)
    if profile.arch != "mips":
        raise ConfigError(f"target {profile.name}: the reference relocation loop is MIPS code")
    arch = get_arch(profile.arch)
    with tempfile.TemporaryDirectory(prefix="gamevm-reloc-") as tmp:
        src = Path(tmp) / "reloc_loop.c"
        src.write_text(REFERENCE_RELOC_LOOP_C)
        obj = find_toolchain(profile.name).compile(src, Path(tmp) / "reloc_loop.o",
                                                   extra_flags=["-O2"])
        elf = elf32.parse(obj.read_bytes(), str(obj))
        code = elf.section_by_name(".text").data
    mode = 0
    for name in profile.unicorn_mode:
        mode |= getattr(unicorn, name)
    e = ">" if profile.big_endian else "<"
    CODE, BASE, TABLE, SYMS, RET = 0x10000, 0x20000, 0x30000, 0x40000, 0x48000

    def executed(rtype: int, entries: int) -> int:
        uc = unicorn.Uc(unicorn.UC_ARCH_MIPS, mode)
        uc.mem_map(CODE, 0x40000)
        uc.mem_write(CODE, code)
        table = b"".join(struct.pack(e + "IIi", 4 * i, rtype, 0) for i in range(entries))
        uc.mem_write(TABLE, table)
        uc.mem_write(SYMS, struct.pack(e + "I", 0x80100000))
        count = [0]
        uc.hook_add(unicorn.UC_HOOK_CODE, lambda *_: count.__setitem__(0, count[0] + 1))
        for reg, value in ((mips_const.UC_MIPS_REG_A0, BASE), (mips_const.UC_MIPS_REG_A1, TABLE),
                           (mips_const.UC_MIPS_REG_A2, TABLE + len(table)),
                           (mips_const.UC_MIPS_REG_A3, SYMS), (mips_const.UC_MIPS_REG_RA, RET)):
            uc.reg_write(reg, value)
        uc.emu_start(CODE, RET, count=100_000)
        return count[0]

    return {cls.name(): executed(num, 2) - executed(num, 1)
            for num, cls in sorted(arch.relocations.items()) if not cls.pc_relative}
