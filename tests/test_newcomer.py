"""What a newcomer reads and sees (issue 13): messages, per-console outputs, docs tables.

Each console's outputs are said in its own terms: a cartridge's layout counts bytes of
ROM, not 2048-byte sectors, and only the PlayStation gets a mkpsxiso project.  The docs'
target and media lists cover every profile.  Messages name what is wrong once, in the
user's terms.
"""

from __future__ import annotations

import os
import re
import struct

import pytest

from conftest import ALL_TARGETS, REPO, run_gamevm
from example_game import example_game  # noqa: F401  (fixture)
from gamevm_build.errors import ModuleFormatError
from gamevm_build.project.media import _DEFAULTS, models_for
from gamevm_build.link.module import read_module
from gamevm_build.project.profile import load_profile


# --- messages ---------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["-16", "0x100000000"])
def test_an_address_option_out_of_32_bits_is_a_usage_error(value, tmp_path):
    p = run_gamevm("prelink", tmp_path / "m.elf", "--base", value, "--resident",
                   tmp_path / "k.elf", "-o", tmp_path / "m.bin")
    assert p.returncode == 2
    assert f"argument --base: '{value}' is not a 32-bit address" in p.stderr
    assert "0x-" not in p.stderr and "Traceback" not in p.stderr
    p = run_gamevm("prelink", tmp_path / "m.elf", "--base", "0x80100000", "--resident",
                   tmp_path / "k.elf", "--needs", f"physics.elf@{value}", "-o", tmp_path / "m.bin")
    assert p.returncode == 2 and "is not a 32-bit address" in p.stderr


def test_call_load_of_a_directory_or_fifo_says_what_it_is(example_game, tmp_path):
    out = example_game("psx")
    (tmp_path / "level1.elf").mkdir()
    os.mkfifo(tmp_path / "boss.elf")
    for name, kind in (("level1.elf", "is a directory"), ("boss.elf", "is not a regular file")):
        p = run_gamevm("call", "-t", "psx", "--resident", out / "kernel.elf",
                       "--load", tmp_path / name, "gvm_strlen(\"a\")")
        assert p.returncode == 2, p.stderr
        assert f"--load {tmp_path / name}: {kind}" in p.stderr
        assert "not found in search path" not in p.stderr


def test_an_unknown_relocation_type_is_named_once(example_game, tmp_path):
    out = example_game("psx")
    data = bytearray((out / "physics.elf").read_bytes())
    shoff, = struct.unpack_from("<I", data, 32)
    shnum, = struct.unpack_from("<H", data, 48)
    rela = next(struct.unpack_from("<I", data, shoff + 40 * i + 16)[0] for i in range(shnum)
                if struct.unpack_from("<I", data, shoff + 40 * i + 4)[0] == 4)   # SHT_RELA
    data[rela + 4] = 70                            # r_info's type byte (little-endian)
    bad = tmp_path / "physics.elf"
    bad.write_bytes(bytes(data))
    with pytest.raises(ModuleFormatError) as err:
        read_module(bad)
    assert "relocation type 70 is not one a loader applies" in str(err.value)
    assert "type type" not in str(err.value)


# --- each console's outputs in its own terms --------------------------------------------------

def test_a_cartridge_layout_counts_bytes_of_rom(example_game, tmp_path):
    out = example_game("gba")
    root = out.parents[1]
    p = run_gamevm("layout", "-c", "examples/game/gamevm-gba.json", "-o", tmp_path / "g.rom",
                   cwd=root)
    assert p.returncode == 0, p.stderr
    summary = p.stdout + p.stderr
    m = re.search(r"(\d+) file\(s\), (\d+) bytes of ROM", summary)
    assert m and int(m.group(2)) == (tmp_path / "g.rom").stat().st_size, summary
    assert "sectors" not in summary.splitlines()[0]


@pytest.mark.parametrize("target,config", [("segacd", "gamevm-segacd.json"),
                                           ("gba", "gamevm-gba.json")])
def test_only_the_playstation_gets_a_mkpsxiso_project(example_game, tmp_path, target, config):
    out = example_game(target)
    root = out.parents[1]
    assert not (out / "layout.xml").exists()          # the scons build writes none
    p = run_gamevm("layout", "-c", f"examples/game/{config}", "-o", tmp_path / "image",
                   "--mkpsxiso", tmp_path / "p.xml", cwd=root)
    assert p.returncode == 2
    assert "a mkpsxiso project masters a PlayStation disc; target " + target in p.stderr
    assert not (tmp_path / "p.xml").exists() and not (tmp_path / "image").exists()
    assert (example_game("psx") / "layout.xml").exists()


def test_the_readme_says_what_each_console_produces():
    readme = (REPO / "README.md").read_text()
    table = readme.split("in\neach console's own terms:", 1)[1].split("\n\n", 2)[1]
    assert "| `layout.xml`, a mkpsxiso project for mastering a PS1 disc | yes | no | no |" in table
    assert "`game.rom`" in table and "`game.iso`" in table


# --- the docs list every console ------------------------------------------------------------

def test_the_docs_list_every_console():
    cli = (REPO / "docs" / "cli.md").read_text()
    config = (REPO / "docs" / "config.md").read_text()
    targets_table = cli.split("## Targets", 1)[1].split("\n\n", 2)[1]
    target_row = next(line for line in config.splitlines() if line.startswith("| `target` |"))
    media_row = next(line for line in config.splitlines() if line.startswith("| `media` |"))
    model_row = next(line for line in config.splitlines() if line.startswith("| `model` |"))
    for t in ALL_TARGETS:
        p = load_profile(t)
        row = next((line for line in targets_table.splitlines() if line.startswith(f"| `{t}` |")),
                   None)
        assert row is not None, f"docs/cli.md targets table lacks {t}"
        assert p.title in row and p.cpu_name in row and p.debian_package in row
        assert all(f"`{prefix}`" in row for prefix in p.toolchain_prefixes)
        assert f"`{t}`" in target_row
        assert f"`{t}`: `{_DEFAULTS[t]}`" in media_row
        assert all(f"`{m.name}`" in model_row for m in models_for(t))
