"""Disc layout: the cost model against the budget analyzer, the optimiser on flows whose
best order is known, the lower bound, naive orders (gamevm_build.layout, docs/layout.md).

Projects here are ``estimate`` modules (no files), so no toolchain or ISO tool is needed.
"""

from __future__ import annotations

import itertools
import random

import pytest
from conftest import examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gamevm_build.analysis.budget import analyze
from gamevm_build.analysis.graph import build_graph
from gamevm_build.analysis.model import load_project
from gamevm_build.project.config import config_from_dict
from gamevm_build.errors import ConfigError, LayoutError
from gamevm_build.layout.bound import lower_bound
from gamevm_build.layout.bundles import form_bundles, head_sources
from gamevm_build.layout.cost import RESIDENT, Arrangement, Evaluator
from gamevm_build.layout.iso import iso_name
from gamevm_build.layout.lbaheader import header, macro
from gamevm_build.layout.manifest import analyzer_config, placement
from gamevm_build.layout.optimise import alphabetical_order, declaration_order
from gamevm_build.layout.plan import plan_layout
from gamevm_build.layout.problem import problem_from_project

REGIONS = [{"name": "Main", "start": "0x80010000", "size": "512KB"},
           {"name": "A", "start": "0x80090000", "size": "128KB", "type": "overlay"},
           {"name": "B", "start": "0x800B0000", "size": "128KB", "type": "overlay"}]


def problem(data: dict):
    return problem_from_project(load_project(config_from_dict(data)))


def project(modules: dict, scenes: dict, transitions: list, **extra) -> dict:
    d = {"target": "psx", "media": "ps1-worst-2x", "memoryMap": {"regions": REGIONS},
         "modules": {n: {"region": r, "estimate": {"size": size}} for n, (r, size) in
                     modules.items()},
         "scenes": {n: {"modules": list(ms)} for n, ms in scenes.items()},
         "transitions": [{"from": u, "to": v, "budget_ms": 1000, **({"likelihood": w}
                                                                    if w is not None else {})}
                         for u, v, w in transitions]}
    for k, v in extra.items():
        d[k] = v
    return d


def analyzer_times(p, arr, base) -> dict:
    G = build_graph(analyzer_config(p, arr, base), p.project.modules, p.project.resident)
    r = analyze(G)
    out = {f"{t.source} -> {t.target}": t.load.total_s for t in r.transitions}
    out.update({f"streams[{s.index}]": s.load.total_s for s in r.streams})
    out["boot"] = r.boot.total_s
    return out


def names_of(p, arr) -> list:
    return ["<resident>" if arr.extents[e] == RESIDENT else p.modules[arr.extents[e]].name
            for e in arr.seq]


# --------------------------------------------------------------------------- random projects

