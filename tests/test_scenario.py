"""Scenarios (`gamevm run`), traces, and static vs dynamic (`gamevm budget --check-trace`).

Runs on the real example game (built by scons, tests/example_game.py, whose
default build already plays examples/game/scenarios/*.json through
GameVMValidate).  The property test walks the example's flow graph at random
and checks that no observed load is slower than its static bound.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import run_gamevm, examples
from example_game import example_game  # noqa: F401  (fixture)

SCENARIOS = ("walk", "stream", "runtime")


def config_of(out, target):
    name = "gamevm.json" if target == "psx" else f"gamevm-{target}.json"
    return out.parents[1] / "examples" / "game" / name


def scenario_path(out, name):
    return out.parents[1] / "examples" / "game" / "scenarios" / f"{name}.json"


def test_default_build_plays_the_example_scenarios(example_game, target):
    out = example_game(target)
    for name in SCENARIOS:
        trace = json.loads((out / f"{name}.trace.json").read_text())
        assert trace["ok"] and trace["target"] == target and trace["scenario"] == name
    import xml.etree.ElementTree as ET
    suite = ET.parse(out / "validate.xml").getroot().find("testsuite")
    cases = [tc for tc in suite.findall("testcase") if tc.get("classname") == f"{target}.scenario"]
    assert sorted(tc.get("name") for tc in cases) == sorted(SCENARIOS)
    assert all(tc.find("failure") is None and tc.find("error") is None for tc in cases)
    assert "trace check ok" in cases[0].find("system-out").text


def test_run_cli_log_and_trace(example_game, target, tmp_path):
    out = example_game(target)
    trace_path = tmp_path / "walk.json"
    p = run_gamevm("run", scenario_path(out, "walk"), "-t", target, "--trace", trace_path)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "scenario walk: 15/15 steps" in p.stderr and "ok (trace:" in p.stderr
    log = p.stdout
    assert "title -> level1: loaded physics, level1 in" in log
    assert "stream 0 started: boss" in log and "stream 0 completed after" in log
    assert "level1 -> boss_room: nothing to load" in log
    trace = json.loads(trace_path.read_text())
    assert trace["schema"] == 1 and trace["media"] == ("ps1-worst-2x" if target == "psx"
                                                       else "n64-pi")
    kinds = [(ld["kind"], ld.get("from"), ld.get("to")) for ld in trace["loads"]]
    assert kinds[:3] == [("boot", None, "title"), ("transition", "title", "level1"),
                         ("stream", None, "level1")]
    ld = trace["loads"][1]
    assert [m["module"] for m in ld["modules"]] == ["physics", "level1"]
    level1 = ld["modules"][1]
    assert [ph["phase"] for ph in level1["phases"]] == ["seek", "read", "copy", "relocate",
                                                        "bind", "init"]
    assert level1["region"] == "LevelA" and level1["init_measured"]["instructions"] > 0
    for m in ld["modules"]:                        # each module's phases in order
        starts = [ph["start_ms"] for ph in m["phases"]]
        assert starts == sorted(starts)
    phases = [ph for m in ld["modules"] for ph in m["phases"]]
    reads = max(ph["end_ms"] for ph in phases if ph["phase"] in ("seek", "read"))
    assert reads <= min(ph["start_ms"] for ph in phases if ph["phase"] == "copy")
    assert ld["end_ms"] == pytest.approx(ld["start_ms"] + ld["total_ms"], abs=1e-3)
    stream = trace["loads"][2]
    assert stream["async"] and stream["frames"] >= 1 and stream["slices"]
    assert [e["event"] for e in trace["memory"]][:3] == ["alloc", "alloc", "alloc"]


def test_check_trace_reports_tightness_and_unsoundness(example_game, target, tmp_path):
    out = example_game(target)
    config = config_of(out, target)
    # the default build played the scenarios on the disc it laid out (GAMEVM_LAYOUT)
    tr, layout = out / "walk.trace.json", out / "layout.json"
    p = run_gamevm("budget", "-c", config, "--layout", layout, "--check-trace", tr,
                   "--check-trace", out / "runtime.trace.json")
    assert p.returncode == 0, p.stdout + p.stderr
    rows = {x[2:40].strip(): x.split() for x in p.stdout.splitlines()
            if x.startswith("  ") and ("->" in x or "streams[" in x)}
    # the bound itself, up to the declared init_ms (the constructor measures a few
    # microseconds; n64's whole load is 2 ms, so its 0.05 ms declared init_ms shows)
    assert 1.0 <= float(rows["title -> level1"][-1]) <= (1.002 if target == "psx" else 1.03)
    assert rows["streams[0] (boss during level1)"][-1] == "1.000"
    assert "none above its bound" in p.stdout and "unbudgeted loads" in p.stdout
    doc = json.loads(run_gamevm("budget", "-c", config, "--layout", layout,
                                "--check-trace", tr, "-f", "json").stdout)
    t = next(c for c in doc["comparisons"] if c["label"] == "title -> level1")
    assert 1.0 <= t["tightness"] <= 1.15 and t["observed"] == 2
    # the same trace against the config's own disc positions is not comparable
    p = run_gamevm("budget", "-c", config, "--check-trace", tr)
    assert p.returncode == 2 and "same disc layout" in p.stderr
    # a trace slower than the bound: the analysis would be unsound
    trace = json.loads(tr.read_text())
    ld = next(x for x in trace["loads"] if x["kind"] == "transition" and x["modules"])
    ld["total_ms"] *= 1.5
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(trace))
    p = run_gamevm("budget", "-c", config, "--layout", layout, "--check-trace", bad)
    assert p.returncode == 1
    assert "UNSOUND: title -> level1" in p.stdout and "OBSERVED > BOUND" in p.stdout
    assert "observed:" in p.stdout and "bound:" in p.stdout and "physics: access" in p.stdout
    # a trace from another medium is not comparable
    trace["media"] = "ps1-mednafen-1x"
    bad.write_text(json.dumps(trace))
    p = run_gamevm("budget", "-c", config, "--layout", layout, "--check-trace", bad)
    assert p.returncode == 2 and "timed with media model ps1-mednafen-1x" in p.stderr


def test_a_load_after_an_unbudgeted_head_move_is_not_blamed(example_game, target, tmp_path):
    """An explicit load (or prefetch, jump, reload) the flow graph does not budget moves the
    head; the next transition starts from a position the analysis cannot know, so its run
    is reported with that cause instead of as a violation of its bound."""
    out = example_game(target)
    config, layout = config_of(out, target), out / "layout.json"
    trace = json.loads((out / "walk.trace.json").read_text())
    i, ld = next((i, x) for i, x in enumerate(trace["loads"])
                 if x["kind"] == "transition" and x["modules"])
    mover = dict(ld, kind="load", request="boss", id=999, **{"from": None, "to": None})
    slow = dict(ld, total_ms=ld["total_ms"] * 1.5)
    trace["loads"][i:i + 1] = [mover, slow]
    moved = tmp_path / "moved.json"
    moved.write_text(json.dumps(trace))
    p = run_gamevm("budget", "-c", config, "--layout", layout, "--check-trace", moved)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "UNSOUND" not in p.stdout
    assert "not compared (the head was where an unbudgeted load left it): 1" in p.stdout
    assert "after load boss (load 999)" in p.stdout
    # without the unbudgeted load before it, the same slow run is a violation
    trace["loads"][i:i + 2] = [slow]
    moved.write_text(json.dumps(trace))
    p = run_gamevm("budget", "-c", config, "--layout", layout, "--check-trace", moved)
    assert p.returncode == 1 and "UNSOUND" in p.stdout


def test_a_stream_still_pending_at_the_end_is_reported_pending(example_game, target, tmp_path):
    """A scenario that ends before its stream completed observed no run of the stream."""
    out = example_game(target)
    config, layout = config_of(out, target), out / "layout.json"
    trace = json.loads((out / "walk.trace.json").read_text())
    streams = [x for x in trace["loads"] if x["kind"] == "stream"]
    assert streams
    for x in streams:
        x["frames"] = None
    pending = tmp_path / "pending.json"
    pending.write_text(json.dumps(trace))
    p = run_gamevm("budget", "-c", config, "--layout", layout, "--check-trace", pending)
    assert p.returncode == 0, p.stdout + p.stderr
    row = next(x for x in p.stdout.splitlines() if "streams[0]" in x).split()
    assert row[-3:] == ["pending", "0", "-"] and "None" not in p.stdout
    doc = json.loads(run_gamevm("budget", "-c", config, "--layout", layout,
                                "--check-trace", pending, "-f", "json").stdout)
    s = next(c for c in doc["comparisons"] if c["label"].startswith("streams[0]"))
    assert (s["observed"], s["pending"], s["worst_frames"]) == (0, len(streams), None)


def test_stream_completes_on_the_bound_when_the_head_is_known(example_game, target, tmp_path):
    """With one path into level1 the analyzer knows the head: its frames are exact."""
    from analysis import check_project
    from analysis.trace import check_trace
    from gamevm_build.scenario import run_scenario

    out = example_game(target)
    data = json.loads(config_of(out, target).read_text())
    data["transitions"] = [t for t in data["transitions"]
                           if (t["from"], t["to"]) in (("title", "level1"),
                                                       ("level1", "boss_room"))]
    for m in data["modules"].values():
        m["file"] = str((config_of(out, target).parent / m["file"]).resolve())
    data["resident"]["file"] = str((config_of(out, target).parent
                                    / data["resident"]["file"]).resolve())
    data["streams"][0]["cpu_slice_ms"] = 0.05      # CPU work over several frames
    data.pop("$schema", None)
    cfg = tmp_path / "one-path.json"
    cfg.write_text(json.dumps(data))
    sc = tmp_path / "sc.json"
    sc.write_text(json.dumps({"config": str(cfg), "steps": [
        {"enter": "title"}, {"enter": "level1"}, {"wait": True}, {"enter": "boss_room"}]}))
    result = run_scenario(sc)
    assert result.ok, result.log_lines()
    stream = next(r for r in result.console.timer.records if r.kind == "stream")
    bound = check_project(cfg)
    s = bound.streams[0]
    assert stream.frame_completed - stream.frame_requested == s.frames > 1
    check = check_trace(bound, [result.trace()])
    assert check.ok
    tight = {c.label: c.tightness for c in check.comparisons if c.tightness is not None}
    assert tight["streams[0] (boss during level1)"] == 1.0
    assert 1.0 <= tight["title -> level1"] < (1.001 if target == "psx" else 1.03)


def test_scenario_errors(example_game, tmp_path):
    out = example_game("psx")
    cfg = str(config_of(out, "psx"))
    cases = [
        ({"steps": []}, "steps: expected a non-empty list"),
        ({"config": cfg, "steps": [{"enter": "title", "load": "x"}]}, "expected exactly one of"),
        ({"config": cfg, "steps": [{"load": "boss", "regoin": "A"}]}, "steps[0].regoin: unknown"),
        ({"config": cfg, "steps": [{"call": "f(", "expect": 0}]}, "steps[0].call:"),
        ({"config": cfg, "steps": [{"enter": "dungeon"}]}, "no scene 'dungeon'"),
        ({"config": {"n64": cfg}, "steps": [{"advance": 1}]}, "no configuration for target"),
    ]
    for i, (doc, message) in enumerate(cases):
        path = tmp_path / f"bad{i}.json"
        path.write_text(json.dumps(doc))
        p = run_gamevm("run", path, "-t", "psx")
        assert p.returncode == 2 and message in p.stderr, (doc, p.stderr)
    # a failed expectation is exit 1, with the step and why
    path = tmp_path / "fails.json"
    path.write_text(json.dumps({"config": cfg, "steps": [
        {"enter": "title"}, {"enter": "level1"},
        {"call": "physics:fx_isqrt(144)", "expect": 13},
        {"enter": "title"}]}))
    p = run_gamevm("run", path)
    assert p.returncode == 1
    assert "FAILED at steps[2] (call): physics:fx_isqrt(144) returned 12" in p.stderr
    path.write_text(json.dumps({"config": cfg, "steps": [
        {"enter": "title"}, {"load": "level1", "region": "LevelB"},
        {"unload": "level1", "expect": "lsModuleInUse"}]}))
    p = run_gamevm("run", path, "-q")
    assert p.returncode == 1 and "status lsSuccess, expected lsModuleInUse" in p.stderr


def test_scenario_faults_and_validate_failures(example_game, tmp_path):
    from gamevm_build.validate import validate
    out = example_game("psx")
    cfg = config_of(out, "psx")
    sc = tmp_path / "crash.json"
    sc.write_text(json.dumps({"name": "crash", "config": str(cfg), "steps": [
        {"enter": "title"}, {"load": "crashy"},
        {"call": "crashy:crashy_store(0x10, 7)", "expect_fault": "write of unmapped address"},
        {"call": "crashy:crashy_say(\"hi\")", "expect": 2},
        {"call": "crashy:crashy_sum(1, 2, 3, 4, 5, 6)", "expect": 20}]}))
    result = validate("psx", out / "kernel.elf",
                      [out / "physics.elf", out / "level1.elf", out / "boss.elf"], [],
                      tmp_path / "v.xml", scenarios=[sc], search_paths=[out])
    case = result.cases[-1]
    assert (case.classname, case.name, case.ok, case.kind) == ("psx.scenario", "crash", False,
                                                               "mismatch")
    assert "steps[4] (call): crashy:crashy_sum(1, 2, 3, 4, 5, 6) returned 21" in case.message
    assert any("print: hi" in line for line in case.output)
    assert (tmp_path / "crash.trace.json").exists()


# --- property: no observed load above its static bound ---------------------------------------

_BOUNDS: dict = {}


def _bound(out, target):
    from analysis import check_project
    if target not in _BOUNDS:
        _BOUNDS[target] = check_project(config_of(out, target))
    return _BOUNDS[target]


FLOW = {"title": ["level1"], "level1": ["boss_room", "title"], "boss_room": ["level1", "title"]}


@settings(max_examples=examples(25), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_random_walks_never_exceed_the_bound(example_game, target, data):
    from analysis.trace import check_trace
    from gamevm_build.scenario import run_scenario, scenario_from_dict

    out = example_game(target)
    steps = [{"enter": "title"}]
    scene = "title"
    for _ in range(data.draw(st.integers(1, 8))):
        if data.draw(st.booleans()):
            steps.append({"advance": data.draw(st.integers(0, 90))})
        scene = data.draw(st.sampled_from(FLOW[scene]))
        steps.append({"enter": scene})
        if scene != "title" and data.draw(st.booleans()):
            steps.append({"call": f"{'level1' if scene == 'level1' else 'boss'}:"
                                  "gamevm_selftest()", "expect": 0})
    sc = scenario_from_dict({"config": str(config_of(out, target)), "steps": steps})
    result = run_scenario(sc)
    assert result.ok, result.log_lines()
    check = check_trace(_bound(out, target), [result.trace()])
    assert check.ok, check.render_text()
    for c in check.comparisons:
        assert c.tightness is None or c.tightness >= 1.0 - 1e-9


def test_modules_read_through_the_builds_disc_manifest(example_game, target):
    """GameVMDisc's layout.json is a disc manifest: names -> files on the disc, LBAs, boot head."""
    from gamevm_build.console import Console

    out = example_game(target)
    # asynchronous loads are the reference loader's (the console-side runtime's are to come)
    c = Console(target, out / "kernel.elf", manifest=out / "layout.json", loader="host")
    layout = json.loads((out / "layout.json").read_text())
    assert c.timer.drive.head == layout.get("boot_head")
    assert c.timer.positions == {n: m["lba"] for n, m in layout["modules"].items()}
    job = c.load_async("level1", kind="import")       # dispatch by name, needs first
    c.wait()
    assert job.status.name == "lsSuccess" and c.call("level1:gamevm_selftest") == 0
    if target == "psx":                                # read from the ISO image itself
        assert c.loader.by_name("level1").path.endswith("game.iso:/LEVEL1.ELF;1")
    else:                                              # read from the flat ROM image
        assert "game.rom@" in c.loader.by_name("level1").path
