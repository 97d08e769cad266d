"""CPU cost of loading a module on a target: read checks, relocate, bind, construct.

The load-budget analyzer (and the emulated console's clock for host-loader loads)
charges the CPU side of a load with these costs.  They are **measured from the
console-side runtime** (docs/runtime-c.md) on each console's emulated CPU by
``bench/measure_runtime_costs.py``, which writes them with the SHA-256 of the
runtime's sources to ``gamevm_build/runtime/loader/costs.json``; a test fails
when the runtime changes and the file was not re-measured.  The unit is the
instruction, charged as one cycle at the profile's clock (``[cpu] clock_hz``), as
the emulated console's clock counts constructors; memory wait states on top of
that are not modelled yet.

The cost of one module (seed §3.1 loader steps 3-5)::

    cycles = module_fixed                          # headers, allocation, bookkeeping
           + per_section       * sections          # each checked and placed
           + per_local_symbol  * local symbols     # every symbol is checked
           + per_export        * exports           # checked, then kept in a sorted table
           + per_export_byte   * bytes of the exports' names   # compared while sorting
           + per_metadata_byte * metadata bytes    # the JSON note is parsed
           + copy_per_byte     * (text + rodata + data bytes)   # the reader's copy
           + zero_per_byte     * bss bytes
           + head_copy_per_byte * image bytes in the file's first 2048 (head_bytes)
           + Σ_type reloc(type) * relocations of that type     # checked, then applied
           + reloc_fixed (if any)                  # the relocation pass starts
           + imports * (bind_fixed + bind_per_probe * probes)  # probes = ceil(log2(symbols + 1))
           + bind_per_probe_byte * (probes * compared bytes + found bytes) of the imports'
             # names in the resident's table (see below)
           + bind_once (if any imports)
           + ctor_call * constructors
           # what the other loaded modules (L of them, the most that may be loaded) add:
           + per_loaded_module * L                 # every load walks the loaded modules
           + needs * (per_need + need_per_module * L)   # each need looked up by name
           + need_per_module_byte * (L * needs' compared bytes + needs' found bytes)
           + module imports * (bind_per_module * L + bind_per_probe * P)
           + bind_per_probe_byte * (imports' compared bytes + found bytes)
           + per_registered_need * T + registered_need_byte * bytes read
           + registered_request_byte * T * (request bytes past the module's name)
             # T: entries of the needs table the game registered (GameVMAddNeed), which
             # every load walks comparing the module's name with each entry's
             # (:func:`registered_needs`), finding it in the request each time (a request
             # by path reads its directories and ``.elf`` again per entry)
             # module imports: imports the resident lacks, searched for in each loaded
             # module's exports in load order; P = Σ over the L modules of
             # ceil(log2(exports + 1)), the probes of their binary searches; an import's
             # compared bytes: Σ over those modules of their probes times 1 + its longest
             # common prefix with their other exports (:func:`compared_bytes`), a need's
             # 1 + that with the other modules' names; found bytes: len(name) + 1 (the
             # one comparison with the module, export or symbol of that name)

A name costs per byte because the runtime compares names byte by byte: the measured
figures are those of names sharing a long prefix, the most a byte can cost.
    seconds = cycles / clock_hz + init_ms / 1000   (the module's own constructor time)

A packed module (format 2, docs/format.md "Shipping forms") is charged what its form
adds: ``packed_fixed`` once, ``packed_per_import`` per import (their name order is
checked), ``reloc_packed(type)`` instead of ``reloc(type)`` (decoded, the addend taken
from the field, then applied); an LZ4 image adds to the copy step the decoder's
``lz4_token * tokens + lz4_literal * literal bytes + lz4_match * match bytes`` (counted
in the module's block, :func:`gamevm_build.link.compress.lz4_block_stats`), a ZX0 image
``zx0_block * blocks + zx0_literal * literal bytes + zx0_match * match bytes``
(:func:`~gamevm_build.link.compress.zx0_block_stats`), the reader's copy being of the
stored bytes, and zeroes what follows the decoded bytes.

Everything but ``copy_per_byte`` is measured.  The copy is the game's reader's
work (a CD or cartridge DMA costs the CPU nothing; a copy out of a sector buffer
or from memory-mapped ROM does): :data:`READER_COPY_PER_BYTE` keeps the estimate of
a CPU word copy per console, a deliberately pessimistic charge.

Examples
--------
>>> costs = cpu_costs("psx")
>>> c = module_cost(costs, copy_bytes=2048, zero_bytes=0,
...                 relocations={"R_MIPS_26": 10, "R_MIPS_HI16": 5, "R_MIPS_LO16": 5},
...                 imports=2, symbols=100, constructors=1)
>>> sorted(c.cycles)
['bind', 'copy', 'fixed', 'init', 'relocate', 'zero']
>>> per_type = [costs.reloc(t) for t in ("R_MIPS_26", "R_MIPS_HI16", "R_MIPS_LO16")]
>>> c.cycles["relocate"] == (10 * per_type[0] + 5 * per_type[1] + 5 * per_type[2]
...                          + costs.reloc_fixed)
True
"""

