"""The console-side C runtime, running on the emulated console.

A resident linked with ``--runtime target`` carries the GameVM loader in C
(:mod:`gamevm_build.runtime.build`, docs/runtime-c.md).  :class:`TargetLoader`
sets it up the way a game's kernel does (``GameVMInit`` with a reader, a work
area and a pool, then ``GameVMAddRegion`` per region) and calls its API on the
emulated CPU.  The emulated console supplies what hardware would:

* a **media device** behind ``GameVMEmulatorReader``'s three traps, serving the
  same files the host's reference loader reads (directories, disc image);
* the **instruction cache** rule of consoles that have one (``code_sync`` in the
  profile): code the loader wrote is not executable until ``GameVMSyncCode``
  covered it, else "stale instruction cache";
* the same **memory protection** the reference loader sets up: module code is
  read+execute, module data and freed memory are not executable.

It follows the runtime through breakpoints on ``gvm_debug_event`` (the hook a
debugger uses too) and ``GameVMSyncCode``, so it needs nothing from the runtime
that a shipped game would not have.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import EmulationError, GameVMError, InputError
from .reference import LoadError, TLoadStatus
from .readers import ModuleNotFound

MASK32 = 0xFFFFFFFF
#: gamevm.h GVM_SYS_MEDIA_*
SYS_MEDIA_OPEN, SYS_MEDIA_READ, SYS_MEDIA_CLOSE = 0x4720, 0x4721, 0x4722
SYS_MEDIA_START, SYS_MEDIA_POLL, SYS_CLOCK = 0x4723, 0x4724, 0x4725
#: gvm_int.h GVM_EV_*
EV_WRITING, EV_LOADED, EV_FREED, EV_FAILED = 1, 2, 3, 4
EV_PATCHING, EV_STALE, EV_UNBOUND, EV_RELOAD_FAILED = 5, 6, 7, 8
#: the words of a gvm_event each kind names (gvm_int.h); the others are 0, so that a
#: debugger's script can print an event whole
EVENT_WORDS = {EV_WRITING: ("base", "size"), EV_LOADED: ("base", "size", "code_size"),
               EV_FREED: ("base", "size", "code_size"), EV_FAILED: ("base",),
               EV_PATCHING: ("base", "size"), EV_STALE: ("base", "size", "code_size"),
               EV_UNBOUND: ("base", "size"), EV_RELOAD_FAILED: ("base", "size", "code_size")}
EVENT_CONTRACT = "a gvm_event's words its kind does not name are 0, gvm_int.h"
#: gamevm_runtime.h GVM_STALE_*
STALE_FAULT, STALE_RELOAD = 0, 1
#: gamevm.h GVM_LOAD_LAZY
LOAD_LAZY = 1
#: TGameVMReader's contract, which the emulated media device holds the runtime to (a
#: console's reader has few handles)
CLOSE_CONTRACT = "the reader's close is due once per open, docs/runtime-c.md"
#: what the emulated game gives the runtime (docs/runtime-c.md "Memory it needs")
WORK_SIZE = 0x3000
POOL_SIZE = 0x1000
#: a development build's pool (the reload API keeps every module's imports there)
DEV_POOL_SIZE = 0x2000
#: GameVMAddRegion flags
REGION_HEAP, REGION_OVERLAY = 0, 1
#: where a handle's module record (gvm_loader.c module_t, which checks both offsets and
#: its size when it compiles; :meth:`TargetLoader.record`) keeps its load number (0: a
#: free slot), the base and the reference count
HANDLE_SEQ_OFFSET = 0
HANDLE_BASE_OFFSET = 8
HANDLE_REFCOUNT_OFFSET = 20
#: the records are an array the runtime's ``gvm_records`` points to; a handle's low bits
#: are its slot there, the others the load that took it (gvm_loader.c HANDLE)
RECORD_SIZE = 92
SLOT_BITS = 5


def has_target_runtime(symbols) -> bool:
    """Whether a resident's symbols include the C runtime."""
    return "GameVMInit" in symbols and "gvm_debug_event" in symbols


def measure_load(target: str, resident, directory, name: str) -> tuple[int, float, object]:
    """Load module ``name`` (a name or a path under ``directory``) from ``directory`` with
    the resident's runtime on a fresh emulated console, its needs first: the instructions
    that one load executed, what the model charges for its CPU time (cycles), and the
    module.

    The load executes the module's constructors, whose own bodies are the module's work:
    the analyzer charges them as the configuration's ``init_ms`` (and checks a trace
    against what the emulated console measured), so here they are charged as what each
    takes when called again, after the load, on the same console."""
    from ..play.console import Console
    from .loadtime import cpu_steps
    from ..link.module import read_module
    from .readers import DirectoryReader

    c = Console(target, resident, search_paths=[directory], loader="target")
    path, data = DirectoryReader([directory]).read(name)
    mod = read_module(data, name=path)
    for need in mod.needs:
        c.load(need)
    co_resident = [(t.name, t.module.exports) for t in c.loader.loaded.values()]
    before = c.machine.instructions
    c.loader.load_module(name)
    executed = c.machine.instructions - before
    costs = c.loader.timer.costs
    init_s = costs.seconds(_constructors_own(c, mod))
    charged = sum(cpu_steps(costs, mod, symbols=len(c.resident.symbols),
                            eager_imports=len(mod.imports), init_s=init_s,
                            resident=c.resident.symbols, co_resident=co_resident,
                            registered=c.loader.needs_table, request=name).values()
                  ) * costs.clock_hz
    return executed, charged, mod


def _constructors_own(console, mod) -> int:
    """Instructions the constructors of ``mod``, loaded on ``console``, take when called
    (their table entries as the runtime relocated them; bit 0 chooses Thumb on ARM)."""
    loaded = next((t for t in console.loader.loaded.values() if t.name == mod.name), None)
    if loaded is None:
        return 0
    m, spent = console.machine, 0
    for table in ("init_array", "ctors"):
        off, count = mod.init.get(table, (0, 0))
        for i in range(count):
            fn = m.read_u32(loaded.base + off + 4 * i)
            if fn not in (0, MASK32):            # .ctors' end markers
                before = m.instructions
                m.call(fn)
                spent += m.instructions - before
    return spent


