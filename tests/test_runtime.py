"""Runtime dynamics in the emulated console (docs/runtime.md), on psx and n64 with C modules.

Dependencies and constructor order observed by the code itself, reference
counts, safe mode (unload refused while a frame is inside the module, stale
calls caught or reloaded), lazy binding, overlays and double buffering,
asynchronous loads completing on the predicted frame, dynamic import by name,
and the cartridge module registry.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from gamevm_build import INCLUDE_DIR
from gamevm_build.runtime.allocator import Region
from gamevm_build.play.console import Console
from gamevm_build.errors import EmulationFault
from gamevm_build.link.linker import link_module
from gamevm_build.runtime.reference import LoaderPolicy, LoadError, TLoadStatus
from gamevm_build.link.resident import build_resident
from gamevm_build.link.toolchain import find_toolchain

KERNEL = r"""
#include "gamevm.h"
int order[16];
int norder;
void note(int x) { if (norder < 16) order[norder++] = x; }
int k_twice(int x) { return 2 * x; }
TModuleHandle level_h;
int k_load(const char *name) { level_h = LoadModule(name); return level_h != 0; }
int k_load_lazy(const char *name)
{
    TLoadStatus st = lsSuccess;
    level_h = LoadModuleFlags(name, GVM_LOAD_LAZY, &st);
    return level_h ? 0 : -(int)st;
}
int k_unload(void) { return (int)UnloadModule(level_h); }
int k_unload_level(void) { return (int)UnloadModule(level_h); }
TModuleHandle k_load_other(const char *name) { return LoadModule(name); }
volatile int async_done;
TModuleHandle async_h;
int async_st;
void on_loaded(TModuleHandle h, TLoadStatus st) { async_h = h; async_st = st; async_done++; }
int k_async(const char *name) { return (int)LoadModuleAsyncEx(name, on_loaded, 0); }
int k_frames_until_done(int max)
{
    int n = 0;
    while (!async_done && n < max) { GameVMFrame(); n++; }
    return n;
}
int k_import(const char *name) { return (int)GameVMImport(name, on_loaded); }
int k_status(unsigned id) { return (int)GameVMAsyncStatus(id); }
void _start(void) { for (;;); }
"""
KEEP = ["k_load", "k_load_lazy", "k_unload", "k_load_other", "k_async", "k_frames_until_done",
        "k_import", "k_status", "order", "norder", "async_done", "async_h", "async_st", "note",
        "k_twice", "k_unload_level"]

MODULES = {
    # dependency chain base <- mid <- top; each constructor/destructor notes its number
    "base": ("", "extern void note(int);\n"
                 "__attribute__((constructor)) static void c(void) { note(1); }\n"
                 "__attribute__((destructor)) static void d(void) { note(-1); }\n"
                 "int base_val(void) { return 5; }\n"),
    "mid": ("base", "extern void note(int); extern int base_val(void);\n"
                    "__attribute__((constructor)) static void c(void) { note(2); }\n"
                    "__attribute__((destructor)) static void d(void) { note(-2); }\n"
                    "int mid_val(void) { return base_val() * 10; }\n"),
    "top": ("mid", "extern void note(int); extern int mid_val(void);\n"
                   "extern int k_unload_level(void);\n"
                   "__attribute__((constructor)) static void c(void) { note(3); }\n"
                   "__attribute__((destructor)) static void d(void) { note(-3); }\n"
                   "int top_val(void) { return mid_val() + 1; }\n"
                   "int top_quit(void) { int r = k_unload_level(); return r + 1000; }\n"),
    "lazy": ("", "extern int k_twice(int);\n"
                 "int lz(int x) { return k_twice(x) + k_twice(x + 1); }\n"),
    "lazy2": ("", "extern int k_twice(int); extern void note(int);\n"
                  "int lz2(int x) { note(x); return k_twice(x) + 1; }\n"),
    "ghost": ("", "extern int no_such_function(int);\n"
                  "int haunt(int x) { return no_such_function(x); }\n"
                  "int calm(void) { return 3; }\n"),
    "prov": ("", "int prov_f(int x) { return x + 7; }\nint prov_data = 42;\n"),
    "user": ("prov", "extern int prov_f(int); extern int prov_data;\n"
                     "int use_f(int x) { return prov_f(x) * 2; }\n"
                     "int use_d(void) { return prov_data; }\n"),
    "squatter": ("", "extern int prov_f(int);\n"          # binds to prov, declares no need
                     "int squat(int x) { return prov_f(x) + 1; }\n"),
    "other": ("", "int other_f(void) { return 99; }\n"),
    "roomer": ("", "extern void *k_load_other(const char *);\n"    # not a tail call:
                   "int roomer_loads(const char *n) { return 2 * (int)k_load_other(n) + 1; }\n"),
    "gfx_vga": ("", "int vga_mode(void) { return 0x13; }\n"),
    # two constructors: the first does most of the work (measured per module, summed)
    "twoctor": ("", "extern void note(int);\nstatic volatile int spin;\n"
                    "__attribute__((constructor(101))) static void c1(void)\n"
                    "{ for (int i = 0; i < 400; i++) spin += i; note(7); }\n"
                    "__attribute__((constructor(102))) static void c2(void) { note(8); }\n"
                    "int two_val(void) { return spin; }\n"),
    # an absolute export (a constant, not memory of the module) and a module using it
    "absk": ("", "__asm__(\".globl abs_k\\n.set abs_k, 0x1234\\n\");\n"
                 "int absk_f(void) { return 1; }\n"),
    "absu": ("", "extern char abs_k[];\nint absu_k(void) { return (int)abs_k; }\n"),
    # crtstuff-style tables: .ctors and .dtors between a -1 and a 0, run backwards/forwards,
    # after (before) the .init_array (.fini_array) of a constructor (destructor) attribute
    "oldctor": ("", "extern void note(int);\n"
                    "__attribute__((constructor)) static void c(void) { note(9); }\n"
                    "__attribute__((destructor)) static void d(void) { note(-9); }\n"
                    "static void a(void) { note(10); }\nstatic void b(void) { note(11); }\n"
                    "static void y(void) { note(-10); }\nstatic void z(void) { note(-11); }\n"
                    "typedef void (*fn)(void);\n"
                    "__attribute__((used, section(\".ctors\"))) static const fn ctors[] = "
                    "{(fn)-1, a, b, 0};\n"
                    "__attribute__((used, section(\".dtors\"))) static const fn dtors[] = "
                    "{(fn)-1, y, z, 0};\n"
                    "int old_val(void) { return 4; }\n"),
    # a call (bound lazily) and a datum nothing provides
    "ghostd": ("", "extern int k_twice(int); extern int no_such_datum;\n"
                   "int haunt_d(int x) { return k_twice(x) + no_such_datum; }\n"),
}


def build_runtime(out: Path, target: str) -> Path:
    """Compile the kernel and modules above into ``out``; return the kernel."""
    tc = find_toolchain(target)
    for name, (needs, src) in MODULES.items():
        c = out / f"{name}.c"
        c.write_text(src)
        obj = tc.compile(c, out / f"{name}.o")
        link_module(target, [obj], out / f"{name}.elf",
                    needs=[out / f"{needs}.elf"] if needs else [])
    k = out / "kernel.c"
    k.write_text(KERNEL)
    kobj = tc.compile(k, out / "kernel.o", include_dirs=[INCLUDE_DIR])
    build_resident(target, [kobj], out / "kernel.elf", keep=KEEP,
                   modules=[out / f"{n}.elf" for n in MODULES if n not in ("ghost", "squatter", "absu", "ghostd")])
    return out / "kernel.elf"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    cache: dict[str, Path] = {}

    def get(target: str) -> Path:
        if target not in cache:
            cache[target] = build_runtime(tmp_path_factory.mktemp(f"rt-{target}"), target)
        return cache[target]
    return get


def console(kernel: Path, target: str, **kw) -> Console:
    return Console(target, kernel, search_paths=[kernel.parent], **kw)


def notes(c: Console) -> list[int]:
    m = c.machine
    n = m.read_u32(c.symbol("norder"))
    return [((m.read_u32(c.symbol("order") + 4 * i) + 0x80000000) & 0xFFFFFFFF) - 0x80000000
            for i in range(n)]


def refcounts(c: Console) -> dict:
    return {lm.name: lm.refcount for lm in c.loader.loaded.values()}


def with_overlay(c: Console, size: int = 0x2000, pair: bool = False) -> None:
    """Carve overlay region(s) Ovl (and OvlB, its double-buffer pair) off the heap's top."""
    heap = c.loader.allocator.regions[0]
    n = 2 if pair else 1
    heap.size -= n * size
    a = Region("Ovl", heap.end, size, "overlay", pair="OvlB" if pair else None)
    c.loader.allocator.regions.append(a)
    if pair:
        c.loader.allocator.regions.append(Region("OvlB", heap.end + size, size, "overlay",
                                                 pair="Ovl"))


