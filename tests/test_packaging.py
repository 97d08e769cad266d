"""The installable package is complete: a built wheel holds every module and data file.

Guards the toolpath/installed-package route (SCons tool, gamevm.h, profiles,
runtime helpers, JSON schema), which an editable checkout would not notice.
"""

import zipfile

from conftest import REPO, build_wheel


def test_wheel_contains_every_module_and_data_file(tmp_path):
    wheel = build_wheel(tmp_path)
    names = set(zipfile.ZipFile(wheel).namelist())
    wanted = set()
    for top in ("gamevm_build", "analysis"):
        for path in (REPO / top).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix in (
                    ".py", ".toml", ".h", ".c", ".S", ".json"):
                rel = path.relative_to(REPO).as_posix()
                wanted.add(rel if top == "gamevm_build" else "gamevm_build/" + rel)
    assert wanted - names == set()
    # gamevm new's project templates, whatever their suffix (SConstruct, README.md, gitignore)
    templates = {p.relative_to(REPO).as_posix()
                 for p in (REPO / "gamevm_build" / "templates").rglob("*")
                 if p.is_file() and "__pycache__" not in p.parts}
    assert "gamevm_build/templates/new/SConstruct" in templates and templates - names == set()
    # one top-level name: a generic one (``analysis``, ``tests``...) would clash with the game's own
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith((".dist-info", ".data"))}
    assert tops == {"gamevm_build"}
    top_level = [n for n in names if n.endswith("top_level.txt")]
    if top_level:
        assert zipfile.ZipFile(wheel).read(top_level[0]).decode().split() == ["gamevm_build"]
    assert any(n.endswith("entry_points.txt") for n in names)
