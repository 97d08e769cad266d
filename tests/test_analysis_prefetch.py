"""The worst-case load of a prefetch, and what a load's steps report: the head each read
starts from (its label), which modules the worst sequence reads, the dynamic program's
value and its choice among equally slow ways, and the seek advice a step gets
(gamevm_build.analysis.timing: prefetch_times, _worst, _head_label, seek_advice).

Written against the surviving mutants of ``bench/mutation.py -p analysis --all``
(docs/testing.md); each test names the survivors it kills.
"""

from __future__ import annotations

import dataclasses

import pytest

from gamevm_build.analysis import graph_from_dict
from gamevm_build.analysis._index import index
from gamevm_build.analysis.plans import UNKNOWN, Heads, load_plans
from gamevm_build.analysis.timing import _worst, plan_time, prefetch_times, seek_advice, \
    transition_times

from test_analysis import contiguous_pair, est, pair_at, prefetch_near_graph, regions


# --------------------------------------------------------------------------- head labels

def test_an_unknown_head_is_labelled_with_the_sectors_it_may_be_in():
    """With a disc layout's span (sectors 900-1099 hold its data; a at 1000-1001 and b at
    1002 lie inside), a head that may be anywhere is reported as being somewhere in
    those sectors, the last one being the span's end minus one.  Written for the survivors
    timing.x__head_label__mutmut_2, _4, _5 (the span left out: a plain "head unknown";
    its end printed as the first sector: "1100-1099"; one past the end: "900-1101")."""
    G = contiguous_pair()
    G.graph["span"] = (900, 1100)
    t, = transition_times(G)
    a, b = t.load.steps
    assert (a.module, a.from_lba, a.from_label) == ("a", None,
                                                    "head unknown (in sectors 900-1099)")
    assert a.to_dict()["from"] == "head unknown (in sectors 900-1099)"
    assert b.from_label == "after a"


# --------------------------------------------------------------------------- _worst

def cartridge(menu=("m",), game=("g",)):
    """An N64 project (no disc: no seek, every read leaves the head at the same unknown
    place) whose menu leads to the game."""
    return graph_from_dict({
        "target": "n64", "memoryMap": regions(("Main", "256KB", False)),
        "modules": {"m": est(2048, "Main"), "g": est(4096, "Main")},
        "scenes": {"menu": {"modules": list(menu)}, "game": {"modules": list(game)}},
        "transitions": [{"from": "menu", "to": "game", "budget_ms": 100}]})


def test_of_equally_bad_heads_a_known_one_is_reported_before_the_unknown_one():
    """On a cartridge a read costs the same from any head, the unknown one too, so the
    step reports the lowest *known* position: an unknown head is named only when it is
    the only one there can be (or the worst).  Written for the survivor
    timing.x__worst__mutmut_14 (heads sorted with the unknown one first: "head
    unknown")."""
    G = cartridge()
    plan = load_plans(G)["menu", "game"]
    step, = plan_time(G, plan, frozenset({None, 16, 0})).steps
    assert (step.from_lba, step.from_label, step.access_s) == (0, "head at 0", 0.0)
    step, = plan_time(G, plan, UNKNOWN).steps
    assert (step.from_lba, step.from_label, step.access_s) == (None, "head unknown", 0.0)


def threshold_pair():
    """Mednafen's PS1 drive: a seek of 2250 sectors or more costs 300 ms more.  The head
    starts at 1000 (after the boot executable); a (4 KiB at 2000) is 1000 sectors away,
    b (at 3500) 1498 sectors after a's end but 2500 from the boot head."""
    return pair_at({"a": 2000, "b": 3500}, boot_head=1000)


def test_a_certain_module_is_read_even_where_skipping_it_would_cost_more():
    """a and b are loaded on every path (certain): the load reads a, then b 1498 sectors
    on (short seeks, about 82 ms in all).  Reading b alone from the boot head would cost
    a 2500-sector seek, over 300 ms, but no path does that, so the bound is not it; each
    step is reported as certain, with its sectors (a: 2, b: 1).  Were a optional, the
    worst would be to skip it.  Written for the survivors timing.x__worst__mutmut_32,
    _77, _104 (every module taken as uncertain; the step's sectors left out; the states
    that skipped a certain module kept: both bounds b alone, over 300 ms)."""
    G = threshold_pair()
    m = G.graph["model"]
    alone = m.access_s(1000, 3500, head_state="paused")
    assert alone > 0.3                                  # b from the boot head: far
    t, = transition_times(G)
    a, b = t.load.steps
    assert t.load.heads == {1000}
    assert [(s.module, s.uncertain, s.position, s.sectors, s.from_lba, s.from_label)
            for s in (a, b)] == [
        ("a", False, 2000, 2, 1000, "head at 1000 (after the boot executable)"),
        ("b", False, 3500, 1, 2002, "after a")]
    assert (a.to_dict()["sectors"], a.to_dict()["uncertain"]) == (2, False)
    assert b.access_s < 0.02
    assert t.worst_ms < 100
    # a optional (resident on some paths): the worst path skips it
    plan = load_plans(G)["menu", "game"]
    optional = dataclasses.replace(plan, uncertain_mask=1 << index(G).bit["a"])
    b_alone, = plan_time(G, optional, frozenset({1000})).steps
    assert (b_alone.module, b_alone.uncertain, b_alone.from_lba) == ("b", False, 1000)
    assert b_alone.access_s == pytest.approx(alone)


