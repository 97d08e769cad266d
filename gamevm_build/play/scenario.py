"""Scenarios: scripted runs of a game on the emulated console, and their traces (``gamevm run``).

A scenario names a project (its ``gamevm.json``: resident, modules, memory map,
scenes, media) and a list of steps; :func:`run_scenario` plays them on a fresh
:class:`~gamevm_build.play.console.Console`, prints a readable log and returns a
:class:`ScenarioResult` whose :meth:`~ScenarioResult.trace` records every load
with simulated timestamps (seek, read, copy, relocate, bind, init) and every
memory event.  ``gamevm budget --check-trace`` compares the trace with the
static bounds (docs/budget.md).

::

    {
      "name": "level-loop",
      "config": {"psx": "../gamevm.json", "n64": "../gamevm-n64.json"},
      "policy": {"safe_mode": true, "lazy": false, "stale": "fault"},
      "steps": [
        {"enter": "title"},
        {"enter": "level1"},
        {"call": "level1:gamevm_selftest()", "expect": 0},
        {"advance": 60},
        {"expect": {"loaded": ["boss"], "pending": 0}},
        {"enter": "boss_room"},
        {"unload": "level1", "expect": "lsSuccess"}
      ]
    }

Steps (one action key each; docs/runtime.md has every option):

``enter``        go to a scene: wait for pending async loads, load the scene's modules
                 (closed over needs) that are not resident, in the analyzer's load
                 order, evicting overlay occupants; then start the scene's streams
``load``         synchronous load (``region``, ``lazy``, ``needs`` [true], ``expect`` status)
``load_async``   asynchronous load (``slice_ms``, ``region``, ``lazy``, ``expect_frames``)
``prefetch``     asynchronous load of a scene's missing modules into their configured
                 regions (``slice_ms``); budgeted when the current scene declares them
``import``       dynamic import by name (ELF dispatch) (``slice_ms``, ``expect``)
``unload``       drop a reference (``expect`` status)
``call``         call EXPR (``expect`` value or null, ``expect_fault`` text, ``max_instructions``)
``advance``      run N frames of the frame loop
``wait``         advance until no async load is pending (``max_frames``)
``expect``       check state: ``loaded``, ``not_loaded``, ``refcount``, ``region``,
                 ``pending``, ``frame``, ``output``, ``status``

The steps run on the host's reference loader (:class:`_Runner`), or on the resident's
console-side C runtime when it has one (``loader="target"``, the default then:
:mod:`gamevm_build.play.target_scenario`); both write the same trace.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..fileutil import check_json, read_json
from ..errors import ConfigError, EmulationError, EmulationFault, EmulationTimeout

__all__ = ["Scenario", "Step", "ScenarioResult", "load_scenario", "scenario_from_dict",
           "run_scenario", "STEP_KINDS", "TRACE_SCHEMA"]

#: version of the trace document (docs/runtime.md, "Trace format")
TRACE_SCHEMA = 1

STEP_KINDS = {
    "enter": {"enter"},
    "load": {"load", "region", "lazy", "needs", "expect"},
    "load_async": {"load_async", "region", "lazy", "needs", "slice_ms", "expect",
                   "expect_frames"},
    "prefetch": {"prefetch", "slice_ms"},
    "import": {"import", "slice_ms", "expect"},
    "unload": {"unload", "expect"},
    "call": {"call", "expect", "expect_fault", "max_instructions"},
    "advance": {"advance"},
    "wait": {"wait", "max_frames"},
    "expect": {"expect"},
}
_COMMON = {"note"}
_EXPECT_KEYS = {"loaded", "not_loaded", "refcount", "region", "pending", "frame", "output",
                "status"}
_POLICY_KEYS = {"safe_mode", "lazy", "stale", "double_buffer"}
_TOP_KEYS = {"$schema", "name", "description", "config", "target", "resident", "modules",
             "search", "disc", "manifest", "layout", "policy", "max_instructions", "steps"}


@dataclass
class Step:
    index: int
    kind: str
    data: dict

    @property
    def arg(self):
        return self.data[self.kind]

    def text(self) -> str:
        return json.dumps(self.data, sort_keys=False)


@dataclass
class Scenario:
    name: str
    path: Path | None
    config: Path | None
    steps: list[Step]
    description: str = ""
    target: str | None = None
    resident: Path | None = None
    modules: dict = field(default_factory=dict)
    search: list = field(default_factory=list)
    disc: Path | None = None
    manifest: Path | None = None
    layout: Path | None = None
    policy: dict = field(default_factory=dict)
    max_instructions: int | None = None

    @property
    def where(self) -> str:
        return str(self.path) if self.path else "<scenario>"


def _fail(where: str, key: str, message: str):
    raise ConfigError(f"{where}: {key}: {message}")


def scenario_from_dict(data, *, path=None, target: str | None = None) -> Scenario:
    """Validate a scenario document; paths are relative to ``path``'s directory.

    ``target`` picks the entry of a per-target ``config`` mapping.
    """
    where = str(path) if path else "<scenario>"
    base = Path(path).parent if path else Path(".")
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a JSON object with 'config' and 'steps'")
    check_json(data, where)
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        _fail(where, unknown[0], f"unknown key (expected one of: {', '.join(sorted(_TOP_KEYS))})")
    if not isinstance(data.get("steps"), list) or not data["steps"]:
        _fail(where, "steps", "expected a non-empty list of steps")
    cfg = data.get("config")
    tgt = target or data.get("target")
    if isinstance(cfg, dict):
        if tgt is None:
            tgt = next(iter(cfg), None)
        if tgt not in cfg:
            _fail(where, "config", f"no configuration for target {tgt!r} (has: "
                                   f"{', '.join(cfg)})")
        cfg = cfg[tgt]
    if cfg is not None and not isinstance(cfg, str):
        _fail(where, "config", "expected a path to gamevm.json, or {target: path}")

    def p(key):
        v = data.get(key)
        if v is None:
            return None
        if not isinstance(v, str):
            _fail(where, key, "expected a path")
        return base / v

    modules = data.get("modules", {})
    if not isinstance(modules, dict) or not all(isinstance(v, str) for v in modules.values()):
        _fail(where, "modules", "expected {name: path}")
    search = data.get("search", [])
    if isinstance(search, str):
        search = [search]
    if not isinstance(search, list) or not all(isinstance(v, str) for v in search):
        _fail(where, "search", "expected a list of directories")
    policy = data.get("policy", {})
    if not isinstance(policy, dict) or set(policy) - _POLICY_KEYS:
        _fail(where, "policy", f"expected an object with keys among {', '.join(sorted(_POLICY_KEYS))}")
    if policy.get("stale", "fault") not in ("fault", "reload"):
        _fail(where, "policy.stale", "expected \"fault\" or \"reload\"")
    steps = []
    for i, raw in enumerate(data["steps"]):
        key = f"steps[{i}]"
        if not isinstance(raw, dict):
            _fail(where, key, "expected an object such as {\"enter\": \"level1\"}")
        kinds = [k for k in raw if k in STEP_KINDS]
        if len(kinds) > 1 and "expect" in kinds:
            kinds.remove("expect")          # then it is an option of the action
        if len(kinds) != 1:
            _fail(where, key, f"expected exactly one of {', '.join(STEP_KINDS)}"
                              + (f", not {', '.join(kinds)}" if kinds else ""))
        kind = kinds[0]
        extra = sorted(set(raw) - STEP_KINDS[kind] - _COMMON)
        if extra:
            _fail(where, f"{key}.{extra[0]}", f"unknown option of a '{kind}' step (expected: "
                                              f"{', '.join(sorted(STEP_KINDS[kind] - {kind}))})")
        arg = raw[kind]
        if kind in ("enter", "load", "load_async", "prefetch", "import", "unload", "call"):
            if not isinstance(arg, str) or not arg:
                _fail(where, f"{key}.{kind}", "expected a non-empty string")
        if kind == "advance" and (not isinstance(arg, int) or isinstance(arg, bool) or arg < 0):
            _fail(where, f"{key}.advance", "expected a number of frames >= 0")
        if kind == "expect":
            if not isinstance(arg, dict) or not arg or set(arg) - _EXPECT_KEYS:
                _fail(where, f"{key}.expect", "expected an object with keys among "
                                              f"{', '.join(sorted(_EXPECT_KEYS))}")
        if kind == "call":
            from .callexpr import CallExprError, parse_call
            try:
                parse_call(arg)
            except CallExprError as exc:
                _fail(where, f"{key}.call", str(exc))
        steps.append(Step(i, kind, dict(raw)))
    _check_schema(data, where)        # after the checks above, whose messages say more
    return Scenario(
        name=str(data.get("name") or (Path(path).stem if path else "scenario")), path=
        Path(path) if path else None, config=base / cfg if cfg else None, steps=steps,
        description=str(data.get("description", "")), target=tgt, resident=p("resident"),
        modules={k: base / v for k, v in modules.items()}, search=[base / s for s in search],
        disc=p("disc"), manifest=p("manifest"), layout=p("layout"), policy=dict(policy),
        max_instructions=data.get("max_instructions"))


#: the published JSON Schema of scenario files (next to gamevm.json's); it bounds every
#: count (steps, frames, instructions) so that no scenario runs without end
SCENARIO_SCHEMA = "scenario.schema.json"


def _check_schema(data: dict, where: str) -> None:
    """The published schema, and load status names (the loader's TLoadStatus)."""
    from ..project.config import validate
    from ..runtime.reference import TLoadStatus

    validate(data, where=where, schema=SCENARIO_SCHEMA)
    names = set(TLoadStatus.__members__)
    numbers = {int(s) for s in TLoadStatus}
    for i, raw in enumerate(data["steps"]):
        want = raw.get("expect")
        if "expect" not in raw or "call" in raw:
            continue
        key = f"steps[{i}].expect"
        if isinstance(want, dict):
            want, key = want.get("status"), key + ".status"
        if want is None:
            continue
        if (want not in numbers) if isinstance(want, int) else (want not in names):
            _fail(where, key, f"{want!r} is not a load status (expected one of "
                              f"{', '.join(TLoadStatus.__members__)})")


def load_scenario(path, *, target: str | None = None) -> Scenario:
    path = Path(path)
    data = read_json(path, "scenario")
    return scenario_from_dict(data, path=path, target=target)


# ----------------------------------------------------------------------------- running

@dataclass
class StepResult:
    step: Step
    ok: bool
    t_s: float
    frame: int
    log: list = field(default_factory=list)
    error: str = ""

    def to_dict(self) -> dict:
        out = {"index": self.step.index, "kind": self.step.kind, "step": self.step.data,
               "ok": self.ok, "t_ms": round(self.t_s * 1e3, 6), "frame": self.frame,
               "log": self.log}
        if self.error:
            out["error"] = self.error
        return out


@dataclass
class ScenarioResult:
    scenario: Scenario
    console: object = field(repr=False)
    steps: list
    config: object = field(repr=False, default=None)
    header: list = field(default_factory=list)
    #: load record id -> index of the scenario step that made it
    record_steps: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.steps) and len(self.steps) == len(self.scenario.steps)

    @property
    def failure(self) -> StepResult | None:
        return next((s for s in self.steps if not s.ok), None)

    def summary_line(self) -> str:
        c = self.console
        loads = [r for r in c.timer.records if r.modules]
        head = (f"scenario {self.scenario.name}: {len(self.steps)}/{len(self.scenario.steps)} "
                f"steps, {len(loads)} load(s), {c.clock.frame} frames, "
                f"{c.clock.now_s * 1e3:.1f} ms simulated")
        if self.ok:
            return head + ": ok"
        f = self.failure
        return head + f": FAILED at steps[{f.step.index}] ({f.step.kind}): {f.error}"

    def log_lines(self) -> list[str]:
        out = list(self.header)
        for s in self.steps:
            out += s.log
        return out

    def trace(self) -> dict:
        """The trace document (schema :data:`TRACE_SCHEMA`, docs/runtime.md)."""
        c = self.console
        cfg = self.config
        timer = c.timer
        loader = c.loader
        policy = c.reference.policy
        return {
            "schema": TRACE_SCHEMA, "tool": "gamevm run", "loader": c.loader_kind,
            "scenario": self.scenario.name,
            "scenario_file": str(self.scenario.path) if self.scenario.path else None,
            "config": str(cfg.path) if cfg is not None and cfg.path else None,
            "layout": str(cfg.layout_file) if cfg is not None
            and getattr(cfg, "layout_file", None) else None,
            "target": c.profile.name, "media": timer.model.name,
            "drive": timer.drive.idle.value, "frame_rate": timer.clock.frame_rate,
            "clock_hz": timer.clock_hz, "ok": self.ok,
            "policy": {"safe_mode": policy.safe_mode, "lazy": policy.lazy,
                       "stale": policy.stale, "double_buffer": policy.double_buffer},
            "timing": _TIMING[c.loader_kind],
            "disc": {"positions": dict(sorted(timer.positions.items())),
                     "boot_head": getattr(self, "_boot_head", None),
                     "span": list(timer.drive.span) if timer.drive.span else None},
            "end_ms": round(timer.clock.now_s * 1e3, 6), "frames": timer.clock.frame,
            "loads": [dict(r.to_dict(), step=self.record_steps.get(r.id))
                      for r in timer.records],
            "memory": list(timer.memory),
            "events": [_jsonable(e) for e in loader.events],
            "lazy": {"resolutions": getattr(loader, "lazy_resolutions", None),
                     "binds": [_jsonable(e) for e in loader.events
                               if e.get("event") == "lazy-bind"]},
            "output": list(c.output),
            "steps": [s.to_dict() for s in self.steps],
        }


