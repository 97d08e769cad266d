"""Hostile input through the real ``gamevm`` front end (issue 13; docs/cli.md, "Hostile input").

Odd files (directories, FIFOs, devices, empty, oversized, symlink loops) in
every input slot; outputs that are directories, FIFOs, sockets, devices or
symlinks; outputs a configuration names outside its project; mutated
configurations, scenarios, disc manifests and ISO images; the SCons builders.

Each case runs ``gamevm_build.cli.main`` in-process under an alarm and is
classified: exit 0 / 1 / 2, ``traceback`` (an exception escaped the CLI) or
``hang`` (the alarm fired).  The goal is no traceback, no hang, no file
written outside the outputs and no module silently taken from elsewhere.

The mutation drivers are derandomized (seed ``GAMEVM_FUZZ_SEED``, default 0)
and sized by the Hypothesis profile (``examples()``, 20 times more with
``--hypothesis-profile=explore``); bench/README.md ("Hostile input") has the
exploration command.  ``-m fuzz`` selects them.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import random
import shutil
import signal
import socket
import stat
from collections import Counter
from pathlib import Path

import pytest

from conftest import REPO, examples
from example_game import example_game, scons  # noqa: F401  (fixture)

SEED = int(os.environ.get("GAMEVM_FUZZ_SEED", "0"))


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang()


def gamevm(*argv, timeout: float = 30.0) -> tuple[str, str, str]:
    """``(outcome, stdout, stderr)`` of ``gamevm ARGV`` run in-process.

    outcome: ``"0"``, ``"1"``, ``"2"`` (exit status), ``"traceback"`` or ``"hang"``.
    """
    from gamevm_build.cli import main

    out, err = io.StringIO(), io.StringIO()
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                outcome = str(main([str(a) for a in argv]))
            except SystemExit as exc:      # argparse usage errors
                outcome = str(exc.code)
            except Hang:
                outcome = "hang"
            except Exception as exc:       # noqa: BLE001  an escaped exception is the finding
                outcome = "traceback"
                escaped = f"{type(exc).__name__}: {str(exc)[:200]}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    if outcome == "traceback":
        return outcome, out.getvalue(), escaped
    return outcome, out.getvalue(), err.getvalue()


def files_under(root: Path) -> set:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.fixture
def project(example_game, tmp_path):
    """A copy of the example's psx project in ``tmp_path/project`` whose paths are absolute
    (into the shared build, which no case writes), and an ``outside`` directory no case
    may write."""
    out = example_game("psx")
    game = out.parents[1] / "examples" / "game"
    proj = tmp_path / "project"
    proj.mkdir()
    cfg = json.loads((game / "gamevm.json").read_text())
    cfg.pop("$schema", None)
    cfg["resident"]["file"] = str(out / "kernel.elf")
    for name, spec in cfg["modules"].items():
        spec["file"] = str(out / f"{name}.elf")
    (proj / "gamevm.json").write_text(json.dumps(cfg, indent=1))
    walk = json.loads((game / "scenarios" / "walk.json").read_text())
    walk["config"] = "gamevm.json"
    (proj / "walk.json").write_text(json.dumps(walk, indent=1))
    (tmp_path / "outside").mkdir()
    return {"dir": proj, "config": proj / "gamevm.json", "scenario": proj / "walk.json",
            "build": out, "outside": tmp_path / "outside", "cfg": cfg, "walk": walk}


def odd_files(root: Path) -> dict:
    """kind -> path of a file no command can use as input."""
    root.mkdir(exist_ok=True)
    odd = {"directory": root / "adir", "fifo": root / "afifo", "device": Path("/dev/zero"),
           "empty": root / "empty.elf", "oversized": root / "huge.elf",
           "symlink loop": root / "loop.elf", "missing": root / "missing.elf"}
    odd["directory"].mkdir(exist_ok=True)
    if not odd["fifo"].exists():
        os.mkfifo(odd["fifo"])
    odd["empty"].write_bytes(b"")
    with open(odd["oversized"], "wb") as f:       # sparse: costs no disk
        f.truncate((64 << 20) + 1)
    if not odd["symlink loop"].is_symlink():
        os.symlink(odd["symlink loop"].name, odd["symlink loop"])
    return odd


# ---------------------------------------------------------------------------- odd files

def input_slots(p: dict, tmp: Path) -> dict:
    """slot name -> argv with ``{F}`` where the odd file goes."""
    b, cfg, sc = p["build"], p["config"], p["scenario"]
    o = tmp / "o"
    return {
        "inspect MODULE": ["inspect", "{F}"],
        "prelink MODULE": ["prelink", "{F}", "--base", "0x80100000", "--resident",
                           b / "kernel.elf", "-o", o / "x.bin"],
        "prelink --resident": ["prelink", b / "physics.elf", "--base", "0x80100000",
                               "--resident", "{F}", "-o", o / "x.bin"],
        "registry MODULE": ["registry", "-t", "psx", "-o", o / "r.c", "{F}"],
        "budget -c": ["budget", "-c", "{F}"],
        "budget -m": ["budget", "-c", cfg, "-m", "boss={F}"],
        "budget --resident": ["budget", "-c", cfg, "--resident", "{F}"],
        "budget --layout": ["budget", "-c", cfg, "--layout", "{F}"],
        "budget --check-trace": ["budget", "-c", cfg, "--check-trace", "{F}"],
        "layout -c": ["layout", "-c", "{F}", "-o", o / "x.iso"],
        "layout -m": ["layout", "-c", cfg, "-o", o / "x.iso", "-m", "boss={F}"],
        "run SCENARIO": ["run", "{F}", "-q"],
        "run --config": ["run", sc, "--config", "{F}", "-q"],
        "run --layout": ["run", sc, "--layout", "{F}", "-q"],
        "call --resident": ["call", "-t", "psx", "--resident", "{F}", 'gvm_strlen("a")'],
        "call --disc": ["call", "-t", "psx", "--resident", b / "kernel.elf", "--disc", "{F}",
                        "--load", "boss"],
        "call --load": ["call", "-t", "psx", "--resident", b / "kernel.elf", "--load", "{F}"],
    }


@pytest.mark.fuzz
def test_odd_files_in_every_input_slot(project, tmp_path):
    """A directory, FIFO, device, empty, oversized, looping or missing file in any input
    slot: exit 1 or 2 with a message, never a traceback, a hang or gigabytes read."""
    odd = odd_files(tmp_path / "odd")
    counts: Counter = Counter()
    bad = []
    for slot, argv in input_slots(project, tmp_path).items():
        for kind, path in odd.items():
            args = [a.replace("{F}", str(path)) if isinstance(a, str) else a for a in argv]
            outcome, _out, err = gamevm(*args, timeout=20)
            counts[outcome] += 1
            if outcome not in ("1", "2") or "gamevm: error:" not in err:
                bad.append((slot, kind, outcome, err[-300:]))
    assert not bad, bad
    assert not (tmp_path / "o").exists()              # no command wrote its output
    print(f"odd input files: {sum(counts.values())} cases, outcomes {dict(sorted(counts.items()))}")


@pytest.mark.parametrize("kind", ["device", "directory"])
def test_run_names_an_unusable_module_file_instead_of_substituting(project, kind):
    """The config names boss as /dev/zero or a directory: gamevm run fails naming it, and
    does not load build/psx/boss.elf from the search path instead."""
    cfg = json.loads(json.dumps(project["cfg"]))
    cfg["modules"]["boss"]["file"] = "/dev/zero" if kind == "device" else str(project["dir"])
    (project["dir"] / "gamevm.json").write_text(json.dumps(cfg))
    outcome, out, err = gamevm("run", project["scenario"], "-q")
    assert outcome == "2", err
    assert ("/dev/zero: module 'boss' is a device" if kind == "device" else
            f"{project['dir']}: module 'boss' is a directory") in err
    # budget and run agree about the same config
    assert gamevm("budget", "-c", project["config"])[0] == "2"


def test_run_does_not_substitute_a_missing_module_file(project):
    cfg = json.loads(json.dumps(project["cfg"]))
    cfg["modules"]["boss"]["file"] = str(project["dir"] / "boss.elf")       # not built
    (project["dir"] / "gamevm.json").write_text(json.dumps(cfg))
    outcome, out, err = gamevm("run", project["scenario"])
    assert outcome == "1"
    assert f"{project['dir'] / 'boss.elf'} does not exist" in out + err


def test_read_input_refuses_without_blocking_or_reading(tmp_path):
    from gamevm_build.errors import InputError
    from gamevm_build.fileutil import MAX_INPUT_BYTES, read_input

    odd = odd_files(tmp_path)
    for kind in ("directory", "fifo", "device", "oversized"):
        with pytest.raises(InputError, match="not a regular file|more than the 64 MiB"):
            read_input(odd[kind], "module")
    assert read_input(odd["empty"]) == b""
    with pytest.raises(FileNotFoundError):
        read_input(odd["missing"])
    assert MAX_INPUT_BYTES == 64 << 20


# ------------------------------------------------------------------------------ outputs

def output_slots(p: dict) -> dict:
    """slot -> argv with ``{O}`` where the output path goes."""
    b, cfg, sc = p["build"], p["config"], p["scenario"]
    return {
        "budget -o": ["budget", "-c", cfg, "-o", "{O}"],
        "prelink -o": ["prelink", b / "physics.elf", "--base", "0x80100000", "--resident",
                       b / "kernel.elf", "-o", "{O}"],
        "registry -o": ["registry", "-t", "psx", "-o", "{O}", b / "physics.elf"],
        "run --trace": ["run", sc, "-q", "--trace", "{O}"],
        "layout -o": ["layout", "-c", cfg, "-o", "{O}", "--time-limit", "0.2"],
        "layout --report": ["layout", "-c", cfg, "-o", p["dir"] / "ok.iso", "--report", "{O}",
                            "--time-limit", "0.2"],
        "layout --manifest": ["layout", "-c", cfg, "-o", p["dir"] / "ok.iso", "--manifest",
                              "{O}", "--time-limit", "0.2"],
    }


def odd_outputs(root: Path) -> dict:
    root.mkdir(exist_ok=True)
    odd = {"directory": root / "outdir", "fifo": root / "outfifo", "socket": root / "outsock"}
    odd["directory"].mkdir()
    os.mkfifo(odd["fifo"])
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(odd["socket"]))
    s.close()
    try:                                  # a real device node, in the test's directory
        os.mknod(root / "outdev", stat.S_IFCHR | 0o600, os.makedev(1, 3))
        odd["device"] = root / "outdev"
    except PermissionError:
        pass
    return odd


@pytest.mark.fuzz
def test_outputs_never_replace_what_is_not_a_regular_file(project, tmp_path):
    odd = odd_outputs(tmp_path / "outs")
    modes = {k: os.lstat(v).st_mode for k, v in odd.items()}
    counts: Counter = Counter()
    bad = []
    for slot, argv in output_slots(project).items():
        for kind, path in odd.items():
            outcome, _out, err = gamevm(*[str(path) if a == "{O}" else a for a in argv])
            if outcome != "2" or str(path) not in err or "Traceback" in err:
                bad.append((slot, kind, outcome, err[-300:]))
            assert stat.S_IFMT(os.lstat(path).st_mode) == stat.S_IFMT(modes[kind]), (slot, kind)
            counts[outcome] += 1
    assert not bad, bad
    print(f"odd outputs: {sum(counts.values())} cases, outcomes {dict(sorted(counts.items()))}")
    # nothing was written: no image beside the failed --report / --manifest, no temporaries
    assert sorted(files_under(project["dir"])) == ["gamevm.json", "walk.json"]
    assert files_under(tmp_path / "outs") == {p.name for p in odd.values()}


def test_directory_output_is_a_clear_error(project, tmp_path):
    outcome, _out, err = gamevm("budget", "-c", project["config"], "-o", tmp_path)
    assert outcome == "2"
    assert f"{tmp_path}: --output names a directory; give a file name" in err


def test_command_line_output_through_a_symlink_replaces_the_link(project, tmp_path):
    """``-o`` is the user's: it may go anywhere, and a symlink there is replaced, not
    written through (its target keeps its bytes)."""
    target = project["outside"] / "keep.txt"
    target.write_text("keep")
    link = tmp_path / "report.txt"
    link.symlink_to(target)
    assert gamevm("budget", "-c", project["config"], "-o", link, "-q")[0] == "0"
    assert target.read_text() == "keep" and not link.is_symlink()
    anywhere = project["outside"] / "deep" / "report.txt"
    assert gamevm("budget", "-c", project["config"], "-o", anywhere, "-q")[0] == "0"
    assert anywhere.exists()


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_outputs_honour_the_umask(project, tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        assert gamevm("budget", "-c", project["config"], "-o", tmp_path / "b.txt", "-q")[0] \
            == "0"
        assert gamevm("prelink", project["build"] / "physics.elf", "--base", "0x80100000",
                      "--resident", project["build"] / "kernel.elf", "-o",
                      tmp_path / "p.bin", "-q")[0] == "0"
    finally:
        os.umask(old)
    for name in ("b.txt", "p.bin"):
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == mode


@pytest.mark.parametrize("layout", ["ABS", "../outside/layout.json", "link/layout.json"])
def test_config_named_outputs_stay_in_the_project(project, layout):
    """disc.layout names what gamevm layout writes: absolute paths, ../ and symlinks out of
    the project are errors naming the key; nothing is written (not even the image)."""
    proj, outside = project["dir"], project["outside"]
    (proj / "link").symlink_to(outside)
    cfg = json.loads(json.dumps(project["cfg"]))
    cfg["disc"] = {"layout": str(outside / "layout.json") if layout == "ABS" else layout}
    project["config"].write_text(json.dumps(cfg))
    before = files_under(proj)
    outcome, _out, err = gamevm("layout", "-c", project["config"], "-o", proj / "game.iso",
                                "--time-limit", "0.2")
    assert outcome == "2", err
    assert "disc.layout" in err and "outside the project directory" in err
    assert "--manifest FILE" in err
    assert files_under(outside) == set() and files_under(proj) == before
    # inside the project it is written, and the command line may send it anywhere
    cfg["disc"] = {"layout": "sub/layout.json"}
    project["config"].write_text(json.dumps(cfg))
    assert gamevm("layout", "-c", project["config"], "-o", proj / "game.iso",
                  "--time-limit", "0.2", "-q")[0] == "0"
    assert (proj / "sub" / "layout.json").exists()
    assert gamevm("layout", "-c", project["config"], "-o", proj / "game.iso", "--manifest",
                  outside / "m.json", "--time-limit", "0.2", "-q")[0] == "0"
    assert (outside / "m.json").exists()


def test_config_named_layout_that_is_a_directory(project):
    cfg = json.loads(json.dumps(project["cfg"]))
    cfg["disc"] = {"layout": "adir"}
    (project["dir"] / "adir").mkdir()
    project["config"].write_text(json.dumps(cfg))
    outcome, _out, err = gamevm("layout", "-c", project["config"], "-o",
                                project["dir"] / "game.iso", "--time-limit", "0.2")
    assert outcome == "2" and "adir: manifest output names a directory" in err
    assert sorted(files_under(project["dir"])) == ["adir", "gamevm.json", "walk.json"]


def test_a_failing_layout_leaves_no_outputs(project, monkeypatch):
    """The report fails after the image was mastered and verified: no image, manifest or
    header is left (issue: a KeyError in the report left the ISO behind)."""
    from gamevm_build.errors import LayoutError
    from gamevm_build.layout import report

    def broken(_data):
        raise LayoutError("report failed")
    monkeypatch.setattr(report, "render_html", broken)
    proj = project["dir"]
    outcome, _out, err = gamevm("layout", "-c", project["config"], "-o", proj / "game.iso",
                                "--manifest", proj / "layout.json", "--lba-header",
                                proj / "layout.h", "--report", proj / "layout.html",
                                "--time-limit", "0.2")
    assert outcome == "1" and "report failed" in err
    assert sorted(files_under(proj)) == ["gamevm.json", "walk.json"]


def test_report_colors_scenes_of_either_map(project):
    """An unreachable scene can own a file in the alphabetical order's map only: the
    report's legend used to KeyError on it."""
    from gamevm_build.layout.plan import plan_layout
    from gamevm_build.layout.problem import load_problem
    from gamevm_build.layout.report import render_html, report_data

    plan = plan_layout(load_problem(project["config"]), time_limit=0.2)
    data = report_data(plan, {"cost_ms": 1.0, "bound_ms": 1.0, "plan_over_bound": 1.0,
                              "alphabetical_over_plan": 1.0, "declaration_over_plan": 1.0,
                              "alphabetical_ms": 1.0, "declaration_ms": 1.0, "files": 1,
                              "sectors": 1, "copies": 0, "padding_sectors": 0,
                              "optimiser_s": 0.0, "construction": "x", "reads_ms": 1.0,
                              "model": "m", "medium": "disc", "image": "x.iso", "tool": None,
                              "first_lba": 0, "bound_kind": "floor"}, plan.bundles())
    data["alphabetical"]["files"][0]["scene"] = "island"
    assert "island" in render_html(data)


