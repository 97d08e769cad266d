"""The runtime loader in the emulated console: results, placement, failures, faults.

Every failing load must report its TLoadStatus with a message and leave the
console exactly as it was: RAM, allocator and the set of loaded modules.
"""

from __future__ import annotations

import io
import re
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import run_gamevm, examples
from gamevm_build.runtime.allocator import Region
from gamevm_build.play.console import Console
from gamevm_build.errors import EmulationFault
from gamevm_build.runtime.reference import LoadError, TLoadStatus
from gamevm_build.link.module import read_module
from gamevm_build.link.prelink import chain_resolver, relocate
from test_native_diff import CALLS, build_game, host_results

INCLUDE = Path(__file__).resolve().parents[1] / "gamevm_build" / "include"
EMPTY_KERNEL = "void _start(void){ for(;;); }\n"


@pytest.fixture(scope="module")
def expected(tmp_path_factory):
    return host_results(tmp_path_factory.mktemp("host"))


def ram(console: Console) -> bytes:
    r = console.profile.main_ram
    return console.machine.read(r.start, r.size)


def state(console: Console):
    return ram(console), console.loader.allocator.snapshot(), sorted(console.loader.loaded)


def tiny_console(build, target, kernel_src: str, modules: dict[str, str], keep=()) -> Console:
    """A console whose resident is ``kernel_src`` and whose search path holds ``modules``."""
    out = build.tmp / "k.elf"
    for name, src in modules.items():
        proc = run_gamevm("module", "-t", target, "-o", build.tmp / f"{name}.elf",
                          build.source(f"{name}.c", src))
        assert proc.returncode == 0, proc.stderr
    proc = run_gamevm("resident", "-t", target, "-o", out, "-I", INCLUDE, build.source("k.c", kernel_src),
                      *[f"--keep={k}" for k in keep])
    assert proc.returncode == 0, proc.stderr
    return Console(target, out, search_paths=[build.tmp])


# --- results and placement ------------------------------------------------------------------

def test_loaded_modules_return_host_results(tmp_path, target, expected):
    kernel, phys, level = build_game(tmp_path, target)
    c = Console(target, kernel, search_paths=[tmp_path])
    c.load("physics")
    c.load("level")             # binds level's imports to physics (loaded, global scope)
    got = [c.call(name, *args) for name, args in CALLS]
    assert got == expected


def test_placement_is_byte_identical_to_prelink(tmp_path, target):
    kernel, phys, level = build_game(tmp_path, target)
    c = Console(target, kernel, search_paths=[tmp_path])
    lp = c.load("physics", run_init=False)
    ll = c.load("level", run_init=False)
    for lm, needs in ((lp, []), (ll, [f"{phys}@{hex(lp.base)}"])):
        out = tmp_path / f"{lm.name}.bin"
        proc = run_gamevm("prelink", lm.path, "--base", hex(lm.base), "--resident", kernel,
                          *(["--needs", *needs] if needs else []), "-o", out)
        assert proc.returncode == 0, proc.stderr
        assert c.machine.read(lm.base, lm.module.image_size) == out.read_bytes()


def test_binding_order_resident_first_then_load_order(build, target):
    c = tiny_console(build, target, "int who(void){ return 1; }\nvoid _start(void){ for(;;); }\n", {
        "a": "int who(void){ return 2; } int only(void){ return 10; }\n",
        "b": "int only(void){ return 20; }\n",
        "c": "int who(void); int only(void);\nint ask(void){ return who() * 100 + only(); }\n"},
        keep=["who"])
    for name in "abc":
        c.load(name)
    assert c.call("c:ask") == 110      # resident's who() beats a's; a's only() beats b's


# --- failures: status, message, and nothing changed -------------------------------------------

@pytest.fixture
def game(tmp_path, target):
    kernel, phys, level = build_game(tmp_path, target)
    return tmp_path, kernel, phys, level


def expect_failure(console, name, status, pattern, **kw):
    before = state(console)
    records = len(console.timer.records)
    with pytest.raises(LoadError) as err:
        console.load(name, **kw)
    assert err.value.status == status, str(err.value)
    assert re.search(pattern, str(err.value), re.S), str(err.value)
    assert state(console) == before
    if len(console.timer.records) > records:      # it failed after its reads: on the record
        rec = console.timer.records[-1]
        assert rec.status == status.name and rec.message and rec.message in str(err.value)
        assert rec.end_s is not None and rec.end_s >= max(
            [rec.start_s] + [m.media.end_s for m in rec.modules])
        assert rec.to_dict()["end_ms"] is not None
    return err.value


