"""Static vs dynamic: every load a run observed, against the analyzer's bound for it.

``gamevm run`` writes a trace (docs/runtime.md) of every load the emulated
console performed, timed with the analyzer's own media and CPU models and the
simulated head position.  :func:`check_trace` matches each budgeted load with
its bound:

* ``boot`` (entering the start scene) with :func:`analysis.timing.boot_time`;
* ``transition`` ``A -> B`` with the transition's worst case
  (:func:`analysis.timing.transition_times`);
* ``stream`` ``i`` with ``streams[i]``'s worst completion in frames (and its
  worst media + CPU time).

An observed value above its bound means **the analysis is unsound** (or the
trace comes from another configuration): it is a failure, reported with both
breakdowns, module by module.  Constructors that ran longer than the declared
``init_ms`` are reported too (the analyzer charges ``init_ms``).  Loads the
flow graph does not budget (explicit ``load`` steps, ``LoadModule`` calls,
jumps between scenes without a transition) are listed as unbudgeted.

**Tightness** is bound ÷ worst observed, per transition or stream: 1.0 means
some run hit the bound exactly; the project's goal is at most 1.15 and never
below 1.

Examples
--------
>>> from analysis.graph import graph_from_dict
>>> from analysis.budget import analyze
>>> G = graph_from_dict({
...     "target": "n64", "memoryMap": {"regions": [
...         {"name": "Main", "start": "0x80100000", "size": "1MB"}]},
...     "modules": {"level": {"region": "Main", "estimate": {"size": "64KB"}}},
...     "scenes": {"menu": {"modules": []}, "level": {"modules": ["level"]}},
...     "transitions": [{"from": "menu", "to": "level", "budget_ms": 20}]})
>>> trace = {"media": "n64-pi", "loads": [{"id": 1, "kind": "transition", "from": "menu",
...          "to": "level", "total_ms": 13.0, "media_ms": 12.23, "cpu_ms": 0.77, "modules": []}]}
>>> check = check_trace(analyze(G), [trace])
>>> check.ok, [(c.label, round(c.tightness, 3)) for c in check.comparisons]
(True, [('menu -> level', 1.05)])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gamevm_build.fileutil import read_json
from gamevm_build.errors import ConfigError, InputError

__all__ = ["Comparison", "TraceCheck", "check_trace", "load_trace", "GOAL_TIGHTNESS"]

#: bound ÷ worst observed the project aims for (never below 1)
GOAL_TIGHTNESS = 1.15
_EPS_MS = 1e-6


def load_trace(path) -> dict:
    path = Path(path)
    data = read_json(path, "trace", "write one with 'gamevm run SCENARIO --trace FILE'")
    if not isinstance(data, dict) or not isinstance(data.get("loads"), list):
        raise InputError(f"{path}: not a gamevm run trace (no 'loads')")
    data.setdefault("_path", str(path))
    return data


@dataclass
class Observation:
    trace: str
    load_id: int
    observed_ms: float
    frames: int | None
    modules: list                       # trace module dicts

    def breakdown(self) -> list[str]:
        out = []
        for m in self.modules:
            src = "head unknown" if m.get("from_lba") is None else f"head {m['from_lba']}"
            out.append(f"{m['module']}: access {m['access_ms']:.3f} ms ({src}, {m['drive']}), "
                       f"read {m['read_ms']:.3f} ms, cpu {m['cpu_ms']:.3f} ms")
        return out


@dataclass
class Comparison:
    """One budgeted load of the flow graph and every observation of it."""

    kind: str                           # boot | transition | stream
    label: str
    bound_ms: float
    bound_frames: int | None = None
    bound_steps: list = field(default_factory=list)
    observations: list = field(default_factory=list)
    #: stream loads still pending when their scenario ended: not runs, nothing to compare
    pending: list = field(default_factory=list)
    #: loads that started with the head where an unbudgeted load left it (the analysis
    #: cannot know that position): ``(observation, the load that moved the head)``
    displaced: list = field(default_factory=list)

    @property
    def worst(self) -> Observation | None:
        if not self.observations:
            return None
        if self.kind == "stream":
            return max(self.observations, key=lambda o: (o.frames or 0, o.observed_ms))
        return max(self.observations, key=lambda o: o.observed_ms)

    @property
    def violations(self) -> list[Observation]:
        out = []
        for o in self.observations:
            if self.kind == "stream":
                if o.frames is not None and o.frames > self.bound_frames:
                    out.append(o)
                elif o.observed_ms > self.bound_ms + _EPS_MS:
                    out.append(o)
            elif o.observed_ms > self.bound_ms + _EPS_MS:
                out.append(o)
        return out

    @property
    def ok(self) -> bool:
        return not self.violations

    @property
    def tightness(self) -> float | None:
        """bound ÷ worst observed (frames for streams); None when nothing was loaded."""
        w = self.worst
        if w is None:
            return None
        if self.kind == "stream":
            if not w.frames:
                return None
            return self.bound_frames / w.frames
        if w.observed_ms <= 0:
            return None
        return self.bound_ms / w.observed_ms

    def to_dict(self) -> dict:
        w = self.worst
        return {"kind": self.kind, "label": self.label, "ok": self.ok,
                "bound_ms": round(self.bound_ms, 6), "bound_frames": self.bound_frames,
                "observed": len(self.observations), "pending": len(self.pending),
                "displaced": [{"trace": o.trace, "load": o.load_id,
                               "observed_ms": o.observed_ms, "after": cause}
                              for o, cause in self.displaced],
                "worst_ms": None if w is None else round(w.observed_ms, 6),
                "worst_frames": None if w is None else w.frames,
                "worst_trace": None if w is None else w.trace,
                "tightness": None if self.tightness is None else round(self.tightness, 6),
                "violations": [{"trace": o.trace, "load": o.load_id,
                                "observed_ms": o.observed_ms, "frames": o.frames,
                                "observed_breakdown": o.breakdown()}
                               for o in self.violations],
                "bound_breakdown": self.bound_steps}


@dataclass
class TraceCheck:
    comparisons: list
    unbudgeted: list
    init_overruns: list
    traces: list
    budget_line: str = ""

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.comparisons)

    @property
    def tightness(self) -> tuple[float | None, float | None]:
        """(lowest, highest) bound ÷ worst observed over everything observed."""
        vals = [c.tightness for c in self.comparisons if c.tightness is not None]
        return (min(vals), max(vals)) if vals else (None, None)

    def summary_line(self) -> str:
        lo, hi = self.tightness
        n = sum(len(c.observations) for c in self.comparisons)
        bad = [c for c in self.comparisons if not c.ok]
        t = "" if lo is None else f"; tightness (bound / worst observed) {lo:.3f}..{hi:.3f}"
        if bad:
            return (f"trace check FAILED: {len(bad)} load(s) slower than their static bound "
                    f"(the analysis is unsound){t}")
        return f"trace check ok: {n} budgeted load(s) observed, none above its bound{t}"

    def to_dict(self) -> dict:
        lo, hi = self.tightness
        return {"ok": self.ok, "summary": self.summary_line(), "traces": self.traces,
                "goal_tightness": GOAL_TIGHTNESS,
                "tightness": {"min": lo, "max": hi},
                "comparisons": [c.to_dict() for c in self.comparisons],
                "unbudgeted": self.unbudgeted, "init_overruns": self.init_overruns}

    def render_text(self) -> str:
        lines = [f"gamevm budget --check-trace: {len(self.traces)} trace(s)"]
        if self.budget_line:
            lines.append(f"  static: {self.budget_line}")
        lines.append("")
        lines.append(f"  {'load':<38} {'bound':>12} {'worst seen':>12} {'runs':>5} "
                     f"{'tightness':>10}")
        for c in self.comparisons:
            w = c.worst
            if c.kind == "stream":
                bound = f"{c.bound_frames} fr"
                seen = ("pending" if c.pending else "-") if w is None else f"{w.frames} fr"
            else:
                bound = f"{c.bound_ms:.3f} ms"
                seen = "-" if w is None else f"{w.observed_ms:.3f} ms"
            t = c.tightness
            ts = "-" if t is None else f"{t:.3f}"
            flag = "" if c.ok else "  OBSERVED > BOUND"
            if t is not None and c.ok and t > GOAL_TIGHTNESS:
                flag = f"  (loose: > {GOAL_TIGHTNESS})"
            lines.append(f"  {c.label:<38} {bound:>12} {seen:>12} {len(c.observations):>5} "
                         f"{ts:>10}{flag}")
        for c in self.comparisons:
            for o in c.violations:
                lines.append("")
                lines.append(f"  UNSOUND: {c.label}: observed {o.observed_ms:.3f} ms"
                             + (f" / {o.frames} frames" if o.frames is not None else "")
                             + f" in {o.trace} (load {o.load_id}) > bound {c.bound_ms:.3f} ms"
                             + (f" / {c.bound_frames} frames" if c.bound_frames is not None
                                else ""))
                lines.append("    observed:")
                lines += [f"      {x}" for x in o.breakdown()]
                lines.append("    bound:")
                for s in c.bound_steps:
                    lines.append(f"      {s['module']}: access {s['access_ms']:.3f} ms "
                                 f"({s['from']}, {s['drive']}), read {s['read_ms']:.3f} ms, "
                                 f"cpu {s['cpu_ms']:.3f} ms")
        if self.init_overruns:
            lines.append("")
            for o in self.init_overruns:
                lines.append(f"  constructor time: {o['module']} measured {o['measured_ms']:.4f} ms"
                             f" > declared init_ms {o['declared_ms']:g} ({o['trace']}): declare "
                             "a larger init_ms")
        displaced = [(c, o, cause) for c in self.comparisons for o, cause in c.displaced]
        if displaced:
            lines.append("")
            lines.append(f"  not compared (the head was where an unbudgeted load left it): "
                         f"{len(displaced)}")
            for c, o, cause in displaced[:10]:
                lines.append(f"    {c.label} in {o.trace} (load {o.load_id}, {o.observed_ms:.3f} "
                             f"ms) after {cause['kind']} {cause['request']} (load "
                             f"{cause['load']})")
        if self.unbudgeted:
            lines.append("")
            lines.append(f"  unbudgeted loads (no transition or stream of the flow graph): "
                         f"{len(self.unbudgeted)}")
            for u in self.unbudgeted[:10]:
                lines.append(f"    {u['kind']} {u['request']}: {u['total_ms']:.3f} ms "
                             f"({u['trace']})")
        lines.append("")
        lines.append(self.summary_line())
        return "\n".join(lines) + "\n"


def _same_disc(name: str, disc, ix) -> None:
    """A trace is comparable only if it ran on the disc the analysis assumes."""
    if not isinstance(disc, dict):
        return
    pos = {n: ix.pos[i] for i, n in enumerate(ix.names)}
    for m, lba in sorted((disc.get("positions") or {}).items()):
        if m in pos and pos[m] != lba:
            raise ConfigError(f"{name}: the trace ran with module {m} at LBA {lba}, the analysis "
                              f"puts it at {pos[m]}: check it against the same disc layout "
                              "(--layout) the scenario ran on")
    heads = {h for h in ix.boot_heads if h is not None}
    bh = disc.get("boot_head")
    if bh is not None and heads and bh not in heads:
        raise ConfigError(f"{name}: the trace booted with the head at {bh}, the analysis at "
                          f"{min(heads)}: use the same disc layout (--layout)")


def check_trace(result, traces) -> TraceCheck:
    """Compare ``traces`` (dicts from :func:`load_trace`) with ``result`` (a BudgetResult).

    Raises
    ------
    ConfigError
        A trace timed with another media model than the project's.
    """
    from analysis._index import index

    G = result.G
    model = G.graph["model"].name
    names = []
    comps: dict = {}
    boot = result.boot
    comps["boot"] = Comparison("boot", f"boot -> {index(G).start}", boot.total_s * 1e3,
                               bound_steps=[s.to_dict() for s in boot.steps])
    for t in result.transitions:
        comps[("transition", t.source, t.target)] = Comparison(
            "transition", f"{t.source} -> {t.target}", t.worst_ms,
            bound_steps=[s.to_dict() for s in t.load.steps])
    for s in result.streams:
        comps[("stream", s.index)] = Comparison(
            "stream", f"streams[{s.index}] ({', '.join(s.modules)} during {s.scene})",
            s.load.total_s * 1e3, bound_frames=s.frames,
            bound_steps=[x.to_dict() for x in s.load.steps])
    unbudgeted, overruns = [], []
    for i, tr in enumerate(traces):
        name = tr.get("_path") or tr.get("scenario") or f"trace {i}"
        names.append(name)
        if tr.get("media") not in (None, model):
            raise ConfigError(f"{name}: the trace was timed with media model {tr.get('media')}, "
                              f"the project uses {model}: run the scenario with this project's "
                              "configuration")
        _same_disc(name, tr.get("disc"), index(G))
        moved_by = None           # the last unbudgeted load that read from the disc
        for ld in tr["loads"]:
            kind = ld.get("kind")
            if ld.get("status", "lsSuccess") != "lsSuccess":
                continue
            obs = Observation(name, ld.get("id", 0), float(ld.get("total_ms", 0.0)),
                              ld.get("frames"), ld.get("modules", []))
            key = None
            if kind == "boot" and ld.get("to") == index(G).start:
                key = "boot"
            elif kind == "transition":
                key = ("transition", ld.get("from"), ld.get("to"))
            elif kind == "stream":
                key = ("stream", ld.get("stream"))
            if key in comps and kind == "stream" and obs.frames is None:
                comps[key].pending.append(obs)
            elif key in comps and moved_by is not None and ld.get("modules"):
                # the head is where an unbudgeted load left it: this run says nothing
                # about the bound, and the cause is reported, not this load
                comps[key].displaced.append((obs, moved_by))
                moved_by = None
            elif key in comps:
                comps[key].observations.append(obs)
                if ld.get("modules"):
                    moved_by = None
            elif ld.get("modules"):
                unbudgeted.append({"trace": name, "kind": kind, "request": ld.get("request"),
                                   "total_ms": obs.observed_ms, "load": obs.load_id})
                moved_by = {"kind": kind, "request": ld.get("request"), "load": obs.load_id,
                            "step": ld.get("step")}
            for m in ld.get("modules", []):
                meas = m.get("init_measured")
                if meas and meas["ms"] > m.get("init_declared_ms", 0.0) + _EPS_MS:
                    overruns.append({"trace": name, "module": m["module"],
                                     "measured_ms": meas["ms"],
                                     "declared_ms": m.get("init_declared_ms", 0.0)})
    order = [c for c in comps.values()]
    return TraceCheck(order, unbudgeted, overruns, names, result.summary_line())