from __future__ import annotations

import bisect
import functools
import json
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from ..arch import get_arch
from ..errors import ConfigError
from ..project.profile import Profile, load_profile

__all__ = ["CpuCosts", "ModuleCost", "cpu_costs", "module_cost", "measured_costs",
           "head_bytes", "READER_COPY_PER_BYTE", "HEAD_READ"]


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
    bind_per_probe_byte: float = 0.0
    per_section: float = 0.0
    per_export_byte: float = 0.0
    head_copy_per_byte: float = 0.0
    reloc_fixed: float = 0.0
    bind_once: float = 0.0
    per_local_symbol: float = 0.0
    per_export: float = 0.0
    per_metadata_byte: float = 0.0
    reloc_packed_cycles: Mapping[str, float] = field(default_factory=dict)
    packed_fixed: float = 0.0
    packed_per_import: float = 0.0
    lz4_token: float = 0.0
    lz4_literal: float = 0.0
    lz4_match: float = 0.0
    zx0_block: float = 0.0
    zx0_literal: float = 0.0
    zx0_match: float = 0.0
    digest_fixed: float = 0.0
    digest_per_byte: float = 0.0
    per_loaded_module: float = 0.0
    per_need: float = 0.0
    need_per_module: float = 0.0
    need_per_module_byte: float = 0.0
    bind_per_module: float = 0.0
    per_registered_need: float = 0.0
    registered_need_byte: float = 0.0
    registered_request_byte: float = 0.0
    #: the resident checks every module's SHA-256 (GameVMTrust; it links a trust table)
    trusted: bool = False
    sources: tuple[str, ...] = field(default=(), compare=False)

    def seconds(self, cycles: float) -> float:
        """``cycles`` at this target's clock, in seconds."""
        return cycles / self.clock_hz

    def reloc(self, type_name: str) -> float:
        """Cycles per relocation of ``type_name`` (measured).

        ``"*"`` (a count of unknown types, from an estimate) costs the dearest type.
        """
        if type_name == "*":
            return max(self.reloc_cycles.values())
        try:
            return self.reloc_cycles[type_name]
        except KeyError:
            raise ConfigError(f"relocation type {type_name} is not one target {self.target} "
                              f"applies (known: {', '.join(sorted(self.reloc_cycles))})") from None

    def reloc_packed(self, type_name: str) -> float:
        """Cycles per packed relocation of ``type_name`` (measured; the dearest for ``"*"``)."""
        table = self.reloc_packed_cycles or self.reloc_cycles
        if type_name == "*" or type_name not in table:
            return max(table.values())
        return table[type_name]

    def decode_cycles(self, form: str, stats) -> float:
        """Cycles the console's decoder of ``form`` takes for a block of ``stats``: LZ4's
        (tokens, literal bytes, match bytes)
        (:func:`gamevm_build.link.compress.lz4_block_stats`), ZX0's (blocks, literal
        bytes, match bytes) (:func:`~gamevm_build.link.compress.zx0_block_stats`); 0 for
        a form without a compressed image."""
        if form == "lz4":
            per = (self.lz4_token, self.lz4_literal, self.lz4_match)
        elif form == "zx0":
            per = (self.zx0_block, self.zx0_literal, self.zx0_match)
        else:
            return 0.0
        return sum(c * n for c, n in zip(per, stats))

    def digest_cycles(self, file_bytes: int) -> float:
        """Cycles of the SHA-256 of a module file of ``file_bytes`` when the resident
        checks digests (:attr:`trusted`), else 0."""
        return self.digest_fixed + self.digest_per_byte * file_bytes if self.trusted else 0.0

    def describe(self) -> dict:
        return {"target": self.target, "clock_hz": self.clock_hz,
                "reloc_cycles": dict(sorted(self.reloc_cycles.items())),
                "copy_per_byte": self.copy_per_byte, "zero_per_byte": self.zero_per_byte,
                "bind_fixed": self.bind_fixed, "bind_per_probe": self.bind_per_probe,
                "ctor_call": self.ctor_call, "module_fixed": self.module_fixed,
                "per_local_symbol": self.per_local_symbol, "per_export": self.per_export,
                "per_metadata_byte": self.per_metadata_byte, "per_section": self.per_section,
                "per_export_byte": self.per_export_byte,
                "bind_per_probe_byte": self.bind_per_probe_byte,
                "head_copy_per_byte": self.head_copy_per_byte, "reloc_fixed": self.reloc_fixed,
                "bind_once": self.bind_once,
                "reloc_packed_cycles": dict(sorted(self.reloc_packed_cycles.items())),
                "packed_fixed": self.packed_fixed, "packed_per_import": self.packed_per_import,
                "lz4_token": self.lz4_token, "lz4_literal": self.lz4_literal,
                "lz4_match": self.lz4_match, "zx0_block": self.zx0_block,
                "zx0_literal": self.zx0_literal, "zx0_match": self.zx0_match,
                "digest_fixed": self.digest_fixed,
                "digest_per_byte": self.digest_per_byte,
                "per_loaded_module": self.per_loaded_module, "per_need": self.per_need,
                "need_per_module": self.need_per_module,
                "need_per_module_byte": self.need_per_module_byte,
                "bind_per_module": self.bind_per_module,
                "per_registered_need": self.per_registered_need,
                "registered_need_byte": self.registered_need_byte,
                "registered_request_byte": self.registered_request_byte,
                "trusted": self.trusted}


