"""The runtime loader, run by the host against an emulated console's RAM.

It does what the target loader does (seed §3.1), in the same order:

1. **I/O**: read the module's bytes through a reader (directory, disc image),
   and, when asked (``needs=True``), the modules it declares it needs, first;
2. **validate** the header, target, format version and every index and offset
   (:func:`gamevm_build.link.module.read_module`) before touching memory;
3. **allocate** a block from a stack/region allocator (seed §8); loading into
   an occupied **overlay** region evicts its occupant (seed §4), or, for a
   **double buffer**, uses the other half when the occupant is in use;
4. **relocate and bind** in host memory with the one relocation implementation
   (:func:`gamevm_build.link.prelink.relocate`), against the resident's global
   symbol table, then modules already loaded with global scope, in load order;
   imports of functions may be bound **lazily**, at their first call (seed §6.2);
5. **copy** the image into emulated RAM and run the constructors
   (``.init_array`` in order, then ``.ctors`` in reverse), dependencies first.

Any failure before step 5 leaves no trace (an overlay occupant already evicted
stays evicted): the blocks are returned and nothing is bound or written.  A
constructor that faults unwinds the load the same way.

Loading a module that is already loaded returns it and counts a reference;
:meth:`Loader.unload` drops one, and a module is freed at refcount 0 and only
once no other loaded module binds to it (libdragon's rule).  Freeing runs the
destructors, poisons the memory and, in **safe mode** (seed §4.2), is refused
while an emulated stack frame, saved return address or register points into
the module (:mod:`gamevm_build.emu.stackwalk`); bindings other modules still hold
to an evicted module are redirected to stubs that stop with "call to unloaded
module X symbol Y" (or reload it, by policy).

Every load is timed with the analyzer's models (:mod:`gamevm_build.runtime.loadtime`)
and recorded for traces.  Results use the seed's ``TLoadStatus`` (extended).
docs/loader.md and docs/runtime.md describe all of it.
"""

from __future__ import annotations

import enum
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from ..emu import stackwalk
from .allocator import Allocator, Block, OutOfMemory, Region
from ..arch import RelocationOverflow, get_arch
from ..errors import (EmulationError, GameVMError, ImageDecodeError, InputError,
                      ModuleChecksumError, ModuleFormatError, RelocationError,
                      UndefinedSymbolError)
from .loadcost import search_probes
from .loadtime import LoadRecord, LoadTimer, ModuleTiming, cpu_steps, module_counts
from ..link.module import Module, read_module
from ..link.prelink import module_symbols, relocate
from .readers import ModuleNotFound

MASK32 = 0xFFFFFFFF

#: modules parsed (and checked) by content: loading the same file again, as a game
#: does with its levels, skips the parse and the hash check, which were most of a
#: load's host time (issue 16).  Keyed by the bytes themselves, so a rewritten file
#: is parsed and checked again; nothing mutates a parsed :class:`Module`, so loads
#: may share one.  Bounded by count and by the files' bytes.
_PARSED: OrderedDict[tuple[bytes, str, bool], Module] = OrderedDict()
_PARSED_MAX = 64
_PARSED_MAX_BYTES = 32 << 20


def _parsed(data: bytes, path: str, verify_hash: bool) -> Module:
    """:func:`read_module` of ``data``, remembered for the most recently loaded modules."""
    key = (data, path, verify_hash)
    module = _PARSED.get(key)
    if module is not None:
        _PARSED.move_to_end(key)
        return module
    module = read_module(data, name=path, verify_hash=verify_hash)
    if len(data) <= _PARSED_MAX_BYTES:
        _PARSED[key] = module
        total = sum(len(k[0]) for k in _PARSED)
        while len(_PARSED) > _PARSED_MAX or total > _PARSED_MAX_BYTES:
            old, _ = _PARSED.popitem(last=False)
            total -= len(old[0])
    return module


class TLoadStatus(enum.IntEnum):
    """Load results, numbered as target code sees them (gamevm.h ``TLoadStatus``).

    The first four are the seed's (§3.2); the rest say precisely why a load failed.
    """

    lsSuccess = 0
    lsFileNotFound = 1          #: no reader has a file for the name
    lsOutOfMemory = 2           #: no region has room for the image
    lsRelocationError = 3       #: a relocation cannot reach (e.g. R_MIPS_26 across segments)
    lsBadFormat = 4             #: not a valid GameVM module (truncated, corrupted, wrong version)
    lsIncompatibleTarget = 5    #: built for another console / byte order
    lsUndefinedSymbol = 6       #: an import that the resident and loaded modules lack
    lsInitFailed = 7            #: a constructor faulted or ran past its budget
    lsInvalidHandle = 8         #: the handle names no loaded module
    lsSymbolNotFound = 9        #: GetModuleProc: the module exports no such name
    lsModuleInUse = 10          #: safe mode: a frame or register still points into the module
    lsPending = 11              #: an asynchronous load has not completed yet
    lsBadChecksum = 12          #: well-formed, but its contents do not match the metadata's hash
    lsBadSignature = 13         #: not in the trusted manifest, or not its digest (GameVMTrust)


class LoadError(GameVMError):
    """A load or unload failed; ``status`` is the :class:`TLoadStatus`."""

    exit_status = 1

    def __init__(self, status: TLoadStatus, message: str):
        super().__init__(message)
        self.status = status


@dataclass
class LoaderPolicy:
    """How the runtime behaves (docs/runtime.md).

    safe_mode
        Reference tracking (unload/evict refused while a frame points into the
        module) and stubbing of bindings to evicted modules.  On by default.
    lazy
        Default binding mode of loads that do not choose (per module:
        ``load(..., lazy=True)``, ``LoadModuleFlags(name, GVM_LOAD_LAZY, ...)``).
    stale
        What a call through a stubbed binding does: ``"fault"`` (stop with "call
        to unloaded module X symbol Y") or ``"reload"`` (load X again, rebind, go on).
    double_buffer
        A load into an overlay region with a ``pair`` whose occupant is in use
        goes to the other half instead of evicting it.
    verify_hash
        Refuse a module whose contents do not hash to its metadata's ``hash``
        (``lsBadChecksum``).  On by default; the console-side C runtime does not
        check it yet (docs/runtime-c.md).
    """

    safe_mode: bool = True
    lazy: bool = False
    stale: str = "fault"
    double_buffer: bool = True
    verify_hash: bool = True


@dataclass
class LoadedModule:
    """A module in emulated RAM."""

    handle: int
    name: str
    path: str
    module: Module
    base: int
    region: Region
    block: Block
    symbols: dict[str, int]
    bindings: dict[str, int] = field(default_factory=dict)   #: import -> bound address
    guards: list[int] = field(default_factory=list)           #: Machine.guard tokens
    refcount: int = 1
    deps: list[int] = field(default_factory=list)             #: handles this one holds a reference to
    providers: set = field(default_factory=set)               #: handles its bindings point into
    lazy: dict = field(default_factory=dict)                  #: unresolved lazy import -> stub address
    stubbed: dict = field(default_factory=dict)               #: import -> (module, stub) after eviction
    code_end: int = 0
    pinned: bool = False                                      #: in use by the current scene
    timing: ModuleTiming | None = None
    request: str = ""

    @property
    def end(self) -> int:
        return self.base + self.module.load_size

    def contains(self, addr: int) -> bool:
        return self.base <= addr < self.end

    def in_code(self, addr: int) -> bool:
        return self.base <= addr < self.base + self.code_end

    def symbolize(self, addr: int) -> str:
        name = self.module.symbolize(addr - self.base)
        return f"{self.name}:{name}" if name else f"{self.name}+0x{addr - self.base:x}"


