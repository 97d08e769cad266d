"""GameVMSetStale(GVM_STALE_RELOAD) in the console-side C runtime against the reference
loader's ``LoaderPolicy(stale="reload")``, on every console's CPU (issue #11).

A call through a stale stub (an overlay's occupant evicted while another module still
binds to it, in safe mode) loads the module again, rebinds every binding stubbed away from
it (functions and data), runs its constructors and goes on into the called function.  The
oracle is the same as tests/test_target_runtime.py's: the same modules at the same bases
with the same bytes, the same stub table, the same loads and evictions in the same order,
and the same report (with the same TLoadStatus) when the reload fails.
"""

from __future__ import annotations

import pytest

from conftest import ALL_TARGETS, run_gamevm
from gamevm_build.emu.machine import Machine
from gamevm_build.errors import ConfigError, EmulationError
from gamevm_build.link.resident import read_resident
from gamevm_build.runtime.allocator import Region
from gamevm_build.runtime.readers import DirectoryReader
from gamevm_build.runtime.reference import Loader, LoaderPolicy, TLoadStatus, default_regions
from gamevm_build.runtime.target import TargetLoader
from example_game import example_game  # noqa: F401  (fixture)
from test_target_runtime import build_modules, same_modules, same_stubs

SOURCES = {
    # a constructor: the reload runs it before the call goes on (prov_data is 5 only then)
    "prov": "int prov_data;\nint prov_inits;\n"
            "__attribute__((constructor)) static void prov_init(void) "
            "{ prov_data = 5; prov_inits++; }\n"
            "int prov_f(int x) { return x + 7; }\n",
    "user": "extern int prov_f(int);\nextern int prov_data;\n"
            "int user_call(int x) { return prov_f(x) * 2; }\n"
            "int user_read(void) { return prov_data; }\n",
    # the overlay's other occupant; other_g runs user_call from its own code
    "other": "extern int user_call(int);\nint other_f(void) { return 99; }\n"
             "int other_g(int x) { return user_call(x) + 1; }\n"}


def reload_loaders(tmp_path, target: str, *, keep=("GameVMSetStale",), thumb=(),
                   sources=SOURCES):
    """Both loaders with the stale "reload" policy over a heap (``Main``) and an 8 KiB
    overlay (``Ovl``) where ``prov`` and ``other`` are placed (the modules ``thumb`` names
    compiled as Thumb code); the reference loader serves its trampoline's traps as the
    console does."""
    kernel = build_modules(tmp_path, target, sources, keep=list(keep))
    for name in thumb:
        proc = run_gamevm("module", "-t", target, "-o", tmp_path / f"{name}.elf",
                          "--cflags=-mthumb", tmp_path / f"{name}.c")
        assert proc.returncode == 0, proc.stderr
    resident = read_resident(kernel, target)
    host_m, target_m = Machine(target), Machine(target)
    for m in (host_m, target_m):
        m.load_elf(kernel)

    def regions(m):
        heap = default_regions(m, resident)[0]
        top = heap.end - 0x4000
        return [Region("Main", heap.start, top - heap.start), Region("Ovl", top, 0x2000, "overlay")]
    place = {"prov": "Ovl", "other": "Ovl"}
    host = Loader(host_m, resident, DirectoryReader([tmp_path]), regions(host_m),
                  policy=LoaderPolicy(verify_hash=False, stale="reload"), placement=place)
    host_m.on_trap(lambda machine, kind, code: host.service(machine, code))
    tl = TargetLoader(target_m, DirectoryReader([tmp_path]), regions(target_m),
                      resident=resident, placement=place, stale_reload=True)
    return host, tl


def load_all(host, tl, *names) -> None:
    for name in names:
        host.load(name)
        assert tl.load_module(name)[1] == TLoadStatus.lsSuccess, name


