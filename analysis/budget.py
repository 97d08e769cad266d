"""Run every check of a project and collect the result: the load-budget analyzer.

:func:`analyze` computes residency, load plans and head positions once and
runs the checks on them: transition budgets (:mod:`gamevm_build.analysis.timing`),
streams (:mod:`gamevm_build.analysis.streaming`), memory (:mod:`gamevm_build.analysis.memory`) and
closure (:mod:`gamevm_build.analysis.closure`), and the worst case of every declared prefetch
(:func:`gamevm_build.analysis.timing.prefetch_times`).  :meth:`BudgetResult.to_dict` is the JSON
report (schema :data:`REPORT_SCHEMA`, documented in ``docs/budget.md``) that
every renderer of :mod:`gamevm_build.analysis.report` formats.

Examples
--------
>>> from gamevm_build.analysis.graph import graph_from_dict
>>> G = graph_from_dict({
...     "target": "n64",
...     "memoryMap": {"regions": [{"name": "Main", "start": "0x80100000", "size": "1MB"}]},
...     "modules": {"level": {"region": "Main", "estimate": {"size": "64KB"}}},
...     "scenes": {"menu": {"modules": []}, "level": {"modules": ["level"]}},
...     "transitions": [{"from": "menu", "to": "level", "budget_ms": 20}]})
>>> result = analyze(G)
>>> result.ok, [round(t.worst_ms, 1) for t in result.transitions]  # 12.23 PI DMA + 1.6 CPU
(True, [13.8])
>>> result.to_dict()["summary"]["worst"]["to"]
'level'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gamevm_build.errors import GameVMError
from ._index import gc_paused, index, lowest_bits
from .closure import closure_findings
from .findings import Finding, kib, ms, sort_findings
from .graph import graph_from_project
from .memory import memory_findings, scene_memory
from .model import load_project
from .plans import head_positions, load_plans, residency, stream_plans
from .streaming import stream_findings, stream_times
from .timing import TransitionTime, boot_time, prefetch_times, seek_advice, transition_times

__all__ = ["REPORT_SCHEMA", "BudgetResult", "analyze", "budget_findings", "check_project"]

#: Version of the JSON report (docs/budget.md, "JSON report").
REPORT_SCHEMA = 1


def _r(seconds: float) -> float:
    return round(seconds * 1e3, 3)


def _suggest(G, t: TransitionTime) -> tuple[str, ...]:
    """What to change so ``t`` fits its budget, most saving first."""
    ix = index(G)
    regions = G.graph["regions"]
    over_s = (t.worst_ms - t.budget_ms) / 1e3
    ideas: list[tuple[float, str]] = []
    positioned = any(p is not None for p in ix.pos)
    unknown_seeks = [s for s in t.load.steps if s.access_s > 0 and
                     (s.position is None or s.from_lba is None)]
    if unknown_seeks and not positioned:
        ideas.append((sum(s.access_s for s in unknown_seeks),
                      f"give disc positions (disc.positions or disc.layout): without them each "
                      f"of the {len(unknown_seeks)} read(s) is charged the worst seek "
                      f"({ms(ix.model.max_seek_s(head_state=ix.drive))})"))
    for s in t.load.steps:
        advice = seek_advice(s) if s.access_s >= 0.005 else None
        if advice:
            ideas.append((s.access_s, advice))
        need = ix.scene_mask[t.source]
        reg = regions[s.region]
        in_use = reg.overlay and any(
            ix.region[j] == s.region for j in range(len(ix.names)) if need >> j & 1)
        if not in_use:
            ideas.append((s.total_s, f"stream {s.module} during scene {t.source} (prefetch it; "
                                     f"saves up to {ms(s.total_s)})"))
        elif reg.pair and not any(ix.region[j] == reg.pair for j in range(len(ix.names))
                                  if need >> j & 1):
            ideas.append((s.total_s, f"move {s.module} to region {reg.pair} and stream it during "
                                     f"scene {t.source} (saves up to {ms(s.total_s)})"))
        reloc = s.cpu.get("relocate", 0.0)
        if reloc >= 0.002:
            ideas.append((reloc, f"prelink {s.module} for region {s.region} at build time "
                                 f"(gamevm prelink) to skip its {s.relocations} relocations "
                                 f"({ms(reloc)})"))
        if s.read_s >= max(over_s, 0.01):
            ideas.append((s.read_s / 2, f"split {s.module} ({kib(s.file_size)}, "
                                        f"{ms(s.read_s)} to read) and load only what "
                                        f"{t.target} needs"))
    ideas.sort(key=lambda x: -x[0])
    seen, out = set(), []
    for _, text in ideas:
        if text not in seen:
            seen.add(text)
            out.append(text)
    if not out:
        out.append(f"raise the budget to {t.worst_ms:.0f} ms or load less in {t.target}")
    return tuple(out[:4])


def budget_findings(G, times: list[TransitionTime]) -> list[Finding]:
    """One error per transition over its budget, with what to change."""
    out = []
    for t in times:
        if t.ok:
            continue
        worst = max(t.load.steps, key=lambda s: s.total_s, default=None)
        detail = (f"; {worst.module} alone takes {ms(worst.total_s)} "
                  f"({ms(worst.access_s)} access, {ms(worst.read_s)} read, "
                  f"{ms(worst.cpu_s)} CPU)") if worst else ""
        out.append(Finding(
            "error", "budget", f"{t.source} -> {t.target}",
            f"worst case {t.worst_ms:.1f} ms exceeds the budget of {t.budget_ms:g} ms by "
            f"{t.worst_ms - t.budget_ms:.1f} ms{detail}", _suggest(G, t)))
    return out


@dataclass
class BudgetResult:
    """Everything :func:`analyze` computed (see :meth:`to_dict` for the report)."""

    G: object = field(repr=False)
    transitions: list
    streams: list
    memory: dict
    findings: list
    boot: object
    residency: object = field(repr=False)
    source: str | None = None
    #: :class:`~gamevm_build.analysis.timing.PrefetchTime` of every scene that declares a prefetch
    prefetches: list = field(default_factory=list)
    #: :class:`~gamevm_build.analysis.plans.Heads`: where the head can be at each scene (trace check)
    heads: object = field(default=None, repr=False)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def ok(self) -> bool:
        """True when every budget, deadline, memory and closure rule holds."""
        return not self.errors

    @property
    def worst(self) -> TransitionTime | None:
        return self.transitions[0] if self.transitions else None

    def summary_line(self) -> str:
        """One line for build logs."""
        over = [t for t in self.transitions if not t.ok]
        late = [s for s in self.streams if not s.ok]
        parts = [f"{len(self.transitions)} transition(s)", f"{len(self.streams)} stream(s)"]
        w = self.worst
        worst = (f"; worst {w.source} -> {w.target} {w.worst_ms:.1f} ms of {w.budget_ms:g} ms"
                 if w else "")
        if self.ok:
            return "budgets hold: " + ", ".join(parts) + worst
        bad = []
        if over:
            bad.append(f"{len(over)} transition(s) over budget")
        if late:
            bad.append(f"{len(late)} stream(s) late")
        other = len(self.errors) - len(over) - len(late)
        if other > 0:
            bad.append(f"{other} other error(s)")
        return "budget check failed: " + ", ".join(bad) + worst

    @gc_paused()      # a dict per region per scene: with the collector on, superlinear
    def to_dict(self) -> dict:
        """The JSON report (schema 1; docs/budget.md)."""
        G = self.G
        ix = index(G)
        model = G.graph["model"]
        R = self.residency

        def capped(mask, limit=100):
            return sorted(ix.names[i] for i in lowest_bits(mask, limit))

        def plan_dict(p):
            return {"modules": list(p.read_order), "certain": sorted(p.certain),
                    "uncertain": sorted(p.uncertain), "skipped": list(p.skipped),
                    "evicts_count": p.evicts_mask.bit_count(), "evicts": capped(p.evicts_mask)}

        def heads(h):
            return sorted(h, key=lambda x: (x is None, x or 0))

        transitions = [{
            "from": t.source, "to": t.target, "index": t.index, "budget_ms": t.budget_ms,
            "worst_ms": round(t.worst_ms, 3), "margin_ms": round(t.margin_ms, 3),
            "ok": t.ok, "description": t.description, "path": list(t.path),
            "media_ms": _r(t.load.media_s), "cpu_ms": _r(t.load.cpu_s),
            "heads": heads(t.load.heads), "plan": plan_dict(t.load.plan),
            "steps": [s.to_dict() for s in t.load.steps]} for t in self.transitions]
        streams = [{
            "index": s.index, "scene": s.scene, "modules": list(s.modules),
            "deadline_frames": s.deadline_frames, "frames": s.frames,
            "media_frames": s.media_frames, "cpu_frames": s.cpu_frames,
            "cpu_slice_ms": s.cpu_slice_ms, "ok": s.ok, "description": s.description,
            "media_ms": _r(s.load.media_s), "cpu_ms": _r(s.load.cpu_s),
            "plan": plan_dict(s.load.plan), "steps": [x.to_dict() for x in s.load.steps]}
            for s in self.streams]
        prefetches = [{
            "scene": p.scene, "modules": list(p.modules), "worst_ms": round(p.worst_ms, 3),
            "media_ms": _r(p.load.media_s), "cpu_ms": _r(p.load.cpu_s),
            "heads": heads(p.load.heads), "plan": plan_dict(p.load.plan),
            "steps": [x.to_dict() for x in p.load.steps]} for p in self.prefetches]
        scenes = []
        for name in ix.scenes:
            must, may = R.exit_must.get(name, 0), R.exit_may.get(name, 0)
            entry = {"scene": name, "reachable": name in R.entry_must,
                     "modules": list(G.nodes[("scene", name)]["modules"]),
                     "must_resident_count": must.bit_count(), "must_resident": capped(must),
                     "may_resident_count": may.bit_count(), "may_resident": capped(may)}
            if name in self.memory:
                entry.update(self.memory[name].to_dict())
            scenes.append(entry)
        w = self.worst
        errors, warnings = self.errors, self.warnings
        forms = _forms(ix, model, G.graph["costs"], G.graph["config"])
        return {
            "schema": REPORT_SCHEMA,
            "tool": "gamevm budget",
            "config": self.source,
            "ok": self.ok,
            "target": G.graph["target"],
            "frame_rate": G.graph["frame_rate"],
            "media": {**model.describe(), "drive": ix.drive.value},
            "cpu": G.graph["costs"].describe(),
            "summary": {
                "line": self.summary_line(),
                "transitions": len(self.transitions),
                "transitions_over": sum(not t.ok for t in self.transitions),
                "streams": len(self.streams),
                "streams_late": sum(not s.ok for s in self.streams),
                "errors": len(errors), "warnings": len(warnings),
                "worst": {"from": w.source, "to": w.target, "worst_ms": round(w.worst_ms, 3),
                          "budget_ms": w.budget_ms} if w else None,
                "peak_ram": max((m.peak_ram for m in self.memory.values()), default=0),
            },
            "worst_path": list(w.path) if w else [],
            "boot": {"scene": ix.start, "worst_ms": _r(self.boot.total_s),
                     "plan": plan_dict(self.boot.plan),
                     "steps": [s.to_dict() for s in self.boot.steps]},
            "transitions": transitions,
            "streams": streams,
            "prefetches": prefetches,
            **({"forms": forms} if forms else {}),
            "scenes": scenes,
            "flow": {"start": ix.start, "scenes": list(ix.scenes),
                     "transitions": [{"from": u[1], "to": v[1], "budget_ms": d["budget_ms"]}
                                     for u, v, d in sorted(
                                         ((u, v, d) for u, v, d in G.edges(data=True)
                                          if d.get("kind") == "transition"),
                                         key=lambda e: e[2]["index"])]},
            "findings": [f.to_dict() for f in self.findings],
        }


def analyze(G, *, source: str | None = None) -> BudgetResult:
    """Run every check on the project graph ``G`` (from :mod:`gamevm_build.analysis.graph`).

    Returns
    -------
    BudgetResult
        Transitions worst first, streams, per-scene memory and all findings
        (errors first).
    """
    with gc_paused():
        R = residency(G)
        plans = load_plans(G, R)
        splans = stream_plans(G, R)
        heads = head_positions(G, R, plans, splans)
        times = transition_times(G, R=R, plans=plans, heads=heads)
        streams = stream_times(G, R=R, heads=heads, splans=splans)
        prefetches = prefetch_times(G, R=R, heads=heads)
        mem = scene_memory(G, R)
        findings = (budget_findings(G, times) + stream_findings(G, streams, R)
                    + memory_findings(G, R, mem) + closure_findings(G)
                    + request_findings(G, times))
        return BudgetResult(G, times, streams, mem, sort_findings(findings), boot_time(G, R=R),
                            R, source, prefetches, heads)


def check_project(config, *, module_files=None, resident_file=None,
                  layout_file=None) -> BudgetResult:
    """Load the project at ``config`` (a gamevm.json path), build its graph and analyze it.

    ``layout_file`` (a disc layout written by ``gamevm layout``) replaces the
    configuration's ``disc.layout`` and ``disc.positions``.

    Raises
    ------
    ConfigError, InputError
        For an invalid configuration or unusable module/resident files.
    """
    with gc_paused():
        project = load_project(config, module_files=module_files, resident_file=resident_file,
                               layout_file=layout_file)
        source = str(config) if isinstance(config, (str, Path)) else (
            str(project.config.path) if project.config.path else None)
        return analyze(graph_from_project(project), source=source)


def request_findings(G, times) -> list[Finding]:
    """A warning for each transition whose load is several LoadModule requests on a disc.

    The bound charges a transition's files as one stream of reads (the drive goes on from
    one file to the next), as the reference loader reads a scene.  The console-side
    runtime loads each of the scene's modules that no other one needs with a LoadModule
    of its own (its needs in the same request), and each request's first read starts from
    the idle drive: a bound the runtime can exceed (the CD game's first draft: title's
    three modules, 670.5 ms observed against a bound of 553.0 ms)."""
    import networkx as nx
    model = G.graph["model"]
    if model.describe().get("kind") != "disc":
        return []
    needs = nx.DiGraph()
    needs.add_edges_from((u[1], v[1]) for u, v, k in G.edges(data="kind") if k == "needs")
    out = []
    for t in times:
        read = set(t.load.plan.read_order)
        loaded = [m for m in G.nodes[("scene", t.target)]["modules"] if m in read]
        below = set()
        for m in loaded:
            if m in needs:
                below |= nx.descendants(needs, m)
        roots = [m for m in loaded if m not in below]
        if len(roots) > 1:
            out.append(Finding(
                "warning", "requests", f"{t.source} -> {t.target}",
                f"loads {', '.join(roots)} as {len(roots)} LoadModule requests on the "
                "console-side runtime; each one's first read starts from the idle drive, "
                "which this bound (one stream of reads) does not charge",
                (f"make {roots[0]} need {', '.join(roots[1:])} (GAMEVM_NEEDS or "
                 f"modules.{roots[0]}.needs): one request, read in one stream",)))
    return out


def _forms(ix, model, costs, config) -> list[dict]:
    """Per module, its shipping form and what the form saves and costs (issue #14), when a
    module is not plain: the bytes read less than the plain module's, in ms, the ms its
    LZ4 image takes to decode, and why this one: the config's ``modules.NAME.form``
    forced it, or each form's read and CPU time (the model's choice).  Read here, for the
    report only: reading a project does not convert its modules."""
    if all(i.form == "plain" for i in ix.info):
        return []
    out = []
    for i in sorted(ix.info, key=lambda i: i.name):
        plain = i.file_size if i.form == "plain" else _plain_size(i)
        decode = costs.seconds(costs.decode_cycles(i.form, i.decode))
        saved = model.transfer_s(plain) - model.transfer_s(i.file_size)
        spec = config.modules.get(i.name)
        forced = spec.form if spec is not None and spec.form != "auto" else None
        why = _why(i, model, len(ix.info))
        if forced == i.form:
            why = f"forced by {spec.form_key}"
        elif forced:                 # an explicit --form or GAMEVM_FORM beat the config
            why = f"not the {forced} {spec.form_key} forces: built so explicitly" \
                + (f"; {why}" if why else "")
        out.append({"module": i.name, "form": i.form, "bytes": i.file_size,
                    "plain_bytes": plain, "read_ms_saved": _r(saved),
                    "decode_ms": _r(decode), "why": why,
                    "forced_by": spec.form_key if forced == i.form else None})
    return out


def _plain_size(info) -> int:
    """Bytes of the module's file in the plain form (what its packed form saves)."""
    from gamevm_build.fileutil import read_input
    from gamevm_build.link.shipform import convert
    if info.path is None:
        return info.file_size
    try:
        return len(convert(read_input(info.path, "module"), "plain", path=info.path))
    except (OSError, GameVMError):
        return info.file_size


def _why(info, model, modules: int) -> str:
    """Each form's read + CPU ms for ``info`` (the choice ``--form auto`` makes); empty
    past 200 modules, where weighing every form of each would slow the report down."""
    from gamevm_build.fileutil import read_input
    from gamevm_build.link.shipform import form_costs
    if info.path is None or modules > 200:
        return ""
    try:
        rows = form_costs(read_input(info.path, "module"), path=info.path, media=model)
    except (OSError, GameVMError):
        return ""
    plain = next(r["ram"] for r in rows if r["form"] == "plain")
    return ", ".join(f"{r['form']} {(r['read_s'] + r['cpu_s']) * 1e3:.2f} ms"
                     + (f" (+{r['ram'] - plain} B RAM)" if r["ram"] > plain else "")
                     for r in rows)