# --- dependencies, refcounts, constructors ------------------------------------------------

def test_needs_and_constructor_order_seen_by_the_code(built, target):
    c = console(built(target), target)
    assert c.call("k_load", c.machine.alloc_string("top")) == 1       # target-side LoadModule
    assert notes(c) == [1, 2, 3]                  # constructors after relocation, needs first
    assert refcounts(c) == {"base": 1, "mid": 1, "top": 1}
    assert c.call("top:top_val") == 51
    assert c.call("k_load", c.machine.alloc_string("top")) == 1       # loaded: a reference
    assert refcounts(c)["top"] == 2 and notes(c) == [1, 2, 3]         # no second construction
    assert c.call("k_unload") == TLoadStatus.lsSuccess and refcounts(c)["top"] == 1
    assert c.call("k_unload") == TLoadStatus.lsSuccess
    assert notes(c) == [1, 2, 3, -3, -2, -1]      # destructors in reverse, needs freed too
    assert not c.loader.loaded
    assert c.call("k_unload") == TLoadStatus.lsInvalidHandle


def test_freed_only_when_nothing_binds_to_it(built, target):
    c = console(built(target), target)
    base = c.load("base")
    mid = c.load("mid")                           # declares base as a need: holds a reference
    assert base.refcount == 2
    assert c.loader.unload(base.handle) == [] and base.refcount == 1
    assert [m.name for m in c.loader.unload(mid.handle)] == ["mid", "base"]
    # a module binding to another without declaring it keeps it alive, with no reference
    prov = c.load("prov")
    squatter = c.load("squatter")
    assert prov.refcount == 1 and c.call("squatter:squat", 1) == 9
    assert c.loader.unload(prov.handle) == []     # refcount 0, but squatter binds to it: kept
    assert c.loader.by_name("prov") is prov and prov.refcount == 0
    with pytest.raises(LoadError) as err:
        c.loader.unload(prov.handle)
    assert err.value.status == TLoadStatus.lsInvalidHandle
    assert "squatter binds to it" in str(err.value)
    freed = c.loader.unload(squatter.handle)      # its last binder goes: both go
    assert [m.name for m in freed] == ["squatter", "prov"] and not c.loader.loaded



