"""Worst-case load time of every transition, explained module by module.

A load reads its plan's modules in load order (:mod:`gamevm_build.analysis._index`).  Each
module costs, with the project's media model and the target's CPU costs:

* **access**: command + seek + first-sector latency from where the head can
  be (0 when the module directly follows the previous one: the drive reads on);
* **read**: its file's sectors at the medium's rate;
* **CPU**: copy, zero bss, relocate, bind imports, call constructors
  (:mod:`gamevm_build.runtime.loadcost`), plus its configured ``init_ms``.

The bound is the worst case over all paths into the transition's source
scene: over every place the flow graph can leave the head (a set of positions
per scene, from :func:`gamevm_build.analysis.plans.head_positions`; unknown when disc
positions are not given) and over every subset of the plan's *uncertain*
modules (those resident on some paths only), computed exactly by dynamic
programming in :func:`plan_time`.  Every concrete path reads one such subset
in the same order from one such head position, so no path is slower (tested
against :func:`gamevm_build.analysis.simulate.simulate_walk`).

Examples
--------
>>> from gamevm_build.analysis.graph import graph_from_dict
>>> G = graph_from_dict({
...     "target": "psx", "media": "ps1-mednafen-2x",
...     "memoryMap": {"regions": [{"name": "Main", "start": "0x80010000", "size": "1MB"}]},
...     "modules": {"a": {"region": "Main", "estimate": {"size": 4096}},
...                 "b": {"region": "Main", "estimate": {"size": 2048}}},
...     "scenes": {"menu": {"modules": []}, "game": {"modules": ["a", "b"]}},
...     "transitions": [{"from": "menu", "to": "game", "budget_ms": 100}],
...     "disc": {"positions": {"a": 1000, "b": 1002}}})
>>> t, = transition_times(G)      # ack 0.74 + worst seek 1328.5 + one sector 6.67 for a:
>>> [(s.module, s.from_label, round(s.access_s * 1e3, 2)) for s in t.load.steps]
[('a', 'head unknown', 1335.92), ('b', 'after a', 0.0)]
>>> round(t.worst_ms), t.ok          # the CPU part moves with the measured costs
(1357, False)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gamevm_build.project.media import HeadState
from gamevm_build.runtime.loadtime import file_frames

from ._index import index
from .plans import Heads, LoadPlan, UNKNOWN, boot_plan, head_positions, load_plans, \
    prefetch_plans, residency, stream_plans

__all__ = ["Step", "LoadTime", "TransitionTime", "PrefetchTime", "plan_time", "plan_frames",
           "transition_times", "prefetch_times", "boot_time", "seek_advice"]


@dataclass(frozen=True)
class Step:
    """One module of a load, with every term of its worst-case time (seconds)."""

    module: str
    region: str
    uncertain: bool
    position: int | None
    sectors: int
    file_size: int
    from_lba: int | None
    from_label: str
    head_state: str
    access_s: float
    seek_s: float
    read_s: float
    cpu: dict                     # step -> seconds: fixed, copy, zero, relocate, bind, init
    relocations: int

    @property
    def media_s(self) -> float:
        return self.access_s + self.read_s

    @property
    def cpu_s(self) -> float:
        return sum(self.cpu.values())

    @property
    def total_s(self) -> float:
        return self.media_s + self.cpu_s

    def to_dict(self) -> dict:
        r = lambda s: round(s * 1e3, 3)  # noqa: E731
        return {"module": self.module, "region": self.region, "uncertain": self.uncertain,
                "lba": self.position, "sectors": self.sectors, "bytes": self.file_size,
                "from_lba": self.from_lba, "from": self.from_label,
                "drive": self.head_state, "access_ms": r(self.access_s),
                "seek_ms": r(self.seek_s), "read_ms": r(self.read_s),
                "cpu_ms": r(self.cpu_s), "cpu": {k: r(v) for k, v in self.cpu.items()},
                "relocations": self.relocations, "total_ms": r(self.total_s)}


@dataclass(frozen=True)
class LoadTime:
    """The worst-case time of one :class:`~gamevm_build.analysis.plans.LoadPlan`."""

    plan: LoadPlan
    steps: tuple[Step, ...]
    heads: frozenset

    @property
    def media_s(self) -> float:
        return sum(s.media_s for s in self.steps)

    @property
    def cpu_s(self) -> float:
        return sum(s.cpu_s for s in self.steps)

    @property
    def total_s(self) -> float:
        return self.media_s + self.cpu_s


@dataclass(frozen=True)
class TransitionTime:
    """A transition's budget and its worst-case load time."""

    source: str
    target: str
    index: int
    budget_ms: float
    load: LoadTime
    description: str = ""
    path: tuple[str, ...] = field(default=())

    @property
    def worst_ms(self) -> float:
        return self.load.total_s * 1e3

    @property
    def margin_ms(self) -> float:
        return self.budget_ms - self.worst_ms

    @property
    def ratio(self) -> float:
        return self.worst_ms / self.budget_ms

    @property
    def ok(self) -> bool:
        return self.worst_ms <= self.budget_ms


