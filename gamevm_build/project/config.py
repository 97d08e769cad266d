"""The project configuration ``gamevm.json``: loading, validation, memory-map helpers.

The file keeps the seed's ``memoryMap`` shape (§4.1) and adds what the
load-budget analysis needs: the target and its media model, the frame rate,
modules (built file, region, needs), scenes (the modules that must be
resident), the flow graph (transitions with a budget in ms, streaming loads
with a deadline in frames and a per-frame CPU slice) and optional disc
positions.  ``docs/config.md`` documents every key; the published JSON Schema
is ``gamevm_build/schemas/gamevm.schema.json`` (:data:`SCHEMA_PATH`).

Every error is a :class:`~gamevm_build.errors.ConfigError` whose message
names the key path and what is expected::

    gamevm.json: transitions[2].budget_ms: expected a positive number

Paths in the file are relative to the file's directory.

The memory-map helpers (:func:`parse_size`, :func:`parse_address`,
:class:`MemoryRegion`, :func:`memory_regions`) are shared with the emulated
loader.

Examples
--------
>>> parse_size("512KB"), parse_size("1MB"), parse_size("64K"), parse_size("0x8000"), parse_size(100)
(524288, 1048576, 65536, 32768, 100)
>>> parse_address("0x80100000") == 0x80100000
True
>>> regions = memory_regions({"regions": [
...     {"name": "Resident", "start": "0x80010000", "size": "448KB"},
...     {"name": "LevelOverlay", "start": "0x80080000", "size": "512KB", "type": "overlay"}]})
>>> [(r.name, hex(r.start), r.size, r.type) for r in regions]
[('Resident', '0x80010000', 458752, 'resident'), ('LevelOverlay', '0x80080000', 524288, 'overlay')]
"""

from __future__ import annotations

import functools
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from .configfiles import config_path
from ..errors import ConfigError, InputError
from ..fileutil import check_json, read_json as _read_json

__all__ = [
    "SCHEMA_PATH", "load_schema", "parse_size", "parse_address", "MemoryRegion",
    "memory_regions", "check_overlaps", "key_path", "ModuleSpec", "Estimate", "SceneSpec",
    "TransitionSpec", "StreamSpec", "ProjectConfig", "load_config", "config_from_dict",
    "validate", "MODULE_FORMS", "forced_form",
]

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "schemas" / "gamevm.schema.json"
REGION_TYPES = ("resident", "overlay")
DRIVE_STATES = ("paused", "stopped", "reading")
#: what ``modules.NAME.form`` may force: a shipping form (gamevm_build.link.shipform.FORMS)
#: or ``auto``, the one the load-time model loads soonest
MODULE_FORMS = ("plain", "packed", "lz4", "zx0", "auto")

_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "kib": 1024, "m": 1 << 20, "mb": 1 << 20,
          "mib": 1 << 20, "g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30}
_SIZE_RE = re.compile(r"^\s*(?:(0x[0-9a-f]+)|([0-9]+(?:\.[0-9]+)?)\s*([a-z]*))\s*$", re.I)


# --------------------------------------------------------------------------- helpers