@st.composite
def flows(draw):
    """Small random projects: overlay and resident modules, needs, scenes, a flow graph with
    cycles, streams, prefetches, optional likelihoods, models and drive states."""
    n = draw(st.integers(2, 7))
    mods = {}
    for i in range(n):
        region = draw(st.sampled_from(["Main", "A", "B"]))
        mods[f"m{i}"] = {"region": region,
                         "estimate": {"size": draw(st.integers(1, 5)) * 2048 - draw(
                             st.integers(0, 2047))}}
        if i and draw(st.booleans()):
            mods[f"m{i}"]["needs"] = [f"m{draw(st.integers(0, i - 1))}"]
    k = draw(st.integers(2, 5))
    scenes = {f"s{j}": {"modules": sorted(draw(st.sets(st.sampled_from(sorted(mods)),
                                                        max_size=3)))} for j in range(k)}
    for scene in scenes.values():
        if draw(st.integers(0, 3)) == 0:           # a prefetch moves the head too
            scene["prefetch"] = sorted(draw(st.sets(st.sampled_from(sorted(mods)), min_size=1,
                                                    max_size=2)))
    pairs = draw(st.sets(st.tuples(st.integers(0, k - 1), st.integers(0, k - 1)).filter(
        lambda t: t[0] != t[1]), min_size=1, max_size=8))
    likely = draw(st.booleans())
    transitions = [{"from": f"s{u}", "to": f"s{v}", "budget_ms": 1000,
                    **({"likelihood": draw(st.sampled_from([0.1, 0.5, 1.0, 3.0]))}
                       if likely else {})} for u, v in sorted(pairs)]
    streams = []
    if draw(st.booleans()):
        s = draw(st.integers(0, k - 1))
        streams.append({"scene": f"s{s}", "modules": [draw(st.sampled_from(sorted(mods)))],
                        "deadline_frames": 600, "cpu_slice_ms": 2})
    media = draw(st.sampled_from(["ps1-worst-2x", "ps1-duckstation-1x", "ps1-mednafen-2x"]))
    drive = draw(st.sampled_from(["paused", "paused", "reading", "stopped"]))
    return {"target": "psx", "media": {"model": media, "drive": drive},
            "memoryMap": {"regions": REGIONS}, "modules": mods, "scenes": scenes,
            "start": "s0", "transitions": transitions, "streams": streams,
            **({"resident": {"size": "8KB"}} if draw(st.booleans()) else {})}


def random_arrangement(p, rng) -> Arrangement:
    order = list(range(len(p.modules)))
    rng.shuffle(order)
    arr = Arrangement.from_modules(p, order)
    for e in list(arr.seq):
        if rng.random() < 0.3:
            arr.pad[e] = rng.randrange(1, 4)
    # a few copies read by some of the loads that read the module
    for ld in p.loads:
        for m in ld.modules:
            if rng.random() < 0.2:
                ce = len(arr.extents)
                arr.extents.append(m)
                arr.seq.insert(rng.randrange(len(arr.seq) + 1), ce)
                arr.reads[ld.id, m] = ce
    return arr


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flows(), st.integers(0, 2 ** 16))
def test_cost_model_is_the_budget_analyzer(data, seed):
    """Every load's worst case equals the analyzer's, with copies, padding, a boot head and
    the layout's span, for random arrangements."""
    p = problem(data)
    rng = random.Random(seed)
    ev = Evaluator(p)
    for _ in range(3):
        arr = random_arrangement(p, rng)
        base = rng.choice([24, 1000, 9000])
        res = ev.evaluate(arr, base)
        want = analyzer_times(p, arr, base)
        for ld in p.loads:
            assert res.times[ld.id] == pytest.approx(want.get(ld.name, 0.0), rel=1e-12,
                                                     abs=1e-12), ld.name


@settings(max_examples=examples(25), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flows())
def test_bound_below_plan_below_naive_orders(data):
    p = problem(data)
    plan = plan_layout(p, time_limit=2.0)
    assert plan.bound.total <= plan.cost * (1 + 1e-12) + 1e-12
    for _arr, ev in plan.naive.values():
        assert plan.cost <= ev.total * (1 + 1e-12) + 1e-12
    # the bound holds for any arrangement, not only the plan's
    rng = random.Random(0)
    ev = Evaluator(p)
    for _ in range(5):
        arr = random_arrangement(p, rng)
        assert plan.bound.total <= ev.evaluate(arr, plan.base).total * (1 + 1e-12) + 1e-12


def brute_force(p, base, pads=(0, 1, 2)):
    """The best arrangement without copies: every order and padding (tiny problems only)."""
    ev = Evaluator(p)
    best = None
    n = len(p.modules)
    for perm in itertools.permutations(range(n)):
        for at in range(n + 1 if p.resident else 1):
            arr = Arrangement.from_modules(p, list(perm), resident_at=at)
            for combo in itertools.product(pads, repeat=len(arr.seq)):
                a = arr.copy()
                a.pad = {e: g for e, g in zip(a.seq, combo) if g}
                c = ev.evaluate(a, base).total
                if best is None or c < best[0] - 1e-15:
                    best = (c, a)
    return best


