"""Dense per-graph tables the analyses share (internal).

Module sets are Python ints used as bitsets (bit ``i`` = the ``i``-th module
by disc position, then the unpositioned ones providers first, ties by name),
which keeps the dataflows over 10k modules and 1k scenes fast.  The order a
load *reads* its modules in is not the bit order but the loader's
(:meth:`Index.order`): the modules it was asked for in turn, each after its
needs, depth first, as both loaders do.  The index is computed once per graph
and cached in ``G.graph["_index"]``.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import re

import networkx as nx

from gamevm_build.gcpause import gc_paused
from gamevm_build.runtime.loadcost import (MAX_MODULES, compared_bytes, head_bytes,
                                          lookup_terms, module_cost, registered_needs,
                                          search_probes)
from gamevm_build.project.media import HeadState

__all__ = ["BOOT", "SPAN_NEAR", "Index", "index", "forget", "bits", "lowest_bits", "postorder",
           "head_span", "span_access", "gc_paused"]

BOOT = None          # the virtual predecessor of the start scene (nothing loaded yet)


#: Distance around the target within which span_access probes every sector: one track
#: (8-22 sectors) and Mednafen's short-distance terms (< 12 sectors) fit in it.
SPAN_NEAR = 24


@functools.lru_cache(maxsize=1 << 16)
def _near_worst(model, seek: bool, to_lba, state, a: int, b: int) -> float:
    return model.worst_access_s(a, b, to_lba, head_state=state, seek=seek)


def head_span(span, extents) -> tuple[int, int]:
    """``(lo, hi)`` sectors an unknown head can be in, for :func:`span_access`.

    ``span`` is the disc layout's data; ``extents`` are ``(first, end)`` sectors the
    drive reads (``end`` exclusive).  After a read the head sits *at* ``end``, so the
    span reaches ``end + 1``.  The budget analyzer and the layout's cost model
    (gamevm_build.layout.cost) both call this, so they cannot disagree on it.
    """
    lo, hi = span
    for first, end in extents:
        lo, hi = min(lo, first), max(hi, end + 1)
    return lo, hi


def span_access(model, to_lba, state, span, *, seek: bool = False) -> float:
    """Worst access (or seek) to ``to_lba`` from a head that is *somewhere* in ``span``.

    ``span = (lo, hi)``: the sectors a disc layout's data occupies (``hi`` exclusive).
    A head left by reading the disc's data is in there, so an unknown head costs the
    worst access from that range instead of the model's full stroke.  Every model here
    is monotone in the distance beyond a track, so the worst is at an end of the span
    or within :data:`SPAN_NEAR` sectors of the target, all of which are probed.
    """
    lo, hi = span
    hi = max(hi - 1, lo)
    fn = model.seek_s if seek else model.access_s
    near = _near_worst(model, seek, to_lba, state, max(lo, to_lba - SPAN_NEAR),
                       min(hi, to_lba + SPAN_NEAR)) if lo <= to_lba + SPAN_NEAR and \
        to_lba - SPAN_NEAR <= hi else 0.0
    return max(near, fn(lo, to_lba, head_state=state), fn(hi, to_lba, head_state=state))


def bits(mask: int):
    """Indices of the set bits of ``mask``, ascending."""
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


_NONZERO = re.compile(rb"[^\x00]")
_BYTE_BITS = tuple(tuple(j for j in range(8) if b >> j & 1) for b in range(256))


def lowest_bits(mask: int, limit: int) -> list[int]:
    """The indices of the ``limit`` lowest set bits of ``mask``, ascending (all of them
    when it has fewer).

    :func:`bits` costs the whole integer per bit (``mask &
    -mask`` on 30,000 bits), so listing 50 occupants of every region at every scene grew
    with the square of the project.  A mask of a few bits still goes that way (a few
    steps cost less than converting it); others are read as bytes from the low end, in
    windows that grow until they hold the bits asked for, scanned by ``re``: the Python
    work is per bit listed, and the rest grows with the span of those bits.

    >>> lowest_bits(0b1011_0000_0001, 3), lowest_bits(1 << 40 | 1 << 3, 5), lowest_bits(0, 2)
    ([0, 8, 9], [3, 40], [])
    >>> lowest_bits(sum(1 << (7 * i) for i in range(100)), 12)[-3:]
    [63, 70, 77]
    """
    if limit <= 0 or mask <= 0:
        return []
    count = mask.bit_count()
    if count <= 8:
        return list(itertools.islice(bits(mask), limit))
    need = min(limit, count)
    width = 64                                    # bytes
    while 8 * width < mask.bit_length():
        window = mask & ((1 << 8 * width) - 1)
        if window.bit_count() >= need:
            break
        width *= 8
    else:
        window, width = mask, (mask.bit_length() + 7) // 8
    data = window.to_bytes(width, "little")
    out: list[int] = []
    for m in _NONZERO.finditer(data):
        at = m.start()
        for j in _BYTE_BITS[data[at]]:
            out.append(8 * at + j)
            if len(out) == limit:
                return out
    return out


def postorder(roots, successors) -> list:
    """Depth-first postorder from each of ``roots`` in turn (``successors(node)``, in
    order): every node after the ones it leads to, each once; a node already on the
    path (a cycle) is not entered again."""
    out: list = []
    seen: set = set()
    for root in roots:
        if root in seen:
            continue
        seen.add(root)
        stack = [(root, iter(successors(root)))]
        while stack:
            node, it = stack[-1]
            for w in it:
                if w not in seen:
                    seen.add(w)
                    stack.append((w, iter(successors(w))))
                    break
            else:
                out.append(node)
                stack.pop()
    return out


class Index:
    def __init__(self, G):
        self.G = G
        self.model = G.graph["model"]
        self.drive = HeadState(G.graph["drive"])
        self.frame_rate = G.graph["frame_rate"]
        costs = G.graph["costs"]
        mods = {n[1]: d for n, d in G.nodes(data=True) if d.get("kind") == "module"}
        # providers-first topological order of the needs graph, ties by name (Kahn's
        # algorithm); with dependency cycles, on the condensation (a cycle is one block)
        needs = {m: mods[m]["needs"] for m in mods}
        importers: dict = {m: [] for m in mods}
        indeg = {m: len(ps) for m, ps in needs.items()}
        for m, ps in needs.items():
            for p in ps:
                importers[p].append(m)
        heap = [m for m, d in indeg.items() if d == 0]
        heapq.heapify(heap)
        order = []
        while heap:
            m = heapq.heappop(heap)
            order.append(m)
            for w in importers[m]:
                indeg[w] -= 1
                if indeg[w] == 0:
                    heapq.heappush(heap, w)
        C = None
        if len(order) < len(mods):
            D = nx.DiGraph()
            D.add_nodes_from(mods)
            D.add_edges_from((p, m) for m, ps in needs.items() for p in ps)
            C = nx.condensation(D)
            order = [name for scc in nx.lexicographical_topological_sort(
                C, key=lambda s: min(C.nodes[s]["members"]))
                for name in sorted(C.nodes[scc]["members"])]
        topo = {name: i for i, name in enumerate(order)}
        self.acyclic = C is None

        def key(name):
            pos = mods[name]["position"]
            return (0, pos, topo[name]) if pos is not None else (1, topo[name], 0)

        self.names = sorted(mods, key=key)
        self.bit = {n: i for i, n in enumerate(self.names)}
        n = len(self.names)
        self.all = (1 << n) - 1
        self.info = [mods[m]["info"] for m in self.names]
        self.region = [mods[m]["region"] for m in self.names]
        self.footprint = [mods[m]["footprint"] for m in self.names]
        self.pos = [mods[m]["position"] for m in self.names]
        self.sectors = [self.model.sectors_for(i.file_size) for i in self.info]
        self.end = [p + s if p is not None else None for p, s in zip(self.pos, self.sectors)]
        self.end_owner: dict = {}
        for name, e in zip(self.names, self.end):
            if e is not None:
                self.end_owner.setdefault(e, name)
        self.transfer_s = [self.model.transfer_s(i.file_size) for i in self.info]
        #: per module, the bits of its needs in the order a loader loads them (the
        #: file's, then the project's: the build's GameVMAddNeed table)
        self.needs = [[self.bit[p] for p in needs[m]] for m in self.names]
        res = G.graph.get("resident")
        gst = G.nodes[res]["exports"] if res is not None else None
        exports = [len(i.exports) for i in self.info]
        # any other module may be loaded meanwhile, in any order: as many as the runtime's
        # module table holds with this one, those with most exports (a sound bound), and
        # names compared with any module's
        exported = sorted({e for i in self.info for e in i.exports})
        symtab = sorted(gst) if gst is not None else []
        # many modules import the same names: each compared once per table
        against_exports = functools.lru_cache(maxsize=None)(
            lambda s: compared_bytes(s, exported))
        against_gst = functools.lru_cache(maxsize=None)(lambda s: compared_bytes(s, symtab))
        against_modules = functools.lru_cache(maxsize=None)(
            lambda s: compared_bytes(s, module_names))
        # what the build registers with GameVMAddNeed, which every load walks
        table = {m: ps for m, ps in needs.items() if ps}
        walk = registered_needs(table)
        module_names = sorted(self.names)
        most = sorted(exports, reverse=True)[:MAX_MODULES]

        @functools.lru_cache(maxsize=None)
        def others_of(count: int) -> tuple[int, ...]:
            top = list(most)
            if count in top:
                top.remove(count)
            return tuple(top[:MAX_MODULES - 1])

        def others(k: int) -> tuple[int, ...]:
            return others_of(exports[k])

        @functools.lru_cache(maxsize=None)
        def probes_of(count: int) -> int:
            return sum(map(search_probes, others_of(count)))

        tables = [sorted(i.exports) for i in self.info]

        def searched_bytes(k: int):
            # every other module searched: each import against each one's exports when the
            # runtime's table holds them all, else against all of them together
            if len(tables) <= MAX_MODULES:
                return lambda imports: sum(search_probes(len(t)) * compared_bytes(s, t)
                                           for s in imports for j, t in enumerate(tables)
                                           if j != k)
            return lambda imports: sum(map(against_exports, imports)) * probes_of(exports[k])

        def lookups(k: int, m: str, i) -> dict:
            return lookup_terms(i.imports, needs[m], resident=gst, compare_resident=against_gst,
                                compare_module=against_modules,
                                searched_bytes=searched_bytes(k))

        self.cpu = [module_cost(costs, copy_bytes=i.copy_size, zero_bytes=i.bss_size,
                                relocations=i.relocations, imports=i.import_count,
                                symbols=len(gst) if gst is not None else G.graph["symbols"],
                                co_resident=others(k), **lookups(k, m, i),
                                # requests by name: a path costs more (docs/budget.md)
                                **walk(m),
                                constructors=i.constructors,
                                init_ms=mods[m]["init_ms"], exports=len(i.exports),
                                local_symbols=i.local_symbols,
                                metadata_bytes=i.metadata_bytes, form=i.form, decode=i.decode,
                                sections=i.sections, export_bytes=sum(map(len, i.exports)),
                                head_bytes=head_bytes(i.file_size, i.copy_size),
                                file_bytes=i.file_size)
                    for k, (m, i) in enumerate(zip(self.names, self.info))]
        self.cpu_s = [c.total_s for c in self.cpu]
        self.cpu_steps = [{k: c.step_s(k) for k in ("fixed", "copy", "zero", "relocate", "bind",
                                                     "init")} for c in self.cpu]
        regions = G.graph["regions"]
        self.region_mask: dict[str, int] = {r: 0 for r in regions}
        for i, r in enumerate(self.region):
            self.region_mask[r] |= 1 << i
        self.overlay_bits = 0
        for r, reg in regions.items():
            if reg.overlay:
                self.overlay_bits |= self.region_mask[r]
        # needs closure of every module (providers first)
        if C is None:
            closure = {}
            for name in order:
                m = 1 << self.bit[name]
                for p in needs[name]:
                    m |= closure[p]
                closure[name] = m
            self.closure = [closure[name] for name in self.names]
        else:
            scc_mask = {}
            for scc in nx.topological_sort(C):              # providers before importers
                m = 0
                for name in C.nodes[scc]["members"]:
                    m |= 1 << self.bit[name]
                for provider in C.predecessors(scc):
                    m |= scc_mask[provider]
                scc_mask[scc] = m
            mapping = C.graph["mapping"]
            self.closure = [scc_mask[mapping[name]] for name in self.names]
        # scenes, flow graph, streams
        self.scenes = sorted(n[1] for n, k in G.nodes(data="kind") if k == "scene")
        self.start = G.graph["start"]
        self.scene_mask = {}
        for s in self.scenes:
            self.scene_mask[s] = self.close(
                self.mask(G.nodes[("scene", s)]["modules"]))
        self.preds: dict[str, list] = {s: [] for s in self.scenes}
        self.succs: dict[str, list] = {s: [] for s in self.scenes}
        for u, v, d in G.edges(data=True):
            if d.get("kind") == "transition":
                self.preds[v[1]].append(u[1])
                self.succs[u[1]].append(v[1])
        for s in self.scenes:
            self.preds[s].sort()
            self.succs[s].sort()
        if self.start in self.preds:
            self.preds[self.start].insert(0, BOOT)
        self.streams: dict[str, list] = {s: [] for s in self.scenes}
        for st in G.graph["streams"]:
            self.streams[st.scene].append((st, self.close(self.mask(st.modules))))
        #: per load name (LoadPlan.load), the modules it asks for, in the order it asks
        self.roots: dict[str, list[int]] = {}
        for s in self.scenes:
            asked = [self.bit[m] for m in G.nodes[("scene", s)]["modules"]]
            for u in self.preds[s]:
                self.roots["boot" if u is BOOT else f"{u} -> {s}"] = asked
            self.roots[f"prefetch[{s}]"] = [
                self.bit[m] for m in G.nodes[("scene", s)].get("prefetch", ())]
        for st in G.graph["streams"]:
            self.roots[f"streams[{st.index}]"] = [self.bit[m] for m in st.modules]
        self._walk: dict[str, list[int]] = {}
        self._ends: dict[str, tuple] = {}
        #: plans.heads_after's summary of a plan: (mask, uncertain, load) -> its ends
        self.after: dict = {}
        #: per scene, what its prefetch may load (closed over needs) and may evict
        self.prefetch: dict[str, int] = {}
        self.prefetch_kill: dict[str, int] = {}
        for s in self.scenes:
            p = self.close(self.mask(G.nodes[("scene", s)].get("prefetch", ())))
            self.prefetch[s] = p
            self.prefetch_kill[s] = self.evict_any(p)
        # reverse postorder from the start scene: worklists visit scenes in this order
        self.rpo: dict[str, int] = {}
        if self.start in self.succs:
            post = postorder([self.start], self.succs.__getitem__)
            self.rpo = {s: i for i, s in enumerate(reversed(post))}
        self._evict: dict[int, int] = {}
        self._access = self.model.access_memo()
        self._seek: dict = {}
        # copies: per load name, the LBA of the copy it reads (bit -> position)
        self.reads: dict[str, dict[int, int]] = {
            load: {self.bit[m]: lba for m, lba in pos.items() if m in self.bit}
            for load, pos in (G.graph.get("reads") or {}).items()}
        for over in self.reads.values():
            for i, p in over.items():
                self.end_owner.setdefault(p + self.sectors[i], self.names[i])
        self.boot_heads = frozenset({G.graph.get("boot_head")})
        #: (lo, hi) sectors an unknown head can be in: the disc layout's data, widened to
        #: every sector a module is read from or ends at and to the boot head (a
        #: disc.positions override, a copy or a hand-given boot_head may lie outside the
        #: layout's data, and the head goes where it reads)
        self.span = G.graph.get("span")
        if self.span is not None:
            extents = [(p, e) for p, e in zip(self.pos, self.end) if p is not None]
            extents += [(p, p + self.sectors[i]) for over in self.reads.values()
                        for i, p in over.items()]
            extents += [(h, h) for h in self.boot_heads if h is not None]
            self.span = head_span(self.span, extents)

    # -- sets ------------------------------------------------------------------------
    def mask(self, names) -> int:
        m = 0
        for n in names:
            m |= 1 << self.bit[n]
        return m

    def close(self, mask: int) -> int:
        out = 0
        for i in bits(mask):
            out |= self.closure[i]
        return out

    def walk(self, load: str) -> list[int]:
        """Every module load ``load`` would read with nothing resident, in reading order:
        the modules it asks for in turn, each after its needs, depth first, needs in
        declaration order (both loaders' order; a need on the chain is a cycle, skipped).
        """
        out = self._walk.get(load)
        if out is not None:
            return out
        out = self._walk[load] = postorder(self.roots.get(load, ()), self.needs.__getitem__)
        return out

    def may_end(self, load: str | None, i: int) -> bool:
        """Whether module ``i`` can be the last one load ``load`` reads.

        A loader reads a module it was not asked for only on its way to a module that
        needs it, which it reads later: the last read is always a module the load asked
        for (or one it does not reach from those).  Any module of an unknown load can."""
        if load is None or load not in self.roots:
            return True
        sets = self._ends.get(load)
        if sets is None:
            sets = self._ends[load] = (frozenset(self.roots[load]), frozenset(self.walk(load)))
        return i in sets[0] or i not in sets[1]

    def sequence(self, mask: int, load: str | None = None) -> list[int]:
        """The bits of ``mask`` in the order load ``load`` reads them: :meth:`walk`
        without what is resident.  A loader skips a resident module and does not look at
        its needs, which are resident too (a module holds its needs), so this is also the
        order for every subset of a plan.  Bits the load does not reach follow in bit
        order."""
        if load is None or load not in self.roots:
            return list(bits(mask))
        out = [i for i in self.walk(load) if mask >> i & 1]
        if len(out) < mask.bit_count():
            got = set(out)
            out += [i for i in bits(mask) if i not in got]
        return out

    def order(self, mask: int, load: str | None = None) -> list[tuple[int, object, object]]:
        """``(bit, position, end)`` of the modules of ``mask`` in the order load ``load``
        reads them (:meth:`sequence`), at the copies it reads (:attr:`reads`)."""
        over = self.reads.get(load) if load is not None else None
        out = []
        for i in self.sequence(mask, load):
            p = over.get(i, self.pos[i]) if over else self.pos[i]
            out.append((i, p, p + self.sectors[i] if p is not None else self.end[i]))
        return out

    def names_of(self, mask: int) -> list[str]:
        return [self.names[i] for i in bits(mask)]

    def evict(self, loaded: int) -> int:
        """Modules a load of ``loaded`` evicts: other occupants of the overlays it touches."""
        hit = self._evict.get(loaded)
        if hit is None:
            hit = 0
            seen = set()
            for i in bits(loaded & self.overlay_bits):
                r = self.region[i]
                if r not in seen:
                    seen.add(r)
                    hit |= self.region_mask[r]
            hit &= ~loaded
            self._evict[loaded] = hit
        return hit

    def evict_any(self, mask: int) -> int:
        """Modules that loading *any part* of ``mask`` can evict (a prefetch may load some
        of its modules and not others, so one of them can evict another)."""
        hit = 0
        for i in bits(mask & self.overlay_bits):
            hit |= self.region_mask[self.region[i]] & ~(1 << i)
        return hit

    def apply(self, resident: int, loaded: int) -> int:
        """Resident set after making ``loaded`` resident."""
        return (resident & ~self.evict(loaded)) | loaded

    # -- media -------------------------------------------------------------------------
    def seek(self, from_lba, to_lba, state) -> float:
        key = (from_lba, to_lba, state)
        t = self._seek.get(key)
        if t is None:
            if from_lba is None and to_lba is not None and self.span is not None:
                t = span_access(self.model, to_lba, state, self.span, seek=True)
            else:
                t = self.model.seek_s(from_lba, to_lba, head_state=state)
            self._seek[key] = t
        return t

    def access(self, from_lba, to_lba, state) -> float:
        key = (from_lba, to_lba, state) if from_lba is not None or self.span is None else \
            (from_lba, to_lba, state, self.span)
        t = self._access.get(key)
        if t is None:
            if from_lba is None and to_lba is not None and self.span is not None:
                t = span_access(self.model, to_lba, state, self.span)
            else:
                t = self.model.access_s(from_lba, to_lba, head_state=state)
            self._access[key] = t
        return t


def index(G) -> Index:
    """The cached :class:`Index` of ``G``.

    It is rebuilt when the number of nodes changed; after editing a built
    graph's edges or attributes, call :func:`forget` first.
    """
    stamp = G.number_of_nodes()                 # O(1); number_of_edges() is O(edges)
    cached = G.graph.get("_index")
    if cached is None or cached[0] != stamp:
        cached = (stamp, Index(G))
        G.graph["_index"] = cached
    return cached[1]


def forget(G) -> None:
    """Drop the cached index of ``G`` (after changing the graph)."""
    G.graph.pop("_index", None)
