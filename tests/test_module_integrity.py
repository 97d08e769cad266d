"""A module is what it says it is: its hash, its ELF header, and mutated modules.

The metadata's ``hash`` covers everything a loader uses, so a byte changed in code,
data, relocations or symbols after linking is ``lsBadChecksum`` at load and "hash
mismatch" in ``gamevm inspect``.  The ELF header's ABI (``e_flags``) and the
``PT_LOAD`` bounds are checked as ``readelf`` checks them.  The fuzz driver mutates
the example's modules (bounded, derandomized: tests/conftest.py) and runs them through
the CLI and the loader: a clear error or a clean load, never a traceback.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import ALL_TARGETS, examples, run_gamevm
from example_game import example_game  # noqa: F401  (fixture)
from gamevm_build.play.console import Console
from gamevm_build.errors import ModuleChecksumError, ModuleFormatError
from gamevm_build.runtime.reference import LoadError, LoaderPolicy, TLoadStatus
from gamevm_build.link.module import read_module
from gamevm_build.project.profile import load_profile
from gamevm_build.link.toolchain import find_toolchain


def section_file_offset(data: bytes, module, name: str) -> int:
    """Where section ``name``'s bytes are in the file (from the section headers)."""
    e = "<" if module.endian == "little" else ">"
    shoff, = struct.unpack_from(e + "I", data, 32)
    shnum, shstrndx = struct.unpack_from(e + "HH", data, 48)
    strtab_off = struct.unpack_from(e + "I", data, shoff + 40 * shstrndx + 16)[0]
    for i in range(shnum):
        sh_name, *_rest = struct.unpack_from(e + "10I", data, shoff + 40 * i)
        end = data.index(b"\0", strtab_off + sh_name)
        if data[strtab_off + sh_name:end].decode() == name:
            return struct.unpack_from(e + "I", data, shoff + 40 * i + 16)[0]
    raise AssertionError(name)


def flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:]


@pytest.fixture(scope="module", params=["psx", "gba", "segacd"])
def built(request, example_game, tmp_path_factory):
    """The example's kernel and modules, the modules in the plain form (the build ships
    some packed: tests/test_shipforms.py mutates those)."""
    from gamevm_build.link.shipform import convert
    out = example_game(request.param)
    plain = tmp_path_factory.mktemp(f"plain-{request.param}")
    for f in out.glob("*.elf"):
        data = f.read_bytes()
        is_module = f.name != "kernel.elf"
        (plain / f.name).write_bytes(convert(data, "plain", path=str(f)) if is_module else data)
    return request.param, plain


# --- the hash ------------------------------------------------------------------------------

@pytest.mark.parametrize("where", [".text", ".rodata", ".data", ".rela.text", ".strtab"])
def test_a_changed_byte_is_a_hash_mismatch(built, tmp_path, where):
    target, out = built
    data = (out / "level1.elf").read_bytes()
    module = read_module(out / "level1.elf")
    at = section_file_offset(data, module, where)
    if where == ".rela.text":
        at += 12 * 3 + 8 if module.endian == "little" else 12 * 3 + 11   # an addend's low byte
    elif where == ".strtab":                      # an export's name (not a local's)
        at = data.index(b"\0" + min(module.exports).encode() + b"\0", at) + 1
    bad = tmp_path / "level1.elf"
    bad.write_bytes(flip(data, at))
    with pytest.raises(ModuleChecksumError) as err:
        read_module(bad)
    assert "hash mismatch" in str(err.value) and module.hash in str(err.value)
    assert err.value.recorded == module.hash and err.value.actual != module.hash


def test_the_loader_refuses_a_changed_module_with_lsBadChecksum(built, tmp_path):
    target, out = built
    data = (out / "level1.elf").read_bytes()
    module = read_module(out / "level1.elf")
    shutil.copy(out / "physics.elf", tmp_path / "physics.elf")
    (tmp_path / "level1.elf").write_bytes(flip(data, section_file_offset(data, module, ".text") + 8))
    # the reference loader (the example's resident carries the C runtime, which does not
    # check the hash yet: docs/runtime-c.md)
    console = Console(target, out / "kernel.elf", search_paths=[tmp_path], loader="host")
    with pytest.raises(LoadError) as err:
        console.load("level1", needs=True)
    assert err.value.status == TLoadStatus.lsBadChecksum == 12
    assert "hash mismatch" in str(err.value) and "level1.elf" in str(err.value)
    assert not console.loader.loaded            # physics (a need) is not left behind either
    # the check is an option (the differential tests against the C runtime turn it off)
    lax = Console(target, out / "kernel.elf", search_paths=[tmp_path], loader="host",
                  policy=LoaderPolicy(verify_hash=False))
    assert lax.load("level1", needs=True).name == "level1"


def test_inspect_shows_a_changed_module_and_says_hash_mismatch(built, tmp_path):
    target, out = built
    data = (out / "boss.elf").read_bytes()
    module = read_module(out / "boss.elf")
    bad = tmp_path / "boss.elf"
    bad.write_bytes(flip(data, section_file_offset(data, module, ".text") + 4))
    p = run_gamevm("inspect", bad)
    assert p.returncode == 1, p.stderr
    assert "HASH MISMATCH" in p.stdout and "exports (" in p.stdout
    assert p.stderr.startswith("gamevm: error: ") and "hash mismatch" in p.stderr
    assert "Traceback" not in p.stderr
    j = run_gamevm("inspect", "--json", bad)
    info = json.loads(j.stdout)
    assert j.returncode == 1 and info["hash_ok"] is False and info["hash"] == module.hash
    assert info["actual_hash"].startswith("sha256:") and info["actual_hash"] != module.hash
    good = json.loads(run_gamevm("inspect", "--json", out / "boss.elf").stdout)
    assert good["hash_ok"] is True and good["actual_hash"] is None