#: where a trace's times come from, per loader
_TIMING = {
    "host": {"media": "media.py model with the simulated head position",
             "cpu": "loadcost.py model (fixed, copy, zero, relocate, bind, constructor calls)",
             "init": "constructors measured on the emulated CPU (1 cycle per instruction); "
                     "async loads are scheduled with the declared init_ms"},
    "target": {"media": "media.py model with the simulated head position, for each read "
                        "the console-side runtime made",
               "cpu": "instructions the console-side runtime executed on the emulated CPU "
                      "(1 cycle each): load (checks, copy, relocation, binding) and init "
                      "(constructors)",
               "init": "constructors measured on the emulated CPU (1 cycle per instruction)"},
}


def _jsonable(e: dict) -> dict:
    return {k: (f"0x{v:08x}" if isinstance(v, int) and k in ("base", "stub", "address") else v)
            for k, v in e.items()}


class _Runner:
    def __init__(self, scenario: Scenario, console, config, echo):
        self.sc = scenario
        self.c = console
        self.config = config
        self.echo = echo
        self.scene: str | None = None
        self.last_status = "lsSuccess"
        self.jobs: dict[str, object] = {}
        self.checked_jobs: set[int] = set()
        self.expect_frames: dict[int, tuple[int, Step]] = {}
        self.out: list[str] = []

    # -- log ----------------------------------------------------------------------
    def stamp(self) -> str:
        clock = self.c.clock
        return f"[{clock.now_s * 1e3:9.2f} ms  f{clock.frame:<5}]"

    def log_scene_load(self, kind: str, source, scene: str, rec) -> None:
        """The log line of a scene's load (boot, transition or jump), whichever loader ran it."""
        arrow = f"{source} -> {scene}" if source else f"boot -> {scene}"
        label = {"boot": "", "transition": "transition ", "jump": "jump (no transition "
                 "in the flow graph) "}[kind]
        if rec.modules:
            self.log(f"{label}{arrow}: loaded {', '.join(m.module for m in rec.modules)} in "
                     f"{rec.total_s * 1e3:.3f} ms (media {rec.media_s * 1e3:.3f}, cpu "
                     f"{rec.cpu_s * 1e3:.3f})")
            self.describe_record(rec)
        else:
            self.log(f"{label}{arrow}: nothing to load")

    def log(self, text: str, indent: bool = False) -> None:
        line = (" " * 25 if indent else self.stamp() + " ") + text
        self.out.append(line)
        if self.echo:
            self.echo(line)

    def describe_record(self, rec) -> None:
        for m in rec.modules:
            md = m.media
            head = "head unknown" if md.from_lba is None else f"head {md.from_lba}"
            where = "no disc position" if md.lba is None else f"lba {md.lba}"
            ev = f", evicts {', '.join(m.evicted)}" if m.evicted else ""
            init = ""
            if m.init_instructions:
                init = f" (constructors {m.init_instructions} instr)"
            region = f" -> {m.region} 0x{m.base:08x}" if m.base is not None else ""
            if m.lazy_imports:
                region += f", {m.lazy_imports} import(s) bound lazily"
            self.log(f"{m.module:<10} {where}, {head} ({md.state}): access "
                     f"{md.access_s * 1e3:.3f} ms, read {md.read_s * 1e3:.3f} ms; cpu "
                     f"{m.cpu_s * 1e3:.3f} ms{init}{region}{ev}", indent=True)

    # -- scenes -----------------------------------------------------------------------
    def closure_items(self, names, exclude):
        loader = self.c.loader
        items, present = [], []
        excl = set(exclude)
        for n in names:
            if loader.by_name(n) is not None:
                if n not in present:
                    present.append(n)
                continue
            it, pr = loader.collect(n, needs=True, region=loader.placement.get(n),
                                    exclude=excl)
            excl.update(i.module.name for i in it)
            items += it
            present += [x for x in pr if x not in present]
        return items, present

    def leave_for(self, scene: str, step: Step) -> tuple:
        """Checks and waits before entering ``scene``: the scene exists, pending async loads
        finish; returns ``(source scene, kind)`` with kind boot, transition or jump."""
        cfg = self.config
        if cfg is None:
            raise ConfigError(f"{self.sc.where}: steps[{step.index}]: 'enter' needs a project "
                              "configuration with scenes")
        if scene not in cfg.scenes:
            raise ConfigError(f"{self.sc.where}: steps[{step.index}].enter: no scene '{scene}' "
                              f"(scenes: {', '.join(cfg.scenes)})")
        if self.pending_count():
            n = self.c.wait()
            self.log(f"waited {n} frame(s) for pending async loads before leaving "
                     f"{self.scene}")
            self.report_completions()
        source = self.scene
        if source is None:
            return source, "boot"
        if any(t.source == source and t.target == scene for t in cfg.transitions):
            return source, "transition"
        return source, "jump"

    def enter(self, scene: str, step: Step) -> None:
        cfg = self.config
        source, kind = self.leave_for(scene, step)
        c, loader = self.c, self.c.loader
        items, present = self.closure_items(cfg.scenes[scene].modules, ())
        rec = c.timer.begin(kind, scene, source=source, target=scene)
        if items:
            loader.read_items(items, rec,
                              load="boot" if kind == "boot" else f"{source} -> {scene}")
            loader.link_items(items, present, rec, run_init=True, alternate=False,
                              hold_all=True)
        else:
            rec.end_s = c.clock.now_s
        for lm in loader.loaded.values():
            lm.pinned = False
        for n in self._closure_names(cfg.scenes[scene].modules):
            lm = loader.by_name(n)
            if lm is not None:
                lm.pinned = True
        self.log_scene_load(kind, source, scene, rec)
        self.scene = scene
        c.clock.snap()
        for st in cfg.streams:
            if st.scene != scene:
                continue
            items, _present = self.closure_items(st.modules, c.async_.pending_names())
            names = [it.module.name for it in items]
            if not names:
                self.log(f"stream {st.index} ({', '.join(st.modules)}): already resident")
                continue
            job = c.async_.request(names, kind="stream", slice_ms=st.cpu_slice_ms,
                                   scene=scene, stream=st.index, needs=False,
                                   alternate=False, hold_all=True)
            self.jobs[f"stream{st.index}"] = job
            self.log(f"stream {st.index} started: {', '.join(names)} ({st.cpu_slice_ms:g} ms "
                     f"CPU per frame, deadline {st.deadline_frames} frames, predicted "
                     f"{c.async_.predicted_frames(job)})")

    def _closure_names(self, names) -> list[str]:
        loader = self.c.loader
        out, stack = [], list(names)
        while stack:
            n = stack.pop()
            if n in out:
                continue
            out.append(n)
            lm = loader.by_name(n)
            if lm is not None:
                stack += list(loader.needs_of(lm.module))
        return out

    def report_completions(self) -> None:
        for job in self.c.async_.completed:
            if job.id in self.checked_jobs:
                continue
            self.checked_jobs.add(job.id)
            frames = job.frame_completed - job.frame_requested
            what = f"stream {job.stream}" if job.kind == "stream" else f"{job.kind} {job.request}"
            if job.status.name == "lsSuccess":
                self.log(f"{what} completed after {frames} frame(s) "
                         f"(media {job.record.media_s * 1e3:.3f} ms, cpu "
                         f"{job.cpu_total_s * 1e3:.3f} ms in {len(job.slices)} slice(s))")
                self.describe_record(job.record)
            else:
                self.log(f"{what} failed after {frames} frame(s): {job.status.name}: {job.error}")
            want = self.expect_frames.pop(job.id, None)
            if want is not None and want[0] != frames:
                raise _Expectation(f"{what} completed after {frames} frame(s), expected "
                                   f"{want[0]}")

    # -- steps --------------------------------------------------------------------------
    def run_step(self, step: Step) -> None:
        from .callexpr import format_value, parse_call, run_call
        from ..runtime.reference import LoadError, TLoadStatus

        c, loader, d = self.c, self.c.loader, step.data
        kind = step.kind
        if kind == "enter":
            self.enter(step.arg, step)
        elif kind == "load":
            want = d.get("expect", "lsSuccess")
            try:
                lm = loader.load(step.arg, region=d.get("region"), needs=d.get("needs", True),
                                 lazy=d.get("lazy"))
                self.last_status = "lsSuccess"
                rec = c.timer.records[-1] if c.timer.records else None
                self.log(f"load {step.arg}: handle {lm.handle}, refcount {lm.refcount}, "
                         f"{lm.region.name} 0x{lm.base:08x}")
                if rec is not None and rec.request == step.arg and rec.modules:
                    self.describe_record(rec)
            except LoadError as exc:
                self.last_status = exc.status.name
                self.log(f"load {step.arg}: {exc.status.name}: {exc}")
            self.check_status(want, f"load {step.arg}")
        elif kind in ("load_async", "import", "prefetch"):
            c.clock.snap()
            names = step.arg
            if kind == "prefetch":
                cfg = self.config
                if cfg is None or step.arg not in cfg.scenes:
                    raise ConfigError(f"{self.sc.where}: steps[{step.index}].prefetch: no scene "
                                      f"'{step.arg}'")
                items, _ = self.closure_items(cfg.scenes[step.arg].modules,
                                              c.async_.pending_names())
                names = [it.module.name for it in items]
                if not names:
                    self.log(f"prefetch {step.arg}: everything is resident")
                    return
            extra = {}
            if kind == "prefetch":
                # the scene it runs in names the declaration the trace check matches it
                # with; like a scene's own load, its modules go to their configured regions
                extra = {"scene": self.scene, "alternate": False}
            job = c.async_.request(names, kind=kind, slice_ms=d.get("slice_ms"),
                                   region=d.get("region"), lazy=d.get("lazy"),
                                   needs=d.get("needs", True), **extra)
            self.jobs[step.arg] = job
            if job.state == "failed":
                self.last_status = job.status.name
                self.log(f"{kind} {step.arg}: {job.status.name}: {job.error}")
                self.check_status(d.get("expect", "lsSuccess"), f"{kind} {step.arg}")
                return
            if "expect_frames" in d:
                self.expect_frames[job.id] = (int(d["expect_frames"]), step)
            self.log(f"{kind} {step.arg}: request {job.id} for {', '.join(job.names) or 'nothing'}"
                     f", predicted {c.async_.predicted_frames(job)} frame(s) "
                     f"({job.slice_s * 1e3:g} ms CPU per frame)")
        elif kind == "unload":
            lm = loader.by_name(step.arg)
            want = d.get("expect", "lsSuccess")
            if lm is None:
                self.last_status = "lsInvalidHandle"
                self.log(f"unload {step.arg}: not loaded")
            else:
                try:
                    freed = loader.unload(lm.handle)
                    self.last_status = "lsSuccess"
                    self.log(f"unload {step.arg}: refcount {lm.refcount}"
                             + (f", freed {', '.join(m.name for m in freed)}" if freed else
                                ", still loaded"))
                except LoadError as exc:
                    self.last_status = exc.status.name
                    self.log(f"unload {step.arg}: {exc.status.name}: {exc}")
            self.check_status(want, f"unload {step.arg}")
        elif kind == "call":
            expr = parse_call(step.arg)
            budget = d.get("max_instructions", self.sc.max_instructions)
            mark = len(c.output)
            try:
                value = run_call(c, expr, max_instructions=budget)
            except EmulationFault as exc:
                report = exc.report if exc.report is not None else exc
                self.print_output(mark)
                text = str(report)
                self.log(f"{expr.text}: fault: {text}")
                want = d.get("expect_fault")
                if want is None:
                    raise _Expectation(f"{expr.text} faulted: {text}")
                if want not in text:
                    raise _Expectation(f"{expr.text} faulted with {text!r}, expected a fault "
                                       f"containing {want!r}")
                return
            except EmulationTimeout as exc:
                raise _Expectation(f"{expr.text}: {exc}")
            self.print_output(mark)
            self.log(f"{expr.text} = {format_value(value)}")
            if "expect_fault" in d:
                raise _Expectation(f"{expr.text} returned {format_value(value)}, expected a "
                                   f"fault containing {d['expect_fault']!r}")
            want = d.get("expect", None) if "expect" in d else None
            if want is not None and value != int(want) & 0xFFFFFFFF:
                raise _Expectation(f"{expr.text} returned {format_value(value)}, expected "
                                   f"{format_value(int(want))}")
            self.report_completions()
        elif kind in ("advance", "wait"):
            self.run_frames(kind, step, d, "load(s)")
        elif kind == "expect":
            self.expect(step.arg)

    def run_frames(self, kind: str, step: Step, d: dict, completed: str) -> None:
        """``advance`` N frames or ``wait`` until nothing is pending; ``completed`` names what
        the loader completes (loads, or the runtime's requests)."""
        if kind == "advance":
            done = self.c.advance(step.arg)
            self.log(f"advance {step.arg} frame(s)" + (f": {len(done)} {completed} completed"
                                                         if done else ""))
        else:
            n = self.c.wait(max_frames=int(d.get("max_frames", 100_000)))
            self.log(f"wait: {n} frame(s) until no async load is pending")
        self.report_completions()

    def refcount(self, name: str) -> int | None:
        lm = self.c.loader.by_name(name)
        return lm.refcount if lm else None

    def pending_count(self) -> int:
        return len(self.c.async_.jobs)

    def print_output(self, mark: int) -> None:
        for text in self.c.output[mark:]:
            for line in text.rstrip("\n").split("\n"):
                self.log(f"print: {line}", indent=True)

    def check_status(self, want, what: str) -> None:
        from ..runtime.reference import TLoadStatus
        if isinstance(want, int):
            want = TLoadStatus(want).name
        if want != self.last_status:
            raise _Expectation(f"{what}: status {self.last_status}, expected {want}")

    def expect(self, e: dict) -> None:
        loader, c = self.c.loader, self.c
        problems = []
        for n in e.get("loaded", []):
            if loader.by_name(n) is None:
                problems.append(f"{n} is not loaded")
        for n in e.get("not_loaded", []):
            if loader.by_name(n) is not None:
                problems.append(f"{n} is loaded")
        for n, want in e.get("refcount", {}).items():
            got = self.refcount(n)
            if got != want:
                problems.append(f"refcount of {n} is {got}, expected {want}")
        for n, want in e.get("region", {}).items():
            lm = loader.by_name(n)
            got = lm.region.name if lm else None
            if got != want:
                problems.append(f"{n} is in region {got}, expected {want}")
        if "pending" in e and self.pending_count() != e["pending"]:
            problems.append(f"{self.pending_count()} async load(s) pending, expected "
                            f"{e['pending']}")
        if "frame" in e and c.clock.frame != e["frame"]:
            problems.append(f"frame is {c.clock.frame}, expected {e['frame']}")
        if "output" in e and not any(e["output"] in o for o in c.output):
            problems.append(f"no output contains {e['output']!r}")
        if "status" in e and e["status"] != self.last_status:
            problems.append(f"last status is {self.last_status}, expected {e['status']}")
        if problems:
            raise _Expectation("; ".join(problems))
        self.log("expect: " + ", ".join(sorted(e)) + ": ok")


