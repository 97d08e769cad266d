"""Closure checks: unresolved imports, dependency cycles, unreachable scenes, unused modules.

Examples
--------
>>> from gamevm_build.analysis.graph import graph_from_dict
>>> G = graph_from_dict({
...     "target": "psx",
...     "memoryMap": {"regions": [{"name": "Main", "start": "0x80010000", "size": "1MB"}]},
...     "modules": {
...         "a": {"region": "Main", "needs": ["b"], "estimate": {"size": 1, "imports": ["f", "g"]}},
...         "b": {"region": "Main", "needs": ["a"], "estimate": {"size": 1, "exports": ["f"]}},
...         "c": {"region": "Main", "estimate": {"size": 1, "exports": ["g"]}},
...         "d": {"region": "Main", "estimate": {"size": 1}}},
...     "scenes": {"menu": {"modules": ["a"]}, "secret": {"modules": ["c"]}}})
>>> needs_closure(G, ["a"])
['a', 'b']
>>> dependency_cycles(G)
[['a', 'b']]
>>> unresolved_imports(G)
[('a', 'g', 'c')]
>>> unreachable_scenes(G), unused_modules(G)
(['secret'], ['d'])
"""

from __future__ import annotations

import networkx as nx

from .findings import Finding
from ._index import bits, index
from .graph import module_node, needs_graph

__all__ = ["needs_closure", "dependency_cycles", "unresolved_imports", "unreachable_scenes",
           "unused_modules", "closure_findings"]


def needs_closure(G, names) -> list[str]:
    """``names`` and every module they need, directly or not, sorted."""
    ix = index(G)
    return sorted(ix.names_of(ix.close(ix.mask(names))))


def dependency_cycles(G) -> list[list[str]]:
    """Groups of modules that need each other (strongly connected), each sorted; sorted."""
    if index(G).acyclic:
        return []
    D = needs_graph(G)
    return sorted(sorted(c) for c in nx.strongly_connected_components(D)
                  if len(c) > 1 or any(D.has_edge(n, n) for n in c))


def unresolved_imports(G) -> list[tuple[str, str, str | None]]:
    """Strong imports no provider in the importer's needs closure (or the resident) defines.

    Returns
    -------
    list of (module, symbol, provider)
        ``provider`` is a module that exports the symbol but is not needed by
        the importer, or ``None`` when nothing defines it.  Without a known
        resident, symbols no module defines are not reported (they may be the
        kernel's).
    """
    ix = index(G)
    res = G.graph.get("resident")
    known_resident = res is not None and G.nodes[res].get("known")
    res_exports = G.nodes[res]["exports"] if res is not None else frozenset()
    out = []
    for name in sorted(ix.names):
        info = G.nodes[module_node(name)]["info"]
        if not info.imports:
            continue
        resolved = set(res_exports)
        providers = {}
        for _, v, d in G.out_edges(module_node(name), data=True):
            if d.get("kind") == "needs":
                resolved.update(d.get("symbols", ()))    # provided by a module it needs
            elif d.get("kind") == "imports" and v[0] == "module":
                for sym in d.get("symbols", ()):
                    providers[sym] = v[1]
        missing = [s for s in info.imports if s not in resolved and s not in info.weak_imports]
        if not missing:
            continue
        i = ix.bit[name]
        provided = set()
        for j in bits(ix.closure[i] & ~(1 << i)):
            provided.update(ix.info[j].exports)
        for sym in sorted(missing):
            if sym in provided:
                continue
            provider = providers.get(sym)
            if provider is not None or known_resident:
                out.append((name, sym, provider))
    return out


def unreachable_scenes(G) -> list[str]:
    """Scenes no sequence of transitions leads to from the start scene, sorted."""
    ix = index(G)
    return sorted(set(ix.scenes) - set(ix.rpo))


def unused_modules(G) -> list[str]:
    """Modules no scene requires or streams, directly or through needs, sorted."""
    ix = index(G)
    used = ix.close(ix.mask(v[1] for _, v, k in G.edges(data="kind") if k == "uses"))
    return sorted(ix.names_of(ix.all & ~used))


def closure_findings(G) -> list[Finding]:
    """All closure problems as findings (errors: imports, needs, cycles; warnings: the rest)."""
    out = []
    for m, need in G.graph.get("missing_needs", ()):
        out.append(Finding("error", "closure", f"module {m}",
                           f"needs module '{need}', which the configuration does not list",
                           (f"add '{need}' to modules (with its file and region), or rebuild "
                            f"{m} without it",)))
    cycles = dependency_cycles(G)
    D_all = needs_graph(G) if cycles else None
    for group in cycles:
        D = D_all.subgraph(group)
        cyc = [u for u, _ in nx.find_cycle(D, source=group[0])]
        path = " -> ".join(cyc + [cyc[0]])
        out.append(Finding("error", "closure", "modules " + ", ".join(group),
                           f"need each other ({path}): a loader cannot order them",
                           ("merge them into one module, or move what they share into a module "
                            "they both need",)))
    res = G.graph.get("resident")
    res_name = (G.nodes[res].get("path") or "the resident") if res is not None else "the resident"
    for m, sym, provider in unresolved_imports(G):
        if provider is not None:
            out.append(Finding("error", "closure", f"module {m}",
                               f"imports '{sym}' from {provider}, which it does not need",
                               (f"add {provider} to modules.{m}.needs (and link {m} with "
                                f"--needs {provider})",)))
        else:
            out.append(Finding("error", "closure", f"module {m}",
                               f"imports '{sym}', which neither {res_name} nor any module "
                               "defines",
                               (f"define '{sym}' in the kernel or in a module {m} needs",)))
    for s in unreachable_scenes(G):
        out.append(Finding("warning", "closure", f"scene {s}",
                           f"is unreachable from the start scene '{G.graph['start']}': its "
                           "loads are not checked",
                           (f"add a transition into {s}, or remove it",)))
    for m in unused_modules(G):
        out.append(Finding("warning", "closure", f"module {m}",
                           "is never used: no scene or stream needs it",
                           (f"add {m} to a scene's modules, or remove it from modules",)))
    return out
