"""Scenarios on the console-side C runtime (``gamevm run --loader target``, docs/runtime.md).

Every example scenario plays on every console with the runtime linked into the
example's resident, timed by the emulated media device and CPU, and its trace is
checked against the static bounds exactly as the reference loader's is.  Where
the runtime and the analysis still disagree the tests say so, with the measured
figures (``xfail(strict=True)``: they fail once the gap closes, so the marks go).
"""

from __future__ import annotations

import json

import pytest

from conftest import ALL_TARGETS, run_gamevm
from example_game import example_game  # noqa: F401  (fixture)

SCENARIOS = ("walk", "stream", "runtime")
GOAL = 1.15


def config_of(out, target):
    name = "gamevm.json" if target == "psx" else f"gamevm-{target}.json"
    return out.parents[1] / "examples" / "game" / name


def scenario_path(out, name):
    return out.parents[1] / "examples" / "game" / "scenarios" / f"{name}.json"


@pytest.fixture(scope="module")
def runs(example_game):
    """``runs(target, loader, positions) -> {scenario: trace}``, each played once."""
    from gamevm_build.play.scenario import run_scenario
    cache: dict = {}

    def get(target: str, loader: str, positions: str = "layout") -> dict:
        key = (target, loader, positions)
        if key not in cache:
            out = example_game(target)
            layout = out / "layout.json" if positions == "layout" else None
            traces = {}
            for name in SCENARIOS:
                r = run_scenario(scenario_path(out, name), target=target, loader=loader,
                                 layout=layout)
                assert r.ok, "\n".join(r.log_lines())
                traces[name] = r.trace()
            cache[key] = traces
        return cache[key]
    return get


def checked(example_game, target, traces, positions="layout"):
    from gamevm_build.analysis import check_project
    from gamevm_build.analysis.trace import check_trace
    out = example_game(target)
    layout = str(out / "layout.json") if positions == "layout" else None
    return check_trace(check_project(config_of(out, target), layout_file=layout),
                       list(traces.values()))


def loads(trace) -> list:
    """What a trace loaded, in order: kind, scenes, stream, status, modules."""
    return [(ld["kind"], ld.get("from"), ld.get("to"), ld.get("stream"), ld["status"],
             sorted(m["module"] for m in ld["modules"]))
            for ld in trace["loads"] if ld["modules"] or ld["status"] != "lsSuccess"]


@pytest.mark.parametrize("target", ALL_TARGETS)
def test_every_example_scenario_runs_on_the_target_runtime(runs, target):
    target_runs, host_runs = runs(target, "target"), runs(target, "host")
    for name in SCENARIOS:
        tr, host = target_runs[name], host_runs[name]
        assert tr["ok"] and tr["loader"] == "target" and host["loader"] == "host"
        assert set(tr) == set(host)                    # the same document
        transition = next(ld for ld in tr["loads"] if ld["modules"])
        assert set(transition) == set(next(ld for ld in host["loads"] if ld["modules"]))
        host_keys = set(next(ld for ld in host["loads"] if ld["modules"])["modules"][0])
        for m in transition["modules"]:
            assert set(m) - {"init_measured", "evicted"} == host_keys - {"init_measured",
                                                                          "evicted"}
            assert m["media_ms"] > 0 and m["cpu_ms"] > 0 and m["region"] and m["base"]
            assert set(m["cpu"]) <= {"load", "init"}
            assert [p["phase"] for p in m["phases"]][0] in ("seek", "read")
            ends = [p["end_ms"] for p in m["phases"]]
            assert ends == sorted(ends)
        assert sum(m["total_ms"] for m in transition["modules"]) == pytest.approx(
            transition["total_ms"], abs=1e-5)
    level1 = next(m for ld in target_runs["walk"]["loads"] for m in ld["modules"]
                  if m["module"] == "level1")
    assert level1["init_measured"]["instructions"] > 0 and level1["cpu"]["init"] > 0


@pytest.mark.parametrize("target", ALL_TARGETS)
def test_host_and_target_load_the_same_modules_with_the_same_statuses(runs, target):
    for name in SCENARIOS:
        assert loads(runs(target, "target")[name]) == loads(runs(target, "host")[name]), name