def test_unload_lowers_the_refcounts_of_needed_modules(built, target):
    c = console(built(target), target)
    base = c.load("base")
    top = c.load("top", needs=True)               # top needs mid, which needs base
    assert refcounts(c) == {"base": 2, "mid": 1, "top": 1}
    assert [m.name for m in c.loader.unload(top.handle)] == ["top", "mid"]
    assert refcounts(c) == {"base": 1}            # mid's reference to base is dropped
    assert [m.name for m in c.loader.unload(base.handle)] == ["base"] and not c.loader.loaded
    assert notes(c) == [1, 2, 3, -3, -2, -1]


def test_a_region_is_a_stack_of_named_blocks():
    import re

    from gamevm_build.runtime.allocator import OutOfMemory

    r = Region("Heap", 0x1000, 0x100)
    a = r.alloc(0x10, 8, "a")
    b = r.alloc(0x20, 0x40, "b")                  # aligned up: a hole below it
    assert r.snapshot() == ((0x1000, 0x10, "a", False), (0x1040, 0x20, "b", False))
    assert (r.top, r.used, r.available, [x.owner for x in r.occupants]) == (0x1060, 0x30, 0xA0,
                                                                           ["a", "b"])
    message = ("region 'Heap' (0x00001000-0x00001100) has 160 bytes free at the top but 'c' "
               "needs 161; unload modules loaded after it, or give it a larger region in memoryMap")
    with pytest.raises(OutOfMemory, match=f"^{re.escape(message)}$"):
        r.alloc(161, 1, "c")
    assert r.alloc(160, 1, "c").end == r.end      # exactly full
    r.free(a)                                     # below the top: a hole until the rest goes
    assert r.top == r.end and [x.owner for x in r.occupants] == ["b", "c"]
    r.free(r.blocks[-1])
    r.free(b)
    assert r.blocks == [] and r.top == 0x1000


def test_events_and_the_memory_timeline_record_loads_evictions_and_frees(built, target):
    c = console(built(target), target)
    with_overlay(c)
    c.loader.placement.update(prov="Ovl", other="Ovl")
    prov = c.load("prov")
    other = c.load("other")                       # evicts prov
    c.loader.unload(other.handle)
    assert [{k: e[k] for k in ("event", "module", "base")} for e in c.loader.events
            if e["event"] in ("load", "evict")] == [
        {"event": "load", "module": "prov", "base": prov.base},
        {"event": "evict", "module": "prov", "base": prov.base},
        {"event": "load", "module": "other", "base": prov.base}]
    assert c.loader.events[0]["size"] == prov.module.image_size
    assert c.loader.events[0]["region"] == "Ovl"
    assert [(m["event"], m["module"]) for m in c.timer.memory] == [
        ("alloc", "prov"), ("evict", "prov"), ("alloc", "other"), ("free", "other")]
    assert c.timer.memory[-1]["reason"] == "unloaded"


def test_a_failed_import_names_every_candidate_and_the_first_miss(built, target):
    c = console(built(target), target)
    with pytest.raises(LoadError) as err:
        c.loader.dispatch("no.such")
    assert err.value.status == TLoadStatus.lsFileNotFound
    head, _, miss = str(err.value).partition("): ")
    assert head == "import 'no.such': no module found (tried no.such, no_such, no/such"
    assert "no.such" in miss and "None" not in miss
    # a file name (.elf, any case) is tried as given: its dot is not a path separator
    for name in ("no.such.elf", "NO.SUCH.ELF"):
        with pytest.raises(LoadError) as err:
            c.loader.dispatch(name)
        assert str(err.value).startswith(f"import '{name}': no module found (tried {name}): ")
    assert c.loader.dispatch("gfx_vga.elf") == "gfx_vga.elf"

def test_a_module_ends_where_the_next_begins(built, target):
    """A module's last byte is its own and the byte after it the next module's: bindings,
    names and reports of the address where one ends and the other starts go to the second."""
    c = console(built(target), target)
    other = c.load("other")
    prov = c.load("prov")
    assert prov.base == other.end                 # adjacent in the heap
    c.load("squatter")                            # binds prov_f, at prov's first byte
    assert c.machine.symbolize(prov.base) == "prov:prov_f"
    assert c.machine.symbolize(other.end - 4).startswith("other:other_f")
    # squatter binds to prov, not to other: other goes, prov stays while squatter binds
    assert [m.name for m in c.loader.unload(other.handle)] == ["other"]
    assert c.loader.unload(prov.handle) == [] and c.loader.by_name("prov") is prov
    # both freed, the later-freed first in the graves: a call at the boundary names prov
    c = console(built(target), target)
    other, prov = c.load("other"), c.load("prov")
    stale = c.symbol("prov:prov_f")
    c.loader.unload(prov.handle)
    c.loader.unload(other.handle)
    with pytest.raises(EmulationFault) as err:
        c.call(stale, 1)
    assert "call to unloaded module 'prov' symbol 'prov_f'" in str(err.value)


