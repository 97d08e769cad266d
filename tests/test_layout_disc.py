"""The example game's disc: the image read back against the manifest, the mkpsxiso project,
the LBA header, loading from the disc on the emulated console, the budget check on the
planned layout, ``gamevm layout`` and its errors (docs/layout.md).

The example is built once per session by the real ``scons`` (tests/example_game.py); its
default build lays the disc out (``env.GameVMDisc``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import run_gamevm
from example_game import example_game  # noqa: F401  (fixture)
from gamevm_build.layout import mkpsxiso
from gamevm_build.layout.iso import read_extents

CONFIG = "examples/game/gamevm.json"


@pytest.fixture(scope="module")
def game(example_game):  # noqa: F811
    """build/psx of the built example."""
    return example_game("psx")


def manifest(out: Path) -> dict:
    return json.loads((out / "layout.json").read_text())


def test_default_build_writes_the_disc_and_its_report(game):
    for name in ("game.iso", "layout.json", "layout.html", "layout.h", "layout.xml"):
        assert (game / name).stat().st_size > 0, name
    html = (game / "layout.html").read_text()
    assert "<svg" in html and "plan &divide; bound" in html and "level1" in html
    m = manifest(game)
    s = m["summary"]
    assert s["bound_ms"] <= s["cost_ms"] <= min(s["alphabetical_ms"], s["declaration_ms"])
    assert s["plan_over_bound"] <= 1.10


def test_image_read_back_matches_the_manifest(game):
    m = manifest(game)
    got = read_extents(game / "game.iso")
    files = m["files"]
    assert {f["file"] for f in files} == set(got)
    for f in files:
        lba, size, sha = got[f["file"]]
        assert lba == f["lba"] and size == f["bytes"], f
        src = game.parents[1] / f["source"]
        assert sha == hashlib.sha256(src.read_bytes()).hexdigest()
    # disc order is the plan's, and positions/boot head agree with the files
    assert [f["lba"] for f in files] == sorted(f["lba"] for f in files)
    for name, lba in m["positions"].items():
        assert m["modules"][name]["lba"] == lba
    resident = next(f for f in files if "resident" in f)
    assert m["boot_head"] == resident["lba"] + resident["sectors"]
    assert m["span"][1] == max(f["lba"] + f["sectors"] for f in files)


def test_mkpsxiso_project_follows_the_plan(game):
    text = (game / "layout.xml").read_text()
    assert mkpsxiso.validate(text) == []
    import xml.etree.ElementTree as ET

    tree = ET.fromstring(text).find("track/directory_tree")
    items = [(el.tag, el.get("name"), el.get("sectors")) for el in tree]
    files = manifest(game)["files"]
    expect = []
    for f in files:
        if f["pad_before"]:
            expect.append(("dummy", None, str(f["pad_before"])))
        expect.append(("file", f["file"], None))
    assert items == expect
    for el in tree.findall("file"):
        assert (game / el.get("source")).exists()
    # the validator catches what mkpsxiso would refuse
    assert mkpsxiso.validate("<iso_project><track type='data'><directory_tree>"
                             "<file nam='X'/><dummy sectors='0'/></directory_tree></track>"
                             "</iso_project>") == [
        "iso_project: missing attribute 'image_name'",
        "iso_project/track[0]/directory_tree[0]/file[0]: unknown attribute 'nam'",
        "iso_project/track[0]/directory_tree[0]/file[0]: <file> needs a name or a source",
        "iso_project/track[0]/directory_tree[0]/dummy[1]: sectors must be a positive whole "
        "number"]


def test_lba_header_compiles_with_the_planned_values(game, tmp_path):
    m = manifest(game)
    checks = "".join(f"_Static_assert(LBA_{f['file'].replace('.', '_')} == {f['lba']}, \"\");\n"
                     f"_Static_assert(SIZE_{f['file'].replace('.', '_')} == {f['bytes']}, \"\");\n"
                     for f in m["files"])
    src = tmp_path / "t.c"
    src.write_text(f'#include "layout.h"\n#include "layout.h"\n{checks}'
                   f"_Static_assert(GVM_SECTOR_SIZE == 2048, \"\");\n"
                   f"_Static_assert(GVM_BUNDLE_0_SECTORS > 0, \"\");\nint x;\n")
    proc = subprocess.run(["gcc", "-std=c11", "-Wall", "-Werror", "-fsyntax-only",
                           f"-I{game}", str(src)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_emulated_console_loads_the_modules_from_the_disc(game):
    from gamevm_build.play.console import Console

    c = Console("psx", game / "kernel.elf", disc=game / "game.iso")
    for name in ("physics", "level1", "boss"):
        c.load(name)
    assert c.call("level1:gamevm_selftest") == 0
    assert c.call("physics:fx_isqrt", 1000000) == 1000


def test_budget_check_uses_the_planned_layout(game):
    m = manifest(game)
    root = game.parents[1]
    p = run_gamevm("budget", "-c", CONFIG, "--layout", "build/psx/layout.json", "-f", "json",
                   cwd=root)
    assert p.returncode == 0, p.stderr
    rep = json.loads(p.stdout)
    t = {(x["from"], x["to"]): x for x in rep["transitions"]}["title", "level1"]
    assert {s["module"]: s["lba"] for s in t["steps"]} == {
        k: v for k, v in m["positions"].items() if k in ("physics", "level1")}
    assert t["heads"] != [None]                       # the head after the boot executable
    # the default build's report is the same analysis
    text = (game / "budget.txt").read_text()
    assert f"worst title -> level1 {t['worst_ms']:.1f} ms" in text


def test_layout_cli_and_xorriso(game, tmp_path):
    root = game.parents[1]
    outs = {k: tmp_path / n for k, n in (("iso", "g.iso"), ("xml", "g.xml"), ("h", "g.h"),
                                         ("json", "g.json"), ("txt", "g.txt"))}
    p = run_gamevm("layout", "-c", CONFIG, "-o", outs["iso"], "--mkpsxiso", outs["xml"],
                   "--lba-header", outs["h"], "--manifest", outs["json"], "--report",
                   outs["txt"], "--tool", "xorriso", cwd=root)
    assert p.returncode == 0, p.stderr
    assert "gamevm layout " in p.stderr and "x the bound" in p.stderr
    text = outs["txt"].read_text()
    assert text.startswith("GameVM disc layout:") and "Files (disc order)" in text
    m = json.loads(outs["json"].read_text())
    got = read_extents(outs["iso"])
    assert all(got[f["file"]][0] == f["lba"] for f in m["files"])
    # xorriso starts the data elsewhere than genisoimage; the order and gaps are the same
    g = manifest(game)
    assert [f["file"] for f in m["files"]] == [f["file"] for f in g["files"]]
    assert [f["lba"] - m["files"][0]["lba"] for f in m["files"]] == \
        [f["lba"] - g["files"][0]["lba"] for f in g["files"]]


def test_layout_errors(game, tmp_path):
    root = game.parents[1]
    iso = tmp_path / "x.iso"
    # no mastering tool: name the Debian packages
    env_path = os.environ["PATH"]
    try:
        os.environ["PATH"] = str(tmp_path)
        p = run_gamevm("layout", "-c", CONFIG, "-o", iso, cwd=root)
    finally:
        os.environ["PATH"] = env_path
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert "install the Debian package xorriso" in p.stderr
    # a module given twice with different contents (the same file twice is fine)
    p = run_gamevm("layout", "-c", CONFIG, "-o", iso, "-m", "boss=build/psx/boss.elf",
                   "-m", "boss=build/psx/level1.elf", cwd=root)
    assert p.returncode == 2
    assert ("module 'boss' is listed twice with different contents: build/psx/boss.elf and "
            "build/psx/level1.elf") in p.stderr
    p = run_gamevm("layout", "-c", CONFIG, "-o", iso, "-m", "boss=build/psx/boss.elf",
                   "-m", "boss=build/psx/boss.elf", "-q", cwd=root)
    assert p.returncode == 0 and p.stderr == ""
    # a disc too small for the files
    cfg = json.loads((root / CONFIG).read_text())
    cfg["disc"] = {"capacity": "40KB"}
    (root / "examples/game/small.json").write_text(json.dumps(cfg))
    p = run_gamevm("layout", "-c", "examples/game/small.json", "-o", iso, cwd=root)
    assert p.returncode == 1 and "does not fit the disc" in p.stderr, p.stderr
    # a module name ISO 9660 level 1 cannot hold
    cfg = json.loads((root / CONFIG).read_text())
    cfg["modules"]["level-1"] = cfg["modules"].pop("level1")
    cfg["scenes"]["level1"]["modules"] = ["level-1"]
    (root / "examples/game/badname.json").write_text(json.dumps(cfg))
    p = run_gamevm("layout", "-c", "examples/game/badname.json", "-o", iso, cwd=root)
    assert p.returncode == 2 and "'-' is not a d-character" in p.stderr, p.stderr


def test_n64_lays_out_a_rom_segment(example_game):  # noqa: F811
    out = example_game("n64")
    m = manifest(out)
    assert m["medium"] == "cartridge" and not (out / "layout.xml").exists()
    rom = (out / "game.rom").read_bytes()
    for f in m["files"]:
        data = (out.parents[1] / f["source"]).read_bytes()
        at = f["lba"] * m["sector_size"]
        assert rom[at:at + len(data)] == data
    assert "#define LBA_LEVEL1 " in (out / "layout.h").read_text()


def test_scons_disc_errors_and_options(game, tmp_path):
    """GameVMDisc in a project of its own: options, and user errors without a traceback."""
    root = tmp_path / "proj"
    root.mkdir()
    shutil.copy(game / "physics.elf", root / "physics.elf")
    shutil.copy(game / "level1.elf", root / "level1.elf")
    shutil.copy(game / "boss.elf", root / "boss.elf")
    shutil.copy(game / "kernel.elf", root / "kernel.elf")
    cfg = json.loads((game.parents[1] / CONFIG).read_text())
    for n in ("physics", "level1", "boss"):
        cfg["modules"][n]["file"] = f"{n}.elf"
    cfg["resident"]["file"] = "kernel.elf"
    cfg.pop("$schema")
    (root / "game.json").write_text(json.dumps(cfg))
    (root / "SConstruct").write_text(
        "import gamevm_build.scons\n"
        "env = Environment(tools=['default', 'gamevm'], toolpath=[gamevm_build.scons.TOOLPATH])\n"
        "env.GameVMDisc('out/disc.iso', ['game.json', 'physics.elf', 'level1.elf'],\n"
        "               GAMEVM_RESIDENT='kernel.elf', GAMEVM_DISC_REPORT='report.txt',\n"
        "               GAMEVM_DISC_HEADER='', GAMEVM_DISC_MKPSXISO='')\n"
        "env.GameVMDisc('out/bad.iso', ['game.json', 'boss.elf', 'boss2.elf'])\n"
        "env.GameVMDisc('out/tiny.iso', ['game.json', 'physics.elf', 'level1.elf'],\n"
        "               GAMEVM_RESIDENT='kernel.elf', GAMEVM_DISC_TIME_LIMIT='0.0001')\n"
        "env.GameVMDisc('out/nan.iso', ['game.json', 'physics.elf', 'level1.elf'],\n"
        "               GAMEVM_RESIDENT='kernel.elf', GAMEVM_DISC_TIME_LIMIT='nan')\n")
    (root / "boss2.elf").write_bytes((game / "boss.elf").read_bytes() + b"\0" * 4)
    from example_game import scons

    proc = scons(root, "out/disc.iso")
    assert proc.returncode == 0, proc.stdout
    assert sorted(p.name for p in (root / "out").iterdir()) == ["disc.iso", "disc.json",
                                                                 "report.txt"]
    assert "GameVM disc layout" in (root / "out" / "report.txt").read_text()
    proc = scons(root, "out/bad.iso")
    assert proc.returncode == 2 and "Traceback" not in proc.stdout
    assert "scons: *** [out/bad.iso] module 'boss' is listed twice with different contents: " \
        "boss.elf and boss2.elf" in proc.stdout, proc.stdout
    # a limit no layout can keep: built all the same, and the build says what took the time
    proc = scons(root, "-s", "out/tiny.iso")
    assert proc.returncode == 0, proc.stdout
    assert "gamevm: out/tiny.iso: note: took " in proc.stdout and \
        "over the time limit of 0.0001 s" in proc.stdout, proc.stdout
    proc = scons(root, "out/nan.iso")
    assert proc.returncode == 2 and "Traceback" not in proc.stdout
    assert "gamevm: GAMEVM_DISC_TIME_LIMIT: 'nan': expected a time in seconds" in proc.stdout
    assert not (root / "out" / "nan.iso").exists()


def test_iso_image_is_byte_reproducible(tmp_path):
    import time
    from gamevm_build.layout.iso import master_iso
    src = tmp_path / "mod.elf"
    src.write_bytes(b"\x7fELF" + bytes(range(256)) * 9)
    images = []
    for i in range(2):
        out = tmp_path / f"game{i}.iso"
        assert master_iso([("MOD.ELF", src, 0), ("OTHER.ELF", src, 1)], out) == "xorriso"
        images.append(out.read_bytes())
        time.sleep(1.1)           # a tool that stamps the clock would differ now
    assert images[0] == images[1]


@pytest.mark.parametrize("tool", ["xorriso", "genisoimage"])
def test_first_data_sector_is_where_the_tool_puts_the_data(tmp_path, tool):
    """The plan is placed at the tool's real first data sector (no re-evaluation after
    mastering): it depends on the tool and on every name's length."""
    import shutil as sh

    from gamevm_build.layout.iso import estimate_base, first_data_sector, master_iso
    if sh.which(tool) is None:
        pytest.skip(f"{tool} not installed")
    names = [f"GEO{i:04d}.ELF" for i in range(300)]
    src = tmp_path / "m.bin"
    src.write_bytes(b"x" * 3000)
    master_iso([(n, src, 0) for n in names], tmp_path / "d.iso", tool=tool)
    real = min(lba for lba, _s, _h in read_extents(tmp_path / "d.iso").values())
    assert first_data_sector(names, tool=tool) == real
    if tool == "xorriso":
        assert estimate_base(len(names)) != real     # what the old guess got wrong