class _Expectation(Exception):
    pass


def build_console(scenario: Scenario, *, config=None, module_files=None, resident=None,
                  search_paths=(), target: str | None = None, layout=None,
                  loader: str | None = None):
    """The console a scenario runs on, and its project configuration.

    ``loader``: ``"target"`` (the resident's console-side runtime), ``"host"`` (the
    reference loader), default the runtime when the resident has it."""
    from ..project.config import load_config
    from .console import Console
    from ..runtime.reference import LoaderPolicy

    cfg_path = config if config is not None else scenario.config
    files = {**(module_files or {})}
    for k, v in scenario.modules.items():
        files.setdefault(k, v)
    cfg = None
    if cfg_path is not None:
        if hasattr(cfg_path, "modules"):
            cfg = cfg_path
        else:
            lay = layout if layout is not None else scenario.layout
            cfg = load_config(cfg_path, module_files={k: v for k, v in files.items()
                                                      if _in_config(cfg_path, k)},
                              resident_file=resident or scenario.resident,
                              layout_file=str(lay) if lay is not None else None)
    tgt = target or scenario.target or (cfg.target if cfg else None)
    if tgt is None:
        raise ConfigError(f"{scenario.where}: no target: give 'config' or 'target'")
    if cfg is not None and cfg.target != tgt:
        raise ConfigError(f"{scenario.where}: config {cfg.where} is for target {cfg.target}, "
                          f"not {tgt}")
    res = resident or scenario.resident or (cfg.resident_file if cfg else None)
    if res is None:
        raise ConfigError(f"{scenario.where}: no resident: give 'resident' or a config with "
                          "resident.file")
    if cfg is not None:
        for name, spec in cfg.modules.items():
            if spec.file is not None:
                files.setdefault(name, spec.file)
    dirs = [Path(d) for d in search_paths] + list(scenario.search)
    for f in list(files.values()) + [Path(res)]:
        d = Path(f).parent
        if d not in dirs:
            dirs.append(d)
    policy = LoaderPolicy(**{k: v for k, v in scenario.policy.items()})
    traced = None
    if loader != "host":
        from ..link.resident import read_resident
        from ..project.profile import load_profile
        from ..runtime.target import has_target_runtime
        from .target_trace import TracedTargetLoader, check_target_policy

        symbols = read_resident(res, load_profile(tgt)).symbols
        if loader == "target":
            check_target_policy(policy, scenario.where, symbols)
            traced = TracedTargetLoader
        elif has_target_runtime(symbols):
            try:
                check_target_policy(policy, scenario.where, symbols)
                traced = TracedTargetLoader
            except ConfigError:
                loader = "host"     # the scenario's policy is the host loader's only
    console = Console(tgt, res, search_paths=dirs, disc=scenario.disc, config=cfg,
                      policy=policy, manifest=scenario.manifest, module_files=files,
                      loader=loader, target_loader=traced)
    if scenario.max_instructions is not None and hasattr(console.loader, "call_budget"):
        console.loader.call_budget = scenario.max_instructions    # each runtime call too
    return console, cfg


