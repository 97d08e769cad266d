"""Simulated time of the emulated runtime: the clock, the drive, and what every load costs.

Every load the emulated console performs is timed with **the same models the
load-budget analyzer uses** (``analysis/timing.py``), so an observed load and
its static bound are directly comparable (``gamevm budget --check-trace``):

* **media** (:class:`Drive`): the project's media model (:mod:`gamevm_build.project.media`,
  e.g. ``ps1-worst-2x`` or ``n64-pi``) with the *simulated head position*.  A
  read at LBA ``p`` from head ``h`` costs ``model.access_s(h, p, state) +
  model.transfer_s(bytes)``; the first read of a load finds the drive in the
  project's idle state (``drive``, default paused), later reads of the same load
  find it reading (a module directly after the previous one costs no access).
  After a read the head is at ``p + sectors``; a module without a disc position
  leaves the head unknown and is charged the model's worst seek, as the analyzer
  does.  At boot the head is unknown, or where the disc layout says the boot
  executable left it (``boot_head``).  With a disc layout an unknown head is
  somewhere in the sectors its data occupies (``span``; the access is the worst
  from there, :func:`gamevm_build.analysis._index.span_access`), and a load reads the copy of
  a duplicated module the layout assigns to it (``reads``).
* **CPU** (:func:`cpu_steps`): :func:`gamevm_build.runtime.loadcost.module_cost` for the
  loader's own work (header and allocation, copy, bss, relocations by type,
  binding each eager import by binary search of the global symbol table, one
  call per constructor).  The host performs these steps, so they are modelled;
  the per-relocation cycles are themselves emulated instruction counts of the
  reference relocation loop (:mod:`gamevm_build.runtime.loadcost`).
* **constructors** are *measured*: the instructions the emulated CPU executes in
  them (:attr:`gamevm_build.emu.machine.Machine.instructions`), at one cycle per
  instruction at the profile's clock.  The project's declared ``init_ms`` (what
  the analyzer charges) is recorded next to it; a constructor that runs longer
  than declared makes the analysis unsound, which the trace check reports.

:class:`SimClock` counts seconds and frames.  Synchronous loads advance it by
their whole duration (the game is blocked); asynchronous loads read while the
game runs and relocate in per-frame CPU slices (:mod:`gamevm_build.runtime.asyncload`).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

from .loadcost import (CpuCosts, compared_bytes, cpu_costs, head_bytes, module_cost,
                       lookup_terms, registered_needs, search_probes)
from ..project.media import HeadState, MediaModel, default_model_for, get_model

__all__ = ["SimClock", "MediaStep", "Drive", "ModuleTiming", "LoadRecord", "LoadTimer",
           "cpu_steps", "CPU_STEPS", "completion_frames", "file_frames"]

_EPS = 1e-9
#: CPU steps of a load, in the order they happen (loadcost names)
CPU_STEPS = ("fixed", "copy", "zero", "relocate", "bind", "init")


def completion_frames(media_frames: int, cpu_frames: int) -> int:
    """Frames from an asynchronous request to the frame it completes in (its callback runs).

    Its reads end in the ``media_frames``-th frame; the loader finds them done when the
    next frame starts (``GameVMFrame``) and does one CPU slice per frame from there, so
    the last of ``cpu_frames`` slices, and the completion, fall in frame
    ``media_frames + cpu_frames - 1``.  The analyzer's stream deadlines, the reference
    loader's frame loop and the console-side runtime all count this way.
    """
    return media_frames + max(cpu_frames - 1, 0)


def file_frames(media_s: float, cpu_s: float, fps: float, slice_ms: float) -> tuple[int, int]:
    """Frames one file of an asynchronous load takes: its read, from the frame it starts in
    to the one that finds it done, and its CPU slices (``(media, cpu)`` frames; a read
    ending on a frame boundary is found then)."""
    return (math.ceil(media_s * fps - _EPS),
            math.ceil(cpu_s * 1e3 / slice_ms - _EPS) if slice_ms > 0 else 0)


def _ms(seconds: float) -> float:
    return round(seconds * 1e3, 6)


class SimClock:
    """Simulated time in seconds, and frames at ``frame_rate`` Hz (frame k = [k/fps, (k+1)/fps))."""

    def __init__(self, frame_rate: int = 60):
        self.frame_rate = frame_rate
        self.now_s = 0.0

    @property
    def frame_s(self) -> float:
        return 1.0 / self.frame_rate

    @property
    def frame(self) -> int:
        """The frame ``now`` lies in."""
        return math.floor(self.now_s * self.frame_rate + _EPS)

    def frame_start(self, k: int) -> float:
        return k / self.frame_rate

    def on_boundary(self) -> bool:
        return abs(self.now_s * self.frame_rate - round(self.now_s * self.frame_rate)) < 1e-6

    def snap(self) -> int:
        """Move ``now`` to the next frame boundary unless it is on one; return that frame."""
        if not self.on_boundary():
            self.now_s = self.frame_start(self.frame + 1)
        else:
            self.now_s = self.frame_start(round(self.now_s * self.frame_rate))
        return self.frame

    def advance(self, seconds: float) -> None:
        self.now_s += max(seconds, 0.0)


@dataclass
class MediaStep:
    """One read: where the head was, what it cost (seconds), when it ran."""

    module: str
    lba: int | None
    nbytes: int
    sectors: int
    from_lba: int | None
    state: str
    start_s: float
    access_s: float
    seek_s: float
    read_s: float

    @property
    def end_s(self) -> float:
        return self.start_s + self.access_s + self.read_s

    @property
    def media_s(self) -> float:
        return self.access_s + self.read_s


class Drive:
    """The console's drive (or cartridge bus): one read at a time, a head, a model."""

    def __init__(self, model: MediaModel, idle_state: HeadState | str = HeadState.PAUSED, *,
                 head: int | None = None, span: tuple | None = None):
        self.model = model
        self.idle = HeadState(idle_state)
        self.head: int | None = head          # None: unknown (at boot, unless a layout knows)
        self.span = span                      # (lo, hi): where an unknown head can be
        self.free_s = 0.0                     # when the current read ends

    def _access(self, lba, state, *, seek: bool) -> float:
        if self.head is None and lba is not None and self.span is not None:
            from gamevm_build.analysis._index import span_access  # the analyzer's own rule
            return span_access(self.model, lba, state, self.span, seek=seek)
        if seek:
            return self.model.seek_s(self.head, lba, head_state=state)
        return self.model.access_s(self.head, lba, head_state=state)

    def read(self, module: str, lba: int | None, nbytes: int, *, at_s: float,
             first: bool) -> MediaStep:
        """Schedule a read of ``nbytes`` at ``lba`` no earlier than ``at_s``; move the head."""
        start = max(at_s, self.free_s)
        state = self.idle if first else HeadState.READING
        access = self._access(lba, state, seek=False)
        seek = 0.0 if access == 0.0 else self._access(lba, state, seek=True)
        sectors = self.model.sectors_for(nbytes)
        step = MediaStep(module, lba, nbytes, sectors, self.head, state.value, start, access,
                         seek, self.model.transfer_s(nbytes))
        self.head = lba + sectors if lba is not None else None
        self.free_s = step.end_s
        return step