def test_layout_time_limit_bounds_the_whole_command(tmp_path):
    """A generated dense project (module files) with a tiny limit: `gamevm layout` ends
    within a generous multiple of it, start-up, mastering and the cross-check included.
    Measured as the command's CPU time, which other jobs on the machine do not stretch as
    they stretch its wall time (the search's clock is the wall: under load it does less
    work, never more)."""
    import resource
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    from bench_layout_cli import command, write_project

    cfg = write_project(tmp_path / "p", 40, 400)
    out = tmp_path / "out"
    out.mkdir()
    limit = 0.5
    def children_cpu() -> float:
        use = resource.getrusage(resource.RUSAGE_CHILDREN)
        return use.ru_utime + use.ru_stime

    before = children_cpu()
    proc = subprocess.run([sys.executable, *command(cfg, out, limit)], capture_output=True,
                          text=True)
    cpu = children_cpu() - before
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["disc.iso", "layout.html", "layout.json"]
    assert cpu < 8 * limit, f"{cpu:.2f} s of CPU for --time-limit {limit}"


def test_master_iso_runs_work_meanwhile_and_reports_the_tool_first(tmp_path):
    """The analyzer's cross-check runs while the tool masters (`meanwhile`): its error
    comes after the tool ends and leaves no image; a failing tool is reported first."""
    from gamevm_build.errors import LayoutError, ToolchainError
    from gamevm_build.layout.iso import master_iso

    src = tmp_path / "mod.elf"
    src.write_bytes(b"\x7fELF" + bytes(300))
    calls = []
    out = tmp_path / "a.iso"
    assert master_iso([("MOD.ELF", src, 0)], out, tool="xorriso",
                      meanwhile=lambda: calls.append(1)) == "xorriso"
    assert calls == [1] and out.stat().st_size > 0

    def disagree():
        raise LayoutError("the check disagrees")

    out = tmp_path / "b.iso"
    with pytest.raises(LayoutError, match="the check disagrees"):
        master_iso([("MOD.ELF", src, 0)], out, tool="xorriso", meanwhile=disagree)
    assert not out.exists()
    # a volume id longer than ISO 9660's 32 characters: xorriso itself refuses it
    with pytest.raises(ToolchainError, match=r"xorriso failed \(exit 5\).*-volid"):
        master_iso([("MOD.ELF", src, 0)], out, tool="xorriso", volume_id="V" * 40,
                   meanwhile=disagree)
    assert not out.exists()


