"""Hot reload on the console-side C runtime (gvm_reload.c, gamevm_build.dev.swap_target;
docs/dev.md "Reload on the console-side runtime") on every console.

The modules and edits of tests/test_dev_reload.py, loaded by the C runtime linked into
the resident: the runtime loads the rebuilt copy, rebinds the other modules and hands
the live handle over; the host carries the state and writes the entry jumps.  The host's
reference loader, doing the same reloads, is the oracle for what the game sees.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import ALL_TARGETS
from gamevm_build.dev import collect, reload, retired
from gamevm_build.dev.swap import ReloadError
from gamevm_build.errors import EmulationFault
from gamevm_build.link.linker import link_module
from gamevm_build.link.resident import build_resident
from gamevm_build.link.toolchain import find_toolchain
from gamevm_build.play.console import Console
from gamevm_build.runtime.build import RELOAD_API
from gamevm_build.runtime.reference import TLoadStatus
from test_dev_reload import HOT, INCLUDE, KERNEL, VARIANTS, build_modules

KEEP = ["saved_fn", "saved_ptr", "call_saved", "kernel_hook"]
#: the kernel on the C runtime: kernel_hook, which hot's busy_probe calls, can call the
#: reload API from inside a frame of a module (safe mode's test)
KERNEL_TARGET = '#include "gamevm_runtime.h"\n' + KERNEL.replace(
    "int kernel_hook(void) { return 7; }", """