def parse_size(value: Any, *, where: str = "size") -> int:
    """Bytes from ``512KB``, ``1MB``, ``64K``, ``2M``, ``0x8000``, ``"65536"`` or an int.

    Units are binary (``1KB`` = 1024 bytes, as memory maps mean them); a
    fractional number is allowed when the result is whole (``1.5MB``).

    Raises
    ------
    ConfigError
        Naming ``where`` and what is expected.
    """
    if isinstance(value, bool):
        raise ConfigError(f"{where}: expected a size such as 512KB, 1MB, 64K or 0x8000, "
                          f"not {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ConfigError(f"{where}: expected a size >= 0, not {value}")
        return value
    m = _SIZE_RE.match(value) if isinstance(value, str) else None
    if m:
        if m.group(1):
            return int(m.group(1), 16)
        unit = m.group(3).lower()
        if unit in _UNITS:
            number = float(m.group(2)) * _UNITS[unit]
            if number == int(number):
                return int(number)
    raise ConfigError(f"{where}: expected a size such as 512KB, 1MB, 64K or 0x8000, "
                      f"not {value!r}")


def parse_address(value: Any, *, where: str = "address") -> int:
    """A 32-bit address from ``"0x80100000"``, a decimal string or an int."""
    if isinstance(value, int) and not isinstance(value, bool):
        result = value
    elif isinstance(value, str) and re.fullmatch(r"\s*(0[xX][0-9a-fA-F]+|[0-9]+)\s*", value):
        result = int(value.strip(), 0)
    else:
        raise ConfigError(f"{where}: expected an address such as \"0x80100000\", not {value!r}")
    if not 0 <= result <= 0xFFFFFFFF:
        raise ConfigError(f"{where}: address 0x{result:x} does not fit 32 bits")
    return result


@dataclass(frozen=True)
class MemoryRegion:
    """One region of ``memoryMap.regions``: a block of RAM modules are loaded into.

    ``type`` is ``resident`` (modules stay once loaded; the default) or
    ``overlay`` (one module at a time; loading another evicts it).  ``pair``
    names the other half of a double buffer; ``reserved`` bytes are kept free
    (stack, heap).
    """

    name: str
    start: int
    size: int
    type: str = "resident"
    pair: str | None = None
    reserved: int = 0

    @property
    def end(self) -> int:
        return self.start + self.size

    @property
    def overlay(self) -> bool:
        return self.type == "overlay"

    @property
    def capacity(self) -> int:
        """Bytes available to modules (size minus reserved)."""
        return max(self.size - self.reserved, 0)

    def contains(self, addr: int, size: int = 1) -> bool:
        return self.start <= addr and addr + size <= self.end

    def overlaps(self, other: "MemoryRegion") -> bool:
        return self.start < other.end and other.start < self.end


def check_overlaps(regions: Iterable[MemoryRegion], *, where: str = "memoryMap.regions") -> None:
    """Raise ConfigError naming the first two regions that overlap."""
    ordered = sorted(enumerate(regions), key=lambda ir: (ir[1].start, ir[0]))
    for (i, a), (j, b) in zip(ordered, ordered[1:]):
        if a.overlaps(b):
            if j < i:
                (i, a), (j, b) = (j, b), (i, a)
            raise ConfigError(
                f"{where}[{j}]: region '{b.name}' [0x{b.start:08x}, 0x{b.end:08x}) overlaps "
                f"region '{a.name}' [0x{a.start:08x}, 0x{a.end:08x}) ({where}[{i}]); "
                "move or shrink one of them")


def memory_regions(memory_map: Mapping, *, where: str = "memoryMap", profile=None) -> list[MemoryRegion]:
    """The :class:`MemoryRegion` list of a ``memoryMap`` object, checked.

    Checks: every region has a name, start and size; names are unique; no two
    regions overlap; ``pair`` names another overlay region; with ``profile``,
    every region lies in the target's RAM.
    """
    if not isinstance(memory_map, Mapping) or not isinstance(memory_map.get("regions"), list):
        raise ConfigError(f"{where}.regions: expected a list of regions")
    out: list[MemoryRegion] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(memory_map["regions"]):
        w = f"{where}.regions[{i}]"
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{w}: expected an object with name, start and size")
        for key in ("name", "start", "size"):
            if key not in raw:
                raise ConfigError(f"{w}: missing required key '{key}'")
        name = raw["name"]
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{w}.name: expected a non-empty string")
        if name in seen:
            raise ConfigError(f"{w}.name: region '{name}' is already defined by "
                              f"{where}.regions[{seen[name]}]")
        seen[name] = i
        rtype = raw.get("type", "resident")
        if rtype not in REGION_TYPES:
            raise ConfigError(f"{w}.type: expected resident or overlay, not {rtype!r}")
        region = MemoryRegion(name, parse_address(raw["start"], where=f"{w}.start"),
                              parse_size(raw["size"], where=f"{w}.size"), rtype,
                              raw.get("pair"), parse_size(raw.get("reserved", 0),
                                                          where=f"{w}.reserved"))
        if region.size == 0:
            raise ConfigError(f"{w}.size: expected a size > 0")
        if region.end > 1 << 32:
            raise ConfigError(f"{w}: region ends past the 32-bit address space")
        if region.reserved > region.size:
            raise ConfigError(f"{w}.reserved: {region.reserved} bytes is more than the region's "
                              f"size ({region.size} bytes)")
        if profile is not None and profile.ram_region_for(region.start, region.size) is None:
            ram = ", ".join(f"{r.name} [0x{r.start:08x}, 0x{r.end:08x})" for r in profile.ram)
            raise ConfigError(f"{w}: region '{name}' [0x{region.start:08x}, 0x{region.end:08x}) "
                              f"is not inside the RAM of target {profile.name} ({ram})")
        out.append(region)
    check_overlaps(out, where=f"{where}.regions")
    by_name = {r.name: r for r in out}
    for i, r in enumerate(out):
        if r.pair is None:
            continue
        w = f"{where}.regions[{i}].pair"
        other = by_name.get(r.pair)
        if other is None or other is r:
            raise ConfigError(f"{w}: expected the name of another region, not '{r.pair}'")
        if not (r.overlay and other.overlay):
            raise ConfigError(f"{w}: a double buffer pairs two overlay regions; "
                              f"'{r.name}' and '{other.name}' must both have type overlay")
        if other.pair not in (None, r.name):
            raise ConfigError(f"{w}: '{other.name}' is already paired with '{other.pair}'")
    # make pairs symmetric
    pairs = {r.name: r.pair for r in out if r.pair}
    pairs.update({p: n for n, p in list(pairs.items())})
    return [MemoryRegion(r.name, r.start, r.size, r.type, pairs.get(r.name), r.reserved)
            for r in out]


def key_path(parts: Iterable) -> str:
    """``transitions[2].budget_ms`` from ``["transitions", 2, "budget_ms"]``.

    >>> key_path(["modules", "level1", "region"]), key_path(["memoryMap", "regions", 0, "size"])
    ('modules.level1.region', 'memoryMap.regions[0].size')
    """
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        elif re.fullmatch(r"[A-Za-z_$][A-Za-z0-9_]*", str(p)):
            out += ("." if out else "") + str(p)
        else:
            out += f"[{json.dumps(str(p))}]"
    return out or "(top level)"


def forced_form(data: Any, module: str, *, where: str = "gamevm.json") -> str | None:
    """The shipping form ``modules.<module>.form`` of a configuration parsed from JSON
    forces, or None (no such module, or no ``form``).

    What the SCons tool reads while SConscripts are read: one key, checked as the schema
    checks it, without validating (or importing the validators for) the whole file.

    >>> forced_form({"modules": {"boss": {"region": "B", "form": "plain"}}}, "boss")
    'plain'
    >>> forced_form({"modules": {"boss": {"region": "B"}}}, "level1") is None
    True

    Raises
    ------
    ConfigError
        The value is not one of :data:`MODULE_FORMS`, naming the key.
    """
    modules = data.get("modules") if isinstance(data, Mapping) else None
    raw = modules.get(module) if isinstance(modules, Mapping) else None
    if not isinstance(raw, Mapping) or "form" not in raw:
        return None
    form = raw["form"]
    if not isinstance(form, str) or form not in MODULE_FORMS:
        raise ConfigError(f"{where}: {key_path(['modules', module, 'form'])}: expected a "
                          f"shipping form: {', '.join(map(json.dumps, MODULE_FORMS[:-1]))} or "
                          f"{json.dumps(MODULE_FORMS[-1])}, not {json.dumps(form)}")
    return form


# --------------------------------------------------------------------------- schema

@functools.lru_cache(maxsize=1)
def load_schema() -> dict:
    """The published JSON Schema of ``gamevm.json``."""
    return json.loads(SCHEMA_PATH.read_text())


def _inline_refs(node, defs: dict):
    """The schema with every ``#/$defs/...`` reference replaced by its definition.

    Same meaning (the published schema has no recursive definitions), but
    jsonschema validates it about 1.5x faster: large projects have thousands
    of modules.
    """
    if isinstance(node, dict):
        ref = node.get("$ref", "")
        if ref.startswith("#/$defs/"):
            out = dict(_inline_refs(defs[ref[len("#/$defs/"):]], defs))
            out.update({k: _inline_refs(v, defs) for k, v in node.items() if k != "$ref"})
            return out
        return {k: _inline_refs(v, defs) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inline_refs(x, defs) for x in node]
    return node


@functools.lru_cache(maxsize=None)
def _validator(name: str = SCHEMA_PATH.name):
    """A validator for the published schema ``name`` (gamevm.json's, or scenarios')."""
    import jsonschema

    schema = load_schema() if name == SCHEMA_PATH.name else \
        json.loads(SCHEMA_PATH.with_name(name).read_text())
    return jsonschema.Draft202012Validator(_inline_refs(schema, schema.get("$defs", {})))


#: the keywords that constrain only values of one JSON type (any other value passes them)
_TYPE_KEYWORDS = {
    "integer": {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"},
    "string": {"pattern", "minLength", "maxLength"},
    "object": {"properties", "additionalProperties", "required", "propertyNames",
               "minProperties", "maxProperties"},
    "array": {"items", "uniqueItems", "minItems", "maxItems"},
}
_TYPE_KEYWORDS["number"] = _TYPE_KEYWORDS["integer"]
_ANNOTATIONS = {"x-expected", "description", "title"}
_LITERALS = {"enum", "const", "default", "examples"}     # values, not schemas


def _merge_type_branches(node):
    """The schema with each ``anyOf`` of branches of distinct types made one schema.

    ``anyOf: [{type: integer, minimum: 0}, {type: string, pattern: P}]`` means
    ``{type: [integer, string], minimum: 0, pattern: P}``: a keyword of one type passes
    every value of another.  fastjsonschema checks an ``anyOf`` by raising from each
    branch that fails (a size given as a number fails the string branch), and each
    raise formats its message from the validator's locals: most of its time on large
    projects.  The merged schema raises only on invalid data.
    """
    if isinstance(node, list):
        return [_merge_type_branches(x) for x in node]
    if not isinstance(node, dict):
        return node
    node = {k: v if k in _LITERALS else {p: _merge_type_branches(s) for p, s in v.items()}
            if k == "properties" else _merge_type_branches(v) for k, v in node.items()}
    branches = node.get("anyOf")
    if not branches or set(node) - _ANNOTATIONS - {"anyOf"}:
        return node
    types: list[str] = []
    merged: dict = {}
    for b in branches:
        t = b.get("type") if isinstance(b, dict) else None
        if (not isinstance(t, str) or t not in _TYPE_KEYWORDS or t in types
                or {t, *types} >= {"integer", "number"}
                or set(b) - _TYPE_KEYWORDS[t] - _ANNOTATIONS - {"type"}):
            return node
        types.append(t)
        merged.update((k, v) for k, v in b.items() if k in _TYPE_KEYWORDS[t])
    return {"type": types, **merged}


def _const_as_enum(node):
    """The schema with each ``const: v`` written ``enum: [v]`` (the same meaning).

    fastjsonschema (2.22) compiles ``const`` only with detailed exceptions, which
    triple the code it compiles: 23 ms instead of 8 ms in every process that checks a
    config (a no-op ``scons`` does)."""
    if isinstance(node, list):
        return [_const_as_enum(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: v if k in _LITERALS else {p: _const_as_enum(s) for p, s in v.items()}
           if k == "properties" else _const_as_enum(v) for k, v in node.items()}
    if "const" in out and "enum" not in out:
        out["enum"] = [out.pop("const")]
    return out


@functools.lru_cache(maxsize=None)
def _fast_check(name: str = SCHEMA_PATH.name):
    """The schema ``name`` compiled to Python by fastjsonschema: raises on invalid data.

    It says only that data is invalid, ten times faster than jsonschema says why; a
    config it refuses is described by jsonschema (:func:`_validator`)."""
    import fastjsonschema

    schema = load_schema() if name == SCHEMA_PATH.name else \
        json.loads(SCHEMA_PATH.with_name(name).read_text())
    fast = _const_as_enum(_merge_type_branches(_inline_refs(schema, schema.get("$defs", {}))))
    fast.pop("$schema", None)            # the same keywords mean the same in draft 7
    return fastjsonschema.compile(fast, use_default=False, use_formats=False,
                                  detailed_exceptions=False)


_TYPE_WORDS = {"integer": "a whole number", "number": "a number", "string": "a string",
               "object": "an object", "array": "a list", "boolean": "true or false",
               "null": "null"}
_X_EXPECTED_VALIDATORS = {"type", "pattern", "anyOf", "oneOf", "enum", "minimum", "maximum",
                          "exclusiveMinimum", "const", "minLength"}


def _message(error) -> tuple[str, str]:
    """(key path, message) for one jsonschema error."""
    path = list(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    v = error.validator
    if v == "required":
        missing = [k for k in error.validator_value if k not in error.instance]
        return key_path(path), f"missing required key '{missing[0]}'"
    if v == "additionalProperties":
        known = sorted(schema.get("properties", {}))
        extra = sorted(k for k in error.instance if k not in schema.get("properties", {}))
        return key_path(path + [extra[0]]), (
            f"unknown key (expected one of: {', '.join(known)})" if known else "unknown key")
    if "propertyNames" in error.absolute_schema_path and isinstance(error.instance, str):
        return key_path(path + [error.instance]), (
            "invalid name: expected letters, digits, '_', '.', '-' starting with a letter or '_'")
    if v in ("anyOf", "oneOf") and error.context:
        deeper = [e for e in error.context if len(e.absolute_path) > len(path)]
        if deeper:
            return _message(max(deeper, key=lambda e: len(e.absolute_path)))
    if "x-expected" in schema and v in _X_EXPECTED_VALIDATORS:
        return key_path(path), f"expected {schema['x-expected']}"
    if v == "type":
        types = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        return key_path(path), "expected " + " or ".join(_TYPE_WORDS.get(t, t) for t in types)
    if v == "exclusiveMinimum":
        return key_path(path), (f"expected a positive number" if error.validator_value == 0
                                else f"expected a number > {error.validator_value}")
    if v == "minimum":
        return key_path(path), f"expected a number >= {error.validator_value}"
    if v == "maximum":
        return key_path(path), f"expected a number <= {error.validator_value}"
    if v in ("maxItems", "maxProperties", "maxLength"):
        what = {"maxItems": "item", "maxProperties": "entr", "maxLength": "character"}[v]
        n = error.validator_value
        plural = ("ies" if n != 1 else "y") if what == "entr" else ("s" if n != 1 else "")
        return key_path(path), f"expected at most {n} {what}{plural}"
    if v == "enum":
        return key_path(path), "expected one of " + ", ".join(map(json.dumps, error.validator_value))
    if v == "const":
        return key_path(path), f"expected {json.dumps(error.validator_value)}"
    if v == "minItems":
        n = error.validator_value
        return key_path(path), f"expected at least {n} item" + ("" if n == 1 else "s")
    if v == "minProperties":
        return key_path(path), f"expected at least {error.validator_value} entry"
    if v == "uniqueItems":
        return key_path(path), "expected no duplicate items"
    if v in ("anyOf", "oneOf") and error.context:
        deepest = max(error.context, key=lambda e: len(e.absolute_path))
        return _message(deepest)
    return key_path(path), error.message


def validate(data: Any, *, where: str = "gamevm.json", schema: str = SCHEMA_PATH.name) -> None:
    """Validate ``data`` against the published schema (``schema``: another file of
    ``gamevm_build/schemas``, e.g. ``scenario.schema.json``).

    Raises
    ------
    ConfigError
        Listing every error as ``key.path: expected ...``, sorted by key path.
    """
    import fastjsonschema

    try:
        _fast_check(schema)(data)
        return
    except fastjsonschema.JsonSchemaException:
        pass                             # jsonschema says why (and is the reference)
    errors = sorted({_message(e) for e in _validator(schema).iter_errors(data)})
    if not errors:
        return
    if len(errors) == 1:
        raise ConfigError(f"{where}: {errors[0][0]}: {errors[0][1]}")
    lines = "\n".join(f"  {p}: {m}" for p, m in errors)
    raise ConfigError(f"{where}: {len(errors)} errors:\n{lines}")


# --------------------------------------------------------------------------- the project

@dataclass(frozen=True)
class Estimate:
    """A module not built yet, described by its expected sizes and counts."""

    size: int                             # bytes on the medium
    image: int                            # bytes of RAM (code + data + bss)
    bss: int = 0
    relocations: Mapping[str, int] = field(default_factory=dict)   # type name (or "*") -> count
    imports: tuple[str, ...] = ()
    import_count: int = 0
    exports: tuple[str, ...] = ()
    constructors: int = 0


@dataclass(frozen=True)
class ModuleSpec:
    name: str
    region: str
    file: Path | None = None
    estimate: Estimate | None = None
    needs: tuple[str, ...] = ()
    init_ms: float = 0.0
    #: the shipping form ``modules.NAME.form`` forces (one of :data:`MODULE_FORMS`), or
    #: None: the build's own (``--form``, ``GAMEVM_FORM``, else plain)
    form: str | None = None

    @property
    def form_key(self) -> str:
        """The key that forces the form, as messages and reports name it."""
        return f"modules.{self.name}.form"


@dataclass(frozen=True)
class SceneSpec:
    name: str
    modules: tuple[str, ...]
    description: str = ""
    #: modules the scene may load in the background (seed §5.1 pre-fetching), any part of
    #: them, any number of times, or not at all: budgeted as optional loads
    prefetch: tuple[str, ...] = ()


@dataclass(frozen=True)
class TransitionSpec:
    index: int
    source: str
    target: str
    budget_ms: float
    description: str = ""
    likelihood: float | None = None       # relative frequency (disc layout weights)

    @property
    def key(self) -> str:
        return f"transitions[{self.index}]"

    @property
    def key_name(self) -> str:
        """``from -> to``: how disc layouts and reports name the transition's load."""
        return f"{self.source} -> {self.target}"


@dataclass(frozen=True)
class StreamSpec:
    index: int
    scene: str
    modules: tuple[str, ...]
    deadline_frames: int
    cpu_slice_ms: float
    description: str = ""

    @property
    def key(self) -> str:
        return f"streams[{self.index}]"


@dataclass
class ProjectConfig:
    """A validated ``gamevm.json``."""

    path: Path | None
    target: str
    media: str
    drive: str
    frame_rate: int
    regions: list[MemoryRegion]
    modules: dict[str, ModuleSpec]
    scenes: dict[str, SceneSpec]
    start: str
    transitions: list[TransitionSpec]
    streams: list[StreamSpec]
    positions: dict[str, int]
    resident_file: Path | None = None
    resident_size: int | None = None
    resident_region: str | None = None
    raw: dict = field(default_factory=dict, repr=False)
    #: load name ("boot", "from -> to", "streams[i]") -> {module: LBA of the copy it reads},
    #: for modules with several copies on disc (from the disc layout file)
    reads: dict = field(default_factory=dict)
    #: where the head is when the game starts (after the boot executable), or None (unknown)
    boot_head: int | None = None
    #: (lo, hi): the sectors the layout's data occupies; an unknown head is in there
    span: tuple | None = None
    layout_file: Path | None = None
    layout_missing: bool = False

    @property
    def where(self) -> str:
        return str(self.path) if self.path else "<config>"

    @property
    def base_dir(self) -> Path:
        return self.path.parent if self.path else Path(".")

    def region(self, name: str) -> MemoryRegion:
        for r in self.regions:
            if r.name == name:
                return r
        raise KeyError(name)


def _estimate(raw: Mapping, where: str) -> Estimate:
    size = parse_size(raw["size"], where=f"{where}.size")
    bss = parse_size(raw.get("bss", 0), where=f"{where}.bss")
    image = parse_size(raw.get("image", size + bss), where=f"{where}.image")
    rel = raw.get("relocations", 0)
    relocations = {"*": rel} if isinstance(rel, int) else dict(sorted(rel.items()))
    imp = raw.get("imports", 0)
    imports = () if isinstance(imp, int) else tuple(imp)
    return Estimate(size, image, bss, relocations, imports,
                    imp if isinstance(imp, int) else len(imp),
                    tuple(raw.get("exports", ())), int(raw.get("constructors", 0)))






def _is_lba(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _layout_file(layout, names, transitions, n_streams):
    """``(positions, (reads, boot_head, span))`` of a disc layout file, or ``(None, message)``.

    The file is ``{"positions": {module: sector}}`` (a bare ``{module: sector}`` object
    is accepted too), optionally with ``"boot_head": sector``, ``"span": [lo, hi]`` (the
    sectors its data occupies) and ``"reads": [{"load": "from -> to" | "streams[i]" |
    "boot", "positions": {module: sector}}]`` naming the copy each load reads when a
    module is on the disc more than once (``gamevm layout`` writes it; docs/layout.md).
    """
    expected = "expected an object {\"positions\": {module: sector}}"
    if not isinstance(layout, dict):
        return None, expected
    lay = layout.get("positions", layout)
    if not isinstance(lay, dict) or not all(_is_lba(v) for v in lay.values()):
        return None, expected
    boot_head = layout.get("boot_head") if "positions" in layout else None
    if boot_head is not None and not _is_lba(boot_head):
        return None, "boot_head: expected a sector number (LBA) >= 0"
    span = layout.get("span") if "positions" in layout else None
    if span is not None:
        if not (isinstance(span, list) and len(span) == 2 and all(map(_is_lba, span))
                and span[0] < span[1] and all(v < span[1] for v in lay.values())):
            return None, "span: expected [first sector, end sector] holding every position"
        span = (span[0], span[1])
    reads: dict[str, dict[str, int]] = {}
    raw_reads = layout.get("reads", []) if "positions" in layout else []
    loads = {"boot"} | set(transitions) | {f"streams[{i}]" for i in range(n_streams)}
    if not isinstance(raw_reads, list):
        return None, "reads: expected a list of {\"load\": ..., \"positions\": {...}}"
    for i, r in enumerate(raw_reads):
        if not isinstance(r, dict) or r.get("load") not in loads or not isinstance(
                r.get("positions"), dict) or not all(
                m in names and _is_lba(v) for m, v in r["positions"].items()):
            return None, (f"reads[{i}]: expected {{\"load\": \"boot\", \"from -> to\" or "
                          f"\"streams[i]\" of this configuration, \"positions\": {{module: "
                          f"sector}}}} naming configured modules")
        reads.setdefault(r["load"], {}).update(r["positions"])
    return {k: v for k, v in lay.items() if k in names}, (reads, boot_head, span)


def load_config(path, *, module_files: Mapping[str, Any] | None = None,
                resident_file=None, layout_file=None) -> ProjectConfig:
    """Load and validate ``gamevm.json`` at ``path``.

    Parameters
    ----------
    module_files : mapping, optional
        Module name -> built file, overriding the files the config names (the
        SCons builder passes the modules it built).
    resident_file : path, optional
        Overrides ``resident.file``.
    layout_file : path, optional
        A disc layout file (``gamevm layout``) that replaces ``disc.layout`` and
        ``disc.positions``: the build feeds the disc it laid out to the budget check.

    Raises
    ------
    InputError
        The file cannot be read.
    ConfigError
        It is not valid JSON or breaks the schema or a cross-reference.
    """
    path = Path(path)
    data = _read_json(path, "project configuration")
    return config_from_dict(data, path=path, module_files=module_files,
                            resident_file=resident_file, layout_file=layout_file)


def config_from_dict(data: Any, *, path=None, base_dir=None,
                     module_files: Mapping[str, Any] | None = None,
                     resident_file=None, layout_file=None) -> ProjectConfig:
    """Validate a configuration already parsed from JSON (see :func:`load_config`).

    ``path`` (or ``base_dir``) anchors the relative paths inside it.
    """
    from .media import default_model_for, get_model, models_for
    from .profile import load_profile

    path = Path(path) if path is not None else None
    where = str(path) if path else "<config>"
    base = Path(base_dir) if base_dir is not None else (path.parent if path else Path("."))
    check_json(data, where)       # NaN, Infinity, absurd nesting: before anything compares
    validate(data, where=where)

    def fail(key: str, message: str):
        raise ConfigError(f"{where}: {key}: {message}")

    try:
        profile = load_profile(data["target"])
    except ConfigError as exc:
        fail("target", str(exc))
    media = data.get("media", {})
    if isinstance(media, str):
        media = {"model": media}
    if "model" in media:
        try:
            model = get_model(media["model"])
        except ConfigError as exc:
            fail("media.model", str(exc))
        if profile.name not in model.targets:
            ok = ", ".join(m.name for m in models_for(profile)) or "none"
            fail("media.model", f"'{model.name}' times {', '.join(model.targets)} media, not "
                                f"target {profile.name}; choose one of: {ok}")
    else:
        try:
            model = default_model_for(profile)
        except ConfigError as exc:
            fail("media.model", str(exc))
    frame_rate = int(data.get("frame_rate", 60))

    try:
        regions = memory_regions(data["memoryMap"], profile=profile)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    region_names = {r.name for r in regions}

    def region_ref(key: str, name: str) -> str:
        if name not in region_names:
            fail(key, f"no region '{name}' in memoryMap.regions (regions: "
                      f"{', '.join(sorted(region_names))})")
        return name

    overrides = {k: Path(v) for k, v in (module_files or {}).items()}
    unknown = sorted(set(overrides) - set(data["modules"]))
    if unknown:
        raise ConfigError(f"{where}: modules: module files given for {', '.join(unknown)}, "
                          f"which the configuration does not list")
    modules: dict[str, ModuleSpec] = {}
    names = set(data["modules"])
    for name, raw in data["modules"].items():
        key = f"modules.{name}"
        for i, need in enumerate(raw.get("needs", ())):
            if need not in names:
                fail(f"{key}.needs[{i}]", f"no module '{need}' in modules")
            if need == name:
                fail(f"{key}.needs[{i}]", "a module cannot need itself")
        file = overrides.get(name)
        if file is None and "file" in raw:
            file = config_path(base, raw["file"])
        modules[name] = ModuleSpec(
            name=name, region=region_ref(f"{key}.region", raw["region"]), file=file,
            estimate=_estimate(raw["estimate"], f"{key}.estimate")
            if "estimate" in raw and file is None else None,
            needs=tuple(raw.get("needs", ())), init_ms=float(raw.get("init_ms", 0.0)),
            form=raw.get("form"))

    scenes: dict[str, SceneSpec] = {}
    for name, raw in data["scenes"].items():
        for key in ("modules", "prefetch"):
            for i, m in enumerate(raw.get(key, ())):
                if m not in names:
                    fail(f"scenes.{name}.{key}[{i}]", f"no module '{m}' in modules")
        scenes[name] = SceneSpec(name, tuple(raw["modules"]), raw.get("description", ""),
                                 tuple(raw.get("prefetch", ())))
    start = data.get("start", next(iter(data["scenes"])))
    if start not in scenes:
        fail("start", f"no scene '{start}' in scenes")

    transitions: list[TransitionSpec] = []
    seen_pairs: dict[tuple[str, str], int] = {}
    for i, raw in enumerate(data.get("transitions", ())):
        for end in ("from", "to"):
            if raw[end] not in scenes:
                fail(f"transitions[{i}].{end}", f"no scene '{raw[end]}' in scenes")
        pair = (raw["from"], raw["to"])
        if pair in seen_pairs:
            fail(f"transitions[{i}]", f"duplicates transitions[{seen_pairs[pair]}] "
                                      f"({pair[0]} -> {pair[1]}); give each transition one budget")
        seen_pairs[pair] = i
        transitions.append(TransitionSpec(i, raw["from"], raw["to"], float(raw["budget_ms"]),
                                          raw.get("description", ""),
                                          float(raw["likelihood"]) if "likelihood" in raw
                                          else None))

    frame_ms = 1000.0 / frame_rate
    streams: list[StreamSpec] = []
    for i, raw in enumerate(data.get("streams", ())):
        if raw["scene"] not in scenes:
            fail(f"streams[{i}].scene", f"no scene '{raw['scene']}' in scenes")
        for j, m in enumerate(raw["modules"]):
            if m not in names:
                fail(f"streams[{i}].modules[{j}]", f"no module '{m}' in modules")
        if raw["cpu_slice_ms"] >= frame_ms:
            fail(f"streams[{i}].cpu_slice_ms", f"expected less than one frame ({frame_ms:.1f} ms "
                                               f"at {frame_rate} Hz)")
        streams.append(StreamSpec(i, raw["scene"], tuple(raw["modules"]),
                                  int(raw["deadline_frames"]), float(raw["cpu_slice_ms"]),
                                  raw.get("description", "")))

    positions: dict[str, int] = {}
    reads: dict[str, dict[str, int]] = {}
    span = None
    disc = data.get("disc", {})
    if layout_file is not None:
        disc = {k: v for k, v in disc.items() if k not in ("positions", "boot_head")}
        disc["layout"] = str(Path(layout_file).absolute())
    boot_head = disc.get("boot_head")
    layout_path = config_path(base, disc["layout"]) if "layout" in disc else None
    # a layout file not written yet (the disc is built with the modules) is reported by
    # gamevm_build.analysis.model.load_project, like a module file that is not built yet
    # os.path: False, not an OSError, for a name too long for the OS
    layout_missing = layout_path is not None and not os.path.exists(layout_path)
    if layout_missing and layout_file is not None:
        # named on the command line (or by the build): it must be there
        raise InputError(f"{layout_file}: disc layout not found (lay the disc out first: "
                         "gamevm layout, or scons)")
    if layout_path is not None and not layout_missing:
        layout = _read_json(layout_path, "disc layout")
        lay, extra = _layout_file(layout, names, {t.key_name for t in transitions},
                                  len(streams))
        if lay is None:
            fail("disc.layout", f"{layout_path}: {extra}")
        positions.update(lay)
        reads, file_boot_head, span = extra
        if boot_head is None:
            boot_head = file_boot_head
        if not disc.get("data_only", True):
            span = None
    for m, lba in disc.get("positions", {}).items():
        if m not in names:
            fail(f"disc.positions.{m}", f"no module '{m}' in modules")
        positions[m] = lba
    # two modules cannot start at one sector; extents (which need the file sizes) are
    # checked by gamevm_build.analysis.model.load_project
    at: dict[int, str] = {}
    for m, lba in disc.get("positions", {}).items():
        if lba in at:
            fail(f"disc.positions.{m}", f"sector {lba} is already where module '{at[lba]}' "
                                        "starts; two modules cannot share disc sectors")
        at[lba] = m

    resident = data.get("resident", {})
    res_file = Path(resident_file) if resident_file is not None else (
        config_path(base, resident["file"]) if "file" in resident else None)
    res_region = region_ref("resident.region", resident["region"]) if "region" in resident else None
    res_size = parse_size(resident["size"], where="resident.size") if "size" in resident else None

    return ProjectConfig(
        path=path, target=profile.name, media=model.name, drive=media.get("drive", "paused"),
        frame_rate=frame_rate, regions=regions, modules=modules, scenes=scenes, start=start,
        transitions=transitions, streams=streams, positions=dict(sorted(positions.items())),
        resident_file=res_file, resident_size=res_size, resident_region=res_region, raw=data,
        reads=reads, boot_head=boot_head, layout_file=layout_path, layout_missing=layout_missing,
        span=span)