def module_counts(module) -> tuple[Counter, int]:
    """(relocations by type name, constructors) of ``module``, computed once per module."""
    cached = getattr(module, "_gvm_counts", None)
    if cached is None:
        cached = (Counter(r.type_name for r in module.relocations),
                  sum(int(v[1]) for k, v in module.init.items() if k in ("init_array", "ctors")))
        try:
            module._gvm_counts = cached
        except AttributeError:
            pass
    return cached


def cpu_steps(costs: CpuCosts, module, *, symbols: int, eager_imports: int,
              init_s: float = 0.0, resident=None, co_resident=(), needs=None,
              registered=None, request: str | None = None) -> dict[str, float]:
    """Seconds of each CPU step of loading ``module`` (:data:`CPU_STEPS`).

    Exactly the analyzer's accounting (``gamevm_build.analysis.model.module_info`` +
    :func:`~gamevm_build.runtime.loadcost.module_cost`), with ``eager_imports`` bound
    now (lazy imports are bound at their first call) and ``init_s`` the
    constructors' own time (measured, or declared).  ``resident``: the names the
    resident's symbol table has (the other imports are searched for in the loaded
    modules: all of them, without it); ``co_resident``: ``(name, exports)`` of each
    module loaded meanwhile; ``needs``: the needs the runtime looks up (the file's by
    default); ``registered``: the needs table the game registered (module -> needs);
    ``request``: what the game asked for (a path costs more than the name: the runtime
    reads the whole request again for every entry of that table).
    """
    relocations, ctors = module_counts(module)
    tables = [sorted(exports) for _n, exports in co_resident]
    symtab = sorted(resident) if resident is not None else []
    loaded = sorted(n for n, _e in co_resident)
    walk = registered_needs(registered or {})(module.name, request)
    lookups = lookup_terms(
        module.imports, module.needs if needs is None else needs, resident=resident,
        compare_resident=lambda n: compared_bytes(n, symtab),
        compare_module=lambda n: compared_bytes(n, loaded),
        searched_bytes=lambda names: sum(search_probes(len(e)) * compared_bytes(n, e)
                                         for n in names for e in tables),
        share=eager_imports / max(len(module.imports), 1))
    cost = module_cost(costs, copy_bytes=module.copy_bytes, zero_bytes=module.zero_bytes,
                       relocations=relocations, imports=eager_imports, symbols=symbols,
                       sections=len(module.sections), export_bytes=sum(map(len, module.exports)),
                       co_resident=[len(e) for _n, e in co_resident], **lookups, **walk,
                       head_bytes=head_bytes(module.file_size, module.copy_bytes),
                       constructors=ctors, exports=len(module.exports),
                       local_symbols=module.local_symbols,
                       metadata_bytes=module.metadata_size, form=module.form,
                       decode=module.decode_stats, file_bytes=module.file_size)
    steps = {k: cost.step_s(k) for k in CPU_STEPS}
    steps["init"] += init_s
    return steps