TModuleHandle hook_live, hook_copy;
int hook_status = -1;
int kernel_hook(void)
{
    if (hook_copy)
        hook_status = hook_live ? GameVMSwapCopy(hook_live, hook_copy) : GameVMFreeCopy(hook_copy);
    return 7;
}""")
#: a module hot's "needy" build needs, which nothing loaded before: its constructor runs
#: (its 4 KiB of bss make it bigger than hot: freed first, it leaves a hole a copy fits)
EXTRA = ("int extra_ready;\nint extra_pad[1024];\n"
         "__attribute__((constructor)) static void init(void) { extra_ready = 42; }\n")


class Game:
    def __init__(self, target: str, root: Path, kernels: dict[str, Path], hot: dict[str, bytes]):
        self.target, self.root, self.kernels, self.hot = target, root, kernels, hot

    def console(self, loader: str = "target", **kw) -> Console:
        c = Console(self.target, self.kernels[loader], search_paths=[self.root], loader=loader,
                    **kw)
        c.load("hot")
        c.load("user")
        return c


@pytest.fixture(scope="module", params=ALL_TARGETS)
def game(request, tmp_path_factory) -> Game:
    """Both kernels (the C runtime with its reload API, and the host loader's), ``hot`` in
    every variant and ``user``, for one console."""
    target = request.param
    root = tmp_path_factory.mktemp(f"devc-{target}")
    tc = find_toolchain(target)
    (root / "k.c").write_text(KERNEL)
    (root / "kt.c").write_text(KERNEL_TARGET)
    kernels = {"target": root / "kernel.elf", "host": root / "kernel-host.elf"}
    build_resident(target, [tc.compile(root / "kt.c", root / "kt.o", include_dirs=[INCLUDE])],
                   kernels["target"], runtime="target",
                   keep=KEEP + ["hook_live", "hook_copy", "hook_status"] + list(RELOAD_API))
    build_resident(target, [tc.compile(root / "k.c", root / "k.o", include_dirs=[INCLUDE])],
                   kernels["host"], keep=KEEP)
    hot = build_modules(target, root, kernels["target"])
    (root / "extra.c").write_text(EXTRA)
    link_module(target, [tc.compile(root / "extra.c", root / "extra.o")], root / "extra.elf",
                resident=kernels["target"])
    d = root / "needy"
    d.mkdir()
    (d / "hot.c").write_text(HOT)
    o = tc.compile(d / "hot.c", d / "hot.o", extra_flags=[
        f"-D{k}={v}" for k, v in dict(VARIANTS["v1"], VALUE=8, NEEDY=1).items()])
    link_module(target, [o], d / "hot.elf", needs=[root / "extra.elf"],
                resident=kernels["target"])
    hot["needy"] = (d / "hot.elf").read_bytes()
    # table no longer exported: the last of user's imports by name, so a check that
    # patched as it went would have rebound hot_value before finding it missing
    d = root / "droptable"
    d.mkdir()
    (d / "hot.c").write_text(HOT)
    o = tc.compile(d / "hot.c", d / "hot.o", extra_flags=[
        f"-D{k}={v}" for k, v in dict(VARIANTS["v1"], VALUE=5, DROPT=1).items()])
    link_module(target, [o], d / "hot.elf", resident=kernels["target"])
    hot["droptable"] = (d / "hot.elf").read_bytes()
    # a module that binds hot lazily, loaded before it (MIPS: called-only imports wait)
    (root / "early.c").write_text("extern int hot_value(void);\n"
                                  "int early_calls(void) { return hot_value() + 1000; }\n")
    link_module(target, [tc.compile(root / "early.c", root / "early.o")], root / "early.elf")
    return Game(target, root, kernels, hot)


def play(c: Console, game: Game) -> list:
    """One script of reloads and calls; what the game saw at each step."""
    seen = []
    look = lambda *calls: seen.append(tuple(c.call(x) for x in calls))    # noqa: E731
    c.call("hot:store_fns")
    c.call("hot:bump_table")
    look("hot:hot_value", "user_calls", "hot:tick", "hot:get_inits", "user_hook")
    for v in range(2, 5):
        r = reload(c, "hot", game.hot[f"v{v}"])
        seen.append(r.status)
        look("hot:hot_value", "user_calls", "call_saved", "hot:call_local", "hot:tick",
             "hot:table0", "user_table0", "hot:get_inits", "user_hook")
    for variant, kw in (("faulty", {"selftest": "gamevm_selftest"}), ("ctorfault", {}),
                        ("resized", {}), ("dropped", {}), ("resized", {"policy": "keep"})):
        r = reload(c, "hot", game.hot[variant], **kw)
        seen.append((variant, r.status, sorted(r.kept), sorted(r.added), sorted(r.removed)))
        look("hot:hot_value", "user_calls", "call_saved", "hot:tick", "hot:table_len",
             "hot:table0", "user_table0")
    c.call("hot:cursor_bump")
    look("hot:table1", "hot:get_extra")
    return seen


def test_the_same_reloads_as_the_host_loader(game):
    """Edits, state, rebinding, stored pointers, every rollback and refusal: what the game
    sees on the C runtime is what it sees on the reference loader."""
    assert play(game.console("target"), game) == play(game.console("host"), game)


def test_state_and_handle_follow_five_reloads(game):
    c = game.console()
    tl = c.loader
    assert tl.reloads and c.loader_kind == "target"
    handle = tl.by_name("hot").handle
    for _ in range(3):
        c.call("hot:tick")
    c.call("hot:store_fns")
    bases = []
    for v in range(2, 7):
        report = reload(c, "hot", game.hot[f"v{v}"])
        assert report.ok and report.console_measured, report.describe()
        assert report.console_s > 0 and report.rebound == {"user": report.rebound["user"]}
        assert c.call("hot:tick") == 3 + v - 1 and c.call("user_calls") == 10 * v
        bases.append(report.new_base)
        # the handle the game holds names the new copy in the runtime itself
        assert tl.by_name("hot").handle == handle
        assert tl.handle_base(handle) == report.new_base
        assert tl.get_proc(handle, "hot_value") == report.new_base + \
            tl.by_name("hot").module.exports["hot_value"].value
        assert c.call("call_saved") == v and c.call("hot:call_local") == v
    assert len(set(bases)) <= 3             # freed copies are used again
    # the resident stores a pointer into the first copy: it stays; the others went
    assert [g for _n, _b, g in retired(c)] == [5] or [g for _n, _b, g in retired(c)] == [1, 5]
    collect(c)
    assert [g for _n, _b, g in retired(c)] == [1]
    assert len(tl.copies) == 1
    # unloading goes on as for any module; the old copies go with it
    tl.unload(tl.by_name("user").handle)
    tl.unload(handle)
    assert collect(c) and retired(c) == [] and tl.copies == {} and tl.loaded == {}
    with pytest.raises(EmulationFault, match="unloaded module 'hot'"):
        c.call("call_saved")


def test_reloads_reuse_freed_copies(game):
    """The runtime places a reload's copy in the lowest hole that holds it: ten reloads
    cost the region one extra copy of the module, as on the reference loader."""
    from gamevm_build.dev.memory import region_use

    c = game.console()
    c.call("hot:tick")
    hot = c.loader.by_name("hot")
    top0 = region_use(c.loader)[hot.region.name].top
    bases = []
    for i in range(10):
        v = 2 + i % 5
        report = reload(c, "hot", game.hot[f"v{v}"])
        assert report.ok, report.describe()
        assert c.call("hot:hot_value") == v
        bases.append(report.new_base)
    use = region_use(c.loader)[hot.region.name]
    assert use.top - top0 <= hot.size + 16, (top0, use)
    assert len(set(bases)) <= 3 and c.call("hot:get_counter") == 1


def test_other_modules_are_rebound_not_only_jumped_to(game):
    """With no pointer stored into it, the old copy is freed after the reload: user's call
    and data sites must point at the new copy themselves, not through its old entries;
    an import user binds to the resident is left as it was."""
    c = game.console()
    report = reload(c, "hot", game.hot["v2"])
    assert report.ok and report.rebound["user"] >= 2, report.describe()
    assert collect(c) == [report.old_base] and retired(c) == [] and c.loader.copies == {}
    assert c.call("user_calls") == 20           # a call into the freed copy would fault
    c.call("hot:bump_table")                     # the new copy's table ...
    assert c.call("user_table0") == c.call("hot:table0") == 101     # ... is the one user reads
    assert c.call("user_hook") == 7
    assert c.call("hot:get_inits") == 1          # constructors: the new copy's, state carried


def test_a_new_need_is_loaded_and_constructed(game):
    """A rebuilt module that needs a module nothing loaded yet: the runtime loads it with
    the copy and runs its constructor before the copy's."""
    c = game.console()
    report = reload(c, "hot", game.hot["needy"])
    assert report.ok, report.describe()
    assert c.call("hot:extra_state") == 42 and c.loader.by_name("extra") is not None
    assert c.call("hot:hot_value") == 8 and c.call("user_calls") == 80


def test_a_copy_in_the_first_slot_and_the_first_hole(game):
    """The runtime's records are slots and its regions stacks: a copy lands in the first
    slot and at the region's start when an unload freed them (the lowest hole that holds
    it), and is a copy like any other; what the copy's module needed and the old copy
    held is given back when the old copy goes."""
    c = Console(game.target, game.kernels["target"], search_paths=[game.root], loader="target")
    tl = c.loader
    start = c.load("extra").base
    c.load("hot")
    c.load("user")
    tl.unload(tl.by_name("extra").handle)
    report = reload(c, "hot", game.hot["v2"])
    assert report.ok and report.new_base == start, report.describe()
    assert c.call("user_calls") == 20 and collect(c) == [report.old_base]
    # "needy" loads extra again (into the first slot); its reference goes with the copy
    report = reload(c, "hot", game.hot["needy"])
    assert report.ok, report.describe()
    extra, status = tl.load_module("extra")         # its handle: one more reference
    refs = lambda: tl.handle_refcount(extra)                  # noqa: E731
    assert status == TLoadStatus.lsSuccess and refs() == 2
    assert reload(c, "hot", game.hot["v3"]).ok and collect(c)
    assert refs() == 1 and c.call("user_calls") == 30


def test_a_copy_fits_its_region_exactly_or_not_at_all(game, tmp_path):
    """A region with room for the copy to the byte takes it; 16 bytes less refuses the
    reload (lsOutOfMemory), nothing changed."""
    from types import SimpleNamespace

    probe = game.console()
    start, end = probe.loader.by_name("hot").base, probe.loader.by_name("user").end
    hot_size = probe.loader.by_name("hot").size
    for spare, ok in ((0, True), (-16, False)):
        region = SimpleNamespace(name="Main", start=start, overlay=False,
                                 capacity=end - start + hot_size + spare)
        c = game.console(regions=[region])
        report = reload(c, "hot", game.hot["v2"])
        assert report.ok == ok, report.describe()
        if ok:
            assert report.new_base + hot_size == start + region.capacity
            assert c.call("user_calls") == 20
        else:
            assert "lsOutOfMemory" in report.message and c.call("user_calls") == 10
            assert c.loader.copies == {}


def test_safe_mode_refuses_a_swap_or_free_from_inside(game):
    """GameVMSwapCopy and GameVMFreeCopy called from a frame of the module they would
    change (hot's busy_probe calls the kernel, which calls them) are lsModuleInUse."""
    c = game.console()
    tl, m = c.loader, c.machine
    hot = tl.by_name("hot")
    status, copy = tl.load_copy(hot.handle, "hot", game.hot["v2"], "v2/hot.elf")
    assert status == TLoadStatus.lsSuccess
    new = next(iter(tl.copies.values()))
    hook = {n: c.symbol(f"hook_{n}") for n in ("live", "copy", "status")}
    m.write_u32(hook["copy"], copy)
    assert c.call(new.base + new.module.exports["busy_probe"].value) == 9   # the copy's frame
    assert m.read_u32(hook["status"]) == TLoadStatus.lsModuleInUse
    m.write_u32(hook["live"], hot.handle)
    assert c.call("hot:busy_probe") == 8                                    # the live one's
    assert m.read_u32(hook["status"]) == TLoadStatus.lsModuleInUse
    assert tl.by_name("hot") is hot and c.call("user_calls") == 10
    m.write_u32(hook["copy"], 0)
    assert tl.swap_copy(hot.handle, copy) == TLoadStatus.lsSuccess         # between calls
    assert c.call("user_calls") == 20
    assert tl.swap_copy(tl.by_name("hot").handle, copy) == TLoadStatus.lsSuccess   # and back
    assert c.call("user_calls") == 10 and tl.free_copy(copy) == TLoadStatus.lsSuccess


def test_rollbacks_leave_a_working_runtime(game):
    """After a self test that faults and a constructor that faults, the runtime's records
    are whole: a good reload, an unload and a new load all go through."""
    c = game.console()
    tl = c.loader
    c.call("hot:tick")
    lm = tl.by_name("hot")
    ram = c.machine.read(lm.base, lm.size)
    for variant, kw, why in (("faulty", {"selftest": "gamevm_selftest"}, "gamevm_selftest"),
                             ("ctorfault", {}, "bad_init")):
        report = reload(c, "hot", game.hot[variant], **kw)
        assert report.status == "rolled-back" and why in report.fault, report.describe()
        assert tl.by_name("hot") is lm and tl.copies == {}
        assert c.machine.read(lm.base, len(ram)) == ram
        assert c.call("user_calls") == 10
    report = reload(c, "hot", game.hot["v3"], selftest="gamevm_selftest")
    assert report.ok, report.describe()
    assert c.call("hot:tick") == 2 and c.call("user_calls") == 30
    tl.unload(tl.by_name("user").handle)
    tl.unload(tl.by_name("hot").handle)
    collect(c)
    assert tl.loaded == {} and tl.copies == {}
    c.load("user")                     # its need, hot, comes back from the file (v1)
    assert c.call("user_calls") == 10


def test_refusals_change_nothing(game):
    c = game.console()
    tl = c.loader
    lm = tl.by_name("hot")
    report = reload(c, "hot", game.hot["dropped"])
    assert report.status == "refused" and "user->hot_value" in report.message
    report = reload(c, "hot", game.hot["resized"])
    assert report.status == "layout-changed"
    assert tl.by_name("hot") is lm and tl.copies == {}
    with pytest.raises(ReloadError, match="cannot replace module 'user'"):
        reload(c, "user", game.hot["v2"])
    # inside a trap the CPU is running: the runtime is reloaded between calls
    reports = []
    c.machine.breakpoint(c.symbol("kernel_hook"),
                         lambda m: reports.append(reload(c, "hot", game.hot["v2"])))
    assert c.call("hot:busy_probe") == 8
    assert reports[0].status == "busy" and "busy_probe" in reports[0].busy[0]
    assert c.call("hot:hot_value") == 1


def test_the_runtime_checks_its_arguments(game):
    """GameVMLoadCopy / GameVMSwapCopy / GameVMFreeCopy refuse what is not theirs."""
    c = game.console()
    tl = c.loader
    hot, user = tl.by_name("hot"), tl.by_name("user")
    path = str(game.root / "v2" / "hot.elf")
    assert tl.load_copy(0x1234, "hot", game.hot["v2"], path) == (TLoadStatus.lsInvalidHandle, 0)
    # another module's file is not a copy: nothing of it stays
    loaded = dict(tl.loaded)
    status, copy = tl.load_copy(hot.handle, "hot", (game.root / "extra.elf").read_bytes(), path)
    assert (status, copy) == (TLoadStatus.lsBadFormat, 0) and tl.copies == {}
    assert tl.loaded == loaded
    status, copy = tl.load_copy(hot.handle, "hot", game.hot["v2"], path)
    assert status == TLoadStatus.lsSuccess and copy and list(tl.copies.values())[0].handle == copy
    assert tl.get_proc(copy, "hot_value") == 0                 # hidden: not a handle
    assert tl.unload_module(copy) == TLoadStatus.lsInvalidHandle
    assert tl.swap_copy(user.handle, copy) == TLoadStatus.lsInvalidHandle    # another module
    assert tl.swap_copy(hot.handle, 0x1234) == TLoadStatus.lsInvalidHandle   # not a copy
    assert tl.free_copy(hot.handle) == TLoadStatus.lsInvalidHandle           # not hidden
    assert c.call("user_calls") == 10                          # nothing was rebound
    assert tl.free_copy(copy) == TLoadStatus.lsSuccess and tl.copies == {}
    assert tl.free_copy(copy) == TLoadStatus.lsInvalidHandle
    # the runtime's own check: a copy lacking what user binds is refused, nothing patched
    # (not even user's table, which the copy has: the live table is 101, the copy's 1)
    c.call("hot:bump_table")
    for variant in ("dropped", "droptable"):
        status, copy = tl.load_copy(hot.handle, "hot", game.hot[variant], path)
        assert status == TLoadStatus.lsSuccess
        assert tl.swap_copy(hot.handle, copy) == TLoadStatus.lsSymbolNotFound
        assert tl.by_name("hot") is hot and tl.free_copy(copy) == TLoadStatus.lsSuccess
        assert c.call("user_calls") == 10 and c.call("user_table0") == 101, variant


def test_lazy_bindings_follow_the_reload(game):
    """Loaded lazily (GVM_LOAD_LAZY; MIPS modules bind their calls at the first call, the
    other consoles' bind at load): the copy is loaded the same way, and user's import
    follows the reload."""
    c = Console(game.target, game.kernels["target"], search_paths=[game.root], loader="target")
    mips = c.machine.profile.arch == "mips"
    if mips:                                       # bound at its first call, below
        c.loader.load("early", lazy=True)
    c.loader.load("hot", lazy=True)
    c.loader.load("user", lazy=True)
    if mips:
        assert c.call("early_calls") == 1001
    # hot's own lazy stub is bound and freed first: the copy's takes its slot, 0
    assert c.call("hot:busy_probe") == 8
    report = reload(c, "hot", game.hot["v2"])
    assert report.ok, report.describe()
    entered = []
    stub_call = c.machine.symbols.get("gvm_stub_call")
    if stub_call is not None:                      # the runtime's lazy binder
        c.machine.breakpoint(stub_call, lambda m: entered.append(1))
    assert c.call("user_calls") == 20              # user's lazy import: bound at first call
    assert c.call("hot:busy_probe") == 9           # the copy's own lazy import of the kernel
    first = len(entered)
    assert c.call("hot:busy_probe") == 9 and c.call("user_calls") == 20
    assert len(entered) == first                   # both bound now: no stub on the way
    if mips:
        # early, loaded before hot and bound to it at its first call, follows the reload:
        # once the old copy is freed, its call must not go there
        assert collect(c) and c.call("early_calls") == 1002


def test_an_old_copy_kept_for_a_stored_pointer_binds_its_lazy_imports(game):
    """legacy_probe, which the new build no longer has, called through a pointer the game
    stored: the old copy the runtime keeps binds its lazy import of kernel_hook at its
    first call by patching its own call site, as the reference loader does
    (tests/test_dev_reload.py).  The emulated console took that write for a write to
    code: it let the runtime patch loaded modules only, not the copies it keeps."""
    c = Console(game.target, game.kernels["target"], search_paths=[game.root], loader="target")
    c.loader.load("hot", lazy=True)
    c.loader.load("user", lazy=True)
    c.call("hot:store_legacy")
    report = reload(c, "hot", game.hot["resized"], policy="keep")
    assert report.ok and "legacy_probe" not in report.entries, report.describe()
    assert c.call("call_saved") == c.call("call_saved") == 12        # 7 + 5
    assert c.call("hot:busy_probe") == 9 + 7
    for name in ("user", "hot"):
        assert c.loader.unload_module(c.loader.by_name(name).handle) == TLoadStatus.lsSuccess
    collect(c)                                        # the module gone, its old copy goes
    assert not c.loader.copies
    with pytest.raises(EmulationFault, match="unloaded module 'hot'"):
        c.call("call_saved")


def test_a_runtime_without_the_reload_api_says_how_to_link_it(game, tmp_path):
    kernel = tmp_path / "plain.elf"
    tc = find_toolchain(game.target)
    build_resident(game.target, [tc.compile(game.root / "k.c", tmp_path / "k.o",
                                            include_dirs=[INCLUDE])],
                   kernel, keep=KEEP, runtime="target")
    c = Console(game.target, kernel, search_paths=[game.root], loader="target")
    c.load("hot")
    with pytest.raises(ReloadError, match="--keep for GameVMSetReload"):
        reload(c, "hot", game.hot["v2"])