#: Cycles per byte of the reader's copy into place when the CPU does it, in the unit of
#: every other constant (an instruction charged as one cycle): a word copy loop, which
#: executes 1.5 instructions per byte on the MIPS CPUs and 1.25 on the ARMs at -O2,
#: 0.5 on the 68000 (``move.l (a0)+,(a1)+`` and a count-and-branch per long word; 1.0 at
#: -Os), with room for RAM stalls on psx (2.5), line fills on n64 (2.0) and DRAM on the
#: ARM60 (2.0).  Estimates; tests/test_analysis_loadcost.py runs the loop on each CPU.
#: The 68000's was 7.5, the loop's 68000 clock cycles (30 per long word), a unit no other
#: constant uses: it was most of the slack in the Sega CD's bounds (the runtime executed
#: 0.67-0.84 of what they charged).  The GBA's is 0: its media model (``gba-rom-*``) is
#: the DMA from ROM into place, the CPU halted meanwhile, so its transfer time is the
#: whole copy (charging a CPU copy on top made its bounds 1.25x what the runtime takes).
READER_COPY_PER_BYTE = {"psx": 2.5, "n64": 2.0, "segacd": 1.0, "gba": 0.0, "3do": 2.0}
_MEASURED = ("module_fixed", "per_local_symbol", "per_export", "per_metadata_byte",
             "per_section", "per_export_byte", "bind_per_probe_byte", "head_copy_per_byte",
             "reloc_fixed", "bind_once",
             "zero_per_byte", "bind_fixed", "bind_per_probe", "ctor_call", "packed_fixed",
             "packed_per_import", "digest_fixed", "digest_per_byte", "per_loaded_module",
             "per_need", "need_per_module", "need_per_module_byte", "bind_per_module",
             "per_registered_need", "registered_need_byte", "registered_request_byte")