def test_an_absolute_export_stays_bound_when_its_module_goes(built, target):
    """An absolute symbol is a constant, not memory of its module: a binding to it is not
    stubbed when the module is freed (only bindings into the module's image are)."""
    c = console(built(target), target)
    absk = c.load("absk")
    absu = c.load("absu")                         # binds abs_k, declares no need
    assert absk.module.exports["abs_k"].section is None
    assert c.call("absu:absu_k") == 0x1234
    assert [m.name for m in c.loader.unload(absk.handle)] == ["absk"]    # nothing binds into it
    assert c.call("absu:absu_k") == 0x1234
    assert absu.bindings == {"abs_k": 0x1234} and not absu.stubbed
    assert not [e for e in c.loader.events if e["event"] == "stub"]


def test_an_eviction_frees_the_chain_only_the_occupant_held(built, target):
    """Evicting top (in the overlay) frees mid, which only top held, and then base, which
    only mid held: destructors newest first, each freed module's needs released as an
    unload releases them (found by a mutation survivor, issue 20: base stayed loaded with
    a reference nothing held)."""
    c = console(built(target), target)
    with_overlay(c)
    c.loader.placement.update(top="Ovl", other="Ovl")
    c.load("top", needs=True)
    assert refcounts(c) == {"base": 1, "mid": 1, "top": 1}
    c.load("other")                               # evicts top
    assert refcounts(c) == {"other": 1}
    assert notes(c) == [1, 2, 3, -3, -2, -1]
    why = "evicted by 'other' (overlay region Ovl)"
    assert [(e["event"], e["module"], e["why"]) for e in c.loader.events
            if e["event"] in ("evict", "unload")] == [
        ("evict", "top", why), ("unload", "mid", f"no longer needed after {why}"),
        ("unload", "base", f"no longer needed after {why}")]
    # a module something else still holds stays
    c = console(built(target), target)
    with_overlay(c)
    c.loader.placement.update(top="Ovl", other="Ovl")
    base = c.load("base")
    c.load("top", needs=True)
    c.load("other")
    assert refcounts(c) == {"base": 1, "other": 1} and c.loader.by_name("base") is base
    assert notes(c) == [1, 2, 3, -3, -2]


def test_constructor_time_is_summed_over_a_modules_constructors(built, target):
    """Target code runs a module's constructors one by one (init_entry); the module's
    measured init is all of them, as when the host runs them.  An asynchronous load is
    charged its declared init_ms (the schedule's), whatever the constructors measure."""
    c = console(built(target), target)
    assert c.call("k_load", c.machine.alloc_string("twoctor")) == 1
    target_side = c.loader.by_name("twoctor").timing
    h = console(built(target), target)
    host_side = h.load("twoctor").timing
    assert notes(c) == notes(h) == [7, 8]
    # the first constructor's loop is most of it; the target's count adds its table walk
    assert host_side.init_instructions > 1000
    assert 0 <= target_side.init_instructions - host_side.init_instructions < 100
    a = console(built(target), target)
    a.timer.init_ms["twoctor"] = 3.0
    rid = a.call("k_async", a.machine.alloc_string("twoctor"))
    a.call("k_frames_until_done", 10_000)
    t = a.loader.by_name("twoctor").timing
    assert notes(a) == [7, 8] and t.init_instructions == target_side.init_instructions
    costs = a.timer.costs
    assert t.cpu["init"] == pytest.approx(costs.seconds(costs.ctor_call * 2) + 3e-3)
    assert t.cpu == a.async_.history[rid].cpu["twoctor"]
    assert t.init_measured_s < 1e-3 and t.init_declared_s == 3e-3


def test_ctors_and_dtors_tables_skip_their_markers(built, target):
    """Old-style tables (crtstuff's: -1 first, 0 last) after the .init_array: .ctors run
    last entry first, .dtors first entry first (after the .fini_array), the markers never
    called; on the host and from target code alike."""
    c = console(built(target), target)
    lm = c.load("oldctor")
    assert notes(c) == [9, 11, 10]
    assert lm.module.init["ctors"][1] == 4                 # -1, a, b, 0
    fns = c.loader.init_functions(lm) + c.loader.fini_functions(lm)
    assert len(fns) == 6 and all(lm.in_code(f) for f in fns)
    c.loader.unload(lm.handle)
    assert notes(c) == [9, 11, 10, -9, -10, -11]
    t = console(built(target), target)
    assert t.call("k_load", t.machine.alloc_string("oldctor")) == 1
    assert t.call("k_unload") == TLoadStatus.lsSuccess
    assert notes(t) == [9, 11, 10, -9, -10, -11]


# --- safe mode: reference tracking ------------------------------------------------------------

def test_unload_refused_while_a_frame_is_inside(built, target):
    c = console(built(target), target)
    assert c.call("k_load", c.machine.alloc_string("top")) == 1
    before = refcounts(c)
    # top_quit() calls the kernel, which calls UnloadModule(top): top's frame is live
    assert c.call("top:top_quit") - 1000 == TLoadStatus.lsModuleInUse
    assert refcounts(c) == before and notes(c) == [1, 2, 3]           # nothing changed
    msg = c.output[-1]
    assert "UnloadModule('top') refused in safe mode" in msg
    assert "frame #1" in msg and "<top:top_quit+0x" in msg and "return address saved" in msg
    assert c.call("k_unload") == TLoadStatus.lsSuccess                # returned: now it goes
    # without safe mode the same unload goes through (and the return lands in poison)
    c = console(built(target), target, policy=LoaderPolicy(safe_mode=False))
    c.call("k_load", c.machine.alloc_string("top"))
    with pytest.raises(EmulationFault) as err:
        c.call("top:top_quit")
    assert "unloaded module 'top'" in str(err.value)


