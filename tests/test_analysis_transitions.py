"""Transition times (analysis/timing.py: ``transition_times`` and its ``_paths_to``) with the
arguments a caller may give: the load plans timed (every module made optional, as the trace
check makes them), heads that leave a scene out, and the path reported from the start scene
to a transition several scenes deep.  Written against the survivors of
`bench/mutation.py -p analysis --all` (docs/testing.md); each test names its survivors."""

from __future__ import annotations

import dataclasses

import pytest

from test_analysis import est, estimated_load_cycles, regions

from gamevm_build.analysis import analyze, graph_from_dict
from gamevm_build.analysis.plans import (UNKNOWN, Heads, head_positions, load_plans, residency,
                                         stream_plans)
from gamevm_build.analysis.timing import transition_times


#: what loading one of far_level_graph's 2048-byte modules costs the CPU, pinned: the
#: times asserted below are media time plus this, and re-measuring the runtime's costs
#: (bench/measure_runtime_costs.py) must not move them by a tenth of a millisecond
PSX_MODULE_CYCLES = 98_635


@pytest.fixture(autouse=True)
def psx_costs_pinned(monkeypatch):
    """The measured costs, with psx's fixed cost per module moved so that a 2048-byte
    module costs PSX_MODULE_CYCLES, and the walk over loaded modules free."""
    import copy
    from gamevm_build.runtime import loadcost
    moved = copy.deepcopy(loadcost.measured_costs())
    psx = moved["targets"]["psx"]
    psx["module_fixed"] += PSX_MODULE_CYCLES - estimated_load_cycles("psx", 2048, others=0)
    psx["per_loaded_module"] = 0
    monkeypatch.setattr(loadcost, "measured_costs", lambda: moved)


def far_level_graph():
    """menu (its module m at 100) -> lvl (l, far away at 200000) -> end (e, right after l at
    200001); the boot executable leaves the head at 90.  Everything stays resident, so each
    transition reads its one module: l from 101 (after m), e from 200001 (after l), where
    the drive reads on."""
    return graph_from_dict({
        "target": "psx", "media": "ps1-duckstation-2x",
        "memoryMap": regions(("Main", "256KB", False)),
        "modules": {"m": est(2048, "Main"), "l": est(2048, "Main"), "e": est(2048, "Main")},
        "scenes": {"menu": {"modules": ["m"]}, "lvl": {"modules": ["l"]},
                   "end": {"modules": ["e"]}},
        "transitions": [{"from": "menu", "to": "lvl", "budget_ms": 5000},
                        {"from": "lvl", "to": "end", "budget_ms": 5000}],
        "disc": {"positions": {"m": 100, "l": 200_000, "e": 200_001}, "boot_head": 90}})


def by_pair(times):
    return {(t.source, t.target): t for t in times}


def test_transition_times_time_the_plans_given_and_start_where_those_plans_leave_the_head():
    """Given load plans and no heads, transition_times times *those* plans and works out the
    heads from them.  With every module optional (as the trace check makes a plan:
    analysis/trace.py `_optional`), menu -> lvl may find l resident and read nothing, so the
    head may stay at 101 after m: lvl -> end then reads e (optional) from 101 or 200001, and
    101 is a sled seek away (about 709.7 ms, not the 131.3 ms of reading on after l with the
    default plans).
    Written for the survivors timing.x_transition_times__mutmut_9, _22 (the plans given
    ignored: the default plans timed; the heads worked out from the default plans)."""
    G = far_level_graph()
    R = residency(G)
    sure = by_pair(transition_times(G))
    assert sure["lvl", "end"].load.heads == {200_001}
    assert round(sure["lvl", "end"].worst_ms, 1) == 131.3

    optional = {k: dataclasses.replace(p, uncertain_mask=p.plan_mask)
                for k, p in load_plans(G, R).items()}
    times = transition_times(G, plans=optional)
    assert [(t.source, t.target) for t in times] == [("lvl", "end"), ("menu", "lvl")]
    t = by_pair(times)
    l, = t["menu", "lvl"].load.steps
    assert (l.module, l.uncertain, l.from_lba) == ("l", True, 101)
    assert t["menu", "lvl"].load.plan is optional["menu", "lvl"]
    assert t["lvl", "end"].load.heads == {101, 200_001}
    e, = t["lvl", "end"].load.steps
    assert (e.module, e.uncertain, e.from_lba, e.from_label) == (
        "e", True, 101, "head at 101 (after m)")
    assert round(t["lvl", "end"].worst_ms, 1) == 709.7
    # the same as with the heads of those plans given
    heads = head_positions(G, R, optional, stream_plans(G, R))
    assert times == transition_times(G, R=R, plans=optional, heads=heads)


