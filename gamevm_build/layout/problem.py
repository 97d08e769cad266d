"""The layout problem: what each load reads, how often, and from where the head comes.

A :class:`Problem` is extracted once from a project with the budget analyzer's
own machinery (:mod:`gamevm_build.analysis.plans`): residency over the flow graph, the load
plan of every transition and stream and of the boot load, with *certain* and
*uncertain* modules.  None of that depends on where modules are on the disc,
so the optimiser (:mod:`.optimise`) and the cost function (:mod:`.cost`) work
on plain integer tables.

Loads are named as the layout file and the analyzer name them: ``boot``,
``from -> to``, ``streams[i]``.  Each has a **weight**, its expected number of
occurrences: a transition's ``likelihood`` (default 1, so without likelihoods
every transition counts once, at its worst case), a stream the sum of the
weights of the transitions entering its scene (plus 1 for the start scene),
the boot load 1.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..project.config import ProjectConfig, config_from_dict, parse_size
from ..errors import ConfigError, InputError
from ..project.media import HeadState, get_model

__all__ = ["LayoutOptions", "Module", "Load", "Problem", "strip_disc", "load_problem",
           "problem_from_project", "DEFAULT_MAX_COPIES", "MAX_PAD"]

#: 3DO's Layout tool duplicated a hot file at most this many times (copies, original included).
DEFAULT_MAX_COPIES = 7
#: Padding sectors the layout may leave before a file (models make a read that starts a
#: sector or two past a paused head cheaper than one right at it).
MAX_PAD = 4


@dataclass(frozen=True)
class LayoutOptions:
    """The ``disc`` keys that steer the layout (docs/config.md, ``disc``)."""

    capacity: int | None = None          # sectors; None: the media model's capacity
    policy: str = "auto"                 # duplicates: none | auto
    max_copies: int = DEFAULT_MAX_COPIES
    max_size: int | None = None          # bytes of extra copies; None: no limit but the disc
    exclude: frozenset = frozenset()     # modules never duplicated
    gaps: bool = True
    data_only: bool = True               # between loads the drive reads only this layout

    @classmethod
    def from_config(cls, config: ProjectConfig, sector_size: int) -> "LayoutOptions":
        disc = config.raw.get("disc", {}) or {}
        dup = disc.get("duplicates", {}) or {}
        where = config.where
        for i, m in enumerate(dup.get("exclude", ())):
            if m not in config.modules:
                raise ConfigError(f"{where}: disc.duplicates.exclude[{i}]: no module '{m}' "
                                  "in modules")
        cap = None
        if "capacity" in disc:
            cap = parse_size(disc["capacity"], where=f"{where}: disc.capacity") // sector_size
        return cls(capacity=cap, policy=dup.get("policy", "auto"),
                   max_copies=int(dup.get("max_copies", DEFAULT_MAX_COPIES)),
                   max_size=parse_size(dup["max_size"], where=f"{where}: disc.duplicates."
                                       "max_size") if "max_size" in dup else None,
                   exclude=frozenset(dup.get("exclude", ())), gaps=bool(disc.get("gaps", True)),
                   data_only=bool(disc.get("data_only", True)))


@dataclass(frozen=True)
class Module:
    """One module file: its size on the medium and the layout-independent costs of a read."""

    id: int
    name: str
    file_size: int
    sectors: int
    transfer_s: float        # media model: whole sectors at the medium's rate
    cpu_s: float             # loader CPU work (copy, relocate, bind, constructors, init)
    path: str | None
    region: str
    rank: int                # the analyzer's providers-first order (ties by name)


@dataclass
class Load:
    """One load of the flow graph: the modules it reads (certain and uncertain) and its weight."""

    id: int
    name: str                # boot | from -> to | streams[i]
    kind: str                # boot | transition | stream
    source: str | None
    target: str
    modules: tuple[int, ...]          # in the order the load reads them (LoadPlan.read_order)
    uncertain: frozenset              # module ids loaded on some paths only
    weight: float
    budget_ms: float | None = None
    #: modules that can be its last read (gamevm_build.analysis._index.Index.may_end)
    ends: frozenset = frozenset()

    @property
    def certain(self) -> tuple[int, ...]:
        return tuple(m for m in self.modules if m not in self.uncertain)


@dataclass
class Problem:
    """Everything the cost function needs, as integer tables (see the module docstring)."""

    model: object
    idle: HeadState
    modules: list[Module]
    loads: list[Load]
    scenes: list[str]
    start: str
    reachable: frozenset
    preds: dict              # scene -> [scene or None (boot)]
    succs: dict
    rpo: dict
    transition: dict         # (from, to) -> load id
    streams: dict            # scene -> [load id], in configuration order
    boot: int                # load id of the boot load
    resident: dict | None    # {"name", "path", "size", "sectors"} of the boot executable
    options: LayoutOptions
    config: ProjectConfig | None = field(default=None, repr=False)
    likelihoods: bool = False
    project: object = field(default=None, repr=False)   # gamevm_build.analysis.model.Project (no positions)
    #: scene -> module ids its prefetch may read (gamevm_build.analysis.plans.prefetch_plans): not a
    #: load (it runs in the background, nothing waits for it) but it moves the head
    prefetch: dict = field(default_factory=dict)
    #: scene -> module ids its prefetch can read last
    prefetch_ends: dict = field(default_factory=dict)

    @property
    def by_name(self) -> dict:
        return {m.name: m for m in self.modules}

    @functools.cached_property
    def sectors_of(self) -> list[int]:
        """Sectors by module id, the boot executable's last: ``sectors_of[m]`` for any
        extent's module, ``RESIDENT`` (-1) included (the search asks millions of times)."""
        return [m.sectors for m in self.modules] + \
            [self.resident["sectors"] if self.resident is not None else 0]

    @property
    def load_by_name(self) -> dict:
        return {ld.name: ld for ld in self.loads}

    @property
    def disc(self) -> bool:
        return self.model.kind == "disc"

    @property
    def capacity(self) -> int:
        """Sectors the layout may use (``disc.capacity``, else the model's)."""
        if self.options.capacity is not None:
            return self.options.capacity
        return self.model.capacity if self.disc else 1 << 31

    def loads_reading(self) -> list[list[int]]:
        """Module id -> ids of the loads whose plan contains it."""
        out: list[list[int]] = [[] for _ in self.modules]
        for ld in self.loads:
            for m in ld.modules:
                out[m].append(ld.id)
        return out


