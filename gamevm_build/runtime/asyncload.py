"""Asynchronous loading on a simulated clock: ``LoadModuleAsync``, streams, prefetch, import.

An asynchronous load reads while the game runs and relocates in slices of CPU
time the game gives it each frame (seed §5.1 "Pre-fetching"; the project's
``streams[].cpu_slice_ms``).  It is driven by the frame loop: the host's
(:meth:`gamevm_build.play.console.Console.advance`, a scenario's ``advance`` step)
or the game's own (``GameVMFrame()`` in ``gamevm.h``).

Timing, the console-side runtime's (``gvm_loader.c``) and the analyzer's stream model
(``analysis/streaming.py``):

* requests are worked through in order, one at a time; a request reads its files
  (the module, its needs first) one after the other, on the drive
  (:class:`gamevm_build.runtime.loadtime.Drive`): the first read of the first request
  starts when it is made, the drive in its idle state;
* a read is found done when the next frame starts; that file's CPU work (copy,
  relocation, binding, constructor calls and the declared constructor time,
  :func:`gamevm_build.runtime.loadtime.cpu_steps`) then gets ``slice_ms`` of each frame
  (the requests of a frame share the first one's slice), and when it is done the next
  file's read starts, or the next request's;
* the load completes in the frame of its last slice: it is then linked into RAM,
  its constructors run and ``on_complete(handle, status)`` is called.

So a request made at a frame boundary completes ``Σ ceil(m_i · fps) + Σ ceil(c_i /
slice) - 1`` frames later over its files ``i`` (media time ``m_i``, CPU work ``c_i``;
:func:`gamevm_build.runtime.loadtime.completion_frames`), at most: the analyzer's
bound when the head is where the analysis assumed.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from .loadtime import completion_frames, file_frames
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
    cpu_total_s: float = 0.0
    cpu: dict = field(default_factory=dict)          # module -> scheduled CPU steps
    slices: list = field(default_factory=list)       # (frame, start_s, end_s)
    #: the file being loaded (index into items; -1: the first read has not started),
    #: when its read ends, and its CPU work still to do once it is read
    file: int = -1
    read_end_s: float = 0.0
    file_cpu_left_s: float | None = None
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
    load_name: str | None = None

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
            return job
        job.load_name = f"streams[{stream}]" if kind == "stream" else None
        for k, it in enumerate(job.items):
            lazy_n = len(self.loader._lazy_names(it.module)) if (
                self.loader.policy.lazy if lazy is None else lazy) else 0
            cpu = self.loader.cpu_model(it.module, eager_imports=len(it.module.imports) - lazy_n,
                                        before=[i.module for i in job.items[:k]],
                                        request=it.request)
            job.cpu[it.module.name] = cpu
            job.cpu_total_s += sum(cpu.values())
        job.state = "reading"
        if self.active and self.active[0] is job:
            self._next_file(job, clock.now_s)      # the drive starts now
        self.loader.events.append({"event": "async-request", "id": job.id, "kind": kind,
                                   "request": job.request, "modules": job.names,
                                   "frame": clock.frame})
        return job

    # --- the frame loop ---------------------------------------------------------------
    def _next_file(self, job: AsyncJob, at_s: float) -> bool:
        """Start reading ``job``'s next file at ``at_s``; False when it has none left."""
        job.file += 1
        job.file_cpu_left_s = None
        if job.file >= len(job.items):
            return False
        it = job.items[job.file]
        job.read_end_s = self.loader.read_items([it], job.record, at_s=at_s,
                                                load=job.load_name, first=job.file == 0)
        return True

    def tick(self, k: int) -> list[AsyncJob]:
        """CPU slices of frame ``k`` (the clock is at its start); the jobs it completes."""
        start = self.timer.clock.frame_start(k)
        done: list[AsyncJob] = []
        budget = next((j.slice_s for j in self.jobs if j.pending), 0.0)
        used = 0.0                              # CPU seconds of the frame's slice used
        for job in list(self.jobs):
            if not job.pending:
                continue
            if job.file < 0 and job.items:      # its turn came in this frame: reading
                self._next_file(job, start + used)
                break
            while job.items and job.file < len(job.items):
                if job.file_cpu_left_s is None:
                    if job.read_end_s > start + _EPS:
                        break                   # not read yet: this frame does nothing more
                    job.file_cpu_left_s = sum(job.cpu[job.items[job.file].module.name].values())
                use = min(max(budget - used, 0.0), job.file_cpu_left_s)
                if use > 0:
                    job.slices.append((k, start + used, start + used + use))
                    used += use
                    job.file_cpu_left_s -= use
                if job.file_cpu_left_s > _EPS:
                    break                       # the frame's slice is used up
                if not self._next_file(job, start + used):
                    break
                break                           # its read is found done in a later frame
            if job.items and job.file < len(job.items):
                break                           # one request at a time
            job.state = "linking"
            done.append(job)
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
        """Frames from the request to its completion by the analyzer's count over its files
        (:func:`~gamevm_build.runtime.loadtime.completion_frames`): the reads done so far
        as they went, the others as the drive (a copy of it) would do them from here."""
        import copy
        fps = self.timer.clock.frame_rate
        drive = copy.copy(self.timer.drive)
        media = cpu = 0
        for k, it in enumerate(job.items):
            name = it.module.name
            if it.timing is not None:
                m = it.timing.media.media_s
            else:
                m = drive.read(name, self.timer.position(name, job.load_name),
                               it.module.file_size, at_s=drive.free_s, first=k == 0).media_s
            fm, fc = file_frames(m, sum(job.cpu[name].values()), fps, job.slice_s * 1e3)
            media, cpu = media + fm, cpu + fc
        return completion_frames(media, cpu)