#: each codec's measured decoder costs (costs.json's ``lz4`` and ``zx0`` rows)
_CODECS = {"lz4": ("token", "literal", "match"), "zx0": ("block", "literal", "match")}


@functools.lru_cache(maxsize=None)
def measured_costs() -> dict:
    """The runtime's measured costs file (``{"targets": {name: row}, ...}``)."""
    from .build import COSTS_FILE
    try:
        return json.loads(COSTS_FILE.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{COSTS_FILE}: cannot read the runtime's measured costs ({exc}); "
                          "run bench/measure_runtime_costs.py --write") from None


def cpu_costs(profile: Profile | str, *, trusted: bool = False) -> CpuCosts:
    """The loader cost constants of ``profile`` (a Profile or a target name); ``trusted``:
    the resident checks each module's digest (:meth:`CpuCosts.digest_cycles`).

    A console the runtime was not measured on gets, field by field, the dearest
    measured console's figure (relocations: the dearest type's), which keeps its
    bounds sound until ``bench/measure_runtime_costs.py --target NAME --write`` runs.
    """
    profile = load_profile(profile)
    arch = get_arch(profile.arch)
    rows = measured_costs()["targets"]
    row = rows.get(profile.name)
    types = [cls.name() for cls in arch.relocations.values() if not cls.pc_relative]
    if row is None:
        dearest = max(x for r in rows.values() for x in r["reloc"].values())
        row = {k: max(r.get(k, 0.0) for r in rows.values()) for k in _MEASURED}
        row["reloc"] = {t: dearest for t in types}
        row["reloc_packed"] = {t: max(x for r in rows.values() for x in r["reloc_packed"].values())
                               for t in types}
        for codec, keys in _CODECS.items():
            row[codec] = {k: max(r.get(codec, {}).get(k, 0.0) for r in rows.values())
                          for k in keys}
        source = "no measurement for this console: the dearest measured console's figures"
    else:
        source = "measured: gamevm_build/runtime/loader/costs.json"
    missing = [t for t in types if t not in row["reloc"]]
    if missing:
        raise ConfigError(f"target {profile.name}: no measured cost for relocation types "
                          f"{', '.join(missing)}; run bench/measure_runtime_costs.py --write")
    copy = READER_COPY_PER_BYTE.get(profile.name, max(READER_COPY_PER_BYTE.values()))
    return CpuCosts(profile.name, profile.clock_hz, {t: row["reloc"][t] for t in types},
                    copy_per_byte=copy, **{k: row.get(k, 0.0) for k in _MEASURED},
                    reloc_packed_cycles={t: row.get("reloc_packed", row["reloc"]).get(
                        t, max(row.get("reloc_packed", row["reloc"]).values())) for t in types},
                    **{f"{codec}_{k}": max(row.get(codec, {}).get(k, 0.0), 0.0)
                       for codec, keys in _CODECS.items() for k in keys},
                    trusted=trusted, sources=(source, "copy_per_byte: gamevm_build/runtime/loadcost.py "
                                     "READER_COPY_PER_BYTE (the reader's copy, estimated)"))


#: modules the console-side runtime holds at once (GVM_MAX_MODULES in gvm_int.h)
MAX_MODULES = 32

#: bytes the console-side runtime reads first (GVM_HEAD_READ in gvm_loader.c)
HEAD_READ = 2048


def head_bytes(file_size: int, stored: int) -> int:
    """Stored image bytes among a file's first :data:`HEAD_READ` bytes (the image, or a
    compressed module's block, is the file's last ``stored`` bytes, at most: the runtime
    copies those from its first read)."""
    return max(0, min(stored, HEAD_READ - (file_size - stored)))


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


