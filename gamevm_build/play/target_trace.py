"""Load records of the console-side C runtime in the trace's terms (`gamevm run --loader target`).

:class:`TracedTargetLoader` is the :class:`~gamevm_build.runtime.target.TargetLoader`
a scenario runs on.  It watches what a debugger would — the media device's
reads, the runtime's ``gvm_debug_event`` calls, each constructor's entry — and
turns every load into a :class:`~gamevm_build.runtime.loadtime.LoadRecord`, the
record the host's reference loader writes, so that ``gamevm budget
--check-trace`` compares either with the same bounds:

* **media**, per module: the drive model's steps the runtime's reads took (the
  first access with its head position and drive state, more accesses if the
  runtime left the file's stream, and the transfer of every byte it read);
* **CPU**, per module: the instructions the emulated CPU ran for it, at one
  cycle each — ``load`` from its file's opening (or the start of its image)
  to the next module's, ``init`` from its first constructor's entry to the
  next module's constructors or the end of the load.  The runtime interleaves
  checks, copy, relocation and binding, so they are not told apart;
* **memory** events (``alloc`` when the runtime announces an image, ``free``
  or ``evict`` when it frees one) and the phases' timestamps.

Nothing here changes what the runtime does or how long it takes.
"""

from __future__ import annotations

import dataclasses

from ..errors import GameVMError
from ..runtime.loadtime import LoadRecord, ModuleTiming
from ..runtime.reference import TLoadStatus
from ..runtime.target import (EV_FREED, EV_LOADED, EV_WRITING, SYS_MEDIA_OPEN, TargetLoader,
                              entry_args)

__all__ = ["TracedTargetLoader"]