def test_every_built_module_verifies(built):
    target, out = built
    for path in sorted(out.glob("*.elf")):
        if path.name != "kernel.elf":
            assert read_module(path).hash.startswith("sha256:")


# --- the ELF header, as readelf checks it --------------------------------------------------

def readelf(target: str, *args) -> subprocess.CompletedProcess:
    return subprocess.run([find_toolchain(target).readelf, *map(str, args)],
                          capture_output=True, text=True)


def test_an_unknown_abi_in_e_flags_is_refused(built, tmp_path):
    target, out = built
    data = bytearray((out / "physics.elf").read_bytes())
    e = "<" if load_profile(target).endian == "little" else ">"
    flags, = struct.unpack_from(e + "I", data, 36)
    bad_flags = {"psx": (flags & ~0xF000) | 0x5000,              # EF_MIPS_ABI: not o32
                 "gba": (flags & 0x00FFFFFF) | 0x7F000000,       # EF_ARM_EABIMASK: no such EABI
                 "segacd": (flags & ~0x01000000) | 0x8000}[target]  # EF_M68K_CFV4E: ColdFire
    struct.pack_into(e + "I", data, 36, bad_flags)
    bad = tmp_path / "physics.elf"
    bad.write_bytes(bytes(data))
    if target == "psx":
        assert "unknown ABI" in readelf(target, "-h", bad).stdout
    with pytest.raises(ModuleFormatError, match=r"not a valid GameVM module: ELF header: "):
        read_module(bad)
    p = run_gamevm("inspect", bad)
    assert p.returncode == 2 and "ELF header: " in p.stderr and "Traceback" not in p.stderr


def test_a_segment_past_the_end_of_the_file_is_refused(built, tmp_path):
    target, out = built
    data = bytearray((out / "physics.elf").read_bytes())
    e = "<" if load_profile(target).endian == "little" else ">"
    phoff, = struct.unpack_from(e + "I", data, 28)
    filesz, = struct.unpack_from(e + "I", data, phoff + 16)
    struct.pack_into(e + "I", data, phoff + 16, filesz + len(data))
    bad = tmp_path / "physics.elf"
    bad.write_bytes(bytes(data))
    assert "Error" in readelf(target, "-l", bad).stderr
    with pytest.raises(ModuleFormatError, match=r"program header \[0\] \(PT_LOAD\) .*runs past "
                                                r"the end of the file"):
        read_module(bad)
    p = run_gamevm("inspect", bad)
    assert p.returncode == 2 and "PT_LOAD" in p.stderr and "Traceback" not in p.stderr


# --- fuzzing: mutated modules through the CLI and the loader -------------------------------

def mutated(data: bytes, draw) -> bytes:
    """1-8 single-byte changes, then maybe a truncation (the shapes issue 13 tried)."""
    blob = bytearray(data)
    for _ in range(draw(st.integers(1, 8))):
        blob[draw(st.integers(0, len(blob) - 1))] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        blob = blob[:draw(st.integers(0, len(blob)))]
    return bytes(blob)


@pytest.fixture(scope="module")
def fuzz_inputs(example_game):
    return {t: example_game(t) for t in ("psx", "gba")}


@settings(max_examples=examples(25), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_fuzzed_modules_through_inspect_and_the_loader(fuzz_inputs, tmp_path_factory, data):
    target = data.draw(st.sampled_from(sorted(fuzz_inputs)))
    out = fuzz_inputs[target]
    victim = data.draw(st.sampled_from(["physics", "level1", "boss"]))
    original = (out / f"{victim}.elf").read_bytes()
    blob = mutated(original, data.draw)
    d = tmp_path_factory.mktemp("fuzz")
    (d / "m.elf").write_bytes(blob)
    p = run_gamevm("inspect", "--json", d / "m.elf")
    assert "Traceback" not in p.stderr, p.stderr
    assert p.returncode in (0, 1, 2), p.stderr
    if p.returncode:
        assert p.stderr.startswith("gamevm: error: ") and "m.elf" in p.stderr
    if p.returncode == 1:
        assert "hash mismatch" in p.stderr and json.loads(p.stdout)["hash_ok"] is False
    # the loader gives the same verdict: what inspect accepts loads, with its hash intact
    shutil.copy(out / "physics.elf", d / "physics.elf")
    console = Console(target, out / "kernel.elf", search_paths=[d], loader="host")
    try:
        lm = console.load("m", needs=True, run_init=False)
    except LoadError as exc:
        assert exc.status != TLoadStatus.lsSuccess and str(exc)
        assert p.returncode != 0 or exc.status in (TLoadStatus.lsUndefinedSymbol,
                                                   TLoadStatus.lsOutOfMemory,
                                                   TLoadStatus.lsRelocationError)
        if p.returncode == 1:
            assert exc.status == TLoadStatus.lsBadChecksum
        return
    assert p.returncode == 0, p.stderr
    # a module that loads is byte for byte what was linked, wherever the mutation fell
    assert lm.module.hash == read_module(original).hash