# --------------------------------------------------------------------------- known optima

def test_linear_flow_is_laid_out_in_flow_order_at_the_floor():
    """title -> l1 -> l2 -> l3: each level's module right after the one before (plus the
    padding the model likes after a paused head) reaches the per-load floor exactly."""
    d = project({"zeta": ("A", 5000), "yeti": ("B", 9000), "xray": ("A", 3000)},
                {"title": [], "l1": ["zeta"], "l2": ["yeti"], "l3": ["xray"]},
                [("title", "l1", None), ("l1", "l2", None), ("l2", "l3", None)],
                resident={"size": "8KB"})
    p = problem(d)
    plan = plan_layout(p)
    assert names_of(p, plan.arrangement) == ["<resident>", "zeta", "yeti", "xray"]
    assert plan.cost == pytest.approx(plan.bound.total, rel=1e-12)
    assert plan.bound.kind == "floor"
    alpha = plan.naive["alphabetical"][1].total
    assert alpha > plan.cost                       # xray, yeti, zeta: every seek goes back


def test_drive_kept_reading_makes_flow_order_free():
    """With the drive reading between loads (Mednafen: no command, no seek when the data
    directly follows) the chain costs its reads only; without copies the 2-matching bound
    applies and is met."""
    d = project({"c": ("A", 6000), "b": ("B", 6000), "a": ("A", 6000)},
                {"title": [], "l1": ["c"], "l2": ["b"], "l3": ["a"]},
                [("title", "l1", None), ("l1", "l2", None), ("l2", "l3", None)],
                resident={"size": "8KB"},
                media={"model": "ps1-mednafen-2x", "drive": "reading"},
                disc={"duplicates": {"policy": "none"}})
    p = problem(d)
    plan = plan_layout(p)
    ev = Evaluator(p)
    assert names_of(p, plan.arrangement) == ["<resident>", "c", "b", "a"]
    assert not plan.arrangement.pad
    reads = sum(ld.weight * ev.read_s(ld) for ld in p.loads)
    assert plan.cost == pytest.approx(reads, rel=1e-12)
    assert plan.cost == pytest.approx(plan.bound.total, rel=1e-12)


def test_the_likely_branch_follows_the_hub():
    """hub -> a (likelihood 0.9) and hub -> b (0.1), drive reading: a directly after the
    hub's module, b after it."""
    d = project({"h": ("Main", 4000), "b": ("A", 4000), "a": ("A", 4000)},
                {"title": [], "hub": ["h"], "A": ["a"], "B": ["b"]},
                [("title", "hub", None), ("hub", "A", 0.9), ("hub", "B", 0.1)],
                resident={"size": "8KB"},
                media={"model": "ps1-mednafen-2x", "drive": "reading"},
                disc={"duplicates": {"policy": "none"}, "gaps": False})
    p = problem(d)
    plan = plan_layout(p)
    order = names_of(p, plan.arrangement)
    assert order[:3] == ["<resident>", "h", "a"]
    # reversing the likelihoods reverses the branch order
    d["transitions"][1]["likelihood"], d["transitions"][2]["likelihood"] = 0.1, 0.9
    plan = plan_layout(problem(d))
    assert names_of(problem(d), plan.arrangement)[:3] == ["<resident>", "h", "b"]


@pytest.mark.parametrize("media", [{"model": "ps1-worst-2x", "drive": "paused"},
                                   {"model": "ps1-mednafen-2x", "drive": "reading"},
                                   {"model": "ps1-duckstation-2x", "drive": "paused"}])
