"""The dev manifest (``dev.json`` beside a ``gamevm.json``): what each module is built from.

``gamevm.json`` names built files; what ``gamevm dev`` recompiles when a source changes
has to be known too, and the SCons build that made those files is not something the
session can ask.  The manifest lists it, in the session's own words::

    {
      "cflags": ["-Wall"],                  # every compile (after the profile's flags)
      "include": ["include"],               # -I directories, relative to dev.json
      "resident": {"sources": ["kernel/kernel.c"], "keep": [], "runtime": "host"},
      "modules": {
        "hud": {"sources": ["hud/hud.c"], "needs": [], "cflags": [],
                "target_cflags": {"gba": ["-mthumb"]},
                "frame": "gamevm_frame", "start": null, "selftest": null}
      }
    }

``resident`` is optional: without it the session boots the configuration's
``resident.file`` as built.  ``frame`` names the function the session calls once a
frame (default: ``gamevm_frame`` when the module exports it), ``start`` one it calls
once after loading, ``selftest`` the self test a reload runs (docs/dev.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from ..fileutil import read_json

#: the module export called once a frame when the manifest names no ``frame``
FRAME_EXPORT = "gamevm_frame"
MANIFEST_NAME = "dev.json"
_SOURCE_SUFFIXES = (".c", ".s", ".S")


@dataclass
class Unit:
    """What one module (or the resident) is compiled and linked from."""

    name: str
    sources: list[Path]
    cflags: list[str] = field(default_factory=list)
    needs: list[str] = field(default_factory=list)
    keep: list[str] = field(default_factory=list)
    runtime: str = "host"            #: the resident's: gamevm resident --runtime
    frame: str | None = None
    start: str | None = None
    selftest: str | None = None


@dataclass
class Manifest:
    path: Path
    include: list[Path]
    resident: Unit | None
    modules: dict[str, Unit]


def _strings(value, key: str, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{where}: {key}: expected a list of non-empty strings")
    return list(value)


def _name(value, key: str, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: {key}: expected a symbol name (a string) or null")
    return value


def _unit(name: str, raw, key: str, where: str, base: Path, target: str, cflags: list[str],
          resident: bool) -> Unit:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: {key}: expected an object with 'sources'")
    known = {"sources", "cflags", "target_cflags", "description"} | (
        {"keep", "runtime"} if resident else {"needs", "frame", "start", "selftest"})
    for k in raw:
        if k not in known:
            raise ConfigError(f"{where}: {key}.{k}: unknown key (expected one of: "
                              f"{', '.join(sorted(known))})")
    sources = _strings(raw.get("sources"), f"{key}.sources", where)
    if not sources:
        raise ConfigError(f"{where}: {key}.sources: list the .c/.s/.S files it is built from")
    paths = []
    for i, s in enumerate(sources):
        p = (base / s)
        if p.suffix not in _SOURCE_SUFFIXES:
            raise ConfigError(f"{where}: {key}.sources[{i}]: '{s}' is not a source "
                              f"(expected {', '.join(_SOURCE_SUFFIXES)})")
        if not p.is_file():
            raise ConfigError(f"{where}: {key}.sources[{i}]: {p}: source file not found")
        paths.append(p)
    per_target = raw.get("target_cflags") or {}
    if not isinstance(per_target, dict):
        raise ConfigError(f"{where}: {key}.target_cflags: expected an object: console -> flags")
    extra = _strings(per_target.get(target), f"{key}.target_cflags.{target}", where)
    unit = Unit(name, paths, cflags + _strings(raw.get("cflags"), f"{key}.cflags", where) + extra)
    if resident:
        unit.keep = _strings(raw.get("keep"), f"{key}.keep", where)
        unit.runtime = raw.get("runtime", "host")
        if unit.runtime not in ("host", "target"):
            raise ConfigError(f"{where}: {key}.runtime: expected 'host' (traps to the "
                              "emulator's loader) or 'target' (the console-side runtime)")
    else:
        unit.needs = _strings(raw.get("needs"), f"{key}.needs", where)
        unit.frame = _name(raw.get("frame"), f"{key}.frame", where)
        unit.start = _name(raw.get("start"), f"{key}.start", where)
        unit.selftest = _name(raw.get("selftest"), f"{key}.selftest", where)
    return unit


def load_manifest(path, target: str, config_modules) -> Manifest:
    """Read the dev manifest at ``path`` for console ``target``; ``config_modules`` (the
    configuration's modules) are the names it may list, and give each its ``needs``
    when the manifest does not."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no dev manifest: gamevm dev needs the sources each module "
                          f"is built from; write {MANIFEST_NAME} beside the configuration "
                          "(docs/dev.md, 'The sources') or name one with --manifest")
    where = str(path)
    data = read_json(path, "dev manifest")
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a JSON object with 'modules'")
    known = {"description", "cflags", "include", "resident", "modules"}
    for k in data:
        if k not in known:
            raise ConfigError(f"{where}: {k}: unknown key (expected one of: "
                              f"{', '.join(sorted(known))})")
    base = path.parent
    cflags = _strings(data.get("cflags"), "cflags", where)
    include = [base / d for d in _strings(data.get("include"), "include", where)]
    for i, d in enumerate(include):
        if not d.is_dir():
            raise ConfigError(f"{where}: include[{i}]: {d}: not a directory")
    resident = None
    if data.get("resident") is not None:
        resident = _unit("resident", data["resident"], "resident", where, base, target, cflags,
                         True)
    raw_modules = data.get("modules")
    if not isinstance(raw_modules, dict) or not raw_modules:
        raise ConfigError(f"{where}: modules: expected an object: module name -> its sources")
    modules = {}
    for name, raw in raw_modules.items():
        if name not in config_modules:
            raise ConfigError(f"{where}: modules.{name}: the configuration has no module "
                              f"'{name}' (modules: {', '.join(sorted(config_modules))})")
        unit = _unit(name, raw, f"modules.{name}", where, base, target, cflags, False)
        if "needs" not in raw:
            unit.needs = list(getattr(config_modules[name], "needs", ()) or ())
        for i, need in enumerate(unit.needs):
            if need not in raw_modules:
                raise ConfigError(f"{where}: modules.{name}.needs[{i}]: '{need}' is not built "
                                  "by this manifest (list its sources under modules)")
        modules[name] = unit
    return Manifest(path, include, resident, modules)