def strip_disc(data: dict) -> dict:
    """A copy of a configuration without its disc positions, layout file and boot head.

    The layout tool plans from scratch: the file it writes is the one ``disc.layout``
    names, and hand-written ``disc.positions`` would only pin what it is about to choose.
    The rest is shared with ``data`` (nothing changes a configuration once read; a deep
    copy cost 0.14 s on 1,650 modules).
    """
    data = dict(data)
    disc = data.get("disc")
    if isinstance(disc, dict):
        data["disc"] = {k: v for k, v in disc.items()
                        if k not in ("positions", "layout", "boot_head")}
    return data


def load_problem(config_path, *, module_files=None, resident_file=None) -> Problem:
    """Read ``gamevm.json`` (without its positions) and its modules; build the :class:`Problem`."""
    from gamevm_build.analysis.model import load_project

    from ..fileutil import read_json

    path = Path(config_path)
    data = read_json(path, "project configuration")
    config = config_from_dict(strip_disc(data) if isinstance(data, dict) else data, path=path,
                              module_files=module_files, resident_file=resident_file)
    return problem_from_project(load_project(config))


def problem_from_project(project) -> Problem:
    """The :class:`Problem` of an :class:`gamevm_build.analysis.model.Project` (positions are ignored)."""
    from gamevm_build.analysis._index import BOOT, index
    from gamevm_build.analysis.graph import build_graph
    from gamevm_build.analysis.model import Project
    from gamevm_build.analysis.plans import boot_plan, load_plans, prefetch_plans, residency, stream_plans

    config = project.config
    if config.positions or config.reads or config.boot_head is not None:
        config = config_from_dict(strip_disc(config.raw), path=config.path,
                                  module_files={n: s.file for n, s in config.modules.items()
                                                if s.file is not None},
                                  resident_file=config.resident_file)
    G = build_graph(config, project.modules, project.resident)
    ix = index(G)
    model = get_model(config.media)
    options = LayoutOptions.from_config(config, model.sector_size)
    if options.policy not in ("none", "auto"):
        raise ConfigError(f"{config.where}: disc.duplicates.policy: expected none or auto")
    rank = {n: i for i, n in enumerate(ix.names)}
    modules = []
    for i, name in enumerate(config.modules):
        info = project.modules[name]
        b = ix.bit[name]
        if info.file_size <= 0:
            raise ConfigError(f"{config.where}: modules.{name}: an empty module cannot be "
                              "placed on the disc")
        modules.append(Module(i, name, info.file_size, model.sectors_for(info.file_size),
                              ix.transfer_s[b], ix.cpu_s[b],
                              str(config.modules[name].file) if config.modules[name].file
                              else None, config.modules[name].region, rank[name]))
    mid = {m.name: m.id for m in modules}
    R = residency(G)
    plans = load_plans(G, R)
    splans = stream_plans(G, R)
    boot = boot_plan(G, R)
    likelihood = {(t.source, t.target): t.likelihood for t in config.transitions}
    budget = {(t.source, t.target): t.budget_ms for t in config.transitions}
    has_likelihood = any(v is not None for v in likelihood.values())

    def weight(u, v):
        w = likelihood.get((u, v))
        return 1.0 if w is None else float(w)

    loads: list[Load] = []

    def ends(plan) -> frozenset:
        return frozenset(mid[n] for n in plan.modules if ix.may_end(plan.load, ix.bit[n]))

    def add(plan, kind, source, target, w, budget_ms=None) -> int:
        mods = tuple(mid[n] for n in plan.read_order)
        unc = frozenset(mid[n] for n in plan.uncertain)
        loads.append(Load(len(loads), plan.load, kind, source, target, mods, unc, w, budget_ms,
                          ends(plan)))
        return len(loads) - 1

    boot_id = add(boot, "boot", None, ix.start, 1.0)
    transition = {}
    for (u, v), plan in sorted(plans.items(), key=lambda kv: kv[0]):
        transition[u, v] = add(plan, "transition", u, v, weight(u, v), budget.get((u, v)))
    entries: dict = {}
    for (u, v) in plans:
        entries[v] = entries.get(v, 0.0) + weight(u, v)
    streams: dict = {s: [] for s in ix.scenes}
    for s in ix.scenes:
        for st, _ in ix.streams[s]:
            if st.index in splans:
                w = entries.get(s, 0.0) + (1.0 if s == ix.start else 0.0)
                streams[s].append(add(splans[st.index], "stream", s, s, w))
    pplans = {s: plan for s, plan in prefetch_plans(G, R).items() if plan.plan_mask}
    prefetch = {s: tuple(mid[n] for n in plan.read_order) for s, plan in pplans.items()}
    prefetch_ends = {s: ends(plan) for s, plan in pplans.items()}
    resident = None
    if config.resident_file is not None and model.kind == "disc":
        rpath = Path(config.resident_file)
        if not os.path.exists(rpath):
            raise InputError(f"{config.where}: resident.file: {rpath}: not found "
                             "(build the kernel first, e.g. scons)")
        size = rpath.stat().st_size
        resident = {"name": rpath.stem, "path": str(rpath), "size": size,
                    "sectors": model.sectors_for(size)}
    elif config.resident_size and model.kind == "disc":
        # planned before the kernel is built: a placeholder of the declared size
        resident = {"name": "kernel", "path": None, "size": config.resident_size,
                    "sectors": model.sectors_for(config.resident_size)}
    return Problem(
        model=model, idle=ix.drive, modules=modules, loads=loads, scenes=list(ix.scenes),
        start=ix.start, reachable=frozenset(R.entry_must),
        preds={s: [None if u is BOOT else u for u in ix.preds[s]] for s in ix.scenes},
        succs={s: list(ix.succs[s]) for s in ix.scenes}, rpo=dict(ix.rpo),
        transition=transition, streams=streams, boot=boot_id, prefetch=prefetch,
        prefetch_ends=prefetch_ends,
        resident=resident,
        options=options, config=config, likelihoods=has_likelihood,
        project=Project(config, project.modules, project.resident))