def compared_bytes(name: str, others: Sequence[str]) -> int:
    """The most bytes a byte-by-byte comparison of ``name`` with a *different* name of
    the sorted ``others`` reads: one past their longest common prefix (the longest is
    with a neighbour of ``name`` in sorted order).  Comparing equal names reads
    ``len(name) + 1``."""
    lo, hi = bisect.bisect_left(others, name), bisect.bisect_right(others, name)
    return 1 + max((_common(name, o) for o in others[max(lo - 1, 0):lo] + others[hi:hi + 1]),
                   default=0)


def _common(a: str, b: str) -> int:
    """Length of the longest common prefix of ``a`` and ``b``."""
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


def registered_needs(table: Mapping[str, Sequence[str]]):
    """For the needs table ``table`` (module -> needs, what the game registers with
    ``GameVMAddNeed``), a function giving :func:`module_cost`'s ``registered_needs``
    (entries), ``registered_bytes`` and ``request_bytes`` of the walk loading a module of
    a given name makes: for each entry the runtime finds the
    request's stem again (``len(name)`` bytes, and the request's bytes past the name:
    ``request`` is what the game asked for, a path or the name, by default the name) and
    compares the stem with the entry's module, reading all of it (and its end) in its
    own entries and :func:`compared_bytes` in the others."""
    entries = sum(map(len, table.values()))
    modules = sorted(table)

    def walk(name: str, request: str | None = None) -> dict:
        own = len(table.get(name, ()))
        past = max(len(request or name) - len(name), 0)
        return {"registered_needs": entries,
                "registered_bytes": (entries * len(name) + own * (len(name) + 1)
                                     + (entries - own) * compared_bytes(name, modules)),
                "request_bytes": entries * past}
    return walk


def lookup_terms(imports: Sequence[str], needs: Sequence[str], *, resident, compare_resident,
                 compare_module, searched_bytes, share: float = 1.0) -> dict:
    """:func:`module_cost`'s arguments for looking a module's needs and imports up: the
    needs among the loaded modules by name, each import in the resident's table, then, if
    the resident lacks it, in the other loaded modules' exports.  One derivation for the
    analyzer and the reference loader, which differ only in what may be loaded.

    ``resident``: the resident's symbol names (None: unknown, every import searched
    everywhere and a name read whole); ``compare_resident(name)`` and
    ``compare_module(name)``: bytes comparing ``name`` with the resident's table and
    with the loaded modules' names read (:func:`compared_bytes`); ``searched_bytes(names)``:
    bytes the searches of ``names`` through the loaded modules' exports read, every probe;
    ``share``: the fraction of the imports bound now (lazy ones are bound at first call).
    """
    outside = [n for n in imports if resident is None or n not in resident]
    found = sum(len(n) + 1 for n in imports)
    return {"needs": len(needs),
            "need_bytes": sum(map(compare_module, needs)),
            "need_found_bytes": sum(len(n) + 1 for n in needs),
            "import_bytes": share * (found - len(imports) if resident is None
                                     else sum(map(compare_resident, imports))),
            "import_found_bytes": share * found,
            "module_imports": share * len(outside),
            "module_import_bytes": share * searched_bytes(outside)}


def search_probes(symbols: int) -> int:
    """Probes of a binary search that finds any of ``symbols`` sorted names, at worst: the
    runtime's lookup of an import in the Global Symbol Table (``ceil(log2(symbols + 1))``)."""
    return symbols.bit_length()


