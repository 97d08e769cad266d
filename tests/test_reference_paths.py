"""Paths of the reference loader and its allocator that no test executed (issue 20: a line
no test runs survives every mutant of it).

What a game or its developer observes on each: the status and message of a refused load,
the fault a call through loader-owned code stops with, which modules stay loaded and with
which reference counts, what an address is named after its module went.  Real modules and
residents built by the cross compiler (psx only: the loader's logic is the same on every
console), run on unicorn; one module-scoped build serves every test, and each test loads
from its own copy of the files.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from gamevm_build.emu.machine import Machine
from gamevm_build.errors import GameVMError
from gamevm_build.link.linker import link_module
from gamevm_build.link.resident import build_resident, read_resident
from gamevm_build.link.toolchain import find_toolchain
from gamevm_build.play.console import Console
from gamevm_build.runtime.allocator import Allocator, Block, Region
from gamevm_build.runtime.readers import DirectoryReader
from gamevm_build.runtime.loadcost import search_probes
from gamevm_build.runtime.reference import (STALE_DATA_BASE, SYS_LAZY, Loader, LoaderPolicy,
                                            LoadError, TLoadStatus, default_regions)
from test_runtime import with_overlay
from test_target_runtime import fault_of as fault

TARGET = "psx"
KERNEL = "void _start(void){ for(;;); }\n"

#: two words of code before the module's first symbol (test_loader_mutants.UNNAMED_HEAD)
PADMOD = ('__asm__(".text\\n.set noreorder\\n.word 0\\n.word 0\\n'
          '.globl pad_f\\n.type pad_f, @function\\npad_f:\\njr $ra\\nli $v0, 7\\n'
          '.size pad_f, .-pad_f\\n.set reorder\\n");\n')
MODULES = {
    "padmod": PADMOD,
    # a constructor: a reload through a stale stub must run it before the call goes on
    "prov": "static int add;\n__attribute__((constructor)) static void prov_init(void)"
            "{ add = 40; }\nint prov_f(int x){ return x + add; }\n",
    "user": "int prov_f(int);\nint user_f(int x){ return prov_f(x) * 2; }\n",
    "filler": "int filler_f(void){ return 3; }\n",
    "undef": "int nowhere(int);\nint undef_f(void){ return nowhere(1); }\n",
    # 33 functions called lazily: one more than the console-side runtime's 32 stubs
    "many": "".join(f"int e{i}(void);\n" for i in range(33))
            + "int many_f(void){ return " + " + ".join(f"e{i}()" for i in range(33)) + "; }\n",
    # an object (jr $ra; li $v0, 7 in .rodata) that another module calls as a function
    "big": "int big_f(void){ return 1; }\nint big_pad[64] = {1};\n"
           "int big_g(int x){ int i, s = 0; for (i = 0; i < 64; i++) s += big_pad[i] * x;"
           " return s; }\n",
    # a table (an object) that another module reads and, mistaken for code, jumps to: the
    # jump's relocation first, then the read's pair
    "tbl": "int tbl[4] = {1, 2, 3, 4};\n",
    "tbluser": '__asm__(".text\\n.set noreorder\\n.globl tu_jump\\ntu_jump: j tbl\\nnop\\n'
               '.globl tu_read\\ntu_read: lui $2, %hi(tbl+4)\\njr $ra\\n'
               'lw $2, %lo(tbl+4)($2)\\n.set reorder\\n");\n',
    # binds into user, which binds into prov
    "top": "int user_f(int);\nint top_f(int x){ return user_f(x) + 1; }\n",
    # two constructors: a reload through a stale stub runs each once, in order
    "prov2": "static int add;\n__attribute__((constructor)) static void a(void){ add += 40; }\n"
             "__attribute__((constructor)) static void b(void){ add = add * 2 + 1; }\n"
             "int prov2_f(int x){ return x + add; }\n",
    "user2": "int prov2_f(int);\nint user2_f(int x){ return prov2_f(x) * 2; }\n",
    # 31 functions called lazily: all but one of the console-side runtime's 32 stubs
    "lazy31": "".join(f"int f{i}(void);\n" for i in range(31))
              + "int lazy31_f(void){ return " + " + ".join(f"f{i}()" for i in range(31))
              + "; }\n",
    # two functions of one module bound by another: an eviction needs a stale stub for each
    "pair": "int pair_a(int x){ return x + 1; }\nint pair_b(int x){ return x + 2; }\n",
    "pairuser": "int pair_a(int); int pair_b(int);\n"
                "int pairuser_f(int x){ return pair_a(x) * pair_b(x); }\n",
    # one import called from two sites: a lazy binding patches both
    "twice": "int prov_f(int);\nint twice_f(int x){ return prov_f(x + 1) - prov_f(x); }\n",
}
#: a later build of ``prov`` that no longer exports prov_f
PROV_V2 = "int prov_g(int x){ return x; }\n"


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    """The modules above, ``v2/prov.elf``, and two residents: ``k.elf`` (host runtime: the
    loader's stubs trap) and ``kr.elf`` (the console-side runtime: its stub table)."""
    d = tmp_path_factory.mktemp("refpaths")
    tc = find_toolchain(TARGET)
    for name, src in MODULES.items():
        (d / f"{name}.c").write_text(src)
        link_module(TARGET, [tc.compile(d / f"{name}.c", d / f"{name}.o")], d / f"{name}.elf")
    (d / "v2").mkdir()
    (d / "v2" / "prov.c").write_text(PROV_V2)
    link_module(TARGET, [tc.compile(d / "v2" / "prov.c", d / "v2" / "prov.o")],
                d / "v2" / "prov.elf")
    (d / "k.c").write_text(KERNEL)
    kobj = tc.compile(d / "k.c", d / "k.o")
    build_resident(TARGET, [kobj], d / "k.elf")
    build_resident(TARGET, [kobj], d / "kr.elf", runtime="target")
    return d


@pytest.fixture
def mods(files, tmp_path) -> Path:
    """A private copy of the module files (a test may rewrite or delete them)."""
    for p in files.glob("*.elf"):
        if p.name not in ("k.elf", "kr.elf"):
            shutil.copy(p, tmp_path / p.name)
    return tmp_path


def host_console(files, mods, **kw) -> Console:
    return Console(TARGET, files / "k.elf", search_paths=[mods], **kw)


def runtime_console(files, mods, **kw) -> Console:
    """The console-side runtime's resident, driven by the reference loader (its stub table,
    entered at ``gvm_stub_entry``)."""
    return Console(TARGET, files / "kr.elf", search_paths=[mods], loader="host", **kw)


def bare_loader(files, mods, kernel="k.elf", **kw) -> Loader:
    resident = read_resident(files / kernel, TARGET)
    machine = Machine(TARGET)
    machine.load_elf(files / kernel)
    return Loader(machine, resident, DirectoryReader([mods]), **kw)


def refcounts(loader) -> dict:
    return {lm.name: lm.refcount for lm in loader.loaded.values()}


def refused(loader, name, status, message, **kw) -> LoadError:
    """``loader.load(name)`` fails with ``status`` and exactly ``message``, changing nothing."""
    before = (loader.allocator.snapshot(), sorted(loader.loaded), refcounts(loader))
    with pytest.raises(LoadError) as err:
        loader.load(name, **kw)
    assert err.value.status == status, str(err.value)
    assert re.fullmatch(message, str(err.value), re.S), str(err.value)
    assert (loader.allocator.snapshot(), sorted(loader.loaded), refcounts(loader)) == before
    return err.value


# --- the allocator ---------------------------------------------------------------------------

def test_a_fixed_placement_below_the_regions_top_is_out_of_memory(files, mods):
    """``load(at=...)`` (a prelinked placement) on memory a loaded module occupies: the
    allocator cannot place it there, and the load says where and why."""
    c = host_console(files, mods)
    prov = c.load("prov")
    heap = c.loader.allocator.regions[0]
    size = c.loader._read("padmod")[1].load_size
    refused(c.loader, "padmod", TLoadStatus.lsOutOfMemory,
            re.escape(f"{mods / 'padmod.elf'}: region 'heap' (0x{heap.start:08x}-0x{heap.end:08x}"
                      f", top 0x{heap.top:08x}) cannot place 'padmod' ({size} bytes) at "
                      f"0x{prov.base:08x}"), at=prov.base)
    assert c.call("prov:prov_f", 2) == 42


def test_a_fixed_placement_outside_every_region_is_out_of_memory(files, mods):
    c = host_console(files, mods)
    assert c.loader.allocator.region_at(0x00000010) is None
    refused(c.loader, "padmod", TLoadStatus.lsOutOfMemory,
            "module 'padmod': no memory region holds 0x00000010", at=0x10)
    assert not c.loader.loaded


def test_freeing_a_block_of_another_region_is_refused():
    a, b = Region("A", 0x1000, 0x100), Region("B", 0x2000, 0x100)
    block = b.alloc(16, 4, "m")
    with pytest.raises(ValueError, match=r"^block 0x00002000 \(m\) is not in region A$"):
        a.free(block)
    with pytest.raises(ValueError):
        a.free(Block(0x1000, 16, "m"))           # equal to nothing a holds: a holds nothing
    assert b.snapshot() == ((0x2000, 16, "m", False),) and a.snapshot() == ()


def test_an_allocator_needs_a_region():
    with pytest.raises(GameVMError, match=r"^no memory regions to load modules into$"):
        Allocator([])


def heap_and_fast(files) -> list[Region]:
    """The game's heap cut in two plain regions, ``heap`` and ``fast``."""
    heap = default_regions(Machine(TARGET), read_resident(files / "k.elf", TARGET))[0]
    return [Region("heap", heap.start, heap.size // 2),
            Region("fast", heap.start + heap.size // 2, heap.size // 2)]


def test_a_module_placed_in_a_named_heap_region_goes_there(files, mods):
    """``modules.NAME.region`` naming a plain (not overlay) region: the module goes to that
    region, evicting nothing, even when the first region has room."""
    regions = heap_and_fast(files)
    loader = bare_loader(files, mods, regions=regions, placement={"padmod": "fast"})
    lm = loader.load("padmod")
    assert lm.region.name == "fast" and lm.base == regions[1].start
    assert loader.load("filler").region.name == "heap"
    assert loader.machine.call(lm.symbols["pad_f"]) == 7


# --- GameVMTrust ------------------------------------------------------------------------------

def test_no_trust_table_turns_the_check_off_and_a_malformed_one_is_bad_format(files, mods):
    loader = bare_loader(files, mods)
    loader.trust(None)
    assert loader.trusted is None and loader.timer.costs.trusted is False
    with pytest.raises(LoadError) as err:
        loader.trust(b"GVMX" + bytes(12))
    assert err.value.status == TLoadStatus.lsBadFormat
    assert str(err.value) == "GameVMTrust: not a GameVM trust table (no GVMT magic)"
    assert loader.trusted is None and loader.timer.costs.trusted is False
    assert loader.load("padmod").name == "padmod"          # and nothing is checked


# --- names of addresses ---------------------------------------------------------------------

def test_an_address_before_the_first_symbol_of_an_unloaded_module_is_named_by_offset(files,
                                                                                      mods):
    c = host_console(files, mods)
    lm = c.load("padmod")
    base = lm.base
    c.loader.unload(lm.handle)
    assert c.machine.symbolize(base + 4) == "unloaded padmod+0x4"
    assert c.machine.symbolize(base + 8) == "unloaded padmod:pad_f"
    assert c.machine.symbolize(base + 12) == "unloaded padmod:pad_f+0x4"


def test_the_loaders_stub_area_is_code(files, mods):
    """Stack walks ask whether an address is code: the stubs are."""
    c = host_console(files, mods)
    c.load("prov")
    user = c.load("user", lazy=True)
    stub = user.lazy["prov_f"]
    assert c.loader.is_code(stub) and c.loader.is_code(c.loader.stubs.first)
    assert not c.loader.is_code(user.base + user.code_end)          # its data
    assert c.machine.symbolize(stub) == "lazy stub user->prov_f"


# --- loading ----------------------------------------------------------------------------------

def test_a_module_loaded_under_another_file_name_gains_a_reference(files, mods):
    """A file whose module is already loaded under its own name (``alias.elf`` holds
    ``padmod``): the load returns the loaded module and counts a reference."""
    shutil.copy(mods / "padmod.elf", mods / "alias.elf")
    c = host_console(files, mods)
    lm = c.load("padmod")
    assert c.load("alias") is lm
    assert refcounts(c.loader) == {"padmod": 2} and len(c.loader.loaded) == 1
    assert c.loader.events[-1] == {"event": "ref", "module": "padmod", "refcount": 2,
                                   "why": "load"}


def test_modules_that_need_each_other_load_once_each(files, mods):
    """A needs cycle (project config: filler needs padmod, padmod needs filler): each
    module is read and loaded once, the one asked for last; the cycle is cut where it
    closes (padmod, loaded first, holds nothing), so one unload frees both."""
    loader = bare_loader(files, mods, extra_needs={"filler": ["padmod"], "padmod": ["filler"]})
    top = loader.load("filler", needs=True)
    pad = loader.by_name("padmod")
    assert [lm.name for lm in loader.loaded.values()] == ["padmod", "filler"]
    assert top.deps == [pad.handle] and pad.deps == []
    assert refcounts(loader) == {"padmod": 1, "filler": 1}
    assert [lm.name for lm in loader.unload(top.handle)] == ["filler", "padmod"]
    assert not loader.loaded


def test_a_need_loaded_for_a_module_that_fails_is_rolled_back(files, mods):
    """undef needs padmod (config), which loads; undef's import is undefined: the load
    fails with lsUndefinedSymbol and padmod goes too, RAM and regions as before."""
    loader = bare_loader(files, mods, extra_needs={"undef": ["padmod"]})
    heap = loader.allocator.regions[0]
    ram = loader.machine.read(heap.start, 0x1000)
    refused(loader, "undef", TLoadStatus.lsUndefinedSymbol,
            re.escape(f"module 'undef' ({mods / 'undef.elf'}): undefined import nowhere: "
                      "provide it in the resident or in a needed module"), needs=True)
    assert loader.machine.read(heap.start, 0x1000) == ram
    assert loader.by_name("padmod") is None


def test_an_async_load_finished_by_a_load_meanwhile_counts_a_reference(files, mods):
    """LoadModuleAsync("prov"), then a plain load of prov before the async one links: the
    async load finds it loaded (raced), links nothing and holds its own reference."""
    c = host_console(files, mods)
    job = c.load_async("prov")
    lm = c.load("prov")
    c.wait()
    assert job.status == TLoadStatus.lsSuccess and job.handle == lm.handle
    assert refcounts(c.loader) == {"prov": 2}
    assert [e["module"] for e in c.loader.events if e["event"] == "load"] == ["prov"]


def test_a_dynamic_import_of_a_loaded_module_does_not_read_it(files, mods):
    c = host_console(files, mods)
    c.load("prov")
    (mods / "prov.elf").unlink()
    assert c.loader.dispatch("prov") == "prov"
    with pytest.raises(LoadError) as err:
        c.loader.dispatch("gone")
    assert err.value.status == TLoadStatus.lsFileNotFound


# --- the stub area ----------------------------------------------------------------------------

def test_a_call_to_a_freed_lazy_stub_faults(files, mods):
    """After a lazy import's first call the stub is free; jumping to it (a pointer kept
    from before) stops with a fault naming the stub area, with trap stubs (host runtime)
    and with the console-side runtime's table alike."""
    for make in (host_console, runtime_console):
        c = make(files, mods)
        c.load("prov")
        user = c.load("user", lazy=True)
        stub = user.lazy["prov_f"]
        assert c.call("user:user_f", 1) == 82
        assert "prov_f" not in user.lazy and c.machine.symbolize(stub) == "loader: free stub"
        assert "a jump into the loader's stub area outside a stub" in fault(c.machine, stub)


def test_a_lazy_load_needing_more_stubs_than_the_runtime_table_has_is_out_of_memory(files,
                                                                                    mods):
    c = runtime_console(files, mods)
    size = c.loader._ensure_stubs().size
    free = c.loader.stubs.free_count()
    assert free == 32
    refused(c.loader, "many", TLoadStatus.lsOutOfMemory,
            re.escape(f"the loader's stub area ({size} bytes) is full"), lazy=True)
    assert c.loader.stubs.free_count() == free and not c.loader.stubs.slots


def test_a_trap_of_the_loaders_codes_before_it_has_stubs_is_not_its(files, mods):
    c = host_console(files, mods)
    assert c.loader.stubs is None
    assert c.loader.service(c.machine, SYS_LAZY) is NotImplemented


# --- eviction and stale bindings --------------------------------------------------------------

def evicting(c, user_lazy=False):
    """prov in overlay region Ovl, user bound to it, then filler loaded there: prov goes."""
    with_overlay(c)
    c.loader.placement.update(prov="Ovl", filler="Ovl")
    c.load("prov")
    user = c.load("user", lazy=user_lazy)
    c.load("filler")
    assert c.loader.by_name("prov") is None
    return user


def test_an_eviction_without_safe_mode_stubs_nothing(files, mods):
    """Safe mode off: the eviction asks for no stubs and redirects no binding, so user's
    call runs whatever now sits at prov_f's address: filler_f (3), loaded there."""
    c = host_console(files, mods, policy=LoaderPolicy(safe_mode=False))
    user = evicting(c)
    filler = c.loader.by_name("filler")
    assert c.loader.stubs is None and not user.stubbed
    assert user.bindings["prov_f"] == filler.symbols["filler_f"]
    assert c.call("user:user_f", 1) == 6


def test_an_unresolved_lazy_import_needs_no_stub_at_eviction(files, mods):
    """A lazy import not called yet is not a binding into the evicted module: no stale stub,
    and its first call finds nothing to bind to."""
    c = host_console(files, mods)
    user = evicting(c, user_lazy=True)
    assert not user.stubbed and "prov_f" in user.lazy
    msg = fault(c.machine, user.symbols["user_f"], 1)
    assert ("lazy binding: module 'user' calls 'prov_f', which neither the resident nor any "
            "loaded module provides") in msg


def test_a_stale_call_through_the_runtime_table_reloads_and_runs_the_constructor(files, mods):
    """Stale policy "reload", the console-side runtime's stub table: the stale stub enters
    gvm_stub_entry; the loader reloads prov, runs its constructor through the reload
    trampoline (made on first use, beside the table) and the call goes on."""
    c = runtime_console(files, mods, policy=LoaderPolicy(stale="reload"))
    user = evicting(c)
    assert c.loader.stubs.entry is not None and c.loader.stubs._trampoline is None
    assert list(user.stubbed) == ["prov_f"]
    assert c.call("user:user_f", 2) == 84                # (2 + 40) * 2: constructed
    tramp = c.loader.stubs.trampoline
    assert not c.loader.stubs.contains(tramp)
    assert c.loader.by_name("prov") is not None and c.loader.by_name("filler") is None
    assert [e for e in c.loader.events if e["event"] == "reload"] == [
        {"event": "reload", "module": "prov", "symbol": "prov_f", "holder": "user"}]
    assert not user.stubbed and c.call("user:user_f", 3) == 86


def test_a_stale_call_through_the_runtime_table_faults_by_default(files, mods):
    c = runtime_console(files, mods)
    user = evicting(c)
    msg = fault(c.machine, user.symbols["user_f"], 1)
    assert "call to unloaded module 'prov' symbol 'prov_f'" in msg
    assert "through a binding of module 'user', stubbed when 'prov' was freed" in msg


def test_a_reload_that_no_longer_exports_the_symbol_faults(files, mods):
    """prov rebuilt without prov_f after user's binding was stubbed: the reload succeeds,
    the binding stays stubbed, and the call stops saying why."""
    c = host_console(files, mods, policy=LoaderPolicy(stale="reload"))
    user = evicting(c)
    shutil.copy(files / "v2" / "prov.elf", mods / "prov.elf")
    msg = fault(c.machine, user.symbols["user_f"], 1)
    assert "call to unloaded module 'prov' symbol 'prov_f'" in msg
    assert "the reloaded module no longer exports it" in msg
    assert "prov_g" in c.loader.by_name("prov").symbols and list(user.stubbed) == ["prov_f"]


def test_a_module_file_too_large_to_read_is_refused_with_a_status(files, mods):
    """A module file over the 64 MiB gamevm reads from one file (here a sparse one) is a
    failed load with a status and the reader's words, not an error of another kind that
    a game's LoadModule trap would not turn into a status."""
    big = mods / "huge.elf"
    with open(big, "wb") as f:
        f.truncate(65 << 20)
    refused(bare_loader(files, mods), "huge", TLoadStatus.lsFileNotFound,
            re.escape(f"{big}: module is {65 << 20} bytes, more than the 64 MiB gamevm reads "
                      "from one file"))


# --- the fresh sample of 2026-12-06 (seed 2026120602) -----------------------------------------

def test_a_fixed_placement_may_end_at_its_regions_end():
    """A block placed by address may take the region's last byte, not one byte more.
    Written for the survivor allocator.xǁRegionǁalloc_at__mutmut_14 (``<=`` made ``<``)."""
    r = Region("A", 0x1000, 0x100)
    r.alloc_at(0x1080, 0x80, "m")
    assert r.top == r.end == 0x1100 and [b.owner for b in r.occupants] == ["m"]
    with pytest.raises(GameVMError, match=re.escape(
            "region 'A' (0x00001000-0x00001100, top 0x00001000) cannot place 'n' (129 bytes) "
            "at 0x00001080")):
        Region("A", 0x1000, 0x100).alloc_at(0x1080, 0x81, "n")


def test_a_binary_search_probes_as_many_times_as_the_count_has_bits():
    """The modelled cost of binding an import (the analyzer's and the reference loader's
    lazy binding alike) counts the probes a binary search of the symbol table takes at
    worst: 7 names take 3, 8 take 4.  Written for the survivor
    reference.xǁLoaderǁlazy_overhead_cycles__mutmut_9 (``log2(n + 1)`` made
    ``log2(n + 2)``: one probe too many for 1, 3, 7, 15... names)."""
    assert [search_probes(n) for n in (0, 1, 2, 3, 4, 7, 8, 1023, 1024)] == \
        [0, 1, 2, 2, 3, 3, 4, 10, 11]


@pytest.mark.parametrize("user_name, sites", [("user", 1), ("twice", 2)])
def test_a_lazy_bind_is_charged_the_searches_the_runtime_makes(files, mods, user_name, sites):
    """prov_f is not the resident's: the resident's table is searched, then the loaded
    modules' exports in load order, prov's first (which has it: the caller's are not
    searched); then each call site is patched.  The two-site caller was written for the
    survivor reference.xǁLoaderǁlazy_overhead_cycles__mutmut_7 (the patching cost divided by
    the sites, not multiplied: the same for one site)."""
    c = host_console(files, mods)
    prov = c.load("prov")
    user = c.load(user_name, lazy=True)
    assert c.call(f"{user_name}:{user_name}_f", 1) == (82 if sites == 1 else 1)
    bind, = [e for e in c.loader.events if e["event"] == "lazy-bind"]
    assert bind["sites"] == sites
    costs = c.timer.costs
    assert bind["resolver_cycles"] == pytest.approx(
        costs.bind_fixed + costs.bind_per_probe * len(c.loader.resident.symbols).bit_length()
        + costs.bind_per_module + costs.bind_per_probe * len(prov.module.exports).bit_length()
        + costs.reloc("R_MIPS_26") * bind["sites"])
    assert "prov_f" not in user.lazy


def test_a_load_and_an_unload_are_recorded_as_such(files, mods):
    """The load timer's record of a plain load says ``load``; the memory log of an unload
    names the module's base.  Written for the survivors reference.xǁLoaderǁload__mutmut_3
    (the default kind) and reference.xǁLoaderǁ_free__mutmut_53 (the base left out)."""
    c = host_console(files, mods)
    lm = c.load("filler")
    assert [(r.kind, r.request) for r in c.timer.records] == [("load", "filler")]
    c.loader.unload(lm.handle)
    freed = c.timer.memory[-1]
    assert {k: freed[k] for k in ("event", "module", "region", "base", "size", "reason")} == {
        "event": "free", "module": "filler", "region": lm.region.name,
        "base": f"0x{lm.base:08x}", "size": lm.module.load_size, "reason": freed["reason"]}
    assert freed["reason"]


def test_constructors_run_by_target_code_take_their_time_in_the_init_phase(files, mods):
    """A load whose constructors the game's code runs (``run_init=False``, then
    ``init_entry`` until 0): the module's last phase is ``init``, as long as its measured
    constructor time, and the load's record ends with it.  Written for the survivors
    reference.xǁLoaderǁ_finish_init__mutmut_36 and _40 (the time and the phase's name)."""
    c = host_console(files, mods)
    lm = c.load("prov", run_init=False)
    record = c.loader.pending_init[lm.handle]["record"]
    i = 0
    while (fn := c.loader.init_entry(lm.handle, i)) != 0:
        c.machine.call(fn)
        i += 1
    assert i == 1 and lm.handle not in c.loader.pending_init
    name, start, end = lm.timing.phases[-1]
    assert name == "init" and end - start == pytest.approx(lm.timing.cpu["init"])
    assert lm.timing.cpu["init"] > 0 and record.end_s == pytest.approx(end)


def two_overlays(c):
    """Overlay regions Ovl and Ovl2 carved off the heap's top."""
    with_overlay(c)
    heap = c.loader.allocator.regions[0]
    heap.size -= 0x2000
    c.loader.allocator.regions.append(Region("Ovl2", heap.end, 0x2000, "overlay"))


def test_an_eviction_counts_the_stale_stubs_the_evicted_module_gives_back(files, mods):
    """The stub table full: user's binding into prov (evicted) took the last stub.  Evicting
    user then needs one for top's binding into it, which the stub user gives back pays for:
    the load goes on, and top's binding takes that very stub.  Written for the survivor
    reference.xǁLoaderǁ_check_stubs_for__mutmut_32 (only lazy stubs counted as given back:
    the load was refused lsOutOfMemory)."""
    c = runtime_console(files, mods)
    two_overlays(c)
    c.loader.placement.update(prov="Ovl", filler="Ovl", user="Ovl2", padmod="Ovl2")
    c.load("lazy31", lazy=True)
    c.load("prov")
    user = c.load("user")
    top = c.load("top")
    c.load("filler")                                   # evicts prov
    stub = user.stubbed["prov_f"][1]
    assert c.loader.stubs.free_count() == 0
    c.load("padmod")                                   # evicts user
    assert c.loader.by_name("user") is None and c.loader.stubs.free_count() == 0
    assert top.stubbed["user_f"] == ("user", stub)
    msg = fault(c.machine, top.symbols["top_f"], 1)
    assert "call to unloaded module 'user' symbol 'user_f'" in msg


def test_an_eviction_needs_a_stale_stub_for_each_function_bound_into_the_evicted(files, mods):
    """One stub left (lazy31 holds the other 31): evicting pair, into which pairuser bound
    two functions, needs two, and pair gives none back.  The load that would evict it is
    refused lsOutOfMemory, naming the two, and changes nothing.  Written for the survivor
    reference.xǁLoaderǁ_check_stubs_for__mutmut_22 (``need += 1`` made ``need = 1``: one
    binding counted however many, and the eviction allowed)."""
    c = runtime_console(files, mods)
    with_overlay(c)
    c.loader.placement.update(pair="Ovl", filler="Ovl")
    c.load("lazy31", lazy=True)
    c.load("pair")
    user = c.load("pairuser")
    assert c.loader.stubs.free_count() == 1
    size = c.loader.stubs.size
    refused(c.loader, "filler", TLoadStatus.lsOutOfMemory, re.escape(
        "loading 'filler' evicts pair, whose 2 bound function(s) need stale stubs: the "
        f"loader's stub area ({size} bytes) has 1 free; unload modules that bind into them "
        "first"))
    assert c.call("pairuser:pairuser_f", 3) == 20 and user.stubbed == {}


def test_a_stale_data_binding_is_patched_where_its_relocations_reach(files, mods):
    """tbl (an object) evicted: tbluser's read of it goes to the first stale-data address,
    0x7F000000 + 4 (the console-side runtime's first too), where the read stops naming the
    binding; its jump to tbl cannot reach that address (another 256 MB segment) and stays
    as it was, and the read's two relocations after it are patched all the same.  Written
    for the survivors reference.xǁStubAreaǁ__init____mutmut_14 (the first address 16
    bytes on) and reference.xǁLoaderǁ_patch_sites__mutmut_33 (patching stopped at the
    first site out of reach)."""
    c = host_console(files, mods)
    with_overlay(c)
    c.loader.placement.update(tbl="Ovl", filler="Ovl")
    c.load("tbl")
    tu = c.load("tbluser")
    assert [r.type_name for r in tu.module.relocations] == ["R_MIPS_26", "R_MIPS_HI16",
                                                           "R_MIPS_LO16"]
    assert c.call("tbluser:tu_read") == 2
    c.load("filler")                                   # evicts tbl
    stub, = [e for e in c.loader.events if e["event"] == "stub"]
    assert stub == {"event": "stub", "module": "tbluser", "symbol": "tbl", "target": "tbl",
                    "sites": 2, "stub": STALE_DATA_BASE}
    assert tu.stubbed["tbl"] == ("tbl", STALE_DATA_BASE)
    msg = fault(c.machine, tu.symbols["tu_read"])
    assert f"0x{STALE_DATA_BASE + 4:08x}" in msg and "stale binding to tbl:tbl" in msg


def test_a_stale_call_reloads_the_file_its_module_came_from(files, mods):
    """prov loaded from ``provx.elf`` and evicted: a call through user's stale stub
    (policy ``reload``) reloads that file, not ``prov.elf`` (there is none), and the call
    goes on.  Written for the survivor reference.xǁLoaderǁ_stub_bindings__mutmut_34
    (``request or name`` made ``and``: the reload asked for ``prov``)."""
    (mods / "prov.elf").rename(mods / "provx.elf")
    c = host_console(files, mods, policy=LoaderPolicy(stale="reload"))
    with_overlay(c)
    c.loader.placement.update(prov="Ovl", filler="Ovl")
    c.load("provx")
    user = c.load("user")
    c.load("filler")                                   # evicts prov
    stub = user.stubbed["prov_f"][1]
    assert c.loader.stubs.slots[stub]["request"] == "provx"
    assert c.call("user:user_f", 2) == 84
    assert c.loader.by_name("prov").request == "provx" and not user.stubbed


# --- the fresh sample of 2026-12-06 (seed 2026120603) -----------------------------------------

def test_a_stale_reload_is_recorded_as_one_and_goes_through_the_areas_own_trampoline(files,
                                                                                     mods):
    """Trap stubs (host runtime): the reload trampoline is the stub area's first bytes,
    named so in a backtrace, and no second one is made; a call through a stale stub that
    reloads its module is timed as a ``reload`` (a load the game did not ask for).
    Written for the survivors reference.xǁStubAreaǁ__init____mutmut_39 (the area's
    trampoline forgotten: a second one reserved outside the area) and
    reference.xǁLoaderǁ_stale_call__mutmut_25 (the reload timed as a plain ``load``)."""
    c = host_console(files, mods, policy=LoaderPolicy(stale="reload"))
    evicting(c)
    stubs = c.loader.stubs
    assert stubs.base == stubs.trampoline < stubs.first
    assert c.machine.symbolize(stubs.trampoline) == "loader: reload trampoline"
    records = len(c.timer.records)
    assert c.call("user:user_f", 2) == 84
    assert [(r.kind, r.request) for r in c.timer.records[records:]] == [("reload", "prov")]
    assert stubs.trampoline == stubs.base


def test_an_unload_says_how_many_references_are_left(files, mods):
    """Each UnloadModule drops one reference and says how many are left; the last one
    frees the module.  Written for the survivor reference.xǁLoaderǁunload__mutmut_20 (the
    count's key misspelt)."""
    c = host_console(files, mods)
    lm = c.load("filler")
    c.load("filler")
    mark = len(c.loader.events)
    c.loader.unload(lm.handle)
    c.loader.unload(lm.handle)
    assert c.loader.events[mark:] == [
        {"event": "unref", "module": "filler", "refcount": 1},
        {"event": "unref", "module": "filler", "refcount": 0},
        {"event": "unload", "module": "filler", "base": lm.base, "why": "unloaded"}]


# --- the fresh sample of 2026-12-06 (seed 2026120604) -----------------------------------------

def test_a_stale_reload_runs_each_constructor_once_in_order(files, mods):
    """prov2 has two constructors; evicted and reloaded through user2's stale stub, the
    reload trampoline runs the first, then the second, then goes on into the call.
    Written for the survivor reference.xǁLoaderǁservice__mutmut_26 (the trampoline's
    constructor index set to 1 instead of counted on: the second ran for ever)."""
    c = host_console(files, mods, policy=LoaderPolicy(stale="reload"))
    with_overlay(c)
    c.loader.placement.update(prov2="Ovl", filler="Ovl")
    c.load("prov2")
    c.load("user2")
    c.load("filler")                                   # evicts prov2
    assert c.call("user2:user2_f", 1) == (1 + 81) * 2       # add: (0 + 40) * 2 + 1
    assert c.loader.by_name("prov2") is not None and c.loader.by_name("filler") is None
    assert not c.loader._tramp


def test_an_address_just_past_the_stub_area_is_not_the_loaders(files, mods):
    """The stub area's last byte is the loader's code, the byte after it is not: a stack
    walk or a fault report must not name it a stub.  Written for the survivor
    reference.xǁStubAreaǁcontains__mutmut_2 (``<`` made ``<=``)."""
    c = host_console(files, mods)
    c.load("prov")
    c.load("user", lazy=True)
    stubs = c.loader.stubs
    end = stubs.base + stubs.size
    assert c.loader.is_code(end - 1) and c.machine.symbolize(end - 1) == "loader: free stub"
    assert not c.loader.is_code(end)
    assert not (c.machine.symbolize(end) or "").startswith("loader:")


def test_a_need_goes_to_the_region_its_placement_names(files, mods):
    """filler needs padmod (project config), which is placed in region ``fast``: loaded
    as filler's need, it goes there, not to the first region.  Written for the survivor
    reference.xǁLoaderǁcollect__mutmut_37 (a need's placement dropped)."""
    regions = heap_and_fast(files)
    loader = bare_loader(files, mods, regions=regions, placement={"padmod": "fast"},
                         extra_needs={"filler": ["padmod"]})
    loader.load("filler", needs=True)
    assert {lm.name: lm.region.name for lm in loader.loaded.values()} == {
        "padmod": "fast", "filler": "heap"}


def test_a_load_left_to_the_games_constructors_without_any_is_finished_at_once(files,
                                                                                 mods):
    """``run_init=False`` (the target-side LoadModule runs constructors on the CPU) for a
    module without constructors: nothing is left pending, and its last phase is an
    empty ``init`` ending where the load's record ends.  Written for the survivor
    reference.xǁLoaderǁlink_items__mutmut_203 (the finish asked for no handle)."""
    c = host_console(files, mods)
    lm = c.load("filler", run_init=False)
    assert not c.loader.pending_init and c.loader.init_entry(lm.handle, 0) == 0
    name, start, end = lm.timing.phases[-1]
    assert (name, end) == ("init", start) and c.timer.records[-1].end_s == end


def test_asking_a_module_for_a_symbol_it_does_not_export_names_both(files, mods):
    """GetModuleProc of a name the module does not export: lsSymbolNotFound, naming the
    module and the symbol.  Written for the survivor reference.xǁLoaderǁget_proc__mutmut_5
    (no message)."""
    c = host_console(files, mods)
    lm = c.load("prov")
    assert c.loader.get_proc(lm.handle, "prov_f") == lm.symbols["prov_f"]
    with pytest.raises(LoadError) as err:
        c.loader.get_proc(lm.handle, "prov_g")
    assert err.value.status == TLoadStatus.lsSymbolNotFound
    assert str(err.value) == "module 'prov' exports no symbol 'prov_g'"


def test_the_parsed_module_cache_keeps_the_64_most_recently_read(files):
    """The reference loader remembers parsed modules (a scenario reads the same files again
    and again) but at most 64 of them: a project of many modules read once each must not
    keep them all.  Written for the survivor reference.x__parsed__mutmut_17 (the two bounds
    joined with ``and``: 64 modules were kept while they held under 32 MiB)."""
    from gamevm_build.runtime import reference

    data = (files / "filler.elf").read_bytes()
    reference._PARSED.clear()
    first = reference._parsed(data, "m0.elf", True)
    assert reference._parsed(data, "m0.elf", True) is first
    for i in range(1, 70):
        reference._parsed(data, f"m{i}.elf", True)
    assert [k[1] for k in reference._PARSED] == [f"m{i}.elf" for i in range(6, 70)]
    assert reference._parsed(data, "m0.elf", True) is not first