def test_eviction_refused_while_the_occupant_runs(built, target):
    c = console(built(target), target)
    with_overlay(c)
    c.loader.placement.update(roomer="Ovl", other="Ovl")
    c.load("roomer")
    # roomer's code asks the kernel to load 'other' into its own overlay region
    assert c.call("roomer:roomer_loads", c.machine.alloc_string("other")) == 1    # handle 0
    assert "lsModuleInUse" in c.output[-1] and "roomer:roomer_loads" in c.output[-1]
    assert c.loader.by_name("roomer") is not None and c.loader.by_name("other") is None


def test_double_buffer_uses_the_other_half(built, target):
    c = console(built(target), target)
    with_overlay(c, pair=True)
    c.loader.placement.update(roomer="Ovl", other="Ovl", prov="Ovl")
    c.load("roomer")
    handle = c.call("roomer:roomer_loads", c.machine.alloc_string("other")) // 2
    other = c.loader.handle(handle)
    assert other.region.name == "OvlB" and c.loader.by_name("roomer").region.name == "Ovl"
    # nothing runs in either half now: a load into Ovl evicts its occupant
    prov = c.load("prov")
    assert prov.region.name == "Ovl" and c.loader.by_name("roomer") is None


# --- safe mode: stubbing -------------------------------------------------------------------------

def test_stale_call_through_a_binding_is_caught(built, target):
    c = console(built(target), target)
    with_overlay(c)
    c.loader.placement.update(prov="Ovl", other="Ovl")
    c.load("prov")
    c.load("user")
    assert c.call("user:use_f", 1) == 16 and c.call("user:use_d") == 42
    c.load("other")                                # evicts prov; user's bindings -> stubs
    assert c.loader.by_name("prov") is None
    user = c.loader.by_name("user")
    stubs = {e["symbol"]: e for e in c.loader.events if e["event"] == "stub"}
    assert sorted(stubs) == ["prov_data", "prov_f"]
    for name, e in stubs.items():                  # each names the holder, what went, where
        assert (e["module"], e["target"], e["stub"]) == ("user", "prov", user.bindings[name])
        assert e["sites"] >= 1 and user.stubbed[name] == ("prov", e["stub"])
    assert c.loader.stubs.contains(stubs["prov_f"]["stub"])
    with pytest.raises(EmulationFault) as err:
        c.call("user:use_f", 1)
    assert "call to unloaded module 'prov' symbol 'prov_f'" in str(err.value)
    assert "binding of module 'user'" in str(err.value)
    with pytest.raises(EmulationFault) as err:     # data bindings point at unmapped memory
        c.call("user:use_d")
    assert err.value.report.access == "read"
    assert "stale binding to prov:prov_data" in str(err.value)
    # a raw pointer into freed memory names the symbol it was
    c2 = console(built(target), target)
    lm = c2.load("prov")
    stale = c2.symbol("prov:prov_f")
    c2.loader.unload(lm.handle)
    with pytest.raises(EmulationFault) as err:
        c2.call(stale, 1)
    assert "call to unloaded module 'prov' symbol 'prov_f'" in str(err.value)


def test_stale_call_reloads_by_policy(built, target):
    c = console(built(target), target, policy=LoaderPolicy(stale="reload"))
    with_overlay(c)
    c.loader.placement.update(prov="Ovl", other="Ovl")
    c.load("prov")
    c.load("user")
    c.load("other")
    assert c.call("user:use_f", 1) == 16          # reloaded prov (evicting other), rebound
    assert c.loader.by_name("prov") is not None and c.loader.by_name("other") is None
    assert c.call("user:use_d") == 42
    assert [(e["module"], e["symbol"], e["holder"]) for e in c.loader.events
            if e["event"] == "reload"] == [("prov", "prov_f", "user")]



def test_stub_addresses_are_named_and_a_failed_reload_is_reported(built, target, tmp_path):
    import shutil

    for n in ("prov", "user", "other"):
        shutil.copy(built(target).parent / f"{n}.elf", tmp_path / f"{n}.elf")
    c = Console(target, built(target), search_paths=[tmp_path], policy=LoaderPolicy(stale="reload"))
    with_overlay(c)
    c.loader.placement.update(prov="Ovl", other="Ovl")
    c.load("prov")
    c.load("user")
    c.load("other")                                # evicts prov: user's bindings -> stubs
    m = c.machine
    stub = next(a for a, s in c.loader.stubs.slots.items() if s["symbol"] == "prov_f")
    assert m.symbolize(stub) == m.symbolize(stub + 4) == "stale stub prov:prov_f"
    assert m.symbolize(c.loader.stubs.first - 4) == "loader: reload trampoline"
    assert m.symbolize(c.loader.stubs.first + 64 * c.loader.stubs.stub_size) == "loader: free stub"
    # each stale data binding has its own address, named after it
    d = c.loader.stubs.data_address()
    assert c.loader.stubs.data_address() == d + 16
    (tmp_path / "prov.elf").unlink()               # the reload cannot find it
    with pytest.raises(EmulationFault) as err:
        c.call("user:use_f", 1)
    assert str(err.value).startswith("emulated CPU fault: call to unloaded module 'prov' symbol "
                                     "'prov_f' (reloading it failed: lsFileNotFound: ")
    assert err.value.report.pc_symbol == "stale stub prov:prov_f"

# --- lazy binding ------------------------------------------------------------------------------