def _head_label(ix, lba, heads_from: dict) -> str:
    if lba is None:
        return (f"head unknown (in sectors {ix.span[0]}-{ix.span[1] - 1})" if ix.span
                else "head unknown")
    who = heads_from.get(lba)
    if who is None and lba in ix.boot_heads:
        who = "the boot executable"
    return f"head at {lba} (after {who})" if who else f"head at {lba}"


def plan_time(G, plan: LoadPlan, heads: frozenset = UNKNOWN, *,
              idle_state: HeadState | str | None = None) -> LoadTime:
    """Worst-case time of ``plan`` when the head may be at any of ``heads``.

    Parameters
    ----------
    plan : LoadPlan
    heads : frozenset of (int or None)
        Possible head positions before the load (``None``: unknown).
    idle_state : HeadState, optional
        Drive state before the first read (default: the project's ``drive``);
        later reads of the same load find the drive reading.

    Returns
    -------
    LoadTime
        ``steps`` is the worst concrete sequence: the certain modules and the
        uncertain ones whose loading makes the load slowest, in load order.

    Notes
    -----
    Dynamic programming over the plan in load order.  The state is where the
    head is (a position in ``heads`` before the first read, else the end of
    the last module read); a certain module is always read, an uncertain one
    read or skipped, and each state keeps the slowest way to reach it.  The
    result is the maximum over every head position and every subset of the
    uncertain modules, in O(len(plan) · (len(heads) + uncertain)) accesses.
    """
    ix = index(G)
    return _worst(G, plan, heads, idle_state,
                  lambda val, i, access: val + access + ix.transfer_s[i] + ix.cpu_s[i])[1]


def _worst(G, plan: LoadPlan, heads: frozenset, idle_state, add):
    """The dynamic program of :func:`plan_time`: ``add(value so far, bit, access_s)`` is the
    value after reading module ``bit`` too; ``(the largest value, its LoadTime)``."""
    ix = index(G)
    idle = HeadState(idle_state or ix.drive)
    plan_mask, unc_mask = plan.masks
    ends = ix.end_owner
    # state key: (read_yet, head) -> (value, chain, label); chain links (step, previous)
    states: dict = {}
    for h in sorted(heads, key=lambda h: (h is None, h or 0)):
        states[(False, h)] = (0.0, None, _head_label(ix, h, ends))
    for i, to, end in ix.order(plan_mask, plan.load):
        uncertain = bool(unc_mask >> i & 1)
        best = None
        for (read_yet, head), (val, chain, label) in states.items():
            state = HeadState.READING if read_yet else idle
            access = ix.access(head, to, state)
            v = add(val, i, access)
            if best is None or v > best[0]:
                best = (v, chain, label, head, state, access)
        total, chain, label, head, state, access = best
        seek = 0.0 if access == 0.0 else ix.seek(head, to, state)
        info = ix.info[i]
        step = Step(
            module=ix.names[i], region=ix.region[i], uncertain=uncertain,
            position=to, sectors=ix.sectors[i], file_size=info.file_size,
            from_lba=head, from_label=label, head_state=state.value, access_s=access,
            seek_s=seek, read_s=ix.transfer_s[i],
            cpu=ix.cpu_steps[i],
            relocations=info.relocation_count)
        entry = (total, (step, chain), f"after {ix.names[i]}")
        new = dict(states) if uncertain else {}
        key = (True, end)
        if key not in new or entry[0] > new[key][0]:
            new[key] = entry
        states = new
    val, chain, _label = max(states.values(), key=lambda v: v[0])
    steps = []
    while chain is not None:
        steps.append(chain[0])
        chain = chain[1]
    return val, LoadTime(plan, tuple(reversed(steps)), frozenset(heads))