class TracedTargetLoader(TargetLoader):
    """A :class:`TargetLoader` that records each load as the host loader's trace does.

    ``lazy_names(module)`` (the reference loader's rule) says which imports a lazy
    load leaves for their first call.
    """

    def __init__(self, *args, lazy_names=None, **kw):
        self._record: LoadRecord | None = None     # the synchronous load being recorded
        self._acc: dict[int, dict[str, ModuleTiming]] = {}   # record id -> module -> timing
        self._current: tuple[LoadRecord, str, str] | None = None   # record, module, phase
        self._amark = 0
        self._active = False
        self._steps: list = []
        self._names_of: dict[str, str] = {}
        self._evicting: list[str] = []
        self._lazy_load = False
        self._lazy_names = lazy_names or (lambda module: ())
        self._ctor_entries: dict[int, str] = {}   # constructor address -> module
        #: module name -> its handle (the runtime's record), once known
        self.handles: dict[str, int] = {}
        self._game: tuple | None = None           # a LoadModuleEx target code made
        self._returns: set[int] = set()
        self._probing = False
        super().__init__(*args, **kw)
        self.machine.breakpoint(self.symbols["LoadModuleEx"], self._on_game_load)
        if "gvm_stale_reload" in self.symbols:        # GameVMSetStale linked
            self.machine.breakpoint(self.symbols["gvm_stale_reload"], self._on_reload)
        drive = self.timer.drive
        read = drive.read

        def traced_read(*a, **k):
            step = read(*a, **k)
            self._steps.append(step)
            return step
        drive.read = traced_read               # the steps the runtime's reads took

    # --- attributing the CPU's instructions ---------------------------------------------
    def _run(self, function: str, *args: int) -> int:
        self._cpu_until_now()
        self._amark, self._active = self.machine.instructions, True
        try:
            return super()._run(function, *args)
        finally:
            self._attribute()
            self._active = False
            # an asynchronous request's work goes on in the next GameVMFrame, for the
            # module it was working on (its checks run before anything is written)
            if self._record is None and not self.pending:
                self._current = None

    def _owner(self) -> LoadRecord | None:
        """The record the runtime works for now: the synchronous load, else the first
        asynchronous request (the runtime takes them in order)."""
        if self._record is not None:
            return self._record
        rec = next(iter(self.pending), None)
        return rec.get("record") if rec is not None else None

    def _attribute(self) -> None:
        """Charge the instructions since the last mark to the module in progress."""
        m = self.machine
        n = m.instructions - self._amark
        self._amark = m.instructions
        if not self._active or n <= 0 or self._current is None:
            return
        self._cpu_until_now()
        rec, name, phase = self._current
        mt = self._acc.get(rec.id, {}).get(name)
        if mt is None:
            return
        d = self.timer.instructions_s(n)
        end = self.timer.clock.now_s
        mt.cpu[phase] = mt.cpu.get(phase, 0.0) + d
        if phase == "init":
            mt.init_instructions = (mt.init_instructions or 0) + n
            mt.init_measured_s = (mt.init_measured_s or 0.0) + d
        _phase(mt, "cpu" if phase == "load" else "init", end - d, end)
        if rec.async_:
            k = self.timer.clock.frame
            if rec.slices and rec.slices[-1][0] == k:
                rec.slices[-1] = (k, rec.slices[-1][1], end)
            else:
                rec.slices.append((k, end - d, end))

    def _module(self, rec: LoadRecord, name: str) -> ModuleTiming | None:
        return self._acc.setdefault(rec.id, {}).get(name)

    def _name_of(self, path: str, data: bytes) -> str:
        if path not in self._names_of:
            from ..link.module import read_module
            try:
                self._names_of[path] = read_module(data, name=path).name
            except GameVMError:
                stem = path.rsplit("/", 1)[-1].split(";")[0]
                self._names_of[path] = stem[:-4] if stem.lower().endswith(".elf") else stem
        return self._names_of[path]

    # --- the media device ------------------------------------------------------------------
    def _service(self, machine, kind: str, code: int):
        if code == SYS_MEDIA_OPEN:
            self._attribute()
        return super()._service(machine, kind, code)

    def _schedule(self, fd: int, offset: int, length: int, *, first: bool):
        self._attribute()
        rec = self._owner()
        path, data = self.files[fd]
        self._steps.clear()
        media, finish = super()._schedule(fd, offset, length, first=first)
        if rec is None or media is None:
            return media, finish
        name = self._name_of(path, data)
        acc = self._acc.setdefault(rec.id, {})
        mt = acc.get(name)
        for step in self._steps:                       # a new access (a seek on a disc)
            if mt is None:
                mt = acc[name] = ModuleTiming(
                    name, dataclasses.replace(step, module=name, nbytes=len(data),
                                              sectors=self.timer.model.sectors_for(len(data)),
                                              read_s=0.0))
                mt.init_declared_s = self.timer.init_ms.get(name, 0.0) / 1e3
            else:
                mt.media.access_s += step.access_s
                mt.media.seek_s += step.seek_s
            if step.access_s:
                _phase(mt, "seek", step.start_s, step.start_s + step.access_s)
        if mt is None:
            return media, finish
        transfer = media - sum(s.access_s for s in self._steps)
        mt.media.read_s += transfer
        _phase(mt, "read", finish - transfer, finish)
        self._current = (rec, name, "load")
        return media, finish

    # --- the runtime's events --------------------------------------------------------------
    def _on_event(self, machine) -> None:
        self._attribute()
        (ptr,) = entry_args(machine, 1)
        what, base, size, code_size, name_ptr = (machine.read_u32(ptr + 4 * i) for i in range(5))
        name = machine.read_cstring(name_ptr).decode("utf-8", "replace")
        region = next((r.name for r in self.regions if r.start <= base < r.start + r.size),
                      None)
        if what == EV_FREED and base in self.loaded:
            evicting = self._active and self._owner() is not None
            self.timer.memory_event("evict" if evicting else "free", module=name,
                                    region=region, base=f"0x{base:08x}", size=size,
                                    reason="evicted by a load" if evicting else "unloaded")
            if evicting:
                self._evicting.append(name)
            # the host loader's words for it (the trace check follows unloads)
            self.events.append({"event": "evict" if evicting else "unload", "module": name,
                                "base": base})
            self.handles.pop(name, None)
        super()._on_event(machine)
        rec = self._owner() if self._active else None
        if rec is None:
            return
        mt = self._module(rec, name)
        if what == EV_WRITING:
            self.timer.memory_event("alloc", module=name, region=region, base=f"0x{base:08x}",
                                    size=size)
            if mt is not None:
                mt.region, mt.base = region, base
                mt.evicted = tuple(mt.evicted) + tuple(self._evicting)
                self._evicting.clear()
                self._current = (rec, name, "load")
        elif what == EV_LOADED and mt is not None:
            mod = self.loaded[base].module if base in self.loaded else None
            if mod is not None:
                lazy = len(self._lazy_names(mod)) if self._lazy_load else 0
                mt.eager_imports, mt.lazy_imports = len(mod.imports) - lazy, lazy
                for fn in self._constructors(mod, base):
                    if fn not in self._ctor_entries:
                        machine.breakpoint(fn, self._on_constructor)
                    self._ctor_entries[fn] = name

    def _constructors(self, mod, base: int) -> list[int]:
        out = []
        for table in ("init_array", "ctors"):
            if table in mod.init:
                off, count = mod.init[table]
                out += [self.machine.read_u32(base + off + 4 * i) for i in range(count)]
        thumb = ~1 if self.machine.profile.arch == "arm" else 0xFFFFFFFF
        return [fn & thumb for fn in out if fn not in (0, 0xFFFFFFFF)]

    def _on_constructor(self, machine) -> None:
        pc = machine.reg("pc") & (~1 if machine.profile.arch == "arm" else 0xFFFFFFFF)
        name = self._ctor_entries.get(pc)
        rec = self._owner()
        if not self._active or rec is None or name is None or self._module(rec, name) is None:
            return
        self._attribute()
        self._current = (rec, name, "init")

    # --- loads target code makes (LoadModule from the game, during a call) ---------------
    def _on_reload(self, machine) -> None:
        """A stale stub's reload (GVM_STALE_RELOAD): a ``reload`` record of the module
        until the runtime goes on into the called function, as the reference loader
        records its reloads."""
        self._on_game_load(machine, kind="reload")

    def _on_game_load(self, machine, kind: str = "load") -> None:
        """``LoadModuleEx`` called by target code: a ``load`` record until it returns,
        timed as a load the host asked for (the reference loader records these too)."""
        if self._active or self._probing or self._game is not None:
            return                                  # ours, or nested in a load
        name_ptr, status_ptr = entry_args(machine, 2)
        if kind == "reload":
            status_ptr = 0              # its second argument is the stub's slot
        arch = machine.profile.arch
        ret = (machine.reg("ra") if arch == "mips" else machine.reg("lr") if arch == "arm"
               else machine.read_u32(machine.reg("sp")))
        ret &= ~1 if arch == "arm" else 0xFFFFFFFF
        name = machine.read_cstring(name_ptr).decode("utf-8", "replace")
        self._cpu_until_now()
        clock = self.timer.clock
        rec = self.timer.begin(kind, name)
        self._game = (rec, ret, status_ptr)
        self._record, self._timing = rec, {"request": name, "start_s": clock.now_s,
                                           "media_s": 0.0, "cpu_s": 0.0, "reads": []}
        self._amark, self._active = machine.instructions, True
        if ret not in self._returns:
            self._returns.add(ret)
            machine.breakpoint(ret, self._on_game_return)

    def _on_game_return(self, machine) -> None:
        game = self._game
        if game is None or (machine.reg("pc") & (~1 if machine.profile.arch == "arm"
                                                  else 0xFFFFFFFF)) != game[1]:
            return
        rec, _ret, status_ptr = game
        self._attribute()
        self._cpu_until_now()
        arch = machine.profile.arch
        handle = machine.reg("v0" if arch == "mips" else "r0" if arch == "arm" else "d0")
        status = (TLoadStatus(machine.read_u32(status_ptr)) if status_ptr else
                  TLoadStatus.lsSuccess if handle else TLoadStatus.lsFileNotFound)
        t, self._timing = self._timing, None
        t.update(end_s=self.timer.clock.now_s, status=status.name)
        self.load_times.append(t)
        self._reading = False
        self._game, self._record, self._current, self._active = None, None, None, False
        self._close(rec)
        rec.end_s = self.timer.clock.now_s
        if status != TLoadStatus.lsSuccess:
            rec.status = status.name
            rec.message = self.explain(rec.request, status)
        elif handle and rec.kind != "reload":     # a reload returns the function
            self._remember(handle)
        if not rec.modules:
            self.timer.records.remove(rec)          # nothing read: a reference more, or
                                                    # no such file (as the host records)

    # --- loads, as records --------------------------------------------------------------
    def record_load(self, rec: LoadRecord, name: str, *, lazy: bool = False,
                    region: str | None = None) -> tuple[int, TLoadStatus]:
        """``LoadModuleEx(name)`` (``LoadModuleFlags`` when ``lazy``), its modules added
        to ``rec``; the handle (0 on failure) and the status."""
        from ..runtime.target import LOAD_LAZY
        if region is not None:
            self.place(name, region)
        self._record, self._lazy_load = rec, lazy
        try:
            handle, status = self.load_module(name, LOAD_LAZY if lazy else 0)
        finally:
            self._record, self._current, self._lazy_load = None, None, False
        self._close(rec)
        if status == TLoadStatus.lsSuccess:
            self._remember(handle)
        else:
            rec.status = status.name
            rec.message = self.explain(name, status)
        rec.end_s = self.timer.clock.now_s
        return handle, status

    def request(self, rec: LoadRecord, name: str, *, lazy: bool = False,
                import_: bool = False) -> dict:
        """``LoadModuleAsyncEx(name, 0, flags)`` (or ``GameVMImport``) for ``rec``: the
        request's entry in :attr:`async_loads` (``id`` 0 when the queue is full)."""
        from ..runtime.target import LOAD_LAZY
        clock = self.timer.clock
        raw = {"request": name, "id": 0, "kind": "import" if import_ else "load_async",
               "frame_requested": clock.frame, "start_s": clock.now_s, "media_s": 0.0,
               "reads": [], "status": "lsPending", "frame_completed": None, "end_s": None,
               "record": rec, "lazy": lazy}
        self.set_slice(rec.slice_ms)
        self.async_loads.append(raw)
        self._lazy_load = lazy
        try:
            raw["id"] = (self._run("GameVMImport", self._string(name), 0) if import_ else
                         self._run("LoadModuleAsyncEx", self._string(name), 0,
                                   LOAD_LAZY if lazy else 0))
        finally:
            self._lazy_load = False
        if not raw["id"]:
            self.async_loads.remove(raw)
        return raw

    def frame(self) -> list[dict]:
        first = next(iter(self.pending), None)
        self._lazy_load = bool(first and first.get("lazy"))
        try:
            done = super().frame()
        finally:
            self._lazy_load = False
        for raw in done:
            rec = raw.get("record")
            if rec is not None:
                self._close(rec)
        if not self.pending and self._record is None:
            self._current = None
        return done

    def _close(self, rec: LoadRecord) -> None:
        """``rec``'s modules in the order their reads began."""
        acc = self._acc.get(rec.id, {})
        rec.modules = sorted(acc.values(), key=lambda mt: mt.media.start_s)

    def _remember(self, handle: int) -> None:
        base = self.handle_base(handle)
        t = self.loaded.get(base)
        if t is not None:
            t.handle = handle
            self.handles[t.name] = handle

    def skip_cpu(self) -> None:
        """The instructions the CPU ran since the clock last looked take no time."""
        self._mark = self.machine.instructions

    def handle_of(self, name: str) -> int | None:
        """The runtime's handle of loaded module ``name``: known from the load that
        returned it, else asked for as a game would (``LoadModuleEx`` then
        ``UnloadModule``: one reference taken and given back, off the clock)."""
        if self.by_name(name) is None:
            return None
        if name in self.handles:
            return self.handles[name]
        m = self.machine
        self._cpu_until_now()
        m.reset_scratch()
        st = m.alloc(4)
        self._probing = True
        try:
            handle = m.call("LoadModuleEx", m.alloc_string(name), st)
            if m.read_u32(st) == TLoadStatus.lsSuccess and handle:
                m.call("UnloadModule", handle)
                self._remember(handle)
        finally:
            self._probing = False
        self._mark = m.instructions
        return self.handles.get(name)

    def refcount(self, name: str) -> int | None:
        h = self.handle_of(name)
        if h is None:
            return None
        return self.handle_refcount(h)

    def unload_named(self, name: str) -> TLoadStatus:
        """``UnloadModule`` of loaded module ``name`` (``lsInvalidHandle`` if not loaded)."""
        h = self.handle_of(name)
        if h is None:
            return TLoadStatus.lsInvalidHandle
        status = self.unload_module(h)
        if self.by_name(name) is None:
            self.handles.pop(name, None)
        return status


