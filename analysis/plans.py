"""Residency dataflow over the flow graph and the load plan of every transition.

Which modules are resident when the game enters a scene depends on the path
it took: an overlay region holds the last module loaded into it, so a module
loaded by one path may have been evicted on another.  :func:`residency`
computes, for every scene, the modules resident on **every** path into it
(*must*, an intersection over incoming transitions) and on **some** path
(*may*, a union), as a fixpoint over the flow graph including its cycles.

A transition ``u -> v`` loads its **plan**: the target scene's modules closed
over ``needs``, minus those guaranteed resident when leaving ``u``.  Plan
modules not possibly resident are *certain* to be loaded; the others
(*uncertain*) are loaded on some paths only.

Semantics (also used by :mod:`gamevm_build.analysis.simulate`):

* the game starts in the start scene with nothing but the resident kernel loaded;
* entering a scene loads its closure; loading a module into an overlay region
  evicts the region's other occupant, modules in resident regions stay;
* a scene's streams load their modules (closed over needs) after the entry
  load, in configuration order; a transition leaving the scene counts them as
  resident (the game must not leave before its streams complete: their
  deadlines are checked by :mod:`gamevm_build.analysis.streaming`);
* after its streams, a scene may **prefetch** (``scenes.NAME.prefetch``): load any
  part of those modules, any number of times, or nothing.  Nothing it loads is
  counted on (it is *may* resident only), everything it can evict is no longer
  *must* resident, and the head may be at the end of any module it reads.

Examples
--------
>>> from gamevm_build.analysis.graph import graph_from_dict
>>> G = graph_from_dict({
...     "target": "psx",
...     "memoryMap": {"regions": [
...         {"name": "Main", "start": "0x80010000", "size": "512KB"},
...         {"name": "Ovl", "start": "0x80090000", "size": "256KB", "type": "overlay"}]},
...     "modules": {"core": {"region": "Main", "estimate": {"size": "8KB"}},
...                 "a": {"region": "Ovl", "needs": ["core"], "estimate": {"size": "32KB"}},
...                 "b": {"region": "Ovl", "needs": ["core"], "estimate": {"size": "32KB"}}},
...     "scenes": {"menu": {"modules": []}, "A": {"modules": ["a"]}, "B": {"modules": ["b"]}},
...     "transitions": [{"from": "menu", "to": "A", "budget_ms": 900},
...                     {"from": "A", "to": "B", "budget_ms": 900},
...                     {"from": "B", "to": "A", "budget_ms": 900}]})
>>> R = residency(G)
>>> sorted(R.must("A")), sorted(R.may("A", at="entry"))
(['a', 'core'], ['a', 'core'])
>>> plans = load_plans(G, R)
>>> plans["menu", "A"].modules, plans["A", "B"].modules, plans["B", "A"].modules
(('core', 'a'), ('b',), ('a',))
>>> plans["A", "B"].evicts
('a',)
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from ._index import BOOT, bits, index

__all__ = ["Residency", "LoadPlan", "Heads", "residency", "load_plans", "stream_plans",
           "prefetch_plans", "boot_plan", "head_positions", "heads_after", "MAX_HEADS",
           "UNKNOWN"]

#: More possible head positions than this at a scene collapse to "unknown" (sound: the
#: worst seek is charged), which keeps the analysis linear on large flow graphs.
MAX_HEADS = 8
#: The head position set "anywhere": seeks from it cost the model's worst seek.
UNKNOWN = frozenset({None})


@dataclass
class Residency:
    """Result of :func:`residency`: module sets per scene, as bitsets over the index."""

    entry_must: dict
    entry_may: dict
    exit_must: dict
    exit_may: dict
    _index: object = field(repr=False)

    @property
    def reachable(self) -> frozenset:
        """Scenes reachable from the start scene."""
        return frozenset(self.entry_must)

    def _get(self, table, scene):
        return self._index.names_of(table.get(scene, 0))

    def must(self, scene: str, *, at: str = "exit") -> frozenset:
        """Modules resident on every path at ``scene``'s entry (after its load) or exit
        (after its streams and a possible prefetch)."""
        return frozenset(self._get(self.exit_must if at == "exit" else self.entry_must, scene))

    def may(self, scene: str, *, at: str = "exit") -> frozenset:
        """Modules resident on some path at ``scene``'s entry or exit."""
        return frozenset(self._get(self.exit_may if at == "exit" else self.entry_may, scene))