def test_the_dynamic_programs_value_is_the_worst_loads_time():
    """_worst returns the largest value with the load that has it: with plan_time's
    charge (access, read and CPU time of each module), that load's total time, counted
    from 0.  Written for the survivor timing.x__worst__mutmut_19 (the values started at
    1 s: one second more)."""
    G = threshold_pair()
    ix = index(G)
    plan = load_plans(G)["menu", "game"]

    def add(val, i, access):
        return val + access + ix.transfer_s[i] + ix.cpu_s[i]

    value, lt = _worst(G, plan, frozenset({1000}), None, add)
    assert lt == plan_time(G, plan, frozenset({1000}))
    assert value == pytest.approx(lt.total_s, rel=1e-12)
    assert 0.05 < value < 0.1


def test_of_equally_slow_ways_the_first_found_is_kept():
    """The dynamic program keeps, for each place the head can be, the *first* of equally
    slow ways to get there, and reports the first of equally slow loads, so a module that
    adds nothing to the value (a charge that ignores it) is not added to the sequence.
    On a cartridge every read leaves the head at the same unknown place: reading m then
    the optional g (free) reaches the state that reading m alone reached, and m alone is
    reported.  On a disc, reading a and reading a then b (free; both optional) end in
    different places, with the same value: the first, a alone, is reported, without
    comparing the steps themselves (they have no order).  Written for the survivors
    timing.x__worst__mutmut_111 (``>`` made ``>=``: the later way, m then g, replaces the
    first), _117 and _119 (the largest state taken without the value as key: the tie
    compares the steps, a TypeError)."""
    def free(ix, name):
        """1 for each module read, nothing for ``name``."""
        bit = ix.bit[name]
        return lambda val, i, access: val + (0.0 if i == bit else 1.0)

    G = cartridge(menu=(), game=("m", "g"))          # m certain, g optional, read in turn
    ix = index(G)
    plan = load_plans(G)["menu", "game"]
    optional_g = dataclasses.replace(plan, uncertain_mask=1 << ix.bit["g"])
    assert [i for i, _p, _e in ix.order(optional_g.plan_mask, optional_g.load)] == \
        [ix.bit["m"], ix.bit["g"]]
    value, lt = _worst(G, optional_g, UNKNOWN, None, free(ix, "g"))
    assert value == 1.0
    assert [s.module for s in lt.steps] == ["m"]

    G = contiguous_pair()                            # a at 1000-1001, b at 1002
    ix = index(G)
    plan = load_plans(G)["menu", "game"]
    optional = dataclasses.replace(plan, uncertain_mask=plan.plan_mask)
    value, lt = _worst(G, optional, UNKNOWN, None, free(ix, "b"))
    assert value == 1.0
    assert [s.module for s in lt.steps] == ["a"]


# --------------------------------------------------------------------------- prefetch

def test_a_prefetch_starts_from_the_heads_it_is_given():
    """prefetch_times uses the heads it is given: a scene they do not name leaves the
    head unknown (the prefetch of lvl then costs the worst seek, over 900 ms, as
    plan_time from an unknown head), and a head given after the far module starts it
    there (about 700 ms), not where the analysis would put it (101 or 102, under 100 ms).
    Written for the survivors timing.x_prefetch_times__mutmut_7 (the heads given
    ignored, worked out again), _44 and _46 (a scene missing from the heads given
    ``None`` heads: a TypeError)."""
    G = prefetch_near_graph()
    pf, = prefetch_times(G, heads=Heads(entry={}, exit={}))
    assert (pf.scene, pf.modules, pf.load.heads) == ("menu", ("lvl",), UNKNOWN)
    step, = pf.load.steps
    assert (step.module, step.from_lba, step.from_label) == ("lvl", None, "head unknown")
    assert pf.load == plan_time(G, pf.load.plan, UNKNOWN)
    assert pf.worst_ms > 900
    pf, = prefetch_times(G, heads=Heads(entry={}, exit={"menu": frozenset({200_001})}))
    step, = pf.load.steps
    assert (step.from_lba, step.from_label) == (200_001, "head at 200001 (after far)")
    assert 600 < pf.worst_ms < 900
    assert prefetch_times(G)[0].worst_ms < 100


# --------------------------------------------------------------------------- seek advice

def test_a_read_through_or_a_module_without_a_position_gets_no_seek_advice():
    """Seek advice is for a step that costs an access, after a module, to a known
    position: b read right after a (the drive reads on, no access) gets none, nor does b
    without a disc position (nothing to move it next to).  Written for the survivor
    timing.x_seek_advice__mutmut_24 (``or`` made ``and``: "read b in the same pass as a
    ... instead of a 0.00 ms restart" for the first, "place b right after a" for the
    second)."""
    t, = transition_times(contiguous_pair())
    a, b = t.load.steps
    assert (b.from_label, b.from_lba, b.position, b.access_s) == ("after a", 1002, 1002, 0.0)
    assert seek_advice(b) is None
    assert seek_advice(a) is None                    # from an unknown head: after no module
    far = dataclasses.replace(b, from_lba=90, access_s=0.05)
    assert seek_advice(far).startswith("place b right after a on disc")

    G = graph_from_dict({**contiguous_pair().graph["config"].raw,
                         "disc": {"positions": {"a": 1000}}})
    t, = transition_times(G)
    a, b = t.load.steps
    assert (b.module, b.from_label, b.from_lba, b.position) == ("b", "after a", 1002, None)
    assert b.access_s > 0
    assert seek_advice(b) is None