def _phase(mt: ModuleTiming, phase: str, start: float, end: float) -> None:
    """Add ``[start, end)`` to ``mt``'s phases, merged with the last one of that phase
    when they touch."""
    if end <= start:
        return
    if mt.phases and mt.phases[-1][0] == phase and abs(mt.phases[-1][2] - start) < 1e-12:
        mt.phases[-1] = (phase, mt.phases[-1][1], end)
    else:
        mt.phases.append((phase, start, end))


def check_target_policy(policy, where: str, symbols=()) -> None:
    """Policies the console-side runtime does not have are an error, not ignored; the stale
    "reload" policy needs ``GameVMSetStale`` among the resident's ``symbols``."""
    from ..errors import ConfigError
    if policy.stale == "reload" and "GameVMSetStale" not in symbols:
        raise ConfigError(f"{where}: policy.stale: \"reload\" needs GameVMSetStale in the "
                          "resident's console-side runtime (the kernel calls "
                          "GameVMSetStale(GVM_STALE_RELOAD), or link it with --keep "
                          "GameVMSetStale), or run with --loader host")
    if not policy.double_buffer:
        raise ConfigError(f"{where}: policy.double_buffer: false is the host loader's (the "
                          "console-side runtime pairs the regions the project pairs): run with "
                          "--loader host")
