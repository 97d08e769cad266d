"""gamevm.json: schema validation with key paths, cross-references, memory-map helpers."""

from __future__ import annotations

import copy
import doctest
import json
from pathlib import Path

import jsonschema
import pytest

from gamevm_build.project import config as cfgmod
from gamevm_build.project.config import (SCHEMA_PATH, MemoryRegion, check_overlaps, config_from_dict,
                                 key_path, load_config, load_schema, memory_regions,
                                 parse_address, parse_size, validate)
from gamevm_build.errors import ConfigError, InputError
from gamevm_build.project.profile import load_profile

REPO = Path(__file__).resolve().parents[1]

BASE = {
    "target": "psx",
    "memoryMap": {"regions": [
        {"name": "Resident", "start": "0x80010000", "size": "448KB"},
        {"name": "LevelA", "start": "0x80080000", "size": "256KB", "type": "overlay",
         "pair": "LevelB"},
        {"name": "LevelB", "start": "0x800C0000", "size": "256KB", "type": "overlay"}]},
    "modules": {"physics": {"file": "build/physics.elf", "region": "Resident"},
                "level1": {"file": "build/level1.elf", "region": "LevelA",
                           "needs": ["physics"]},
                "boss": {"estimate": {"size": "20KB"}, "region": "LevelB"}},
    "scenes": {"title": {"modules": []}, "level1": {"modules": ["level1"]},
               "boss_room": {"modules": ["boss"]}},
    "transitions": [{"from": "title", "to": "level1", "budget_ms": 1500},
                    {"from": "level1", "to": "boss_room", "budget_ms": 100},
                    {"from": "boss_room", "to": "level1", "budget_ms": 100}],
    "streams": [{"scene": "level1", "modules": ["boss"], "deadline_frames": 600,
                 "cpu_slice_ms": 2}],
}


def data(**changes):
    d = copy.deepcopy(BASE)
    d.update(changes)
    return d


def error_of(d, **kw) -> str:
    with pytest.raises(ConfigError) as exc:
        config_from_dict(d, **kw)
    return str(exc.value)


def test_doctests():
    assert doctest.testmod(cfgmod).failed == 0


# --------------------------------------------------------------------------- helpers

@pytest.mark.parametrize("text,value", [
    ("512KB", 512 * 1024), ("1MB", 1 << 20), ("64K", 65536), ("2M", 2 << 20), ("1GB", 1 << 30),
    ("0x8000", 0x8000), ("0X10", 16), ("65536", 65536), (" 4 KiB ", 4096), ("100B", 100),
    ("1.5MB", 3 << 19), ("16kb", 16384), (0, 0), (123, 123)])
def test_parse_size(text, value):
    assert parse_size(text) == value


@pytest.mark.parametrize("bad", ["", "12QB", "-5", "1.3KB", "KB", "0x", True, None, 1.5, -1,
                                 "1 2"])
def test_parse_size_errors_name_the_key(bad):
    with pytest.raises(ConfigError, match=r"^regions\[0\]\.size: expected a size"):
        parse_size(bad, where="regions[0].size")


def test_parse_address():
    assert parse_address("0x80100000") == 0x80100000
    assert parse_address("4096") == 4096 and parse_address(16) == 16
    for bad in ("0x1ffffffff", "80100000h", -1, None, "0x"):
        with pytest.raises(ConfigError, match="^start: "):
            parse_address(bad, where="start")


def test_memory_regions_from_the_seed_example():
    seed = {"regions": [{"name": "Resident", "start": "0x80000000", "size": "1MB"},
                        {"name": "LevelOverlay", "start": "0x80100000", "size": "512KB",
                         "type": "overlay"}]}
    r = memory_regions(seed)
    assert r == [MemoryRegion("Resident", 0x80000000, 1 << 20, "resident"),
                 MemoryRegion("LevelOverlay", 0x80100000, 512 << 10, "overlay")]
    assert r[0].end == 0x80100000 and not r[0].overlaps(r[1]) and r[1].overlay
    assert r[1].contains(0x80100000, 512 << 10) and not r[1].contains(0x80100000, 512 << 10 + 1)
    # the seed's map does not fit the psx RAM past 2 MiB? it does: 0x80000000 + 1.5 MiB
    memory_regions(seed, profile=load_profile("psx"))


