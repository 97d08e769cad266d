"""What a new project needs to read is true (issue 19): the per-console facts in
docs/config.md, the kernel start code in docs/consoles.md, and ``gamevm schema``
with the ``$schema`` recipe editors use."""

from __future__ import annotations

import json
import re
import subprocess

import jsonschema
import pytest
from elftools.elf.elffile import ELFFile

from conftest import REPO, run_gamevm
from gamevm_build.link.toolchain import find_toolchain
from gamevm_build.project.config import SCHEMA_PATH, load_config
from gamevm_build.project.media import models_for
from gamevm_build.project.profile import available_targets, load_profile

CONFIG_DOC = REPO / "docs" / "config.md"
CONSOLES_DOC = REPO / "docs" / "consoles.md"
START_S = REPO / "examples" / "game" / "kernel" / "start.S"


def section(doc, heading: str) -> str:
    """The text of the ``## heading`` section of ``doc`` (up to the next ``## ``)."""
    text = doc.read_text()
    start = text.index(f"## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end >= 0 else None]


# --------------------------------------------------------------------------- config.md

def console_rows() -> dict[str, str]:
    """``{target: table row}`` of config.md's per-console table."""
    rows = {}
    for line in section(CONFIG_DOC, "Every console: `target`, media model, RAM").splitlines():
        m = re.match(r"\| `([a-z0-9]+)` \|", line)
        if m and m.group(1) != "target":            # not the header
            rows[m.group(1)] = line
    return rows


@pytest.mark.parametrize("target", available_targets())
def test_config_doc_has_every_console_with_its_media_models_and_ram(target):
    row = console_rows().get(target)
    assert row is not None, f"docs/config.md has no row for target {target}"
    models = [m.name for m in models_for(load_profile(target))]
    cells = row.split(" | ")
    listed = re.findall(r"`([^`]+)`", cells[2])
    assert sorted(listed) == sorted(models), row
    profile = load_profile(target)
    for ram in profile.ram:                          # every RAM area, by its start
        assert re.search(rf"`0x0*{ram.start:x}`", cells[3], re.I), (ram, row)
    assert f"`0x{profile.resident_base:x}`" in cells[4].lower() or \
        f"`0x{profile.resident_base:08x}`" in cells[4].lower(), row


def test_config_doc_default_models_come_first():
    from gamevm_build.project.media import default_model_for

    for target, row in console_rows().items():
        first = re.findall(r"`([^`]+)`", row.split(" | ")[2])[0]
        assert first == default_model_for(load_profile(target)).name, row


def test_config_doc_example_memory_maps_are_the_examples():
    """The example column quotes each console's example config (start addresses)."""
    names = {"psx": "gamevm.json"}
    for target, row in console_rows().items():
        cfg = json.loads((REPO / "examples/game" / names.get(target, f"gamevm-{target}.json"))
                         .read_text())
        assert cfg["target"] == target
        for region in cfg["memoryMap"]["regions"]:
            assert f"{region['name']} `{region['start']}`" in row, (region, row)


# --------------------------------------------------------------------------- consoles.md

def start_snippets() -> list[str]:
    text = section(CONSOLES_DOC, "The resident kernel's entry, per console")
    return re.findall(r"^```asm\n(.*?)^```", text, re.S | re.M)


def test_documented_start_code_is_the_examples():
    """Each documented start snippet is a run of lines of the example's start.S, which the
    example builds (test_scons) link into a resident for every console."""
    snippets = start_snippets()
    assert len(snippets) == 3                        # MIPS, 68000, ARM
    source = START_S.read_text()
    for snippet in snippets:
        assert snippet in source, snippet


#: a console of each CPU family with the snippet that is its start code
FAMILY_SNIPPET = {"psx": 0, "n64": 0, "segacd": 1, "gba": 2, "3do": 2}


@pytest.mark.parametrize("target", sorted(FAMILY_SNIPPET))
def test_documented_start_code_assembles_for_its_consoles(target, tmp_path):
    """The snippet with a stack array and the C entry left undefined assembles with the
    console's cross compiler and flags, and defines _start."""
    tc = find_toolchain(target)
    src = tmp_path / "start.S"
    src.write_text("#define GVM_STACK_SIZE 8192\n        .text\n        .globl  _start\n"
                   + start_snippets()[FAMILY_SNIPPET[target]]
                   + "        .size   _start, . - _start\n        .comm   gvm_stack, 8192, 8\n")
    obj = tmp_path / "start.o"
    subprocess.run([tc.gcc, *tc.cflags, "-c", "-o", str(obj), str(src)], check=True,
                   capture_output=True, text=True)
    with obj.open("rb") as f:
        symtab = ELFFile(f).get_section_by_name(".symtab")
        start = symtab.get_symbol_by_name("_start")[0]
        assert start["st_info"]["bind"] == "STB_GLOBAL" and start["st_shndx"] != "SHN_UNDEF"


# --------------------------------------------------------------------------- gamevm schema

@pytest.mark.parametrize("args,schema", [((), "gamevm.schema.json"),
                                         (("--scenario",), "scenario.schema.json")])
def test_schema_command_prints_the_packaged_schema(args, schema):
    proc = run_gamevm("schema", *args)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (SCHEMA_PATH.parent / schema).read_text()


def test_schema_written_into_a_project_is_what_editors_and_the_tools_agree_on(tmp_path):
    """docs/config.md's recipe: write the schema next to gamevm.json and name it with
    ``"$schema": "./gamevm.schema.json"``; the example config, so pointed, validates
    against that file (as an editor checks it) and still loads."""
    proc = run_gamevm("schema", "-o", "gamevm.schema.json", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout == "", proc.stderr
    schema = json.loads((tmp_path / "gamevm.schema.json").read_text())
    cfg = json.loads((REPO / "examples/game/gamevm.json").read_text())
    cfg["$schema"] = "./gamevm.schema.json"
    for spec in cfg["modules"].values():
        spec.pop("file")                             # a project's own config: SCons supplies them
    cfg.pop("resident")
    jsonschema.Draft202012Validator(schema).validate(cfg)
    (tmp_path / "gamevm.json").write_text(json.dumps(cfg))
    assert load_config(tmp_path / "gamevm.json").target == "psx"
    assert "./gamevm.schema.json" in CONFIG_DOC.read_text()
    assert "gamevm schema -o gamevm.schema.json" in CONFIG_DOC.read_text()
