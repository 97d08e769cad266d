"""CPU cost of loading: the measured constants, their use, and hand-computed module costs.

That the constants are this runtime's (the sources' hash) and that they cover every
example load on the emulated CPUs is tests/test_target_runtime.py's part.
"""

from __future__ import annotations

import json
import math

import pytest

from gamevm_build.runtime import loadcost
from gamevm_build.arch import get_arch
from gamevm_build.errors import ConfigError
from gamevm_build.runtime.loadcost import (READER_COPY_PER_BYTE, compared_bytes, cpu_costs,
                                          measured_costs, module_cost, registered_needs)

TARGETS = ("psx", "n64", "segacd", "gba", "3do")


@pytest.mark.parametrize("target", TARGETS)
def test_costs_are_the_measured_ones(target):
    from gamevm_build.project.profile import load_profile
    profile = load_profile(target)
    row = measured_costs()["targets"][target]
    costs = cpu_costs(target)
    arch = get_arch(profile.arch)
    types = {c.name() for c in arch.relocations.values() if not c.pc_relative}
    assert set(costs.reloc_cycles) == types                   # resolved-at-link-time ones absent
    assert costs.reloc_cycles == {t: row["reloc"][t] for t in types}
    assert costs.module_fixed == row["module_fixed"] and costs.bind_fixed == row["bind_fixed"]
    assert costs.copy_per_byte == READER_COPY_PER_BYTE[target]
    assert costs.reloc("*") == max(costs.reloc_cycles.values())
    assert costs.clock_hz == profile.clock_hz
    assert costs.sources[0].startswith("measured")


def test_unknown_relocation_type_is_a_config_error():
    with pytest.raises(ConfigError, match="R_MIPS_GPREL16 is not one target psx applies"):
        cpu_costs("psx").reloc("R_MIPS_GPREL16")


def test_an_unmeasured_console_gets_the_dearest_figures(monkeypatch):
    doc = measured_costs()
    only = {"targets": {"psx": doc["targets"]["psx"], "gba": doc["targets"]["gba"]}}
    monkeypatch.setattr(loadcost, "measured_costs", lambda: only)
    n64 = cpu_costs("n64")
    for key in ("module_fixed", "per_export", "bind_fixed", "zero_per_byte"):
        assert getattr(n64, key) == max(only["targets"][t][key] for t in ("psx", "gba"))
    dearest = max(x for r in only["targets"].values() for x in r["reloc"].values())
    assert set(n64.reloc_cycles.values()) == {dearest}
    assert "no measurement" in n64.sources[0]


def test_module_cost_by_hand():
    psx = cpu_costs("psx")
    c = module_cost(psx, copy_bytes=1000, zero_bytes=400,
                    relocations={"R_MIPS_26": 3, "R_MIPS_32": 2}, imports=5, symbols=255,
                    constructors=2, init_ms=0.5, exports=4, local_symbols=10, metadata_bytes=200,
                    sections=3, export_bytes=40, import_bytes=60, head_bytes=700)
    probes = math.ceil(math.log2(256))
    expect = {"fixed": psx.module_fixed + 4 * psx.per_export + 10 * psx.per_local_symbol
                       + 200 * psx.per_metadata_byte + 3 * psx.per_section
                       + 40 * psx.per_export_byte,
              "copy": 2.5 * 1000 + 700 * psx.head_copy_per_byte,
              "zero": psx.zero_per_byte * 400,
              "relocate": 3 * psx.reloc("R_MIPS_26") + 2 * psx.reloc("R_MIPS_32")
                          + psx.reloc_fixed,
              "bind": 5 * (psx.bind_fixed + psx.bind_per_probe * probes)
                      + psx.bind_per_probe_byte * probes * 60 + psx.bind_once,
              "init": 2 * psx.ctor_call}
    assert c.cycles == pytest.approx(expect)
    assert c.total_s == pytest.approx(sum(expect.values()) / 33_868_800 + 0.0005)
    assert c.step_s("init") == pytest.approx(expect["init"] / 33_868_800 + 0.0005)
    assert c.step_s("copy") == pytest.approx(expect["copy"] / 33_868_800)
    zero = module_cost(psx, copy_bytes=0, zero_bytes=0, relocations={}, imports=0, symbols=0)
    assert zero.total_cycles == psx.module_fixed


def test_other_loaded_modules_cost_by_hand():
    """Three other modules loaded (3, 8 and 0 exports): every load walks them, each of two
    needs is looked up among them by name, and each of four imports the resident lacks is
    searched for in their exports (probes 2 + 4 + 0)."""
    psx = cpu_costs("psx")
    kw = dict(copy_bytes=0, zero_bytes=0, relocations={}, imports=4, symbols=0)
    alone = module_cost(psx, **kw)
    c = module_cost(psx, **kw, co_resident=[3, 8, 0], needs=2, need_bytes=5,
                    need_found_bytes=11, module_imports=4, module_import_bytes=30,
                    import_found_bytes=17)
    assert c.cycles["fixed"] - alone.cycles["fixed"] == pytest.approx(
        3 * psx.per_loaded_module + 2 * (psx.per_need + 3 * psx.need_per_module)
        + psx.need_per_module_byte * (3 * 5 + 11))
    assert c.cycles["bind"] - alone.cycles["bind"] == pytest.approx(
        4 * (3 * psx.bind_per_module + 6 * psx.bind_per_probe)
        + psx.bind_per_probe_byte * (30 + 17))
    walked = module_cost(psx, **kw, registered_needs=6, registered_bytes=40, request_bytes=66)
    assert walked.cycles["fixed"] - alone.cycles["fixed"] == pytest.approx(
        6 * psx.per_registered_need + 40 * psx.registered_need_byte
        + 66 * psx.registered_request_byte)
    assert min(psx.per_loaded_module, psx.per_need, psx.need_per_module,
               psx.need_per_module_byte, psx.bind_per_module, psx.per_registered_need,
               psx.registered_need_byte, psx.registered_request_byte) > 0