def test_memory_region_errors():
    psx = load_profile("psx")
    cases = [
        ({"regions": [{"name": "A", "start": "0x80010000", "size": "1MB"},
                      {"name": "B", "start": "0x80000000", "size": "128KB"}]},
         r"memoryMap\.regions\[1\]: region 'B' \[0x80000000, 0x80020000\) overlaps region 'A' "
         r"\[0x80010000, 0x80110000\) \(memoryMap\.regions\[0\]\)"),
        ({"regions": [{"name": "A", "start": "0x80010000", "size": "4MB"}]},
         r"memoryMap\.regions\[0\]: region 'A' .* is not inside the RAM of target psx"),
        ({"regions": [{"name": "A", "start": 0x80010000, "size": 16},
                      {"name": "A", "start": 0x80020000, "size": 16}]},
         r"regions\[1\]\.name: region 'A' is already defined by memoryMap\.regions\[0\]"),
        ({"regions": [{"name": "A", "start": 0x80010000, "size": 16, "pair": "B"},
                      {"name": "B", "start": 0x80020000, "size": 16, "type": "overlay"}]},
         r"regions\[0\]\.pair: a double buffer pairs two overlay regions"),
        ({"regions": [{"name": "A", "start": 0x80010000, "size": 16, "type": "overlay",
                       "pair": "Z"}]},
         r"regions\[0\]\.pair: expected the name of another region, not 'Z'"),
        ({"regions": [{"name": "A", "start": 0x80010000, "size": 0}]}, r"size: expected a size > 0"),
        ({"regions": [{"name": "A", "start": 0x80010000, "size": 16, "reserved": 32}]},
         r"regions\[0\]\.reserved: 32 bytes is more than"),
        ({"regions": [{"name": "A", "start": 0x80010000}]}, r"missing required key 'size'"),
        ({}, r"memoryMap\.regions: expected a list"),
    ]
    for mm, pattern in cases:
        with pytest.raises(ConfigError, match=pattern):
            memory_regions(mm, profile=psx)


def test_pairs_are_symmetric():
    r = memory_regions(BASE["memoryMap"])
    assert [x.pair for x in r] == [None, "LevelB", "LevelA"]


def test_check_overlaps_adjacent_is_fine():
    # [0, 16) and [16, 32) touch but do not overlap (the end is exclusive); one byte lower does
    a, b = MemoryRegion("A", 0, 16, "resident"), MemoryRegion("B", 16, 16, "overlay")
    assert check_overlaps([a, b]) is None and check_overlaps([b, a]) is None
    assert not a.overlaps(b) and not b.overlaps(a)
    with pytest.raises(ConfigError, match=r"\[1\]: region 'B' \[0x0000000f, 0x0000001f\) overlaps "
                                          r"region 'A' \[0x00000000, 0x00000010\)"):
        check_overlaps([a, MemoryRegion("B", 15, 16, "overlay")])


def test_key_path():
    assert key_path(["transitions", 2, "budget_ms"]) == "transitions[2].budget_ms"
    assert key_path(["modules", "my mod", "region"]) == 'modules["my mod"].region'
    assert key_path([]) == "(top level)"


# --------------------------------------------------------------------------- schema

def test_schema_is_published_and_valid():
    schema = load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert SCHEMA_PATH == REPO / "gamevm_build" / "schemas" / "gamevm.schema.json"
    import tomllib
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    # shipped in the wheel (tests/test_packaging.py builds one) and validated with jsonschema
    assert "*.json" in project["tool"]["setuptools"]["package-data"]["gamevm_build.schemas"]
    assert any(d.startswith("jsonschema") for d in project["project"]["dependencies"])


@pytest.mark.parametrize("name", ["gamevm.json", "gamevm-tight.json", "gamevm-n64.json"])
def test_example_configs_follow_the_schema(name):
    path = REPO / "examples" / "game" / name
    d = json.loads(path.read_text())
    jsonschema.Draft202012Validator(load_schema()).validate(d)
    cfg = load_config(path)
    assert cfg.start == "title" and len(cfg.transitions) == 5
    assert cfg.modules["physics"].file == (REPO / "build" / cfg.target / "physics.elf")


