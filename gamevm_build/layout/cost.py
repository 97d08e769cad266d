"""The cost of a disc arrangement: the analyzer's worst-case load times, weighted.

An :class:`Arrangement` is a disc order of **extents** (one per copy of a
module, plus the boot executable), the padding sectors before each, and which
copy each load reads when a module is on the disc more than once.  Its cost
is

    Σ over loads ℓ of  weight(ℓ) · worst-case time(ℓ)

where the worst-case time is exactly what the budget analyzer computes
(:func:`gamevm_build.analysis.timing.plan_time` over the head positions of
:func:`gamevm_build.analysis.plans.head_positions`): the maximum over every place the
flow graph can leave the head and every subset of the load's uncertain
modules, of access (command, seek, first sector, with the project's media
model) + read + loader CPU, modules read in the loader's order (each after its needs).  The functions here
re-implement those two on integer tables so an arrangement is evaluated in
milliseconds; ``tests/test_layout_cost.py`` checks that they agree with the
analyzer to the last bit.

Head positions are kept *symbolically*, as the extent whose end the head is at
(``None``: unknown), so they only change when the order of a load's reads
changes, not when the disc shifts under them (:mod:`.optimise` relies on it).
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field

from ..analysis._index import head_span
from ..project.media import HeadState

__all__ = ["RESIDENT", "Arrangement", "Evaluation", "Evaluator", "MAX_HEADS"]

#: Module id of the boot executable's extent (it is not a module: nothing loads it).
RESIDENT = -1
#: As gamevm_build.analysis.plans.MAX_HEADS: more possible head positions collapse to unknown.
MAX_HEADS = 8
_UNKNOWN = frozenset({None})


@dataclass
class Arrangement:
    """A disc order.  Extent ids index :attr:`extents` (extent -> module id)."""

    extents: list[int]
    seq: list[int]
    pad: dict = field(default_factory=dict)          # extent -> padding sectors before it
    reads: dict = field(default_factory=dict)        # (load id, module id) -> extent
    primary: dict = field(default_factory=dict)      # module id -> extent read by default

    @classmethod
    def from_modules(cls, problem, order, *, resident_at: int = 0) -> "Arrangement":
        """One extent per module, in ``order`` (module ids), the boot executable (if the
        problem has one) at index ``resident_at`` of the disc order (default first)."""
        extents = list(order)
        seq = list(range(len(extents)))
        primary = {m: e for e, m in enumerate(extents)}
        if problem.resident is not None:
            extents.append(RESIDENT)
            seq.insert(resident_at, len(extents) - 1)
        return cls(extents, seq, {}, {}, primary)

    def copy(self) -> "Arrangement":
        return Arrangement(list(self.extents), list(self.seq), dict(self.pad), dict(self.reads),
                           dict(self.primary))

    def extent_read(self, load_id: int, module: int) -> int:
        return self.reads.get((load_id, module), self.primary[module])

    def copies(self) -> dict:
        """Module id -> its extents, in disc order."""
        out: dict = {}
        for e in self.seq:
            m = self.extents[e]
            if m != RESIDENT:
                out.setdefault(m, []).append(e)
        return out

    def positions(self, problem, base: int) -> tuple[list, list]:
        """``(start, end)`` LBA of every extent (indexed by extent id)."""
        start = [0] * len(self.extents)
        end = [0] * len(self.extents)
        # sectors by module, RESIDENT (-1) the last entry
        sectors, extents, pad = problem.sectors_of, self.extents, self.pad
        lba = base
        for e in self.seq:
            if pad:
                lba += pad.get(e, 0)
            start[e] = lba
            lba += sectors[extents[e]]
            end[e] = lba
        return start, end

    def used_sectors(self, problem) -> int:
        # every move of the search asks (the span of an unknown head): loops in C
        total = sum(map(problem.sectors_of.__getitem__, map(self.extents.__getitem__, self.seq)))
        if self.pad:
            total += sum(map(self.pad.get, self.seq, itertools.repeat(0)))
        return total

    def resident_extent(self) -> int | None:
        for e in self.seq:
            if self.extents[e] == RESIDENT:
                return e
        return None


@dataclass
class Evaluation:
    """Result of :meth:`Evaluator.evaluate` (seconds)."""

    total: float                 # weighted sum
    times: list                  # load id -> worst-case seconds
    heads: list                  # load id -> frozenset of extent ids (None: unknown)


class Evaluator:
    """Exact worst-case load times of arrangements of one :class:`~.problem.Problem`."""

    def __init__(self, problem):
        self.p = problem
        self.model = problem.model
        self.idle = problem.idle
        self._access = self.model.access_memo()
        self.fixed = [(m.transfer_s, m.cpu_s) for m in problem.modules]
        #: (lo, hi) sectors holding the data: an unknown head is in there (see span_of)
        self.span = None

    def span_of(self, arr: "Arrangement", base: int):
        """``(0, end of the last extent)``: where a head that read this disc can be, when
        the drive reads nothing but the layout's data (``disc.data_only``), else None."""
        if not self.p.disc or not self.p.options.data_only:
            return None
        # the extents lie back to back from base, the last one ending at `end`; the
        # analyzer widens the layout file's span by the same rule (one function)
        end = base + arr.used_sectors(self.p)
        return head_span((0, end), ((base, end),) if arr.seq else ())

    # -- the media model, memoised -------------------------------------------------------
    def access(self, frm, to, state) -> float:
        key = (frm, to, state) if frm is not None or self.span is None else \
            (frm, to, state, self.span)
        t = self._access.get(key)
        if t is None:
            if frm is None and self.span is not None:
                from gamevm_build.analysis._index import span_access

                t = span_access(self.model, to, state, self.span)
            else:
                t = self.model.access_s(frm, to, head_state=state)
            self._access[key] = t
        return t

    # -- one load --------------------------------------------------------------------------
    def order(self, ld, arr: Arrangement, start) -> list:
        """``(extent, module, uncertain)`` of the load's reads, in the order it reads them
        (:attr:`Load.modules`: the loader's order, whatever the disc order)."""
        unc = ld.uncertain
        return [(arr.reads.get((ld.id, m), arr.primary[m]), m, m in unc) for m in ld.modules]

    @staticmethod
    def read_ends(order: list, ends: frozenset) -> tuple[frozenset, bool]:
        """``(extents, stays)``: where a load that reads ``order`` can leave the head, and
        whether it may also leave it where it was (no certain read); ``ends``: the
        modules that can be its last read (gamevm_build.analysis.plans.heads_after)."""
        last = None
        for k in range(len(order) - 1, -1, -1):
            if not order[k][2]:
                last = k
                break
        out = frozenset(e for e, m, _u in order[last or 0:] if m in ends)
        if last is not None and not out:
            out = frozenset({order[last][0]})
        return out, last is None

    @staticmethod
    def heads_after(heads: frozenset, read_ends: tuple) -> frozenset:
        """Head extents after a load, from its :meth:`read_ends`."""
        out, stays = read_ends
        if stays:
            out = out | heads
        return _UNKNOWN if len(out) > MAX_HEADS else out

    def time(self, order: list, heads: frozenset, start, end) -> float:
        """Worst-case seconds of a load (gamevm_build.analysis.timing.plan_time's dynamic program)."""
        idle = self.idle
        reading = HeadState.READING
        access = self.access
        states: dict = {}
        for h in heads:
            states[(False, None if h is None else end[h])] = 0.0
        for e, m, unc in order:
            to = start[e]
            best = None
            for (read_yet, head), val in states.items():
                t = val + access(head, to, reading if read_yet else idle)
                if best is None or t > best:
                    best = t
            transfer, cpu = self.fixed[m]
            entry = best + transfer + cpu
            new = dict(states) if unc else {}
            key = (True, end[e])
            old = new.get(key)
            if old is None or entry > old:
                new[key] = entry
            states = new
        return max(states.values()) if states else 0.0

    # -- the flow graph ----------------------------------------------------------------------
    def boot_heads(self, arr: Arrangement) -> frozenset:
        r = arr.resident_extent()
        return frozenset({r}) if r is not None else _UNKNOWN

    def head_sets(self, arr: Arrangement, orders: list) -> list:
        """Load id -> head extents before it (gamevm_build.analysis.plans.head_positions, symbolically)."""
        p = self.p
        heads: list = [None] * len(p.loads)
        boot = p.boot
        heads[boot] = self.boot_heads(arr)
        entry: dict = {}
        exit_: dict = {}
        rpo = p.rpo
        work = sorted((rpo[s], s) for s in p.scenes if s in p.reachable)
        queued = {s for _, s in work}
        after = self.heads_after
        # the worklist passes over a scene many times: each load's ends once
        read_ends = self.read_ends
        leaves = [read_ends(o, ld.ends) for o, ld in zip(orders, p.loads)]
        while work:
            v = heapq.heappop(work)[1]
            queued.discard(v)
            hs: set = set()
            for u in p.preds[v]:
                if u is None:
                    hs |= after(heads[boot], leaves[boot])
                elif u in exit_:
                    lid = p.transition[u, v]
                    hs |= after(exit_[u], leaves[lid])
            hs |= entry.get(v, frozenset())
            hv = frozenset(hs) if len(hs) <= MAX_HEADS and entry.get(v) != _UNKNOWN \
                else _UNKNOWN
            if entry.get(v) == hv and v in exit_:
                continue
            entry[v] = hv
            h = hv
            for lid in p.streams[v]:
                h = after(h, leaves[lid])
            if v in p.prefetch:
                # every module optional: the ends of all of them (gamevm_build.analysis.plans)
                h = after(h, read_ends([(arr.primary[m], m, True) for m in p.prefetch[v]],
                                       p.prefetch_ends[v]))
            if exit_.get(v) != h:
                exit_[v] = h
                for w in p.succs[v]:
                    if w not in queued:
                        queued.add(w)
                        heapq.heappush(work, (rpo[w], w))
        for (u, _v), lid in p.transition.items():
            heads[lid] = exit_.get(u, _UNKNOWN)
        for s, lids in p.streams.items():
            h = entry.get(s, _UNKNOWN)
            for lid in lids:
                heads[lid] = h
                h = after(h, leaves[lid])
        return heads

    def evaluate(self, arr: Arrangement, base: int) -> Evaluation:
        """Weighted worst-case cost of ``arr`` with its first extent at LBA ``base``."""
        start, end = arr.positions(self.p, base)
        self.span = self.span_of(arr, base)
        orders = [self.order(ld, arr, start) for ld in self.p.loads]
        heads = self.head_sets(arr, orders)
        times = [self.time(orders[ld.id], heads[ld.id], start, end) for ld in self.p.loads]
        total = sum(ld.weight * t for ld, t in zip(self.p.loads, times))
        return Evaluation(total, times, heads)

    # -- per-load floor -------------------------------------------------------------------------
    def read_s(self, ld) -> float:
        """Read and CPU time of every module of the load (layout-independent)."""
        return sum(self.fixed[m][0] + self.fixed[m][1] for m in ld.modules)
