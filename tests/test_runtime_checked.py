"""The runtime's checked build (``GAMEVM_RUNTIME_CHECKS=bounds``, gamevm_build.runtime.build
RUNTIME_CHECKS): what bench/mutation_c.py tests, so that a mutant indexing one past the
end of one of the runtime's arrays is seen, as a fault of the emulated console, even
where what it read there changed nothing a test compares (docs/testing.md)."""

from __future__ import annotations

import pytest
from elftools.elf.elffile import ELFFile

from conftest import ALL_TARGETS, run_gamevm
from gamevm_build.errors import EmulationFault

#: an array the compiler knows the length of, indexed by an argument
PROBE = "static unsigned table[4] = {1, 2, 3, 4};\n" \
        "unsigned probe_at(unsigned i) { return table[i]; }\n"


def probe_machine(target: str, directory):
    from gamevm_build.emu.machine import Machine
    from gamevm_build.link.toolchain import find_toolchain
    from gamevm_build.project.profile import load_profile
    from gamevm_build.runtime.build import link_probe
    profile = load_profile(target)
    elf = link_probe(profile, find_toolchain(profile), directory, PROBE, ["probe_at"])
    with open(elf, "rb") as f:
        entry = ELFFile(f).get_section_by_name(".symtab").get_symbol_by_name("probe_at")[0]
    m = Machine(profile)
    m.load_elf(elf)
    return m, entry["st_value"]


@pytest.mark.parametrize("target", ALL_TARGETS)
def test_an_index_past_an_array_faults_in_the_checked_build(target, tmp_path, monkeypatch):
    """Compiled as the runtime is, checked: the last entry reads, the next one traps, and
    the emulated console stops there with a fault naming the function (a trap, break or
    undefined instruction: the CPU's), where the shipping build reads what follows."""
    monkeypatch.setenv("GAMEVM_RUNTIME_CHECKS", "bounds")
    m, probe_at = probe_machine(target, tmp_path)
    assert m.call(probe_at, 3) == 4
    with pytest.raises(EmulationFault, match="probe_at"):
        m.call(probe_at, 4)
    monkeypatch.delenv("GAMEVM_RUNTIME_CHECKS")
    shipping = tmp_path / "shipping"
    shipping.mkdir()
    m, probe_at = probe_machine(target, shipping)
    m.call(probe_at, 4)


def test_an_unknown_checked_build_is_a_config_error(tmp_path, monkeypatch):
    """A value the runtime's builds do not have: exit 2, the variable and the values it
    may take named, nothing written."""
    monkeypatch.setenv("GAMEVM_RUNTIME_CHECKS", "asan")
    (tmp_path / "kernel.c").write_text("void _start(void) {}\n")
    proc = run_gamevm("resident", "-t", "psx", "-o", tmp_path / "kernel.elf", "--runtime",
                      "target", tmp_path / "kernel.c")
    assert proc.returncode == 2, proc.stderr
    assert "GAMEVM_RUNTIME_CHECKS='asan'" in proc.stderr and "bounds" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "kernel.elf").exists()


def test_the_documented_command_links_a_checked_resident(tmp_path, monkeypatch):
    """docs/testing.md's command: a resident whose runtime is the checked build, which
    loads a module as the shipping one does, its code larger by the checks."""
    from gamevm_build.link.resident import read_resident
    from gamevm_build.runtime.reference import TLoadStatus
    from test_target_runtime import build_modules, pair
    shipping = build_modules(tmp_path, "psx", {"one": "int one(int x) { return x + 1; }\n"},
                             shipping=True)
    monkeypatch.setenv("GAMEVM_RUNTIME_CHECKS", "bounds")
    proc = run_gamevm("resident", "-t", "psx", "--runtime", "target", "-o", "checked.elf",
                      "kernel.c", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr

    def text_size(path):
        with open(path, "rb") as f:
            return ELFFile(f).get_section_by_name(".text").header["sh_size"]
    assert text_size(tmp_path / "checked.elf") > text_size(shipping)
    assert read_resident(tmp_path / "checked.elf", "psx").symbols
    _host, tl = pair("psx", tmp_path / "checked.elf", tmp_path)
    _handle, status = tl.load_module("one")
    assert status == TLoadStatus.lsSuccess
    assert tl.machine.call(tl.by_name("one").symbols["one"], 41) == 42