def test_the_issue_example_message():
    d = data()
    d["transitions"].append({"from": "title", "to": "boss_room", "budget_ms": -3})
    assert error_of(d) == "<config>: transitions[3].budget_ms: expected a positive number"


@pytest.mark.parametrize("mutate,expected", [
    (lambda d: d["transitions"][0].update(budget_ms="fast"),
     "transitions[0].budget_ms: expected a positive number"),
    (lambda d: d["transitions"][1].pop("budget_ms"), "transitions[1]: missing required key 'budget_ms'"),
    (lambda d: d["transitions"][0].update(budgt_ms=5),
     "transitions[0].budgt_ms: unknown key (expected one of: budget_ms, description, from, likelihood, to)"),
    (lambda d: d.update(frame_rate=30), "frame_rate: expected 50 or 60 (Hz)"),
    (lambda d: d["memoryMap"]["regions"][0].update(size="lots"),
     "memoryMap.regions[0].size: expected a size such as 512KB, 1MB, 64K, 0x8000 or 65536"),
    (lambda d: d["memoryMap"]["regions"][0].update(start=[1]),
     'memoryMap.regions[0].start: expected an address such as "0x80100000"'),
    (lambda d: d["memoryMap"]["regions"][1].update(type="heap"),
     "memoryMap.regions[1].type: expected resident (modules stay once loaded) or overlay "
     "(one module at a time)"),
    (lambda d: d["modules"]["boss"].pop("region"), "modules.boss: missing required key 'region'"),
    (lambda d: d["streams"][0].update(deadline_frames=2.5),
     "streams[0].deadline_frames: expected a positive whole number of frames"),
    (lambda d: d["streams"][0].update(modules=[]), "streams[0].modules: expected at least 1 item"),
    (lambda d: d["scenes"].update({"bad name": {"modules": []}}),
     'scenes["bad name"]: invalid name: expected letters, digits, \'_\', \'.\', \'-\' starting '
     "with a letter or '_'"),
    (lambda d: d.update(media={"model": "ps1-worst-2x", "drive": "spinning"}),
     "media.drive: expected one of paused, stopped, reading (the drive state between loads)"),
    (lambda d: d.update(version=2), "version: expected 1 (the version of this file format)"),
    (lambda d: d.pop("scenes"), "(top level): missing required key 'scenes'"),
    (lambda d: d["modules"]["level1"].update(needs="physics"), "modules.level1.needs: expected a list"),
    (lambda d: d.update(disc={"positions": {"boss": -1}}),
     "disc.positions.boss: expected a sector number (LBA) >= 0"),
    (lambda d: d["scenes"]["level1"].update(prefetch="boss"),
     "scenes.level1.prefetch: expected a list of module names (what the scene may load in the "
     "background)"),
    (lambda d: d["scenes"]["level1"].update(prefetch=["boss", "boss"]),
     "scenes.level1.prefetch: expected no duplicate items"),
])
def test_schema_errors_name_the_key_path(mutate, expected):
    d = data()
    mutate(d)
    assert error_of(d) == f"<config>: {expected}"


def test_module_without_file_loads_and_names_its_key_when_read():
    """``file`` is optional (SCons builders supply the modules they build, issue 19);
    reading the project without one is an error naming the module, the key and the fix."""
    from gamevm_build.analysis.model import load_project

    d = data()
    for name in ("physics", "level1"):
        d["modules"][name] = {**d["modules"][name], "estimate": {"size": "8KB"}}
        d["modules"][name].pop("file")
    d["modules"]["boss"].pop("estimate")
    cfg = config_from_dict(d)
    assert cfg.modules["boss"].file is None and cfg.modules["boss"].estimate is None
    with pytest.raises(ConfigError) as exc:
        load_project(cfg)
    assert str(exc.value) == (
        "<config>: modules.boss.file: no file for module 'boss': give modules.boss.file (the "
        "built module) or modules.boss.estimate in the config, or --module boss=FILE on the "
        "command line")


def test_several_errors_are_listed_sorted():
    d = data()
    d["transitions"][2]["budget_ms"] = 0
    d["frame_rate"] = 24
    msg = error_of(d)
    assert msg.splitlines() == ["<config>: 2 errors:", "  frame_rate: expected 50 or 60 (Hz)",
                                "  transitions[2].budget_ms: expected a positive number"]


# --------------------------------------------------------------------------- cross-references

