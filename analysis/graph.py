"""The project graph: modules, their import edges, scenes and the flow graph, in one DiGraph.

Nodes are tuples ``(kind, name)`` so a scene and a module may share a name:

``("module", name)``
    ``info`` (:class:`~gamevm_build.analysis.model.ModuleInfo`), ``region``, ``overlay``
    (bool), ``footprint`` (RAM bytes), ``position`` (disc LBA or ``None``),
    ``init_ms``, ``needs`` (tuple of module names, from the file and the config).
``("scene", name)``
    ``modules`` (the modules the scene requires), ``start`` (bool), ``prefetch`` (the
    modules it may load in the background).
``("resident", name)``
    ``exports``, ``start``, ``end``, ``region``, ``size``.

Edges (attribute ``kind``):

``"needs"``
    module → module it needs (declared); ``symbols``: the imports it resolves.
``"imports"``
    module → provider (a module it does *not* declare in its needs, or the
    resident) for imported ``symbols``.
``"uses"``
    scene → module; ``required`` (bool), ``streams`` (indices into
    ``G.graph["streams"]``) and ``prefetch`` (True when only the scene's prefetch loads it).
``"transition"``
    scene → scene; ``budget_ms``, ``index``, ``description``.

``G.graph`` holds the project facts: ``config``, ``target``, ``profile``,
``model`` (the media model), ``drive`` (the drive state between loads),
``frame_rate``, ``regions`` (name → MemoryRegion), ``costs`` (CpuCosts),
``symbols`` (global symbol table size), ``start`` (scene), ``streams``,
``resident`` (node or ``None``), ``missing_needs`` (needs naming unknown modules),
``reads`` (load name → {module: LBA}: the copy a load reads of a module that is on the
disc more than once), ``boot_head`` (LBA of the head at boot, or ``None``) and ``span``
(``(lo, hi)`` sectors of the disc layout's data, where an unknown head must be, or ``None``).

Examples
--------
>>> G = graph_from_dict({
...     "target": "psx",
...     "memoryMap": {"regions": [{"name": "Main", "start": "0x80010000", "size": "1MB"}]},
...     "modules": {"a": {"region": "Main", "estimate": {"size": "8KB"}},
...                 "b": {"region": "Main", "needs": ["a"], "estimate": {"size": "4KB"}}},
...     "scenes": {"menu": {"modules": []}, "game": {"modules": ["b"]}},
...     "transitions": [{"from": "menu", "to": "game", "budget_ms": 500}]})
>>> sorted(modules(G)), sorted(scenes(G))
(['a', 'b'], ['game', 'menu'])
>>> [(u, v, d["budget_ms"]) for u, v, d in transitions(G)]
[('menu', 'game', 500.0)]
>>> sorted(G.successors(module_node("b")))
[('module', 'a')]
"""

from __future__ import annotations

from typing import Iterator, Mapping

import networkx as nx

from gamevm_build.project.config import ProjectConfig, config_from_dict
from gamevm_build.runtime.loadcost import cpu_costs
from gamevm_build.runtime.trust import TABLE_SYMBOL as TRUST_TABLE
from gamevm_build.project.media import HeadState, get_model
from gamevm_build.project.profile import load_profile

from ._index import gc_paused
from .model import ModuleInfo, Project, ResidentInfo, estimated_module

__all__ = ["build_graph", "graph_from_dict", "graph_from_project", "module_node", "scene_node",
           "modules", "scenes", "transitions", "module_attr", "needs_graph", "flow_graph"]


def module_node(name: str) -> tuple[str, str]:
    """The node key of module ``name``."""
    return ("module", name)


def scene_node(name: str) -> tuple[str, str]:
    """The node key of scene ``name``."""
    return ("scene", name)


def modules(G) -> Iterator[str]:
    """Names of the module nodes of ``G``."""
    return (n[1] for n, k in G.nodes(data="kind") if k == "module")


def scenes(G) -> Iterator[str]:
    """Names of the scene nodes of ``G``."""
    return (n[1] for n, k in G.nodes(data="kind") if k == "scene")


def transitions(G) -> list[tuple[str, str, dict]]:
    """``(from, to, data)`` of every transition edge, in configuration order."""
    out = [(u[1], v[1], d) for u, v, d in G.edges(data=True) if d.get("kind") == "transition"]
    return sorted(out, key=lambda t: t[2]["index"])


def module_attr(G, name: str, attr: str):
    """One attribute of module ``name``."""
    return G.nodes[module_node(name)][attr]


def needs_graph(G) -> nx.DiGraph:
    """Module → needed module edges only (a view-free copy keyed by module name)."""
    D = nx.DiGraph()
    D.add_nodes_from(modules(G))
    D.add_edges_from((u[1], v[1]) for u, v, k in G.edges(data="kind") if k == "needs")
    return D


def flow_graph(G) -> nx.DiGraph:
    """Scene → scene transition edges only, keyed by scene name, with the edge data."""
    F = nx.DiGraph()
    F.add_nodes_from(scenes(G))
    F.add_edges_from((u, v, d) for u, v, d in transitions(G))
    return F


