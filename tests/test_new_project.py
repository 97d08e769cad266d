"""``gamevm new`` starts a project that builds, validates and budget-checks from a wheel.

The end-to-end tests do what docs/install.md tells a developer: install a wheel of this
checkout into a fresh virtualenv outside the repository, run ``gamevm new`` there and
``scons`` in the project, for every console, then the commands of the project's README.
The rest checks ``gamevm new`` itself: deterministic files, refusals that write nothing,
and the SConstruct docs/scons.md shows being exactly the one it writes.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from conftest import ALL_TARGETS, REPO, build_wheel, run_gamevm
from gamevm_build.cli import main
from gamevm_build.project.config import memory_regions
from gamevm_build.project.profile import load_profile

# --------------------------------------------------------------------------- the files


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_new_writes_the_same_bytes_every_time(tmp_path):
    for run in ("a", "b"):
        (tmp_path / run).mkdir()
        assert main(["new", "-q", str(tmp_path / run / "game"), "-t", "psx", "-t", "gba"]) == 0
    first, second = tree(tmp_path / "a" / "game"), tree(tmp_path / "b" / "game")
    assert first == second
    assert set(first) == {".gitignore", "README.md", "SConstruct", "gamevm.json", "gamevm.schema.json",
                          "gamevm-gba.json", "src/kernel/start.S", "src/kernel/kernel.c",
                          "src/kernel/kernel.h", "src/game/game.c"}


def test_start_code_has_an_entry_for_each_cpu_family_given(tmp_path):
    main(["new", "-q", str(tmp_path / "g"), "-t", "gba", "-t", "n64", "-t", "psx"])
    start = (tmp_path / "g" / "src/kernel/start.S").read_text()
    assert re.findall(r"^#(?:el)?if defined\((\w+)\)", start, re.M) == ["__mips__", "__arm__"]
    assert "/* n64, psx */" in start and "#error" in start
    sconstruct = (tmp_path / "g" / "SConstruct").read_text()
    assert "TARGETS = ['gba', 'n64', 'psx']" in sconstruct      # the first is the default
    assert '"target": "gba"' in (tmp_path / "g" / "gamevm.json").read_text()


@pytest.mark.parametrize("target", ALL_TARGETS)
def test_each_consoles_memory_map_fits_its_profile(tmp_path, target):
    """The Resident region starts at the profile's resident base; every region is RAM."""
    main(["new", "-q", str(tmp_path / "g"), "-t", target])
    config, profile = json.loads((tmp_path / "g" / "gamevm.json").read_text()), load_profile(target)
    regions = {r.name: r for r in memory_regions(config["memoryMap"], profile=profile)}
    assert regions["Resident"].start == profile.resident_base
    assert sorted(regions) == ["Level", "Resident"]


def test_new_refuses_a_directory_that_is_not_empty(tmp_path):
    project = tmp_path / "game"
    project.mkdir()
    (project / "notes.txt").write_text("mine")
    proc = run_gamevm("new", project, "--target", "psx")
    assert proc.returncode == 2
    assert proc.stderr.strip().endswith(
        f"gamevm: error: {project}: directory exists and is not empty; give a new or empty "
        "directory (gamevm new never overwrites files)")
    assert "Traceback" not in proc.stderr
    assert tree(project) == {"notes.txt": b"mine"}