@pytest.mark.parametrize("mutate,expected", [
    (lambda d: d.update(target="saturn"), "target: unknown target 'saturn'"),
    (lambda d: d.update(media="n64-pi"),
     "media.model: 'n64-pi' times n64 media, not target psx; choose one of: ps1-duckstation-1x"),
    (lambda d: d.update(media="ps3"), "media.model: unknown media model 'ps3'"),
    (lambda d: d["modules"]["boss"].update(region="Nowhere"),
     "modules.boss.region: no region 'Nowhere' in memoryMap.regions (regions: LevelA, LevelB, "
     "Resident)"),
    (lambda d: d["modules"]["level1"].update(needs=["physic"]),
     "modules.level1.needs[0]: no module 'physic' in modules"),
    (lambda d: d["modules"]["level1"].update(needs=["level1"]),
     "modules.level1.needs[0]: a module cannot need itself"),
    (lambda d: d["scenes"]["level1"].update(modules=["level2"]),
     "scenes.level1.modules[0]: no module 'level2' in modules"),
    (lambda d: d["scenes"]["level1"].update(prefetch=["boss", "bos"]),
     "scenes.level1.prefetch[1]: no module 'bos' in modules"),
    (lambda d: d.update(start="menu"), "start: no scene 'menu' in scenes"),
    (lambda d: d["transitions"][1].update(to="boss"), "transitions[1].to: no scene 'boss' in scenes"),
    (lambda d: d["transitions"].append({"from": "title", "to": "level1", "budget_ms": 9}),
     "transitions[3]: duplicates transitions[0] (title -> level1); give each transition one "
     "budget"),
    (lambda d: d["streams"][0].update(scene="level2"), "streams[0].scene: no scene 'level2'"),
    (lambda d: d["streams"][0].update(modules=["bos"]), "streams[0].modules[0]: no module 'bos'"),
    (lambda d: d["streams"][0].update(cpu_slice_ms=16.7),
     "streams[0].cpu_slice_ms: expected less than one frame (16.7 ms at 60 Hz)"),
    (lambda d: d.update(disc={"positions": {"bos": 3}}), "disc.positions.bos: no module 'bos'"),
    (lambda d: d.update(resident={"region": "Kernel"}), "resident.region: no region 'Kernel'"),
    (lambda d: d["memoryMap"]["regions"][0].update(size="600KB"),
     "memoryMap.regions[1]: region 'LevelA' [0x80080000, 0x800c0000) overlaps region 'Resident'"),
])
def test_cross_reference_errors(mutate, expected):
    d = data()
    mutate(d)
    assert error_of(d).startswith(f"<config>: {expected}")


def test_loaded_config(tmp_path):
    d = data(media={"model": "ps1-mednafen-1x", "drive": "stopped"}, frame_rate=50,
             resident={"file": "build/kernel.elf", "size": "64KB"},
             disc={"positions": {"level1": 40}, "layout": "layout.json"})
    d["scenes"]["title"]["prefetch"] = ["physics"]
    (tmp_path / "layout.json").write_text(json.dumps({"positions": {"physics": 24, "level1": 1}}))
    (tmp_path / "sub").mkdir()
    path = tmp_path / "sub" / ".." / "gamevm.json"
    path.write_text(json.dumps(d))
    cfg = load_config(path)
    assert cfg.target == "psx" and cfg.media == "ps1-mednafen-1x" and cfg.drive == "stopped"
    assert cfg.frame_rate == 50 and cfg.start == "title"            # default: the first scene
    assert cfg.modules["physics"].file == tmp_path / "build" / "physics.elf"
    assert cfg.modules["level1"].needs == ("physics",)
    assert cfg.modules["boss"].file is None and cfg.modules["boss"].estimate.size == 20480
    assert cfg.modules["boss"].estimate.image == 20480
    assert cfg.positions == {"level1": 40, "physics": 24}          # inline wins over the layout
    assert cfg.resident_file == tmp_path / "build" / "kernel.elf"
    assert cfg.resident_size == 65536
    assert [t.key for t in cfg.transitions] == ["transitions[0]", "transitions[1]",
                                                "transitions[2]"]
    assert cfg.streams[0].cpu_slice_ms == 2.0 and cfg.streams[0].key == "streams[0]"
    assert cfg.scenes["level1"].prefetch == () and cfg.scenes["title"].prefetch == ("physics",)
    assert cfg.region("LevelA").pair == "LevelB"
    # overrides (the SCons builder passes the modules it built)
    cfg2 = load_config(path, module_files={"boss": "x/boss.elf"}, resident_file="k.elf")
    assert cfg2.modules["boss"].file == Path("x/boss.elf") and cfg2.modules["boss"].estimate is None
    assert cfg2.resident_file == Path("k.elf")
    with pytest.raises(ConfigError, match="module files given for level9"):
        load_config(path, module_files={"level9": "x.elf"})