def test_optimiser_finds_the_brute_force_optimum(media):
    """On a small cyclic flow (the example game's shape) the plan is as good as trying every
    order and padding."""
    d = project({"physics": ("Main", 3812), "level1": ("A", 5680), "boss": ("B", 3588)},
                {"title": [], "level1": ["level1"], "boss_room": ["boss"]},
                [("title", "level1", None), ("level1", "boss_room", None),
                 ("boss_room", "level1", None), ("boss_room", "title", None),
                 ("level1", "title", None)],
                resident={"size": 4640}, media=media,
                streams=[{"scene": "level1", "modules": ["boss"], "deadline_frames": 600,
                          "cpu_slice_ms": 2}])
    d["modules"]["level1"]["needs"] = ["physics"]
    d["modules"]["boss"]["needs"] = ["physics"]
    p = problem(d)
    plan = plan_layout(p, base=24)
    best, _arr = brute_force(p, 24)
    assert plan.cost <= best * (1 + 1e-12)


def test_copies_serve_three_bundles_sharing_a_module():
    """Scenes A, B, C each load their own module plus shared ``s``, which the menu evicts: a
    linear order can keep ``s`` next to two of them, a copy serves the third."""
    d = project({"m": ("A", 8192), "s": ("A", 8192), "a": ("B", 8192), "b": ("B", 8192),
                 "c": ("B", 8192)},
                {"menu": ["m"], "A": ["a", "s"], "B": ["b", "s"], "C": ["c", "s"]},
                [("menu", x, None) for x in "ABC"] + [(x, "menu", None) for x in "ABC"],
                resident={"size": "8KB"})
    none = dict(d, disc={"duplicates": {"policy": "none"}})
    auto = dict(d, disc={"duplicates": {"policy": "auto"}})
    p0, p1 = problem(none), problem(auto)
    plan0, plan1 = plan_layout(p0), plan_layout(p1)
    assert plan0.result.copies == 0 and not plan0.arrangement.reads
    assert plan1.result.copies >= 1 and plan1.cost < plan0.cost
    copied = {p1.modules[m].name for m, es in plan1.arrangement.copies().items() if len(es) > 1}
    assert "s" in copied
    # the layout file tells the analyzer which copy each load reads
    place = placement(p1, plan1.arrangement, plan1.base)
    assert place["reads"] and all(r["load"] in {ld.name for ld in p1.loads}
                                  for r in place["reads"])
    want = analyzer_times(p1, plan1.arrangement, plan1.base)
    for ld in p1.loads:
        assert plan1.evaluation.times[ld.id] == pytest.approx(want[ld.name], rel=1e-12)
    # policy limits: excluded modules are never copied; max_copies 1 means none
    for dup in ({"policy": "auto", "exclude": ["s", "a", "b", "c"]},
                {"policy": "auto", "max_copies": 1}, {"policy": "auto", "max_size": 100}):
        plan = plan_layout(problem(dict(d, disc={"duplicates": dup})))
        assert plan.result.copies == 0


# --------------------------------------------------------------------------- bundles, bound

def test_bundles_and_head_sources_of_the_example_shape():
    d = project({"physics": ("Main", 3812), "level1": ("A", 5680), "boss": ("B", 3588)},
                {"title": [], "level1": ["level1"], "boss_room": ["boss"]},
                [("title", "level1", None), ("level1", "boss_room", None),
                 ("boss_room", "title", None)],
                resident={"size": 4640},
                streams=[{"scene": "level1", "modules": ["boss"], "deadline_frames": 600,
                          "cpu_slice_ms": 2}])
    d["modules"]["level1"]["needs"] = ["physics"]
    p = problem(d)
    bundles = form_bundles(p)
    sets = sorted(sorted(p.modules[m].name for m in b.modules) for b in bundles)
    assert sets == [["boss"], ["level1", "physics"]]
    src = head_sources(p)
    lid = p.load_by_name["title -> level1"].id
    assert "R" in src[lid]                         # the boot executable's end
    s0 = p.load_by_name["streams[0]"]
    assert s0.weight == 1.0                        # level1 is entered once per session