def test_lazy_stub_resolves_once(built, target):
    c = console(built(target), target)
    assert c.call("k_load_lazy", c.machine.alloc_string("lazy")) == 0
    lm = c.loader.by_name("lazy")
    assert set(lm.lazy) == {"k_twice"} and lm.timing.lazy_imports == 1
    # the load's bind step counts only the imports bound now (none): cheaper than eager
    assert lm.timing.eager_imports == 0
    lazy_bind = lm.timing.cpu["bind"]
    assert lazy_bind == c.loader.cpu_model(lm.module, eager_imports=0)["bind"]
    m = c.machine
    i0 = m.instructions
    assert c.call("lazy:lz", 3) == 14
    i1 = m.instructions
    assert c.call("lazy:lz", 3) == 14
    i2 = m.instructions
    assert c.loader.lazy_resolutions == 1 and not lm.lazy          # both call sites patched
    assert (i1 - i0) - (i2 - i1) == 2              # first call: the stub (nop; syscall) once
    binds = [e for e in c.loader.events if e["event"] == "lazy-bind"]
    assert binds[0]["sites"] == 2 and binds[0]["resolver_cycles"] > 0
    # each stamped when it binds; the resolver's modelled cycles move the clock on
    c.call("k_load_lazy", c.machine.alloc_string("lazy2"))
    t = c.timer.clock.now_s                        # after its reads
    assert c.call("lazy2:lz2", 1) == 3
    for e in [e for e in c.loader.events if e["event"] == "lazy-bind"][1:]:
        assert e["t_ms"] == round(t * 1e3, 6)
        t += c.timer.costs.seconds(e["resolver_cycles"])
    assert c.timer.clock.now_s == pytest.approx(t)
    # eager by default: no stub at all
    c = console(built(target), target)
    c.call("k_load", c.machine.alloc_string("lazy"))
    eager = c.loader.by_name("lazy")
    assert not eager.lazy and eager.timing.eager_imports == 1
    assert eager.timing.cpu["bind"] > lazy_bind



def test_each_lazy_stub_binds_its_own_name(built, target):
    c = console(built(target), target)
    lm = c.load("lazy2", lazy=True)
    assert set(lm.lazy) == {"k_twice", "note"}
    assert c.call("lazy2:lz2", 5) == 11 and notes(c) == [5]
    assert c.call("lazy2:lz2", 6) == 13 and notes(c) == [5, 6]
    binds = [e["symbol"] for e in c.loader.events if e["event"] == "lazy-bind"]
    assert sorted(binds) == ["k_twice", "note"] and c.loader.lazy_resolutions == 2
    assert not lm.lazy

def test_lazy_binding_defers_undefined_functions(built, target):
    c = console(built(target), target)
    with pytest.raises(LoadError) as err:          # eager: refused at load
        c.load("ghost")
    assert err.value.status == TLoadStatus.lsUndefinedSymbol
    ghost = c.load("ghost", lazy=True)             # lazy (as RTLD_LAZY): fails at first call
    assert c.call("ghost:calm") == 3
    with pytest.raises(EmulationFault) as err:
        c.call("ghost:haunt", 1)
    assert "lazy binding: module 'ghost' calls 'no_such_function'" in str(err.value)
    # a fetch fault at the stub the call went through
    assert err.value.report.access == "fetch"
    assert err.value.report.address == ghost.lazy["no_such_function"]


def test_a_failed_lazy_load_gives_its_stubs_back(built, target):
    """A lazy load whose relocation fails (a datum nothing provides) returns the stubs
    it took for its calls with its memory: the next lazy load gets the same stub."""
    c = console(built(target), target)
    before = c.loader.allocator.snapshot()
    with pytest.raises(LoadError) as err:
        c.load("ghostd", lazy=True)
    assert err.value.status == TLoadStatus.lsUndefinedSymbol
    assert "module 'ghostd'" in str(err.value) and "no_such_datum" in str(err.value)
    assert c.loader.allocator.snapshot() == before and not c.loader.loaded
    area = c.loader.stubs
    assert area.slots == {}
    lm = c.load("lazy", lazy=True)
    assert lm.lazy == {"k_twice": area.first} and list(area.slots) == [area.first]
    assert c.call("lazy:lz", 3) == 14


def test_a_lazy_binding_holds_its_provider(built, target):
    """Once a lazy import is bound into a loaded module, that module stays while the
    binding does, as an eager binding holds it (the binder is among its providers)."""
    c = console(built(target), target)
    prov = c.load("prov")
    squatter = c.load("squatter", lazy=True)       # binds prov_f at its first call
    assert set(squatter.lazy) == {"prov_f"} and not squatter.providers
    assert c.call("squatter:squat", 1) == 9
    assert squatter.providers == {prov.handle}
    assert c.loader.unload(prov.handle) == [] and c.loader.by_name("prov") is prov
    assert c.call("squatter:squat", 2) == 10
    assert [m.name for m in c.loader.unload(squatter.handle)] == ["squatter", "prov"]


def test_a_load_reads_the_copy_its_layout_names(built, target):
    """With a disc layout a module may be on the disc more than once: a named load
    (a transition, a stream) reads the copy the layout gives it, others the default."""
    c = console(built(target), target)
    c.timer.positions.update(prov=100)
    c.timer.reads.update({"a -> b": {"prov": 500}})
    lbas = []
    for load in ("a -> b", None, "elsewhere"):
        items, _ = c.loader.collect("prov", needs=True)
        rec = c.timer.begin("transition", "prov")
        c.loader.read_items(items, rec, load=load)
        lbas.append(rec.modules[0].media.lba)
    assert lbas == [500, 100, 100]


