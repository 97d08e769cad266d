"""Planning a layout: bound, naive orders, optimiser, final exact costs, report data."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ..errors import LayoutError
from .bound import NO_SOURCES, Bound, lower_bound
from .bundles import HeadSourcesTimeout, head_sources
from .cost import RESIDENT, Arrangement, Evaluation, Evaluator
from .iso import estimate_base, file_names, name_table
from .optimise import OptimiseResult, alphabetical_order, declaration_order, optimise

__all__ = ["Plan", "plan_layout", "default_time_limit", "final_bundles", "check_fit"]


def default_time_limit(problem) -> float:
    """Seconds the optimiser may use: 2 s plus 20 ms per module, at most 25 s."""
    return min(25.0, 2.0 + 0.02 * len(problem.modules))


@dataclass
class Plan:
    """A planned layout with everything the outputs and the report need."""

    problem: object
    arrangement: Arrangement
    base: int                                   # LBA of the first extent
    evaluation: Evaluation                      # exact, at base
    bound: Bound
    naive: dict                                 # name -> (Arrangement, Evaluation)
    result: OptimiseResult
    names: dict = field(default_factory=dict)   # extent -> file name (disc media)
    seconds: float = 0.0
    t_eval: float = 0.0                         # seconds of one exact evaluation

    @property
    def cost(self) -> float:
        return self.evaluation.total

    def positions(self) -> tuple[list, list]:
        return self.arrangement.positions(self.problem, self.base)

    def rebase(self, base: int, ev: Evaluator | None = None) -> None:
        """Move the whole layout so its first extent is at ``base`` (after mastering)."""
        ev = ev or Evaluator(self.problem)
        self.base = base
        self.evaluation = ev.evaluate(self.arrangement, base)
        self.naive = {k: (a, ev.evaluate(a, base)) for k, (a, _e) in self.naive.items()}

    def bundles(self) -> list:
        start, end = self.positions()
        return final_bundles(self.problem, self.arrangement, start)


def final_bundles(problem, arr: Arrangement, start: list) -> list:
    """Distinct module sets read by loads, with the extents they read (LBA order), heaviest first."""
    groups: dict = {}
    for ld in problem.loads:
        if not ld.modules:
            continue
        key = tuple(sorted({arr.extent_read(ld.id, m) for m in ld.modules},
                           key=lambda e: start[e]))
        g = groups.setdefault(key, {"extents": list(key), "loads": [], "weight": 0.0,
                                    "scene": ld.target})
        g["loads"].append(ld.name)
        g["weight"] += ld.weight
    out = sorted(groups.values(), key=lambda g: (start[g["extents"][0]], -g["weight"]))
    return out


def check_fit(problem, arr: Arrangement, base: int) -> None:
    """Raise :class:`LayoutError` naming the first file past the disc's capacity."""
    cap = problem.capacity
    start, end = arr.positions(problem, base)
    for e in arr.seq:
        if end[e] > cap:
            m = arr.extents[e]
            what = (f"the boot executable {problem.resident['name']}" if m == RESIDENT
                    else f"module '{problem.modules[m].name}'")
            size = end[e] - start[e]
            src = "disc.capacity" if problem.options.capacity is not None else \
                f"the {problem.model.name} model's capacity"
            raise LayoutError(
                f"{what} ({size} sectors) does not fit the disc: it would end at sector "
                f"{end[e]}, past the {cap} sectors of {src} ({start[e]} sectors are used "
                "before it); make the modules smaller, allow fewer copies "
                "(disc.duplicates) or raise disc.capacity")


def plan_layout(problem, *, time_limit: float | None = None, seed: int = 0,
                base: int | None = None, started: float | None = None,
                reserve: float = 0.0) -> Plan:
    """Plan the layout of ``problem`` (see :mod:`gamevm_build.layout`).

    The time limit counts from ``started`` (``time.perf_counter()``; default now), so a
    caller's own work before the plan (loading the project) is inside it; ``reserve`` is
    the caller's work after the plan, in exact evaluations of an arrangement (the search
    leaves that much time, measured on this problem, before the limit).
    """
    t0 = time.perf_counter() if started is None else started
    names = name_table(problem) if problem.disc else {
        m.id: m.name for m in problem.modules} | ({RESIDENT: "resident"}
                                                 if problem.resident else {})
    ev = Evaluator(problem)
    if base is None:
        n_files = len(problem.modules) + (1 if problem.resident else 0)
        base = estimate_base(n_files) if problem.disc else 0
    limit = default_time_limit(problem) if time_limit is None else time_limit
    # the plain declaration order must fit, or nothing will
    check_fit(problem, declaration_order(problem), base)
    # the time limit holds for the whole plan: the head sources (dense flow graphs make
    # them slow) get part of it; without them the bound is looser but still a bound
    try:
        sources = head_sources(problem, deadline=t0 + 0.3 * limit)
    except HeadSourcesTimeout:
        sources = None
    bound = lower_bound(problem, ev, sources=sources if sources is not None else NO_SOURCES)
    # 90%: the search stops between moves, and the last one may run over a little
    left = max(0.9 * (t0 + limit - time.perf_counter()), 0.0)
    result = optimise(problem, base=base, floors=bound.floors, names=names, time_limit=left,
                      seed=seed, ev=ev, sources=sources if sources is not None else [],
                      reserve=reserve)
    arr = result.arrangement
    check_fit(problem, arr, base)
    # the optimiser evaluated both naive orders among its starting points
    naive = {"alphabetical": "alphabetical order", "declaration": "declaration order"}
    naive = {k: (alphabetical_order(problem, names) if k == "alphabetical"
                 else declaration_order(problem), result.evaluations[name])
             for k, name in naive.items()}
    evaluation = result.evaluation
    return Plan(problem, arr, base, evaluation, bound, naive, result,
                file_names(problem, arr) if problem.disc else {}, time.perf_counter() - t0,
                result.t_eval)
