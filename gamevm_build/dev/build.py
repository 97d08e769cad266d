"""The session's own build: one object per source, rebuilt only when what it read changed.

:class:`DevBuild` compiles every source of the manifest once (the profile's flags, the
manifest's, ``-MMD`` so the compiler lists the headers each object read), links the
modules and the resident, and remembers a digest of every file each object depends on.
:meth:`DevBuild.changed` compares those digests with the files now: an edit of a
``.c`` file makes its object stale, an edit of a header every object that included it.
:meth:`DevBuild.rebuild` recompiles only the stale objects and relinks only their
modules (``link_module``), timing both: what a reload costs before the swap.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import INCLUDE_DIR
from ..errors import GameVMError
from .manifest import Manifest, Unit


@dataclass
class _Object:
    owner: str                   #: module name, or "" for the resident
    source: Path
    obj: Path
    dep: Path
    flags: list[str]
    digests: dict[str, str] = field(default_factory=dict)   #: file it read -> sha1


@dataclass
class Rebuild:
    """What :meth:`DevBuild.rebuild` did."""

    sources: list[str] = field(default_factory=list)          #: recompiled
    modules: dict[str, bytes] = field(default_factory=dict)   #: relinked: name -> file bytes
    resident: bool = False          #: a resident source changed (not reloadable)
    error: str | None = None        #: the compile or link error (nothing was swapped)
    compile_s: float = 0.0
    link_s: float = 0.0


def _digest(path: str) -> str:
    try:
        return hashlib.sha1(Path(path).read_bytes()).hexdigest()
    except OSError:
        return "missing"


def _depfile(path: Path) -> list[str]:
    """The files a gcc ``-MMD`` depfile lists (the object's prerequisites)."""
    try:
        text = path.read_text()
    except OSError:
        return []
    body = text.split(":", 1)[1] if ":" in text else ""
    body = body.split("\n\n", 1)[0].replace("\\\n", " ")
    # paths with spaces are written with '\ '
    return [p.replace("\\ ", " ") for p in re.findall(r"(?:[^\s\\]|\\ )+", body)]


class DevBuild:
    """Compile and link a manifest's modules (and resident) into ``workdir``."""

    def __init__(self, target: str, manifest: Manifest, workdir: Path,
                 resident: Path | None = None):
        from ..link.toolchain import find_toolchain

        self.target = target
        self.manifest = manifest
        self.workdir = Path(workdir)
        self.tc = find_toolchain(target)
        self.include = [*manifest.include, INCLUDE_DIR]
        self.objects: list[_Object] = []
        self.dirty: set[str] = set()       #: modules whose objects changed since their link
        units = ([("", manifest.resident)] if manifest.resident else []) + \
            list(manifest.modules.items())
        for owner, unit in units:
            d = self.workdir / "obj" / (owner or "resident")
            for i, src in enumerate(unit.sources):
                obj = d / f"{i:02d}_{src.stem}.o"
                flags = (["-ffunction-sections", "-fdata-sections"] if not owner else []) + \
                    list(unit.cflags)
                self.objects.append(_Object(owner, src, obj, obj.with_suffix(".d"), flags))
        self.resident_path = Path(resident) if resident else self.workdir / "kernel.elf"
        self.built_resident = manifest.resident is not None

    def module_path(self, name: str) -> Path:
        return self.workdir / f"{name}.elf"

    def order(self) -> list[str]:
        """Module names, each after the modules it needs."""
        out, seen = [], set()

        def visit(name: str, stack: tuple = ()) -> None:
            if name in seen or name in stack:
                return
            for need in self.manifest.modules[name].needs:
                visit(need, (*stack, name))
            seen.add(name)
            out.append(name)
        for name in self.manifest.modules:
            visit(name)
        return out

    def files(self) -> set[Path]:
        """Every file some object read (sources and headers): what the session watches."""
        return {Path(f).resolve() for o in self.objects for f in (o.digests or {str(o.source): ""})}

    # ------------------------------------------------------------------ compile / link
    def _compile(self, o: _Object) -> None:
        o.obj.parent.mkdir(parents=True, exist_ok=True)
        # the compiler lists what it read: the headers an edit must recompile this for
        dep = ["-MMD", "-MF", str(o.dep)] if o.source.suffix != ".s" else []
        self.tc.compile(o.source, o.obj, extra_flags=[*o.flags, *dep],
                        include_dirs=self.include)
        read = _depfile(o.dep) if dep else []
        paths = {str(o.source), *read}
        o.digests = {p: _digest(p) for p in paths}

    def _link(self, name: str) -> bytes:
        from ..link.linker import link_module

        unit: Unit = self.manifest.modules[name]
        objs = [o.obj for o in self.objects if o.owner == name]
        needs = [self.module_path(n) for n in unit.needs]
        out = self.module_path(name)
        # the resident checks imports now: a reload that imports something the running
        # resident lacks fails here, not at load time
        resident = self.resident_path if self.resident_path.is_file() else None
        link_module(self.target, objs, out, name=name, needs=needs, resident=resident)
        return out.read_bytes()

    def build_all(self) -> dict[str, bytes]:
        """The first build: every object, every module, then the resident that keeps what
        they import."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        for o in self.objects:
            self._compile(o)
        out = {}
        if self.built_resident and self.resident_path.exists():
            self.resident_path.unlink()            # a stale one must not check the links
        order = self.order()
        for name in order:
            out[name] = self._link(name)
        if self.built_resident:
            from ..link.resident import build_resident
            from ..runtime.build import RELOAD_API
            unit = self.manifest.resident
            # a console-side runtime gets the reload API (gvm_reload.c) a session needs
            keep = list(unit.keep) + (list(RELOAD_API) if unit.runtime == "target" else [])
            build_resident(self.target, [o.obj for o in self.objects if not o.owner],
                           self.resident_path, modules=[self.module_path(n) for n in order],
                           keep=keep, runtime=unit.runtime)
        elif not self.resident_path.is_file():
            raise GameVMError(f"{self.resident_path}: resident not found: build it first "
                              "(scons) or list its sources under 'resident' in "
                              f"{self.manifest.path}")
        return out

    # ------------------------------------------------------------------ incremental
    def changed(self) -> list[_Object]:
        """Objects whose source or any header they read differs from when they were built."""
        return [o for o in self.objects
                if any(_digest(p) != d for p, d in o.digests.items())]

    def rebuild(self, stale: list[_Object] | None = None) -> Rebuild:
        """Recompile the stale objects, relink their modules (in needs order).

        A module stays due for a relink until one succeeds: a compile error in one of
        its files, fixed by the next edit, still relinks what the first edit changed."""
        stale = self.changed() if stale is None else stale
        result = Rebuild()
        t = time.perf_counter()
        try:
            for o in stale:
                self._compile(o)
                result.sources.append(str(o.source))
                if o.owner:
                    self.dirty.add(o.owner)
                else:
                    result.resident = True
        except GameVMError as exc:
            result.error = str(exc)
            result.compile_s = time.perf_counter() - t
            return result
        result.compile_s = time.perf_counter() - t
        t = time.perf_counter()
        try:
            for name in self.order():
                if name in self.dirty:
                    result.modules[name] = self._link(name)
                    self.dirty.discard(name)
        except GameVMError as exc:
            result.error = str(exc)
        result.link_s = time.perf_counter() - t
        return result