def default_regions(machine, resident) -> list[Region]:
    """Module memory when no memoryMap is given: RAM after the resident up to the stack.

    The top of main RAM is kept for the stack (and the machine's scratch area
    below it): 64 KiB, or what the machine reserves if that is more.
    """
    ram = machine.profile.main_ram
    # a resident elsewhere (the Sega CD's kernel in work RAM) leaves main RAM whole
    start = resident.end if ram.start <= resident.end <= ram.end else ram.start
    start = -(-start // 16) * 16
    end = min(ram.end - 0x10000, machine.scratch_base)
    return [Region("heap", start, max(end - start, 0), "heap")]


# ----------------------------------------------------------------------------- stubs

#: trap codes of loader-owned code (gamevm.h lists them; target code never issues them)
SYS_LAZY, SYS_STALE, SYS_TRAMP_NEXT, SYS_TRAMP_RESUME = 0x4710, 0x4711, 0x4712, 0x4713
#: stale data bindings point here: unmapped on every target, so reading one faults
STALE_DATA_BASE = 0x7F000000
STUB_AREA_SIZE = 0x4000


#: a resident linked with the console-side runtime has its own stub table, ``gvm_stub_area``
#: (gamevm_build/runtime/loader/gvm_stubs.c): stubs of this many bytes that put their slot
#: number in a scratch register and jump to ``gvm_stub_entry``
RUNTIME_STUB_BYTES = {"mips": 8, "m68k": 8, "arm": 12}
RUNTIME_STUB_REGISTER = {"mips": "t8", "m68k": "d0", "arm": "r12"}


def runtime_stub(arch: str, byteorder: str, entry: int, slot: int) -> bytes:
    """The console-side runtime's stub for ``slot`` (gvm_stubs.c ``stub_alloc``)."""
    if arch == "mips":
        words = (0x08000000 | (entry >> 2 & 0x03FFFFFF), 0x24180000 | slot)  # j entry; li t8
    elif arch == "m68k":
        words = ((0x7000 | slot) << 16 | 0x4EF9, entry)      # moveq #slot, d0; jmp entry.l
    else:
        words = (0xE3A0C000 | slot, 0xE51FF004, entry)       # mov ip, #slot; ldr pc, =entry
    return b"".join((w & MASK32).to_bytes(4, byteorder) for w in words)


class StubArea:
    """Loader-owned code in RAM for lazy and stale bindings.

    With a resident that links the console-side runtime, the runtime's own table
    (``gvm_stub_area``) and its stubs, byte for byte (:func:`runtime_stub`): the
    loader follows them at ``gvm_stub_entry``, so either loader leaves the same RAM.
    Otherwise 16 KiB reserved from the machine's scratch area: the reload trampoline,
    then stubs that trap with a code (MIPS ``nop; syscall CODE``); the CPU family writes
    both (:class:`gamevm_build.emu.cpu.Cpu`).
    """

    def __init__(self, machine, size: int = STUB_AREA_SIZE, *, resident=None):
        self.machine = machine
        cpu = machine.cpu
        syms = resident.symbols if resident is not None else {}
        self.entry = syms.get("gvm_stub_entry")
        self.slots: dict[int, dict] = {}
        self._free: list[int] = []
        self._data_next = 0
        self._trampoline: int | None = None
        if self.entry is not None and "gvm_stub_area" in syms:
            self.base = syms["gvm_stub_area"]
            self.size = resident.sizes["gvm_stub_area"]
            self.stub_size = RUNTIME_STUB_BYTES[machine.profile.arch]
            self.first = self.base
            self.guard = None
        else:
            self.entry = None
            self.base = machine.reserve(size)
            self.size = size
            code = cpu.trampoline(SYS_TRAMP_NEXT, SYS_TRAMP_RESUME)
            self._trampoline = self.base
            machine.write(self.base, code)
            self.stub_size = cpu.stub_size
            self.first = self.base + -(-len(code) // self.stub_size) * self.stub_size
            self.guard = machine.guard(self.base, size, "code", "the loader's stubs")
        self._next = self.first

    @property
    def trampoline(self) -> int:
        """The reload trampoline (beside the runtime's table, which has none)."""
        if self._trampoline is None:
            code = self.machine.cpu.trampoline(SYS_TRAMP_NEXT, SYS_TRAMP_RESUME)
            self._trampoline = self.machine.reserve(len(code))
            self.machine.write(self._trampoline, code)
            self.machine.guard(self._trampoline, len(code), "code", "the loader's trampoline")
        return self._trampoline

    def at_slot(self, slot: int) -> tuple[int, dict] | None:
        """The runtime stub ``slot`` names (the register it jumped with)."""
        addr = self.base + slot * self.stub_size
        info = self.slots.get(addr)
        return (addr, info) if info is not None else None

    def alloc(self, code: int, info: dict) -> int:
        if self._free:
            addr = self._free.pop()
        elif self._next + self.stub_size <= self.base + self.size:
            addr = self._next
            self._next += self.stub_size
        else:
            raise LoadError(TLoadStatus.lsOutOfMemory,
                            f"the loader's stub area ({self.size} bytes) is full")
        if self.entry is not None:
            self.machine.write(addr, runtime_stub(self.machine.profile.arch,
                                                  self.machine.profile.byteorder, self.entry,
                                                  (addr - self.base) // self.stub_size))
        else:
            self.machine.write(addr, self.machine.cpu.stub(code))
        self.slots[addr] = dict(info, code=code)
        return addr

    def free_count(self) -> int:
        """Stubs :meth:`alloc` can still hand out."""
        return len(self._free) + (self.base + self.size - self._next) // self.stub_size

    def free(self, addr: int) -> None:
        if self.slots.pop(addr, None) is not None:
            self._free.append(addr)

    def at_trap(self, trap_pc: int) -> tuple[int, dict] | None:
        addr = (trap_pc - self.machine.cpu.stub_trap_offset) & MASK32
        info = self.slots.get(addr)
        return (addr, info) if info is not None else None

    def data_address(self) -> int:
        addr = STALE_DATA_BASE + 16 * self._data_next
        self._data_next += 1
        return addr

    def contains(self, addr: int) -> bool:
        return self.base <= addr < self.base + self.size


@dataclass
class _Item:
    """A module being loaded: read, not yet placed."""

    request: str
    path: str
    module: Module
    region: str | None = None
    needs: tuple = ()                    # module names it needs (file + config)
    timing: ModuleTiming | None = None


@dataclass
class _Grave:
    name: str
    base: int
    end: int
    exports: dict                        # address -> symbol name
    memory_reused: bool = False


class Loader:
    """Load, bind and unload modules in an emulated console.

    Parameters
    ----------
    machine : gamevm_build.emu.machine.Machine
        The emulated console, with the resident already loaded.
    resident : gamevm_build.link.resident.Resident
        Its global symbol table is what modules bind against first.
    reader : reader
        Where module files come from (:mod:`gamevm_build.runtime.readers`).
    regions : list of Region, optional
        Memory for modules (from the project's memoryMap); default: RAM after
        the resident, below the stack.
    policy : LoaderPolicy, optional
    timer : LoadTimer, optional
        Clock, drive and cost models (default: the profile's default media model).
    placement : dict, optional
        Module name -> region name (the project's ``modules.NAME.region``).
    extra_needs : dict, optional
        Module name -> needs declared in the project config (on top of the file's).
    registered_needs : dict, optional
        The needs table the game's build registers with the console-side runtime
        (``GameVMAddNeed``; default ``extra_needs``): its walk on every load is charged.
    """

    def __init__(self, machine, resident, reader, regions: list[Region] | None = None, *,
                 policy: LoaderPolicy | None = None, timer: LoadTimer | None = None,
                 placement: dict | None = None, extra_needs: dict | None = None,
                 registered_needs: dict | None = None):
        self.machine = machine
        self.resident = resident
        self.reader = reader
        self.allocator = Allocator(regions or default_regions(machine, resident))
        self.policy = policy or LoaderPolicy()
        self.timer = timer or LoadTimer(machine.profile)
        self.placement = dict(placement or {})
        self.extra_needs = {k: tuple(v) for k, v in (extra_needs or {}).items()}
        #: the needs table the game registers with the runtime (GameVMAddNeed), which its
        #: every load walks: the time model charges that (the project's needs without one)
        self.registered_needs = ({k: tuple(v) for k, v in registered_needs.items()}
                                 if registered_needs is not None else self.extra_needs)
        self.loaded: dict[int, LoadedModule] = {}
        self._next_handle = 1
        self.events: list[dict] = []
        self._going: set[int] = set()       # handles an unload is freeing (unload_plan)
        self.stubs: StubArea | None = None
        self.graves: list[_Grave] = []
        self.pending_init: dict[int, dict] = {}       # handle -> {"entries", "record", "mark"}
        self.prepared: dict[int, dict] = {}           # handle -> unload plan (target side)
        self.lazy_resolutions = 0
        self._tramp: list[dict] = []                  # reload trampoline stack
        self._stale_data: dict[int, dict] = {}        # stale data binding address -> what
        self._arch = get_arch(machine.profile.arch)
        self.trusted: dict | None = None              # GameVMTrust's table, decoded
        self._files: dict[str, bytes] = {}            # path -> bytes read, while trusted
        previous = getattr(machine, "symbolizer", None)
        machine.symbolizer = self._symbolizer(previous)

    # --- symbol tables --------------------------------------------------------------
    def resolve(self, name: str) -> int | None:
        """Binding order: the resident, then loaded modules in load order."""
        if name in self.resident.symbols:
            return self.resident.symbols[name]
        for lm in self.loaded.values():
            if name in lm.symbols:
                return lm.symbols[name]
        return None

    def by_name(self, name: str) -> LoadedModule | None:
        for lm in self.loaded.values():
            if lm.name == name:
                return lm
        return None

    def module_at(self, addr: int) -> LoadedModule | None:
        for lm in self.loaded.values():
            if lm.contains(addr):
                return lm
        return None

    def _symbolizer(self, previous):
        def symbolize(addr: int) -> str | None:
            lm = self.module_at(addr)
            if lm is not None:
                return lm.symbolize(addr)
            if self.stubs is not None and self.stubs.contains(addr):
                return self._describe_stub(addr)
            for g in reversed(self.graves):
                if not g.memory_reused and g.base <= addr < g.end:
                    best = max((a for a in g.exports if a <= addr), default=None)
                    if best is None:
                        return f"unloaded {g.name}+0x{addr - g.base:x}"
                    off = addr - best
                    return f"unloaded {g.name}:{g.exports[best]}" + (f"+0x{off:x}" if off else "")
            if STALE_DATA_BASE <= addr < STALE_DATA_BASE + 0x100000:
                for info in self._stale_data.values():
                    if info["address"] <= addr < info["address"] + 16:
                        return f"stale binding to {info['module']}:{info['symbol']} (unloaded)"
            return previous(addr) if previous else None
        return symbolize

    def _describe_stub(self, addr: int) -> str | None:
        if addr < self.stubs.first:
            return "loader: reload trampoline"
        slot = self.stubs.slots.get(addr - (addr - self.stubs.first) % self.stubs.stub_size)
        if slot is None:
            return "loader: free stub"
        if slot["code"] == SYS_LAZY:
            return f"lazy stub {slot['holder']}->{slot['symbol']}"
        return f"stale stub {slot['module']}:{slot['symbol']}"

    def function_start(self, addr: int) -> int | None:
        """Start of the function holding ``addr`` (modules' and the resident's symbols)."""
        lm = self.module_at(addr)
        if lm is not None:
            off = addr - lm.base
            best = None
            for s in list(lm.module.exports.values()) + lm.module.locals:
                value = s.value & ~1                        # Thumb functions: bit 0
                if s.section == ".text" and s.kind in ("func", "notype") and value <= off:
                    if best is None or value > best:
                        best = value
            return None if best is None else lm.base + best
        sym = getattr(self.machine, "_symbols", None)
        if sym is not None and any(lo <= addr < hi for lo, hi in sym._ranges):
            import bisect
            i = bisect.bisect_right(sym._addrs, addr)
            if i:
                return sym._addrs[i - 1]
        return None

    def is_code(self, addr: int) -> bool:
        lm = self.module_at(addr)
        if lm is not None:
            return lm.in_code(addr)
        if self.stubs is not None and self.stubs.contains(addr):
            return True
        return any(v <= addr < v + len(data) and flags & 1
                   for v, data, _m, flags in self.resident.segments)

    # --- safe mode ------------------------------------------------------------------
    def references(self, lm: LoadedModule) -> list[stackwalk.Reference]:
        """Live frames, saved return addresses and registers pointing into ``lm``'s code."""
        if not self.policy.safe_mode or not self.machine.running:
            return []
        return stackwalk.references(self.machine, [(lm.base, lm.base + lm.code_end)],
                                    self.function_start, self.is_code)

    def _in_use_message(self, what: str, lm: LoadedModule, refs) -> str:
        sym = self.machine.symbolize
        first = refs[0].describe(sym)
        more = f" (and {len(refs) - 1} more)" if len(refs) > 1 else ""
        return (f"{what} refused in safe mode: module '{lm.name}' is in use: {first}{more}; "
                "return from it first")

    def _busy(self, lm: LoadedModule) -> bool:
        return lm.pinned or bool(self.references(lm))

    # --- loading --------------------------------------------------------------------
    def _loaded_for(self, request: str) -> LoadedModule | None:
        lm = self.by_name(request)
        if lm is None:
            stem = PurePosixPath(request).name
            stem = stem[:-4] if stem.lower().endswith(".elf") else stem
            lm = self.by_name(stem)
        return lm

    def trust(self, table: bytes | None) -> None:
        """``GameVMTrust``: check every module loaded from now on against ``table`` (a
        :mod:`~gamevm_build.runtime.trust` table; None: no check).  A malformed table is
        lsBadFormat and turns the check off, as on the console."""
        import dataclasses
        from . import trust
        self.trusted = None
        self.timer.costs = dataclasses.replace(self.timer.costs, trusted=False)
        if table is None:
            return
        try:
            self.trusted = trust.decode(table)
        except trust.TrustTableError as exc:
            raise LoadError(TLoadStatus.lsBadFormat, f"GameVMTrust: {exc}") from None
        self.timer.costs = dataclasses.replace(self.timer.costs, trusted=True)

    def _untrusted(self, name: str, path: str) -> str | None:
        from .trust import untrusted
        return untrusted(self.trusted, name, self._files[path], path)

    def _check_trusted_entry(self, module: Module, path: str) -> None:
        """Before its needs: listed, with this size (the console's check_module)."""
        entry = self.trusted.get(module.name)
        size = len(self._files[path])
        if entry is None or entry.size != size:
            raise LoadError(TLoadStatus.lsBadSignature, self._untrusted(module.name, path))

    def _read(self, name: str) -> tuple[str, Module]:
        try:
            path, data = self.reader.read(name)
        except ModuleNotFound as exc:
            raise LoadError(TLoadStatus.lsFileNotFound, str(exc)) from None
        except OSError as exc:
            raise LoadError(TLoadStatus.lsFileNotFound, f"module '{name}': {exc}") from None
        except InputError as exc:     # a file no reader reads whole: not a regular file, or huge
            raise LoadError(TLoadStatus.lsFileNotFound, str(exc)) from None
        if self.trusted is not None:
            self._files[path] = data
        try:
            module = _parsed(data, path, self.policy.verify_hash)
        except (ImageDecodeError, ModuleChecksumError) as exc:
            # what the console finds only after the whole file, so after the digest
            if self.trusted is not None and exc.module_name:
                reason = self._untrusted(exc.module_name, path)
                if reason:
                    raise LoadError(TLoadStatus.lsBadSignature, reason) from None
            if isinstance(exc, ImageDecodeError):
                raise LoadError(TLoadStatus.lsBadFormat, str(exc)) from None
            raise LoadError(TLoadStatus.lsBadChecksum, str(exc)) from None
        except ModuleFormatError as exc:
            raise LoadError(TLoadStatus.lsBadFormat, str(exc)) from None
        if module.target != self.machine.profile.name:
            raise LoadError(TLoadStatus.lsIncompatibleTarget,
                            f"{path}: module '{module.name}' is built for target {module.target}, "
                            f"but this console is {self.machine.profile.name}; rebuild it with "
                            f"-t {self.machine.profile.name}")
        if module.image_size > 0x7FFFFFFF:
            raise LoadError(TLoadStatus.lsBadFormat, f"{path}: image size is implausible")
        return path, module

    def needs_of(self, module: Module) -> tuple[str, ...]:
        out = list(module.needs)
        for n in self.extra_needs.get(module.name, ()):
            if n not in out:
                out.append(n)
        return tuple(n for n in out if n != module.name)

    def collect(self, name: str, *, needs: bool, region: str | None = None,
                exclude=()) -> tuple[list[_Item], list[str]]:
        """Read ``name`` (and with ``needs`` the modules it needs that are not loaded).

        Returns the items to load in dependency order (providers first) and the
        names of needed modules already loaded.  Nothing changes on failure.
        """
        items: list[_Item] = []
        present: list[str] = []
        seen: set[str] = set(exclude)

        def visit(req: str, reg: str | None, stack: tuple) -> None:
            path, module = self._read(req)
            if module.name in seen or self.by_name(module.name) is not None:
                return
            if self.trusted is not None:
                self._check_trusted_entry(module, path)
            seen.add(module.name)
            item = _Item(req, path, module, reg, self.needs_of(module))
            if needs:
                for need in item.needs:
                    if need in stack:
                        continue       # a cycle: the loader reports what stays unbound
                    if self.by_name(need) is not None:
                        if need not in present:
                            present.append(need)
                    elif need not in seen:
                        visit(need, None, stack + (module.name,))  # placed by name at link
            items.append(item)

        visit(name, region, ())
        return items, present

    def load(self, name: str, *, region: str | None = None, run_init: bool = True,
             needs: bool = False, lazy: bool | None = None, at: int | None = None,
             kind: str = "load", alternate: bool | None = None) -> LoadedModule:
        """Load module ``name``; raise :class:`LoadError` with a status on failure.

        An already loaded module (by name) gains a reference and is returned.
        ``needs=True`` loads the modules it needs first (and holds a reference
        to each).  ``run_init=False`` leaves the constructors to the caller (the
        target-side ``LoadModule`` runs them on the emulated CPU, see
        :meth:`init_entry`).  ``lazy`` binds its function imports at first call
        (default: the policy's).  ``at`` places it at a fixed address
        (prelinked, e.g. a cartridge image).  ``alternate`` enables double
        buffering for this load (default: the policy's).
        """
        existing = self._loaded_for(name)
        if existing is not None:
            self._add_ref(existing, "load")
            return existing
        items, present = self.collect(name, needs=needs, region=region)
        if not items:       # it turned out to be loaded under its module name
            lm = self.by_name(self._read(name)[1].name)
            self._add_ref(lm, "load")
            return lm
        record = self.timer.begin(kind, name, target=None)
        self.read_items(items, record)
        return self.link_items(items, present, record, run_init=run_init, lazy=lazy, at=at,
                               alternate=alternate)[-1]

    def _add_ref(self, lm: LoadedModule, why: str) -> None:
        lm.refcount += 1
        self.events.append({"event": "ref", "module": lm.name, "refcount": lm.refcount,
                            "why": why})

    def read_items(self, items: list[_Item], record: LoadRecord, *, at_s: float | None = None,
                   load: str | None = None, first: bool = True) -> float:
        """Schedule the reads of ``items`` on the drive, in their order (each module after
        its needs: what :meth:`collect` gives, the console-side runtime's order too);
        return the end.

        ``load`` names the load for a disc layout's duplicated modules
        (``boot``, ``from -> to``, ``streams[i]``); ``first=False``: the load read before
        these, so the drive is reading (an asynchronous load's next file).
        """
        order = [it.module.name for it in items]
        by = {it.module.name: it for it in items}
        t = self.timer.clock.now_s if at_s is None else at_s
        end = t
        for i, n in enumerate(order):
            it = by[n]
            step = self.timer.drive.read(n, self.timer.position(n, load), it.module.file_size,
                                         at_s=t, first=first and i == 0)
            it.timing = ModuleTiming(n, step, init_declared_s=self.timer.init_ms.get(n, 0.0) / 1e3)
            it.timing.phases += [("seek", step.start_s, step.start_s + step.access_s),
                                 ("read", step.start_s + step.access_s, step.end_s)]
            record.modules.append(it.timing)
            end = step.end_s
        return end

    def cpu_model(self, module: Module, *, eager_imports: int | None = None,
                  init_s: float | None = None, before=(), request: str | None = None) -> dict:
        """Modelled CPU steps of loading ``module`` now (init: declared init_ms by default);
        ``before``: modules a load in progress places before it (not loaded yet);
        ``request``: what the game asked for (default: the module's name)."""
        eager = len(module.imports) if eager_imports is None else eager_imports
        init = self.timer.init_ms.get(module.name, 0.0) / 1e3 if init_s is None else init_s
        # the runtime looks an import up in the resident's table, then in each loaded
        # module's exports (gvm_loader.c resolve): the modules loaded besides this one
        others = [(lm.name, lm.module.exports) for lm in self.loaded.values()
                  if lm.name != module.name]
        others += [(m.name, m.exports) for m in before
                   if m.name != module.name and self.by_name(m.name) is None]
        return cpu_steps(self.timer.costs, module, symbols=len(self.resident.symbols),
                         eager_imports=eager, init_s=init, resident=self.resident.symbols,
                         co_resident=others, registered=self.registered_needs,
                         request=request)

    def link_items(self, items: list[_Item], present: list[str], record: LoadRecord, *,
                   run_init: bool, lazy: bool | None = None, at: int | None = None,
                   alternate: bool | None = None, cpu_start_s: float | None = None,
                   advance_clock: bool = True, modelled_init: bool = False,
                   hold_all: bool = False) -> list[LoadedModule]:
        """Place, relocate, bind and copy ``items`` (dependency order), then construct them.

        Returns the modules loaded, the requested one (``items[-1]``) last.
        ``run_init``: construct them here (False: the caller's code runs the constructors,
        :meth:`load`); every caller says which.
        Reference counts: the requested module is held by the requester, every
        needed module by each module that needs it.  Timing: the CPU steps
        start after the last read (``cpu_start_s``); the clock moves to their
        end unless ``advance_clock`` is False (async loads, paced by frames).
        ``modelled_init`` charges the declared ``init_ms`` instead of the
        measured constructor time (async loads are scheduled with it).
        ``hold_all`` counts a reference for every item (a scene holds all its modules).
        """
        lazy = self.policy.lazy if lazy is None else lazy
        alternate = self.policy.double_buffer if alternate is None else alternate
        new: list[LoadedModule] = []
        raced: list[LoadedModule] = []          # loaded meanwhile (async): count a reference
        t = cpu_start_s if cpu_start_s is not None else max(
            [self.timer.clock.now_s] + [it.timing.media.end_s for it in items if it.timing])
        top_name = items[-1].module.name if items else None
        try:
            for it in items:
                existing = self.by_name(it.module.name)
                if existing is not None:
                    raced.append(existing)
                    continue
                self.timer.stamp_s = t
                try:
                    lm = self._link_one(it, lazy=lazy, at=at if it is items[-1] else None,
                                        alternate=alternate, record=record)
                finally:
                    self.timer.stamp_s = None
                new.append(lm)
                for need in it.needs:
                    dep = self.by_name(need)
                    if dep is not None and dep is not lm and dep.handle not in lm.deps:
                        lm.deps.append(dep.handle)
                timing = it.timing
                if timing is None:
                    continue
                eager = len(it.module.imports) - len(lm.lazy)
                cpu = self.cpu_model(it.module, eager_imports=eager, init_s=0.0,
                                     request=it.request)
                timing.cpu = cpu
                timing.handle, timing.region, timing.base = lm.handle, lm.region.name, lm.base
                timing.eager_imports, timing.lazy_imports = eager, len(lm.lazy)
                for phase, steps in (("copy", ("fixed", "copy", "zero")),
                                     ("relocate", ("relocate",)), ("bind", ("bind",))):
                    d = sum(cpu[s] for s in steps)
                    timing.phases.append((phase, t, t + d))
                    t += d
                lm.timing = timing
        except LoadError as exc:
            for lm in reversed(new):
                self._rollback(lm)
            record.status = exc.status.name
            record.message = str(exc)
            record.end_s = t
            raise
        # constructors, dependencies first
        entries = [(lm, fn) for lm in new for fn in self.init_functions(lm)]
        if new and run_init and not self.machine.running:
            for lm in new:
                count = 0
                for fn in self.init_functions(lm):
                    before = self.machine.instructions
                    try:
                        self.machine.call(fn)
                    except EmulationError as exc:
                        for x in reversed(new):
                            self._rollback(x)
                        record.status, record.end_s = "lsInitFailed", t
                        record.message = f"constructor of module '{lm.name}' failed"
                        raise LoadError(TLoadStatus.lsInitFailed,
                                        f"{lm.path}: constructor of module '{lm.name}' "
                                        f"failed:\n{exc}") from None
                    count += self.machine.instructions - before
                self._set_init(lm, count, modelled=modelled_init)
                if lm.timing is not None:
                    d = lm.timing.cpu["init"]
                    lm.timing.phases.append(("init", t, t + d))
                    t += d
        # references
        holders = Counter(h for lm in new for h in lm.deps)
        new_handles = {lm.handle for lm in new}
        for lm in new:
            lm.refcount = holders.get(lm.handle, 0) + (1 if hold_all or lm.name == top_name
                                                       else 0)
        for h, n in holders.items():
            if h not in new_handles and h in self.loaded:
                self.loaded[h].refcount += n          # a need already loaded: one per dependant
        for x in raced:
            x.refcount += 1 if hold_all or x.name == top_name else 0
        record.end_s = t
        if new and (not run_init or self.machine.running):
            for lm in new:
                if not self.init_functions(lm):
                    self._set_init(lm, 0, modelled=modelled_init)
            self.pending_init[new[-1].handle] = {"entries": entries, "record": record,
                                                 "mark": None, "t": t, "new": new,
                                                 "advance": advance_clock,
                                                 "modelled": modelled_init}
            if not entries:
                self._finish_init(new[-1].handle)
        if advance_clock:
            self.timer.clock.now_s = max(self.timer.clock.now_s, record.end_s)
        for lm in new:
            lm._saved = None
            self.events.append({"event": "load", "module": lm.name, "base": lm.base,
                                "size": lm.module.load_size, "region": lm.region.name})
        out = list(new)
        top = self.by_name(top_name) if top_name else None
        if top is not None and (not out or out[-1] is not top):
            out.append(top)
        return out

    def _set_init(self, lm: LoadedModule, instructions: int, *, modelled: bool) -> None:
        t = lm.timing
        if t is None:
            return
        t.init_instructions = instructions
        t.init_measured_s = self.timer.instructions_s(instructions)
        costs = self.timer.costs
        ctor_call = costs.seconds(costs.ctor_call * module_counts(lm.module)[1])
        t.cpu["init"] = ctor_call + (t.init_declared_s if modelled else t.init_measured_s)

    def _choose_region(self, it: _Item, *, at: int | None, alternate: bool
                       ) -> tuple[Region | None, list[LoadedModule]]:
        """Region for ``it`` and the occupants a load there evicts (safety checks done)."""
        if at is not None:
            r = self.allocator.region_at(at)
            if r is None:
                raise LoadError(TLoadStatus.lsOutOfMemory,
                                f"module '{it.module.name}': no memory region holds 0x{at:08x}")
            return r, []
        rname = it.region or self.placement.get(it.module.name)
        if rname is None:
            return None, []
        r = self.allocator.region(rname)           # ConfigError for an unknown name
        if not r.overlay:
            return r, []
        occupants = self._occupants(r)
        if occupants and r.pair and alternate:
            if any(self._busy(o) for o in occupants):
                p = self.allocator.region(r.pair)
                p_occ = self._occupants(p)
                if not any(self._busy(o) for o in p_occ):
                    self.events.append({"event": "double-buffer", "module": it.module.name,
                                        "region": p.name, "instead_of": r.name})
                    r, occupants = p, p_occ
        for o in occupants:
            refs = self.references(o)
            if refs:
                raise LoadError(TLoadStatus.lsModuleInUse, self._in_use_message(
                    f"loading '{it.module.name}' into region {r.name} (evicting "
                    f"'{o.name}')", o, refs))
        return r, occupants

    def _occupants(self, r: Region) -> list[LoadedModule]:
        return [lm for lm in self.loaded.values() if lm.region is r]

    def _lazy_names(self, module: Module) -> list[str]:
        """Imports bound at first call, in the module's import order: those only ever
        called (every site a ``jal``) and not weak.  (A ``jal`` is a call whatever the
        provider's symbol type says: the console-side runtime's symbol table has none.)"""
        kinds: dict[str, set] = {}
        for rel in module.relocations:
            if rel.is_import:
                kinds.setdefault(rel.symbol, set()).add(rel.type_name)
        return [name for name, imp in module.imports.items()
                if kinds.get(name) == {"R_MIPS_26"} and not imp.weak]

    def _ensure_stubs(self) -> StubArea:
        if self.stubs is None:
            self.stubs = StubArea(self.machine, resident=self.resident)
            if self.stubs.entry is not None:
                self.machine.breakpoint(self.stubs.entry, self._stub_entry)
        return self.stubs

    def _stub_entry(self, machine) -> None:
        """A call reached the console-side runtime's ``gvm_stub_entry`` through a stub of
        this loader's: what its trap would do (the runtime itself does not run)."""
        slot = machine.reg(RUNTIME_STUB_REGISTER[machine.profile.arch]) & 0xFF
        hit = self.stubs.at_slot(slot)
        if hit is None:
            machine.fault("a jump into the loader's stub area outside a stub")
            return
        stub, info = hit
        goto = lambda addr: machine.set_reg("pc", addr)          # noqa: E731
        if info["code"] == SYS_LAZY:
            self._lazy_bind(machine, stub, info, goto)
        else:
            self._stale_call(machine, stub, info, goto)

    def _link_one(self, it: _Item, *, lazy: bool, at: int | None, alternate: bool,
                  record: LoadRecord, into_free: bool = False) -> LoadedModule:
        module, path = it.module, it.path
        region, evict = self._choose_region(it, at=at, alternate=alternate)
        if evict:
            self._check_stubs_for(evict, module.name)
        for o in evict:
            self.evict(o, f"evicted by '{module.name}' (overlay region {region.name})")
        if evict and it.timing is not None:
            it.timing.evicted = tuple(o.name for o in evict)
        try:
            owner = module.name
            if at is not None:
                reg, block = region, region.alloc_at(at, module.load_size, owner,
                                                     into_free=into_free)
            else:
                reg, block = self.allocator.alloc(module.load_size, max(module.align, 4), owner,
                                                  region.name if region else None)
        except OutOfMemory as exc:
            raise LoadError(TLoadStatus.lsOutOfMemory, f"{path}: {exc}") from None
        base = block.start
        stubs: dict[str, int] = {}
        handle = self._next_handle
        if lazy:
            names = self._lazy_names(module)
            if names:
                area = self._ensure_stubs()
                try:
                    for n in names:
                        stubs[n] = area.alloc(SYS_LAZY, {"holder": module.name, "handle": handle,
                                                         "symbol": n})
                except LoadError:
                    for a in stubs.values():
                        area.free(a)
                    reg.free(block)
                    raise

        def resolve(n: str) -> int | None:
            return stubs[n] if n in stubs else self.resolve(n)

        failed = None
        try:
            image = relocate(module, base, resolve)
        except (UndefinedSymbolError, RelocationError, GameVMError) as exc:
            failed = LoadError(TLoadStatus.lsUndefinedSymbol if isinstance(
                exc, UndefinedSymbolError) else TLoadStatus.lsRelocationError, str(exc))
        # the console binds, and checks a format 1 module's fields, before it reads the
        # image; it checks the digest then, before it looks at a format 2 module's fields
        if self.trusted is not None and (failed is None or (
                failed.status == TLoadStatus.lsRelocationError and module.format != 1)):
            reason = self._untrusted(module.name, path)
            if reason:
                failed = LoadError(TLoadStatus.lsBadSignature, reason)
        if failed is not None:
            for a in stubs.values():
                self.stubs.free(a)
            reg.free(block)
            raise failed
        bindings = {n: resolve(n) or 0 for n in module.imports}
        lm = LoadedModule(handle, module.name, path, module, base, reg, block,
                          module_symbols(module, base), bindings, request=it.request)
        lm.lazy = dict(stubs)
        for n, addr in bindings.items():
            if n in stubs:
                continue
            p = self.module_at(addr)
            if p is not None:
                lm.providers.add(p.handle)
        lm._saved = self.machine.read(base, module.load_size)
        self.machine.unguard_range(base, module.load_size)     # reusing freed memory
        for g in self.graves:
            if g.base < base + module.load_size and base < g.end:
                g.memory_reused = True
        self.machine.write(base, bytes(image) + bytes(module.load_size - len(image)))
        lm.code_end = max((off + module.section_size(n) for n, (off, _) in module.sections.items()
                           if n in (".text", ".rodata")), default=0)
        lm.guards = [self.machine.guard(base, lm.code_end, "code", f"code of module '{module.name}'"),
                     self.machine.guard(base + lm.code_end, module.load_size - lm.code_end,
                                        "noexec", f"data of module '{module.name}'")]
        self.loaded[handle] = lm
        self._next_handle += 1
        self.timer.memory_event("alloc", module=lm.name, region=reg.name,
                                base=f"0x{base:08x}", size=module.load_size)
        return lm

    def _rollback(self, lm: LoadedModule) -> None:
        """Undo a load whose operation failed: as if it never happened."""
        self.loaded.pop(lm.handle, None)
        for token in lm.guards:
            self.machine.unguard(token)
        self.machine.write(lm.base, lm._saved)
        lm.region.free(lm.block)
        self._free_stubs(lm)
        self.pending_init.pop(lm.handle, None)
        self.timer.memory_event("free", module=lm.name, region=lm.region.name,
                                base=f"0x{lm.base:08x}", reason="load failed")

    # --- constructors and destructors --------------------------------------------------
    def _table(self, lm: LoadedModule, *tables: tuple[str, bool]) -> list[int]:
        out = []
        for table, reverse in tables:
            if table not in lm.module.init:
                continue
            off, count = lm.module.init[table]
            entries = [self.machine.read_u32(lm.base + off + 4 * i) for i in range(count)]
            out += [fn for fn in (reversed(entries) if reverse else entries)
                    if fn not in (0, 0xFFFFFFFF)]
        return out

    def init_functions(self, lm: LoadedModule) -> list[int]:
        """Constructors in run order: ``.init_array`` forward, then ``.ctors`` backward."""
        return self._table(lm, ("init_array", False), ("ctors", True))

    def fini_functions(self, lm: LoadedModule) -> list[int]:
        """Destructors in run order (as glibc): ``.fini_array`` backward, then ``.dtors``."""
        return self._table(lm, ("fini_array", True), ("dtors", False))

    def init_entry(self, handle: int, i: int) -> int:
        """The ``i``-th constructor still to run for the load that returned ``handle``.

        Target code asks for entry 0, 1, ... until 0 (``GVM__RUN_TABLE``); the
        instructions between two asks are the constructor's measured time.
        A handle whose constructors already ran (or never had any) gives 0.
        """
        p = self.pending_init.get(handle)
        if p is None:
            return 0
        now = self.machine.instructions
        entries = p["entries"]
        if p["mark"] is not None and 0 < i <= len(entries):
            lm = entries[i - 1][0]
            lm._init_count = getattr(lm, "_init_count", 0) + now - p["mark"]
        p["mark"] = now
        if i < len(entries):
            return entries[i][1]
        self._finish_init(handle)
        return 0

    def _finish_init(self, handle: int) -> None:
        p = self.pending_init.pop(handle, None)
        if p is None:
            return
        t = p["t"]
        for lm in p["new"]:
            if lm.timing is None:
                continue
            if self.init_functions(lm):
                self._set_init(lm, getattr(lm, "_init_count", 0), modelled=p["modelled"])
            d = lm.timing.cpu.get("init", 0.0)
            lm.timing.phases.append(("init", t, t + d))
            t += d
        p["record"].end_s = t
        if p["advance"]:
            self.timer.clock.now_s = max(self.timer.clock.now_s, t)

    def get_proc(self, handle: int, name: str) -> int:
        """Address of export ``name`` of the module ``handle`` (seed GetModuleProc)."""
        lm = self.handle(handle)
        if name not in lm.symbols:
            raise LoadError(TLoadStatus.lsSymbolNotFound,
                            f"module '{lm.name}' exports no symbol '{name}'")
        return lm.symbols[name]

    def handle(self, handle: int) -> LoadedModule:
        lm = self.loaded.get(handle)
        if lm is None:
            raise LoadError(TLoadStatus.lsInvalidHandle, f"no loaded module has handle {handle}")
        return lm

    # --- unloading --------------------------------------------------------------------
    def binders(self, lm: LoadedModule, *, excluding=()) -> list[LoadedModule]:
        """Loaded modules whose bindings point into ``lm``."""
        return [m for m in self.loaded.values()
                if m is not lm and lm.handle in m.providers and m.handle not in excluding]

    def unload_plan(self, handle: int) -> list[LoadedModule]:
        """The modules an unload of ``handle`` frees now, in order (checks nothing else)."""
        lm = self.handle(handle)
        if lm.refcount <= 0:
            holders = ", ".join(m.name for m in self.binders(lm)) or "nothing"
            raise LoadError(TLoadStatus.lsInvalidHandle,
                            f"module '{lm.name}' (handle {handle}) holds no reference any more "
                            f"(it stays loaded while {holders} binds to it)")
        counts = {h: m.refcount for h, m in self.loaded.items()}
        counts[handle] -= 1
        freed: list[LoadedModule] = []
        gone: set[int] = set()
        changed = True
        while changed:
            changed = False
            for m in sorted(self.loaded.values(), key=lambda x: -x.handle):
                if m.handle in gone or m.handle in self._going or counts[m.handle] > 0:
                    continue
                if self.binders(m, excluding=gone):
                    continue
                freed.append(m)
                gone.add(m.handle)
                for d in m.deps:
                    if d in counts:
                        counts[d] -= 1
                changed = True
        return freed

    def check_unload(self, plan: list[LoadedModule], what: str) -> None:
        for m in plan:
            refs = self.references(m)
            if refs:
                raise LoadError(TLoadStatus.lsModuleInUse, self._in_use_message(what, m, refs))

    def unload(self, handle: int, *, run_fini: bool = True) -> list[LoadedModule]:
        """Drop a reference to ``handle``; free what no longer has one (returns it).

        A module is freed at refcount 0 once no other module binds to it; its
        destructors run first (``run_fini``), then its memory is returned and
        poisoned, and the references it held to the modules it needs are
        dropped too.  In safe mode an unload that would free a module a live
        frame points into is refused (``lsModuleInUse``) and changes nothing.
        """
        lm = self.handle(handle)
        plan = self.unload_plan(handle)
        self.check_unload(plan, f"UnloadModule('{lm.name}')")
        lm.refcount -= 1
        self.events.append({"event": "unref", "module": lm.name, "refcount": lm.refcount})
        for m in plan:
            for d in m.deps:
                dm = self.loaded.get(d)
                if dm is not None and dm not in plan:
                    dm.refcount -= 1
        # a destructor may call the API (borrow its need: LoadModule, UnloadModule); what
        # this unload frees is not planned again by an unload made from there
        going = {m.handle for m in plan} - self._going
        self._going |= going
        try:
            for m in plan:
                if m.handle in self.loaded:
                    self._free(m, run_fini=run_fini, reason="unloaded")
        finally:
            self._going -= going
        return plan

    def evict(self, lm: LoadedModule, reason: str, *, run_fini: bool = True) -> None:
        """Free ``lm`` whatever its refcount (an overlay occupant being replaced)."""
        self._drop_needs(lm)
        self._free(lm, run_fini=run_fini, reason=reason, evicted=True)
        # what it held and nothing else holds goes too, newest first: a module freed here
        # drops its own needs' references as unload does, so a chain goes whole (a needs
        # module is loaded before what needs it, so one pass reaches it after its holder)
        for m in sorted(self.loaded.values(), key=lambda x: -x.handle):
            if m.refcount <= 0 and not self.binders(m) and m.handle in self.loaded \
                    and not self.references(m):
                self._drop_needs(m)
                self._free(m, run_fini=run_fini, reason=f"no longer needed after {reason}")

    def _drop_needs(self, lm: LoadedModule) -> None:
        """``lm`` is going: the modules it needs lose the reference it held."""
        for d in lm.deps:
            dm = self.loaded.get(d)
            if dm is not None:
                dm.refcount -= 1

    def _free(self, lm: LoadedModule, *, run_fini: bool, reason: str,
              evicted: bool = False) -> None:
        if run_fini and not self.machine.running:
            for fn in self.fini_functions(lm):
                self.machine.call(fn)
        elif run_fini and self.fini_functions(lm):
            self.events.append({"event": "fini-skipped", "module": lm.name,
                                "why": "evicted during a target-side load"})
        for token in lm.guards:
            self.machine.unguard(token)
        del self.loaded[lm.handle]
        self.pending_init.pop(lm.handle, None)
        self._bury(lm, f"unloaded module '{lm.name}'")
        lm.region.free(lm.block)
        self._free_stubs(lm)
        for m in list(self.loaded.values()):
            m.providers.discard(lm.handle)
            if self.policy.safe_mode:
                self._stub_bindings(m, lm)
        self.events.append({"event": "evict" if evicted else "unload", "module": lm.name,
                            "base": lm.base, "why": reason})
        self.timer.memory_event("evict" if evicted else "free", module=lm.name,
                                region=lm.region.name, base=f"0x{lm.base:08x}",
                                size=lm.module.load_size, reason=reason)

    def _check_stubs_for(self, evict, by: str) -> None:
        """Refuse (lsOutOfMemory, nothing changed) an eviction whose stale bindings need more
        stubs than the area has free plus what the evicted modules give back (the
        console-side runtime's ``stubs_for_eviction``)."""
        if not self.policy.safe_mode:
            return
        going = {o.handle for o in evict}
        need = 0
        for m in self.loaded.values():
            if m.handle in going:
                continue
            for name, addr in m.bindings.items():
                if name in m.lazy:
                    continue
                for o in evict:
                    exp = o.module.exports.get(name)
                    if o.contains(addr) and o.symbols.get(name) == addr and \
                            not (exp is not None and exp.kind == "object"):
                        need += 1
                        break
        if not need:
            return
        area = self._ensure_stubs()
        given_back = sum(1 for o in evict for name in o.module.imports
                         if o.lazy.get(name, o.stubbed.get(name, (None, None))[1]) is not None)
        if need > area.free_count() + given_back:
            raise LoadError(TLoadStatus.lsOutOfMemory,
                            f"loading '{by}' evicts {', '.join(o.name for o in evict)}, whose "
                            f"{need} bound function(s) need stale stubs: the loader's stub area "
                            f"({area.size} bytes) has {area.free_count() + given_back} free; "
                            "unload modules that bind into them first")

    def _free_stubs(self, lm: LoadedModule) -> None:
        """Return the stubs ``lm`` holds (lazy and stale), in its imports' order."""
        for name in lm.module.imports:
            stub = lm.lazy.get(name, lm.stubbed.get(name, (None, None))[1])
            if stub is not None and self.stubs is not None:
                self.stubs.free(stub)

    def _bury(self, lm: LoadedModule, what: str) -> None:
        """Remember what ``lm`` exported where (for reports of calls into it) and poison
        its memory as ``what``: executing or reading it now is a validation fault."""
        grave = _Grave(lm.name, lm.base, lm.end,
                       {addr: n for n, addr in lm.symbols.items() if lm.contains(addr)})
        self.graves = [g for g in self.graves if not (g.base < lm.end and lm.base < g.end)]
        self.graves.append(grave)
        self.machine.poison(lm.base, lm.module.load_size, what, self._describe_grave)

    def _describe_grave(self, addr: int) -> str | None:
        for g in reversed(self.graves):
            if g.base <= addr < g.end:
                sym = g.exports.get(addr)
                if sym:
                    return f"call to unloaded module '{g.name}' symbol '{sym}'"
                return f"call into unloaded module '{g.name}' (offset 0x{addr - g.base:x})"
        return None

    # --- stubs for bindings to freed modules ------------------------------------------
    def _patch_sites(self, m: LoadedModule, name: str, S: int, types=None) -> int:
        """Re-apply ``m``'s relocations against import ``name`` with value ``S``; count them."""
        order = m.module.endian
        n = 0
        for rel in m.module.relocations:
            if not rel.is_import or rel.symbol != name:
                continue
            if types is not None and rel.type_name not in types:
                continue
            recipe = self._arch.relocations[rel.type]
            P = m.base + rel.offset
            word = int.from_bytes(self.machine.read(P, recipe.size), order)
            try:
                new = recipe.apply(word, S, rel.addend, P)
            except RelocationOverflow:
                continue
            self.machine.write(P, new.to_bytes(recipe.size, order))
            n += 1
        return n

    def _stub_bindings(self, m: LoadedModule, gone: LoadedModule) -> None:
        """Point ``m``'s bindings into ``gone`` at stubs (seed §4.2 "Stubbing")."""
        for name, addr in list(m.bindings.items()):
            if name in m.lazy or not gone.contains(addr) or gone.symbols.get(name) != addr:
                continue
            exp = gone.module.exports.get(name)
            if exp is not None and exp.kind == "object":
                stub = self._ensure_stubs().data_address()
                self._stale_data[stub] = {"address": stub, "module": gone.name, "symbol": name}
            else:
                stub = self._ensure_stubs().alloc(SYS_STALE, {
                    "module": gone.name, "request": gone.request or gone.name, "symbol": name,
                    "holder": m.name, "handle": m.handle})
            sites = self._patch_sites(m, name, stub)
            m.bindings[name] = stub
            m.stubbed[name] = (gone.name, stub)
            self.events.append({"event": "stub", "module": m.name, "symbol": name,
                                "target": gone.name, "sites": sites, "stub": stub})

    # --- traps of loader-owned code -----------------------------------------------------
    def service(self, machine, code: int):
        """Trap handler for the loader's stubs and trampoline (see :class:`StubArea`)."""
        if code not in (SYS_LAZY, SYS_STALE, SYS_TRAMP_NEXT, SYS_TRAMP_RESUME) or self.stubs is None:
            return NotImplemented
        if code == SYS_TRAMP_NEXT:
            top = self._tramp[-1] if self._tramp else None
            fn = 0
            if top is not None and top["handle"] is not None:
                fn = self.init_entry(top["handle"], top["i"])
                top["i"] += 1
            machine.set_result(fn)
            return None
        if code == SYS_TRAMP_RESUME:
            top = self._tramp.pop() if self._tramp else None
            machine.set_result(top["target"] if top else 0)
            return None
        hit = self.stubs.at_trap(machine.trap_pc)
        if hit is None:
            machine.fault("a jump into the loader's stub area outside a stub")
            return None
        stub, info = hit
        if code == SYS_LAZY:
            return self._lazy_bind(machine, stub, info)
        return self._stale_call(machine, stub, info)

    def lazy_overhead_cycles(self, sites: int, name: str) -> float:
        """Modelled cycles of resolving the lazy import ``name``: the searches the runtime
        makes (the resident's table, then each loaded module's exports in load order until
        one has it, :meth:`resolve`) and patching its sites."""
        costs = self.timer.costs
        cycles = costs.bind_fixed + costs.bind_per_probe * search_probes(
            len(self.resident.symbols)) + costs.reloc("R_MIPS_26") * sites
        if name not in self.resident.symbols:
            for lm in self.loaded.values():
                cycles += costs.bind_per_module + costs.bind_per_probe * search_probes(
                    len(lm.module.exports))
                if name in lm.symbols:
                    break
        return cycles

    def _lazy_bind(self, machine, stub: int, info: dict, goto=None):
        goto = goto or machine.resume_at          # from a trap; a breakpoint sets the pc
        # an old copy of a reloaded module, kept while something points into it, binds
        # its own sites (dev/swap.py names it: the handle is the new copy's)
        m = info.get("copy") or self.loaded.get(info["handle"])
        name = info["symbol"]
        if m is None or m.lazy.get(name) != stub:
            machine.fault(f"lazy stub {info['holder']}->{name} called after its module was "
                          "unloaded")
            return None
        target = self.resolve(name)
        if target is None:
            machine.fault(f"lazy binding: module '{m.name}' calls '{name}', which neither the "
                          "resident nor any loaded module provides", "fetch", stub,
                          "undefined symbol at first call (imports bound lazily)")
            return None
        sites = self._patch_sites(m, name, target, types=("R_MIPS_26",))
        del m.lazy[name]
        self.stubs.free(stub)
        m.bindings[name] = target
        p = self.module_at(target)
        if p is not None:
            m.providers.add(p.handle)
        self.lazy_resolutions += 1
        resolver = self.lazy_overhead_cycles(sites, name)
        self.events.append({"event": "lazy-bind", "module": m.name, "symbol": name,
                            "address": target, "sites": sites, "resolver_cycles": resolver,
                            "t_ms": round(self.timer.clock.now_s * 1e3, 6)})
        self.timer.clock.advance(self.timer.costs.seconds(resolver))
        goto(target)
        return None

    def _stale_call(self, machine, stub: int, info: dict, goto=None):
        goto = goto or machine.resume_at
        what = f"call to unloaded module '{info['module']}' symbol '{info['symbol']}'"
        if self.policy.stale != "reload":
            machine.fault(what, None, None, f"through a binding of module '{info['holder']}', "
                                            f"stubbed when '{info['module']}' was freed")
            return None
        try:
            lm = self.load(info["request"], needs=True, run_init=False, kind="reload")
        except LoadError as exc:
            machine.fault(what, None, None, f"reloading it failed: {exc.status.name}: {exc}")
            return None
        self._rebind_stubbed(lm)
        target = lm.symbols.get(info["symbol"])
        if target is None:
            machine.fault(what, None, None, f"the reloaded module no longer exports it")
            return None
        self._tramp.append({"handle": lm.handle if lm.handle in self.pending_init else None,
                            "i": 0, "target": target})
        self.events.append({"event": "reload", "module": lm.name, "symbol": info["symbol"],
                            "holder": info["holder"]})
        goto(self.stubs.trampoline)
        return None

    def _rebind_stubbed(self, lm: LoadedModule) -> None:
        """Point every binding stubbed away from ``lm``'s name back at the loaded ``lm``."""
        for m in self.loaded.values():
            for name, (mod, stub) in list(m.stubbed.items()):
                if mod != lm.name or name not in lm.symbols:
                    continue
                self._patch_sites(m, name, lm.symbols[name])
                m.bindings[name] = lm.symbols[name]
                m.providers.add(lm.handle)
                del m.stubbed[name]
                if self.stubs.slots.get(stub):
                    self.stubs.free(stub)

    # --- dynamic import by name (seed §9.2) ---------------------------------------------
    def dispatch(self, name: str) -> str:
        """The reader name for a dynamic import of ``name`` (``gfx.vga`` -> ``gfx_vga``...).

        Tries the name as given, dots as underscores, dots as directories; the
        first a reader finds wins.  Raises ``LoadError(lsFileNotFound)``.
        """
        candidates = [name]
        if "." in name and not name.lower().endswith(".elf"):
            candidates += [name.replace(".", "_"), name.replace(".", "/")]
        misses = []
        for c in candidates:
            if self._loaded_for(c) is not None:
                return c
            try:
                self.reader.read(c)
                return c
            except (ModuleNotFound, OSError) as exc:
                misses.append(str(exc))
        raise LoadError(TLoadStatus.lsFileNotFound,
                        f"import '{name}': no module found (tried {', '.join(candidates)}): "
                        + misses[0])
