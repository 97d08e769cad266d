"""The emulated console: CPU and RAM, the resident kernel, the loader, and its traps.

:class:`Console` is what ``gamevm call`` and ``env.GameVMValidate`` run: a
:class:`~gamevm_build.emu.machine.Machine` with the resident loaded, a
:class:`~gamevm_build.loader.Loader` reading modules from search paths or a
disc image, and the service behind the target-side API in ``gamevm.h``
(``LoadModule``, ``GetModuleProc``, ``UnloadModule``, ``GameVMPrint``).
"""

from __future__ import annotations

from pathlib import Path

from .allocator import Region
from .emu.machine import Machine
from .errors import ConfigError, EmulationError
from .loader import LoadError, LoadedModule, Loader, TLoadStatus, default_regions
from .profile import load_profile
from .readers import ChainReader, DirectoryReader, IsoReader
from .resident import read_resident

#: trap codes, as in gamevm.h (GVM_SYS_*)
SYS_LOAD, SYS_UNLOAD, SYS_GETPROC, SYS_PRINT, SYS_INIT_ENTRY, SYS_FINI_ENTRY = range(0x4700, 0x4706)
_TRAP_NAMES = {SYS_LOAD: "LoadModule", SYS_UNLOAD: "UnloadModule", SYS_GETPROC: "GetModuleProc",
               SYS_PRINT: "GameVMPrint", SYS_INIT_ENTRY: "LoadModule (constructors)",
               SYS_FINI_ENTRY: "UnloadModule (destructors)"}


def regions_from_config(config_regions, resident, machine) -> list[Region]:
    """Allocator regions from the project's ``memoryMap`` regions.

    The part of a region the resident occupies, its ``reserved`` tail, and
    the emulator's stack and scratch area are not given to modules.
    """
    out = []
    guard_start = machine.scratch_base
    for r in config_regions:
        start, end = r.start, r.start + r.capacity
        if resident.end > start and min(v for v, *_ in resident.segments) < end:
            start = max(start, -(-resident.end // 16) * 16)
        end = min(end, guard_start) if start < guard_start else end
        if end <= start:
            continue
        out.append(Region(r.name, start, end - start, "overlay" if r.overlay else "heap"))
    if not out:
        raise ConfigError("memoryMap.regions: no region has room for modules once the resident "
                          f"({resident.path}, ends 0x{resident.end:08x}) and the stack are placed")
    return out


class Console:
    """An emulated console with a resident kernel and a module loader.

    Parameters
    ----------
    target : str
    resident : path
        The resident ELF (any statically linked target executable).
    search_paths : list of path
        Directories to read modules from (``<name>.elf``).
    disc : path, optional
        An ISO 9660 image to read modules from (after the search paths).
    regions : list of MemoryRegion, optional
        The project's ``memoryMap`` (see :mod:`gamevm_build.config`).
    """

    def __init__(self, target: str, resident, *, search_paths=(), disc=None, regions=None,
                 machine: Machine | None = None):
        self.profile = load_profile(target)
        self.machine = machine or Machine(self.profile)
        self.resident = read_resident(resident, self.profile)
        self.machine.load_elf(resident)
        readers = []
        if search_paths:
            readers.append(DirectoryReader(search_paths))
        if disc is not None:
            readers.append(IsoReader(disc))
        reader = ChainReader(*readers) if readers else DirectoryReader([Path(str(resident)).parent])
        alloc_regions = (regions_from_config(regions, self.resident, self.machine) if regions
                         else default_regions(self.machine, self.resident))
        self.loader = Loader(self.machine, self.resident, reader, alloc_regions)
        self.output: list[str] = []
        self.trap_log: list[dict] = []
        self.machine.on_trap(self._service)

    # --- host-side API ------------------------------------------------------------
    def load(self, name: str, **kw) -> LoadedModule:
        return self.loader.load(name, **kw)

    def symbol(self, name: str) -> int:
        """Address of ``name`` (``module:symbol`` or a global: resident first, then modules)."""
        if ":" in name:
            mod, _, sym = name.partition(":")
            lm = self.loader.by_name(mod)
            if lm is None:
                raise EmulationError(f"no module '{mod}' is loaded")
            if sym not in lm.symbols:
                raise EmulationError(f"module '{mod}' exports no symbol '{sym}'")
            return lm.symbols[sym]
        addr = self.loader.resolve(name)
        if addr is None:
            raise EmulationError(f"no symbol '{name}' in the resident or any loaded module")
        return addr

    def call(self, function: int | str, *args: int, max_instructions: int | None = None) -> int:
        addr = self.symbol(function) if isinstance(function, str) else function
        kw = {} if max_instructions is None else {"max_instructions": max_instructions}
        return self.machine.call(addr, *args, **kw)

    # --- trap service (gamevm.h) -----------------------------------------------------
    def _service(self, machine, kind: str, code: int):
        if kind != "syscall" or not SYS_LOAD <= code <= SYS_FINI_ENTRY:
            return NotImplemented
        a0, a1 = machine.reg("a0"), machine.reg("a1")
        result = 0
        call = _TRAP_NAMES[code]

        def string(addr: int, arg: str) -> str | None:
            try:
                return machine.read_cstring(addr).decode("utf-8", "replace")
            except EmulationError:
                machine.fault(f"bad {arg} pointer passed to {call}", "read", addr,
                              "expected a NUL-terminated string in RAM")
                return None

        if code == SYS_LOAD:
            name = string(a0, "name")
            if name is None:
                return None
            try:
                lm = self.loader.load(name, run_init=False)
                status, result = TLoadStatus.lsSuccess, lm.handle
            except LoadError as exc:
                status, result = exc.status, 0
                self.output.append(f"[loader] LoadModule(\"{name}\"): {exc.status.name}: {exc}")
            if a1:
                machine.write_u32(a1, int(status))
            self.trap_log.append({"call": "LoadModule", "name": name, "status": status.name})
        elif code == SYS_UNLOAD:
            try:
                self.loader.unload(a0, run_fini=False)
                result = TLoadStatus.lsSuccess
            except LoadError as exc:
                result = exc.status
        elif code == SYS_GETPROC:
            name = string(a1, "name")
            if name is None:
                return None
            try:
                result = self.loader.get_proc(a0, name)
            except LoadError:
                result = 0
        elif code == SYS_PRINT:
            text = string(a0, "text")
            if text is None:
                return None
            self.output.append(text)
        elif code in (SYS_INIT_ENTRY, SYS_FINI_ENTRY):
            lm = self.loader.loaded.get(a0)
            if lm is not None:
                table = (self.loader.init_functions(lm) if code == SYS_INIT_ENTRY
                         else self.loader.fini_functions(lm))
                result = table[a1] if a1 < len(table) else 0
        machine.set_reg("v0", int(result))
        return None