def test_unknown_heads_cost_the_span_not_the_full_stroke():
    """Without a boot executable the first load's head is unknown; with the layout's data in
    a few sectors that costs the worst seek within them, far below the full stroke."""
    d = project({"a": ("A", 4000)}, {"title": [], "s": ["a"]}, [("title", "s", None)])
    p = problem(d)
    plan = plan_layout(p)
    full = p.model.access_s(None, 0, head_state="paused")
    lid = p.load_by_name["title -> s"].id
    assert plan.evaluation.times[lid] < full / 5
    assert plan.bound.floors[lid] <= plan.evaluation.times[lid]
    d["disc"] = {"data_only": False}
    p = problem(d)
    plan = plan_layout(p)
    assert plan.evaluation.times[lid] > full


def test_capacity_and_names():
    d = project({"big": ("A", 40 * 2048)}, {"title": [], "s": ["big"]}, [("title", "s", None)],
                disc={"capacity": "64KB"})
    with pytest.raises(LayoutError, match=r"module 'big' \(40 sectors\) does not fit the disc"):
        plan_layout(problem(d))
    d = project({"level-one": ("A", 4000)}, {"title": [], "s": ["level-one"]},
                [("title", "s", None)])
    with pytest.raises(ConfigError, match=r"'-' is not a d-character \(ECMA-119 §7.4.1"):
        plan_layout(problem(d))
    d = project({"level_one_boss": ("A", 4000)}, {"title": [], "s": ["level_one_boss"]},
                [("title", "s", None)])
    with pytest.raises(ConfigError, match=r"at most 8 characters .*has 14"):
        plan_layout(problem(d))
    d = project({"Boss": ("A", 4000), "boss": ("A", 4000)},
                {"title": [], "s": ["Boss", "boss"]}, [("title", "s", None)])
    with pytest.raises(ConfigError, match="both become BOSS.ELF"):
        plan_layout(problem(d))
    assert iso_name("boss_2") == "BOSS_2.ELF"


def test_naive_orders():
    d = project({"zed": ("A", 4000), "abe": ("B", 4000)}, {"title": [], "s": ["zed", "abe"]},
                [("title", "s", None)], resident={"size": 4000})
    p = problem(d)
    names = {0: "ZED.ELF", 1: "ABE.ELF", RESIDENT: "KERNEL.ELF"}
    assert names_of(p, alphabetical_order(p, names)) == ["abe", "<resident>", "zed"]
    assert names_of(p, declaration_order(p)) == ["<resident>", "zed", "abe"]


def test_cartridge_order_costs_nothing():
    d = project({"a": ("A", 9000), "b": ("B", 9000)}, {"title": [], "s": ["a", "b"]},
                [("title", "s", None)])
    d["target"], d["media"] = "n64", "n64-pi"
    d["memoryMap"] = {"regions": [{"name": "A", "start": "0x80100000", "size": "256KB",
                                   "type": "overlay"},
                                  {"name": "B", "start": "0x80140000", "size": "256KB",
                                   "type": "overlay"}]}
    p = problem(d)
    plan = plan_layout(p)
    assert plan.base == 0 and plan.cost == pytest.approx(plan.bound.total, rel=1e-12)
    assert plan.naive["alphabetical"][1].total == pytest.approx(plan.cost, rel=1e-12)


def test_bound_is_valid_for_the_matching_kind():
    """Drive reading, no copies: the 2-matching bound is above the floor and below every
    arrangement (exhaustive on a small branching flow)."""
    d = project({"h": ("Main", 4000), "a": ("A", 4000), "b": ("A", 4000), "c": ("B", 4000)},
                {"title": [], "hub": ["h"], "A": ["a"], "B": ["b"], "C": ["c"]},
                [("title", "hub", None), ("hub", "A", None), ("hub", "B", None),
                 ("hub", "C", None), ("A", "hub", None)],
                media={"model": "ps1-mednafen-2x", "drive": "reading"},
                disc={"duplicates": {"policy": "none"}}, resident={"size": 4000})
    p = problem(d)
    ev = Evaluator(p)
    bound = lower_bound(p, ev)
    assert bound.kind == "2-matching" and bound.total > bound.floor_total
    best, _ = brute_force(p, 24, pads=(0,))
    assert bound.total <= best