def test_a_load_walks_every_entry_of_the_registered_needs_table():
    """level1's own two entries are read whole (6 bytes and the end), the three others one
    past the longest prefix another module's name shares with it ("level" of level2: 6);
    each entry also finds the requested name's stem again (6 bytes), in the whole request:
    a request by path reads its bytes past the name too, for each entry (``lv/`` and
    ``.elf``: 7)."""
    table = {"level1": ["physics", "ui"], "level2": ["physics"], "boss": ["physics", "ai"]}
    walked = {"registered_needs": 5, "registered_bytes": 5 * 6 + 3 * 6 + 2 * 7}
    assert registered_needs(table)("level1") == {**walked, "request_bytes": 0}
    assert registered_needs(table)("level1", "lv/level1.elf") == {**walked,
                                                                  "request_bytes": 5 * 7}
    assert registered_needs({})("menu", "a/menu.elf") == {
        "registered_needs": 0, "registered_bytes": 0, "request_bytes": 0}


def test_compared_bytes_are_one_past_the_longest_prefix_with_another_name():
    names = sorted(["music1", "music10", "music2", "engine", "ui"])
    assert compared_bytes("music1", names) == 7        # "music1" of "music10", and one
    assert compared_bytes("music3", names) == 6        # "music" of its neighbours
    assert compared_bytes("menu", names) == 2          # "m" of "music1"
    assert compared_bytes("zzz", names) == 1
    assert compared_bytes("ui", ["ui"]) == 1            # its own name is not another
    assert compared_bytes("a", []) == 1


def test_describe_is_json_friendly():
    d = cpu_costs("psx").describe()
    assert json.loads(json.dumps(d))["reloc_cycles"]["R_MIPS_26"] == cpu_costs("psx").reloc(
        "R_MIPS_26")


def test_head_bytes_are_the_image_bytes_the_first_read_brings():
    """The image (or block) ends the file: what of it lies in the first 2048 bytes."""
    from gamevm_build.runtime.loadcost import HEAD_READ, head_bytes
    assert HEAD_READ == 2048
    assert head_bytes(1500, 600) == 600                    # the whole file in the first read
    assert head_bytes(3000, 1500) == 548                   # the image starts at 1500
    assert head_bytes(9000, 1000) == 0                     # past it
    assert head_bytes(2048, 0) == 0


def test_the_head_read_size_is_the_runtime_s():
    from gamevm_build.runtime.build import LOADER_DIR
    from gamevm_build.runtime.loadcost import HEAD_READ
    text = (LOADER_DIR / "gvm_loader.c").read_text()
    assert f"#define GVM_HEAD_READ {HEAD_READ}u" in text


#: a reader's copy into place, as a game writes it in C (a sector buffer or memory-mapped
#: ROM into the module's memory, a long word at a time)
_WORD_COPY = ("void copy_words(unsigned long *d, const unsigned long *s, unsigned long n)\n"
              "{\n    while (n--)\n        *d++ = *s++;\n}\n")


def _word_copy_per_byte(target: str, opt: str, tmp) -> float:
    """Instructions per byte of :data:`_WORD_COPY` compiled with ``opt`` and the
    profile's flags, on the console's emulated CPU (the slope between 256 and 512 words)."""
    from gamevm_build.emu.elfimage import BARE_METAL_SCRIPT
    from gamevm_build.emu.machine import Machine
    from gamevm_build.link.toolchain import find_toolchain, run
    from gamevm_build.project.profile import load_profile
    profile, tc = load_profile(target), find_toolchain(target)
    (tmp / "copy.c").write_text(_WORD_COPY)
    # no memcpy call in place of the loop: the runtime's objects are compiled the same way
    tc.compile(tmp / "copy.c", tmp / "copy.o",
               extra_flags=[opt, "-fno-tree-loop-distribute-patterns"])
    (tmp / "copy.ld").write_text(BARE_METAL_SCRIPT.format(base=profile.resident_base))
    run([tc.gcc, *profile.cflags, "-nostdlib", "-nostartfiles", "-static",
         f"-Wl,-T,{tmp / 'copy.ld'}", "-Wl,-e,copy_words", str(tmp / "copy.o"),
         *profile.ldflags, "-o", str(tmp / "copy.elf")])
    m = Machine(profile)
    m.load_elf(tmp / "copy.elf")
    buf = profile.main_ram.start + profile.main_ram.size // 2
    spent = []
    for words in (256, 512):
        before = m.instructions
        m.call("copy_words", buf, buf + 4096, words)
        spent.append(m.instructions - before)
    return (spent[1] - spent[0]) / (256 * 4)


@pytest.mark.parametrize("target", [t for t in TARGETS if READER_COPY_PER_BYTE[t]])
def test_the_reader_copy_estimate_is_a_word_copy_in_instructions(target, tmp_path):
    """The reader's copy is charged in the unit of every measured constant, the
    instruction: at least what a C word copy executes per byte at -O2 on the console's
    CPU, and at most twice what it executes at -Os (room for RAM stalls; the Sega CD's
    7.5, the 68000's clock cycles of ``move.l (a0)+,(a1)+ / dbra``, was 15 times its
    0.5 instructions and made its bounds 1.2-1.5x what the runtime executes)."""
    fast = _word_copy_per_byte(target, "-O2", tmp_path)
    small = _word_copy_per_byte(target, "-Os", tmp_path)
    assert fast <= READER_COPY_PER_BYTE[target] <= 2 * small, (fast, small)