@dataclass(frozen=True)
class LoadPlan:
    """The modules one load reads, in load order.

    ``kind`` is ``transition``, ``stream``, ``prefetch`` or ``boot``; ``certain`` modules are
    loaded on every path, ``uncertain`` ones on some; ``skipped`` modules of
    the target's closure are guaranteed resident; ``evicts`` are modules the
    load may evict from overlay regions.  Module sets are kept as bitsets over
    the graph's index and named on access.
    """

    kind: str
    source: str | None
    target: str
    stream: int | None
    plan_mask: int = field(repr=False)
    uncertain_mask: int = field(repr=False)
    skipped_mask: int = field(repr=False)
    evicts_mask: int = field(repr=False)
    _index: object = field(repr=False, compare=False)

    @property
    def masks(self) -> tuple[int, int]:
        """(plan, uncertain) bitsets."""
        return self.plan_mask, self.uncertain_mask

    @property
    def load(self) -> str:
        """The load's name: ``boot``, ``from -> to``, ``streams[i]`` or ``prefetch[scene]``
        (disc layouts use it)."""
        if self.kind == "boot":
            return "boot"
        if self.kind == "stream":
            return f"streams[{self.stream}]"
        if self.kind == "prefetch":
            return f"prefetch[{self.target}]"
        return f"{self.source} -> {self.target}"

    @property
    def modules(self) -> tuple[str, ...]:
        return tuple(self._index.names_of(self.plan_mask))

    @property
    def read_order(self) -> tuple[str, ...]:
        """:attr:`modules` in the order the load reads them: each module it asks for
        after its needs, depth first (both loaders' order)."""
        ix = self._index
        return tuple(ix.names[i] for i in ix.sequence(self.plan_mask, self.load))

    @property
    def certain(self) -> frozenset:
        return frozenset(self._index.names_of(self.plan_mask & ~self.uncertain_mask))

    @property
    def uncertain(self) -> frozenset:
        return frozenset(self._index.names_of(self.uncertain_mask))

    @property
    def skipped(self) -> tuple[str, ...]:
        return tuple(self._index.names_of(self.skipped_mask))

    @property
    def evicts(self) -> tuple[str, ...]:
        return tuple(self._index.names_of(self.evicts_mask))


def _functions(ix):
    """Per scene: (entry kill, entry gen, exit kill, exit gen) of its load and its streams.

    Every transfer is ``X -> (X & ~kill) | gen``; a scene's streams compose into
    one such function.  Its prefetch is not in there: it is optional, so it kills
    only for *must* (``ix.prefetch_kill``) and generates only for *may*
    (``ix.prefetch``).
    """
    out = {}
    for v in ix.scenes:
        gen = ix.scene_mask[v]
        kill = ix.evict(gen)
        skill = sgen = 0
        for _st, smask in ix.streams[v]:
            k = ix.evict(smask)
            skill |= k
            sgen = (sgen & ~k) | smask
        out[v] = (kill, gen, skill, sgen)
    return out