def build_graph(config: ProjectConfig, infos: Mapping[str, ModuleInfo],
                resident: ResidentInfo | None = None) -> nx.DiGraph:
    """Build the project graph from a configuration and its modules.

    Parameters
    ----------
    config : ProjectConfig
        From :func:`gamevm_build.project.config.load_config`.
    infos : mapping
        Module name -> :class:`~gamevm_build.analysis.model.ModuleInfo`, one per configured module.
    resident : ResidentInfo, optional
        The resident kernel; without it imports from the kernel are not checked.

    Returns
    -------
    networkx.DiGraph
        As described in the module docstring.
    """
    with gc_paused():
        return _build(config, infos, resident)


def _build(config, infos, resident):
    profile = load_profile(config.target)
    G = nx.DiGraph()
    regions = {r.name: r for r in config.regions}
    res_node = None
    kernel_size = config.resident_size or (resident.size if resident else 0)
    if resident is not None or config.resident_size is not None:
        res_node = ("resident", "kernel")
        start = resident.start if resident else None
        region = config.resident_region
        if region is None and start is not None:
            region = next((r.name for r in config.regions
                           if r.contains(start, max(kernel_size, 1))), None)
        G.add_node(res_node, kind="resident", name="kernel",
                   path=resident.path if resident else None,
                   exports=resident.exports if resident else frozenset(),
                   start=start, end=resident.end if resident else None,
                   size=kernel_size, region=region, known=bool(resident and resident.path))
    names = set(config.modules)
    missing_needs: list[tuple[str, str]] = []
    for name, spec in config.modules.items():
        info = infos[name]
        needs = []
        for n in tuple(info.needs) + tuple(spec.needs):
            if n not in names:
                missing_needs.append((name, n))
            elif n not in needs and n != name:
                needs.append(n)
        G.add_node(module_node(name), kind="module", name=name, info=info, region=spec.region,
                   overlay=regions[spec.region].overlay, footprint=info.footprint,
                   position=config.positions.get(name), init_ms=spec.init_ms,
                   needs=tuple(needs))
    # provider of every exported symbol: the resident first (it wins at bind time), then
    # modules in name order
    provider: dict[str, tuple] = {}
    for name in sorted(names):
        for sym in infos[name].exports:
            provider.setdefault(sym, module_node(name))
    if res_node is not None:
        for sym in G.nodes[res_node]["exports"]:
            provider[sym] = res_node
    for name in config.modules:
        u = module_node(name)
        declared = {module_node(n) for n in G.nodes[u]["needs"]}
        by_provider: dict[tuple, list[str]] = {}
        for sym in infos[name].imports:
            p = provider.get(sym)
            if p is not None and p != u:
                by_provider.setdefault(p, []).append(sym)
        for v in sorted(declared):
            G.add_edge(u, v, kind="needs", symbols=tuple(by_provider.pop(v, ())))
        for v, syms in sorted(by_provider.items()):
            G.add_edge(u, v, kind="imports", symbols=tuple(syms))
    for name, spec in config.scenes.items():
        G.add_node(scene_node(name), kind="scene", name=name, modules=spec.modules,
                   start=name == config.start, description=spec.description,
                   prefetch=spec.prefetch)
        for m in spec.modules:
            G.add_edge(scene_node(name), module_node(m), kind="uses", required=True, streams=())
        for m in spec.prefetch:
            if not G.has_edge(scene_node(name), module_node(m)):
                G.add_edge(scene_node(name), module_node(m), kind="uses", required=False,
                           streams=(), prefetch=True)
    for st in config.streams:
        for m in st.modules:
            key = (scene_node(st.scene), module_node(m))
            if G.has_edge(*key):
                G.edges[key]["streams"] += (st.index,)
            else:
                G.add_edge(*key, kind="uses", required=False, streams=(st.index,))
    for t in config.transitions:
        G.add_edge(scene_node(t.source), scene_node(t.target), kind="transition",
                   budget_ms=t.budget_ms, index=t.index, description=t.description)
    symbols = len(provider)
    G.graph.update(
        config=config, target=profile.name, profile=profile, model=get_model(config.media),
        drive=HeadState(config.drive), frame_rate=config.frame_rate, regions=regions,
        costs=cpu_costs(profile, trusted=TRUST_TABLE in G.nodes[res_node]["exports"]
                        if res_node is not None else False),
        symbols=symbols, start=config.start,
        streams=list(config.streams), resident=res_node, missing_needs=missing_needs,
        reads=dict(config.reads), boot_head=config.boot_head, span=config.span)
    return G


def graph_from_project(project: Project) -> nx.DiGraph:
    """:func:`build_graph` of a :class:`~gamevm_build.analysis.model.Project`."""
    return build_graph(project.config, project.modules, project.resident)


def graph_from_dict(data: dict, *, base_dir=None) -> nx.DiGraph:
    """Build the graph of a configuration given as a dict; modules must be estimates or files."""
    from .model import load_project

    config = config_from_dict(data, base_dir=base_dir)
    if all(spec.estimate is not None for spec in config.modules.values()) \
            and config.resident_file is None:
        infos = {n: estimated_module(n, s.estimate) for n, s in config.modules.items()}
        return build_graph(config, infos, None)
    return graph_from_project(load_project(config))
