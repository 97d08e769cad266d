"""Load bundles: the modules one load reads, kept together on disc.

A **bundle** is the set of modules a load reads (certain and uncertain),
shared by every load that reads the same set (entering ``level1`` from the
title or from the boss room).  Placed contiguously, one seek and one
sequential read serve it (seed §5.1, "Batching").  Inside a bundle the
modules lie in the order the loader reads them (each after its needs, see
:meth:`gamevm_build.analysis._index.Index.order`), the order of its heaviest
load, so the drive reads forward.

Which load can precede which (whose last read leaves the head where the next
load starts) is the **follow graph**: :func:`head_sources` computes, for every
load, the loads (``"R"``: the boot executable; ``None``: unknown) whose reads
can have left the head where it starts, with the same flow-graph semantics as
:func:`gamevm_build.analysis.plans.head_positions` but independent of any disc order.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

__all__ = ["Bundle", "head_sources", "HeadSourcesTimeout", "form_bundles", "follow_arcs"]


@dataclass
class Bundle:
    """Modules read together, in placement order; the loads that read exactly them."""

    id: int
    modules: tuple[int, ...]
    loads: tuple[int, ...]
    weight: float


def _distinct(heads, plans) -> int:
    """A lower bound on how many distinct disc positions the head sources ``heads`` are.

    Two sources can leave the head at the same place only if they read a common
    module (the same extent last); a greedy set of sources with pairwise disjoint
    module sets cannot share any position.
    """
    chosen: set = set()
    n = 0
    for h in sorted(heads, key=lambda h: (h is None, len(plans(h)) if h is not None else 0,
                                          str(h))):
        if h is None:
            n += 1
            continue
        mods = plans(h)
        if not (mods & chosen):
            chosen |= mods
            n += 1
    return n


class HeadSourcesTimeout(Exception):
    """:func:`head_sources` ran past its deadline (callers fall back to what is sound)."""


def head_sources(problem, *, cap: bool = True, deadline: float | None = None) -> list:
    """Load id -> frozenset of what can have left the head where the load starts.

    Elements are load ids, ``"R"`` (the end of the boot executable, when the
    problem has one on the disc) or ``None`` (unknown).  With ``cap``, a set
    that holds more than :data:`~.cost.MAX_HEADS` sources that provably end at
    different places becomes ``{None}`` as the analyzer's would in every
    layout (:func:`gamevm_build.analysis.plans.heads_after` collapses such sets to
    unknown); sets that may or may not exceed it are kept.

    ``deadline`` (``time.perf_counter()`` seconds): raise
    :class:`HeadSourcesTimeout` past it.  Dense flow graphs (thousands of
    transitions) revisit a scene once per predecessor that changes, so the
    step after a set of sources and the cap of a set are memoized: the sets
    repeat.
    """
    import time

    from .cost import MAX_HEADS

    p = problem
    init = frozenset({"R"}) if p.resident is not None else frozenset({None})
    mods = {ld.id: frozenset(ld.modules) for ld in p.loads}
    mods["R"] = frozenset({-1})
    unknown = frozenset({None})
    certain = [bool(ld.certain) for ld in p.loads]
    capped_memo: dict = {}
    after_memo: dict = {}

    def capped(hs: frozenset) -> frozenset:
        if not cap or len(hs) <= MAX_HEADS or hs == unknown:
            return hs
        got = capped_memo.get(hs)
        if got is None:
            got = unknown if _distinct(hs, mods.__getitem__) > MAX_HEADS else hs
            capped_memo[hs] = got
        return got

    def _after(heads: frozenset, ld) -> frozenset:
        if not ld.modules:
            return heads
        if certain[ld.id]:
            return frozenset({ld.id})
        key = (heads, ld.id)
        got = after_memo.get(key)
        if got is None:
            got = after_memo[key] = capped(heads | {ld.id})
        return got
    out: list = [frozenset()] * len(p.loads)
    out[p.boot] = init
    entry: dict = {}
    exit_: dict = {}
    work = sorted((p.rpo[s], s) for s in p.scenes if s in p.reachable)
    queued = {s for _, s in work}
    boot_after = _after(init, p.loads[p.boot])
    visits = 0
    while work:
        v = heapq.heappop(work)[1]
        queued.discard(v)
        visits += 1
        if deadline is not None and visits % 64 == 0 and time.perf_counter() > deadline:
            raise HeadSourcesTimeout()
        hs = set(entry.get(v, ()))
        for u in p.preds[v]:
            if u is None:
                hs |= boot_after
            elif u in exit_:
                hs |= _after(exit_[u], p.loads[p.transition[u, v]])
        hv = unknown if entry.get(v) == unknown else capped(frozenset(hs))
        if entry.get(v) == hv and v in exit_:
            continue
        entry[v] = hv
        h = hv
        for lid in p.streams[v]:
            h = _after(h, p.loads[lid])
        if exit_.get(v) != h:
            exit_[v] = h
            for w in p.succs[v]:
                if w not in queued:
                    queued.add(w)
                    heapq.heappush(work, (p.rpo[w], w))
    for (u, _v), lid in p.transition.items():
        out[lid] = exit_.get(u, frozenset({None}))
    for s, lids in p.streams.items():
        h = entry.get(s, frozenset({None}))
        for lid in lids:
            out[lid] = h
            h = _after(h, p.loads[lid])
    return out


def form_bundles(problem) -> list[Bundle]:
    """One :class:`Bundle` per distinct non-empty module set read by a load, heaviest first."""
    groups: dict = {}
    for ld in problem.loads:
        if ld.modules:
            groups.setdefault(frozenset(ld.modules), []).append(ld)
    out = []
    for key, lds in groups.items():
        heaviest = min(lds, key=lambda ld: (-ld.weight, ld.id))
        mods = heaviest.modules
        out.append(Bundle(0, tuple(mods), tuple(ld.id for ld in lds),
                          sum(ld.weight for ld in lds)))
    out.sort(key=lambda b: (-b.weight, b.modules))
    for i, b in enumerate(out):
        b.id = i
    return out


def follow_arcs(problem, bundles, sources) -> dict:
    """``(a, b) -> weight``: how much load weight wants bundle ``b`` right after ``a``.

    ``a`` is a bundle id or ``"R"`` (the boot executable).  A load with ``k``
    possible head sources gives each ``1/k`` of its weight (its worst case is
    over all of them).
    """
    of_load = {lid: b.id for b in bundles for lid in b.loads}
    arcs: dict = {}
    for b in bundles:
        for lid in b.loads:
            src = sources[lid]
            if not src:
                continue
            share = problem.loads[lid].weight / len(src)
            for s in src:
                a = "R" if s == "R" else of_load.get(s) if s is not None else None
                if a is None or a == b.id:
                    continue
                arcs[a, b.id] = arcs.get((a, b.id), 0.0) + share
    return arcs