@pytest.mark.parametrize("target", ["psx", "gba"])
def test_loads_target_code_makes_during_a_call_are_recorded_alike(example_game, target,
                                                                  tmp_path):
    """kernel_selftest() LoadModule()s level1 (physics first) and unloads it: on both
    loaders a timed ``load`` record per call that read something, none for a missing file."""
    from gamevm_build.play.scenario import run_scenario, scenario_from_dict
    out = example_game(target)
    steps = [{"enter": "title"}, {"call": "kernel_selftest()", "expect": 0},
             {"load": "physics"}, {"call": "kernel_selftest()", "expect": 0},
             {"call": 'gvm_boot_level("nosuch", "x")'}, {"load": "nosuch",
                                                          "expect": "lsFileNotFound"},
             {"expect": {"refcount": {"physics": 1}, "not_loaded": ["level1"]}}]
    traces = {}
    for loader in ("host", "target"):
        sc = scenario_from_dict({"config": str(config_of(out, target)), "steps": steps},
                                path=tmp_path / "calls.json")
        r = run_scenario(sc, loader=loader)
        assert r.ok, "\n".join(r.log_lines())
        traces[loader] = r.trace()
    seen = loads(traces["target"])
    assert seen == loads(traces["host"])
    assert ("load", None, None, None, "lsSuccess", ["level1", "physics"]) == seen[0]
    assert ("load", None, None, None, "lsSuccess", ["physics"]) in seen
    assert seen[-1] == ("load", None, None, None, "lsSuccess", ["level1"])
    assert all(ld["request"] != "nosuch" for ld in traces["target"]["loads"])
    for host, tgt in zip(traces["host"]["loads"][1:], traces["target"]["loads"][1:]):
        assert tgt["step"] == host["step"] and tgt["total_ms"] > 0.9 * host["media_ms"]


@pytest.mark.parametrize("positions", ["config", "layout"])
@pytest.mark.parametrize("target", ALL_TARGETS)
def test_no_load_on_the_runtime_is_slower_than_its_bound(example_game, runs, target,
                                                         positions, request):
    check = checked(example_game, target, runs(target, "target", positions), positions)
    assert check.ok, check.render_text()
    assert check.summary_line().startswith("trace check ok")


@pytest.mark.parametrize("target", ALL_TARGETS)
def test_transition_bounds_are_within_the_goal_of_what_the_runtime_takes(example_game, runs,
                                                                         target):
    check = checked(example_game, target, runs(target, "target"))
    seen = [c for c in check.comparisons if c.kind != "stream" and c.tightness is not None]
    assert any(c.label == "title -> level1" for c in seen)
    for c in seen:
        assert c.tightness <= GOAL, f"{c.label}: {c.bound_ms:.3f} / {c.worst.observed_ms:.3f}"


@pytest.mark.parametrize("target", ALL_TARGETS)
def test_a_stream_does_its_cpu_work_in_slices(example_game, runs, target):
    """With the example kernel's clock, the runtime works on a stream at most its
    cpu_slice_ms a frame (over by one step at most), from the frame that finds its read
    done, one slice a frame, and completes in the frame of its last slice: the frame the
    analyzer bounds (the example's stream is one file, requested at a frame boundary)."""
    import math
    from gamevm_build.analysis import check_project
    out = example_game(target)
    bound = check_project(config_of(out, target), layout_file=str(out / "layout.json"))
    s = bound.streams[0]
    fps = runs(target, "target")["walk"]["frame_rate"]
    for name in ("walk", "stream"):
        ld = next(ld for ld in runs(target, "target")[name]["loads"] if ld["kind"] == "stream")
        read_end = max(p["end_ms"] for m in ld["modules"] for p in m["phases"]
                       if p["phase"] == "read")
        # (the request's own frame opens the file and starts the read: no module work)
        frames = [sl["frame"] for sl in ld["slices"] if sl["start_ms"] >= read_end]
        assert frames[0] == math.ceil(read_end * fps / 1e3 - 1e-9), name
        assert frames == list(range(frames[0], frames[0] + len(frames))), name
        assert frames[-1] == ld["frame_completed"]
        # over by a step at most: the 68000's slowest, binding and placing the boss
        # (P_LINK), is 13.4k instructions = 1.07 ms at 12.5 MHz
        for sl in ld["slices"]:
            assert sl["end_ms"] - sl["start_ms"] <= s.cpu_slice_ms + 1.25, (name, sl)
        assert ld["frames"] <= s.frames, (name, ld["frames"], s)


