"""The emulated console: CPU and RAM, the resident kernel, the loader, and its traps.

:class:`Console` is what ``gamevm call``, ``gamevm run`` and ``env.GameVMValidate``
run: a :class:`~gamevm_build.emu.machine.Machine` with the resident loaded, a
:class:`~gamevm_build.runtime.reference.Loader` reading modules from search paths, a disc
image or a disc manifest, an :class:`~gamevm_build.runtime.asyncload.AsyncLoader` driven
by a frame loop on a simulated clock, and the service behind the target-side
API in ``gamevm.h`` (``LoadModule``, ``LoadModuleAsync``, ``GameVMFrame``,
``GameVMImport``, ``GetModuleProc``, ``UnloadModule``, ``GameVMPrint``).

With a project configuration (``config=``) the console takes the project's
memory map, module placement and needs, media model, drive state, disc
positions, declared constructor times and frame rate, so that what it
measures is comparable with the load-budget analysis (docs/runtime.md).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ..emu import stackwalk
from .debuglines import ConsoleLines

from ..runtime.allocator import Region
from ..runtime.asyncload import AsyncLoader
from ..emu.machine import Machine
from ..errors import ConfigError, EmulationError, EmulationFault
from ..runtime.reference import (SYS_LAZY, SYS_STALE, SYS_TRAMP_NEXT, SYS_TRAMP_RESUME, LoadError,
                     LoadedModule, Loader, LoaderPolicy, TLoadStatus, default_regions)
from ..runtime.loadtime import LoadTimer
from ..project.profile import load_profile
from ..runtime.readers import ChainReader, DirectoryReader, IsoReader, ManifestReader, MappingReader
from ..link.resident import read_resident

#: trap codes, as in gamevm.h (GVM_SYS_*)
(SYS_LOAD, SYS_UNLOAD, SYS_GETPROC, SYS_PRINT, SYS_INIT_ENTRY, SYS_FINI_ENTRY,
 SYS_UNLOAD_PREPARE, SYS_LOAD_ASYNC, SYS_FRAME, SYS_ASYNC_NEXT, SYS_IMPORT, SYS_LOAD_FLAGS,
 SYS_ASYNC_STATUS) = range(0x4700, 0x470D)
_TRAP_NAMES = {SYS_LOAD: "LoadModule", SYS_UNLOAD: "UnloadModule", SYS_GETPROC: "GetModuleProc",
               SYS_PRINT: "GameVMPrint", SYS_INIT_ENTRY: "LoadModule (constructors)",
               SYS_FINI_ENTRY: "UnloadModule (destructors)",
               SYS_UNLOAD_PREPARE: "UnloadModule", SYS_LOAD_ASYNC: "LoadModuleAsync",
               SYS_FRAME: "GameVMFrame", SYS_ASYNC_NEXT: "GameVMFrame (completions)",
               SYS_IMPORT: "GameVMImport", SYS_LOAD_FLAGS: "LoadModuleFlags",
               SYS_ASYNC_STATUS: "GameVMAsyncStatus"}
#: LoadModuleFlags / LoadModuleAsyncEx flags (gamevm.h GVM_LOAD_*)
LOAD_LAZY, LOAD_NOW = 1, 2


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
        out.append(Region(r.name, start, end - start, "overlay" if r.overlay else "heap",
                          pair=getattr(r, "pair", None)))
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
        The project's ``memoryMap`` (see :mod:`gamevm_build.project.config`).
    config : ProjectConfig or path, optional
        The project configuration: regions (unless ``regions`` is given),
        module placement and needs, media model, disc positions, ``init_ms``,
        frame rate.
    policy : LoaderPolicy, optional
        Safe mode, lazy binding, stale-call policy, double buffering.
    manifest : path, optional
        A disc manifest (name -> file, LBA) read after the other readers.
    module_files : dict, optional
        Module name -> file, tried before the search paths.
    loader : str, optional
        ``"target"``: load modules with the resident's console-side C runtime
        (:mod:`gamevm_build.runtime.target`); ``"host"``: with the host's reference
        loader; default: ``"target"`` when the resident contains the runtime.
    target_loader : class, optional
        The :class:`~gamevm_build.runtime.target.TargetLoader` (sub)class to drive the
        runtime with (scenarios record loads with
        :class:`~gamevm_build.play.target_trace.TracedTargetLoader`).
    """

    def __init__(self, target: str, resident, *, search_paths=(), disc=None, regions=None,
                 machine: Machine | None = None, config=None, policy: LoaderPolicy | None = None,
                 manifest=None, module_files=None, loader: str | None = None,
                 target_loader=None):
        self.profile = load_profile(target)
        self.machine = machine or Machine(self.profile)
        self.resident = read_resident(resident, self.profile)
        self.machine.load_elf(resident)
        for start, end in self.resident.code:
            # like module code: a module's wild store must not rewrite the resident
            self.machine.guard(start, end - start, "code", "code of the resident")
        if config is not None and not hasattr(config, "modules"):
            from ..project.config import load_config
            config = load_config(config)
        self.config = config
        readers = []
        if module_files:
            readers.append(MappingReader(module_files))
        if search_paths:
            readers.append(DirectoryReader(search_paths))
        iso = None
        if disc is not None:
            iso = IsoReader(disc)
            readers.append(iso)
        man = None
        if manifest is not None:
            man = ManifestReader(manifest, iso)
            readers.append(man)
        reader = ChainReader(*readers) if readers else DirectoryReader([Path(str(resident)).parent])
        if regions is None and config is not None:
            regions = config.regions
        alloc_regions = (regions_from_config(regions, self.resident, self.machine) if regions
                         else default_regions(self.machine, self.resident))
        positions, init_ms, placement, needs = {}, {}, {}, {}
        model, drive, fps = None, "paused", 60
        boot_head, span, reads = None, None, {}
        if config is not None:
            boot_head = getattr(config, "boot_head", None)
            span = getattr(config, "span", None)
            reads = getattr(config, "reads", None) or {}
            positions = dict(config.positions)
            init_ms = {n: s.init_ms for n, s in config.modules.items()}
            placement = {n: s.region for n, s in config.modules.items()}
            needs = {n: s.needs for n, s in config.modules.items() if s.needs}
            model, drive, fps = config.media, config.drive, config.frame_rate
        if man is not None:
            for n, lba in man.positions.items():
                positions.setdefault(n, lba)
            if boot_head is None:
                boot_head = man.boot_head
        timer = LoadTimer(self.profile, model, drive=drive, positions=positions,
                          init_ms=init_ms, frame_rate=fps, boot_head=boot_head, span=span,
                          reads=reads)
        from ..runtime.target import TargetLoader, has_target_runtime
        if loader not in (None, "host", "target"):
            raise ConfigError(f"unknown loader '{loader}': choose target or host")
        has_runtime = has_target_runtime(self.resident.symbols)
        if loader == "target" and not has_runtime:
            raise ConfigError(f"{resident}: --loader target needs a resident linked with the "
                              "console-side runtime ('gamevm resident --runtime target')")
        # a stale "reload" policy needs GameVMSetStale in the runtime: without it, the
        # default is the reference loader (as for scenarios); --loader target says why not
        reloads = policy is not None and policy.stale == "reload"
        self.loader_kind = loader or ("target" if has_runtime and (
            not reloads or "GameVMSetStale" in self.resident.symbols) else "host")
        # what the game's build registers with GameVMAddNeed (its project's modules, else
        # every module file found): the runtime walks it on every load, and the reference
        # loader's time model charges that walk, as the analyzer does
        from ..runtime.target import needs_table
        if config is not None:
            names = set(config.modules)
        else:
            names = {p.stem for d in (search_paths or ()) for p in sorted(Path(d).glob("*.elf"))}
        table = needs_table(reader, names, needs)
        #: the host's reference loader (the timing model; the loader itself in host mode)
        self.reference = Loader(self.machine, self.resident, reader, alloc_regions,
                                policy=policy, timer=timer, placement=placement,
                                extra_needs=needs, registered_needs=table)
        self.output: list[str] = []
        if self.loader_kind == "target":
            cls = target_loader or TargetLoader
            extra = {"lazy_names": self.reference._lazy_names} if target_loader else {}
            self.loader = cls(self.machine, reader, alloc_regions, resident=self.resident,
                              timer=timer, placement=placement, output=self.output,
                              extra_needs=table,
                              safe_mode=self.reference.policy.safe_mode,
                              stale_reload=self.reference.policy.stale == "reload", **extra)
            self.async_ = None
        else:
            self.loader = self.reference
            self.async_ = AsyncLoader(self)
            if has_runtime:
                self._bypass_target_runtime()
        self._trust_resident_table()
        self.trap_log: list[dict] = []
        self.machine.on_trap(self._service)
        # names gain file:line where a debug file lies beside a module or the resident
        self.lines = ConsoleLines(self)
        self.lines.install()

    def _trust_resident_table(self) -> None:
        """A resident that links a trust table (``gamevm sign --table``) hands it to
        GameVMTrust at boot; this console, which sets the runtime up itself, does the same
        for both loaders (docs/signing.md)."""
        from ..runtime.trust import TrustTableError, resident_table
        try:
            table = resident_table(self.machine, self.resident.symbols)
        except TrustTableError as exc:
            raise ConfigError(f"{self.resident.path}: {exc}") from None
        if table is None:
            return
        self.reference.trust(table)
        if self.loader is not self.reference:
            from ..runtime.reference import TLoadStatus
            status = self.loader.trust(table)
            if status != TLoadStatus.lsSuccess:
                raise ConfigError(f"{self.resident.path}: GameVMTrust refused the resident's "
                                  f"trust table ({status.name}); write it again with "
                                  "gamevm sign --table")

    def _bypass_target_runtime(self) -> None:
        """Send the resident's C runtime API to its host-trap twins (``gvm_host_*``), so
        target code's LoadModule reaches the reference loader this console runs."""
        from ..runtime.build import API, HOST_ONLY_API, HOST_PREFIX
        syms = self.resident.symbols
        for name in API + HOST_ONLY_API:
            twin = syms.get(HOST_PREFIX + name)
            if name in syms and twin is not None:
                self.machine.breakpoint(syms[name],
                                        lambda m, to=twin: m.set_reg("pc", to))

    @property
    def clock(self):
        return self.loader.timer.clock

    @property
    def timer(self) -> LoadTimer:
        return self.loader.timer

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

    def call(self, function: int | str, *args: int, max_instructions: int | None = None,
             max_seconds: float | None = None) -> int:
        """Call ``function`` on the emulated CPU; a fault's report gains a backtrace.

        The budget: ``max_instructions``, else ``max_seconds`` of console time (default
        :data:`gamevm_build.emu.machine.DEFAULT_SECONDS`)."""
        addr = self.symbol(function) if isinstance(function, str) else function
        kw = {"max_instructions": max_instructions, "max_seconds": max_seconds}
        try:
            return self.machine.call(addr, *args, **kw)
        except EmulationFault as exc:
            raise self.with_backtrace(exc) from None

    def with_backtrace(self, exc: EmulationFault) -> EmulationFault:
        """``exc`` with the frames of the faulting call, where the stack allows unwinding.

        The walk is :func:`gamevm_build.emu.stackwalk.walk` (DWARF CFI where a debug
        file has it, then prologue analysis, then a conservative scan). A bad fetch
        never ran its target, so the walk starts at ``ra`` with the bad address as
        frame #0.  Frames past #0 are return addresses: they name the line of the call.
        """
        report = exc.report
        if report is None or report.backtrace:
            return exc
        try:
            start = report.pc if report.access != "fetch" else report.ra
            frames, complete = stackwalk.walk(self.machine, self.loader.function_start,
                                              self.loader.is_code, pc=start,
                                              cfi=self.lines.frame_rule)
        except EmulationError:
            return exc
        found = [(f.pc, f.method) for f in frames]
        if report.access == "fetch" and report.pc is not None:
            found.insert(0, (report.pc, "pc"))
            if len(found) > 1:
                found[1] = (found[1][0], "link")
        found = found[:12]
        trace = tuple((a, self.lines.symbolize(a, caller=i > 0))
                      for i, (a, _m) in enumerate(found))
        report = dataclasses.replace(report, backtrace=trace, backtrace_complete=complete,
                                     backtrace_how=tuple(m for _a, m in found))
        return EmulationFault(f"emulated CPU fault: {report}", report)

    def load_async(self, name, **kw):
        """Start an asynchronous load (see :meth:`AsyncLoader.request`; on the console-side
        runtime :meth:`TargetLoader.load_async`, which takes ``callback``, ``kind`` and
        ``slice_ms``)."""
        if self.async_ is None:
            extra = sorted(set(kw) - {"callback", "kind", "slice_ms"})
            if extra:
                raise EmulationError(f"the console-side runtime's LoadModuleAsync takes no "
                                     f"{', '.join(extra)} (the host loader's model does: "
                                     "--loader host)")
            return self.loader.load_async(name, callback=kw.get("callback", 0),
                                          import_=kw.get("kind") == "import",
                                          slice_ms=kw.get("slice_ms"))
        return self.async_.request(name, **kw)

    def advance(self, frames: int = 1) -> list:
        """Run ``frames`` frames of the frame loop: async loads progress and complete.

        The clock first moves to the next frame boundary (a frame starts on a
        vblank).  Returns the async jobs completed, in order.
        """
        clock = self.clock
        clock.snap()
        done = []
        if self.async_ is None:                  # the console-side runtime's frame loop
            for _ in range(frames):
                k = clock.frame
                done += self.loader.frame()
                clock.now_s = max(clock.now_s, clock.frame_start(k + 1))
                clock.snap()
            return done
        for _ in range(frames):
            k = clock.frame
            # a job completes in the frame of its last slice, when that slice ends
            for job in self.async_.tick(k):
                if job.slices:
                    clock.now_s = max(clock.now_s, job.slices[-1][2])
                self.async_.finish(job, k)
                done.append(job)
            clock.now_s = max(clock.now_s, clock.frame_start(k + 1))
        return done

    def wait(self, *, max_frames: int = 100_000) -> int:
        """Advance until no async load is pending; return the frames it took."""
        n = 0
        pending = (lambda: self.loader.pending) if self.async_ is None else \
            (lambda: self.async_.jobs)
        while pending() and n < max_frames:
            self.advance(1)
            n += 1
        if pending():
            raise EmulationError(f"async loads still pending after {max_frames} frames")
        return n

    # --- trap service (gamevm.h) -----------------------------------------------------
    def _service(self, machine, kind: str, code: int):
        if kind != "syscall":
            return NotImplemented
        if code in (SYS_LAZY, SYS_STALE, SYS_TRAMP_NEXT, SYS_TRAMP_RESUME):
            return self.loader.service(machine, code)
        if not SYS_LOAD <= code <= SYS_ASYNC_STATUS:
            return NotImplemented
        if self.loader_kind == "target" and code != SYS_PRINT:
            machine.fault(f"{_TRAP_NAMES[code]}: a trap to the host loader on a console whose "
                          "resident has the console-side runtime",
                          detail="code compiled against an older gamevm.h calls the loader "
                                 "through traps; rebuild it (gamevm.h's API is the resident's)")
            return None
        a0, a1, a2 = machine.trap_args(3)
        result = 0
        call = _TRAP_NAMES[code]

        def string(addr: int, arg: str) -> str | None:
            try:
                return machine.read_cstring(addr).decode("utf-8", "replace")
            except EmulationError:
                machine.fault(f"bad {arg} pointer passed to {call}", "read", addr,
                              "expected a NUL-terminated string in RAM")
                return None

        def lazy_flag(flags: int) -> bool | None:
            return True if flags & LOAD_LAZY else (False if flags & LOAD_NOW else None)

        loader = self.loader
        if code in (SYS_LOAD, SYS_LOAD_FLAGS):
            name = string(a0, "name")
            if name is None:
                return None
            try:
                lm = loader.load(name, run_init=False, needs=True,
                                 lazy=lazy_flag(a2) if code == SYS_LOAD_FLAGS else None)
                status, result = TLoadStatus.lsSuccess, lm.handle
            except LoadError as exc:
                status, result = exc.status, 0
                self.output.append(f"[loader] {call}(\"{name}\"): {exc.status.name}: {exc}")
            if a1:
                machine.write_u32(a1, int(status))
            self.trap_log.append({"call": call, "name": name, "status": status.name})
        elif code == SYS_UNLOAD_PREPARE:
            result = self._prepare_unload(a0)
        elif code == SYS_UNLOAD:
            p = loader.prepared.pop(a0, None)
            if p is not None and p.get("refused") is not None:
                result = p["refused"]
            else:
                try:
                    loader.unload(a0, run_fini=False)
                    result = TLoadStatus.lsSuccess
                except LoadError as exc:
                    result = exc.status
                    if exc.status == TLoadStatus.lsModuleInUse:
                        self.output.append(f"[loader] UnloadModule: {exc.status.name}: {exc}")
        elif code == SYS_GETPROC:
            name = string(a1, "name")
            if name is None:
                return None
            try:
                result = loader.get_proc(a0, name)
            except LoadError:
                result = 0
        elif code == SYS_PRINT:
            text = string(a0, "text")
            if text is None:
                return None
            self.output.append(text)
        elif code == SYS_INIT_ENTRY:
            result = loader.init_entry(a0, a1)
        elif code == SYS_FINI_ENTRY:
            if a0 not in loader.prepared and a1 == 0:
                self._prepare_unload(a0, quiet=True)
            p = loader.prepared.get(a0)
            fini = p.get("fini", []) if p else []
            result = fini[a1] if a1 < len(fini) else 0
        elif code in (SYS_LOAD_ASYNC, SYS_IMPORT):
            name = string(a0, "name")
            if name is None:
                return None
            job = self.async_.request(name, callback=a1, from_target=True,
                                      kind="import" if code == SYS_IMPORT else "load_async",
                                      lazy=lazy_flag(a2) if code == SYS_LOAD_ASYNC else None)
            if job.state == "failed":
                self.output.append(f"[loader] {call}(\"{name}\"): {job.status.name}: {job.error}")
            result = job.id
        elif code == SYS_FRAME:
            self.advance(1)
            result = len(self.async_.ready)
        elif code == SYS_ASYNC_NEXT:
            result = 0
            if self.async_.ready:
                job = self.async_.ready.popleft()
                if a0:
                    for i, v in enumerate((job.handle, int(job.status), job.callback, job.id)):
                        machine.write_u32(a0 + 4 * i, v)
                result = 1
        elif code == SYS_ASYNC_STATUS:
            result = int(self.async_.status(a0))
        machine.set_result(int(result))
        return None

    def _prepare_unload(self, handle: int, *, quiet: bool = False) -> int:
        loader = self.loader
        try:
            lm = loader.handle(handle)
            plan = loader.unload_plan(handle)
            loader.check_unload(plan, f"UnloadModule('{lm.name}')")
        except LoadError as exc:
            if handle in loader.loaded:
                loader.prepared[handle] = {"refused": exc.status}
            if exc.status == TLoadStatus.lsModuleInUse:
                self.output.append(f"[loader] UnloadModule: {exc.status.name}: {exc}")
            return int(exc.status)
        loader.prepared[handle] = {"plan": plan, "refused": None,
                                   "fini": [fn for m in plan for fn in loader.fini_functions(m)]}
        return int(TLoadStatus.lsSuccess)