# --- asynchronous loading ------------------------------------------------------------------------

def predicted(c: Console, names, slice_s, head=None, first_state="paused") -> int:
    """Per file (read one after the other): ceil(media · fps) + ceil(cpu / slice), summed,
    minus one (the first slice runs in the frame that finds the read done), computed here
    from media.py and loadcost.py (each file's CPU work among the files before it)."""
    from gamevm_build.runtime.loadtime import cpu_steps
    from gamevm_build.link.module import read_module
    model = c.timer.model
    frames = 0
    state = first_state
    resident = c.loader.resident.symbols
    loaded = [(lm.name, lm.module.exports) for lm in c.loader.loaded.values()]
    fps = c.clock.frame_rate
    for n in names:
        mod = read_module(c.loader.reader.read(n)[0])
        pos = c.timer.positions.get(n)
        media = model.access_s(head, pos, head_state=state) + model.transfer_s(mod.file_size)
        head = pos + model.sectors_for(mod.file_size) if pos is not None else None
        state = "reading"
        cpu = sum(cpu_steps(c.timer.costs, mod, symbols=len(resident),
                            eager_imports=len(mod.imports), resident=resident,
                            co_resident=list(loaded),
                            registered=c.loader.registered_needs).values())
        loaded.append((mod.name, mod.exports))
        frames += math.ceil(media * fps - 1e-9) + math.ceil(cpu / slice_s - 1e-9)
    return frames - 1


def test_async_load_completes_on_the_predicted_frame(built, target):
    c = console(built(target), target)
    c.timer.positions.update(base=100, mid=101, top=102)
    job = c.load_async("top", slice_ms=0.02)       # a thin slice: CPU work spans frames
    frames = predicted(c, ["base", "mid", "top"], 0.02e-3)
    done = []
    while not done:
        assert c.clock.frame <= frames, "late"
        done = c.advance(1)
    assert c.async_.predicted_frames(job) == frames
    # a file's read may end in the frame it started in: the bound rounds it up
    assert done == [job] and job.frame_completed - job.frame_requested <= frames
    # one file, requested at a frame boundary: exactly the bound
    c2 = console(built(target), target)
    c2.timer.positions.update(base=100)
    one = c2.load_async("base", slice_ms=0.02)
    c2.wait()
    assert one.frame_completed - one.frame_requested == c2.async_.predicted_frames(one)
    assert notes(c) == [1, 2, 3] and job.status == TLoadStatus.lsSuccess
    rec = job.record.to_dict()
    assert rec["frames"] == job.frame_completed - job.frame_requested
    assert len(rec["slices"]) > 1
    assert [m["module"] for m in rec["modules"]] == ["base", "mid", "top"]



def test_async_loads_racing_for_one_module_load_it_once(built, target):
    c = console(built(target), target)
    first = c.load_async("base")
    second = c.load_async("mid")                  # needs base, which the first is loading
    done = []
    while len(done) < 2:
        assert c.clock.frame < 600, "late"
        done += c.advance(1)
    assert {j.status for j in (first, second)} == {TLoadStatus.lsSuccess}
    assert [e["module"] for e in c.loader.events if e["event"] == "load"] == ["base", "mid"]
    assert refcounts(c) == {"base": 2, "mid": 1}  # its requester and mid hold base
    assert notes(c) == [1, 2]

def test_async_load_from_target_code(built, target):
    c = console(built(target), target)
    m = c.machine
    rid = c.call("k_async", m.alloc_string("top"))
    assert c.call("k_status", rid) == TLoadStatus.lsPending
    job = c.async_.history[rid]
    n = c.call("k_frames_until_done", 10_000)      # the game's frame loop: GameVMFrame()
    # it calls GameVMFrame in the request's frame and in each one up to the completion's
    assert n - 1 == job.frame_completed - job.frame_requested <= c.async_.predicted_frames(job)
    assert m.read_u32(c.symbol("async_done")) == 1 and m.read_u32(c.symbol("async_st")) == 0
    assert m.read_u32(c.symbol("async_h")) == c.loader.by_name("top").handle
    assert notes(c) == [1, 2, 3]                   # constructors ran in the frame loop, on target
    assert c.call("k_status", rid) == TLoadStatus.lsSuccess
    assert c.loader.by_name("top").timing.init_instructions > 0


def test_dynamic_import_by_name(built, target, tmp_path):
    kernel = built(target)
    c = console(kernel, target)
    m = c.machine
    rid = c.call("k_import", m.alloc_string("gfx.vga"))       # -> gfx_vga.elf
    c.call("k_frames_until_done", 10_000)
    assert c.async_.history[rid].status == TLoadStatus.lsSuccess
    assert c.call("gfx_vga:vga_mode") == 0x13
    m.write_u32(c.symbol("async_done"), 0)
    rid = c.call("k_import", m.alloc_string("gfx.svga"))
    c.call("k_frames_until_done", 10)
    assert m.read_u32(c.symbol("async_st")) == TLoadStatus.lsFileNotFound
    assert "gfx_svga" in c.output[-1]
    # through a disc manifest: name -> file and LBA
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "VGA.ELF").write_bytes((kernel.parent / "gfx_vga.elf").read_bytes())
    (tmp_path / "manifest.json").write_text(json.dumps(
        {"modules": {"gfx_vga": {"file": "files/VGA.ELF", "lba": 500}}}))
    c = Console(target, kernel, manifest=tmp_path / "manifest.json")
    assert c.timer.positions["gfx_vga"] == 500
    rid = c.call("k_import", c.machine.alloc_string("gfx.vga"))
    c.wait()
    assert c.async_.history[rid].status == TLoadStatus.lsSuccess
    assert c.loader.by_name("gfx_vga").path.endswith("VGA.ELF")