def residency(G) -> Residency:
    """Must/may resident module sets at every reachable scene (fixpoint over the flow graph).

    Returns
    -------
    Residency
        ``must(scene)`` / ``may(scene)`` at ``at="entry"`` (after the entry
        load) or ``at="exit"`` (after the scene's streams).

    Notes
    -----
    Every transfer is a gen/kill function ``X -> (X & ~kill) | gen`` (the
    modules a load evicts do not depend on what is resident), so both
    analyses are monotone.  *must* (intersection) is a worklist iteration from
    the top element in reverse postorder; *may* (union) propagates only the
    bits that are new along each transition, so every module crosses every
    transition at most once.  Both reach the greatest/least fixpoint.
    """
    ix = index(G)
    entry_must: dict = {}
    entry_may: dict = {}
    exit_must: dict = {}
    exit_may: dict = {}
    if ix.start not in ix.scene_mask:
        return Residency(entry_must, entry_may, exit_must, exit_may, ix)
    fn = _functions(ix)
    rpo = ix.rpo
    # must: intersection over incoming transitions, from the top element
    work = [(rpo[ix.start], ix.start)]
    queued = {ix.start}
    while work:
        v = heapq.heappop(work)[1]
        queued.discard(v)
        kill, gen, skill, sgen = fn[v]
        must = None
        for u in ix.preds[v]:
            if u is BOOT:
                t = gen
            elif u in exit_must:
                t = (exit_must[u] & ~kill) | gen
            else:
                continue                       # not reached yet: the top element
            must = t if must is None else must & t
        if must is None or entry_must.get(v) == must:
            continue
        entry_must[v] = must
        exit_must[v] = ((must & ~skill) | sgen) & ~ix.prefetch_kill[v]
        for w in ix.succs[v]:
            if w not in queued:
                queued.add(w)
                heapq.heappush(work, (rpo[w], w))
    # may: union, pushing only the bits that are new at each scene's exit
    pending = {v: 0 for v in entry_must}        # bits that reached v's entry, not yet applied
    for v in entry_must:
        kill, gen, skill, sgen = fn[v]
        entry_may[v] = gen
        # a prefetch kills nothing for may: what it evicts stays possible (not loading)
        exit_may[v] = (gen & ~skill) | sgen | ix.prefetch[v]
    work = [(rpo[v], v) for v in entry_must]
    heapq.heapify(work)
    queued = set(entry_must)
    fresh = dict(exit_may)                      # exit bits not yet pushed to successors
    while work:
        v = heapq.heappop(work)[1]
        queued.discard(v)
        kill, gen, skill, sgen = fn[v]
        incoming = pending[v] & ~kill & ~entry_may[v]
        pending[v] = 0
        if incoming:
            entry_may[v] |= incoming
            out = incoming & ~skill & ~exit_may[v]
            if out:
                exit_may[v] |= out
                fresh[v] |= out
        delta = fresh[v]
        if not delta:
            continue
        fresh[v] = 0
        for w in ix.succs[v]:
            if w in pending and delta & ~pending[w]:
                pending[w] |= delta
                if w not in queued:
                    queued.add(w)
                    heapq.heappush(work, (rpo[w], w))
    return Residency(entry_must, entry_may, exit_must, exit_may, ix)


def _plan(ix, kind, source, target, want: int, must: int, may: int, stream=None) -> LoadPlan:
    plan = want & ~must
    return LoadPlan(kind, source, target, stream, plan, plan & may, want & must,
                    ix.evict(want) & may, ix)


def load_plans(G, R: Residency | None = None) -> dict:
    """The :class:`LoadPlan` of every transition whose source scene is reachable.

    Returns
    -------
    dict
        ``(from, to) -> LoadPlan``.
    """
    ix = index(G)
    R = R if R is not None else residency(G)
    out = {}
    for v in ix.scenes:
        for u in ix.preds[v]:
            if u is BOOT or u not in R.exit_must:
                continue
            out[u, v] = _plan(ix, "transition", u, v, ix.scene_mask[v], R.exit_must[u],
                              R.exit_may[u])
    return out


def boot_plan(G, R: Residency | None = None) -> LoadPlan:
    """The load that enters the start scene from boot (nothing resident)."""
    ix = index(G)
    return _plan(ix, "boot", None, ix.start, ix.scene_mask.get(ix.start, 0), 0, 0)


def stream_plans(G, R: Residency | None = None) -> dict:
    """The :class:`LoadPlan` of every stream of a reachable scene: ``stream index -> plan``.

    Streams of one scene load one after the other, in configuration order,
    after the scene's entry load.
    """
    ix = index(G)
    R = R if R is not None else residency(G)
    out = {}
    for s in ix.scenes:
        if s not in R.entry_must:
            continue
        must, may = R.entry_must[s], R.entry_may[s]
        for st, smask in ix.streams[s]:
            out[st.index] = _plan(ix, "stream", s, s, smask, must, may, stream=st.index)
            must, may = ix.apply(must, smask), ix.apply(may, smask)
    return out


@dataclass
class Heads:
    """Possible head positions (LBAs; ``None`` = unknown) at each scene's entry and exit."""

    entry: dict
    exit: dict


