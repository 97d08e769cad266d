"""Ordering the disc: constructions, then local search on the model's own cost.

1. **Constructions** (each scored exactly, the best is kept):

   * *follow the most likely path* (:func:`chain_order`): bundles are chained
     greedily along the heaviest arcs of the follow graph (a maximum-weight
     path cover), so a load's bundle starts where the load before it left
     the head; chains are laid out next to the chains they are entered from;
   * *spectral ordering* (:func:`spectral_order`): bundles sorted by the
     Fiedler vector of the follow graph plus shared modules (keeps related
     bundles within a short seek of each other);
   * the naive orders (alphabetical, declaration), so the plan is never worse.

2. **Local search** (:class:`SearchState`, :func:`improve`): moves that follow
   the loads with the largest excess over their floor: relocate a stray
   module next to the rest of its load, relocate a load's run right after
   where its head comes from, swap neighbours, change the padding before a
   load's first read.  Every move is scored with the exact worst-case model
   (:mod:`.cost`), re-evaluating only the loads whose reads or heads moved
   relative to each other.
3. **Copies** (policy ``auto``, :func:`duplicate`): a module read away from the
   rest of a load gets a copy next to it when that lowers the cost, within
   ``max_copies``, ``max_size``, the disc capacity and ``exclude`` (3DO's
   Layout tool did the same from traces, "avatars", up to 7 copies).

The search is deterministic for a given ``seed`` and stops when a pass finds
nothing or the time limit is reached.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field

from .bundles import follow_arcs, form_bundles, head_sources
from .cost import RESIDENT, Arrangement, Evaluation, Evaluator
from .problem import MAX_PAD

__all__ = ["best_pad", "chain_order", "spectral_order", "alphabetical_order",
           "declaration_order", "SearchState", "improve", "duplicate", "optimise",
           "OptimiseResult"]

_EPS = 1e-12


# --------------------------------------------------------------------------- constructions

def best_pad(ev: Evaluator, base: int) -> int:
    """Padding (sectors) before a load's first read that the model likes best from a paused head.

    Both PS1 models charge a paused drive more to read the very next sector
    (DuckStation waits a revolution) than one or two sectors further on.
    """
    if not ev.p.disc or not ev.p.options.gaps:
        return 0
    h = base + 64
    costs = [ev.access(h, h + g, ev.idle) for g in range(MAX_PAD + 1)]
    return min(range(len(costs)), key=lambda g: (costs[g], g))


def _emit(problem, bundle_seq) -> tuple[list, set]:
    """Module order and the modules that start a bundle, from bundles in disc order."""
    placed: set = set()
    order: list = []
    starts: set = set()
    for b in bundle_seq:
        first = True
        for m in b.modules:
            if m not in placed:
                placed.add(m)
                order.append(m)
                if first:
                    starts.add(m)
                    first = False
    rest = sorted((m for m in problem.modules if m.id not in placed), key=lambda m: m.rank)
    order += [m.id for m in rest]
    return order, starts


def _arrangement(problem, order, starts, pad: int) -> Arrangement:
    arr = Arrangement.from_modules(problem, order)
    if pad:
        for e, m in enumerate(arr.extents):
            if m in starts:
                arr.pad[e] = pad
    return arr


def chain_order(problem, bundles, arcs) -> tuple[list, set]:
    """*Follow the most likely path*: greedy maximum-weight path cover of the follow graph."""
    parent: dict = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    succ: dict = {}
    pred: dict = {}
    for (a, b), _w in sorted(arcs.items(), key=lambda kv: (-kv[1], str(kv[0][0]), kv[0][1])):
        if a in succ or b in pred or find(a) == find(b):
            continue
        succ[a] = b
        pred[b] = a
        parent[find(a)] = find(b)
    by_id = {b.id: b for b in bundles}
    heads = [b.id for b in bundles if b.id not in pred]      # heaviest first
    chains = {}
    for h in (["R"] if "R" in succ else []) + heads:
        chain, x = [], h
        while x is not None:
            if x != "R":
                chain.append(x)
            x = succ.get(x)
        chains[h] = chain
    # lay chains out: the boot executable's first, then the chain most wanted after what is
    # already placed (ties: the heaviest)
    placed: list = []
    placed_set: set = {"R"}
    left = [h for h in chains if h != "R"]
    if "R" in chains:
        placed += chains["R"]
        placed_set |= set(chains["R"])
    # a chain's affinity (the weight of arcs from placed bundles into it) grows as chains
    # are placed: kept up to date arc by arc, not recomputed over every pair (dense flow
    # graphs have thousands of chains)
    chain_of = {b: h for h, chain in chains.items() for b in chain}
    out_arcs: dict = {}
    for (a, b), w in arcs.items():
        out_arcs.setdefault(a, []).append((b, w))
    affinity = {h: 0.0 for h in left}

    def place(members):
        for a in members:
            for b, w in out_arcs.get(a, ()):
                h = chain_of.get(b)
                if h in affinity:
                    affinity[h] += w
    place(placed_set)
    while left:
        h = max(left, key=lambda h: (affinity[h], by_id[h].weight, -h))
        left.remove(h)
        del affinity[h]
        placed += chains[h]
        new = set(chains[h]) - placed_set
        placed_set |= new
        place(new)
    return _emit(problem, [by_id[i] for i in placed])


def _fiedler(n: int, adj: list, seed: int = 0, iters: int = 40,
             deadline: float | None = None) -> list:
    """Fiedler vector of a connected weighted graph (inverse iteration, conjugate gradients);
    past ``deadline`` (``time.perf_counter()``) the current approximation."""
    if n <= 2:
        return [float(i) for i in range(n)]
    deg = [sum(w for _, w in adj[i]) for i in range(n)]
    eps = 1e-6 * (max(deg) or 1.0)

    def matvec(x):
        return [(deg[i] + eps) * x[i] - sum(w * x[j] for j, w in adj[i]) for i in range(n)]

    def center(x):
        mu = sum(x) / n
        x = [v - mu for v in x]
        norm = math.sqrt(sum(v * v for v in x)) or 1.0
        return [v / norm for v in x]

    rng = random.Random(seed)
    x = center([i + 0.01 * rng.random() for i in range(n)])
    for _ in range(iters):
        if deadline is not None and time.perf_counter() > deadline:
            break
        # solve (L + eps I) y = x by conjugate gradients
        y = [0.0] * n
        r = list(x)
        p = list(r)
        rs = sum(v * v for v in r)
        for _k in range(min(4 * n, 400)):
            Ap = matvec(p)
            pAp = sum(a * b for a, b in zip(p, Ap)) or 1e-300
            alpha = rs / pAp
            y = [a + alpha * b for a, b in zip(y, p)]
            r = [a - alpha * b for a, b in zip(r, Ap)]
            rs_new = sum(v * v for v in r)
            if rs_new < 1e-20:
                break
            p = [a + (rs_new / rs) * b for a, b in zip(r, p)]
            rs = rs_new
        y = center(y)
        if sum(abs(a - b) for a, b in zip(x, y)) < 1e-9 * n:
            x = y
            break
        x = y
    return x


def spectral_order(problem, bundles, arcs, seed: int = 0,
                   deadline: float | None = None) -> tuple[list, set]:
    """Bundles sorted by the Fiedler vector of the follow graph and of shared modules.

    Each connected component is ordered on its own; components follow each
    other heaviest first, the one the boot executable leads into first.
    """
    n = len(bundles)
    w: dict = {}
    for (a, b), x in arcs.items():
        if a != "R":
            key = (min(a, b), max(a, b))
            w[key] = w.get(key, 0.0) + x
    holders: dict = {}
    for b in bundles:
        for m in b.modules:
            holders.setdefault(m, []).append(b.id)
    for hs in holders.values():
        if len(hs) > 1 and len(hs) <= 64:
            for i in range(len(hs)):
                for j in range(i + 1, len(hs)):
                    a, b = hs[i], hs[j]
                    share = min(bundles[a].weight, bundles[b].weight) / len(hs)
                    key = (min(a, b), max(a, b))
                    w[key] = w.get(key, 0.0) + share
    adj: list = [[] for _ in range(n)]
    for (a, b), x in w.items():
        if x > 0:
            adj[a].append((b, x))
            adj[b].append((a, x))
    seen = [False] * n
    comps = []
    for s in range(n):
        if seen[s]:
            continue
        comp, stack = [], [s]
        seen[s] = True
        while stack:
            u = stack.pop()
            comp.append(u)
            for v, _ in adj[u]:
                if not seen[v]:
                    seen[v] = True
                    stack.append(v)
        comps.append(sorted(comp))
    from_r = {b for (a, b) in arcs if a == "R"}
    comps.sort(key=lambda c: (not (from_r & set(c)), -sum(bundles[i].weight for i in c), c))
    order = []
    for comp in comps:
        local = {g: i for i, g in enumerate(comp)}
        sub = [[(local[v], x) for v, x in adj[g] if v in local] for g in comp]
        f = _fiedler(len(comp), sub, seed, deadline=deadline)
        ranked = sorted(range(len(comp)), key=lambda i: (f[i], comp[i]))
        # orient: start from the end that holds the bundle entered from the boot executable
        if from_r and any(comp[i] in from_r for i in ranked):
            first = min(ranked.index(i) for i in range(len(comp)) if comp[i] in from_r)
            last = min(len(ranked) - 1 - ranked.index(i) for i in range(len(comp))
                       if comp[i] in from_r)
            if last < first:
                ranked.reverse()
        order += [bundles[comp[i]] for i in ranked]
    return _emit(problem, order)


def alphabetical_order(problem, names) -> Arrangement:
    """What mastering without a sort file gives: files in name order (``names``: module id ->
    file name; the boot executable among them by its name)."""
    items = [(names[m.id], m.id) for m in problem.modules]
    if problem.resident is not None:
        items.append((names[RESIDENT], RESIDENT))
    items.sort()
    order = [m for _, m in items if m != RESIDENT]
    at = [m for _, m in items].index(RESIDENT) if problem.resident is not None else 0
    return Arrangement.from_modules(problem, order, resident_at=at)


def declaration_order(problem) -> Arrangement:
    """The boot executable, then the modules as the configuration lists them."""
    return Arrangement.from_modules(problem, [m.id for m in problem.modules])


# --------------------------------------------------------------------------- search state

class SearchState:
    """An arrangement with its per-load times, updated move by move.

    :meth:`propose` scores a changed arrangement, re-evaluating only the loads
    whose reads or head positions moved relative to each other (a uniform
    shift of everything a load touches does not change its time except through
    DuckStation's minute-dependent track sizes, which the final exact
    evaluation accounts for); :meth:`commit` keeps it.
    """

    def __init__(self, ev: Evaluator, arr: Arrangement, base: int):
        p = ev.p
        self.ev, self.p, self.base = ev, p, base
        self.weights = [ld.weight for ld in p.loads]
        self._set(arr)

    def _set(self, arr: Arrangement) -> None:
        ev, p = self.ev, self.p
        self.arr = arr
        self.start, self.end = arr.positions(p, self.base)
        self.span = ev.span = ev.span_of(arr, self.base)
        self.orders = [ev.order(ld, arr, self.start) for ld in p.loads]
        self.heads = ev.head_sets(arr, self.orders)
        self.times = [ev.time(self.orders[i], self.heads[i], self.start, self.end)
                      for i in range(len(p.loads))]
        self.total = sum(w * t for w, t in zip(self.weights, self.times))
        self._index()

    def _index(self) -> None:
        self.readers: dict = {}
        self.head_users: dict = {}
        for lid, o in enumerate(self.orders):
            for e, _m, _u in o:
                self.readers.setdefault(e, set()).add(lid)
        for lid, hs in enumerate(self.heads):
            for h in hs:
                if h is not None:
                    self.head_users.setdefault(h, set()).add(lid)

    def exact(self) -> float:
        """Re-evaluate everything exactly (resets accumulated approximations)."""
        self._set(self.arr)
        return self.total

    def propose(self, arr: Arrangement, changed_loads=()):
        """Score ``arr`` (a modified copy); ``changed_loads``: loads whose copy assignment changed.

        Returns ``(delta, pending)``; pass ``pending`` to :meth:`commit` to keep it.
        """
        ev, p = self.ev, self.p
        start, end = arr.positions(p, self.base)
        span = ev.span_of(arr, self.base)
        old_start = self.start
        n_old = len(old_start)
        moved = [e for e in range(len(start)) if e >= n_old or start[e] != old_start[e]]
        cand = set(changed_loads)
        if span != self.span:
            cand |= {lid for lid, h in enumerate(self.heads) if None in h}
        for e in moved:
            cand |= self.readers.get(e, set())
            cand |= self.head_users.get(e, set())
        new_orders: dict = {}
        heads_dirty = False
        changed = set(changed_loads)
        if span != self.span:
            changed |= {lid for lid, h in enumerate(self.heads) if None in h}
        for lid in cand:
            if lid not in changed:
                exts = [e for e, _m, _u in self.orders[lid]]
                exts += [h for h in self.heads[lid] if h is not None]
                shift = {start[e] - old_start[e] for e in exts}
                if len(shift) <= 1:
                    continue
            o = ev.order(p.loads[lid], arr, start)
            new_orders[lid] = o
            if [x[0] for x in o] != [x[0] for x in self.orders[lid]]:
                heads_dirty = True
        new_heads = None
        affected = set(new_orders)
        if heads_dirty:
            orders = list(self.orders)
            for lid, o in new_orders.items():
                orders[lid] = o
            new_heads = ev.head_sets(arr, orders)
            for lid, h in enumerate(new_heads):
                if h != self.heads[lid]:
                    affected.add(lid)
        new_times = {}
        delta = 0.0
        ev.span = span
        for lid in affected:
            o = new_orders.get(lid, self.orders[lid])
            h = new_heads[lid] if new_heads is not None else self.heads[lid]
            t = ev.time(o, h, start, end)
            new_times[lid] = t
            delta += self.weights[lid] * (t - self.times[lid])
        ev.span = self.span
        return delta, (arr, start, end, new_orders, new_heads, new_times, delta, span)

    def commit(self, pending) -> None:
        arr, start, end, new_orders, new_heads, new_times, delta, span = pending
        self.arr, self.start, self.end = arr, start, end
        self.span = self.ev.span = span
        for lid, o in new_orders.items():
            for e, _m, _u in self.orders[lid]:
                self.readers.get(e, set()).discard(lid)
            self.orders[lid] = o
            for e, _m, _u in o:
                self.readers.setdefault(e, set()).add(lid)
        if new_heads is not None:
            for lid, h in enumerate(new_heads):
                if h != self.heads[lid]:
                    for x in self.heads[lid]:
                        if x is not None:
                            self.head_users.get(x, set()).discard(lid)
                    for x in h:
                        if x is not None:
                            self.head_users.setdefault(x, set()).add(lid)
                    self.heads[lid] = h
        for lid, t in new_times.items():
            self.times[lid] = t
        self.total += delta

    def attempt(self, arr: Arrangement, changed_loads=()) -> bool:
        delta, pending = self.propose(arr, changed_loads)
        if delta < -_EPS * max(1.0, abs(self.total)):
            self.commit(pending)
            return True
        return False


# --------------------------------------------------------------------------- moves

def _relocate(arr: Arrangement, seg: list, anchor: int, after: bool, *,
              pads_stay: bool = False) -> Arrangement | None:
    """``arr`` with the extents ``seg`` (consecutive on disc) moved next to extent ``anchor``.

    Padding moves with its extent, or with ``pads_stay`` stays at its place in the order.
    """
    if anchor in seg:
        return None
    new = arr.copy()
    segset = set(seg)
    rest = [e for e in new.seq if e not in segset]
    k = rest.index(anchor) + (1 if after else 0)
    new.seq = rest[:k] + list(seg) + rest[k:]
    if new.seq == arr.seq:
        return None
    if pads_stay:
        slots = [arr.pad.get(e, 0) for e in arr.seq]
        new.pad = {e: g for e, g in zip(new.seq, slots) if g}
    return new


def _run(arr: Arrangement, seq_index: dict, exts: list) -> list | None:
    """The disc-order span covering ``exts`` when nothing else lies between them."""
    idx = sorted(seq_index[e] for e in exts)
    if idx[-1] - idx[0] + 1 != len(set(idx)):
        return None
    return arr.seq[idx[0]:idx[-1] + 1]


def _floor_excess(state: SearchState, floors: list) -> list:
    w = state.weights
    return sorted(range(len(state.times)),
                  key=lambda i: -(w[i] * (state.times[i] - floors[i])))


def improve(state: SearchState, floors: list, deadline: float, *, pad: int,
            max_passes: int = 50) -> int:
    """Local search until no move helps or ``deadline`` (time.perf_counter()); returns moves made."""
    made = 0
    for _pass in range(max_passes):
        improved = 0
        for lid in _floor_excess(state, floors):
            if time.perf_counter() > deadline:
                return made + improved
            if state.weights[lid] * (state.times[lid] - floors[lid]) <= 1e-9:
                break
            improved += _improve_load(state, lid, pad)
        made += improved
        if not improved or time.perf_counter() > deadline:
            break
    return made


def _improve_load(state: SearchState, lid: int, pad: int) -> int:
    """Try the moves aimed at one load; returns how many were kept."""
    p = state.p
    made = 0
    if not state.orders[lid]:
        return 0
    # 1. relocate the load's run (or its first read) right after where the head comes from
    moved = True
    while moved:
        moved = False
        seq_index = {e: i for i, e in enumerate(state.arr.seq)}
        exts = [e for e, _m, _u in state.orders[lid]]
        heads = [h for h in state.heads[lid] if h is not None]
        run = _run(state.arr, seq_index, exts) or [exts[0]]
        for h in sorted(heads, key=lambda h: seq_index.get(h, 0)):
            new = _relocate(state.arr, run, h, True)
            if new is not None and state.attempt(new):
                made += 1
                moved = True
                break
    seq_index = {e: i for i, e in enumerate(state.arr.seq)}
    exts = [e for e, _m, _u in state.orders[lid]]
    # 2. stray reads: next to the read before / after it
    k = 1
    while k < len(exts):
        prev, e = exts[k - 1], exts[k]
        if seq_index[e] != seq_index[prev] + 1 or state.arr.pad.get(e, 0):
            options = [(prev, True)] + ([(exts[k + 1], False)] if k + 1 < len(exts) else [])
            for anchor, after in options:
                new = _relocate(state.arr, [e], anchor, after)
                if new is None:
                    continue
                new.pad.pop(e, None)
                if state.attempt(new):
                    made += 1
                    seq_index = {x: i for i, x in enumerate(state.arr.seq)}
                    exts = [x for x, _m, _u in state.orders[lid]]
                    break
        k += 1
    # 3. swap the first read with a neighbour
    e0 = state.orders[lid][0][0]
    i0 = {e: i for i, e in enumerate(state.arr.seq)}[e0]
    for j in (i0 - 1, i0 + 1):
        if 0 <= j < len(state.arr.seq):
            other = state.arr.seq[j]
            new = _relocate(state.arr, [e0], other, j > i0)
            if new is not None and state.attempt(new):
                made += 1
                break
    # 4. padding before the first read
    if p.disc and p.options.gaps:
        e0 = state.orders[lid][0][0]
        cur = state.arr.pad.get(e0, 0)
        for g in sorted(set(range(MAX_PAD + 1)) - {cur}, key=lambda g: (abs(g - pad), g)):
            new = state.arr.copy()
            if g:
                new.pad[e0] = g
            else:
                new.pad.pop(e0, None)
            if state.attempt(new):
                made += 1
                break
    return made


def sweep(state: SearchState, deadline: float, *, window: int = 3) -> int:
    """Relocate every extent by up to ``window`` places (a final polish); returns moves made."""
    made = 0
    i = 0
    while i < len(state.arr.seq) and time.perf_counter() < deadline:
        e = state.arr.seq[i]
        done = False
        for d in list(range(1, window + 1)) + list(range(-1, -window - 1, -1)):
            j = i + d
            if 0 <= j < len(state.arr.seq):
                for stay in (False, True):
                    new = _relocate(state.arr, [e], state.arr.seq[j], d > 0, pads_stay=stay)
                    if new is not None and state.attempt(new):
                        made += 1
                        done = True
                        break
            if done:
                break
        if state.p.options.gaps and not done:
            cur = state.arr.pad.get(e, 0)
            for g in range(MAX_PAD + 1):
                if g != cur:
                    new = state.arr.copy()
                    new.pad[e] = g
                    if not g:
                        del new.pad[e]
                    if state.attempt(new):
                        made += 1
                        break
        i += 1
    return made


# --------------------------------------------------------------------------- copies

def _copy_budget(state: SearchState):
    p = state.p
    used = state.arr.used_sectors(p)
    extra = sum(p.modules[m].file_size * (len(es) - 1) for m, es in state.arr.copies().items())
    return used, extra


def _try_copy(state: SearchState, m: int, anchor: int, after: bool, users: list,
              extra_sectors: int) -> bool:
    """Insert a copy of module ``m`` next to extent ``anchor``, read by ``users``."""
    p = state.p
    opts = p.options
    mod = p.modules[m]
    if mod.name in opts.exclude or not users:
        return False
    if len(state.arr.copies().get(m, [])) >= opts.max_copies:
        return False
    used, extra = _copy_budget(state)
    if used + extra_sectors + mod.sectors + state.base > p.capacity:
        return False
    if opts.max_size is not None and extra + mod.file_size > opts.max_size:
        return False
    new = state.arr.copy()
    ce = len(new.extents)
    new.extents.append(m)
    k = new.seq.index(anchor) + (1 if after else 0)
    new.seq.insert(k, ce)
    for x in users:
        new.reads[x, m] = ce
    return state.attempt(new, users)


def duplicate(state: SearchState, floors: list, deadline: float, *, extra_sectors: int = 0) -> int:
    """Add copies where they lower the cost (policy ``auto``); returns copies made.

    For each load with a gap between two consecutive reads, in order of excess
    over its floor: a copy of the later module right after the earlier one, or
    of the earlier module right before the later one, read by every load that
    reads the same two extents in a row.
    """
    p = state.p
    if p.options.policy != "auto":
        return 0
    made = 0
    for lid in _floor_excess(state, floors):
        if time.perf_counter() > deadline:
            break
        if state.weights[lid] * (state.times[lid] - floors[lid]) <= 1e-9:
            break
        k = 1
        while k < len(state.orders[lid]):
            order = state.orders[lid]
            seq_index = {e: i for i, e in enumerate(state.arr.seq)}
            prev, pm, _pu = order[k - 1]
            e, m, _u = order[k]
            k += 1
            if seq_index[e] == seq_index[prev] + 1 and not state.arr.pad.get(e, 0):
                continue
            both = [x for x in (state.readers.get(e, set()) & state.readers.get(prev, set()))
                    if any(o[0] == prev and o2[0] == e for o, o2 in
                           zip(state.orders[x], state.orders[x][1:]))] or [lid]
            if _try_copy(state, m, prev, True, both, extra_sectors) or \
                    _try_copy(state, pm, e, False, both, extra_sectors):
                made += 1
    return made


def tidy_copies(state: SearchState) -> None:
    """Make the most-read copy primary, drop redundant overrides and unread copies."""
    arr = state.arr.copy()
    p = state.p
    for m, es in arr.copies().items():
        if len(es) < 2:
            continue
        count = {e: 0 for e in es}
        for ld in p.loads:
            if m in ld.modules:
                count[arr.extent_read(ld.id, m)] += 1
        # explicit assignment for every reader, then the most-read copy becomes the default
        for ld in p.loads:
            if m in ld.modules:
                arr.reads[ld.id, m] = arr.extent_read(ld.id, m)
        primary = max(es, key=lambda e: (count[e], -es.index(e)))
        arr.primary[m] = primary
        for ld in p.loads:
            if arr.reads.get((ld.id, m)) == primary:
                del arr.reads[ld.id, m]
        for e in es:
            if count[e] == 0 and e != primary:
                arr.seq.remove(e)
                arr.pad.pop(e, None)
    state._set(arr)


# --------------------------------------------------------------------------- driver

@dataclass
class OptimiseResult:
    """The chosen arrangement and how it was found."""

    arrangement: Arrangement
    cost: float
    constructions: dict                 # name -> exact cost
    chosen: str
    moves: int
    copies: int
    seconds: float
    bundles: list = field(default_factory=list)
    pad: int = 0
    #: exact evaluations of the arrangement and of the constructions evaluated
    evaluation: Evaluation | None = None
    evaluations: dict = field(default_factory=dict)
    t_eval: float = 0.0                 # seconds of one exact evaluation (measured)


def optimise(problem, *, base: int, floors: list, names: dict, time_limit: float = 20.0,
             seed: int = 0, ev: Evaluator | None = None, sources=None,
             reserve: float = 0.0) -> OptimiseResult:
    """Plan the disc order of ``problem`` (see the module docstring).

    ``sources``: :func:`~.bundles.head_sources` when the caller has them; an empty
    list when they could not be computed in time (the orders then follow no arcs).
    ``reserve``: exact evaluations the caller does after the search, inside the limit.
    """
    t0 = time.perf_counter()
    deadline = t0 + time_limit
    ev = ev or Evaluator(problem)
    bundles = form_bundles(problem)
    if sources is None:
        sources = head_sources(problem)
    elif not sources:
        sources = [frozenset()] * len(problem.loads)
    arcs = follow_arcs(problem, bundles, sources)
    pad = best_pad(ev, base)
    # the naive orders are evaluated first (the report compares the plan with them), which
    # also times one exact evaluation: the constructions and the search share what is left,
    # less one evaluation of the result
    naive = {"declaration order": declaration_order(problem),
             "alphabetical order": alphabetical_order(problem, names)}
    t_eval = time.perf_counter()
    evaluations = {k: ev.evaluate(a, base) for k, a in naive.items()}
    t_eval = (time.perf_counter() - t_eval) / len(naive)
    # still to come: the constructions' evaluations (two), the exact costs after the
    # search (about one) and the result's
    deadline -= (4 + reserve) * t_eval
    candidates = {}
    order, starts = chain_order(problem, bundles, arcs)
    candidates["follow the most likely path"] = _arrangement(problem, order, starts, pad)
    left = deadline - time.perf_counter()
    if len(bundles) > 1 and left > t_eval:
        # at most half of what is left: the local search needs time too
        order, starts = spectral_order(problem, bundles, arcs, seed,
                                       deadline=time.perf_counter() + left / 2)
        candidates["spectral ordering"] = _arrangement(problem, order, starts, pad)
    evaluations.update({k: ev.evaluate(a, base) for k, a in candidates.items()})
    candidates.update(naive)
    evaluations = {k: evaluations[k] for k in candidates}
    costs = {k: e.total for k, e in evaluations.items()}
    chosen = min(costs, key=lambda k: (costs[k], list(costs).index(k)))
    moves = copies = 0
    # past the deadline already (large projects at a short limit): no move could be tried,
    # and the search state costs an evaluation
    if problem.disc and len(problem.modules) > 1 and time.perf_counter() < deadline:
        state = SearchState(ev, candidates[chosen].copy(), base)
        moves += improve(state, floors, deadline, pad=pad)
        if problem.options.policy == "auto":
            copies = duplicate(state, floors, deadline)
            if copies:
                tidy_copies(state)
                moves += improve(state, floors, deadline, pad=pad)
        for _ in range(3 if len(problem.modules) <= 400 else 0):
            swept = sweep(state, deadline)
            moves += swept
            if not swept:
                break
        state.exact()
        moves += improve(state, floors, deadline, pad=pad)
    final = state.arr if moves or copies else candidates[chosen].copy()
    evaluation = ev.evaluate(final, base) if moves or copies else evaluations[chosen]
    cost = evaluation.total
    if cost > costs[chosen]:            # the approximate deltas misled the search: keep the start
        final, cost, evaluation = candidates[chosen], costs[chosen], evaluations[chosen]
    ncopies = sum(len(es) - 1 for es in final.copies().values())
    return OptimiseResult(final, cost, costs, chosen, moves, ncopies,
                          time.perf_counter() - t0, bundles, pad, evaluation, evaluations,
                          t_eval)