def test_default_media_and_estimates():
    d = data()
    d["modules"]["boss"]["estimate"] = {"size": "8KB", "bss": "4KB", "relocations": {"R_MIPS_26": 3},
                                        "imports": ["a", "b"], "exports": ["c"], "constructors": 2}
    cfg = config_from_dict(d)
    assert cfg.media == "ps1-worst-2x" and cfg.drive == "paused" and cfg.frame_rate == 60
    est = cfg.modules["boss"].estimate
    assert (est.size, est.image, est.bss, est.imports, est.import_count, est.constructors) == \
        (8192, 12288, 4096, ("a", "b"), 2, 2)
    assert dict(est.relocations) == {"R_MIPS_26": 3}
    d["modules"]["boss"]["estimate"] = {"size": 10, "relocations": 7, "imports": 3}
    est = config_from_dict(d).modules["boss"].estimate
    assert dict(est.relocations) == {"*": 7} and est.import_count == 3 and est.imports == ()


def test_file_errors(tmp_path):
    with pytest.raises(InputError, match="project configuration not found"):
        load_config(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"target": "psx",\n  "scenes": }')
    with pytest.raises(ConfigError, match=r"bad.json: not valid JSON: Expecting value at line 2"):
        load_config(bad)
    d = data(disc={"layout": "missing.json"})
    path = tmp_path / "g.json"
    path.write_text(json.dumps(d))
    assert load_config(path).layout_missing       # a build output, reported when analysed
    from gamevm_build.analysis.model import load_project
    with pytest.raises(InputError, match="missing.json: disc layout not found"):
        load_project(path)
    (tmp_path / "missing.json").write_text('{"positions": {"boss": "far"}}')
    with pytest.raises(ConfigError, match=r"disc.layout: .*expected an object"):
        load_config(path)


def test_validate_accepts_the_minimal_config():
    minimal = {"target": "n64", "memoryMap": {"regions": [{"name": "R", "start": 0x80100000,
                                                           "size": 4096}]},
               "modules": {"m": {"region": "R", "estimate": {"size": 1}}},
               "scenes": {"s": {"modules": ["m"]}}}
    assert validate(copy.deepcopy(minimal)) is None          # no error
    cfg = config_from_dict(copy.deepcopy(minimal))
    assert (cfg.target, list(cfg.modules), list(cfg.scenes)) == ("n64", ["m"], ["s"])
    assert cfg.modules["m"].estimate.size == 1
    # and it is minimal: without any one of its keys the same validation fails
    for key in minimal:
        with pytest.raises(ConfigError, match=key):
            validate({k: v for k, v in minimal.items() if k != key})


def _paths(node, at=()):
    """Every (path, value) of a JSON document."""
    yield at, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, at + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, at + (i,))


#: values put in place of a config's values: each of another JSON type or out of range
ODD_VALUES = (None, True, -1, 0, 1.5, 2 ** 40, "", "x", "-bad name", [], [1], {}, {"x": 1})


EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "game"

#: a config whose modules are estimates in every form the schema allows (sizes as numbers
#: and strings, relocations and imports as counts and as an object / a list)
ESTIMATES = {
    "target": "psx", "media": {"model": "ps1-worst-2x", "drive": "paused"},
    "memoryMap": {"regions": [{"name": "Main", "start": "0x80010000", "size": "448KB",
                               "reserved": 4096},
                              {"name": "O", "start": 0x80080000, "size": 65536,
                               "type": "overlay"}]},
    "modules": {"a": {"region": "Main", "estimate": {"size": 4096, "bss": "1K",
                                                     "relocations": 12, "imports": 3}},
                "b": {"region": "O", "needs": ["a"], "estimate": {
                    "size": "6KB", "image": 9000, "relocations": {"R_MIPS_26": 40},
                    "imports": ["a_f"], "exports": ["b_f"], "constructors": 1}}},
    "scenes": {"s": {"modules": ["b"]}},
    "disc": {"capacity": "650MB", "positions": {"a": 100, "b": 200}},
}