def heads_after(ix, heads: frozenset, plan_mask: int, uncertain: int,
                load: str | None = None) -> frozenset:
    """Where the head can be after reading a plan (see :func:`head_positions`).

    ``load`` names the load (:attr:`LoadPlan.load`): which modules it asks for, so in
    which order it reads (:meth:`~gamevm_build.analysis._index.Index.order`), and the
    copies it reads of modules that are on the disc more than once.
    """
    if not plan_mask:
        return heads
    key = (plan_mask, uncertain, load)
    known = ix.after.get(key)
    if known is None:           # the worklist asks again for every pass over a scene
        order = ix.order(plan_mask, load)
        last = max((k for k, (i, _p, _e) in enumerate(order) if not uncertain >> i & 1),
                   default=None)
        # the head stops after the last module read: at or after the last certain one,
        # and one the load asked for (what it reads on the way comes before those)
        ends = frozenset(e for i, _p, e in order[last or 0:] if ix.may_end(load, i))
        if last is not None and not ends:
            ends = frozenset({order[last][2]})
        known = ix.after[key] = (ends, last is None)
    ends, stays = known
    out = ends | heads if stays else ends
    return UNKNOWN if len(out) > MAX_HEADS else out


def prefetch_plans(G, R: Residency | None = None) -> dict:
    """The :class:`LoadPlan` of every reachable scene's prefetch: ``scene -> plan``.

    Every module is *uncertain*: the game may prefetch any part of the declared
    modules (a scenario's ``prefetch`` step loads one scene's missing modules),
    after the scene's streams.  Modules resident on every path at that point are
    skipped; one the prefetch itself may evict stays in the plan.
    """
    ix = index(G)
    R = R if R is not None else residency(G)
    out = {}
    for s in ix.scenes:
        want = ix.prefetch[s]
        if not want or s not in R.entry_must:
            continue
        must = R.exit_must[s]               # after the streams, without what it may evict
        plan = want & ~must
        out[s] = LoadPlan("prefetch", s, s, None, plan, plan, want & must,
                          ix.evict_any(want) & R.exit_may[s], ix)
    return out


def head_positions(G, R: Residency | None = None, plans: dict | None = None,
                   streams: dict | None = None) -> Heads:
    """Every place the drive head can be when each scene is entered and left.

    At boot the head is unknown (``None``), or at ``G.graph["boot_head"]`` when the
    disc layout knows it (after the boot executable).  After a load it is at the end of
    the last module read: of the last certain module, or of any uncertain
    module after it; without a certain module it may also stay where it was.
    A module without a disc position leaves the head unknown.  A scene's exit
    includes where its prefetch may leave the head (the end of any module it reads),
    which is also where a prefetch may start.  Sets larger than :data:`MAX_HEADS`
    collapse to unknown.
    """
    ix = index(G)
    R = R if R is not None else residency(G)
    plans = plans if plans is not None else load_plans(G, R)
    streams = streams if streams is not None else stream_plans(G, R)
    prefetch = prefetch_plans(G, R)
    entry: dict = {}
    exit_: dict = {}
    rpo = ix.rpo
    work = sorted((rpo[s], s) for s in ix.scenes if s in R.entry_must)
    queued = {s for _, s in work}
    boot = boot_plan(G, R)
    while work:
        v = heapq.heappop(work)[1]
        queued.discard(v)
        heads: set = set()
        for u in ix.preds[v]:
            if u is BOOT:
                heads |= heads_after(ix, ix.boot_heads, *boot.masks, boot.load)
            elif u in exit_:
                heads |= heads_after(ix, exit_[u], *plans[u, v].masks, plans[u, v].load)
        # entries only grow (union with the previous value) and "unknown" is absorbing,
        # so the worklist terminates even though a capped set is not a superset
        heads |= entry.get(v, frozenset())
        hv = frozenset(heads) if len(heads) <= MAX_HEADS and entry.get(v) != UNKNOWN \
            else UNKNOWN
        if entry.get(v) == hv and v in exit_:
            continue
        entry[v] = hv
        h = hv
        for st, _ in ix.streams[v]:
            h = heads_after(ix, h, *streams[st.index].masks, streams[st.index].load)
        if v in prefetch:
            # every module uncertain: the ends of all of them join the set, so a second
            # prefetch starting where the first stopped is covered too
            h = heads_after(ix, h, *prefetch[v].masks, prefetch[v].load)
        if exit_.get(v) != h:
            exit_[v] = h
            for w in ix.succs[v]:
                if w not in queued:
                    queued.add(w)
                    heapq.heappush(work, (rpo[w], w))
    return Heads(entry, exit_)