# --- module registry (cartridge) ---------------------------------------------------------------

REGISTRY_KERNEL = r"""
#include "gamevm.h"
void note(int x) { (void)x; }
int reg_call(const char *mod, const char *sym, int arg)
{
    const TGameVMModuleEntry *m = GameVMRegistryLookup(mod);
    int (*f)(int);
    if (m == 0)
        return -1;
    f = (int (*)(int))GameVMExportLookup(m, sym);
    if (f == 0)
        return -2;
    return f(arg);
}
int reg_count(void) { return (int)gvm_registry_count; }
void _start(void) { for (;;); }
"""


def test_registry_lookup_present_and_absent(built, target, tmp_path):
    from gamevm_build.link.module import read_module
    from gamevm_build.runtime.registry import pack_bases, registry_source

    out = built(target).parent
    names = ["prov", "base", "other", "gfx_vga", "lazy"]
    mods = [read_module(out / f"{n}.elf") for n in names]
    ram = c_ram = None
    from gamevm_build.project.profile import load_profile
    ram = load_profile(target).main_ram
    bases = pack_bases(mods, ram.start + 0x100000)
    src = tmp_path / "registry.c"
    src.write_text(registry_source(list(zip(mods, bases)), target=target))
    assert src.read_text().index('"base"') < src.read_text().index('"gfx_vga"') \
        < src.read_text().index('"lazy"') < src.read_text().index('"other"')
    k = tmp_path / "k.c"
    k.write_text(REGISTRY_KERNEL + "int k_twice(int x) { return 2 * x; }\n")
    tc = find_toolchain(target)
    objs = [tc.compile(k, tmp_path / "k.o", include_dirs=[INCLUDE_DIR]),
            tc.compile(src, tmp_path / "registry.o", include_dirs=[INCLUDE_DIR])]
    kernel = tmp_path / "kernel.elf"
    build_resident(target, objs, kernel, keep=["reg_call", "reg_count", "note", "k_twice"])
    c = Console(target, kernel, search_paths=[out])
    for n, b in zip(names, bases):                 # the cartridge image: prelinked in place
        c.load(n, at=b)
    s = c.machine.alloc_string
    assert c.call("reg_count") == 5
    assert c.call("reg_call", s("prov"), s("prov_f"), 5) == 12
    assert c.call("reg_call", s("gfx_vga"), s("vga_mode"), 0) == 0x13
    assert c.call("reg_call", s("lazy"), s("lz"), 3) == 14
    assert c.call("reg_call", s("nosuch"), s("prov_f"), 5) == 0xFFFFFFFF         # absent module
    assert c.call("reg_call", s("prov"), s("nosuch"), 5) == 0xFFFFFFFE           # absent symbol
    assert c.call("reg_call", s("a"), s("x"), 0) == 0xFFFFFFFF                   # before all
    assert c.call("reg_call", s("zzz"), s("x"), 0) == 0xFFFFFFFF                 # after all


def test_registry_cli(built, target, tmp_path):
    from conftest import run_gamevm
    out = built(target).parent
    p = run_gamevm("registry", "-t", target, "-o", tmp_path / "r.c", "--base", "0x80200000",
                   out / "prov.elf", f"{out / 'other.elf'}@0x80300000")
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == ["prov @ 0x80200000", "other @ 0x80300000"]
    text = (tmp_path / "r.c").read_text()
    assert '{"prov_f", (void *)0x80200000u}' in text and "gvm_registry_count = 2u" in text
    p = run_gamevm("registry", "-t", target, "-o", tmp_path / "r.c", out / "prov.elf")
    assert p.returncode == 2 and "--base" in p.stderr


def test_allocator_places_an_unnamed_request_in_a_general_region_never_an_overlay():
    """Overlay regions hold only what names them (mutation survivor, issue 20)."""
    from gamevm_build.runtime.allocator import Allocator
    alloc = Allocator([Region("ovl", 0x1000, 0x1000, "overlay"), Region("heap", 0x8000, 0x1000)])
    region, block = alloc.alloc(0x100, 4, "mod")
    assert region.name == "heap" and 0x8000 <= block.start < 0x9000
    region, block = alloc.alloc(0x100, 4, "ovl_mod", region="ovl")
    assert region.name == "ovl" and block.start == 0x1000


def test_stub_area_reuses_a_freed_stub_once_and_ignores_unknown_addresses():
    """A full stub area gives back a freed slot, exactly once (mutation survivor, issue 20)."""
    from gamevm_build.emu.machine import Machine
    from gamevm_build.runtime.reference import StubArea

    area = StubArea(Machine("psx"), size=256)
    stubs = []
    with pytest.raises(LoadError, match="stub area .* is full"):
        while True:
            stubs.append(area.alloc(1, {"name": f"f{len(stubs)}"}))
    area.free(stubs[2])
    area.free(stubs[2])                       # already free: no second copy
    area.free(0x1234)                         # not a stub: ignored
    assert area.alloc(1, {"name": "again"}) == stubs[2]
    with pytest.raises(LoadError, match="is full"):
        area.alloc(1, {"name": "one too many"})
