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
from gamevm_build.runtime.reference import (SYS_LAZY, Loader, LoaderPolicy, LoadError,
                                            TLoadStatus, default_regions)
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


def test_a_module_placed_in_a_named_heap_region_goes_there(files, mods):
    """``modules.NAME.region`` naming a plain (not overlay) region: the module goes to that
    region, evicting nothing, even when the first region has room."""
    resident = read_resident(files / "k.elf", TARGET)
    m = Machine(TARGET)
    heap = default_regions(m, resident)[0]
    regions = [Region("heap", heap.start, heap.size // 2),
               Region("fast", heap.start + heap.size // 2, heap.size // 2)]
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