@pytest.mark.parametrize("case", ["file", "fifo", "symlink", "no parent", "unknown console"])
def test_new_refuses_and_writes_nothing(tmp_path, case):
    args = {"no parent": ["missing/game", "-t", "psx"],
            "unknown console": ["game", "-t", "snes"]}.get(case, ["game", "-t", "psx"])
    if case == "file":
        (tmp_path / "game").write_text("mine")
    if case == "fifo":
        os.mkfifo(tmp_path / "game")
    if case == "symlink":
        (tmp_path / "elsewhere").mkdir()
        (tmp_path / "game").symlink_to(tmp_path / "elsewhere")
    before = tree(tmp_path)
    proc = run_gamevm("new", *args, cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert {"file": "exists and is not a directory", "fifo": "exists and is not a directory",
            "symlink": "is a symbolic link",
            "no parent": "parent directory", "unknown console": "snes"}[case] in proc.stderr
    assert tree(tmp_path) == before and not list((tmp_path / "elsewhere").glob("*"))


def test_a_write_that_fails_half_way_leaves_nothing(tmp_path):
    """The project's path leaves room for gamevm.json but not for src/game/game.c: the
    files already written go again, with a clear error (PATH_MAX is 4096 on Linux)."""
    parent, length = tmp_path, 4096 - len("/src/game/game.c")
    while len(str(parent)) + 200 < length - len("/game"):
        parent = parent / ("d" * 199)
    parent = parent / ("d" * (length - len(str(parent)) - len("//game")))
    parent.mkdir(parents=True)
    project = parent / "game"
    assert len(str(project / "gamevm.json")) < 4096 <= len(str(project / "src/game/game.c"))
    proc = run_gamevm("new", project, "-t", "psx")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "cannot write the project: File name too long" in proc.stderr
    assert not project.exists()


def test_new_fills_an_empty_directory(tmp_path):
    (tmp_path / "game").mkdir()
    proc = run_gamevm("new", "game", cwd=tmp_path)             # no --target: psx
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "gamevm: wrote 9 files to game for psx; next: cd game && scons\n"
    assert '"target": "psx"' in (tmp_path / "game" / "gamevm.json").read_text()


def test_install_md_names_each_consoles_package_and_the_other_prefixes():
    doc = (REPO / "docs" / "install.md").read_text()
    for target in ALL_TARGETS:
        profile = load_profile(target)
        row = next(line for line in doc.splitlines()
                   if line.startswith("| ") and f"`{target}`" in line.split("|")[1])
        assert f"`{profile.debian_package}`" in row
        for prefix in profile.toolchain_prefixes:
            assert f"`{prefix}`" in doc or prefix.endswith(("-linux-gnu-", "-none-eabi-"))
    assert "GAMEVM_PSX_PREFIX=" in doc and "(cli.md#targets)" in doc


def test_scons_md_shows_the_sconstruct_gamevm_new_writes(tmp_path):
    """One source of truth: docs/scons.md's complete project is the template, verbatim."""
    main(["new", "-q", str(tmp_path / "mygame"), "--target", "psx"])
    sconstruct = (tmp_path / "mygame" / "SConstruct").read_text()
    doc = (REPO / "docs" / "scons.md").read_text()
    assert f"```python\n{sconstruct}```\n" in doc
    for builder in ("GameVMModule", "GameVMResident", "GameVMValidate", "GameVMDisc",
                    "GameVMBudget"):
        assert f"env.{builder}(" in sconstruct
    assert "sys.path" not in sconstruct


# --------------------------------------------------------------------------- from a wheel


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A virtualenv outside the checkout with a wheel of it installed, and its shell env.

    The wheel is built as a user builds it (``pip wheel --no-deps``).  Its dependencies
    must not come from the network, which a test machine may lack: they are the ones
    already installed for this test run, offered to the new venv through a ``.pth`` file
    naming a directory of links to this interpreter's site-packages entries, minus
    anything of gamevm_build (the editable install's finder and metadata), so the only
    gamevm_build the venv can import is the wheel's.  pip then installs the wheel with
    ``--no-index`` and resolves its requirements against those packages, which also
    checks that the wheel's dependency list is satisfiable.  pip writes console scripts
    only for what it installs, so ``scons`` gets the launcher pip would have written for
    SCons's own entry point.
    """
    root = tmp_path_factory.mktemp("wheel")
    wheel = build_wheel(root / "dist")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = Path(subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True).stdout.strip())
    deps = root / "deps"
    deps.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not entry.name.startswith(("gamevm_build", "__editable__", "__pycache__")) \
                and entry.suffix != ".pth":
            (deps / entry.name).symlink_to(entry)
    (purelib / "gamevm-test-deps.pth").write_text(f"{deps}\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                    "--no-index", str(wheel)], check=True, capture_output=True)
    scons = next(e for e in importlib.metadata.distribution("scons").entry_points
                 if e.group == "console_scripts" and e.name == "scons")
    module, func = scons.value.split(":")
    (venv / "bin" / "scons").write_text(
        f"#!{python}\nimport sys\nfrom {module} import {func}\nsys.exit({func}())\n")
    (venv / "bin" / "scons").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env['PATH']}", PYTHONNOUSERSITE="1")
    return venv, purelib, env


def sh(script: str, cwd: Path, env: dict) -> str:
    """Run ``script`` as a shell would (``set -e``); its output, or a failure showing it."""
    proc = subprocess.run(["sh", "-ec", script], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "Traceback" not in output, f"{script}\n{output}"
    return output


def sh_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```sh\n(.*?)^```", markdown, re.S | re.M)


def test_the_venv_runs_the_wheel_not_the_checkout(installed, tmp_path):
    venv, purelib, env = installed
    out = sh("python -c 'import gamevm_build.scons as s; print(s.__file__)'; "
             "command -v gamevm; command -v scons", tmp_path, env).split()
    assert out == [str(purelib / "gamevm_build" / "scons" / "__init__.py"),
                   str(venv / "bin" / "gamevm"), str(venv / "bin" / "scons")]


def check_built(project: Path, target: str) -> None:
    """``scons`` validated the project on the console, laid its medium out, checked budgets."""
    out = project / "build" / target
    report = (out / "validate.xml").read_text()
    # the game's self test and the two declared tests
    assert '<testsuites name="gamevm validate" tests="3" failures="0" errors="0">' in report
    assert (out / "budget.txt").read_text().splitlines()[1].startswith("Result: OK - budgets hold")
    assert (out / ("game.rom" if target in ("n64", "gba") else "game.iso")).stat().st_size > 0
    assert (out / "layout.json").is_file()


@pytest.mark.parametrize("target", ALL_TARGETS)
def test_new_project_builds_validates_and_budget_checks_from_the_wheel(installed, tmp_path,
                                                                        target):
    venv, purelib, env = installed
    sh(f"gamevm new game --target {target}", tmp_path, env)
    output = sh("scons", tmp_path / "game", env)
    # the compiles took gamevm.h from the wheel: the tool is the installed one
    assert f"-I{purelib / 'gamevm_build' / 'include'} " in output
    assert str(REPO) not in output
    check_built(tmp_path / "game", target)
    assert "is up to date" in sh("scons", tmp_path / "game", env)         # a no-op


def test_install_md_and_the_project_readme_run_as_written(installed, tmp_path):
    """docs/install.md's "Start a project" block, then every command of the README it wrote."""
    venv, purelib, env = installed
    doc = (REPO / "docs" / "install.md").read_text()
    start = doc[doc.index("## Start a project"):]
    block = sh_blocks(start)[0]
    assert block.startswith("gamevm new mygame --target psx --target gba\n")
    sh(block, tmp_path, env)
    project = tmp_path / "mygame"
    for target in ("psx", "gba"):
        check_built(project, target)
    other = subprocess.run(["scons", "target=n64"], cwd=project, env=env, capture_output=True,
                           text=True)
    assert other.returncode == 2 and other.stderr.startswith(
        "scons: *** target=n64: this project builds for psx, gba; to add n64, list it in "
        "TARGETS, give src/kernel/start.S an entry for its CPU and write gamevm-n64.json")
    readme = (project / "README.md").read_text()
    outputs = [sh(b, project, env) for b in sh_blocks(readme)]
    assert "game:game_add_points(100, 1) = 110" in outputs[-1]
    assert "kernel_selftest() = 0" in outputs[-1]
    assert "Result: OK" in outputs[-1]
    sh("scons -c", project, env)
    assert not (project / "build" / "psx" / "game.elf").exists()
    # the build wrote nothing into the sources
    fresh = tmp_path / "fresh"
    sh("gamevm new fresh --target psx --target gba", tmp_path, env)
    assert tree(project / "src") == tree(fresh / "src")


def test_the_starter_example_is_what_gamevm_new_writes():
    """examples/starter is `gamevm new examples/starter --target psx --target gba`, kept in
    the repository to read; it must not drift from the templates."""
    from gamevm_build.commands.new import project_files

    kept = {rel: data for rel, data in tree(REPO / "examples" / "starter").items()
            if not rel.startswith(("build/", ".sconsign"))}       # what its scons writes
    assert kept == {rel: text.encode() for rel, text in
                    project_files("starter", ["psx", "gba"]).items()}