# ------------------------------------------------------------------------------ configs

HOSTILE = [math.nan, math.inf, -math.inf, -1, 0, 2 ** 64, 10 ** 30, -0.5, "", "x" * 5000,
           None, True, [], {}, [[[[]]]], "../../../../../etc/passwd", "/dev/zero", "1e999",
           "0x", {"$ref": "#"}]


def _leaves(node, path=()):
    if isinstance(node, dict):
        for k, v in node.items():
            yield path + (k,)
            yield from _leaves(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield path + (i,)
            yield from _leaves(v, path + (i,))


def _set(doc, path, value):
    node = doc
    for k in path[:-1]:
        node = node[k]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value


_DELETE = object()


def _nest(depth: int):
    v: list = []
    for _ in range(depth):
        v = [v]
    return v


def mutate(doc: dict, rng: random.Random, odd: dict) -> tuple[dict, str]:
    """One mutated copy of ``doc`` and what was done."""
    doc = json.loads(json.dumps(doc))
    leaves = list(_leaves(doc))
    kind = rng.choice(["value", "value", "value", "delete", "nest", "file", "positions"])
    path = rng.choice(leaves)
    if kind == "value":
        value = rng.choice(HOSTILE)
        _set(doc, path, value)
        return doc, f"{path} = {value!r}"[:80]
    if kind == "delete":
        _set(doc, path, _DELETE)
        return doc, f"del {path}"
    if kind == "nest":
        _set(doc, path, _nest(rng.choice([70, 500])))
        return doc, f"{path} = deep"
    if kind == "file":
        files = [p for p in leaves if p[-1] == "file"]
        what = rng.choice(sorted(odd))
        if files:
            path = rng.choice(files)
            _set(doc, path, str(odd[what]))
        return doc, f"{path} = {what}"
    names = [m for m in doc.get("modules", {})] if isinstance(doc.get("modules"), dict) else []
    disc = doc.setdefault("disc", {}) if isinstance(doc.get("disc", {}), dict) else {}
    disc["positions"] = {m: 1000 + rng.choice([0, 1, 2]) for m in names}
    return doc, "overlapping positions"


def _write_json(path: Path, doc) -> None:
    path.write_text(json.dumps(doc))          # NaN and Infinity as Python writes them


@pytest.mark.fuzz
def test_fuzzed_configs(project, tmp_path):
    """Mutated gamevm.json through budget (every one) and layout (every fifth)."""
    rng = random.Random(f"configs-{SEED}")
    odd = odd_files(tmp_path / "odd")
    counts: Counter = Counter()
    bad = []
    n = examples(60)
    for i in range(n):
        doc, what = mutate(project["cfg"], rng, odd)
        path = project["dir"] / f"c{i}.json"
        _write_json(path, doc)
        runs = [("budget", "-c", path, "-o", project["dir"] / "b.txt", "-q")]
        if i % 5 == 0:
            runs.append(("layout", "-c", path, "-o", project["dir"] / "x.iso",
                         "--time-limit", "0.2", "-q"))
        for argv in runs:
            outcome, _o, err = gamevm(*argv)
            counts[f"{argv[0]} {outcome}"] += 1
            if outcome in ("traceback", "hang"):
                bad.append((what, argv[0], outcome, err[-300:]))
    assert not bad, bad
    assert files_under(project["outside"]) == set()
    print(f"configs: {n} mutated, outcomes {dict(sorted(counts.items()))}")


@pytest.mark.parametrize("key,value,message", [
    (("modules", "boss", "init_ms"), math.nan,
     "modules.boss.init_ms: expected a finite number, not nan"),
    (("transitions", 0, "budget_ms"), math.nan,
     "transitions[0].budget_ms: expected a finite number, not nan"),
    (("transitions", 0, "budget_ms"), math.inf,
     "transitions[0].budget_ms: expected a finite number, not inf"),
    (("frame_rate",), -math.inf, "frame_rate: expected a finite number, not -inf"),
])
def test_config_refuses_non_finite_numbers(project, key, value, message):
    cfg = json.loads(json.dumps(project["cfg"]))
    _set(cfg, key, value)
    _write_json(project["config"], cfg)
    outcome, _o, err = gamevm("budget", "-c", project["config"])
    assert outcome == "2" and message in err, err


@pytest.mark.parametrize("target", ["x" * 5000, "../../../etc/passwd", "psx/../psx"])
def test_config_target_is_a_name_not_a_path(project, target):
    """Found by the config driver: a 5000-character target made load_profile stat a file
    name too long for the OS (OSError traceback)."""
    cfg = json.loads(json.dumps(project["cfg"]))
    cfg["target"] = target
    _write_json(project["config"], cfg)
    outcome, _o, err = gamevm("budget", "-c", project["config"])
    assert outcome == "2" and "unknown target" in err and len(err) < 1000, err


@pytest.mark.parametrize("key", [("modules", "level1", "file"), ("resident", "file"),
                                 ("disc", "layout")])
def test_config_file_name_too_long_for_the_os(project, key):
    """Found by the config driver: a 5000-character module file name made the "build the
    modules first" hint's Path.exists() raise ENAMETOOLONG (OSError traceback)."""
    cfg = json.loads(json.dumps(project["cfg"]))
    cfg.setdefault("disc", {})
    _set(cfg, key, "x" * 5000)
    _write_json(project["config"], cfg)
    for argv in (["budget", "-c", project["config"]],
                 ["layout", "-c", project["config"], "-o", project["dir"] / "g.iso"]):
        outcome, _o, err = gamevm(*argv)
        assert outcome == "2" and "gamevm: error:" in err, (argv[0], err)


def test_config_refuses_1e999(project):
    text = json.dumps(project["cfg"]).replace('"budget_ms": 1500', '"budget_ms": 1e999', 1)
    assert "1e999" in text
    project["config"].write_text(text)
    outcome, _o, err = gamevm("budget", "-c", project["config"])
    assert outcome == "2" and "budget_ms: expected a finite number, not inf" in err


@pytest.mark.parametrize("positions,message", [
    ({"physics": 1000, "level1": 1000, "boss": 1000},
     "disc.positions.level1: sector 1000 is already where module 'physics' starts"),
    ({"physics": 1000, "level1": 1001, "boss": 1005},
     "disc.positions.level1: module 'level1' at sector 1001 overlaps module 'physics'"),
])
def test_overlapping_disc_positions(project, positions, message):
    cfg = json.loads(json.dumps(project["cfg"]))
    cfg["disc"] = {"positions": positions}
    _write_json(project["config"], cfg)
    outcome, _o, err = gamevm("budget", "-c", project["config"])
    assert outcome == "2" and message in err, err


@pytest.mark.parametrize("depth", [70, 100_000])
def test_deeply_nested_json_is_a_config_error(project, depth):
    text = "[" * depth + "]" * depth
    project["config"].write_text('{"target": ' + text + "}")
    outcome, _o, err = gamevm("budget", "-c", project["config"])
    assert outcome == "2" and "more than 64 levels deep" in err, err
    project["scenario"].write_text('{"config": "gamevm.json", "steps": ' + text + "}")
    outcome, _o, err = gamevm("run", project["scenario"])
    assert outcome == "2" and "more than 64 levels deep" in err, err


def test_check_json_walk_without_paths_agrees_with_the_walk_with_them():
    """check_json looks for trouble without key paths and walks again, with them, only
    to say where: the same documents pass, the limit is the same, the message names the
    first bad value of the walk with paths."""
    from gamevm_build.errors import ConfigError
    from gamevm_build.fileutil import MAX_JSON_DEPTH, check_json

    def nested(n):
        return json.loads("[" * n + "]" * n)

    check_json(nested(MAX_JSON_DEPTH), "t.json")                  # 64 levels: fine
    with pytest.raises(ConfigError, match=r"^t.json: (\[0\]){64}: nested more than 64"):
        check_json(nested(MAX_JSON_DEPTH + 1), "t.json")
    check_json({"a": [1, 2.5, "x", None, True, {"b": -0.0}]}, "t.json")
    for doc, message in [
            (math.nan, "t.json: (top level): expected a finite number, not nan"),
            ({"a": [1, {"b": math.inf}], "c": 2}, "t.json: a[1].b: expected a finite number, not inf"),
            ({"a": [math.nan], "z": [-math.inf]}, "t.json: z[0]: expected a finite number, not -inf"),
            ({"a": 1.0, "b": [[[[math.nan]]]]}, "t.json: b[0][0][0][0]: expected a finite number")]:
        with pytest.raises(ConfigError) as info:
            check_json(doc, "t.json")
        assert str(info.value).startswith(message), str(info.value)


# ---------------------------------------------------------------------------- scenarios

@pytest.mark.parametrize("step,message", [
    ({"load_async": "boss", "slice_ms": 0}, "steps[0].slice_ms: expected milliseconds"),
    ({"load_async": "boss", "slice_ms": -2}, "steps[0].slice_ms: expected milliseconds"),
    ({"load": "boss", "expect": "zero"}, "steps[0].expect: expected a load status"),
    ({"load": "boss", "expect": "lsZero"}, "'lsZero' is not a load status"),
    ({"call": "boss:boss_hp()", "expect": "zero"}, "steps[0].expect: expected the 32-bit value"),
    ({"advance": 10 ** 12}, "steps[0].advance: expected a number of frames from 0 to 216000"),
    ({"advance": 2 ** 64}, "steps[0].advance: expected a number of frames from 0 to 216000"),
    ({"wait": True, "max_frames": 10 ** 12}, "steps[0].max_frames: expected a number of frames"),
    ({"call": "boss:boss_hp()", "max_instructions": 10 ** 15},
     "steps[0].max_instructions: expected a number of instructions"),
    ({"expect": {"pending": math.nan}}, "steps[0].expect.pending: expected a finite number"),
])
def test_scenario_schema_bounds(project, step, message):
    path = project["dir"] / "bad.json"
    _write_json(path, {"config": "gamevm.json", "steps": [step]})
    outcome, _o, err = gamevm("run", path)
    assert outcome == "2" and message in err, err


def test_scenario_schema_is_published_and_checks_the_examples():
    import jsonschema

    schema = json.loads((REPO / "gamevm_build" / "schemas" / "scenario.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    for path in sorted((REPO / "examples" / "game" / "scenarios").glob("*.json")):
        jsonschema.Draft202012Validator(schema).validate(json.loads(path.read_text()))


@pytest.mark.fuzz
def test_fuzzed_scenarios(project, tmp_path):
    rng = random.Random(f"scenarios-{SEED}")
    odd = odd_files(tmp_path / "odd")
    counts: Counter = Counter()
    bad = []
    n = examples(40)
    for i in range(n):
        doc, what = mutate(project["walk"], rng, odd)
        path = project["dir"] / f"s{i}.json"
        _write_json(path, doc)
        outcome, _o, err = gamevm("run", path, "-q", timeout=30)
        counts[outcome] += 1
        if outcome in ("traceback", "hang"):
            bad.append((what, outcome, err[-300:]))
    assert not bad, bad
    print(f"scenarios: {n} mutated, outcomes {dict(sorted(counts.items()))}")


# ------------------------------------------------------------- disc manifests and images

@pytest.mark.fuzz
def test_fuzzed_disc_manifests(project, tmp_path):
    """Mutated layout.json (what gamevm layout writes) through budget --layout."""
    manifest = json.loads((project["build"] / "layout.json").read_text())
    rng = random.Random(f"manifests-{SEED}")
    odd = odd_files(tmp_path / "odd")
    counts: Counter = Counter()
    bad = []
    n = examples(40)
    for i in range(n):
        doc, what = mutate(manifest, rng, odd)
        path = project["dir"] / f"m{i}.json"
        _write_json(path, doc)
        outcome, _o, err = gamevm("budget", "-c", project["config"], "--layout", path)
        counts[outcome] += 1
        if outcome in ("traceback", "hang"):
            bad.append((what, outcome, err[-300:]))
    assert not bad, bad
    print(f"manifests: {n} mutated, outcomes {dict(sorted(counts.items()))}")


@pytest.mark.fuzz
def test_fuzzed_iso_images(project, tmp_path):
    """Byte-flipped and truncated copies of the example's game.iso through call --disc."""
    image = (project["build"] / "game.iso").read_bytes()
    rng = random.Random(f"iso-{SEED}")
    counts: Counter = Counter()
    bad = []
    n = examples(12)
    for i in range(n):
        data = bytearray(image)
        if i % 4 == 3:
            data = data[:rng.randrange(0, 40 * 2048)]
        else:
            for _ in range(rng.choice([1, 4, 32])):     # the descriptors, path tables, dirs
                at = rng.randrange(16 * 2048, min(len(data), 30 * 2048))
                data[at] = rng.randrange(256)
        path = tmp_path / f"i{i}.iso"
        path.write_bytes(bytes(data))
        outcome, _o, err = gamevm("call", "-t", "psx", "--resident",
                                  project["build"] / "kernel.elf", "--disc", path, "--load",
                                  "boss", "boss:gamevm_selftest()", timeout=30)
        counts[outcome] += 1
        if outcome in ("traceback", "hang"):
            bad.append((i, outcome, err[-300:]))
    assert not bad, bad
    print(f"iso images: {n} mutated, outcomes {dict(sorted(counts.items()))}")


@pytest.mark.parametrize("at,value", [(37255, 219), (32919, 137), (37248, 182)])
def test_damaged_iso_image_is_an_input_error(project, tmp_path, at, value):
    """Found by the ISO driver: pycdlib raises UnicodeDecodeError or struct.error on some
    damaged directory records; gamevm says the image cannot be opened (exit 2)."""
    data = bytearray((project["build"] / "game.iso").read_bytes())
    data[at] = value
    path = tmp_path / "bad.iso"
    path.write_bytes(bytes(data))
    outcome, _o, err = gamevm("call", "-t", "psx", "--resident",
                              project["build"] / "kernel.elf", "--disc", path, "--load", "boss")
    assert outcome == "2", err
    assert f"{path}: cannot open ISO 9660 image" in err


# --------------------------------------------------------------------------------- SCons

@pytest.mark.parametrize("case", ["layout outside", "module FIFO", "config FIFO"])
def test_scons_builders_refuse_hostile_configs(example_game, tmp_path, case):
    """GameVMBudget and GameVMDisc on a config whose disc.layout leaves the project, whose
    module is a FIFO (SCons reads every dependency to sign it: it used to wait forever),
    or that is a FIFO: the build stops with the message, no traceback, nothing written
    outside."""
    out = example_game("psx")
    root = tmp_path / "proj"
    root.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    cfg = json.loads((out.parents[1] / "examples" / "game" / "gamevm.json").read_text())
    cfg.pop("$schema", None)
    cfg["resident"]["file"] = str(out / "kernel.elf")
    for name, spec in cfg["modules"].items():
        spec["file"] = str(out / f"{name}.elf")
    config = "gamevm.json"
    if case == "layout outside":
        cfg["disc"] = {"layout": "../outside/layout.json"}
        expect = ["disc.layout", "outside the project directory"]
    elif case == "module FIFO":
        os.mkfifo(root / "boss.elf")
        cfg["modules"]["boss"]["file"] = "boss.elf"
        expect = [f"{root / 'boss.elf'}: a file the budget check reads is a FIFO"]
    else:
        config = "fifo.json"
        os.mkfifo(root / config)
        expect = [f"{root / config}: a source of GameVM", "is a FIFO"]
    (root / "gamevm.json").write_text(json.dumps(cfg))
    shutil.copytree(REPO / "site_scons", root / "site_scons")
    (root / "SConstruct").write_text(
        "env = Environment(tools=['default', 'gamevm'], GAMEVM_TARGET='psx',\n"
        "                  GAMEVM_DISC_TIME_LIMIT='0.2')\n"
        f"env.GameVMBudget('budget', ['{config}'])\n"
        f"env.GameVMDisc('game.iso', ['{config}'])\n")
    proc = scons(root, timeout=60)
    assert proc.returncode == 2, proc.stdout
    assert all(e in proc.stdout for e in expect), proc.stdout
    assert "Traceback" not in proc.stdout
    assert files_under(outside) == set() and not (root / "game.iso").exists()


# ------------------------------------------------------------------- layout time limit

def dense_project(n_modules: int, transitions: int, seed: int = 3) -> dict:
    """bench_layout's synthetic project (``n_modules`` // 5.5 scenes) with random extra
    transitions up to ``transitions``: the dense flow graphs of issue 13."""
    import sys

    sys.path.insert(0, str(REPO / "bench"))
    from bench_layout import synthetic

    doc = synthetic(n_modules)
    rng = random.Random(seed)
    scenes = list(doc["scenes"])
    pairs = {(t["from"], t["to"]) for t in doc["transitions"]}
    while len(pairs) < transitions:
        a, b = rng.sample(scenes, 2)
        if (a, b) not in pairs:
            pairs.add((a, b))
            doc["transitions"].append({"from": a, "to": b, "budget_ms": 3000,
                                       "likelihood": 0.01})
    return doc


def test_layout_time_limit_holds_on_a_dense_flow_graph():
    """100 scenes, 2,000 transitions: plan_layout honours its time limit, within the
    evaluation of the plan (docs/layout.md); the head sources give up at their deadline
    and the bound stays a bound; the budget analyzer computes the plan's times (the
    unknown head's span was one sector short in the layout's copy: a 3 us disagreement
    that ended `gamevm layout` in an AssertionError)."""
    import time

    from gamevm_build.project.config import config_from_dict
    from gamevm_build.layout.bound import NO_SOURCES, lower_bound
    from gamevm_build.layout.bundles import HeadSourcesTimeout, head_sources
    from gamevm_build.layout.disc import check_with_analyzer
    from gamevm_build.layout.plan import plan_layout
    from gamevm_build.layout.problem import problem_from_project
    from gamevm_build.analysis.model import load_project

    doc = dense_project(550, 2000)
    problem = problem_from_project(load_project(config_from_dict(doc)))
    with pytest.raises(HeadSourcesTimeout):
        head_sources(problem, deadline=time.perf_counter())
    sources = head_sources(problem)
    exact = lower_bound(problem, sources=sources)
    loose = lower_bound(problem, sources=NO_SOURCES)
    assert loose.total <= exact.total and loose.details["head_sources"] == NO_SOURCES
    t0 = time.perf_counter()
    plan = plan_layout(problem, time_limit=1.0)
    assert time.perf_counter() - t0 < 1.0 + 3.0
    assert plan.bound.total <= plan.cost * (1 + 1e-9)
    check_with_analyzer(plan)


def test_layout_and_analyzer_share_the_unknown_head_span():
    """One rule for where an unknown head can be (analysis._index.head_span): the
    layout's cost model and the analyzer's index give the same span for a plan."""
    from gamevm_build.analysis._index import index
    from gamevm_build.analysis.graph import build_graph
    from gamevm_build.project.config import config_from_dict
    from gamevm_build.layout.cost import Evaluator
    from gamevm_build.layout.manifest import analyzer_config
    from gamevm_build.layout.plan import plan_layout
    from gamevm_build.layout.problem import problem_from_project
    from gamevm_build.analysis.model import load_project

    problem = problem_from_project(load_project(config_from_dict(dense_project(120, 60))))
    plan = plan_layout(problem, time_limit=0.3)
    G = build_graph(analyzer_config(problem, plan.arrangement, plan.base),
                    problem.project.modules, problem.project.resident)
    _start, end = plan.positions()
    span = Evaluator(problem).span_of(plan.arrangement, plan.base)
    assert span == index(G).span == (0, max(end) + 1)


def test_layout_cost_disagreement_is_a_typed_error(project, monkeypatch):
    """An internal consistency check never surfaces as a traceback: exit 1, a message
    naming the load, and no outputs."""
    from gamevm_build.layout import plan as plan_mod

    real = plan_mod.plan_layout

    def skewed(*args, **kwargs):
        plan = real(*args, **kwargs)
        orig = plan.rebase

        def rebase(base, ev=None):
            orig(base, ev)
            plan.evaluation.times[plan.problem.boot] += 3e-6
        plan.rebase = rebase
        plan.evaluation.times[plan.problem.boot] += 3e-6
        return plan
    from gamevm_build.layout import disc
    monkeypatch.setattr(disc, "plan_layout", skewed)
    proj = project["dir"]
    outcome, _out, err = gamevm("layout", "-c", project["config"], "-o", proj / "game.iso",
                                "--time-limit", "0.2")
    assert outcome == "1", err
    assert "internal error" in err and "'boot'" in err and "no disc was written" in err
    assert sorted(files_under(proj)) == ["gamevm.json", "walk.json"]


@pytest.mark.parametrize("n_modules, limit", [(550, 5.0), (1650, 5.0)])
def test_layout_command_honours_its_time_limit(project, tmp_path, n_modules, limit):
    """`gamevm layout --time-limit N` covers the whole command (loading, bound, search,
    mastering, the analyzer's check, the report) on 100 and 300 scenes with 3,000
    transitions (issue 13: 25 s and > 180 s for a limit of 5 s; then an AssertionError)."""
    import resource
    import time

    def cpu_s() -> float:
        """CPU seconds of this process and its waited-for children (the ISO tool)."""
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.process_time() + kids.ru_utime + kids.ru_stime

    doc = dense_project(n_modules, 3000)
    elf = str(project["build"] / "level1.elf")
    for spec in doc["modules"].values():
        spec.pop("estimate", None)
        spec["file"] = elf
    cfg = tmp_path / "dense.json"
    cfg.write_text(json.dumps(doc))
    t0 = cpu_s()
    outcome, _out, err = gamevm("layout", "-q", "-c", cfg, "-o", tmp_path / "dense.iso",
                                "--report", tmp_path / "dense.html", "--time-limit", limit,
                                timeout=60)
    cpu = cpu_s() - t0
    assert outcome == "0", err
    # measured 4.0 s (100 scenes) and 5.4 s (300 scenes) on a 2-core machine; the bug spent
    # 25 s and > 180 s searching.  The command's time is counted in CPU seconds: on a CI
    # machine busy with other work its wall time grows (15.96 s once, with a mutation run
    # and the suite sharing 2 cores) while the CPU it spends does not, so the bound holds
    # there and still catches a limit that is not honoured (the hang guard is `timeout`)
    assert cpu < 3 * limit, cpu


# ------------------------------------------------------------------- executing data

EVIL_DATA = r"""
int wild_jump(unsigned a) { return ((int (*)(void))a)(); }
static int cell[16] = {0x12345678, 0x9abcdef0, 0x0badf00d, 0x1337};
unsigned data_addr(void) { return (unsigned)cell; }
int jump_stack(void)
{
    volatile unsigned buf[16];
    for (int i = 0; i < 16; i++)
        buf[i] = 0x12345678u * (i + 1);
    return ((int (*)(void))(unsigned)buf)();
}
"""


@pytest.mark.parametrize("target", ["psx", "n64", "segacd", "gba", "3do"])
def test_a_jump_into_data_is_a_wild_jump_on_every_console(example_game, tmp_path, target):
    """A jump into a module's .data or onto the stack stops there, naming the address, what
    it is and the code that jumped, with both loaders; not the fault the garbage it decodes
    to makes somewhere else (gba, segacd and 3do reported a null write or read)."""
    from conftest import run_gamevm
    from gamevm_build.errors import EmulationFault
    from gamevm_build.play.console import Console

    out = example_game(target)
    (tmp_path / "evil.c").write_text(EVIL_DATA)
    p = run_gamevm("module", "-t", target, "-o", tmp_path / "evil.elf", tmp_path / "evil.c")
    assert p.returncode == 0, p.stderr
    for loader in ("host", "target"):
        c = Console(target, out / "kernel.elf", search_paths=[tmp_path, out], loader=loader)
        c.load("evil")
        cell = c.call("evil:data_addr")
        with pytest.raises(EmulationFault) as err:
            c.call("evil:wild_jump", cell)
        text = str(err.value)
        assert f"fetch of data of module 'evil' (not executable) 0x{cell:08x} <evil:cell>" \
            in text, text
        assert "a wild jump (executing data) from" in text and "<evil:wild_jump" in text, text
        with pytest.raises(EmulationFault) as err:
            c.call("evil:jump_stack")
        text = str(err.value)
        assert "fetch of the stack (not executable)" in text, text
        assert "a wild jump (executing data) from" in text and "<evil:jump_stack" in text, text


# ------------------------------------------------------------------- progress of long runs

def test_run_reports_progress_of_a_long_call_on_stderr_only(project, monkeypatch):
    """`gamevm run --progress` (or a terminal on stderr) says a long emulated call is still
    running, on stderr; stdout (the log tests compare) is the same without it, and the
    timeout names the budget in seconds on the console."""
    import gamevm_build.emu.machine as machine_mod

    monkeypatch.setattr(machine_mod, "PROGRESS_AFTER", 0.0)     # report at the first look
    scenario = project["dir"] / "spin.json"
    scenario.write_text(json.dumps({
        "config": "gamevm.json", "search": [str(project["build"])],
        "steps": [{"enter": "title"}, {"load": "crashy"},
                  {"call": "crashy:crashy_spin(1)", "max_instructions": 3 << 18}]}))
    runs = {flag: gamevm("run", scenario, *flag, timeout=120)
            for flag in ((), ("--progress",))}
    (quiet, out_q, err_q), (loud, out_l, err_l) = runs[()], runs[("--progress",)]
    assert quiet == loud == "1", (err_q, err_l)
    assert "still running after" not in err_q + out_q
    assert "still running after" in err_l and "of console time" in err_l, err_l
    assert "still running after" not in out_l and out_q == out_l
    assert "s on the console at" in out_q + err_q, out_q + err_q


# ------------------------------------------------------------------- ELF sizes before reading

@pytest.mark.parametrize("damage, message", [
    ("truncate", r"section headers at 0x[0-9a-f]+ \(\d+ entries\) run past the end of the file"),
    ("p_filesz", r"program header \[0\] \(.*\) p_offset 0x[0-9a-f]+ \+ p_filesz 0x7fffffff runs "
                 r"past the end of the file"),
    ("e_phoff", r"program headers at 0x7ffffff0 \(\d+ entries\) run past the end of the file"),
])
def test_elf_sizes_are_checked_before_reading(project, tmp_path, damage, message):
    """fileutil.read_input reads an ELF file's header first and checks the tables and
    segments it declares against the file's size before reading the rest: the resident
    (which loaded with a PT_LOAD past the end of the file, its code short) and modules
    alike get an error naming the file and the offset (docs/cli.md, "Files")."""
    import re
    import struct

    def damaged(path: Path) -> bytes:
        data = bytearray(path.read_bytes())
        if damage == "truncate":
            data = data[:len(data) // 2]
        elif damage == "p_filesz":
            phoff, = struct.unpack_from("<I", data, 0x1c)
            struct.pack_into("<I", data, phoff + 16, 0x7fffffff)
        else:
            struct.pack_into("<I", data, 0x1c, 0x7ffffff0)
        return bytes(data)

    bad = tmp_path / "kernel.elf"
    bad.write_bytes(damaged(project["build"] / "kernel.elf"))
    outcome, _out, err = gamevm("call", "-t", "psx", "--resident", bad, "gvm_strlen(0)")
    assert outcome == "2" and str(bad) in err and re.search(message, err), err
    # a module's own readers check the same sizes (and the loaders answer lsBadFormat)
    module = tmp_path / "physics.elf"
    module.write_bytes(damaged(project["build"] / "physics.elf"))
    outcome, _out, err = gamevm("inspect", module)
    assert outcome == "2" and str(module) in err, err
    assert re.search(r"past the end of the file|headers at 0x7ffffff0 \(\d+ entries\)", err), err


def test_layout_names_at_most_ten_modules_without_files(tmp_path):
    """550 modules with only an estimate: the message names ten and counts the rest."""
    cfg = tmp_path / "estimates.json"
    cfg.write_text(json.dumps(dense_project(550, 0)))
    outcome, _out, err = gamevm("layout", "-c", cfg, "-o", tmp_path / "x.iso")
    assert outcome == "2" and "core9 and 540 more have no file (only an estimate)" in err, err
    assert not (tmp_path / "x.iso").exists()
