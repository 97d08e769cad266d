"""Lower bounds on the weighted cost of any disc layout (media-timing.md, "Layout lower bounds").

**Per-load floor.**  Whatever the order, a load reads at least all of its
modules once (the worst case over the uncertain ones is at least the case
where all are read): command + the cheapest access the model allows from a
paused (or reading) head + first sector + every module's sectors at the
medium's rate + the loader's CPU work.  A load whose head can be unknown
(nothing on the disc fixes it, e.g. no boot executable) pays the model's
worst seek instead, in every layout, or, when the drive reads nothing but the
layout's data (``disc.data_only``, the default), the worst seek within the
smallest span the files can occupy (:func:`unknown_access`).  The cheapest access is found by
probing the model at short distances around several disc positions (every
model here is cheapest within a track of the head).  With unlimited copies
every load can approach this floor.

**2-matching bound** (no copies).  Let ``c0`` be the cheapest access to the
very sector under the head and ``c1`` the cheapest to any other.  When
``c1 > c0`` (e.g. a drive kept reading between loads) a load is *free* only
if every place its head can come from ends exactly where the load's first
read starts.  In a linear layout each file is directly followed by one file,
so the free loads use disjoint (file → next file) pairs: their weight is at
most a maximum-weight matching between "file read last by the loads before"
and "file read first" (a relaxation of the maximum-weight 2-matching of the
reference; computed exactly with networkx when small, else bounded by its
dual).  The bound is then ``Σ w·(c1 + reads) − (c1 − c0)·min(matching, free
weight)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .bundles import head_sources
from .cost import RESIDENT, Evaluator

__all__ = ["Bound", "lower_bound", "cheapest_access", "NO_SOURCES"]

#: Distances probed around each probe position.
_DELTAS = range(-64, 65)


#: No ISO 9660 image has data before sector 18 (system area 0-15, descriptors from 16).
FIRST_DATA_SECTOR = 18


def unknown_access(ev: Evaluator) -> tuple[float, int | None]:
    """A lower bound on the access from an unknown head, in any layout of the problem.

    Without a span (cartridge, or ``disc.data_only`` false) it is the model's worst
    access.  With one, the head is somewhere in ``[0, S)`` and ``S`` is at least
    ``S_min`` = the first data sector + every file once; for any target the farther end
    of the span is at least half of it away.  Both ends are probed on a grid (between
    grid points the near end only gets nearer and the far end farther: the models are
    monotone in the distance beyond a track), every sector near the ends exactly.
    Returns ``(seconds, S_min)``.
    """
    p = ev.p
    model, state = ev.model, ev.idle
    if not p.disc or not p.options.data_only:
        return model.access_s(None, 0, head_state=state), None
    smin = FIRST_DATA_SECTOR + sum(m.sectors for m in p.modules) + \
        (p.resident["sectors"] if p.resident else 0)
    last = smin - 1

    def a(h, to):
        return model.access_s(h, to, head_state=state)

    best = float("inf")
    edge = min(64, smin)
    for to in list(range(edge)) + list(range(max(smin - edge, 0), smin)):
        best = min(best, max(a(0, to), a(last, to)))
    step = max((smin - 2 * edge) // 2048, 1)
    g = edge
    while g < smin - edge:
        nxt = min(g + step, smin - edge)
        best = min(best, max(a(0, g), a(last, nxt)))
        g = nxt
    return best, smin


def cheapest_access(ev: Evaluator) -> tuple[float, float]:
    """``(c0, c1)``: cheapest access at the head's own sector, and at any other sector."""
    model = ev.model
    cap = model.capacity if ev.p.disc else 1 << 20
    probes = sorted({h for h in (64, 150, 1000, 4400, 4600, 9000, 22500, 45000, 90000,
                                 180000, 300000, cap - 128) if 64 <= h < cap - 64})
    c0 = c1 = float("inf")
    for h in probes:
        for d in _DELTAS:
            t = model.access_s(h, h + d, head_state=ev.idle)
            if d == 0:
                c0 = min(c0, t)
            else:
                c1 = min(c1, t)
    return c0, c1