def loads_and_frees(host, tl, host_mark: int, tl_mark: int):
    """What each loader loaded and freed since the marks, in order, in the same words."""
    h = [("load" if e["event"] == "load" else "free", e["module"])
         for e in host.events[host_mark:] if e["event"] in ("load", "evict", "unload")]
    t = [("load" if e["event"] == "loaded" else "free", e["module"])
         for e in tl.events[tl_mark:] if e["event"] in ("loaded", "freed")]
    return h, t


@pytest.mark.parametrize("target", ALL_TARGETS)
def test_a_stale_call_reloads_its_module_alike(tmp_path, target):
    host, tl = reload_loaders(tmp_path, target)
    load_all(host, tl, "prov", "user", "other")              # other evicts prov
    assert host.by_name("prov") is None and tl.by_name("prov") is None
    same_modules(host, tl)
    same_stubs(host, tl)                                     # user's stale stub for prov_f
    user = host.by_name("user")
    call, read = user.symbols["user_call"], user.symbols["user_read"]
    marks = len(host.events), len(tl.events)
    # the call reloads prov (evicting other), rebinds user's prov_f and prov_data, runs
    # prov's constructor and goes on into prov_f
    assert host.machine.call(call, 1) == tl.machine.call(call, 1) == 16
    h, t = loads_and_frees(host, tl, *marks)
    assert h == t == [("free", "other"), ("load", "prov")]
    assert [(e["module"], e["symbol"], e["holder"]) for e in host.events
            if e["event"] == "reload"] == [("prov", "prov_f", "user")]
    same_modules(host, tl)                                   # prov again, user rebound alike
    same_stubs(host, tl)
    assert not host.stubs.slots                              # the stale stub is free again
    assert host.machine.call(read) == tl.machine.call(read) == 5     # data rebound, ctor ran
    assert tl.machine.call(call, 2) == host.machine.call(call, 2) == 18   # direct now
    prov = host.by_name("prov")
    assert tl.machine.read_u32(prov.symbols["prov_inits"]) == 1
    # the reloaded module is a module like any other: evicting it again stubs user again
    load_all(host, tl, "other")
    same_modules(host, tl)
    same_stubs(host, tl)
    assert host.machine.call(call, 3) == tl.machine.call(call, 3) == 20
    same_modules(host, tl)
    same_stubs(host, tl)


@pytest.mark.parametrize("target", ["psx", "n64"])
def test_a_reloaded_module_binds_its_own_calls_at_once(tmp_path, target):
    """The module a stale call loads again binds its own calls then and there, as a load
    without GVM_LOAD_LAZY does on both loaders: prov's call into ``base`` (in the heap) is
    patched to base_f itself, no lazy stub is taken (MIPS, whose runtime has lazy stubs)."""
    prov = SOURCES["prov"].replace("int prov_f(int x) { return x + 7; }",
                                   "extern int base_f(int);\n"
                                   "int prov_f(int x) { return base_f(x) + 6; }")
    sources = dict(SOURCES, prov=prov, base="int base_f(int x) { return x + 1; }\n")
    host, tl = reload_loaders(tmp_path, target, sources=sources)
    load_all(host, tl, "base", "prov", "user", "other")      # other evicts prov
    call = host.by_name("user").symbols["user_call"]
    assert host.machine.call(call, 1) == tl.machine.call(call, 1) == 16
    same_modules(host, tl)
    same_stubs(host, tl)
    assert not host.stubs.slots                              # nor a lazy stub for base_f
    assert tl.machine.call(call, 2) == 18


@pytest.mark.parametrize("target", ["psx", "n64"])
def test_a_rebound_import_holds_no_stub(tmp_path, target):
    """Rebound by a reload, user's import of prov_f holds no stub any more: once a lazy
    load has taken the stub slot the stale stub gave back, evicting prov again stubs
    user's binding again, as on the reference loader (MIPS, whose runtime has lazy
    stubs).  Written for the survivor gvm_stubs.c:rebind_stale:const_15 (the import kept
    slot 0 as its stub, and a lazy stub there made it look lazily bound: it was left
    pointing into the evicted module)."""
    sources = dict(SOURCES, lz="extern int user_read(void);\n"
                               "int lz_f(void) { return user_read() + 1; }\n")
    host, tl = reload_loaders(tmp_path, target, sources=sources,
                              keep=("GameVMSetStale", "LoadModuleFlags"))
    load_all(host, tl, "prov", "user", "other")              # other evicts prov
    call = host.by_name("user").symbols["user_call"]
    assert host.machine.call(call, 1) == tl.machine.call(call, 1) == 16   # reloads prov
    host.load("lz", lazy=True)
    tl.load("lz", lazy=True)
    same_stubs(host, tl)                                     # lz's lazy stub: the freed slot
    load_all(host, tl, "other")                              # evicts prov again
    same_modules(host, tl)
    same_stubs(host, tl)
    assert host.machine.call(call, 3) == tl.machine.call(call, 3) == 20


