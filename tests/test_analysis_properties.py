"""Property tests: on random flow graphs and module sets, no concrete walk beats the bound.

Every transition (and stream) of a random walk through a random project is
simulated step by step with the same media model, CPU costs and loader
semantics (:func:`analysis.simulate.simulate_walk`); its time must never
exceed the analyzer's worst case for that transition.  The dynamic program
of :func:`analysis.timing.plan_time` is also checked against brute force over
every head position and every subset of uncertain modules.
"""

from __future__ import annotations

import itertools

from conftest import examples
from hypothesis import HealthCheck, given, settings, strategies as st

from analysis import analyze, graph_from_dict
from analysis._index import bits, index
from analysis.plans import head_positions, load_plans, residency, stream_plans
from analysis.simulate import simulate_walk
from analysis.timing import plan_time
from gamevm_build.media import HeadState

PSX_MODELS = ["ps1-duckstation-1x", "ps1-duckstation-2x", "ps1-mednafen-1x", "ps1-mednafen-2x",
              "ps1-worst-2x"]


@st.composite
def projects(draw):
    n64 = draw(st.booleans())
    base = 0x80100000 if n64 else 0x80010000
    regions = [{"name": "Main", "start": hex(base), "size": "256KB"},
               {"name": "O1", "start": hex(base + 0x40000), "size": "128KB", "type": "overlay",
                "pair": "O2"},
               {"name": "O2", "start": hex(base + 0x60000), "size": "128KB", "type": "overlay"}]
    n = draw(st.integers(1, 7))
    with_positions = draw(st.booleans())
    modules, cursor = {}, draw(st.integers(0, 1000))
    positions = {}
    for i in range(n):
        name = f"m{i}"
        size = draw(st.integers(1, 40_000))
        spec = {"region": draw(st.sampled_from(["Main", "O1", "O2"])),
                "estimate": {"size": size,
                             "relocations": draw(st.integers(0, 300)),
                             "imports": draw(st.integers(0, 10)),
                             "constructors": draw(st.integers(0, 2))}}
        needs = [f"m{j}" for j in range(i) if draw(st.booleans())]
        if needs:
            spec["needs"] = needs
        if draw(st.booleans()):
            spec["init_ms"] = draw(st.sampled_from([0.0, 0.25, 1.0]))
        modules[name] = spec
        if with_positions and draw(st.integers(0, 5)) > 0:
            how = draw(st.sampled_from(["next", "near", "far"]))
            if how == "next":
                pos = cursor
            elif how == "near":
                pos = cursor + draw(st.integers(-20, 40))
            else:
                pos = draw(st.integers(0, 330_000))
            pos = max(pos, 0)
            positions[name] = pos
            cursor = pos + -(-size // (512 if n64 else 2048))
    names = sorted(modules)
    k = draw(st.integers(1, 5))
    scenes = {f"s{j}": {"modules": sorted(set(draw(st.lists(st.sampled_from(names), max_size=3))))}
              for j in range(k)}
    snames = sorted(scenes)
    pairs = draw(st.lists(st.tuples(st.sampled_from(snames), st.sampled_from(snames)),
                          max_size=10, unique=True))
    transitions = [{"from": u, "to": v, "budget_ms": 1000} for u, v in pairs]
    streams = []
    for _ in range(draw(st.integers(0, 2))):
        streams.append({"scene": draw(st.sampled_from(snames)),
                        "modules": sorted(set(draw(st.lists(st.sampled_from(names), min_size=1,
                                                            max_size=2)))),
                        "deadline_frames": draw(st.integers(1, 300)),
                        "cpu_slice_ms": draw(st.sampled_from([0.5, 2.0, 8.0]))})
    data = {"target": "n64" if n64 else "psx",
            "media": {"model": "n64-pi" if n64 else draw(st.sampled_from(PSX_MODELS)),
                      "drive": draw(st.sampled_from(["paused", "stopped", "reading"]))},
            "frame_rate": draw(st.sampled_from([50, 60])),
            "memoryMap": {"regions": regions}, "modules": modules, "scenes": scenes,
            "transitions": transitions, "streams": streams}
    if positions:
        data["disc"] = {"positions": positions}
    walk_choices = draw(st.lists(st.integers(0, 1000), max_size=10))
    return data, walk_choices


def walk_from(G, choices):
    ix = index(G)
    walk = [ix.start]
    for c in choices:
        succ = ix.succs[walk[-1]]
        if not succ:
            break
        walk.append(succ[c % len(succ)])
    return walk


@settings(max_examples=examples(250), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(projects())
def test_no_concrete_walk_is_slower_than_the_bound(case):
    data, choices = case
    G = graph_from_dict(data)
    result = analyze(G)
    bound = {(t.source, t.target): t.load.total_s for t in result.transitions}
    frames = {s.index: s.frames for s in result.streams}
    plans = load_plans(G)
    splans = stream_plans(G)
    walk = walk_from(G, choices)
    for load in simulate_walk(G, walk):
        if load.kind == "transition":
            key = (load.source, load.target)
            assert load.seconds <= bound[key] + 1e-9, (key, load, bound[key])
            plan = plans[key]
            assert set(load.modules) <= set(plan.modules)
            assert plan.certain <= set(load.modules)
        elif load.kind == "stream":
            assert load.frames <= frames[load.stream] + 0, (load, frames[load.stream])
            assert set(load.modules) <= set(splans[load.stream].modules)


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(projects())
def test_residency_invariants(case):
    data, _ = case
    G = graph_from_dict(data)
    R = residency(G)
    ix = index(G)
    for s in R.reachable:
        assert R.must(s, at="entry") <= R.may(s, at="entry")
        assert R.must(s) <= R.may(s)
        assert set(ix.names_of(ix.scene_mask[s])) <= R.must(s, at="entry")


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(projects())
def test_plan_time_is_the_exact_maximum(case):
    """The DP equals brute force over head positions and subsets of uncertain modules."""
    data, _ = case
    G = graph_from_dict(data)
    ix = index(G)
    R = residency(G)
    plans = load_plans(G, R)
    heads = head_positions(G, R, plans, stream_plans(G, R))
    for (u, _v), plan in plans.items():
        plan_mask, unc_mask = plan.masks
        unc = list(bits(unc_mask))
        if len(unc) > 5:
            continue
        hs = heads.exit.get(u)
        best = 0.0
        for r in range(len(unc) + 1):
            for subset in itertools.combinations(unc, r):
                mask = (plan_mask & ~unc_mask) | sum(1 << i for i in subset)
                for h in hs:
                    t, head, first = 0.0, h, True
                    for i in bits(mask):
                        state = ix.drive if first else HeadState.READING
                        t += ix.access(head, ix.pos[i], state) + ix.transfer_s[i] + ix.cpu_s[i]
                        head, first = ix.end[i], False
                    best = max(best, t)
        got = plan_time(G, plan, hs).total_s
        assert abs(got - best) <= 1e-9 * max(1.0, best), (u, _v, got, best)


def reference_residency(G):
    """The textbook round-robin fixpoint, straight from the semantics (no tricks)."""
    ix = index(G)
    reach = {ix.start}
    frontier = [ix.start]
    while frontier:
        frontier = [w for u in frontier for w in ix.succs[u] if w not in reach]
        reach.update(frontier)

    def streams(v, x):
        for _st, smask in ix.streams[v]:
            x = ix.apply(x, smask)
        return x

    top = ix.all
    must = {v: top for v in reach}
    may = {v: 0 for v in reach}
    changed = True
    while changed:
        changed = False
        for v in sorted(reach):
            ins = [(0, 0)] if v == ix.start else []
            ins += [(streams(u, must[u]), streams(u, may[u])) for u in ix.preds[v]
                    if u in reach]
            new_must = top
            new_may = 0
            for um, uy in ins:
                new_must &= ix.apply(um, ix.scene_mask[v])
                new_may |= ix.apply(uy, ix.scene_mask[v])
            if (new_must, new_may) != (must[v], may[v]):
                must[v], may[v] = new_must, new_may
                changed = True
    return must, may


@settings(max_examples=examples(200), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(projects())
def test_residency_matches_the_textbook_fixpoint(case):
    data, _ = case
    G = graph_from_dict(data)
    R = residency(G)
    must, may = reference_residency(G)
    assert R.entry_must == must
    assert R.entry_may == may