@dataclass
class Bound:
    """A lower bound on the weighted cost, and its parts (seconds)."""

    total: float
    kind: str                         # floor | 2-matching
    floors: list                      # load id -> floor time
    floor_total: float
    c0: float
    c1: float
    unknown_access: float
    details: dict = field(default_factory=dict)
    span_min: int | None = None

    def to_dict(self) -> dict:
        return {"total_ms": round(self.total * 1e3, 3), "kind": self.kind,
                "floor_total_ms": round(self.floor_total * 1e3, 3),
                "c0_ms": round(self.c0 * 1e3, 3), "c1_ms": round(self.c1 * 1e3, 3),
                "unknown_access_ms": round(self.unknown_access * 1e3, 3), **self.details}


def _matching(arcs: dict) -> tuple[float, str]:
    """Upper bound on the weight of a matching between out-files and in-files."""
    if not arcs:
        return 0.0, "exact"
    if len(arcs) <= 4000:
        import networkx as nx

        B = nx.Graph()
        for (x, y), w in arcs.items():
            B.add_edge(("out", x), ("in", y), weight=w)
        M = nx.max_weight_matching(B)
        return sum(B.edges[u, v]["weight"] for u, v in M), "exact"
    out_best: dict = {}
    in_best: dict = {}
    for (x, y), w in arcs.items():
        out_best[x] = max(out_best.get(x, 0.0), w)
        in_best[y] = max(in_best.get(y, 0.0), w)
    return min(sum(out_best.values()), sum(in_best.values())), "dual"


#: ``sources`` argument of :func:`lower_bound`: the head sources were not computed
#: (time limit), so every load gets the cheapest access (still a lower bound)
NO_SOURCES = "not computed"


def lower_bound(problem, ev: Evaluator | None = None, *, copies: bool | None = None,
                sources=None) -> Bound:
    """The best of the bounds above for ``problem`` (``copies``: may the layout duplicate
    modules; default: the problem's policy).

    ``sources`` is :func:`~.bundles.head_sources` of the problem when the caller has
    it, or :data:`NO_SOURCES` when it ran out of time: then no load is known to start
    from an unknown head and the floor uses the cheapest access for all (sound, looser).
    """
    ev = ev or Evaluator(problem)
    if copies is None:
        copies = problem.options.policy != "none"
    c0, c1 = cheapest_access(ev)
    cmin = min(c0, c1)
    unknown, span_min = unknown_access(ev)
    if sources is None:
        sources = head_sources(problem)
    known = sources is not NO_SOURCES
    floors = []
    for ld in problem.loads:
        if not ld.modules:
            floors.append(0.0)
            continue
        a = unknown if known and None in sources[ld.id] else cmin
        floors.append(a + ev.read_s(ld))
    floor_total = sum(ld.weight * f for ld, f in zip(problem.loads, floors))
    bound = Bound(floor_total, "floor", floors, floor_total, c0, c1, unknown,
                  {} if known else {"head_sources": NO_SOURCES}, span_min=span_min)
    if copies or not problem.disc or c1 <= c0 * (1 + 1e-12) or not known:
        return bound
    gain = c1 - c0
    arcs: dict = {}
    base = 0.0
    free_weight = 0.0
    plan = {ld.id: set(ld.modules) for ld in problem.loads}
    for ld in problem.loads:
        if not ld.modules:
            continue
        if None in sources[ld.id]:
            base += ld.weight * floors[ld.id]
            continue
        base += ld.weight * (c1 + ev.read_s(ld))
        common = None
        for s in sources[ld.id]:
            mods = {RESIDENT} if s == "R" else plan[s]
            common = set(mods) if common is None else common & mods
        if not common:
            continue
        free_weight += ld.weight * gain
        for x in common:
            for y in ld.modules:
                if x != y:
                    arcs[x, y] = arcs.get((x, y), 0.0) + ld.weight * gain
    m, how = _matching(arcs)
    total = base - min(m, free_weight)
    if total > floor_total:
        return Bound(total, "2-matching", floors, floor_total, c0, c1, unknown,
                     {"matching_ms": round(m * 1e3, 3), "matching": how,
                      "free_weight_ms": round(free_weight * 1e3, 3)}, span_min)
    return bound
