"""The console-side C runtime against the reference loader where it used to differ (issue #11):
a MIPS module's float ABI (``.MIPS.abiflags``), a stub table too full for an eviction's
stale stubs, float/double arguments through the n64's lazy stubs, and lazy loads through
the asynchronous path.  Same oracle as tests/test_target_runtime.py: the same statuses, the
same RAM and the same stubs."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from conftest import ALL_TARGETS
from gamevm_build.emu.machine import Machine
from gamevm_build.link.resident import read_resident
from gamevm_build.runtime.readers import DirectoryReader
from gamevm_build.runtime.reference import LoadError, Loader, LoaderPolicy, TLoadStatus, default_regions
from gamevm_build.runtime.target import LOAD_LAZY, TargetLoader
from test_target_runtime import (build_modules, built, frames_until_done, host_load,  # noqa: F401
                                 observe_calls, overlay_loaders, pair, same_modules, same_stubs)
from example_game import example_game  # noqa: F401  (fixture)

SHT_MIPS_ABIFLAGS = 0x7000002A


def with_abiflags(data: bytes, fp_abi: int) -> bytes:
    """``data`` (a module) with a ``.MIPS.abiflags`` section whose fp_abi byte is ``fp_abi``
    (the record as binutils writes it: MIPS I, 32-bit registers): its name, the record and
    the section headers move to the end of the file, the rest stays where it was."""
    order = "<" if data[5] == 1 else ">"
    shoff, = struct.unpack_from(order + "I", data, 32)
    shnum, shstrndx = struct.unpack_from(order + "HH", data, 48)
    headers = [list(struct.unpack_from(order + "10I", data, shoff + 40 * i)) for i in range(shnum)]
    out = bytearray(data)
    out += bytes(-len(out) % 4)
    strtab = headers[shstrndx]
    names = data[strtab[4]:strtab[4] + strtab[5]] + b".MIPS.abiflags\0"
    name_at = strtab[5]
    strtab[4], strtab[5] = len(out), len(names)
    out += names + bytes(-len(names) % 8)
    record = struct.pack(order + "HBBBBBBIIII", 0, 1, 0, 1, 1, 0, fp_abi, 0, 0, 0, 0)
    headers.append([name_at, SHT_MIPS_ABIFLAGS, 2, 0, len(out), len(record), 0, 0, 8, 24])
    out += record
    shoff = len(out)
    for h in headers:
        out += struct.pack(order + "10I", *h)
    struct.pack_into(order + "I", out, 32, shoff)
    struct.pack_into(order + "H", out, 48, shnum + 1)
    return bytes(out)


# --- 1. the float ABI of MIPS modules ------------------------------------------------------

@pytest.mark.parametrize("target,module_target,fp_abi,want", [
    ("psx", "psx", 1, TLoadStatus.lsBadFormat),        # hard (double) for the soft-float PS1
    ("psx", "psx", 5, TLoadStatus.lsBadFormat),        # hard (fpxx)
    ("psx", "psx", 3, TLoadStatus.lsSuccess),          # soft: its own
    ("psx", "psx", 0, TLoadStatus.lsSuccess),          # any
    ("n64", "n64", 3, TLoadStatus.lsBadFormat),        # soft for the hard-float N64
    ("n64", "n64", 1, TLoadStatus.lsSuccess),
    ("n64", "psx", 1, TLoadStatus.lsBadFormat),        # a bad PS1 module: bad, not foreign
    ("n64", "psx", 3, TLoadStatus.lsIncompatibleTarget),
    ("gba", "n64", 3, TLoadStatus.lsBadFormat),        # checked on every console alike
])
def test_the_float_abi_in_mips_abiflags_gets_the_host_status(tmp_path, target, module_target,
                                                             fp_abi, want):
    """The reference loader checks a MIPS module's ``.MIPS.abiflags`` fp_abi against its
    target's float ABI (arch.mips's check_object): the runtime gives the same status."""
    kernel = build_modules(tmp_path, module_target, {
        "fpmod": "int fp_twice(int x) { return 2 * x; }\n"})
    if module_target != target:                 # a resident of this console
        (tmp_path / "k").mkdir()
        kernel = build_modules(tmp_path / "k", target, {})
    path = tmp_path / "fpmod.elf"
    path.write_bytes(with_abiflags(path.read_bytes(), fp_abi))
    host, tl = pair(target, kernel, tmp_path)
    _lm, status = host_load(host, "fpmod")
    assert status == want
    assert tl.load_module("fpmod")[1] == want
    same_modules(host, tl)


# --- 2. a stub table too full for an eviction ----------------------------------------------

FILL = 32          # GVM_MAX_STUBS


def overlay_pair(tmp_path: Path, target: str, sources: dict, place: dict):
    """Both loaders over a heap and two overlay regions, safe mode on."""
    return overlay_loaders(tmp_path, target, sources, place, overlays=2, pool_size=0x2000)


FILL_FIRST = ("fill_prov", "fill_user", "prov", "user", "fill_other")


@pytest.mark.parametrize("order", [FILL_FIRST,
                                   ("prov", "user", "fill_prov", "fill_user", "fill_other")],
                         ids=["fill-first", "prov-first"])
@pytest.mark.parametrize("target", ALL_TARGETS)
def test_an_eviction_without_stubs_enough_fails_out_of_memory_and_changes_nothing(
        tmp_path, target, order):
    """All GVM_MAX_STUBS stubs are stale ones (``fill_prov``'s 32 functions, evicted while
    ``fill_user`` binds them); evicting ``prov``, which ``user`` binds, takes one more: the
    load fails with lsOutOfMemory and on both loaders nothing changed: ``prov`` stays,
    ``user``'s binding still calls it, the stub table is as it was.  ``prov`` loaded
    first, in the runtime's first record, too (the survivor
    gvm_stubs.c:stubs_for_eviction:const_3 counted the stubs needed from the second)."""
    sources = {
        "fill_prov": "".join(f"int g{i}(int x) {{ return x + {i}; }}\n" for i in range(FILL)),
        "fill_user": "".join(f"extern int g{i}(int);\n" for i in range(FILL)) +
                     "int fill_sum(int x) { return " +
                     " + ".join(f"g{i}(x)" for i in range(FILL)) + "; }\n",
        "fill_other": "int fill_other_f(void) { return 1; }\n",
        **{"prov": "int prov_f(int x) { return x + 7; }\n",
           "user": "extern int prov_f(int);\nint user_call(int x) { return prov_f(x) * 2; }\n",
           "other": "int other_f(void) { return 99; }\n"}}
    place = {"fill_prov": "Ovl2", "fill_other": "Ovl2", "prov": "Ovl", "other": "Ovl"}
    host, tl = overlay_pair(tmp_path, target, sources, place)
    handles = {}
    for name in order:
        host.load(name)
        handles[name], status = tl.load_module(name)
        assert status == TLoadStatus.lsSuccess, name
    same_modules(host, tl)
    same_stubs(host, tl)                       # fill_user's 32 bindings are stale stubs
    assert len(host.stubs.slots) == FILL
    # a backtrace names each word of each stub (ARM's 12-byte stubs: the table need not
    # start at a multiple of 12; the survivor reference.xǁLoaderǁ_describe_stub__mutmut_8)
    size = host.stubs.stub_size
    assert {(stub, host.machine.symbolize(at)) for stub, info in host.stubs.slots.items()
            for at in range(stub, stub + size, 4)} == {
        (stub, f"stale stub fill_prov:{info['symbol']}")
        for stub, info in host.stubs.slots.items()}
    user = tl.by_name("user")
    call = user.symbols["user_call"]
    area = tl.symbols["gvm_stub_area"], tl.resident.sizes["gvm_stub_area"]
    before = {m.name: tl.machine.read(m.base, m.size) for m in tl.loaded.values()}
    stubs_before = tl.machine.read(*area)

    _lm, status = host_load(host, "other")
    assert status == TLoadStatus.lsOutOfMemory
    assert tl.load_module("other") == (0, TLoadStatus.lsOutOfMemory)
    # both loaders counted the stubs first: the same stub table, the same modules (prov
    # stays on both), the same bytes in user
    same_stubs(host, tl)
    same_modules(host, tl)
    assert host.by_name("prov") is not None and host.by_name("other") is None
    assert tl.machine.read(user.base, user.size) == host.machine.read(user.base, user.size)
    # the runtime: nothing half-done
    assert {m.name: tl.machine.read(m.base, m.size) for m in tl.loaded.values()} == before
    assert tl.machine.read(*area) == stubs_before
    assert tl.by_name("prov") is not None and tl.by_name("other") is None
    assert tl.machine.call(call, 1) == 16
    # once the stubs are free again (fill_user goes), the eviction goes through alike
    assert tl.unload_module(handles["fill_user"]) == TLoadStatus.lsSuccess
    assert tl.load_module("other")[1] == TLoadStatus.lsSuccess
    assert tl.by_name("prov") is None
    assert "call to unloaded module 'prov' symbol 'prov_f'" in _fault(tl.machine, call, 1)


def _fault(machine, addr: int, *args: int) -> str:
    from gamevm_build.errors import EmulationError
    with pytest.raises(EmulationError) as err:
        machine.call(addr, *args)
    return str(err.value)


# --- 3. float and double arguments through the n64's lazy stubs ----------------------------

FP_KERNEL = """
void GameVMSyncCode(void *addr, unsigned long size);
double k_mix(float a, double b) { return a * 3.0 + b; }
volatile double fp_noise_out;
__attribute__((noinline)) void fp_noise(float a, double b) { fp_noise_out = a - b; }
/* the game's code synchronisation: game code, free to use the FP argument registers */
void fp_sync(void *a, unsigned long n) { GameVMSyncCode(a, n); fp_noise(0.25f, 0.5); }
"""
FP_MODULE = """
extern double k_mix(float a, double b);
int fp_call(int x) { return (int)(k_mix((float)x, x * 0.5) * 4.0); }
"""


def test_float_and_double_arguments_survive_the_n64_lazy_stub(tmp_path):
    """n64 (hard float, o32): a lazily bound import taking a float and a double gets them
    in $f12/$f14; the stub entry keeps them around the binder (and the game's sync_code,
    which uses them too), so the first call computes what the same C does on the host."""
    target = "n64"
    kernel = build_modules(tmp_path, target, {"fpmod": FP_MODULE}, FP_KERNEL,
                           keep=["k_mix", "fp_sync", "fp_noise"])
    resident = read_resident(kernel, target)
    m = Machine(target)
    m.load_elf(kernel)
    tl = TargetLoader(m, DirectoryReader([tmp_path]), default_regions(m, resident),
                      resident=resident, sync_code=resident.symbols["fp_sync"])
    handle, status = tl.load_module("fpmod", LOAD_LAZY)
    assert status == TLoadStatus.lsSuccess
    fn = tl.get_proc(handle, "fp_call")
    want = lambda x: int((float(x) * 3.0 + x * 0.5) * 4.0)        # noqa: E731  (exact in binary)
    assert tl.machine.read(tl.symbols["gvm_stub_area"], 4) != bytes(4)   # a lazy stub
    assert m.call(fn, 20) == want(20) == 280                       # first call: binds
    assert not [e for e in tl.events if e["event"] == 7]           # nothing unbound
    assert m.call(fn, 6) == want(6)                                # direct now
    host = Loader(Machine(target), resident, DirectoryReader([tmp_path]),
                  policy=LoaderPolicy(verify_hash=False))
    host.machine.load_elf(kernel)
    lm = host.load("fpmod", lazy=True)
    assert host.machine.call(lm.symbols["fp_call"], 20) == 280


# --- 4. lazy loads through the asynchronous path -------------------------------------------

@pytest.mark.parametrize("name", ["level1", "boss"])
def test_an_async_lazy_load_leaves_what_a_lazy_load_of_the_host_leaves(built, name):  # noqa: F811
    """LoadModuleAsyncEx(name, cb, GVM_LOAD_LAZY): the same RAM, the same stubs (MIPS: the
    called imports at stubs; elsewhere everything bound) and statuses as the reference
    loader's lazy load; the self tests' first calls bind the stubs alike."""
    target, out, kernel = built
    host, tl = pair(target, kernel, out)
    calls = observe_calls(tl, "LoadModule")
    rec = tl.load_async(name, callback=tl.symbols["LoadModule"], flags=LOAD_LAZY)
    frames_until_done(tl, rec)
    assert rec["status"] == "lsSuccess"
    (handle, status), = calls
    assert status == TLoadStatus.lsSuccess
    lm = host.load(name, needs=True, lazy=True)
    same_modules(host, tl)
    same_stubs(host, tl)
    lazy = {m.name: dict(m.lazy) for m in host.loaded.values()}
    assert any(lazy.values()) == (target in ("psx", "n64")), lazy
    for m in tl.loaded.values():
        if "gamevm_selftest" in m.symbols:
            assert tl.machine.call(m.symbols["gamevm_selftest"]) == 0, m.name
            assert host.machine.call(m.symbols["gamevm_selftest"]) == 0, m.name
    same_modules(host, tl)
    same_stubs(host, tl)
    if target in ("psx", "n64"):
        assert {m.name: dict(m.lazy) for m in host.loaded.values()} != lazy   # some bound
        assert [e for e in tl.events if e["event"] == 5]                     # patched
    assert tl.unload_module(handle) == TLoadStatus.lsSuccess
    host.unload(lm.handle)
    same_modules(host, tl)
    same_stubs(host, tl)


def test_an_async_lazy_load_that_fails_frees_its_stubs_alike(tmp_path):
    """A lazy asynchronous load that fails (a data import nobody provides) reports the
    reference loader's status, leaves nothing and frees its stubs, so the next lazy load's
    stubs take the same slots."""
    target = "psx"
    kernel = build_modules(tmp_path, target, {
        "ok": "extern int k_twice(int);\nint ok_f(int x) { return k_twice(x) + 1; }\n",
        "broken": "extern int k_twice(int);\nextern int k_other(int);\nextern int no_data;\n"
                  "int broken_f(int x) { return k_twice(x) + k_other(x) + no_data; }\n"},
        "int k_twice(int x) { return 2 * x; }\n", keep=["k_twice"])
    host, tl = pair(target, kernel, tmp_path)
    with pytest.raises(LoadError) as err:
        host.load("broken", lazy=True)
    rec = tl.load_async("broken", flags=LOAD_LAZY)
    frames_until_done(tl, rec)
    assert rec["status"] == err.value.status.name == "lsUndefinedSymbol"
    assert not tl.loaded
    same_stubs(host, tl)
    lm = host.load("ok", lazy=True)
    rec = tl.load_async("ok", flags=LOAD_LAZY)
    frames_until_done(tl, rec)
    assert rec["status"] == "lsSuccess"
    same_modules(host, tl)
    same_stubs(host, tl)
    fn = lm.symbols["ok_f"]
    assert tl.machine.call(fn, 20) == host.machine.call(fn, 20) == 41
    same_modules(host, tl)
    same_stubs(host, tl)


# --- 5. an eviction frees the chain only the occupant held ----------------------------------

CHAIN_SOURCES = {
    "base": "int base_f(int x) { return x + 1; }\n",
    "mid": "extern int base_f(int);\nint mid_f(int x) { return base_f(x) * 3; }\n",
    "top": "extern int mid_f(int);\nint top_f(int x) { return mid_f(x) + 5; }\n",
    "other": "int other_f(void) { return 99; }\n"}


@pytest.mark.parametrize("target", ALL_TARGETS)
def test_an_eviction_frees_the_whole_chain_its_occupant_held_in_both_loaders(tmp_path, target):
    """top (in the overlay) needs mid, which needs base; evicting top frees mid, and then
    base, which only mid held: each module freed with it drops its own needs' references,
    as an unload does (issue 20's survivor found the reference loader keeping base with a
    reference nothing held; the runtime had the same gap)."""
    from conftest import run_gamevm
    host, tl = overlay_loaders(tmp_path, target, {"base": CHAIN_SOURCES["base"],
                                                  "other": CHAIN_SOURCES["other"]},
                               {"top": "Ovl", "other": "Ovl"})
    for name, needs in (("mid", "base"), ("top", "mid")):      # with their needs declared
        (tmp_path / f"{name}.c").write_text(CHAIN_SOURCES[name])
        proc = run_gamevm("module", "-t", target, "-o", tmp_path / f"{name}.elf",
                          "--needs", tmp_path / f"{needs}.elf", tmp_path / f"{name}.c")
        assert proc.returncode == 0, proc.stderr
    host.load("top", needs=True)
    assert tl.load_module("top")[1] == TLoadStatus.lsSuccess
    same_modules(host, tl)
    host.load("other")                                      # evicts top
    assert tl.load_module("other")[1] == TLoadStatus.lsSuccess
    assert {lm.name for lm in host.loaded.values()} == {"other"}
    assert tl.by_name("base") is None and tl.by_name("mid") is None and tl.by_name("top") is None
    same_modules(host, tl)
