"""Static vs dynamic: every load a run observed, against the analyzer's bound for it.

``gamevm run`` writes a trace (docs/runtime.md) of every load the emulated
console performed, timed with the analyzer's own media and CPU models and the
simulated head position.  :func:`check_trace` matches each budgeted load with
its bound:

* ``boot`` (entering the start scene) with :func:`gamevm_build.analysis.timing.boot_time`;
* ``transition`` ``A -> B`` with the transition's worst case
  (:func:`gamevm_build.analysis.timing.transition_times`);
* ``stream`` ``i`` with ``streams[i]``'s worst completion in frames (and its
  worst media + CPU time);
* ``prefetch`` during scene ``S`` that reads only what ``S`` declares
  (``scenes.S.prefetch``) with that prefetch's worst case.

An observed value above its bound means **the analysis is unsound** (or the
trace comes from another configuration): it is a failure, reported with both
breakdowns, module by module.  Constructors that ran longer than the declared
``init_ms`` are reported too (the analyzer charges ``init_ms``).  Loads the
flow graph does not budget (explicit ``load`` steps, ``LoadModule`` calls,
undeclared prefetches, jumps between scenes without a transition, reloads after
a stale call) are listed as unbudgeted, with the scenario step that made them.

Such a load moves the head where the analysis cannot know it.  Every budgeted
load says where its head was (``from_lba`` of its first read): when that is not
a position the analysis has for the load, the load is compared with its bound
from an unknown head (the worst access from anywhere the disc's modules lie)
and reported with the unbudgeted load that moved the head, never as a
violation of its own bound.  The same holds for a load that skips a module the
analysis reads on every path (an unbudgeted load brought it in): that bound lets
any part of the load's modules be read.  A load that reads a module the analysis has
resident on every path (after an explicit unload, or a load that evicted it)
cannot be bounded at all: after an unbudgeted load or unload it is listed as not
compared, with the cause.

**Tightness** is bound ÷ worst observed, per transition or stream: 1.0 means
some run hit the bound exactly; the project's goal is at most 1.15 and never
below 1.

Examples
--------
>>> from gamevm_build.analysis.graph import graph_from_dict
>>> from gamevm_build.analysis.budget import analyze
>>> G = graph_from_dict({
...     "target": "n64", "memoryMap": {"regions": [
...         {"name": "Main", "start": "0x80100000", "size": "1MB"}]},
...     "modules": {"level": {"region": "Main", "estimate": {"size": "64KB"}}},
...     "scenes": {"menu": {"modules": []}, "level": {"modules": ["level"]}},
...     "transitions": [{"from": "menu", "to": "level", "budget_ms": 20}]})
>>> trace = {"media": "n64-pi", "loads": [{"id": 1, "kind": "transition", "from": "menu",
...          "to": "level", "total_ms": 13.0, "media_ms": 12.23, "cpu_ms": 0.77, "modules": []}]}
>>> check = check_trace(analyze(G), [trace])
>>> check.ok, [(c.label, round(c.tightness, 3)) for c in check.comparisons if c.observations]
(True, [('menu -> level', 1.058)])
"""

from __future__ import annotations

import dataclasses
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


def cause_text(cause: dict) -> str:
    """``load boss (steps[5], load 6)``: an unbudgeted load or unload, for reports."""
    where = [f"steps[{cause['step']}]"] if cause.get("step") is not None else []
    if cause.get("load") is not None:
        where.append(f"load {cause['load']}")
    return f"{cause['kind']} {cause['request']}" + (f" ({', '.join(where)})" if where else "")