def module_cost(costs: CpuCosts, *, copy_bytes: int, zero_bytes: int,
                relocations: Mapping[str, int], imports: int, symbols: int,
                constructors: int = 0, init_ms: float = 0.0, exports: int = 0,
                local_symbols: int = 0, metadata_bytes: int = 0, form: str = "plain",
                sections: int = 0, export_bytes: int = 0, import_bytes: float = 0,
                head_bytes: int = 0,
                decode: tuple[int, int, int] = (0, 0, 0), file_bytes: int = 0,
                co_resident: Sequence[int] = (), needs: int = 0, need_bytes: int = 0,
                module_imports: int = 0, module_import_bytes: float = 0,
                need_found_bytes: int = 0, import_found_bytes: float = 0,
                registered_needs: int = 0, registered_bytes: float = 0,
                request_bytes: int = 0) -> ModuleCost:
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
    exports, local_symbols, metadata_bytes : int
        What the loader checks and keeps besides: exported symbols, other symbols
        (sections, statics), bytes of the metadata note.
    sections, export_bytes, import_bytes : int
        The module's loadable sections, the bytes of its exports' names, and the bytes a
        probe of the resident's table reads comparing the names of the ``imports`` bound
        now (:func:`compared_bytes` with its other names; their lengths, not knowing them).
    head_bytes : int
        Stored image bytes within the file's first ``GVM_HEAD_READ`` (2048) bytes: the
        runtime's first read brings them into its work area and copies them into place
        (:func:`head_bytes`).
    form : str
        The module's shipping form (``plain``, ``packed``, ``lz4``, ``zx0``).
    decode : tuple
        A compressed module's block as its decoder works it
        (:meth:`CpuCosts.decode_cycles`).
    file_bytes : int
        The module file's size: what a resident that checks digests hashes (``copy``).
    co_resident : sequence of int
        The exports of each other module that may be loaded meanwhile (the runtime walks
        them on every load, looks each need up among them and searches their exports
        for an import the resident lacks).
    needs, need_bytes : int
        The module's needs, and the bytes comparing their names with other modules'
        reads (:func:`compared_bytes`, summed).
    module_imports, module_import_bytes : int
        Of the ``imports`` bound now, those the resident lacks, and the bytes comparing
        their names with other names of the loaded modules' exports reads, over every
        probe of the searches.
    need_found_bytes, import_found_bytes : int
        ``len(name) + 1`` summed over the needs and over the ``imports``: comparing a
        name with its own module, export or resident symbol.
    registered_needs, registered_bytes : int
        Entries of the needs table the game registered (``GameVMAddNeed``), which every
        load walks comparing the module's name with each entry's, and the bytes those
        comparisons read (:func:`registered_needs`).
    request_bytes : int
        The request's bytes past the module's name (a path's directories, ``.elf``), times
        those entries: the runtime reads them again for each.
    """
    probes = search_probes(symbols)
    loaded = len(co_resident)
    searched = sum(map(int.bit_length, co_resident))          # search_probes of each
    packed = form != "plain"
    reloc = costs.reloc_packed if packed else costs.reloc
    cycles = {
        "fixed": float(costs.module_fixed + costs.per_export * exports
                       + costs.per_export_byte * export_bytes + costs.per_section * sections
                       + costs.per_local_symbol * local_symbols
                       + costs.per_metadata_byte * metadata_bytes
                       + (costs.packed_fixed + costs.packed_per_import * imports
                          if packed else 0.0)
                       + costs.per_loaded_module * loaded
                       + needs * (costs.per_need + costs.need_per_module * loaded)
                       + costs.need_per_module_byte * (loaded * need_bytes
                                                       + need_found_bytes)
                       + costs.per_registered_need * registered_needs
                       + costs.registered_need_byte * registered_bytes
                       + costs.registered_request_byte * request_bytes),
        "copy": (costs.copy_per_byte * copy_bytes + costs.head_copy_per_byte * head_bytes
                 + costs.decode_cycles(form, decode)
                 + costs.digest_cycles(file_bytes)),
        "zero": costs.zero_per_byte * zero_bytes,
        "relocate": float(sum(reloc(t) * n for t, n in relocations.items())
                          + (costs.reloc_fixed if any(relocations.values()) else 0.0)),
        "bind": float(imports * (costs.bind_fixed + costs.bind_per_probe * probes)
                      + costs.bind_per_probe_byte * probes * import_bytes
                      + (costs.bind_once if imports else 0.0)
                      + module_imports * (costs.bind_per_module * loaded
                                          + costs.bind_per_probe * searched)
                      + costs.bind_per_probe_byte * (module_import_bytes
                                                     + import_found_bytes)),
        "init": float(costs.ctor_call * constructors),
    }
    return ModuleCost(cycles, init_ms / 1000.0, costs.clock_hz)
