"""Asynchronous loading on a simulated clock: ``LoadModuleAsync``, streams, prefetch, import.

An asynchronous load reads while the game runs and relocates in slices of CPU
time the game gives it each frame (seed §5.1 "Pre-fetching"; the project's
``streams[].cpu_slice_ms``).  It is driven by the frame loop: the host's
(:meth:`gamevm_build.play.console.Console.advance`, a scenario's ``advance`` step)
or the game's own (``GameVMFrame()`` in ``gamevm.h``).

Timing, matching the analyzer's stream model (``analysis/streaming.py``):

* the reads are scheduled on the drive when the load is requested, after any
  read in flight (:class:`gamevm_build.runtime.loadtime.Drive`); the first read of a
  request finds the drive in its idle state;
* the CPU work (copy, relocation, binding, constructor calls and the declared
  constructor time, :func:`gamevm_build.runtime.loadtime.cpu_steps`) starts at the first
  frame that begins after the last read ended, and gets ``slice_ms`` of each
  frame; requests share the frame's slice in request order (a request's CPU work
  never starts before the previous request's finished);
* the load completes at the frame boundary after its CPU work is done: it is
  then linked into RAM, its constructors run and ``on_complete(handle, status)``
  is called.

So a request made at frame ``F`` with media time ``m`` and CPU work ``c``
completes at frame ``F + ceil(m · fps) + ceil(c / slice)``: the analyzer's
prediction when the head is where the analysis assumed.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from .reference import LoadError, TLoadStatus

__all__ = ["AsyncJob", "AsyncLoader", "DEFAULT_SLICE_MS"]

#: CPU slice per frame of a LoadModuleAsync that does not say (ms)
DEFAULT_SLICE_MS = 2.0
_EPS = 1e-12


@dataclass
class AsyncJob:
    id: int
    kind: str                          # load_async | stream | import | prefetch
    request: str
    record: object
    slice_s: float
    callback: int = 0                  # target function to call on completion (0: none)
    from_target: bool = False
    items: list = field(default_factory=list)
    present: list = field(default_factory=list)
    region: str | None = None
    lazy: bool | None = None
    media_end_s: float = 0.0
    cpu_total_s: float = 0.0
    cpu_left_s: float = 0.0
    cpu: dict = field(default_factory=dict)          # module -> scheduled CPU steps
    slices: list = field(default_factory=list)       # (frame, start_s, end_s)
    state: str = "reading"                            # reading | linking | done | failed
    status: TLoadStatus = TLoadStatus.lsPending
    handle: int = 0
    error: str = ""
    frame_requested: int = 0
    frame_completed: int | None = None
    scene: str | None = None
    stream: int | None = None
    alternate: bool | None = None
    hold_all: bool = False

    @property
    def pending(self) -> bool:
        return self.state not in ("done", "failed")

    @property
    def names(self) -> list[str]:
        return [it.module.name for it in self.items]


class AsyncLoader:
    """The console's queue of asynchronous loads (see the module docstring)."""

    def __init__(self, console):
        self.console = console
        self.loader = console.loader
        self.timer = console.loader.timer
        self.jobs: list[AsyncJob] = []
        self.history: dict[int, AsyncJob] = {}
        self.ready: deque = deque()            # completed, for the target's GameVMFrame loop
        self.completed: list[AsyncJob] = []    # completed, in order (host view)
        self._next = 1

    @property
    def active(self) -> list[AsyncJob]:
        return [j for j in self.jobs if j.pending]

    def pending_names(self) -> set[str]:
        return {n for j in self.jobs if j.pending for n in j.names}

    def request(self, name: str | list, *, slice_ms: float | None = None, callback: int = 0,
                kind: str = "load_async", region: str | None = None, lazy: bool | None = None,
                needs: bool = True, from_target: bool = False, scene: str | None = None,
                stream: int | None = None, alternate: bool | None = None,
                hold_all: bool = False) -> AsyncJob:
        """Start loading ``name`` (or several names: one request) in the background."""
        clock = self.timer.clock
        names = [name] if isinstance(name, str) else list(name)
        slice_s = (slice_ms if slice_ms is not None else DEFAULT_SLICE_MS) / 1e3
        record = self.timer.begin(kind, ", ".join(names), target=scene, stream=stream,
                                  async_=True, slice_ms=slice_s * 1e3,
                                  frame_requested=clock.frame)
        job = AsyncJob(self._next, kind, ", ".join(names), record, slice_s, callback or 0,
                       from_target, region=region, lazy=lazy, frame_requested=clock.frame,
                       scene=scene, stream=stream, alternate=alternate, hold_all=hold_all)
        self._next += 1
        self.history[job.id] = job
        self.jobs.append(job)
        try:
            exclude = set(self.pending_names())
            for n in names:
                if kind == "import":
                    n = self.loader.dispatch(n)
                    job.request = n
                existing = self.loader._loaded_for(n)
                if existing is not None:
                    job.present.append(existing.name)
                    continue
                items, present = self.loader.collect(n, needs=needs, region=region,
                                                     exclude=exclude)
                exclude.update(it.module.name for it in items)
                job.items += items
                job.present += [p for p in present if p not in job.present]
        except LoadError as exc:
            job.state, job.status, job.error = "failed", exc.status, str(exc)
            record.status, record.message = exc.status.name, str(exc)
            job.media_end_s = clock.now_s
            return job
        if job.items:
            job.media_end_s = self.loader.read_items(
                job.items, record, at_s=clock.now_s,
                load=f"streams[{stream}]" if kind == "stream" else None)
        else:
            job.media_end_s = clock.now_s
        for it in job.items:
            lazy_n = len(self.loader._lazy_names(it.module)) if (
                self.loader.policy.lazy if lazy is None else lazy) else 0
            cpu = self.loader.cpu_model(it.module, eager_imports=len(it.module.imports) - lazy_n)
            job.cpu[it.module.name] = cpu
            job.cpu_total_s += sum(cpu.values())
        job.cpu_left_s = job.cpu_total_s
        job.state = "reading"
        self.loader.events.append({"event": "async-request", "id": job.id, "kind": kind,
                                   "request": job.request, "modules": job.names,
                                   "frame": clock.frame})
        return job

    # --- the frame loop ---------------------------------------------------------------
    def tick(self, k: int) -> list[AsyncJob]:
        """CPU slices of frame ``k`` (the clock is at its start); the jobs it completes."""
        start = self.timer.clock.frame_start(k)
        frame_left = 1.0                       # fraction of the frame's slice still free
        done: list[AsyncJob] = []
        for job in list(self.jobs):
            if not job.pending:
                continue
            if job.state == "failed":
                continue
            if job.media_end_s > start + 1e-9:
                break                           # CPU work is done in request order
            job.state = "linking"
            avail = frame_left * job.slice_s
            use = min(avail, job.cpu_left_s)
            if use > 0:
                used_before = (1.0 - frame_left) * job.slice_s
                job.slices.append((k, start + used_before, start + used_before + use))
            job.cpu_left_s -= use
            frame_left -= use / job.slice_s if job.slice_s > 0 else 1.0
            if job.cpu_left_s <= _EPS:
                done.append(job)
                if frame_left <= _EPS:
                    break
            else:
                break
        failed = [j for j in self.jobs if j.state == "failed" and j.frame_completed is None]
        return failed + done

    def finish(self, job: AsyncJob, k_end: int) -> None:
        """Complete ``job`` at the boundary ``k_end``: link, construct, call back."""
        loader, clock = self.loader, self.timer.clock
        rec = job.record
        if job.state != "failed":
            try:
                lms = []
                if job.items:
                    lms = loader.link_items(job.items, job.present, rec, run_init=True,
                                            lazy=job.lazy, alternate=job.alternate,
                                            cpu_start_s=clock.now_s, advance_clock=False,
                                            modelled_init=True, hold_all=job.hold_all)
                else:
                    for n in job.present:
                        lm = loader.by_name(n)
                        if lm is not None:
                            loader._add_ref(lm, job.kind)
                            lms = [lm]
                top = lms[-1] if lms else None
                job.handle = top.handle if top else 0
                job.status, job.state = TLoadStatus.lsSuccess, "done"
            except LoadError as exc:
                job.state, job.status, job.error = "failed", exc.status, str(exc)
                rec.status, rec.message = exc.status.name, str(exc)
        # the schedule, not the link call, is what the frames paid for
        for mt in rec.modules:
            if mt.module in job.cpu:
                mt.cpu = dict(job.cpu[mt.module])
                mt.phases = [p for p in mt.phases if p[0] in ("seek", "read")]
        rec.slices = list(job.slices)
        rec.end_s = clock.now_s
        rec.frame_completed = job.frame_completed = k_end
        self.jobs.remove(job)
        self.completed.append(job)
        loader.events.append({"event": "async-complete", "id": job.id, "request": job.request,
                              "status": job.status.name, "frame": k_end,
                              "frames": k_end - job.frame_requested})
        if self.console.machine.running:
            self.ready.append(job)              # the target's GameVMFrame loop finishes it
        elif job.callback:
            self.console.machine.call(job.callback, job.handle, int(job.status))

    def status(self, job_id: int) -> TLoadStatus:
        job = self.history.get(job_id)
        if job is None:
            return TLoadStatus.lsInvalidHandle
        return job.status if not job.pending else TLoadStatus.lsPending

    def predicted_frames(self, job: AsyncJob) -> int:
        """``ceil(media · fps) + ceil(cpu / slice)`` from the request (analyzer formula)."""
        fps = self.timer.clock.frame_rate
        media = max(job.media_end_s - self.timer.clock.frame_start(job.frame_requested), 0.0)
        return math.ceil(media * fps - 1e-9) + math.ceil(job.cpu_total_s / job.slice_s - 1e-9)
