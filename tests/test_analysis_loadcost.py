"""CPU cost of loading: the constants, their derivation, and hand-computed module costs."""

from __future__ import annotations

import pytest

from gamevm_build.arch import get_arch
from gamevm_build.errors import ConfigError
from gamevm_build.loadcost import (TARGET_COSTS, cpu_costs, module_cost,
                                   reference_reloc_instructions)


def test_relocation_cycles_come_from_the_arch_table():
    arch = get_arch("mips")
    for target in ("psx", "n64"):
        costs = cpu_costs(target)
        assert costs.reloc_cycles == {c.name(): c.cycles for c in arch.relocations.values()
                                      if not c.pc_relative}
        assert "R_MIPS_PC16" not in costs.reloc_cycles        # resolved at link time
        assert costs.reloc("*") == max(costs.reloc_cycles.values())
    assert cpu_costs("psx").clock_hz == 33_868_800 and cpu_costs("n64").clock_hz == 93_750_000
    with pytest.raises(ConfigError, match="R_MIPS_GPREL16 is not one target psx applies"):
        cpu_costs("psx").reloc("R_MIPS_GPREL16")


def test_the_arch_cycles_are_the_reference_loops_instruction_counts():
    """The cost model's per-relocation cycles are measured, not guessed: compile the
    reference loop with the psx toolchain and count instructions on unicorn."""
    arch = get_arch("mips")
    table = {c.name(): c.cycles for c in arch.relocations.values() if not c.pc_relative}
    assert reference_reloc_instructions("psx") == table
    n64 = reference_reloc_instructions("n64")
    assert set(n64) == set(table) and all(n64[k] <= table[k] for k in table)


def test_module_cost_by_hand():
    psx = cpu_costs("psx")
    row = TARGET_COSTS["psx"]
    c = module_cost(psx, copy_bytes=1000, zero_bytes=400,
                    relocations={"R_MIPS_26": 3, "R_MIPS_32": 2}, imports=5, symbols=255,
                    constructors=2, init_ms=0.5)
    probes = 8                                                  # ceil(log2(256))
    expect = {"fixed": row["module_fixed"], "copy": 2.5 * 1000, "zero": 1.0 * 400,
              "relocate": 3 * 27 + 2 * 19,
              "bind": 5 * (row["bind_fixed"] + row["bind_per_probe"] * probes),
              "init": 2 * row["ctor_call"]}
    assert c.cycles == pytest.approx(expect)
    assert c.total_s == pytest.approx(sum(expect.values()) / 33_868_800 + 0.0005)
    assert c.step_s("init") == pytest.approx(expect["init"] / 33_868_800 + 0.0005)
    assert c.step_s("copy") == pytest.approx(2500 / 33_868_800)
    zero = module_cost(psx, copy_bytes=0, zero_bytes=0, relocations={}, imports=0, symbols=0)
    assert zero.total_cycles == row["module_fixed"]
    n64 = module_cost(cpu_costs("n64"), copy_bytes=1000, zero_bytes=0, relocations={},
                      imports=0, symbols=0)
    assert n64.total_s == pytest.approx((2000 + 2.0 * 1000) / 93_750_000)


def test_describe_is_json_friendly():
    import json
    d = cpu_costs("psx").describe()
    assert json.loads(json.dumps(d))["reloc_cycles"]["R_MIPS_26"] == 27
