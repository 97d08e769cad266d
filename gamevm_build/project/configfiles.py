"""The files a project configuration names, read without checking the rest of it.

The SCons tool's emitters need, while the SConscripts are read, only which files a
``gamevm.json`` names (modules, resident, disc layout) to make them dependencies.
Checking the whole configuration against its schema then costs more than the rest of
a no-op build's gamevm work (compiling the schema's validator: about 25 ms); the
builders' actions check it when they run, with the messages of
:func:`gamevm_build.project.config.load_config`.  So a configuration too broken to read
here gives no extra dependencies, and its action reports why.

:func:`~gamevm_build.project.config.config_from_dict` resolves the same paths with
:func:`config_path`, so the two cannot disagree on where a file is.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ConfigFiles", "config_files", "config_path"]


def config_path(base: Path, rel: str) -> Path:
    """``rel`` relative to ``base`` (the config's directory), normalised (``a/../b`` -> ``b``)."""
    return Path(os.path.normpath(base / rel))


@dataclass(frozen=True)
class ConfigFiles:
    """What :func:`config_files` found (every path resolved against :attr:`base_dir`)."""

    path: Path
    target: str | None = None
    modules: dict = field(default_factory=dict)     # name -> Path (modules naming a file)
    resident_file: Path | None = None
    layout: str | None = None                       # disc.layout as written

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    @property
    def where(self) -> str:
        return str(self.path)


def config_files(path) -> ConfigFiles | None:
    """The files the configuration at ``path`` names; None when it cannot be read as one
    (the builder's action then reports the configuration's error)."""
    from ..errors import GameVMError
    from ..fileutil import read_json

    path = Path(path)
    try:
        data = read_json(path, "project configuration")
    except GameVMError:
        return None
    if not isinstance(data, dict):
        return None
    base = path.parent

    def text(v):
        return v if isinstance(v, str) and v else None

    modules = data.get("modules")
    files = {}
    if isinstance(modules, dict):
        for name, raw in modules.items():
            if isinstance(raw, dict) and text(raw.get("file")):
                files[name] = config_path(base, raw["file"])
    resident = data.get("resident")
    res = text(resident.get("file")) if isinstance(resident, dict) else None
    disc = data.get("disc")
    layout = text(disc.get("layout")) if isinstance(disc, dict) else None
    return ConfigFiles(path, text(data.get("target")), files,
                       config_path(base, res) if res else None, layout)