def needs_table(reader, names, extra_needs=None) -> dict[str, list[str]]:
    """What a game's build registers with ``GameVMAddNeed``: for each module of ``names``
    (and of ``extra_needs``), its file's needs, then the project's (``extra_needs``: the
    configuration's ``modules.NAME.needs``), the reference loader's order.  The runtime
    loads registered needs before it opens a module's file, so files are read in the
    order the analyzer plans (needs first) instead of the module's headers first."""
    from ..link.module import read_module
    extra_needs = extra_needs or {}
    table: dict[str, list[str]] = {}
    for name in sorted(set(names) | set(extra_needs)):
        try:
            path, data = reader.read(name)
            mod = read_module(data, name=path)
        except (ModuleNotFound, OSError, GameVMError):
            own, key = [], name
        else:
            own, key = list(mod.needs), mod.name
        merged = own + [n for n in extra_needs.get(name, ()) if n not in own]
        if merged:
            table[key] = merged
    return table


def entry_args(machine, n: int) -> list[int]:
    """The first ``n`` word arguments of a function at its first instruction."""
    arch = machine.profile.arch
    if arch == "mips":
        return [machine.reg(f"a{i}") for i in range(n)]
    if arch == "arm":
        return [machine.reg(f"r{i}") for i in range(n)]
    sp = machine.reg("sp")                       # 68000: return address, then the arguments
    return [machine.read_u32(sp + 4 + 4 * i) for i in range(n)]


def return_now(machine) -> None:
    """Leave the function at whose first instruction the CPU stands, as its return would."""
    arch = machine.profile.arch
    if arch == "mips":
        machine.set_reg("pc", machine.reg("ra"))
    elif arch == "arm":
        machine.set_reg("pc", machine.reg("lr"))
    else:
        sp = machine.reg("sp")
        machine.set_reg("sp", sp + 4)
        machine.set_reg("pc", machine.read_u32(sp))


@dataclass
class TargetModule:
    """A module the C runtime reported loaded (what :class:`~gamevm_build.runtime.reference.LoadedModule`
    offers to reports and calls: name, base, symbols, handle)."""

    name: str
    base: int
    size: int
    code_size: int
    module: object | None = None                 #: gamevm_build.link.module.Module, for symbols
    guards: list = field(default_factory=list)
    handle: int = 0
    symbols: dict = field(default_factory=dict)
    path: str = ""
    region: object | None = None                 #: the allocator Region it lies in
    lazy: bool = False                           #: loaded with GVM_LOAD_LAZY

    @property
    def end(self) -> int:
        return self.base + self.size

    @property
    def code_end(self) -> int:
        return self.code_size

    def contains(self, addr: int) -> bool:
        return self.base <= addr < self.base + self.size

    def in_code(self, addr: int) -> bool:
        return self.base <= addr < self.base + self.code_size

    def symbolize(self, addr: int) -> str:
        sym = self.module.symbolize(addr - self.base) if self.module is not None else None
        return f"{self.name}:{sym}" if sym else f"{self.name}+0x{addr - self.base:x}"