# --------------------------------------------------------------------------- LBA header

LBA_HEADER = """\
/* Disc layout of game.iso - generated by gamevm layout (docs/layout.md); do not edit. */
#ifndef GVM_LAYOUT_H
#define GVM_LAYOUT_H

#define GVM_SECTOR_SIZE 2048
#define GVM_LAYOUT_FILES 4
#define GVM_LAYOUT_BUNDLES 3

#define LBA_KERNEL_EXE             22   /* kernel (boot executable) */
#define SIZE_KERNEL_EXE          4640
#define SECTORS_KERNEL_EXE          2
#define LBA_PHYSICS_ELF            24   /* physics, bundle 0 */
#define SIZE_PHYSICS_ELF         3812
#define SECTORS_PHYSICS_ELF         2
#define LBA_LEVEL1_ELF             27   /* level1, bundle 0 */
#define SIZE_LEVEL1_ELF          5680
#define SECTORS_LEVEL1_ELF          3
#define LBA_PHYSICS_ELF_2          33   /* physics, copy 1, bundle 2 */
#define SIZE_PHYSICS_ELF_2       3812
#define SECTORS_PHYSICS_ELF_2       2

/* load bundles: one contiguous read each (first sector, sectors to read) */
#define GVM_BUNDLE_0_LBA           24   /* title -> level1 */
#define GVM_BUNDLE_0_SECTORS        6
#define GVM_BUNDLE_2_LBA           33   /* boss -> level1, x -> level1 */
#define GVM_BUNDLE_2_SECTORS        2

#endif /* GVM_LAYOUT_H */
"""


def test_lba_header_text():
    """Every file (the boot executable, a copy) and every non-empty bundle, byte for byte:
    values right-aligned in one column, a bundle spanning its first to its last sector."""
    p = problem(project({"physics": ("Main", 3812), "level1": ("A", 5680)},
                        {"title": [], "level1": ["level1", "physics"]},
                        [("title", "level1", None), ("level1", "title", None)],
                        resident={"size": 4640}))
    arr = Arrangement([0, 1, 0, RESIDENT], [3, 0, 1, 2])      # kernel, physics, level1, copy
    start, end = [24, 27, 33, 22], [26, 30, 35, 24]
    names = {0: "PHYSICS.ELF;1", 1: "LEVEL1.ELF", 2: "PHYSICS.ELF-2", 3: "KERNEL.EXE"}
    bundles = [{"extents": [0, 1], "loads": ["title -> level1"]}, {"extents": [], "loads": []},
               {"extents": [2], "loads": ["boss -> level1", "x -> level1"]}]
    assert header(p, arr, start, end, names, bundles, image="game.iso") == LBA_HEADER
    # no image name, another include guard, no bundles
    text = header(p, arr, start, end, names, [], guard="MY_H")
    assert text.startswith("/* Disc layout of the game - generated")
    assert "#ifndef MY_H\n#define MY_H\n" in text and text.endswith("#endif /* MY_H */\n")
    assert "#define GVM_LAYOUT_BUNDLES 0\n" in text and "GVM_BUNDLE_0" not in text
    assert "/* physics */" in text
    assert macro("my file-1.elf;1") == "MY_FILE_1_ELF"
    empty = header(p, Arrangement([], []), [], [], {}, [])                # nothing on the disc
    assert "#define GVM_LAYOUT_FILES 0\n#define GVM_LAYOUT_BUNDLES 0\n" in empty

