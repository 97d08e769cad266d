"""The runtime loader, run by the host against an emulated console's RAM.

It does what the target loader does (seed §3.1), in the same order:

1. **I/O**: read the module's bytes through a reader (directory, disc image);
2. **validate** the header, target, format version and every index and offset
   (:func:`gamevm_build.module.read_module`) before touching memory;
3. **allocate** a block from a stack/region allocator (seed §8);
4. **relocate and bind** in host memory with the one relocation implementation
   (:func:`gamevm_build.prelink.relocate`), against the resident's global
   symbol table, then modules already loaded with global scope, in load order;
5. **copy** the image into emulated RAM and run the constructors
   (``.init_array`` in order, then ``.ctors`` in reverse).

Any failure before step 5 leaves no trace: the block is returned and nothing
is bound or written.  A constructor that faults unwinds the load the same way.
Results use the seed's ``TLoadStatus`` (extended; see :class:`TLoadStatus`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from .allocator import Allocator, Block, OutOfMemory, Region
from .errors import (EmulationError, GameVMError, InputError, ModuleFormatError,
                     RelocationError, UndefinedSymbolError)
from .module import Module, read_module
from .prelink import module_symbols, relocate
from .readers import ModuleNotFound


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


class LoadError(GameVMError):
    """A load or unload failed; ``status`` is the :class:`TLoadStatus`."""

    exit_status = 1

    def __init__(self, status: TLoadStatus, message: str):
        super().__init__(message)
        self.status = status


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

    @property
    def end(self) -> int:
        return self.base + self.module.image_size

    def contains(self, addr: int) -> bool:
        return self.base <= addr < self.end

    def symbolize(self, addr: int) -> str:
        name = self.module.symbolize(addr - self.base)
        return f"{self.name}:{name}" if name else f"{self.name}+0x{addr - self.base:x}"


def default_regions(machine, resident) -> list[Region]:
    """Module memory when no memoryMap is given: RAM after the resident up to the stack.

    The top of main RAM is kept for the stack (and the machine's scratch area
    below it): 64 KiB, or what the machine reserves if that is more.
    """
    ram = machine.profile.main_ram
    start = -(-max(resident.end, ram.start) // 16) * 16
    reserve = max(0x10000, ram.end - getattr(machine, "scratch_base", ram.end))
    end = ram.end - reserve
    return [Region("heap", start, max(end - start, 0), "heap")]


class Loader:
    """Load, bind and unload modules in an emulated console.

    Parameters
    ----------
    machine : gamevm_build.emu.machine.Machine
        The emulated console, with the resident already loaded.
    resident : gamevm_build.resident.Resident
        Its global symbol table is what modules bind against first.
    reader : reader
        Where module files come from (:mod:`gamevm_build.readers`).
    regions : list of Region, optional
        Memory for modules (from the project's memoryMap); default: RAM after
        the resident, below the stack.
    """

    def __init__(self, machine, resident, reader, regions: list[Region] | None = None):
        self.machine = machine
        self.resident = resident
        self.reader = reader
        self.allocator = Allocator(regions or default_regions(machine, resident))
        self.loaded: dict[int, LoadedModule] = {}
        self._next_handle = 1
        self.events: list[dict] = []
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
            return previous(addr) if previous else None
        return symbolize

    # --- loading --------------------------------------------------------------------
    def load(self, name: str, *, region: str | None = None, run_init: bool = True) -> LoadedModule:
        """Load module ``name``; raise :class:`LoadError` with a status on failure.

        ``run_init=False`` leaves the constructors to the caller (the target-side
        ``LoadModule`` runs them on the emulated CPU, see :meth:`init_functions`).
        """
        try:
            path, data = self.reader.read(name)
        except ModuleNotFound as exc:
            raise LoadError(TLoadStatus.lsFileNotFound, str(exc)) from None
        except OSError as exc:
            raise LoadError(TLoadStatus.lsFileNotFound, f"module '{name}': {exc}") from None
        try:
            module = read_module(data, name=path)
        except ModuleFormatError as exc:
            raise LoadError(TLoadStatus.lsBadFormat, str(exc)) from None
        if module.target != self.machine.profile.name:
            raise LoadError(TLoadStatus.lsIncompatibleTarget,
                            f"{path}: module '{module.name}' is built for target {module.target}, "
                            f"but this console is {self.machine.profile.name}; rebuild it with "
                            f"-t {self.machine.profile.name}")
        if module.image_size > 0x7FFFFFFF:
            raise LoadError(TLoadStatus.lsBadFormat, f"{path}: image size is implausible")
        try:
            owner = module.name
            reg, block = self.allocator.alloc(module.image_size, max(module.align, 4), owner,
                                              region)
        except OutOfMemory as exc:
            raise LoadError(TLoadStatus.lsOutOfMemory, f"{path}: {exc}") from None
        # an unknown region name is a ConfigError: the caller's mistake, not a load status
        base = block.start
        try:
            image = relocate(module, base, self.resolve)
        except UndefinedSymbolError as exc:
            reg.free(block)
            raise LoadError(TLoadStatus.lsUndefinedSymbol, str(exc)) from None
        except RelocationError as exc:
            reg.free(block)
            raise LoadError(TLoadStatus.lsRelocationError, str(exc)) from None
        except GameVMError as exc:  # e.g. a base the module's alignment forbids
            reg.free(block)
            raise LoadError(TLoadStatus.lsRelocationError, str(exc)) from None
        bindings = {n: self.resolve(n) or 0 for n in module.imports}
        lm = LoadedModule(self._next_handle, module.name, path, module, base, reg, block,
                          module_symbols(module, base), bindings)
        saved = self.machine.read(base, module.image_size)
        self.machine.unguard_range(base, module.image_size)     # reusing freed memory
        self.machine.write(base, bytes(image))
        code_end = max((off + module.section_size(n) for n, (off, _) in module.sections.items()
                        if n in (".text", ".rodata")), default=0)
        lm.guards = [self.machine.guard(base, code_end, "code", f"code of module '{module.name}'"),
                     self.machine.guard(base + code_end, module.image_size - code_end, "noexec",
                                        f"data of module '{module.name}'")]
        self.loaded[lm.handle] = lm
        self._next_handle += 1
        try:
            if run_init:
                for fn in self.init_functions(lm):
                    self.machine.call(fn)
        except EmulationError as exc:
            del self.loaded[lm.handle]
            for token in lm.guards:
                self.machine.unguard(token)
            self.machine.write(base, saved)
            reg.free(block)
            raise LoadError(TLoadStatus.lsInitFailed,
                            f"{path}: constructor of module '{module.name}' failed:\n{exc}") from None
        self.events.append({"event": "load", "module": lm.name, "base": base,
                            "size": module.image_size, "region": reg.name})
        return lm

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

    def get_proc(self, handle: int, name: str) -> int:
        """Address of export ``name`` of the module ``handle`` (seed GetModuleProc)."""
        lm = self.loaded.get(handle)
        if lm is None:
            raise LoadError(TLoadStatus.lsInvalidHandle, f"no loaded module has handle {handle}")
        if name not in lm.symbols:
            raise LoadError(TLoadStatus.lsSymbolNotFound,
                            f"module '{lm.name}' exports no symbol '{name}'")
        return lm.symbols[name]

    def handle(self, handle: int) -> LoadedModule:
        lm = self.loaded.get(handle)
        if lm is None:
            raise LoadError(TLoadStatus.lsInvalidHandle, f"no loaded module has handle {handle}")
        return lm

    def unload(self, handle: int, *, run_fini: bool = True) -> None:
        """Run destructors, return the memory, and poison it so stale calls fault."""
        lm = self.handle(handle)
        if run_fini:
            for fn in self.fini_functions(lm):
                self.machine.call(fn)
        for token in lm.guards:
            self.machine.unguard(token)
        del self.loaded[handle]
        self.machine.poison(lm.base, lm.module.image_size, f"unloaded module '{lm.name}'")
        lm.region.free(lm.block)
        self.events.append({"event": "unload", "module": lm.name, "base": lm.base})


def status_of(exc: Exception) -> TLoadStatus:
    """The TLoadStatus for an exception raised while loading."""
    if isinstance(exc, LoadError):
        return exc.status
    if isinstance(exc, ModuleFormatError):
        return TLoadStatus.lsBadFormat
    if isinstance(exc, InputError):
        return TLoadStatus.lsFileNotFound
    return TLoadStatus.lsBadFormat