def test_missing_file(game, target):
    tmp, kernel, *_ = game
    c = Console(target, kernel, search_paths=[tmp])
    expect_failure(c, "nosuch", TLoadStatus.lsFileNotFound, r"module 'nosuch' not found in search path .*nosuch\.elf")


def test_truncated_and_corrupted_modules(game, target):
    tmp, kernel, phys, _ = game
    data = phys.read_bytes()
    e = "<" if target == "psx" else ">"
    bad = tmp / "bad"
    bad.mkdir()
    shoff = struct.unpack_from(e + "I", data, 32)[0]
    mod = read_module(phys)
    corruptions = {
        "truncated": (data[:len(data) // 2], r"runs past the end of the file|truncated"),
        "magic": (b"\x7fELX" + data[4:], r"missing ELF magic"),
        "shoff": (data[:32] + struct.pack(e + "I", len(data) + 400) + data[36:], r"section headers"),
    }
    # a relocation offset far outside its section, and a symbol index past the table
    raw = bytearray(data)
    text = next(i for i in range(struct.unpack_from(e + "H", data, 48)[0])
                if struct.unpack_from(e + "I", data, shoff + 40 * i + 4)[0] == 4)  # first SHT_RELA
    r_off = struct.unpack_from(e + "I", data, shoff + 40 * text + 16)[0]
    struct.pack_into(e + "I", raw, r_off, 0x7FFF0)
    corruptions["reloc offset"] = (bytes(raw), r"offset 0x7fff0 is outside section")
    raw = bytearray(data)
    struct.pack_into(e + "I", raw, r_off + 4, (0xFFFF << 8) | struct.unpack_from(e + "I", data, r_off + 4)[0] & 0xFF)
    corruptions["symbol index"] = (bytes(raw), r"symbol index 65535")
    c = Console(target, kernel, search_paths=[bad])
    for name, (blob, pattern) in corruptions.items():
        path = bad / f"{name.replace(' ', '_')}.elf"
        path.write_bytes(blob)
        expect_failure(c, path.stem, TLoadStatus.lsBadFormat, pattern)
    assert mod.relocations  # the corruptions above hit a real relocation table


def test_wrong_target(game, target, tmp_path_factory):
    tmp, kernel, *_ = game
    other = "n64" if target == "psx" else "psx"
    otmp = tmp_path_factory.mktemp("other")
    src = otmp / "x.c"
    src.write_text("int f(void){ return 1; }\n")
    assert run_gamevm("module", "-t", other, "-o", otmp / "alien.elf", src).returncode == 0
    c = Console(target, kernel, search_paths=[otmp])
    expect_failure(c, "alien", TLoadStatus.lsIncompatibleTarget, rf"built for target {other}.*-t {target}")


def test_undefined_import(game, target):
    tmp, kernel, *_ = game
    c = Console(target, kernel, search_paths=[tmp])
    # level imports physics, which is not loaded
    expect_failure(c, "level", TLoadStatus.lsUndefinedSymbol, r"module 'level'.*undefined imports? .*phys_")


def test_out_of_memory(game, target):
    tmp, kernel, *_ = game
    c = Console(target, kernel, search_paths=[tmp])
    start = (c.resident.end + 0xFFF) & ~0xFFF
    small = [Region("tiny", start, 0x400)]
    c.loader.allocator.regions = small
    expect_failure(c, "physics", TLoadStatus.lsOutOfMemory, r"region 'tiny'.*needs \d+")


def test_jump_out_of_range(build, target):
    c = tiny_console(build, target, "int k_fn(int x){ return x + 1; }\nvoid _start(void){ for(;;); }\n",
                     {"far": "int k_fn(int); int g(int x){ return k_fn(x); }\n"}, keep=["k_fn"])
    # psx: the scratchpad (0x1f800000); n64: the uncached kseg1 mirror. Both are another
    # 256 MB segment than the resident's kseg0 code, which a jal cannot reach.
    far = 0x1F800000 if target == "psx" else 0xA0300000
    c.loader.allocator.regions = [Region("far", far, 0x400)]
    expect_failure(c, "far", TLoadStatus.lsRelocationError, r"R_MIPS_26 against 'k_fn'.*256 MB segment")


def test_failed_constructor_unwinds(build, target):
    c = tiny_console(build, target, EMPTY_KERNEL, {
        "boom": "__attribute__((constructor)) static void init(void){ *(volatile int *)0x10 = 1; }\n"
                "int f(void){ return 1; }\n"})
    expect_failure(c, "boom", TLoadStatus.lsInitFailed, r"constructor of module 'boom' failed.*write")
    assert c.timer.records[-1].message == "constructor of module 'boom' failed"
    # the memory timeline shows the block given back where it was taken
    heap = f"0x{c.loader.allocator.regions[0].start:08x}"
    assert [(m["event"], m["module"], m["region"], m["base"]) for m in c.timer.memory] == [
        ("alloc", "boom", "heap", heap), ("free", "boom", "heap", heap)]
    assert c.timer.memory[-1]["reason"] == "load failed"


def test_a_loader_without_regions_uses_ram_after_the_resident(game, target):
    """``Loader(machine, resident, reader)``: no memoryMap, no placement (the differential
    harness builds it so): one heap from the resident's end, 16-aligned, to below the stack."""
    from gamevm_build.emu.machine import Machine
    from gamevm_build.link.resident import read_resident
    from gamevm_build.runtime.readers import DirectoryReader
    from gamevm_build.runtime.reference import Loader
    tmp, kernel, *_ = game
    resident = read_resident(kernel, target)
    console_base = Console(target, kernel, search_paths=[tmp]).load("physics").base
    for regions in (None, []):
        machine = Machine(target)
        machine.load_elf(kernel)
        loader = Loader(machine, resident, DirectoryReader([tmp]), regions)
        ram = machine.profile.main_ram
        start = -(-resident.end // 16) * 16
        end = min(ram.end - 0x10000, machine.scratch_base)
        assert [(r.name, r.start, r.size, r.type) for r in loader.allocator.regions] == [
            ("heap", start, end - start, "heap")]
        assert loader.placement == {} and loader.extra_needs == {}
        lm = loader.load("physics")
        assert lm.base == start == console_base and lm.region is loader.allocator.regions[0]


MODULE_FUZZ_SETTINGS = settings(max_examples=examples(60), deadline=None,
                                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                       HealthCheck.too_slow])


@MODULE_FUZZ_SETTINGS
@given(data=st.data())
def test_fuzzed_modules_never_crash_or_write_outside(game, target, data):
    tmp, kernel, phys, _ = game
    blob = bytearray(phys.read_bytes())
    for _ in range(data.draw(st.integers(1, 8))):
        pos = data.draw(st.integers(0, len(blob) - 1))
        blob[pos] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        blob = blob[:data.draw(st.integers(0, len(blob)))]
    fuzz = tmp / "fuzz"
    fuzz.mkdir(exist_ok=True)
    (fuzz / "m.elf").write_bytes(bytes(blob))
    c = Console(target, kernel, search_paths=[fuzz])
    before = state(c)
    try:
        lm = c.load("m", run_init=False)
    except LoadError as exc:
        assert isinstance(exc.status, TLoadStatus) and str(exc)
        assert state(c) == before
        return
    # loaded: only its own allocation may differ
    after = ram(c)
    start = c.profile.main_ram.start
    lo, hi = lm.base - start, lm.end - start
    assert after[:lo] == before[0][:lo] and after[hi:] == before[0][hi:]


# --- faults ----------------------------------------------------------------------------------

def test_self_modifying_module_faults(build, target):
    c = tiny_console(build, target, EMPTY_KERNEL, {
        "smc": "int victim(int x){ return x + 1; }\n"
               "int patch(void){ *(volatile unsigned *)(void *)victim = 0; return 0; }\n"})
    c.load("smc")
    with pytest.raises(EmulationFault) as err:
        c.call("smc:patch")
    rep = err.value.report
    assert rep.access == "write" and rep.address_symbol.startswith("smc:victim")  # swl/sw
    assert rep.pc_symbol.startswith("smc:patch")
    assert "code of module 'smc' (read+execute)" in str(err.value)



def test_rodata_write_faults(build, target):
    # .text and .rodata are one read+execute range: the last word of .rodata is in it
    c = tiny_console(build, target, EMPTY_KERNEL, {
        "ro": "const unsigned table[4] = {1, 2, 3, 4};\n"
              "int peek(void){ return table[3]; }\n"
              "int poke(void){ *(volatile unsigned *)(void *)&table[3] = 9; return 0; }\n"})
    lm = c.load("ro")
    assert lm.module.exports["table"].section == ".rodata"
    assert c.call("ro:peek") == 4
    with pytest.raises(EmulationFault) as err:
        c.call("ro:poke")
    rep = err.value.report
    assert rep.access == "write" and rep.address_symbol.startswith("ro:table")
    assert "code of module 'ro' (read+execute)" in str(err.value)
    assert c.call("ro:peek") == 4

def test_call_into_unloaded_module_faults(game, target):
    tmp, kernel, *_ = game
    c = Console(target, kernel, search_paths=[tmp])
    lm = c.load("physics")
    stale = c.symbol("physics:phys_sin")
    c.loader.unload(lm.handle)
    with pytest.raises(EmulationFault) as err:
        c.call(stale, 3)
    assert err.value.report.access == "fetch"
    assert "unloaded module 'physics' (not executable)" in str(err.value)
    # the memory is reused by the next load, and the guard goes with it
    again = c.load("physics")
    assert again.base == lm.base and c.call("physics:phys_sin", 4) == 362


def test_jump_into_module_data_faults(build, target):
    c = tiny_console(build, target, EMPTY_KERNEL, {
        "d": "unsigned table[4] = {0, 0, 0, 0};\n"
             "int run_data(void){ return ((int (*)(void))(void *)table)(); }\n"})
    c.load("d")
    with pytest.raises(EmulationFault) as err:
        c.call("d:run_data")
    assert "data of module 'd' (not executable)" in str(err.value)
    assert err.value.report.address_symbol == "d:table"


# --- target-side API and readers ---------------------------------------------------------------

KERNEL_API = """
#include "gamevm.h"
int k_twice(int x) { return 2 * x; }
int kernel_demo(int n) {
    TLoadStatus st = lsSuccess;
    TModuleHandle h = LoadModuleEx("lvl", &st);
    if (!h) return -100 - (int)st;
    int (*run)(int) = (int (*)(int))GetModuleProc(h, "lvl_run");
    if (!run || GetModuleProc(h, "no_such_export")) return -2;
    GameVMPrint("kernel: level loaded");
    int r = run(n);
    if (UnloadModule(h) != lsSuccess) return -3;
    if (UnloadModule(h) != lsInvalidHandle) return -4;
    return r;
}
int kernel_missing(void) { TLoadStatus st = lsSuccess; return LoadModuleEx("nope", &st) ? -1 : (int)st; }
int dtor_ran;
void _start(void) { for (;;); }
"""

LEVEL_API = """
extern int k_twice(int);
extern int dtor_ran;
static int ready;
__attribute__((constructor)) static void init(void) { ready = 7; }
__attribute__((destructor)) static void fini(void) { dtor_ran++; }
int lvl_run(int x) { return k_twice(x) + ready; }
"""


def test_gamevm_h_api_from_target_code(build, target):
    mod = build.tmp / "lvl.elf"
    assert run_gamevm("module", "-t", target, "-o", mod, build.source("lvl.c", LEVEL_API)).returncode == 0
    out = build.tmp / "k.elf"
    proc = run_gamevm("resident", "-t", target, "-o", out, "-I", INCLUDE, "--modules", mod,
                      "--keep", "kernel_demo", "--keep", "kernel_missing", build.source("k.c", KERNEL_API))
    assert proc.returncode == 0, proc.stderr
    c = Console(target, out, search_paths=[build.tmp])
    assert c.call("kernel_demo", 20) == 47            # constructor ran on the CPU: 2*20 + 7
    assert c.machine.read_u32(c.symbol("dtor_ran")) == 1
    assert c.output[0] == "kernel: level loaded"
    assert c.call("kernel_missing") == TLoadStatus.lsFileNotFound
    assert not c.loader.loaded


def test_status_numbering_matches_gamevm_h():
    header = (INCLUDE / "gamevm.h").read_text()
    declared = dict(re.findall(r"\b(ls\w+) = (0x[0-9a-f]+|\d+)", header))
    # not a status: keeps the enum int-sized under ARM EABI's -fshort-enums
    assert declared.pop("lsForceInt") == "0x7fffffff"
    assert {k: int(v) for k, v in declared.items()} == {s.name: s.value for s in TLoadStatus}


def test_modules_load_from_an_iso_image(game, target):
    import pycdlib
    tmp, kernel, phys, level = game
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=1)
    for path in (phys, level):
        data = path.read_bytes()
        iso.add_fp(io.BytesIO(data), len(data), f"/{path.stem.upper()}.ELF;1")
    image = tmp / "game.iso"
    iso.write(str(image))
    iso.close()
    c = Console(target, kernel, disc=image)
    assert c.load("physics").path.endswith("/PHYSICS.ELF;1")
    c.load("level")
    assert c.call("level_fx", 300, -200) == c.call("phys_fx_mul", 300, -200) + c.machine.read_u32(
        c.symbol("phys_gravity")) & 0xFFFFFFFF
    expect_failure(c, "boss", TLoadStatus.lsFileNotFound, r"not found in disc image .*BOSS\.ELF")


def test_memory_map_from_the_seed_shape(game, target, profile):
    from gamevm_build.project.config import memory_regions
    from gamevm_build.errors import ConfigError
    tmp, kernel, *_ = game
    ram = profile.main_ram.start
    regions = memory_regions({"regions": [
        {"name": "Resident", "start": hex(ram), "size": "1MB"},
        {"name": "LevelOverlay", "start": hex(ram + 0x100000), "size": "512KB", "type": "overlay"},
    ]}, profile=profile)
    c = Console(target, kernel, search_paths=[tmp], regions=regions)
    phys = c.load("physics")
    assert phys.region.name == "Resident" and phys.base >= c.resident.end
    level = c.load("level", region="LevelOverlay")
    assert level.base == ram + 0x100000
    with pytest.raises(ConfigError, match=r"memoryMap\.regions\[1\]\.size"):
        memory_regions({"regions": [{"name": "A", "start": hex(ram), "size": "1MB"},
                                    {"name": "B", "start": hex(ram + 0x100000), "size": "lots"}]})


def test_bad_pointer_to_trap_is_a_guest_fault(build, target):
    c = tiny_console(build, target, '#include "gamevm.h"\n'
                     "int bad_load(void){ return (int)LoadModule((const char *)0x7ffffff0); }\n"
                     "void _start(void){ for(;;); }\n", {}, keep=["bad_load"])
    with pytest.raises(EmulationFault) as err:
        c.call("bad_load")
    assert "bad name pointer passed to LoadModule" in str(err.value)
    report = err.value.report
    # the trap is in the resident's LoadModuleEx (gamevm.h's API is the resident's), called
    # from bad_load
    assert report.address == 0x7FFFFFF0 and report.pc_symbol.startswith("LoadModuleEx")
    assert report.function_symbol == "bad_load"


def test_unknown_region_is_a_config_error(game, target):
    from gamevm_build.errors import ConfigError
    tmp, kernel, *_ = game
    c = Console(target, kernel, search_paths=[tmp])
    before = state(c)
    with pytest.raises(ConfigError, match=r"no memory region named 'Nope' \(memoryMap.regions has: heap\)"):
        c.load("physics", region="Nope")
    assert state(c) == before


def test_fault_report_has_a_backtrace(build, target):
    c = tiny_console(build, target, EMPTY_KERNEL, {
        "deep": "__attribute__((noinline)) int c3(int x){ *(volatile int *)(0x10 + x) = x; return x; }\n"
                "__attribute__((noinline)) int c2(int x){ return c3(x + 1) + 1; }\n"
                "__attribute__((noinline)) int c1(int x){ return c2(x * 2) * 3; }\n"})
    c.load("deep")
    with pytest.raises(EmulationFault) as err:
        c.call("deep:c1", 0)
    names = [sym.split("+")[0] for _, sym in err.value.report.backtrace if sym]
    assert names[:3] == ["deep:c3", "deep:c2", "deep:c1"]
    assert "backtrace:" in str(err.value) and "#2 " in str(err.value)


# gate: a function with an early return (its epilogue's ``jr ra``) between its prologue
# and its call: scanning back from the call finds that ``jr ra`` and not the prologue, so
# only the module's symbol table gives the function's start (and its frame)
GATE = r"""
__attribute__((noinline)) int boom(int x) { *(volatile int *)0x10 = x; return x; }
__asm__(
"   .text\n"
"   .globl gate\n"
"   .type gate, @function\n"
"   .set push\n"
"   .set noreorder\n"
"gate:\n"
"   addiu $sp, $sp, -24\n"
"   sw $ra, 20($sp)\n"
"   bnez $a0, 1f\n"
"   nop\n"
"   lw $ra, 20($sp)\n"
"   jr $ra\n"
"   addiu $sp, $sp, 24\n"
"1: jal boom\n"
"   nop\n"
"   lw $ra, 20($sp)\n"
"   jr $ra\n"
"   addiu $sp, $sp, 24\n"
"   .set pop\n"
"   .size gate, .-gate\n");
int gate(int x);
__attribute__((noinline)) int outer(int x) { return gate(x) * 3 + 1; }
"""


def test_backtrace_unwinds_a_module_function_from_its_symbol(build, target):
    c = tiny_console(build, target, EMPTY_KERNEL, {"walk": GATE})
    lm = c.load("walk")
    assert c.call("walk:outer", 0) == 1                            # the early return
    gate = c.symbol("walk:gate")
    assert c.loader.function_start(gate + 0x24) == gate            # gate's return address
    with pytest.raises(EmulationFault) as err:
        c.call("walk:outer", 1)
    names = [sym.split("+")[0] for _, sym in err.value.report.backtrace if sym]
    assert names[:3] == ["walk:boom", "walk:gate", "walk:outer"]


def test_pc_relative_relocation_in_a_module_is_bad_format(game, target):
    """Found by the fuzzer: R_MIPS_PC16 is resolved at link time, never applied by a loader."""
    tmp, kernel, phys, _ = game
    e = "<" if target == "psx" else ">"
    data = bytearray(phys.read_bytes())
    shoff = struct.unpack_from(e + "I", data, 32)[0]
    rela = next(i for i in range(struct.unpack_from(e + "H", data, 48)[0])
                if struct.unpack_from(e + "I", data, shoff + 40 * i + 4)[0] == 4)
    off = struct.unpack_from(e + "I", data, shoff + 40 * rela + 16)[0]
    info = struct.unpack_from(e + "I", data, off + 4)[0]
    struct.pack_into(e + "I", data, off + 4, (info & ~0xFF) | 10)      # R_MIPS_PC16
    bad = tmp / "pc16"
    bad.mkdir()
    (bad / "m.elf").write_bytes(bytes(data))
    c = Console(target, kernel, search_paths=[bad])
    expect_failure(c, "m", TLoadStatus.lsBadFormat, r"relocation type R_MIPS_PC16 is not one a loader applies")


def test_reload_parses_a_rewritten_file_again(game, target):
    """Parsed modules are remembered by content: a file changed between loads is
    read and checked again, the unchanged file loads as before."""
    tmp, kernel, phys, _ = game
    data = phys.read_bytes()
    c = Console(target, kernel, search_paths=[tmp])
    lm = c.load("physics")
    first = c.machine.read(lm.base, lm.module.image_size)
    c.loader.unload(lm.handle)
    text = read_module(phys).sections[".text"][1]
    at = data.find(text) + 8
    phys.write_bytes(data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1:])
    expect_failure(c, "physics", TLoadStatus.lsBadChecksum, r"hash")
    phys.write_bytes(data)
    again = c.load("physics")
    assert again.module is lm.module          # the same content: parsed once
    assert c.machine.read(again.base, again.module.image_size) == first


def test_unloaded_module_memory_is_poisoned_whole(game, target):
    tmp, kernel, *_ = game
    c = Console(target, kernel, search_paths=[tmp])
    lm = c.load("physics")
    size = lm.module.image_size
    c.loader.unload(lm.handle)
    fill = c.machine.cpu.poison(8)[:4]
    assert fill != bytes(4)
    assert c.machine.read(lm.base, size - size % 4) == fill * (size // 4)