def test_a_layout_over_its_limit_says_what_took_the_time(tmp_path):
    """Work no limit shortens (reading, the orders' evaluations, mastering, the check)
    can outlast a tiny limit: the command still succeeds and says so, even with -q."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    from bench_layout_cli import command, write_project

    cfg = write_project(tmp_path / "p", 40, 400)
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.run([sys.executable, *command(cfg, out, 0.01)], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
    note = [line for line in proc.stderr.splitlines() if "note:" in line]
    assert len(note) == 1, proc.stderr
    assert re.search(r"gamevm layout: note: took \d+\.\d s, over the time limit of 0\.01 s: "
                     r"reading the project \d+\.\d s, evaluating the plan and the naive "
                     r"orders \d+\.\d s, mastering, the analyzer's cross-check and the "
                     r"outputs \d+\.\d s: work no limit shortens \(the search made 0 "
                     r"move\(s\)\); a larger --time-limit leaves it time", note[0]), note[0]


def test_strip_disc_leaves_the_configuration_alone():
    from gamevm_build.layout.problem import strip_disc

    data = {"disc": {"positions": {"a": 30}, "layout": "l.json", "boot_head": 20,
                     "capacity": 100}, "modules": {"a": {"file": "a.elf"}}}
    before = json.dumps(data, sort_keys=True)
    assert strip_disc(data) == {"disc": {"capacity": 100}, "modules": {"a": {"file": "a.elf"}}}
    assert json.dumps(data, sort_keys=True) == before


def test_layout_outputs_are_byte_identical_run_to_run(game, tmp_path):
    """The same inputs give the same files: the manifest (a build input of the budget
    check) and the reports carry no run time (the optimiser's seconds used to be in them)."""
    root = game.parents[1]
    names = ("g.iso", "g.json", "g.html", "g.txt")
    runs = []
    for _ in range(2):
        p = run_gamevm("layout", "-c", CONFIG, "-o", tmp_path / "g.iso", "--manifest",
                       tmp_path / "g.json", "--report", tmp_path / "g.html", "-q", cwd=root)
        assert p.returncode == 0, p.stderr
        p = run_gamevm("layout", "-c", CONFIG, "-o", tmp_path / "g.iso", "--report",
                       tmp_path / "g.txt", "-q", cwd=root)
        assert p.returncode == 0, p.stderr
        runs.append({n: (tmp_path / n).read_bytes() for n in names})
    assert runs[0] == runs[1]
    assert b"optimiser_s" not in runs[0]["g.json"]


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "1e400", "five"])
def test_a_time_limit_must_be_a_finite_number_of_seconds(game, value):
    """--time-limit and GAMEVM_DISC_TIME_LIMIT refuse NaN, infinities, negatives and words
    (exit 2, naming the option), writing nothing; 2**64 seconds is a limit like any other."""
    root = game.parents[1]
    out = game / "tl" / "x.iso"
    p = run_gamevm("layout", "-c", CONFIG, "-o", out, f"--time-limit={value}", cwd=root)
    assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
    assert f"argument --time-limit: '{value}': expected a time in seconds, a finite number " \
        ">= 0" in p.stderr
    assert not out.parent.exists()
    from gamevm_build.commands.layout import time_limit_seconds
    assert time_limit_seconds(str(2 ** 64)) == 2.0 ** 64 and time_limit_seconds("0") == 0.0