def _in_config(cfg_path, name: str) -> bool:
    from ..errors import GameVMError

    try:
        data = read_json(cfg_path, "project configuration")
        return name in data.get("modules", {})
    except (GameVMError, AttributeError):
        return False


def run_scenario(scenario: Scenario | str | Path, *, config=None, module_files=None,
                 resident=None, search_paths=(), target: str | None = None,
                 echo=None, layout=None, loader: str | None = None,
                 on_console=None) -> ScenarioResult:
    """Play ``scenario`` on a fresh console; failures are results (``result.ok``).

    ``config``, ``module_files``, ``resident`` override the scenario's (the SCons
    builder passes the modules it built); ``layout`` is a disc layout file
    (``GameVMDisc``'s manifest) replacing the config's disc positions, as for
    ``gamevm budget``.  ``echo(line)`` gets each log line as
    it happens.  ``loader`` is ``"target"`` (the resident's console-side C runtime,
    :mod:`gamevm_build.play.target_scenario`), ``"host"`` (the reference loader) or
    ``None``: the runtime when the resident contains it.  ``on_console(console)`` is
    called once the console is built, before the first step (``gamevm run --gdb``).

    Raises
    ------
    ConfigError, InputError
        A malformed scenario or project, or unusable files.
    """
    from ..runtime.reference import LoadError

    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario, target=target)
    console, cfg = build_console(scenario, config=config, module_files=module_files,
                                 resident=resident, search_paths=search_paths, target=target,
                                 layout=layout, loader=loader)
    if on_console is not None:
        on_console(console)
    if console.loader_kind == "target":
        from .target_scenario import TargetRunner
        runner = TargetRunner(scenario, console, cfg, echo)
    else:
        runner = _Runner(scenario, console, cfg, echo)
    results: list[StepResult] = []
    runner.log(f"scenario {scenario.name} on {console.profile.name}"
               + (f" ({cfg.where}, media {console.timer.model.name})" if cfg else "")
               + f", {console.loader_kind} loader")
    record_steps: dict = {}
    for step in scenario.steps:
        mark = len(runner.out)
        n_records, n_events = len(console.timer.records), len(console.loader.events)
        res = StepResult(step, True, console.clock.now_s, console.clock.frame)
        try:
            runner.run_step(step)
        except _Expectation as exc:
            res.ok, res.error = False, str(exc)
            runner.log(f"FAILED: steps[{step.index}] ({step.kind}): {exc}")
        except EmulationError as exc:        # unknown symbol/module, timeouts, ...
            res.ok, res.error = False, str(exc)
            runner.log(f"FAILED: steps[{step.index}] ({step.kind}): {exc}")
        except LoadError as exc:             # a scene's load failed
            res.ok, res.error = False, f"{exc.status.name}: {exc}"
            runner.log(f"FAILED: steps[{step.index}] ({step.kind}): {exc.status.name}: {exc}")
        # the trace check names the step that moved the head or changed what is resident
        for rec in console.timer.records[n_records:]:
            record_steps[rec.id] = step.index
        for e in console.loader.events[n_events:]:
            e.setdefault("step", step.index)
        res.log = runner.out[mark:]
        results.append(res)
        if not res.ok:
            break
    else:
        try:
            runner.report_completions()
        except _Expectation as exc:
            results[-1].ok, results[-1].error = False, str(exc)
    out = ScenarioResult(scenario, console, results, cfg, header=runner.out[:1],
                         record_steps=record_steps)
    out._boot_head = getattr(cfg, "boot_head", None) if cfg is not None else None
    return out