@pytest.mark.parametrize("target", ALL_TARGETS)
def test_stream_bounds_are_within_the_goal_of_what_the_runtime_takes(example_game, runs,
                                                                     target, request):
    check = checked(example_game, target, runs(target, "target"))
    stream = next(c for c in check.comparisons if c.kind == "stream")
    assert stream.tightness <= GOAL


def test_loader_option_of_gamevm_run(example_game, tmp_path):
    """Default: the runtime the resident contains; --loader host: the reference loader."""
    out = example_game("psx")
    for loader, args in (("target", ()), ("host", ("--loader", "host")),
                         ("target", ("--loader", "target"))):
        trace = tmp_path / f"{loader}.json"
        p = run_gamevm("run", scenario_path(out, "walk"), "-t", "psx", "--trace", trace, *args)
        assert p.returncode == 0, p.stdout + p.stderr
        assert f", {loader} loader" in p.stdout.splitlines()[0]
        assert json.loads(trace.read_text())["loader"] == loader
        check = run_gamevm("budget", "-c", config_of(out, "psx"), "--check-trace", trace)
        assert check.returncode == 0, check.stdout + check.stderr
        assert "trace check ok" in check.stdout


def test_loader_target_needs_a_resident_with_the_runtime(example_game, tmp_path):
    """A resident linked without the runtime: --loader target is a usage error (exit 2, no
    trace written); the default plays on the reference loader."""
    out = example_game("psx")
    kernel = out.parents[1] / "examples" / "game" / "kernel"
    stub = tmp_path / "noloader.c"
    stub.write_text("int gvm_loader_start(void) { return 0; }\n")
    resident = tmp_path / "kernel-host.elf"
    p = run_gamevm("resident", "-t", "psx", "-o", resident, "-I", kernel.parent / "include",
                   "--modules", *(out / f"{n}.elf" for n in ("physics", "level1", "boss")),
                   *sorted(s for s in kernel.glob("*.c") if s.name != "loader.c"), stub,
                   kernel / "start.S")
    assert p.returncode == 0, p.stderr
    trace = tmp_path / "t.json"
    p = run_gamevm("run", scenario_path(out, "walk"), "-t", "psx", "--resident", resident,
                   "--loader", "target", "--trace", trace)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert "--loader target needs a resident linked with the console-side runtime" in p.stderr
    assert not trace.exists()
    p = run_gamevm("run", scenario_path(out, "walk"), "-t", "psx", "--resident", resident, "-q")
    assert p.returncode == 0, p.stderr


def test_a_host_only_policy_is_refused_on_the_runtime(example_game, tmp_path):
    """policy.stale "reload" needs GameVMSetStale in the resident's runtime, which the
    example kernel does not link: an error with --loader target that says how to link it,
    and the default then plays on the reference loader (tests/test_target_runtime_reload.py
    plays it on a resident that links it)."""
    out = example_game("psx")
    sc = tmp_path / "reload.json"
    sc.write_text(json.dumps({"config": str(config_of(out, "psx")),
                              "policy": {"stale": "reload"},
                              "steps": [{"enter": "title"}, {"enter": "level1"}]}))
    p = run_gamevm("run", sc, "--loader", "target", "-q")
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert 'policy.stale: "reload" needs GameVMSetStale' in p.stderr
    assert "--keep GameVMSetStale" in p.stderr
    p = run_gamevm("run", sc)
    assert p.returncode == 0 and ", host loader" in p.stdout.splitlines()[0], p.stderr