@dataclass
class ModuleTiming:
    """One module of a load: its read and its CPU steps (seconds), with timestamps."""

    module: str
    media: MediaStep
    cpu: dict = field(default_factory=dict)            # step -> seconds
    phases: list = field(default_factory=list)         # (phase, start_s, end_s)
    handle: int | None = None
    region: str | None = None
    base: int | None = None
    evicted: tuple = ()
    lazy_imports: int = 0
    eager_imports: int = 0
    init_instructions: int | None = None               # measured on the emulated CPU
    init_measured_s: float | None = None
    init_declared_s: float = 0.0

    @property
    def cpu_s(self) -> float:
        return sum(self.cpu.values())

    @property
    def total_s(self) -> float:
        return self.media.media_s + self.cpu_s

    def to_dict(self) -> dict:
        m = self.media
        out = {"module": self.module, "handle": self.handle, "region": self.region,
               "base": None if self.base is None else f"0x{self.base:08x}",
               "lba": m.lba, "bytes": m.nbytes, "sectors": m.sectors, "from_lba": m.from_lba,
               "drive": m.state, "access_ms": _ms(m.access_s), "seek_ms": _ms(m.seek_s),
               "read_ms": _ms(m.read_s), "media_ms": _ms(m.media_s),
               "cpu_ms": _ms(self.cpu_s), "cpu": {k: _ms(v) for k, v in self.cpu.items()},
               "total_ms": _ms(self.total_s),
               "phases": [{"phase": p, "start_ms": _ms(a), "end_ms": _ms(b)}
                          for p, a, b in self.phases],
               "eager_imports": self.eager_imports, "lazy_imports": self.lazy_imports,
               "init_declared_ms": _ms(self.init_declared_s)}
        if self.init_instructions is not None:
            out["init_measured"] = {"instructions": self.init_instructions,
                                    "ms": _ms(self.init_measured_s or 0.0)}
        if self.evicted:
            out["evicted"] = list(self.evicted)
        return out


