"""What the analyzer knows about a module and the resident, and reading them for a project.

:class:`ModuleInfo` is the analyzer's summary of one module: sizes,
relocation counts by type, imports, exports, needs and constructors.  It
comes from a built module file (:func:`module_info`, via
:func:`gamevm_build.link.module.read_module`) or from an ``estimate`` in the
project configuration (:func:`estimated_module`), so budgets can be planned
before a module is written.

Examples
--------
>>> from gamevm_build.project.config import Estimate
>>> m = estimated_module("boss", Estimate(size=40960, image=45056, bss=4096,
...                                       relocations={"*": 300}, import_count=12))
>>> m.file_size, m.copy_size, m.bss_size, m.import_count, m.estimated
(40960, 40960, 4096, 12, True)
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from gamevm_build.project.config import Estimate, ProjectConfig, load_config
from gamevm_build.errors import ConfigError, InputError

__all__ = ["ModuleInfo", "ResidentInfo", "Project", "module_info", "estimated_module",
           "resident_info", "load_project", "check_position_extents"]


@dataclass(frozen=True)
class ModuleInfo:
    """One module as the analyzer sees it (sizes in bytes)."""

    name: str
    file_size: int                       # bytes read from the medium
    image_size: int                      # bytes of RAM: code, data and bss
    copy_size: int                       # bytes copied into place (file-backed sections)
    bss_size: int                        # bytes zeroed
    relocations: Mapping[str, int]       # relocation type name -> count ("*": unknown type)
    imports: tuple[str, ...] = ()        # imported symbol names (strong and weak)
    weak_imports: frozenset = frozenset()
    import_count: int = 0                # distinct imports to bind
    exports: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()          # needed modules named by the file's metadata
    constructors: int = 0
    align: int = 4
    path: str | None = None
    estimated: bool = False
    local_symbols: int = 0               # symbols a loader checks besides exports and imports
    metadata_bytes: int = 0              # the metadata note a loader parses
    form: str = "plain"                  # shipping form (gamevm_build.link.shipform)
    decode: tuple = (0, 0, 0)            # compressed forms: the block as its decoder works it
    sections: int = 8                    # loadable sections (an estimate: every kind)

    @property
    def footprint(self) -> int:
        """RAM bytes the module takes in a region (image size rounded up to its alignment)."""
        a = max(self.align, 1)
        return -(-self.image_size // a) * a

    @property
    def relocation_count(self) -> int:
        return sum(self.relocations.values())


@dataclass(frozen=True)
class ResidentInfo:
    """The resident kernel: where it sits and the symbols it exports."""

    path: str | None
    start: int | None
    end: int | None
    exports: frozenset = frozenset()

    @property
    def size(self) -> int:
        return (self.end - self.start) if self.start is not None and self.end is not None else 0


@dataclass
class Project:
    """A configuration with its modules and resident read."""

    config: ProjectConfig
    modules: dict[str, ModuleInfo]
    resident: ResidentInfo | None = None
    extra: dict = field(default_factory=dict)


def module_info(module, *, name: str | None = None) -> ModuleInfo:
    """The :class:`ModuleInfo` of a parsed :class:`gamevm_build.link.module.Module`."""
    counts = Counter(r.type_name for r in module.relocations)
    ctors = sum(int(v[1]) for k, v in module.init.items() if k in ("init_array", "ctors"))
    return ModuleInfo(
        name=name or module.name, file_size=module.file_size, image_size=module.load_size,
        copy_size=module.copy_bytes, bss_size=module.zero_bytes,
        relocations=dict(sorted(counts.items())), imports=tuple(sorted(module.imports)),
        weak_imports=frozenset(n for n, i in module.imports.items() if i.weak),
        import_count=len(module.imports), exports=tuple(sorted(module.exports)),
        needs=tuple(module.needs), constructors=ctors, align=module.align, path=module.path,
        local_symbols=module.local_symbols, metadata_bytes=module.metadata_size,
        form=module.form, decode=module.decode_stats, sections=len(module.sections))


def estimated_module(name: str, estimate: Estimate, *, align: int = 4) -> ModuleInfo:
    """The :class:`ModuleInfo` of a module described by an ``estimate`` in the configuration."""
    return ModuleInfo(
        name=name, file_size=estimate.size, image_size=estimate.image,
        copy_size=max(estimate.image - estimate.bss, 0), bss_size=estimate.bss,
        relocations=dict(estimate.relocations), imports=tuple(estimate.imports),
        import_count=estimate.import_count, exports=tuple(estimate.exports),
        constructors=estimate.constructors, align=align, estimated=True)


def resident_info(path, target: str) -> ResidentInfo:
    """Read the resident kernel ELF at ``path`` (extent of its RAM segments, exports)."""
    from gamevm_build.link.resident import read_resident

    res = read_resident(path, target)
    starts = [v for v, _, m, _ in res.segments if m]
    return ResidentInfo(str(path), min(starts) if starts else None, res.end if starts else None,
                        frozenset(res.symbols))


def load_project(config, *, module_files: Mapping[str, str] | None = None,
                 resident_file=None, layout_file=None) -> Project:
    """Read a project: its configuration (a path or a ProjectConfig), modules and resident.

    Raises
    ------
    ConfigError, InputError
        Invalid configuration, or a module or resident file that is missing,
        malformed or built for another target.
    """
    from gamevm_build.link.module import read_module

    if not isinstance(config, ProjectConfig):
        config = load_config(config, module_files=module_files, resident_file=resident_file,
                             layout_file=layout_file)
    if config.layout_missing:
        raise InputError(f"{config.where}: disc.layout: {config.layout_file}: disc layout not "
                         "found (lay the disc out first: gamevm layout, or scons)")
    modules: dict[str, ModuleInfo] = {}
    for name, spec in config.modules.items():
        if spec.file is not None:
            try:
                mod = read_module(spec.file, expect_target=config.target)
            except InputError as exc:
                hint = "" if os.path.exists(spec.file) else " (build the modules first, e.g. scons)"
                raise type(exc)(f"{config.where}: modules.{name}.file: {exc}{hint}") from None
            modules[name] = module_info(mod, name=name)
        elif spec.estimate is not None:
            modules[name] = estimated_module(name, spec.estimate)
        else:
            # SCons builders supply every module they build; the CLI needs a file for it
            raise ConfigError(
                f"{config.where}: modules.{name}.file: no file for module '{name}': give "
                f"modules.{name}.file (the built module) or modules.{name}.estimate in the "
                f"config, or --module {name}=FILE on the command line")
    resident = None
    if config.resident_file is not None:
        try:
            resident = resident_info(config.resident_file, config.target)
        except InputError as exc:
            hint = "" if os.path.exists(config.resident_file) else \
                " (build the kernel first, e.g. scons)"
            raise type(exc)(f"{config.where}: resident.file: {exc}{hint}") from None
    elif config.resident_size is not None:
        resident = ResidentInfo(None, None, None, frozenset())
    check_position_extents(config, modules)
    return Project(config, modules, resident)


def check_position_extents(config: ProjectConfig, modules: Mapping[str, ModuleInfo]) -> None:
    """ConfigError naming the first two modules whose ``disc.positions`` extents overlap.

    Only positions the configuration gives itself are checked: a disc layout file
    (``disc.layout``) may place copies and is checked by the tool that wrote it.
    """
    from gamevm_build.project.media import get_model

    given = (config.raw.get("disc") or {}).get("positions") or {}
    if not given:
        return
    sector = get_model(config.media).sector_size
    extents = sorted((lba, -(-max(modules[m].file_size, 1) // sector), m)
                     for m, lba in given.items() if m in modules)
    for (a, na, ma), (b, _nb, mb) in zip(extents, extents[1:]):
        if a + na > b:
            raise ConfigError(
                f"{config.where}: disc.positions.{mb}: module '{mb}' at sector {b} overlaps "
                f"module '{ma}' (sectors {a}-{a + na - 1}); move one of them past the other")

