"""The budget analyzer charges each emission format its real relocations (issue 18).

examples/emission/gamevm.json loads the physics step in one format per scene; ``gamevm
budget`` (its JSON report) must charge each module the relocations the module really
has, so TTC, which relocates its token table rather than its threads, costs the loader
less CPU than DTC and ITC (and, on MIPS, STC), as bench/bench_emission.py's ``load
reloc`` column shows.
"""

from __future__ import annotations

import json
import sys

import pytest

from conftest import REPO, run_gamevm
from gamevm_build.link.module import read_module

sys.path.insert(0, str(REPO / "bench"))
import bench_emission  # noqa: E402

CONFIG = REPO / "examples" / "emission" / "gamevm.json"
FORMATS = ("stc", "dtc", "itc", "ttc")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """The example's modules built for the PlayStation and the budget's JSON report."""
    files = bench_emission.build_example(tmp_path_factory.mktemp("emission-budget"), "psx")
    args = ["budget", "--config", CONFIG, "--resident", files["kernel"], "-f", "json"]
    for name in (*FORMATS, "native"):
        args += ["--module", f"step_{name}={files[name]}"]
    proc = run_gamevm(*args)
    assert proc.returncode == 0, proc.stderr
    steps = {s["module"]: s for t in json.loads(proc.stdout)["transitions"] for s in t["steps"]}
    return files, steps


def test_every_format_is_charged_its_own_relocations(report):
    files, steps = report
    assert set(steps) == {f"step_{f}" for f in (*FORMATS, "native")}
    for name in (*FORMATS, "native"):
        step = steps[f"step_{name}"]
        assert step["relocations"] == len(read_module(files[name]).relocations), name
    # what the bench's "load reloc" column reports is the analyzer's own charge
    rows = {r["format"]: r for r in bench_emission.measure("psx")}
    for name in (*FORMATS, "native"):
        assert steps[f"step_{name}"]["cpu"]["relocate"] == pytest.approx(
            rows[name]["relocate_us"] / 1000, abs=0.001), name


def test_ttc_costs_the_loader_least_relocation_time_on_psx(report):
    _, steps = report
    reloc = {f: steps[f"step_{f}"]["relocations"] for f in FORMATS}
    relocate = {f: steps[f"step_{f}"]["cpu"]["relocate"] for f in FORMATS}
    assert reloc["ttc"] < reloc["stc"] and reloc["ttc"] < reloc["dtc"] <= reloc["itc"]
    assert relocate["ttc"] < relocate["dtc"] <= relocate["itc"]
    assert relocate["ttc"] < relocate["stc"]           # MIPS STC: a relocation per jal
    # TTC relocates about a quarter of DTC's, and its whole load costs less CPU too
    assert relocate["ttc"] < 0.4 * relocate["dtc"]
    assert steps["step_ttc"]["cpu_ms"] < steps["step_dtc"]["cpu_ms"]
