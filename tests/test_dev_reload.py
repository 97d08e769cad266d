"""Hot reload with state kept (gamevm_build.dev, docs/dev.md) on every console.

Real modules built with the real cross compilers, loaded by the host's reference
loader into the emulated console, then replaced by rebuilt copies of themselves.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from conftest import ALL_TARGETS
from gamevm_build.dev import ReloadError, collect, reload, retired, swap
from gamevm_build.dev.jumps import ENCODERS, entry_jump
from gamevm_build.errors import EmulationFault
from gamevm_build.link.linker import link_module
from gamevm_build.link.resident import build_resident
from gamevm_build.link.toolchain import find_toolchain
from gamevm_build.play.console import Console
from gamevm_build.runtime.reference import LoaderPolicy

INCLUDE = Path(__file__).resolve().parents[1] / "gamevm_build" / "include"

KERNEL = r"""
int (*saved_fn)(void);                 /* a function pointer the game stores at run time */
int *saved_ptr;                        /* a data pointer likewise */
int call_saved(void) { return saved_fn ? saved_fn() : -1; }
int kernel_hook(void) { return 7; }
void _start(void) { for (;;); }
"""

#: the module being edited: VALUE, TABLE_N and FAULT vary between builds
HOT = r"""
extern int (*saved_fn)(void);
extern int *saved_ptr;
extern int kernel_hook(void);
static int counter;
#if DROPT
static                                     /* no longer exported: user binds it */
#endif
int table[TABLE_N] = {1, 2, 3};
int (*local_fn)(void);
int *cursor = &table[1];                   /* data pointing at data: re-aimed */
#if TABLE_N > 3
int extra = 42;                            /* added by the resized build */
int get_extra(void) { return extra; }
#else
int legacy = 5;                            /* removed by the resized build */
int legacy_probe(void) { return kernel_hook() + legacy; }    /* likewise */
void store_legacy(void) { saved_fn = legacy_probe; }
#endif
#if DROP
static
#endif
int hot_value(void) { return VALUE; }
#if FAULT == 2
__attribute__((constructor)) static void bad_init(void) { (void)*(volatile int *)0x7F000000; }
#endif
static int inits;                          /* constructors run (carried by a reload) */
__attribute__((constructor)) static void count_init(void) { ++inits; }
int get_inits(void) { return inits; }
#if NEEDY
extern int extra_ready;                    /* a need the first build did not have */
int extra_state(void) { return extra_ready; }
#endif
int tick(void) { return ++counter; }
int get_counter(void) { return counter; }
void store_fns(void) { saved_fn = hot_value; local_fn = hot_value; }
void store_ptr(void) { saved_ptr = &counter; }
int call_local(void) { return local_fn ? local_fn() : -1; }
int table_len(void) { return (int)(sizeof table / sizeof table[0]); }
int table0(void) { return table[0]; }
void bump_table(void) { table[0] += 100; }
int table1(void) { return table[1]; }
void cursor_bump(void) { *cursor += 1000; }
int spin(void) { volatile int i = 0; for (;;) i++; return i; }
int busy_probe(void) { return kernel_hook() + VALUE; }
int gamevm_selftest(void) {
#if FAULT
    return *(volatile int *)0x7F000000;      /* unmapped on every console */
#else
    return hot_value() == VALUE ? 0 : 1;
#endif
}
"""

#: another module binding into hot (relocated sites the reload must rebind)
USER = r"""
extern int hot_value(void);
extern int table[];
extern int kernel_hook(void);              /* bound to the resident: a reload leaves it */
int user_table0(void) { return table[0]; }   /* first: its import is user's first */
int user_calls(void) { return hot_value() * 10; }
int user_hook(void) { return kernel_hook(); }
"""

VARIANTS = {f"v{v}": dict(VALUE=v, TABLE_N=3, FAULT=0, DROP=0) for v in range(1, 7)}
VARIANTS["resized"] = dict(VARIANTS["v1"], VALUE=9, TABLE_N=8)
VARIANTS["faulty"] = dict(VARIANTS["v1"], VALUE=5, FAULT=1)        # its self test faults
VARIANTS["ctorfault"] = dict(VARIANTS["v1"], VALUE=5, FAULT=2)     # its constructor faults
VARIANTS["dropped"] = dict(VARIANTS["v1"], VALUE=5, DROP=1)        # hot_value no longer exported


class Game:
    def __init__(self, target: str, root: Path, kernel: Path, hot: dict[str, bytes]):
        self.target, self.root, self.kernel, self.hot = target, root, kernel, hot

    def console(self, **kw) -> Console:
        c = Console(self.target, self.kernel, search_paths=[self.root], loader="host", **kw)
        c.load("hot")
        c.load("user")
        return c


@pytest.fixture(scope="module", params=ALL_TARGETS)
def game(request, tmp_path_factory) -> Game:
    """Kernel, ``hot`` (every variant's bytes) and ``user`` for one console, built once."""
    target = request.param
    root = tmp_path_factory.mktemp(f"dev-{target}")
    tc = find_toolchain(target)
    (root / "k.c").write_text(KERNEL)
    kernel = root / "kernel.elf"
    build_resident(target, [tc.compile(root / "k.c", root / "k.o", include_dirs=[INCLUDE])],
                   kernel, keep=["saved_fn", "saved_ptr", "call_saved", "kernel_hook"])
    return Game(target, root, kernel, build_modules(target, root, kernel))


def build_modules(target: str, root: Path, kernel: Path) -> dict[str, bytes]:
    """``hot`` in every variant (``root/VARIANT/hot.elf``; v1 also as ``root/hot.elf``)
    and ``user`` (``root/user.elf``), linked against ``kernel``; hot's bytes by variant."""
    tc = find_toolchain(target)
    hot = {}
    for name, defs in VARIANTS.items():
        d = root / name
        d.mkdir()
        (d / "hot.c").write_text(HOT)
        obj = tc.compile(d / "hot.c", d / "hot.o",
                         extra_flags=[f"-D{k}={v}" for k, v in defs.items()])
        link_module(target, [obj], d / "hot.elf", resident=kernel)
        hot[name] = (d / "hot.elf").read_bytes()
    (root / "hot.elf").write_bytes(hot["v1"])
    (root / "user.c").write_text(USER)
    link_module(target, [tc.compile(root / "user.c", root / "user.o")], root / "user.elf",
                needs=[root / "hot.elf"], resident=kernel)
    return hot


def test_edited_function_returns_the_new_value(game):
    c = game.console()
    old_base = c.loader.by_name("hot").base
    assert c.call("hot:hot_value") == 1
    assert c.call("user_calls") == 10
    report = reload(c, "hot", game.hot["v2"])
    assert report.ok, report.describe()
    assert report.new_base != old_base and c.loader.by_name("hot").base == report.new_base
    assert c.call("hot:hot_value") == 2
    # user's relocated call site was rebound to the new copy
    assert set(report.rebound) == {"user"} and report.rebound["user"] >= 2
    assert c.call("user_calls") == 20
    assert {"counter", "table", "cursor", "local_fn", "legacy"} <= set(report.kept)
    assert report.entries["hot_value"] != "host breakpoint"
    # the carried pointer to table[1] points into the new copy's table
    c.call("hot:cursor_bump")
    assert c.call("hot:table1") == 1002


def test_bss_counter_keeps_counting_across_five_reloads(game):
    c = game.console()
    for _ in range(3):
        c.call("hot:tick")
    times = []
    handle = c.loader.by_name("hot").handle
    for v in range(2, 7):
        t = time.perf_counter()
        # by console and name, or by loader and handle (the handle stays the module's)
        report = (reload(c, "hot", game.hot[f"v{v}"]) if v % 2 else
                  reload(c.loader, handle, game.hot[f"v{v}"]))
        times.append(time.perf_counter() - t)
        assert report.ok, report.describe()
        assert c.call("hot:hot_value") == v
        assert c.call("hot:tick") == 3 + v - 1
    assert c.call("hot:get_counter") == 8
    assert c.call("user_calls") == 60
    assert c.loader.by_name("hot").handle == handle
    # nothing stored a pointer into the old copies: each was freed by the next reload
    assert [g for _n, _b, g in retired(c)] == [5]
    assert collect(c) and retired(c) == []
    assert c.call("hot:get_counter") == 8
    assert max(times) < 1.0, times


def test_reloads_reuse_freed_copies(game):
    """A freed old copy below the region's top is where the next copy goes when it fits:
    ten reloads cost the region one extra copy of the module (docs/dev.md, Memory per
    reload), and the state still follows."""
    c = game.console()
    c.call("hot:tick")
    region = c.loader.by_name("hot").region
    size = c.loader.by_name("hot").module.load_size
    top0 = region.top
    tops, bases = [], []
    for i in range(10):
        v = 2 + i % 5
        report = reload(c, "hot", game.hot[f"v{v}"])
        assert report.ok, report.describe()
        assert c.call("hot:hot_value") == v
        tops.append(region.top)
        bases.append(c.loader.by_name("hot").base)
    assert c.call("hot:get_counter") == 1
    assert max(tops) - top0 <= size + 16, (top0, tops)
    assert len(set(bases)) <= 3, [hex(b) for b in bases]      # copies take turns


def test_region_places_into_freed_blocks():
    from gamevm_build.runtime.allocator import OutOfMemory, Region

    r = Region("Main", 0x1000, 0x1000)
    a, b, c = r.alloc(0x100, 4, "a"), r.alloc(0x80, 4, "b"), r.alloc(0x40, 4, "c")
    r.free(a)
    r.free(b)                                   # two adjacent holes: one run
    assert r.holes() == [(0x1000, 0x180)] and r.top == 0x11c0
    with pytest.raises(OutOfMemory, match="not inside freed memory"):
        r.alloc_at(0x1100, 0x100, "d", into_free=True)       # runs into c
    d = r.alloc_at(0x1010, 0x120, "d", into_free=True)     # across both freed blocks
    assert (d.start, d.size) == (0x1010, 0x120)
    assert r.holes() == [(0x1000, 0x10), (0x1130, 0x50)] and r.top == 0x11c0
    with pytest.raises(OutOfMemory):
        r.alloc_at(0x1000, 0x20, "e")                       # without into_free: a stack
    r.free(c)
    r.free(d)
    assert r.blocks == [] and r.top == 0x1000


def test_resized_symbol_is_reported_and_abort_keeps_the_old_code(game):
    c = game.console()
    c.call("hot:bump_table")
    c.call("hot:tick")
    lm = c.loader.by_name("hot")
    ram = c.machine.read(lm.base, lm.module.load_size)
    allocator = c.loader.allocator.snapshot()
    report = reload(c, "hot", game.hot["resized"])
    assert report.status == "layout-changed" and not report.ok
    assert [(r.name, r.old_size, r.new_size) for r in report.resized] == [("table", 12, 32)]
    assert "table: 12 -> 32 bytes" in report.describe()
    assert report.added == ["extra"] and report.removed == ["legacy"]
    assert c.loader.by_name("hot") is lm and c.machine.read(lm.base, len(ram)) == ram
    assert c.loader.allocator.snapshot() == allocator
    assert c.call("hot:hot_value") == 1 and c.call("hot:table_len") == 3
    assert c.call("hot:tick") == 2


@pytest.mark.parametrize("policy, table0", [("keep", 101), ("reset", 1)])
def test_resized_symbol_with_keep_or_reset(game, policy, table0):
    c = game.console()
    c.call("hot:bump_table")
    c.call("hot:tick")
    report = reload(c, "hot", game.hot["resized"], policy=policy)
    assert report.ok and report.policy == policy, report.describe()
    assert [r.name for r in report.resized] == ["table"]
    assert c.call("hot:table_len") == 8 and c.call("hot:hot_value") == 9
    assert c.call("hot:table0") == table0          # keep: the first 12 bytes carried
    assert c.call("user_table0") == table0         # user's data site follows the new table
    assert c.call("hot:tick") == 2                 # unchanged symbols are carried either way
    assert c.call("hot:get_extra") == 42           # added: its initial value
    c.call("hot:cursor_bump")                      # cursor (kept) points into the new table
    assert c.call("hot:table1") == 1002


def test_stored_function_pointers_call_the_new_code(game):
    c = game.console()
    c.call("hot:store_fns")
    assert c.call("call_saved") == 1 and c.call("hot:call_local") == 1
    for v in (2, 3):
        report = reload(c, "hot", game.hot[f"v{v}"])
        assert report.ok, report.describe()
        # the resident's pointer goes through the first copy's entry jump
        assert c.call("call_saved") == v
        # the module's own pointer was carried and re-aimed at the new copy
        assert c.call("hot:call_local") == v
    assert report.pointers >= 2                   # local_fn and cursor
    # the first copy is kept (the resident points into it), the second is not
    assert [g for _n, _b, g in retired(c)] == [1, 2]
    collect(c)
    assert [g for _n, _b, g in retired(c)] == [1]
    assert c.call("call_saved") == 3
    # once the module goes, its old copies go with it: the stale pointer stops, named
    c.loader.unload(c.loader.by_name("user").handle)
    c.loader.unload(c.loader.by_name("hot").handle)
    assert collect(c) and retired(c) == []
    with pytest.raises(EmulationFault, match="unloaded module 'hot' symbol 'hot_value'"):
        c.call("call_saved")


def test_stored_data_pointer_is_reported(game):
    c = game.console()
    c.call("hot:store_ptr")
    c.call("hot:tick")
    report = reload(c, "hot", game.hot["v2"])
    assert report.ok
    assert len(report.stale_data) == 1 and "saved_ptr" in report.stale_data[0] \
        and "hot:counter" in report.stale_data[0], report.stale_data
    assert "warning: saved_ptr" in report.describe()
    collect(c)
    assert [g for _n, _b, g in retired(c)] == [1]      # still pointed into: kept


def test_faulting_self_test_rolls_back_with_state(game):
    c = game.console()
    c.call("hot:store_fns")
    c.call("hot:tick")
    c.call("hot:tick")
    lm = c.loader.by_name("hot")
    user = c.loader.by_name("user")
    user_ram = c.machine.read(user.base, user.module.load_size)
    allocator = c.loader.allocator.snapshot()
    report = reload(c, "hot", game.hot["faulty"], selftest="gamevm_selftest")
    assert report.status == "rolled-back", report.describe()
    assert "gamevm_selftest" in report.fault and "hot" in report.fault
    assert "0x7f000000" in report.fault.lower()
    assert c.loader.by_name("hot") is lm and c.loader.allocator.snapshot() == allocator
    assert c.machine.read(user.base, len(user_ram)) == user_ram
    assert c.call("hot:hot_value") == 1 and c.call("call_saved") == 1
    assert c.call("user_calls") == 10
    assert c.call("hot:tick") == 3
    assert retired(c) == []
    # and a good reload with a self test goes through afterwards
    report = reload(c, "hot", game.hot["v4"], selftest="gamevm_selftest")
    assert report.ok, report.describe()
    assert c.call("call_saved") == 4 and c.call("hot:tick") == 4


@pytest.mark.parametrize("selftest, why", [("spin", "did not return within its budget"),
                                           ("hot_value", "returned 2")])
def test_self_test_timeout_or_failure_rolls_back(game, selftest, why):
    c = game.console()
    c.call("hot:tick")
    report = reload(c, "hot", game.hot["v2"], selftest=selftest, max_seconds=0.01)
    assert report.status == "rolled-back", report.describe()
    assert why in (report.fault or report.message), report.describe()
    assert c.call("hot:hot_value") == 1 and c.call("hot:tick") == 2


def test_faulting_constructor_rolls_back(game):
    c = game.console()
    c.call("hot:tick")
    lm = c.loader.by_name("hot")
    allocator = c.loader.allocator.snapshot()
    report = reload(c, "hot", game.hot["ctorfault"])
    assert report.status == "rolled-back" and "constructor" in report.message
    assert "bad_init" in report.fault, report.fault
    assert c.loader.by_name("hot") is lm and c.loader.allocator.snapshot() == allocator
    assert c.call("hot:hot_value") == 1 and c.call("hot:tick") == 2


def test_dropping_an_export_another_module_binds_is_refused(game):
    c = game.console()
    report = reload(c, "hot", game.hot["dropped"])
    assert report.status == "refused" and "user->hot_value" in report.message
    assert c.call("user_calls") == 10


def test_reload_with_a_live_frame_inside_is_busy(game):
    c = game.console()
    reports = []
    c.machine.breakpoint(c.symbol("kernel_hook"),
                         lambda m: reports.append(reload(c, "hot", game.hot["v2"])))
    assert c.call("hot:busy_probe") == 8
    assert reports[0].status == "busy" and "busy_probe" in reports[0].busy[0], \
        reports[0].describe()
    assert c.call("hot:hot_value") == 1


def test_lazy_bindings_follow_the_reload(game):
    c = game.console(policy=LoaderPolicy(lazy=True))
    assert c.call("user_calls") == 10            # user's lazy import resolved to the old copy
    report = reload(c, "hot", game.hot["v2"])
    assert report.ok, report.describe()
    assert c.call("user_calls") == 20
    assert c.call("hot:busy_probe") == 9         # the new copy's own lazy import of the kernel


def test_an_old_copy_kept_for_a_stored_pointer_binds_its_lazy_imports(game):
    """The game stored a pointer to legacy_probe, which the new build no longer has: the
    old copy stays and runs as it was, its lazy import of kernel_hook included, which
    binds the old copy's own call site at its first call, as the console-side runtime's
    stubs do (tests/test_dev_reload_target.py).  The loader took the old copy's stub for
    a freed module's and stopped with "lazy stub hot->kernel_hook called after its
    module was unloaded" (found through the survivor
    reference.xǁLoaderǁ_lazy_bind__mutmut_17).  Once the module is unloaded and its old
    copy collected, the pointer stops naming the function it pointed to."""
    c = game.console(policy=LoaderPolicy(lazy=True))
    old = c.loader.by_name("hot")
    lazy = "kernel_hook" in old.lazy                  # MIPS: jal's bind lazily
    c.call("hot:store_legacy")
    report = reload(c, "hot", game.hot["resized"], policy="keep")
    assert report.ok and "legacy_probe" not in report.entries, report.describe()
    marks = len(c.loader.events)
    assert c.call("call_saved") == 12                 # kernel_hook() + legacy, 7 + 5
    assert [(e["module"], e["symbol"], e["sites"]) for e in c.loader.events[marks:]
            if e["event"] == "lazy-bind"] == [("hot", "kernel_hook", 2)] * lazy
    assert "kernel_hook" not in old.lazy and old.bindings["kernel_hook"] == c.symbol(
        "kernel_hook")
    assert c.call("call_saved") == 12 and c.call("hot:busy_probe") == 9 + 7
    for name in ("user", "hot"):
        c.loader.unload(c.loader.by_name(name).handle)
    collect(c)                                        # the module gone, its old copy goes
    assert not c.loader.stubs or not c.loader.stubs.slots
    with pytest.raises(EmulationFault, match=re.escape(
            "call to unloaded module 'hot' symbol 'legacy_probe'")):
        c.call("call_saved")


def test_every_entry_jump_runs(game):
    """Each jump of the console's architecture, written in scratch RAM, reaches a copy
    of hot_value; an entry too small for any jump is redirected by the host."""
    c = game.console()
    m = c.machine
    arch, order = m.profile.arch, m.profile.byteorder
    hot = c.loader.by_name("hot")
    exp = hot.module.exports["hot_value"]
    area = (m.reserve(256) + 15) & ~15
    to = area + 128
    m.write(to, m.read(hot.base + exp.value, exp.size))
    ran = []
    for kind, encode in ENCODERS[arch]:
        at = area + (1 if kind.startswith("thumb") else 0)
        code = encode(at, to, 16, order, getattr(m.cpu, "has_bx", True))
        if code is None:
            continue                          # not on this CPU (Thumb, ARMv3's bx)
        m.write(area, code)
        assert c.call(at) == 1, kind
        ran.append(kind)
    assert len(ran) >= 2, ran
    assert entry_jump(arch, area, to, 2, order) is None
    st = swap._state(c.loader)
    assert swap._jump(c.loader, st, area, to, 0) == "host breakpoint"
    assert c.call(area) == 1


def test_bad_input_is_a_typed_error(game):
    c = game.console()
    with pytest.raises(ReloadError, match="policy 'sometimes'"):
        reload(c, "hot", game.hot["v2"], policy="sometimes")
    with pytest.raises(ReloadError, match="no loaded module 'nope'"):
        reload(c, "nope", game.hot["v2"])
    with pytest.raises(ReloadError, match="cannot replace module 'user'"):
        reload(c, "user", game.hot["v2"])
    with pytest.raises(ReloadError, match="reload of .hot.: .*not a valid"):
        reload(c, "hot", b"\x7fELF garbage")


def _mask(line: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"0x[0-9a-fA-F]+|\d+(\.\d+)?", "#", line)).strip()


def test_docs_show_real_reports(game):
    """docs/dev.md's three reports are what reload() prints (numbers masked)."""
    text = (Path(__file__).resolve().parents[1] / "docs" / "dev.md").read_text()
    blocks = [b.splitlines() for b in re.findall(r"^```\n(reload hot:.*?)^```", text, re.S | re.M)]
    assert len(blocks) == 3
    c = game.console()
    c.call("hot:store_fns")
    c.call("hot:store_ptr")
    got = [reload(c, "hot", game.hot[v], selftest="gamevm_selftest").describe().splitlines()
           for v in ("v2", "resized", "faulty")]
    for doc, real in zip(blocks[:2], got[:2]):
        assert [_mask(x) for x in doc] == [_mask(x) for x in real]
    assert _mask(blocks[2][0]) == _mask(got[2][0])
    cut = lambda line: _mask(line.split(": pc")[0])      # noqa: E731  (registers differ per CPU)
    assert cut(blocks[2][1]) == cut(got[2][1])