@dataclass
class Comparison:
    """One budgeted load of the flow graph and every observation of it."""

    kind: str                           # boot | transition | stream | prefetch
    label: str
    bound_ms: float
    bound_frames: int | None = None
    bound_steps: list = field(default_factory=list)
    observations: list = field(default_factory=list)
    #: stream loads still pending when their scenario ended: not runs, nothing to compare
    pending: list = field(default_factory=list)
    #: runs that started with the head where an unbudgeted load left it (or skipped what
    #: an unbudgeted load brought in), compared with the bound from an unknown head and
    #: any part of the modules: ``(observation, cause, bound_ms, bound_frames)``
    displaced: list = field(default_factory=list)
    #: runs that read what the analysis has resident on every path, after the residency
    #: changed outside the flow graph: ``(observation, cause, those modules)``
    not_compared: list = field(default_factory=list)
    #: the analysis' facts for classifying runs: the load plan, the head positions it
    #: assumes before the load, and (computed on demand) the bound from an unknown head
    plan: object = field(default=None, repr=False)
    heads: frozenset = field(default=frozenset({None}), repr=False)
    anywhere: object = field(default=None, repr=False)

    @property
    def worst(self) -> Observation | None:
        if not self.observations:
            return None
        if self.kind == "stream":
            return max(self.observations, key=lambda o: (o.frames or 0, o.observed_ms))
        return max(self.observations, key=lambda o: o.observed_ms)

    @staticmethod
    def _over(o: Observation, bound_ms: float, bound_frames: int | None) -> bool:
        if bound_frames is not None and o.frames is not None and o.frames > bound_frames:
            return True
        return o.observed_ms > bound_ms + _EPS_MS

    @property
    def violations(self) -> list[Observation]:
        return [o for o in self.observations
                if self._over(o, self.bound_ms, self.bound_frames)]

    @property
    def displaced_violations(self) -> list:
        """Runs above even the bound from an unknown head: the analysis is unsound."""
        return [d for d in self.displaced if self._over(d[0], d[2], d[3])]

    @property
    def ok(self) -> bool:
        return not self.violations and not self.displaced_violations

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
                               "observed_ms": o.observed_ms, "frames": o.frames,
                               "bound_ms": round(b_ms, 6), "bound_frames": b_fr,
                               "ok": not self._over(o, b_ms, b_fr), "after": cause}
                              for o, cause, b_ms, b_fr in self.displaced],
                "not_compared": [{"trace": o.trace, "load": o.load_id,
                                  "observed_ms": o.observed_ms, "resident": mods,
                                  "after": cause} for o, cause, mods in self.not_compared],
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
        moved = sum(len(c.displaced) for c in self.comparisons)
        bad = [c for c in self.comparisons if not c.ok]
        t = "" if lo is None else f"; tightness (bound / worst observed) {lo:.3f}..{hi:.3f}"
        if bad:
            return (f"trace check FAILED: {len(bad)} load(s) slower than their static bound "
                    f"(the analysis is unsound){t}")
        extra = (f" ({moved} more after an unbudgeted load moved the head, within their "
                 "bound from an unknown head)") if moved else ""
        return f"trace check ok: {n} budgeted load(s) observed, none above its bound{extra}{t}"

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
            for o, cause, b_ms, b_fr in c.displaced_violations:
                lines.append("")
                lines.append(f"  UNSOUND: {c.label}: observed {o.observed_ms:.3f} ms"
                             + (f" / {o.frames} frames" if o.frames is not None else "")
                             + f" in {o.trace} (load {o.load_id}) > its bound from an unknown "
                             f"head {b_ms:.3f} ms" + (f" / {b_fr} frames" if b_fr is not None
                                                      else "")
                             + f" (the head was moved by {cause_text(cause)})")
                lines.append("    observed:")
                lines += [f"      {x}" for x in o.breakdown()]
        if self.init_overruns:
            lines.append("")
            for o in self.init_overruns:
                lines.append(f"  constructor time: {o['module']} measured {o['measured_ms']:.4f} ms"
                             f" > declared init_ms {o['declared_ms']:g} ({o['trace']}): declare "
                             "a larger init_ms")
        displaced = [(c, d) for c in self.comparisons for d in c.displaced]
        if displaced:
            lines.append("")
            lines.append(f"  after an unbudgeted load or unload: {len(displaced)} load(s) "
                         "compared with their bound from an unknown head")
            for c, (o, cause, b_ms, b_fr) in displaced[:10]:
                seen = f"{o.frames} fr" if c.kind == "stream" else f"{o.observed_ms:.3f} ms"
                bound = f"{b_fr} fr" if c.kind == "stream" else f"{b_ms:.3f} ms"
                rel = "<=" if not c._over(o, b_ms, b_fr) else ">"
                lines.append(f"    {c.label} in {o.trace} (load {o.load_id}): {seen} {rel} "
                             f"{bound}; after {cause_text(cause)}")
        skipped = [(c, d) for c in self.comparisons for d in c.not_compared]
        if skipped:
            lines.append("")
            lines.append(f"  not compared (residency changed outside the flow graph): "
                         f"{len(skipped)}")
            for c, (o, cause, mods) in skipped[:10]:
                lines.append(f"    {c.label} in {o.trace} (load {o.load_id}) reads {mods}, "
                             f"resident on every path in the analysis; after "
                             f"{cause_text(cause)}")
        if self.unbudgeted:
            lines.append("")
            lines.append(f"  unbudgeted loads (no transition, stream or declared prefetch of "
                         f"the flow graph): {len(self.unbudgeted)}")
            for u in self.unbudgeted[:10]:
                where = f"steps[{u['step']}] " if u.get("step") is not None else ""
                lines.append(f"    {where}{u['kind']} {u['request']}: {u['total_ms']:.3f} ms "
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


def _optional(plan):
    """``plan`` with every module optional: any part of it may have been resident."""
    return dataclasses.replace(plan, uncertain_mask=plan.plan_mask)


def _anywhere(result, comp: Comparison, key):
    """``(ms, frames)``: ``comp``'s bound when the head may be anywhere before it and any
    part of its modules may already be resident."""
    if comp.anywhere is None:
        from .plans import UNKNOWN, Heads, stream_plans
        from .streaming import stream_times
        from .timing import plan_time

        G = result.G
        if comp.kind == "stream":
            s = next(x for x in result.streams if x.index == key[1])
            heads = result.heads
            entry = dict(heads.entry)
            entry[s.scene] = entry.get(s.scene, UNKNOWN) | UNKNOWN
            splans = {i: _optional(p) for i, p in stream_plans(G, result.residency).items()}
            t = next(x for x in stream_times(G, R=result.residency, splans=splans,
                                             heads=Heads(entry, heads.exit))
                     if x.index == s.index)
            comp.anywhere = (t.load.total_s * 1e3, t.frames)
        else:
            lt = plan_time(G, _optional(comp.plan), comp.heads | UNKNOWN)
            comp.anywhere = (lt.total_s * 1e3, None)
    return comp.anywhere


def _off_model_events(tr) -> list:
    """Unloads, which the flow graph never does, as ``(step, cause)`` in trace order."""
    out = []
    for e in tr.get("events", ()):
        if e.get("event") == "unload" and e.get("step") is not None:
            out.append((e["step"], {"kind": "unload", "request": e.get("module"),
                                    "load": None, "step": e["step"]}))
    return out


def check_trace(result, traces) -> TraceCheck:
    """Compare ``traces`` (dicts from :func:`load_trace`) with ``result`` (a BudgetResult).

    Raises
    ------
    ConfigError
        A trace timed with another media model than the project's.
    """
    from gamevm_build.analysis._index import index

    G = result.G
    ix = index(G)
    model = G.graph["model"].name
    names = []
    comps: dict = {}
    boot = result.boot
    comps["boot"] = Comparison("boot", f"boot -> {ix.start}", boot.total_s * 1e3,
                               bound_steps=[s.to_dict() for s in boot.steps],
                               plan=boot.plan, heads=boot.heads)
    for t in result.transitions:
        comps[("transition", t.source, t.target)] = Comparison(
            "transition", f"{t.source} -> {t.target}", t.worst_ms,
            bound_steps=[s.to_dict() for s in t.load.steps], plan=t.load.plan,
            heads=t.load.heads)
    for s in result.streams:
        comps[("stream", s.index)] = Comparison(
            "stream", f"streams[{s.index}] ({', '.join(s.modules)} during {s.scene})",
            s.load.total_s * 1e3, bound_frames=s.frames,
            bound_steps=[x.to_dict() for x in s.load.steps], plan=s.load.plan,
            heads=s.load.heads)
    for p in result.prefetches:
        comps[("prefetch", p.scene)] = Comparison(
            "prefetch", f"prefetch during {p.scene}", p.worst_ms,
            bound_steps=[x.to_dict() for x in p.load.steps], plan=p.load.plan,
            heads=p.load.heads)
    unbudgeted, overruns = [], []
    for i, tr in enumerate(traces):
        name = tr.get("_path") or tr.get("scenario") or f"trace {i}"
        names.append(name)
        if tr.get("media") not in (None, model):
            raise ConfigError(f"{name}: the trace was timed with media model {tr.get('media')}, "
                              f"the project uses {model}: run the scenario with this project's "
                              "configuration")
        _same_disc(name, tr.get("disc"), ix)
        unloads = _off_model_events(tr)
        moved_by = None           # the last unbudgeted load that read from the disc
        changed_by = None         # the last unbudgeted load or unload (residency)
        stream_cause = None       # a displaced stream delays the later ones of its scene
        for ld in tr["loads"]:
            kind = ld.get("kind")
            step = ld.get("step")
            while unloads and step is not None and unloads[0][0] < step:
                changed_by = unloads.pop(0)[1]
            mods = ld.get("modules", [])
            obs = Observation(name, ld.get("id", 0), float(ld.get("total_ms", 0.0)),
                              ld.get("frames"), mods)
            status = ld.get("status", "lsSuccess")
            if status != "lsSuccess":
                # not a run of anything, but what it read before failing moved the head
                if mods:
                    moved_by = changed_by = {"kind": f"{kind} (failed: {status})",
                                             "request": ld.get("request"),
                                             "load": obs.load_id, "step": step}
                continue
            key = None
            if kind == "boot" and ld.get("to") == ix.start:
                key = "boot"
            elif kind == "transition":
                key = ("transition", ld.get("from"), ld.get("to"))
            elif kind == "stream":
                key = ("stream", ld.get("stream"))
            elif kind == "prefetch" and ("prefetch", ld.get("to")) in comps:
                plan = comps["prefetch", ld.get("to")].plan
                if {m["module"] for m in mods} <= set(plan.modules):
                    key = ("prefetch", ld.get("to"))
            if kind in ("boot", "transition", "jump"):
                stream_cause = None
            if key not in comps:
                if mods or kind == "jump":
                    cause = {"kind": kind, "request": ld.get("request"), "load": obs.load_id,
                             "step": step}
                    unbudgeted.append({"trace": name, "kind": kind,
                                       "request": ld.get("request"),
                                       "total_ms": obs.observed_ms, "load": obs.load_id,
                                       "step": step})
                    changed_by = cause
                    if mods:
                        moved_by = cause
            else:
                comp = comps[key]
                read = [m["module"] for m in mods]
                # what the analysis has resident here on every path: no bound covers it
                resident = [m for m in read if m not in set(comp.plan.modules)]
                head = mods[0].get("from_lba") if mods else None
                cause = None
                if kind == "stream" and stream_cause is not None:
                    cause = stream_cause
                elif mods and None not in comp.heads and head not in comp.heads:
                    cause = moved_by or changed_by
                elif comp.plan.certain - set(read):
                    # what the analysis has loaded on every path was already there: the
                    # order of reads is not one the bound took, but any subset's is
                    cause = changed_by
                if resident and changed_by is not None:
                    comp.not_compared.append((obs, changed_by, ", ".join(resident)))
                elif kind == "stream" and obs.frames is None:
                    comp.pending.append(obs)
                elif cause is not None:
                    b_ms, b_fr = _anywhere(result, comp, key)
                    comp.displaced.append((obs, cause, b_ms, b_fr))
                    if kind == "stream":
                        stream_cause = cause
                else:
                    comp.observations.append(obs)
                if mods:
                    moved_by = None
            for m in mods:
                meas = m.get("init_measured")
                if meas and meas["ms"] > m.get("init_declared_ms", 0.0) + _EPS_MS:
                    overruns.append({"trace": name, "module": m["module"],
                                     "measured_ms": meas["ms"],
                                     "declared_ms": m.get("init_declared_ms", 0.0)})
    order = [c for c in comps.values()]
    return TraceCheck(order, unbudgeted, overruns, names, result.summary_line())