def test_a_reload_goes_on_into_a_thumb_function_on_the_gba(tmp_path):
    """On the GBA the reloaded provider may be Thumb code: the call goes on into it in Thumb
    state (bit 0 of its address), on both loaders."""
    host, tl = reload_loaders(tmp_path, "gba", thumb=("prov",))
    load_all(host, tl, "prov", "user", "other")
    user = host.by_name("user")
    call = user.symbols["user_call"]
    assert host.machine.call(call, 1) == tl.machine.call(call, 1) == 16
    assert host.by_name("prov").symbols["prov_f"] & 1                 # a Thumb function
    same_modules(host, tl)
    same_stubs(host, tl)
    assert tl.machine.call(call, 4) == 22


def fault_of(machine, addr: int, *args: int) -> str:
    with pytest.raises(EmulationError) as err:
        machine.call(addr, *args)
    return str(err.value)


@pytest.mark.parametrize("target", ALL_TARGETS)
def test_a_reload_that_fails_is_reported_alike(tmp_path, target):
    """A reload refused in safe mode (the overlay's occupant, which it would evict, is
    running: it called the stale function) and one whose file is gone stop with the same
    report and status on both loaders, and change nothing: the occupant stays, the stale
    stubs stay."""
    host, tl = reload_loaders(tmp_path, target)
    load_all(host, tl, "prov", "user", "other")
    other = host.by_name("other")
    user = host.by_name("user")
    g = other.symbols["other_g"]
    want = "emulated CPU fault: call to unloaded module 'prov' symbol 'prov_f' (reloading it failed: "
    reports = [fault_of(m, g, 1) for m in (host.machine, tl.machine)]
    assert all(r.startswith(want + "lsModuleInUse: ") for r in reports), reports
    assert host.by_name("other") is not None and host.by_name("prov") is None
    same_modules(host, tl)
    same_stubs(host, tl)
    assert any(s["symbol"] == "prov_f" for s in host.stubs.slots.values())
    assert any("LoadModule(\"prov\"): lsModuleInUse" in line for line in tl.output), tl.output
    (tmp_path / "prov.elf").unlink()
    reports = [fault_of(m, user.symbols["user_call"], 1) for m in (host.machine, tl.machine)]
    assert all(r.startswith(want + "lsFileNotFound: ") for r in reports), reports
    same_modules(host, tl)
    same_stubs(host, tl)


@pytest.mark.parametrize("target", ALL_TARGETS)
def test_a_reload_whose_module_no_longer_exports_the_function_stops_alike(tmp_path, target):
    """A stale call whose module, rebuilt since, loads but no longer exports the function:
    both loaders stop with the same report, naming the symbol, with the new build loaded
    in the overlay (its occupant evicted) on both."""
    host, tl = reload_loaders(tmp_path, target)
    load_all(host, tl, "prov", "user", "other")
    user = host.by_name("user")
    (tmp_path / "prov.c").write_text("int prov_data;\nint prov_g(int x) { return x; }\n")
    proc = run_gamevm("module", "-t", target, "-o", tmp_path / "prov.elf", tmp_path / "prov.c")
    assert proc.returncode == 0, proc.stderr
    reports = [fault_of(m, user.symbols["user_call"], 1) for m in (host.machine, tl.machine)]
    assert all(r.startswith("emulated CPU fault: call to unloaded module 'prov' symbol "
                            "'prov_f' (the reloaded module no longer exports it): pc ")
               for r in reports), reports
    assert host.by_name("other") is None and "prov_g" in host.by_name("prov").symbols
    same_modules(host, tl)