class TargetLoader:
    """Set up and drive the resident's C runtime on ``machine``.

    Parameters
    ----------
    machine : Machine
        With the resident (built with ``--runtime target``) loaded.
    reader
        Where the media device finds module files (:mod:`gamevm_build.runtime.readers`).
    regions : list of Region
        Memory for modules, handed to ``GameVMAddRegion`` in order.
    sync_code : int
        ``TGameVMConfig.sync_code`` (0: the runtime's default for the console).
    work_size, pool_size : int
        The work area and pool given to ``GameVMInit`` (docs/runtime-c.md).
    placement : dict, optional
        Module name -> region name, handed to ``GameVMPlaceModule``.
    extra_needs : dict, optional
        Module name -> its needs, handed to ``GameVMAddNeed`` in order (see
        :func:`needs_table`: the file's needs, then the project configuration's).
    safe_mode : bool
        Give the runtime the stack's top (``TGameVMConfig.stack_top``): unloading or
        evicting a module a live return address points into is refused.
    output : list, optional
        Where failed loads are reported (``[loader] LoadModule("x"): status: why``),
        as the host loader reports them.
    stale_reload : bool
        ``GameVMSetStale(GVM_STALE_RELOAD)``: a call through a stale stub reloads its
        module (the reference loader's ``LoaderPolicy(stale="reload")``); the resident
        must link ``GameVMSetStale`` (its kernel calls it, or ``--keep GameVMSetStale``).
    game_reader, clock : int
        ``TGameVMConfig.reader`` and ``.clock`` when the game gives its own (addresses in
        the resident; 0: ``GameVMEmulatorReader`` and ``GameVMEmulatorClock``), e.g. a
        reader that only reads synchronously, or a clock that counts frames.

    A resident that links the reload API (``GameVMSetReload``: a development session's,
    docs/dev.md) is set up for hot reload: ``GameVMSetReload(1)`` before any load, and a
    pool of at least :data:`DEV_POOL_SIZE` (every module keeps its imports there).
    """

    def __init__(self, machine, reader, regions, *, resident=None, timer=None,
                 sync_code: int = 0, work_size: int = WORK_SIZE, pool_size: int = POOL_SIZE,
                 placement=None, output: list | None = None, safe_mode: bool = True,
                 extra_needs=None, stale_reload: bool = False, game_reader: int = 0,
                 clock: int = 0):
        self.machine = machine
        self.reader = reader
        self.resident = resident
        if timer is None:
            from .loadtime import LoadTimer
            timer = LoadTimer(machine.profile)
        self.timer = timer
        #: one entry per LoadModuleEx: the module asked for, simulated start and end, the
        #: media and CPU seconds, and the device's reads ``(path, offset, bytes)``
        self.load_times: list[dict] = []
        self._timing: dict | None = None
        #: one entry per asynchronous request (LoadModuleAsyncEx / GameVMImport), in order:
        #: id, request, frames requested and completed, status, the device's reads
        self.async_loads: list[dict] = []
        self._inflight: dict[int, tuple[int, bytes, float]] = {}   # fd -> dst, bytes, end
        self._mark = machine.instructions   # the clock follows the CPU from here on
        self._names: dict[str, int] = {}
        self.output = output if output is not None else []
        self._placed: dict[str, str] = {}
        self.regions = list(regions)
        self.symbols = machine.symbols
        if not has_target_runtime(self.symbols):
            raise InputError("the resident has no console-side runtime: link it with "
                             "'gamevm resident --runtime target'")
        self.files: dict[int, tuple[str, bytes]] = {}
        self._open: dict[int, dict] = {}
        self._reading = False           # the drive streams until a load ends
        self._next_file = 0
        self.bytes_read = 0
        #: every read the runtime asked for, as ``(path, offset, destination, length)``:
        #: where in RAM it put a file's bytes (its work area or a module's place)
        self.read_log: list[tuple[str, int, int, int]] = []
        self.loaded: dict[int, TargetModule] = {}
        #: copies of reloaded modules the runtime keeps hidden (GameVMLoadCopy), by base
        self.copies: dict[int, TargetModule] = {}
        #: request name -> (path, bytes) the media device serves instead of the reader's
        #: (a development session's rebuilt module, before it is anywhere else)
        self.served: dict[str, tuple[str, bytes]] = {}
        self._state_ranges: list[tuple[int, int]] | None = None
        self.events: list[dict] = []
        self._stale: dict[int, tuple] = {}        # base -> (noexec guard token, size) until synced
        self._rebinding: dict[int, tuple] = {}     # base -> range being rebound until synced
        self.graves: list[tuple[str, set]] = []    # freed modules: name, exports
        self.sync_calls: list[tuple[int, int]] = []
        self._by_path: dict[str, bytes] = {}
        self._trusted = None                       # trust(): the table, decoded
        #: instructions an API call may run (None: the machine's default, 0.25 s)
        self.call_budget: int | None = None
        machine.on_trap(self._service)
        machine.breakpoint(self.symbols["gvm_debug_event"], self._on_event)
        machine.breakpoint(self.symbols["GameVMSyncCode"], self._on_sync)
        #: the N64's caches: written code runs once the CACHE instructions the resident
        #: executed wrote back and invalidated each of its lines (not when GameVMSyncCode
        #: is called: what it does to the caches is what counts), which its stale-cache
        #: guards ask when the CPU reaches them
        self._caches = None
        if machine.profile.code_sync == "vr4300":
            from ..emu.vr4300cache import CodeCaches
            self._caches = CodeCaches(machine)
            for start, end in machine.code_ranges:
                self._caches.watch(start, end)
        previous = machine.symbolizer
        machine.symbolizer = lambda addr: self._symbolize(addr) or (previous(addr) if previous
                                                                    else None)
        self.reloads = "GameVMSetReload" in self.symbols
        if self.reloads:
            pool_size = max(pool_size, DEV_POOL_SIZE)
        self.work = self._fenced(work_size, "work area")
        self.pool = self._fenced(pool_size, "pool")
        names = [machine.reserve(len(r.name) + 1) for r in self.regions]
        for addr, r in zip(names, self.regions):
            machine.write(addr, r.name.encode() + b"\0")
        config = machine.reserve(32)
        machine.write(config, b"".join(
            (v & MASK32).to_bytes(4, machine.profile.byteorder) for v in (
                game_reader or self.symbols["GameVMEmulatorReader"], self.work, work_size,
                self.pool, pool_size, sync_code, machine.stack_top if safe_mode else 0,
                clock or self.symbols.get("GameVMEmulatorClock", 0))))
        status = machine.call("GameVMInit", config)
        if status != TLoadStatus.lsSuccess:
            raise EmulationError(f"GameVMInit failed with status {status}")
        if stale_reload:
            self.set_stale(STALE_RELOAD)
        if self.reloads and machine.call("GameVMSetReload", 1) != TLoadStatus.lsSuccess:
            raise EmulationError("GameVMSetReload(1) failed")
        for addr, r in zip(names, self.regions):
            flags = REGION_OVERLAY if r.overlay else REGION_HEAP
            if machine.call("GameVMAddRegion", addr, r.start, r.size, flags) != 0:
                raise EmulationError(f"GameVMAddRegion refused region {r.name}")
        for addr, r in zip(names, self.regions):
            pair = getattr(r, "pair", None)
            if pair:
                other = names[[x.name for x in self.regions].index(pair)] \
                    if pair in [x.name for x in self.regions] else None
                if other is None or machine.call("GameVMPairRegions", addr, other) != 0:
                    raise EmulationError(f"GameVMPairRegions refused {r.name} + {pair}")
        for module, region in (placement or {}).items():
            if region is not None:
                self.place(module, region)
        #: the needs table registered with the runtime (module -> needs): every load walks it
        self.needs_table = {m: tuple(ns) for m, ns in (extra_needs or {}).items()}
        for module, needs in (extra_needs or {}).items():
            for need in needs:
                if machine.call("GameVMAddNeed", self._string(module), self._string(need)) != 0:
                    raise EmulationError(f"GameVMAddNeed({module}, {need}) refused: the "
                                         "runtime's table of project needs is full")

    def trust(self, table: bytes | None) -> TLoadStatus:
        """``GameVMTrust(table, size)``: the runtime checks every module loaded from now on
        against ``table`` (:mod:`~gamevm_build.runtime.trust`), kept in memory that stays
        valid as the API requires; None turns the check off."""
        from .trust import TrustTableError, decode
        try:
            self._trusted = decode(table) if table is not None else None
        except TrustTableError:
            self._trusted = None
        if table is None:
            return TLoadStatus(self.machine.call("GameVMTrust", 0, 0))
        addr = self.machine.reserve(len(table))
        self.machine.write(addr, table)
        return TLoadStatus(self.machine.call("GameVMTrust", addr, len(table)))

    def set_stale(self, policy: int) -> None:
        """``GameVMSetStale(policy)`` (:data:`STALE_FAULT`, :data:`STALE_RELOAD`)."""
        if "GameVMSetStale" not in self.symbols:
            from ..errors import ConfigError
            raise ConfigError("the resident's runtime has no GameVMSetStale, which the stale "
                              "\"reload\" policy needs: call GameVMSetStale(GVM_STALE_RELOAD) "
                              "from the kernel, or link it with --keep GameVMSetStale "
                              "(SCons: GAMEVM_KEEP=['GameVMSetStale'])")
        status = TLoadStatus(self.machine.call("GameVMSetStale", policy))
        if status != TLoadStatus.lsSuccess:
            raise EmulationError(f"GameVMSetStale({policy}): {status.name}")

    def place(self, module: str, region: str) -> None:
        """``GameVMPlaceModule(module, region)`` (a ConfigError for an unknown region)."""
        if self._placed.get(module) == region:
            return
        if region not in {r.name for r in self.regions}:
            from ..errors import ConfigError
            raise ConfigError(f"no memory region named '{region}' (memoryMap.regions has: "
                              f"{', '.join(r.name for r in self.regions)})")
        status = TLoadStatus(self.machine.call("GameVMPlaceModule", self._string(module),
                                               self._string(region)))
        if status != TLoadStatus.lsSuccess:
            raise EmulationError(f"GameVMPlaceModule({module}, {region}): {status.name}")
        self._placed[module] = region

    # --- the API, called on the emulated CPU -----------------------------------------
    def load_module(self, name: str, flags: int = 0) -> tuple[int, TLoadStatus]:
        """``LoadModuleEx(name, &status)``: the handle (0 on failure) and the status
        (``LoadModuleFlags(name, flags, &status)`` with ``flags``, e.g. :data:`LOAD_LAZY`).

        The load takes simulated time: each read of the media device at the drive
        model's timing, and every instruction the CPU executes at one cycle
        (:attr:`load_times`).
        """
        m = self.machine
        m.reset_scratch()
        s = m.alloc_string(name)
        st = m.alloc(4)
        clock = self.timer.clock
        self._cpu_until_now()
        self._timing = {"request": name, "start_s": clock.now_s, "media_s": 0.0, "cpu_s": 0.0,
                        "reads": []}
        first_file = self._next_file
        try:
            handle = (self._run("LoadModuleFlags", s, flags, st) if flags
                      else self._run("LoadModuleEx", s, st))
        finally:
            t, self._timing = self._timing, None
        status = TLoadStatus(m.read_u32(st))
        left = sorted(path for fd, (path, _data) in self.files.items() if fd >= first_file)
        if left:
            raise EmulationError(f"LoadModule(\"{name}\") returned {status.name} and left "
                                 f"{len(left)} file(s) open: {', '.join(left)} "
                                 f"({CLOSE_CONTRACT})")
        t.update(end_s=clock.now_s, status=status.name)
        self.load_times.append(t)
        self._reading = False
        return handle, status

    def _run(self, function: str, *args: int) -> int:
        """Call the runtime's ``function``: its instructions take simulated time."""
        self._cpu_until_now()
        try:
            return self.machine.call(function, *args, max_instructions=self.call_budget)
        finally:
            self._cpu_until_now()

    def _cpu_until_now(self) -> None:
        """Move the clock on by the instructions the CPU ran since it last looked (game
        code too: a game that polls GameVMFrame in a loop sees its reads end)."""
        n = self.machine.instructions - self._mark
        self._mark = self.machine.instructions
        d = self.timer.instructions_s(n)
        if self._timing is not None:
            self._timing["cpu_s"] += d
        self.timer.clock.now_s += d

    # --- asynchronous loads ------------------------------------------------------------
    def _string(self, text: str) -> int:
        """``text`` in memory that stays valid (the runtime keeps a request's name)."""
        if text not in self._names:
            data = text.encode() + b"\0"
            self._names[text] = self.machine.reserve(len(data))
            self.machine.write(self._names[text], data)
        return self._names[text]

    def set_slice(self, slice_ms: float | None) -> None:
        """``GameVMSetSlice``: the CPU time per frame of the requests made from now on
        (``None``: the reference loader's default for a LoadModuleAsync that does not
        say), in the emulated clock's cycles."""
        from .asyncload import DEFAULT_SLICE_MS
        if "GameVMSetSlice" in self.symbols:
            ms = DEFAULT_SLICE_MS if slice_ms is None else slice_ms
            self._run("GameVMSetSlice", max(1, round(ms * self.timer.costs.clock_hz / 1e3)))

    def load_async(self, name: str, *, callback: int = 0, import_: bool = False,
                   flags: int = 0, slice_ms: float | None = None) -> dict:
        """``LoadModuleAsyncEx(name, callback, flags)`` (or ``GameVMImport``): the request's
        record in :attr:`async_loads`; its ``id`` is 0 when the runtime refused it.
        ``slice_ms``: its CPU time per frame (:meth:`set_slice`)."""
        self.set_slice(slice_ms)
        clock = self.timer.clock
        rec = {"request": name, "id": 0, "kind": "import" if import_ else "load_async",
               "frame_requested": clock.frame, "start_s": clock.now_s, "media_s": 0.0,
               "reads": [], "status": "lsPending", "frame_completed": None, "end_s": None}
        self.async_loads.append(rec)
        rec["id"] = self._run("GameVMImport" if import_ else "LoadModuleAsyncEx",
                              self._string(name), callback, flags)
        if not rec["id"]:
            self.async_loads.remove(rec)
            raise LoadError(TLoadStatus.lsOutOfMemory,
                            f"LoadModuleAsync(\"{name}\"): the runtime's request queue is full "
                            "(or GameVMInit was not called)")
        return rec

    @property
    def pending(self) -> list[dict]:
        return [r for r in self.async_loads if r["frame_completed"] is None]

    def frame(self) -> list[dict]:
        """``GameVMFrame()`` at the clock's time; the requests it completed."""
        clock = self.timer.clock
        k = clock.frame
        self._run("GameVMFrame")
        done = []
        for rec in self.pending:
            status = self.async_status(rec["id"])
            if status != TLoadStatus.lsPending:
                rec.update(status=status.name, frame_completed=k, end_s=clock.now_s)
                done.append(rec)
        if done and not self.pending and self.files:
            left = ", ".join(sorted(path for path, _data in self.files.values()))
            raise EmulationError(f"the asynchronous requests completed and left file(s) "
                                 f"open: {left} ({CLOSE_CONTRACT})")
        return done

    def async_status(self, request_id: int) -> TLoadStatus:
        return TLoadStatus(self.machine.call("GameVMAsyncStatus", request_id))

    def _media_read(self, fd: int, offset: int, length: int) -> None:
        """The drive reads ``[offset, offset+length)`` of file ``fd`` on the simulated clock.

        A read that goes on where the previous read of the file ended (inside it, or
        skipping less than a sector of padding) is the same stream: it costs only the
        transfer of the new bytes, so reading a file front to back in pieces takes as
        long as one read of it, which is what the analyzer charges.  Any other read is a
        new access (a seek on a disc).
        """
        if self._timing is None or length == 0:
            return
        self._cpu_until_now()
        self._timing["reads"].append((self._open[fd]["path"], offset, length))
        media, finish = self._schedule(fd, offset, length, first=not self._reading)
        if media is None:
            return
        self._reading = True
        self._timing["media_s"] += media
        self.timer.clock.now_s = finish

    def _schedule(self, fd: int, offset: int, length: int, *, first: bool):
        """Put a read on the drive at the clock's time: ``(media_s, end_s)``, or
        ``(None, now)`` when the stream already brought the bytes."""
        entry = self._open[fd]
        model, drive, clock = self.timer.model, self.timer.drive, self.timer.clock
        end = offset + length
        if entry["start"] is not None and entry["start"] <= offset \
                and offset - entry["end"] < model.sector_size and drive.head == entry["head"]:
            if end <= entry["end"]:
                return None, clock.now_s
            d = (model.transfer_s(end - entry["start"])
                 - model.transfer_s(entry["end"] - entry["start"]))
            start = max(clock.now_s, drive.free_s)
            media, finish = d, start + d
        else:
            size = model.sector_size
            lba = None if entry["lba"] is None else entry["lba"] + offset // size
            step = drive.read(entry["name"], lba, length, at_s=clock.now_s, first=first)
            media, finish = step.media_s, step.end_s
            entry["start"], entry["lba0"] = offset, lba
        entry["end"] = max(entry["end"], end)
        if entry["lba0"] is not None:
            drive.head = entry["lba0"] + model.sectors_for(entry["end"] - entry["start"])
        entry["head"] = drive.head
        drive.free_s = finish
        return media, finish

    def get_proc(self, handle: int, name: str) -> int:
        self.machine.reset_scratch()
        return self.machine.call("GetModuleProc", handle, self.machine.alloc_string(name))

    def unload_module(self, handle: int) -> TLoadStatus:
        return TLoadStatus(self.machine.call("UnloadModule", handle))

    # --- hot reload (gvm_reload.c; gamevm_build.dev.swap_target drives it) ------------
    def runtime_state(self) -> list[tuple[int, int]]:
        """``(start, end)`` of the runtime's own records in the resident: its state
        (``gvm_state``: module records, among them the bases of hidden copies) and its
        Global Symbol Table (a symbol may be a module's base, as ``_end``).  A scan for
        pointers a game stored skips them."""
        if self._state_ranges is None:
            machine, out = self.machine, []
            for addr, _rank, size, name in machine._symbols._entries:
                if name == "gvm_state" and size:
                    out.append((addr, addr + size))
            gst = self.symbols.get("gvm_gst")
            if gst is not None and "gvm_gst_count" in self.symbols:
                out.append((gst, gst + 8 * machine.read_u32(self.symbols["gvm_gst_count"])))
            self._state_ranges = out
        return self._state_ranges

    def load_copy(self, live: int, name: str, data: bytes, path: str,
                  flags: int = 0) -> tuple[TLoadStatus, int]:
        """``GameVMLoadCopy(live, name, flags, &copy)`` with the media device serving
        ``data`` as ``name``: the status and the copy's handle (0 if none).  The copy goes
        to :attr:`copies`.  A constructor's fault propagates (:class:`EmulationError`);
        the handle is then in :attr:`last_copy`."""
        m = self.machine
        m.reset_scratch()
        s = m.alloc_string(name)
        out = m.alloc(4)
        m.write_u32(out, 0)
        self.served[name] = (path, bytes(data))
        self.last_copy = 0
        try:
            status = TLoadStatus(self._run("GameVMLoadCopy", live, s, flags, out))
        finally:
            self.served.pop(name, None)
            self.last_copy = handle = m.read_u32(out)
            if handle:
                self._hide(handle)
        return status, handle

    def _fenced(self, size: int, what: str) -> int:
        """``size`` bytes of the scratch area for the runtime's ``what``, 4-aligned (as
        the runtime aligns what it takes from it) and ending at most 3 bytes before a
        fence of 16: on a console, an access past the end of the memory the game gave
        the runtime reaches the game's own; here a read or write there faults and names
        the area."""
        span = -(-size // 16) * 16
        base = self.machine.reserve(span + 16)
        self.machine.guard(base + span, 16, "fence",
                           f"the memory past the runtime's {what} ({size} bytes)")
        return base + ((span - size) & ~3)

    def record(self, handle: int) -> int:
        """The address of the module record ``handle`` names (its slot's, whether or
        not the load that took the slot is still the one the handle names)."""
        records = self.machine.read_u32(self.symbols["gvm_records"])
        return records + (handle & ((1 << SLOT_BITS) - 1)) * RECORD_SIZE

    def handle_base(self, handle: int) -> int:
        """Where the module of ``handle``'s record lies (its record's ``base``)."""
        return self.machine.read_u32(self.record(handle) + HANDLE_BASE_OFFSET)

    def handle_refcount(self, handle: int) -> int:
        """The reference count in ``handle``'s record (signed, as the runtime keeps it)."""
        v = self.machine.read_u32(self.record(handle) + HANDLE_REFCOUNT_OFFSET)
        return v - (1 << 32) if v & 0x80000000 else v

    def _hide(self, handle: int) -> None:
        base = self.handle_base(handle)
        t = self.loaded.pop(base, None)
        if t is not None:
            t.handle = handle
            self.copies[base] = t

    def swap_copy(self, live: int, copy: int) -> TLoadStatus:
        """``GameVMSwapCopy(live, copy)``; on success the live handle names the copy's
        module here too, in the old one's place of :attr:`loaded`."""
        status = TLoadStatus(self._run("GameVMSwapCopy", live, copy))
        if status == TLoadStatus.lsSuccess:
            old = next(t for t in self.loaded.values() if t.handle == live)
            new = next(t for t in self.copies.values() if t.handle == copy)
            del self.copies[new.base]
            self.loaded = {(new.base if k == old.base else k): (new if t is old else t)
                           for k, t in self.loaded.items()}
            new.handle, old.handle = live, copy
            self.copies[old.base] = old
        return status

    def free_copy(self, copy: int) -> TLoadStatus:
        """``GameVMFreeCopy(copy)`` (the runtime reports it freed: :meth:`_freed`)."""
        return TLoadStatus(self._run("GameVMFreeCopy", copy))

    def sync_code(self, addr: int, size: int) -> None:
        """``GameVMSyncCode(addr, size)`` on the CPU: code the host wrote becomes visible
        to instruction fetch as the console needs it."""
        self._run("GameVMSyncCode", addr, size)

    # --- what the console's reports and calls need (as gamevm_build.runtime.reference.Loader) ----
    def load(self, name: str, *, region: str | None = None, needs: bool = True,
             lazy: bool | None = None, **_ignored) -> TargetModule:
        """Load ``name`` with the C runtime; raise :class:`LoadError` with its status.

        The runtime loads needs itself and places modules in the first heap region
        with room (placement by region name is the host loader's, for now).
        """
        if region is not None:
            stem = name.rsplit("/", 1)[-1]
            self.place(stem[:-4] if stem.lower().endswith(".elf") else stem, region)
        handle, status = self.load_module(name, LOAD_LAZY if lazy else 0)
        if status != TLoadStatus.lsSuccess:
            raise LoadError(status, self.explain(name, status))
        t = self.loaded.get(self.handle_base(handle))
        if t is None:
            raise EmulationError(f"LoadModuleEx(\"{name}\") returned handle 0x{handle:08x}, "
                                 "which names no module the runtime reported loading")
        t.handle = handle
        t.lazy = bool(lazy)
        return t

    def unload(self, handle: int, **_ignored) -> None:
        status = self.unload_module(handle)
        if status != TLoadStatus.lsSuccess:
            raise LoadError(status, f"UnloadModule(0x{handle:08x}) on the console-side runtime: "
                                    f"{status.name}")

    def explain(self, name: str, status: TLoadStatus) -> str:
        """Why the runtime refused ``name``: the runtime returns only a status, so the
        words come from the reference reader where it can tell."""
        try:
            path, data = self.reader.read(name)
        except (ModuleNotFound, OSError, InputError) as exc:
            return str(exc)
        from ..link.module import read_module
        if status == TLoadStatus.lsBadSignature and self._trusted is not None:
            from ..errors import ImageDecodeError
            from .trust import untrusted
            try:
                name = read_module(data, name=path, verify_hash=False).name
            except ImageDecodeError as exc:
                name = exc.module_name
            except GameVMError as exc:
                return str(exc)
            return untrusted(self._trusted, name, data, path) or (
                f"{path}: a module '{name}' needs does not match the trusted manifest")
        try:
            mod = read_module(data, name=path)
        except GameVMError as exc:
            return str(exc)
        if status == TLoadStatus.lsUndefinedSymbol:
            missing = sorted(n for n, i in mod.imports.items()
                             if not i.weak and self.resolve(n) is None)
            if missing:
                return (f"module '{mod.name}' ({path}): undefined import"
                        f"{'s' if len(missing) > 1 else ''} {', '.join(missing)}: neither the "
                        "resident nor a loaded module provides "
                        f"{'them' if len(missing) > 1 else 'it'}")
        if status == TLoadStatus.lsIncompatibleTarget:
            return (f"{path}: module '{mod.name}' is built for target {mod.target}, but this "
                    f"console is {self.machine.profile.name}; rebuild it with "
                    f"-t {self.machine.profile.name}")
        if status == TLoadStatus.lsOutOfMemory:
            return (f"{path}: module '{mod.name}' ({mod.image_size} bytes) does not fit its "
                    "region, or the runtime's work area, pool or module table is full")
        return f"{path}: the console-side runtime refused module '{mod.name}'"

    def by_name(self, name: str) -> TargetModule | None:
        return next((t for t in self.loaded.values() if t.name == name), None)

    def module_at(self, addr: int) -> TargetModule | None:
        return next((t for t in self.loaded.values() if t.contains(addr)), None)

    def resolve(self, name: str) -> int | None:
        """Binding order: the resident, then loaded modules in load order."""
        if self.resident is not None and name in self.resident.symbols:
            return self.resident.symbols[name]
        for t in self.loaded.values():
            if name in t.symbols:
                return t.symbols[name]
        return None

    def function_start(self, addr: int) -> int | None:
        t = self.module_at(addr)
        if t is None or t.module is None:
            return None
        off = addr - t.base
        best = max((s.value & ~1 for s in list(t.module.exports.values()) + t.module.locals
                    if s.section == ".text" and s.kind in ("func", "notype")
                    and (s.value & ~1) <= off), default=None)
        return None if best is None else t.base + best

    def is_code(self, addr: int) -> bool:
        t = self.module_at(addr)
        if t is not None:
            return t.in_code(addr)
        return self.resident is not None and any(
            v <= addr < v + len(data) and flags & 1 for v, data, _m, flags in self.resident.segments)

    def service(self, machine, code: int):
        return NotImplemented

    # --- the media device -------------------------------------------------------------
    def _service(self, machine, kind: str, code: int):
        if code == SYS_MEDIA_OPEN:
            name_ptr, size_ptr = machine.trap_args(2)
            name = machine.read_cstring(name_ptr).decode("utf-8", "replace")
            try:
                path, data = self.served[name] if name in self.served else self.reader.read(name)
            except (ModuleNotFound, OSError, InputError):
                machine.set_result(MASK32)
                return None
            fd = self._next_file
            self._next_file += 1
            self.files[fd] = (path, data)
            stem = path.rsplit("/", 1)[-1].rsplit(":", 1)[-1]
            stem = stem.split(";")[0]
            stem = stem[:-4] if stem.lower().endswith(".elf") else stem
            self._open[fd] = {"path": path, "name": name, "start": None, "end": 0,
                              "lba0": None, "head": None,
                              "lba": self.timer.position(name)
                              if self.timer.position(name) is not None
                              else self.timer.position(stem)}
            self._by_path[path] = data
            machine.write_u32(size_ptr, len(data))
            machine.set_result(fd)
            return None
        if code in (SYS_MEDIA_READ, SYS_MEDIA_START):
            (req,) = machine.trap_args(1)
            fd, offset, dst, length = (machine.read_u32(req + 4 * i) for i in range(4))
            entry = self.files.get(fd)
            if entry is None or offset + length > len(entry[1]) or \
                    (code == SYS_MEDIA_START and fd in self._inflight):
                machine.set_result(MASK32)
                return None
            self.read_log.append((entry[0], offset, dst, length))
        if code == SYS_MEDIA_READ:
            if length:
                machine.write(dst, entry[1][offset:offset + length])
            self.bytes_read += length
            self._media_read(fd, offset, length)
            machine.set_result(0)
            return None
        if code == SYS_MEDIA_START:
            self._cpu_until_now()
            rec = next(iter(self.pending), None)
            media, finish = self._schedule(fd, offset, length,
                                           first=rec is None or not rec["reads"])
            if rec is not None:
                rec["reads"].append((entry[0], offset, length))
                rec["media_s"] += media or 0.0
            self._inflight[fd] = (dst, entry[1][offset:offset + length], finish)
            self.bytes_read += length
            machine.set_result(0)
            return None
        if code == SYS_MEDIA_POLL:
            (fd,) = machine.trap_args(1)
            self._cpu_until_now()
            read = self._inflight.get(fd)
            if read is None:
                machine.set_result(MASK32)
            elif self.timer.clock.now_s + 1e-12 >= read[2]:
                del self._inflight[fd]
                if read[1]:
                    machine.write(read[0], read[1])   # the bytes arrive when the read ends
                machine.set_result(1)
            else:
                machine.set_result(0)
            return None
        if code == SYS_CLOCK:
            machine.set_result(machine.instructions & MASK32)
            return None
        if code == SYS_MEDIA_CLOSE:
            (fd,) = machine.trap_args(1)
            if fd not in self.files:
                machine.fault(f"the runtime closed file {fd}, which is not open "
                              f"({CLOSE_CONTRACT})")
                return None
            self.files.pop(fd, None)
            self._inflight.pop(fd, None)
            machine.set_result(0)
            return None
        return NotImplemented

    # --- following the runtime --------------------------------------------------------
    def _on_event(self, machine) -> None:
        (ptr,) = entry_args(machine, 1)
        what, base, size, code_size, name_ptr = (machine.read_u32(ptr + 4 * i) for i in range(5))
        name = machine.read_cstring(name_ptr).decode("utf-8", "replace")
        named = EVENT_WORDS.get(what)
        if named is None:
            wrong = f"unknown kind {what}"
        else:
            stray = [w for w, v in (("base", base), ("size", size), ("code_size", code_size))
                     if v and w not in named]
            wrong = stray and f"kind {what} with {', '.join(stray)} not 0"
        if wrong:
            machine.fault(f"gvm_debug_event for '{name}': {wrong} ({EVENT_CONTRACT})")
            return
        self.events.append({"event": {EV_WRITING: "writing", EV_LOADED: "loaded",
                                      EV_FREED: "freed"}.get(what, what),
                            "module": name, "base": base, "size": size})
        if what == EV_WRITING:
            machine.unguard_range(base, size)     # reusing freed memory
            if self._caches is not None:
                self._caches.written(base, size)
            if machine.profile.code_sync and size:
                self._stale[base] = (machine.guard(
                    base, size, "noexec", f"stale instruction cache: module '{name}'",
                    lambda addr: (f"code the loader wrote at 0x{base:08x} was not made visible "
                                  "to instruction fetch (GameVMSyncCode: PS1 BIOS FlushCache, "
                                  "N64 cache writeback + invalidate)"),
                    lift=self._cache_cleaned if self._caches is not None else None), size)
        elif what == EV_LOADED:
            self._loaded(machine, name, base, size, code_size)
        elif what == EV_FREED:
            self._freed(machine, name, base, size)
        elif what == EV_PATCHING:
            self._patching(machine, name, base, size)
        elif what in (EV_STALE, EV_UNBOUND, EV_RELOAD_FAILED):
            self._stub_report(machine, what, name, base, size, code_size)
        elif what == EV_FAILED:
            status = TLoadStatus(base)
            self.output.append(f"[loader] LoadModule(\"{name}\"): {status.name}: "
                               f"{self.explain(name, status)}")

    def _loaded(self, machine, name, base, size, code_size) -> None:
        token, _size = self._stale.pop(base, (None, 0))
        t = TargetModule(name, base, size, code_size)
        t.path, t.module = self._module_named(name)
        t.region = next((r for r in self.regions if r.start <= base < r.start + r.size), None)
        if t.module is not None:
            from ..link.prelink import module_symbols
            t.symbols = module_symbols(t.module, base)
        if token is not None:
            # still not synced: leave the stale-cache guard on the code, the data is data
            t.guards.append(token)
            if size > code_size:
                t.guards.append(machine.guard(base + code_size, size - code_size, "noexec",
                                              f"data of module '{name}'"))
        else:
            t.guards = [machine.guard(base, code_size, "code", f"code of module '{name}'"),
                        machine.guard(base + code_size, size - code_size, "noexec",
                                      f"data of module '{name}'")]
        self.loaded[base] = t

    def _patching(self, machine, name, addr, size) -> None:
        """The runtime rebinds ``[addr, addr+size)`` of a loaded module (a lazy import's
        first call, or a stale stub): its code is writable until the runtime syncs it, and
        on psx/n64 not executable before (the instruction cache)."""
        t = self.module_at(addr) or next(        # a kept old copy binds its own sites
            (c for c in self.copies.values() if c.contains(addr)), None)
        if t is None or not t.guards or self._guard_kind(t.guards[0]) != "code":
            return
        machine.unguard(t.guards[0])
        t.guards[0] = machine.guard(
            t.base, t.code_size, "noexec", f"stale instruction cache: module '{name}'",
            lambda a: (f"code the loader rebound at 0x{addr:08x} was not made visible to "
                       "instruction fetch (GameVMSyncCode)"),
            lift=self._cache_cleaned if self._caches is not None else None) \
            if machine.profile.code_sync else 0
        self._rebinding[t.base] = (addr, addr + size)
        if self._caches is not None:
            self._caches.written(addr, size)

    def _stub_report(self, machine, what, name, base, holder, stub) -> None:
        """A call the runtime's stubs cannot continue: stop with the reference loader's words."""
        h = self.module_at(holder)
        holder_name = h.name if h is not None else f"0x{holder:08x}"
        if what == EV_UNBOUND:
            machine.fault(f"lazy binding: module '{holder_name}' calls '{name}', which neither "
                          "the resident nor any loaded module provides", "fetch", base,
                          "undefined symbol at first call (imports bound lazily)")
            return
        gone = next((g for g in reversed(self.graves) if name in g[1]), None)
        if what == EV_RELOAD_FAILED:
            # the reference loader's words; the runtime reported the failed LoadModule too
            status = TLoadStatus(base)
            module = gone[0] if gone is not None else "?"
            why = ("the reloaded module no longer exports it"
                   if status == TLoadStatus.lsSymbolNotFound else
                   f"reloading it failed: {status.name}: {self.explain(module, status)}")
            machine.fault(f"call to unloaded module '{module}' symbol '{name}'", None, None, why)
            return
        if not base or gone is None:
            machine.fault(f"a jump into the loader's stub area outside a stub (0x{stub:08x})")
            return
        machine.fault(f"call to unloaded module '{gone[0]}' symbol '{name}'", None, None,
                      f"through a binding of module '{holder_name}', stubbed when "
                      f"'{gone[0]}' was freed")

    def _freed(self, machine, name, base, size) -> None:
        t = self.loaded.pop(base, None) or self.copies.pop(base, None)
        self.graves.append((name, set(t.symbols) if t is not None else set()))
        token, _size = self._stale.pop(base, (None, 0))
        for g in (t.guards if t else []) + ([token] if token else []):
            machine.unguard(g)
        if t is not None:
            machine.poison(base, size, f"unloaded module '{name}'")

    def _on_sync(self, machine) -> None:
        addr, size = entry_args(machine, 2)
        self.sync_calls.append((addr, size))
        if self._caches is not None:
            return                   # the CACHE instructions it runs decide (_cache_cleaned)
        self._made_visible(lambda lo, hi: addr <= lo < addr + size,
                           lambda lo, hi: addr <= lo and hi <= addr + size)
        if machine.profile.code_sync == "psx-bios":
            return_now(machine)      # the BIOS call itself: the emulator has no BIOS

    def _cache_cleaned(self) -> bool:
        """The CPU reached code under a stale-cache guard (N64): the code none of whose
        lines is still dirty or stale in the caches can run.  (False: the guards that
        stay are the ones this left.)"""
        def clean(lo: int, hi: int) -> bool:
            return not self._caches.pending(lo, hi - lo)
        self._made_visible(clean, clean)
        return False

    def _made_visible(self, start_synced, range_synced) -> None:
        """Lift the stale-cache guards of code the sync covered: ``start_synced(lo, hi)``
        for a module written or loaded (the PS1's FlushCache is given its start),
        ``range_synced(lo, hi)`` for sites rebound in place."""
        machine = self.machine
        for base, (token, size) in list(self._stale.items()):
            if start_synced(base, base + size):
                machine.unguard(token)
                del self._stale[base]
        for base, (lo, hi) in list(self._rebinding.items()):
            t = self.loaded.get(base) or self.copies.get(base)
            if t is not None and range_synced(lo, hi):
                machine.unguard(t.guards[0])
                t.guards[0] = machine.guard(t.base, t.code_size, "code",
                                            f"code of module '{t.name}'")
                del self._rebinding[base]
        for t in self.loaded.values():            # synced after the load was reported
            if t.guards and len(t.guards) <= 2 and self._guard_kind(t.guards[0]) == "noexec" \
                    and start_synced(t.base, t.base + t.code_size):
                machine.unguard(t.guards[0])
                t.guards[0] = machine.guard(t.base, t.code_size, "code",
                                            f"code of module '{t.name}'")

    def _guard_kind(self, token) -> str | None:
        g = self.machine._guards.get(token)
        return g[0] if g else None

    def _module_named(self, name: str):
        """``(path, Module)`` of the file the runtime read for module ``name``."""
        from ..link.module import read_module
        for path, data in reversed(list(self._by_path.items())):
            try:
                # what the runtime loaded, whose hash it does not check (docs/runtime-c.md)
                mod = read_module(data, name=path, verify_hash=False)
            except GameVMError:
                continue
            if mod.name == name:
                return path, mod
        return "", None

    def _symbolize(self, addr: int) -> str | None:
        for t in self.loaded.values():
            if t.contains(addr):
                sym = t.module.symbolize(addr - t.base) if t.module else None
                return f"{t.name}:{sym}" if sym else f"{t.name}+0x{addr - t.base:x}"
        return None