def plan_frames(G, plan: LoadPlan, heads: frozenset = UNKNOWN, *, slice_ms: float,
                idle_state: HeadState | str | None = None) -> tuple[int, int, LoadTime]:
    """Worst-case frames of ``plan`` loaded in the background: ``(media, cpu, LoadTime)``.

    The loaders read an asynchronous load's files one after the other: a read is found
    done when the next frame starts (``GameVMFrame``), then that file's CPU work takes
    ``cpu_slice_ms`` a frame, and the next file's read starts when it is done.  So each
    file costs its own frames, rounded up (:func:`file_frames`); this is the largest sum
    over every head position and subset of uncertain modules (the same dynamic program
    as :func:`plan_time`), split into its media and CPU frames.
    """
    ix = index(G)
    fps = G.graph["frame_rate"]

    def add(val, i, access):
        m, c = file_frames(access + ix.transfer_s[i], ix.cpu_s[i], fps, slice_ms)
        return val + m + c

    _total, lt = _worst(G, plan, heads, idle_state, add)
    media = cpu = 0
    for st in lt.steps:
        m, c = file_frames(st.media_s, st.cpu_s, fps, slice_ms)
        media, cpu = media + m, cpu + c
    return media, cpu, lt


def _paths_to(G, start: str) -> dict:
    """Shortest flow-graph path from the start scene to every reachable scene."""
    ix = index(G)
    paths = {start: (start,)}
    frontier = [start]
    while frontier:
        nxt = []
        for u in frontier:
            for w in ix.succs[u]:
                if w not in paths:
                    paths[w] = paths[u] + (w,)
                    nxt.append(w)
        frontier = nxt
    return paths


def transition_times(G, *, R=None, plans=None, heads: Heads | None = None) -> list[TransitionTime]:
    """The worst-case time of every transition leaving a reachable scene, worst first.

    Worst first means the largest ratio of worst-case time to budget; ties by
    configuration order.  Each result carries ``path``: a shortest path from
    the start scene through the transition (for reports).
    """
    ix = index(G)
    R = R if R is not None else residency(G)
    plans = plans if plans is not None else load_plans(G, R)
    heads = heads if heads is not None else head_positions(G, R, plans, stream_plans(G, R))
    paths = _paths_to(G, ix.start)
    out = []
    for u, v, d in sorted(((e[0][1], e[1][1], e[2]) for e in G.edges(data=True)
                           if e[2].get("kind") == "transition"), key=lambda t: t[2]["index"]):
        if (u, v) not in plans:
            continue
        lt = plan_time(G, plans[u, v], heads.exit.get(u, UNKNOWN))
        out.append(TransitionTime(u, v, d["index"], d["budget_ms"], lt, d.get("description", ""),
                                  paths.get(u, (u,)) + (v,)))
    out.sort(key=lambda t: (-t.ratio, t.index))
    return out


@dataclass(frozen=True)
class PrefetchTime:
    """The worst-case time of a scene's prefetch (``scenes.NAME.prefetch``): it runs in the
    background, so it has no budget; the trace check compares runs with it."""

    scene: str
    modules: tuple[str, ...]
    load: LoadTime

    @property
    def worst_ms(self) -> float:
        return self.load.total_s * 1e3


def prefetch_times(G, *, R=None, heads: Heads | None = None) -> list[PrefetchTime]:
    """The worst-case time of every reachable scene's prefetch, by scene name.

    A prefetch starts where the scene's streams or an earlier prefetch left the head:
    the scene's exit heads (:func:`gamevm_build.analysis.plans.head_positions`).
    """
    R = R if R is not None else residency(G)
    heads = heads if heads is not None else head_positions(G, R)
    out = []
    for s, plan in sorted(prefetch_plans(G, R).items()):
        declared = G.nodes[("scene", s)].get("prefetch", ())
        out.append(PrefetchTime(s, tuple(declared),
                                plan_time(G, plan, heads.exit.get(s, UNKNOWN))))
    return out


def boot_time(G, *, R=None) -> LoadTime:
    """Time of the load that enters the start scene from boot (head unknown, or at
    ``G.graph["boot_head"]``)."""
    return plan_time(G, boot_plan(G, R), index(G).boot_heads)


def seek_advice(step: Step) -> str | None:
    """What to change on disc so ``step`` costs no seek, or ``None`` if nothing helps."""
    from .findings import ms

    label = step.from_label
    if label.startswith("after "):
        prev = label[len("after "):]
    elif "(after " in label:
        prev = label.split("(after ", 1)[1].rstrip(")")
    else:
        prev = None
    if step.access_s <= 0 or step.position is None or prev is None:
        return None
    if step.from_lba == step.position:
        return (f"read {step.module} in the same pass as {prev}, which it already follows on "
                f"disc (the drive then reads on instead of a {ms(step.access_s)} restart)")
    return (f"place {step.module} right after {prev} on disc (read through instead of a "
            f"{ms(step.access_s)} access)")