@dataclass
class LoadRecord:
    """One load operation: a transition's plan, a stream, a LoadModule call...

    ``kind``: ``boot`` / ``transition`` / ``stream`` (scene-driven, budgeted),
    ``load`` / ``load_async`` / ``import`` / ``reload`` (explicit, unbudgeted).
    """

    id: int
    kind: str
    request: str
    start_s: float
    modules: list = field(default_factory=list)        # ModuleTiming
    end_s: float | None = None
    status: str = "lsSuccess"
    message: str = ""
    source: str | None = None                          # scene left (transitions)
    target: str | None = None                          # scene entered / scene of a stream
    stream: int | None = None
    frame_requested: int | None = None
    frame_completed: int | None = None
    slice_ms: float | None = None
    async_: bool = False
    slices: list = field(default_factory=list)         # (frame, start_s, end_s) of CPU work

    @property
    def media_s(self) -> float:
        return sum(m.media.media_s for m in self.modules)

    @property
    def cpu_s(self) -> float:
        return sum(m.cpu_s for m in self.modules)

    @property
    def total_s(self) -> float:
        return self.media_s + self.cpu_s

    def to_dict(self) -> dict:
        out = {"id": self.id, "kind": self.kind, "request": self.request,
               "async": self.async_, "status": self.status,
               "start_ms": _ms(self.start_s),
               "end_ms": None if self.end_s is None else _ms(self.end_s),
               "media_ms": _ms(self.media_s), "cpu_ms": _ms(self.cpu_s),
               "total_ms": _ms(self.total_s),
               "modules": [m.to_dict() for m in self.modules]}
        for key, value in (("from", self.source), ("to", self.target), ("stream", self.stream),
                           ("frame_requested", self.frame_requested),
                           ("frame_completed", self.frame_completed),
                           ("slice_ms", self.slice_ms)):
            if value is not None:
                out[key] = value
        if self.frame_requested is not None and self.frame_completed is not None:
            out["frames"] = self.frame_completed - self.frame_requested
        if self.slices:
            out["slices"] = [{"frame": k, "start_ms": _ms(a), "end_ms": _ms(b)}
                             for k, a, b in self.slices]
        if self.message:
            out["message"] = self.message
        return out


class LoadTimer:
    """Clock, drive and CPU costs of one emulated console, and the record of every load.

    Parameters
    ----------
    profile : Profile or str
    model : MediaModel or str, optional
        Default: the profile's default model (``ps1-worst-2x``, ``n64-pi``...).
    drive : str
        Idle drive state between loads (the project's ``media.drive``).
    positions : dict, optional
        Module name -> disc LBA (``disc.positions``).
    init_ms : dict, optional
        Module name -> declared constructor time (``modules.NAME.init_ms``).
    frame_rate : int
    """

    def __init__(self, profile, model=None, *, drive: str = "paused", positions=None,
                 init_ms=None, frame_rate: int = 60, boot_head: int | None = None,
                 span: tuple | None = None, reads=None):
        self.costs = cpu_costs(profile)
        if model is None:
            model = default_model_for(self.costs.target)
        self.model = get_model(model) if isinstance(model, str) else model
        self.clock = SimClock(frame_rate)
        self.drive = Drive(self.model, drive, head=boot_head, span=span)
        self.positions: dict[str, int] = dict(positions or {})
        #: load name ("boot", "from -> to", "streams[i]") -> {module: LBA of the copy it reads}
        self.reads: dict[str, dict[str, int]] = {k: dict(v) for k, v in (reads or {}).items()}
        self.init_ms: dict[str, float] = dict(init_ms or {})
        self.records: list[LoadRecord] = []
        self.memory: list[dict] = []
        #: simulated time of the load step in progress (memory events are stamped with it)
        self.stamp_s: float | None = None
        self._next = 1

    @property
    def clock_hz(self) -> int:
        return self.costs.clock_hz

    def begin(self, kind: str, request: str, **kw) -> LoadRecord:
        rec = LoadRecord(self._next, kind, request, self.clock.now_s, **kw)
        self._next += 1
        self.records.append(rec)
        return rec

    def memory_event(self, event: str, **fields) -> None:
        """Record an allocation, free or eviction (at :attr:`stamp_s` while a load links)."""
        t = self.stamp_s if self.stamp_s is not None else self.clock.now_s
        entry = {"t_ms": _ms(t), "frame": math.floor(t * self.clock.frame_rate + _EPS),
                 "event": event}
        entry.update(fields)
        self.memory.append(entry)

    def instructions_s(self, instructions: int) -> float:
        """Seconds of ``instructions`` emulated instructions at one cycle each."""
        return instructions / self.costs.clock_hz

    def position(self, name: str, load: str | None = None) -> int | None:
        """LBA load ``load`` reads module ``name`` at (its copy, with a disc layout)."""
        over = self.reads.get(load) if load is not None else None
        if over and name in over:
            return over[name]
        return self.positions.get(name)
