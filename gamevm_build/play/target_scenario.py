"""A scenario's steps on the console-side C runtime (``gamevm run --loader target``).

The steps mean what they mean on the host's reference loader
(:mod:`gamevm_build.play.scenario`), carried out through the runtime's API as a
game would call it: a scene's modules are ``LoadModuleEx`` calls, needs first
(each module of the scene holds a reference, as the host's scene loads do);
streams, ``load_async``, ``prefetch`` and ``import`` are ``LoadModuleAsyncEx`` /
``GameVMImport`` requests completed by ``GameVMFrame``; ``unload`` is
``UnloadModule``.  :class:`~gamevm_build.play.target_trace.TracedTargetLoader`
records every load in the trace's terms.
"""

from __future__ import annotations

from ..errors import ConfigError, GameVMError
from ..runtime.reference import LoadError, TLoadStatus
from .scenario import Step, _Expectation, _Runner

__all__ = ["TargetRunner"]

#: steps this runner carries out itself; the others (call, expect) are the host's
_OWN = {"load", "load_async", "import", "prefetch", "unload", "advance", "wait"}


def loader_has(loader, name: str) -> bool:
    return loader.by_name(name) is not None


class TargetRunner(_Runner):
    """:class:`~gamevm_build.play.scenario._Runner` on a console whose loader is the
    console-side runtime (a :class:`~gamevm_build.play.target_trace.TracedTargetLoader`)."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        #: asynchronous loads as the scenario asked for them: one record, the runtime's
        #: requests (a stream of several modules is one request per module)
        self.groups: list[dict] = []
        self._needs: dict[str, tuple] = {}

    # -- what is where ------------------------------------------------------------------
    def needs_of(self, name: str) -> tuple:
        """The file's needs, then the project's (the order the runtime loads them in)."""
        if name not in self._needs:
            from ..link.module import read_module
            from ..runtime.readers import ModuleNotFound
            self._needs[name] = ()             # the runtime says why when it loads it
            try:
                # a file the project names but cannot be read (a directory, a device) is
                # an input error, as on the reference loader, not a module to look for
                path, data = self.c.loader.reader.read(name)
            except ModuleNotFound:
                return ()
            try:
                self._needs[name] = self.c.reference.needs_of(read_module(data, name=path))
            except GameVMError:
                pass
        return self._needs[name]

    def closure(self, names, exclude=()) -> list[str]:
        """``names`` closed over needs, needs first, without what is loaded or ``exclude``."""
        loader, out = self.c.loader, []

        def visit(n, chain):
            if n in out or n in exclude or n in chain or loader.by_name(n) is not None:
                return
            for d in self.needs_of(n):
                visit(d, chain | {n})
            out.append(n)
        for n in names:
            visit(n, frozenset())
        return out

    def pending_names(self) -> set[str]:
        return {raw["request"] for g in self.groups if not g["done"] for raw in g["raws"]}

    def refcount(self, name: str) -> int | None:
        return self.c.loader.refcount(name)

    def pending_count(self) -> int:
        return sum(1 for g in self.groups if not g["done"])

    # -- scenes -----------------------------------------------------------------------
    def enter(self, scene: str, step: Step) -> None:
        cfg = self.config
        source, kind = self.leave_for(scene, step)
        c, loader = self.c, self.c.loader
        rec = c.timer.begin(kind, scene, source=source, target=scene)
        # the scene's modules, each with its needs in the same call (the drive keeps
        # reading from one file to the next); then every module the scene brought in
        # holds a reference of its own, as the host's scene loads do
        closure = self.closure(cfg.scenes[scene].modules)
        for name in cfg.scenes[scene].modules:
            if name in closure and loader.by_name(name) is None:
                _handle, status = loader.record_load(rec, name)
                if status != TLoadStatus.lsSuccess:
                    raise LoadError(status, rec.message)
        for name in closure:
            if name not in cfg.scenes[scene].modules:
                loader.record_load(rec, name)
        rec.end_s = c.clock.now_s
        self.log_scene_load(kind, source, scene, rec)
        self.scene = scene
        c.clock.snap()
        for st in cfg.streams:
            if st.scene != scene:
                continue
            closure = self.closure(st.modules, self.pending_names())
            names = [n for n in st.modules if n in closure]
            if not names:
                self.log(f"stream {st.index} ({', '.join(st.modules)}): already resident")
                continue
            rec = c.timer.begin("stream", ", ".join(closure), target=scene, stream=st.index,
                                async_=True, slice_ms=st.cpu_slice_ms,
                                frame_requested=c.clock.frame)
            group = self.request(rec, names, "stream", step)
            group["hold"] = [n for n in closure if n not in names]
            self.log(f"stream {st.index} started: {', '.join(names)} ({st.cpu_slice_ms:g} ms "
                     f"CPU per frame, deadline {st.deadline_frames} frames)")

    def request(self, rec, names, kind: str, step: Step, *, lazy: bool = False) -> dict:
        """Ask the runtime for ``names`` in the background, one request each, for ``rec``."""
        loader, clock = self.c.loader, self.c.clock
        group = {"record": rec, "raws": [], "kind": kind, "step": step, "done": False}
        self.groups.append(group)
        for n in names:
            raw = loader.request(rec, n, lazy=lazy, import_=kind == "import")
            if not raw["id"]:
                rec.status = TLoadStatus.lsOutOfMemory.name
                rec.message = (f"LoadModuleAsync(\"{n}\"): the runtime's request queue is "
                               "full")
                break
            group["raws"].append(raw)
        loader.events.append({"event": "async-request", "kind": kind, "request": rec.request,
                              "modules": list(names), "frame": clock.frame})
        if not group["raws"]:
            group["done"] = True
            rec.end_s, rec.frame_completed = clock.now_s, clock.frame
        return group

    def report_completions(self) -> None:
        for group in self.groups:
            if group["done"] or any(r["frame_completed"] is None for r in group["raws"]):
                continue
            group["done"] = True
            rec, raws = group["record"], group["raws"]
            for name in group.get("hold", ()):
                # as the host's stream: every module it brought in holds a reference
                if loader_has(self.c.loader, name):
                    self.c.loader.record_load(rec, name)
            rec.frame_completed = max(r["frame_completed"] for r in raws)
            rec.end_s = max(r["end_s"] for r in raws)
            bad = next((r for r in raws if r["status"] != "lsSuccess"), None)
            if bad is not None and rec.status == "lsSuccess":
                rec.status = bad["status"]
                rec.message = self.c.loader.explain(bad["request"],
                                                    TLoadStatus[bad["status"]])
            frames = rec.frame_completed - rec.frame_requested
            self.c.loader.events.append({"event": "async-complete", "request": rec.request,
                                         "status": rec.status, "frame": rec.frame_completed,
                                         "frames": frames})
            what = (f"stream {rec.stream}" if group["kind"] == "stream"
                    else f"{group['kind']} {rec.request}")
            if rec.status == "lsSuccess":
                self.log(f"{what} completed after {frames} frame(s) (media "
                         f"{rec.media_s * 1e3:.3f} ms, cpu {rec.cpu_s * 1e3:.3f} ms in "
                         f"{len(rec.slices)} frame(s))")
                self.describe_record(rec)
            else:
                self.log(f"{what} failed after {frames} frame(s): {rec.status}: {rec.message}")
            want = self.expect_frames.pop(id(group), None)
            if want is not None and want[0] != frames:
                raise _Expectation(f"{what} completed after {frames} frame(s), expected "
                                   f"{want[0]}")

    # -- steps --------------------------------------------------------------------------
    def run_step(self, step: Step) -> None:
        if step.kind == "call":
            # a call takes no simulated time, as on the host: the game's own code is not
            # what the trace times (the runtime's reads during it still take theirs)
            self.c.loader.skip_cpu()
            try:
                return super().run_step(step)
            finally:
                self.c.loader.skip_cpu()
        if step.kind not in _OWN:
            return super().run_step(step)
        c, loader, d = self.c, self.c.loader, step.data
        kind = step.kind
        if kind == "load":
            want = d.get("expect", "lsSuccess")
            rec = c.timer.begin("load", step.arg)
            handle, status = loader.record_load(rec, step.arg, lazy=bool(d.get("lazy")),
                                                region=d.get("region"))
            if not rec.modules:                # a reference more, or no such file:
                c.timer.records.remove(rec)        # nothing read (as the host records it)
            self.last_status = status.name
            if status == TLoadStatus.lsSuccess:
                t = loader.by_name(step.arg) or next(
                    (x for x in loader.loaded.values() if x.handle == handle), None)
                where = (f", {t.region.name if t.region else '?'} 0x{t.base:08x}"
                         if t is not None else "")
                self.log(f"load {step.arg}: handle 0x{handle:08x}, refcount "
                         f"{loader.refcount(t.name) if t is not None else '?'}{where}")
                if rec.modules:
                    self.describe_record(rec)
            else:
                self.log(f"load {step.arg}: {status.name}: {rec.message}")
            self.check_status(want, f"load {step.arg}")
        elif kind in ("load_async", "import", "prefetch"):
            c.clock.snap()
            names = [step.arg]
            extra = {}
            if kind == "prefetch":
                cfg = self.config
                if cfg is None or step.arg not in cfg.scenes:
                    raise ConfigError(f"{self.sc.where}: steps[{step.index}].prefetch: no scene "
                                      f"'{step.arg}'")
                closure = self.closure(cfg.scenes[step.arg].modules, self.pending_names())
                names = [n for n in cfg.scenes[step.arg].modules if n in closure]
                if not closure:
                    self.log(f"prefetch {step.arg}: everything is resident")
                    return
                extra = {"target": self.scene}
            else:
                closure = names
            if d.get("region") is not None:
                loader.place(step.arg, d["region"])
            rec = c.timer.begin(kind, ", ".join(closure), async_=True,
                                slice_ms=d.get("slice_ms"), frame_requested=c.clock.frame,
                                **extra)
            group = self.request(rec, names, kind, step, lazy=bool(d.get("lazy")))
            if not group["raws"]:
                self.last_status = rec.status
                self.log(f"{kind} {step.arg}: {rec.status}: {rec.message}")
                self.check_status(d.get("expect", "lsSuccess"), f"{kind} {step.arg}")
                return
            if "expect_frames" in d:
                self.expect_frames[id(group)] = (int(d["expect_frames"]), step)
            self.log(f"{kind} {step.arg}: request "
                     f"{', '.join(str(r['id']) for r in group['raws'])} for {', '.join(names)}")
        elif kind == "unload":
            want = d.get("expect", "lsSuccess")
            if loader.by_name(step.arg) is None:
                self.last_status = "lsInvalidHandle"
                self.log(f"unload {step.arg}: not loaded")
            else:
                status = loader.unload_named(step.arg)
                self.last_status = status.name
                if status == TLoadStatus.lsSuccess:
                    left = loader.refcount(step.arg)
                    loader.events.append({"event": "unref", "module": step.arg,
                                          "refcount": left or 0})
                    self.log(f"unload {step.arg}: " + ("freed" if left is None else
                                                       f"refcount {left}, still loaded"))
                else:
                    self.log(f"unload {step.arg}: {status.name}")
            self.check_status(want, f"unload {step.arg}")
        elif kind in ("advance", "wait"):
            self.run_frames(kind, step, d, "request(s)")