@pytest.mark.parametrize("doc, schema", [
    ("gamevm.json", SCHEMA_PATH.name),
    (ESTIMATES, SCHEMA_PATH.name),
    ("scenarios/runtime.json", "scenario.schema.json"),
    ("scenarios/stream.json", "scenario.schema.json"),
], ids=["example", "estimates", "scenario-runtime", "scenario-stream"])
def test_the_fast_check_accepts_exactly_what_jsonschema_accepts(doc, schema):
    """validate() asks fastjsonschema first (on the schema with its anyOf-of-types merged,
    cfgmod._merge_type_branches) and jsonschema only for the words: over every value of
    the document replaced by values of every other kind, both agree."""
    import fastjsonschema
    doc = json.loads((EXAMPLE / doc).read_text()) if isinstance(doc, str) else doc
    fast, slow = cfgmod._fast_check(schema), cfgmod._validator(schema)
    checked = 0
    for path, _value in list(_paths(doc))[1:]:
        for odd in ODD_VALUES:
            d = copy.deepcopy(doc)
            node = d
            for k in path[:-1]:
                node = node[k]
            node[path[-1]] = odd
            try:
                fast(d)
                fast_ok = True
            except fastjsonschema.JsonSchemaException:
                fast_ok = False
            assert fast_ok == (next(slow.iter_errors(d), None) is None), (path, odd)
            checked += 1
    assert checked > 200


def test_merging_type_branches_leaves_no_raising_anyof_in_the_config_schema():
    """Every anyOf of the config schema is one of types (a size, an address, a count or
    a list, ...): the compiled check needs none, so it raises only on invalid data."""
    schema = load_schema()
    merged = cfgmod._merge_type_branches(cfgmod._inline_refs(schema, schema["$defs"]))
    assert "anyOf" not in json.dumps(merged)
    assert merged["properties"]["media"]["type"] == ["string", "object"]
    size = merged["properties"]["disc"]["properties"]["capacity"]
    assert size["type"] == ["integer", "string"] and size["minimum"] == 0 and "pattern" in size
    # branches of overlapping or unknown types are kept as they are
    kept = {"anyOf": [{"type": "integer", "minimum": 1}, {"type": "number", "maximum": 0}]}
    assert cfgmod._merge_type_branches(kept) == kept
    kept = {"anyOf": [{"type": "integer"}, {"enum": ["x"]}]}
    assert cfgmod._merge_type_branches(kept) == kept


def test_config_files_name_the_files_load_config_resolves(tmp_path):
    """The SCons emitters' light reader (no schema check) and the full reader agree on
    every file a config names; a config it cannot read names none (the action reports it)."""
    import json as _json
    import os

    from gamevm_build.project.config import load_config
    from gamevm_build.project.configfiles import config_files

    repo = Path(__file__).resolve().parents[1]
    for cfg in sorted((repo / "examples" / "game").glob("gamevm*.json")):
        light, full = config_files(cfg), load_config(cfg)
        assert light.target == full.target, cfg
        assert light.modules == {n: s.file for n, s in full.modules.items() if s.file}, cfg
        assert light.resident_file == full.resident_file, cfg
        assert light.layout == full.raw.get("disc", {}).get("layout"), cfg
    for text in ("{", "[]", '{"modules": 3, "resident": [], "disc": "x"}'):
        p = tmp_path / "c.json"
        p.write_text(text)
        got = config_files(p)
        assert got is None or (got.modules == {} and got.resident_file is None
                               and got.layout is None), text
    # not a regular file (a FIFO would block a plain read), a device, a directory: none
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    assert config_files(fifo) is None and config_files("/dev/zero") is None
    assert config_files(tmp_path) is None
    p.write_text(_json.dumps({"modules": {"a": {"file": "../m/a.elf"}, "b": {"file": 7}}}))
    assert config_files(p).modules == {"a": tmp_path.parent / "m" / "a.elf"}