@pytest.mark.parametrize("target", ["psx", "gba"])
def test_the_default_policy_stops_and_a_resident_without_it_is_refused(tmp_path, target):
    """Without GameVMSetStale linked the reload policy is refused by name, with the fix; the
    function's default (GVM_STALE_FAULT) stops at the stale call as before, and an unknown
    policy is lsBadFormat."""
    with pytest.raises(ConfigError) as err:
        reload_loaders(tmp_path, target, keep=())
    assert "--keep GameVMSetStale" in str(err.value)
    (tmp_path / "kept").mkdir()
    host, tl = reload_loaders(tmp_path / "kept", target)
    assert tl.machine.call("GameVMSetStale", 2) == TLoadStatus.lsBadFormat
    tl.set_stale(0)
    load_all(host, tl, "prov", "user", "other")
    call = host.by_name("user").symbols["user_call"]
    report = fault_of(tl.machine, call, 1)
    assert "through a binding of module 'user', stubbed when 'prov' was freed" in report, report


def test_a_reload_scenario_plays_on_the_runtime(example_game, tmp_path):  # noqa: F811
    """A scenario whose policy is ``"stale": "reload"`` plays on the runtime when the
    resident links GameVMSetStale: the stale call reads ``physics`` again, recorded as a
    ``reload`` the trace check attributes the moved head to, as on the reference loader."""
    import json
    from test_scenario import causes_config, play
    from test_target_runtime import MODULES, target_resident
    out = example_game("psx")
    kernel = target_resident(out, "psx", [out / f"{m}.elf" for m in MODULES],
                             keep=("GameVMSetStale",))
    config = causes_config(out, tmp_path, "reload", reload=True)
    data = json.loads(config.read_text())
    data["resident"]["file"] = str(kernel)
    config.write_text(json.dumps(data))
    steps = [{"enter": "title"}, {"load": "crashy"}, {"load": "filler"},
             {"call": "crashy:crashy_fx(2, 3)"}, {"enter": "level1"}]
    result, _bound, check = play(config, steps, policy={"stale": "reload"})
    trace = result.trace()
    assert trace["loader"] == "target", trace["loader"]
    reloads = [r for r in trace["loads"] if r["kind"] == "reload"]
    assert [(r["request"], r["status"]) for r in reloads] == [("physics", "lsSuccess")]
    assert check.ok, check.render_text()
    t = next(c for c in check.comparisons if c.label == "title -> level1")
    (_seen, by, _b_ms, _), = t.displaced
    assert (by["kind"], by["request"], by["step"]) == ("reload", "physics", 3)


def test_a_console_chooses_the_runtime_only_when_it_can_reload(tmp_path):
    """Console(policy=LoaderPolicy(stale="reload")) runs the runtime when it links
    GameVMSetStale, else the reference loader; asked for the runtime, it says what to link."""
    from gamevm_build.play.console import Console
    policy = LoaderPolicy(stale="reload")
    (tmp_path / "kept").mkdir()
    build_modules(tmp_path, "psx", SOURCES)
    build_modules(tmp_path / "kept", "psx", SOURCES, keep=["GameVMSetStale"])
    c = Console("psx", tmp_path / "kept" / "kernel.elf", search_paths=[tmp_path / "kept"],
                policy=policy)
    assert c.loader_kind == "target"
    assert Console("psx", tmp_path / "kernel.elf", search_paths=[tmp_path],
                   policy=policy).loader_kind == "host"
    assert Console("psx", tmp_path / "kernel.elf", search_paths=[tmp_path]).loader_kind == "target"
    with pytest.raises(ConfigError) as err:
        Console("psx", tmp_path / "kernel.elf", search_paths=[tmp_path], policy=policy,
                loader="target")
    assert "GameVMSetStale" in str(err.value)