def test_transition_times_take_a_scene_missing_from_the_heads_as_head_unknown():
    """Heads that give no exit for a transition's source scene leave the head unknown there
    (the worst seek), as if the scene's exit were given as UNKNOWN; a scene that is given
    keeps its heads.  Written for the survivor timing.x_transition_times__mutmut_72 (the
    default for a missing scene None instead of UNKNOWN: no set of heads)."""
    G = far_level_graph()
    known = by_pair(transition_times(G))
    partial = by_pair(transition_times(G, heads=Heads(entry={}, exit={"menu": frozenset({101})})))
    assert partial["menu", "lvl"] == known["menu", "lvl"]
    lvl_end = partial["lvl", "end"]
    assert lvl_end.load.heads == UNKNOWN
    e, = lvl_end.load.steps
    assert (e.module, e.from_lba, e.from_label) == ("e", None, "head unknown")
    assert round(lvl_end.worst_ms, 1) == 932.9 > round(known["lvl", "end"].worst_ms, 1) == 131.3
    everything_unknown = Heads(entry={}, exit={s: UNKNOWN for s in ("menu", "lvl", "end")})
    assert transition_times(G, heads=Heads(entry={}, exit={})) == transition_times(
        G, heads=everything_unknown)


def test_each_transition_carries_a_shortest_path_from_the_start_scene():
    """Each transition's path is a shortest flow-graph path from the start scene to its
    source, then its target, however deep the source lies: menu -> a -> b -> c -> d with a
    shortcut menu -> c, so b and d lie two transitions from the start, and d -> menu's path
    goes through the shortcut.  analyze reports the worst one's (b -> c, over its 1 ms
budget) as ``worst_path``.
    Written for the survivor timing.x__paths_to__mutmut_10 (the search stopped after the
    start scene's successors: a deeper source's path was only itself)."""
    scenes = ("menu", "a", "b", "c", "d")
    G = graph_from_dict({
        "target": "psx",
        "memoryMap": regions(("Main", "256KB", False)),
        "modules": {s: est(2048, "Main") for s in scenes},
        "scenes": {s: {"modules": [s]} for s in scenes},
        "transitions": [{"from": "menu", "to": "a", "budget_ms": 5000},
                        {"from": "a", "to": "b", "budget_ms": 5000},
                        {"from": "b", "to": "c", "budget_ms": 1},
                        {"from": "c", "to": "d", "budget_ms": 5000},
                        {"from": "d", "to": "menu", "budget_ms": 5000},
                        {"from": "menu", "to": "c", "budget_ms": 5000}]})
    paths = {(t.source, t.target): t.path for t in transition_times(G)}
    assert paths == {("menu", "a"): ("menu", "a"),
                     ("a", "b"): ("menu", "a", "b"),
                     ("b", "c"): ("menu", "a", "b", "c"),
                     ("c", "d"): ("menu", "c", "d"),
                     ("d", "menu"): ("menu", "c", "d", "menu"),
                     ("menu", "c"): ("menu", "c")}
    result = analyze(G)
    assert (result.transitions[0].source, result.transitions[0].target) == ("b", "c")
    assert result.to_dict()["worst_path"] == ["menu", "a", "b", "c"]
