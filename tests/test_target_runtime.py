"""The console-side C runtime against the host's reference loader, on every console's CPU.

The runtime (gamevm_build/runtime/loader, linked with ``gamevm resident --runtime
target``) runs on unicorn's model of each console's CPU; the Python loader
(gamevm_build/runtime/reference.py) is the oracle.  Both get the same console state (the
same resident, regions and module files) and the same request, and must agree:
the same base and byte-identical RAM for every module loaded (relocated and
bound alike), the same TLoadStatus for every bad module, the same modules left
after unloads.  The Global Symbol Table is checked against the resident's ELF
symbol table, and the emulated console's instruction-cache rule is checked by
a runtime that forgets to sync.
"""

from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import ALL_TARGETS, REPO, run_gamevm, examples
from example_game import example_game  # noqa: F401  (fixture)
from gamevm_build.emu.machine import Machine
from gamevm_build.errors import EmulationError
from gamevm_build.runtime.reference import LoadError, Loader, LoaderPolicy, TLoadStatus, default_regions
from gamevm_build.link.module import read_module
from gamevm_build.runtime.readers import DirectoryReader
from gamevm_build.link.resident import read_resident
from gamevm_build.runtime.target import TargetLoader

EXAMPLE = REPO / "examples" / "game"
MODULES = ("physics", "level1", "boss", "crashy")


def target_resident(out: Path, target: str, modules, *, keep=(), shipping=False) -> Path:
    """The example kernel linked with the console-side runtime (and the API functions
    ``keep`` names, which the example kernel does not call); ``shipping``: its shipping
    build, also in a checked run (conftest.run_gamevm)."""
    kernel = out / ("kernel-target.elf" if not keep else f"kernel-{'-'.join(keep)}.elf")
    if shipping and os.environ.get("GAMEVM_RUNTIME_CHECKS"):
        kernel = kernel.with_name(kernel.stem + "-shipping.elf")
    if not kernel.exists():
        sources = sorted((EXAMPLE / "kernel").glob("*.c")) + [EXAMPLE / "kernel" / "start.S"]
        proc = run_gamevm("resident", "-t", target, "-o", kernel, "--runtime", "target",
                          *(a for k in keep for a in ("--keep", k)),
                          "-I", EXAMPLE / "include", "--modules", *modules, *sources,
                          shipping=shipping)
        assert proc.returncode == 0, proc.stderr
        assert "console-side runtime:" in proc.stdout
    return kernel


def pair(target: str, kernel: Path, search: Path, *, loaders=(Loader, TargetLoader),
         regions=default_regions, placement=None, **target_options):
    """A host-loader console and a target-runtime console in the same state, modules
    placed in ``regions(machine, resident)`` on both (default: RAM after the resident),
    those ``placement`` names in the region it gives."""
    resident = read_resident(kernel, target)
    host_m, target_m = Machine(target), Machine(target)
    for m in (host_m, target_m):
        m.load_elf(kernel)
    # the C runtime does not check the module hash yet (docs/runtime-c.md): compare without it
    host = loaders[0](host_m, resident, DirectoryReader([search]), regions(host_m, resident),
                      policy=LoaderPolicy(verify_hash=False), placement=placement)
    tl = loaders[1](target_m, DirectoryReader([search]), regions(target_m, resident),
                    resident=resident, placement=placement, **target_options)
    return host, tl


class LinkedLoader(Loader):
    """The reference loader, keeping in ``linked`` each module's image as it was linked,
    before any of its code ran (it asks for a module's constructors first then), and in
    ``constructed`` the names of those that have constructors."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.linked: dict[str, bytes] = {}
        self.constructed: set[str] = set()

    def init_functions(self, lm):
        self.linked.setdefault(lm.name, self.machine.read(lm.base, lm.module.load_size))
        found = super().init_functions(lm)
        if found:
            self.constructed.add(lm.name)
        return found


class LinkedTargetLoader(TargetLoader):
    """The runtime, keeping in ``linked`` each module's image as it was linked (its
    GVM_EV_LOADED event comes before its constructors run)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.linked: dict[str, bytes] = {}

    def _loaded(self, machine, name, base, size, code_size):
        self.linked.setdefault(name, machine.read(base, size))
        super()._loaded(machine, name, base, size, code_size)


class Consoles:
    """A host-loader console and a target-runtime console kept in the same state, with
    ``preload`` loaded on both.  A module whose constructor faults stops the target console
    mid-load (no status comes back, and its state is left apart from the reference's), so
    after that both consoles start again, as a real console is reset: the examples after
    it compare loaders, not a crashed console with a clean one."""

    def __init__(self, target: str, kernel: Path, search: Path, preload=("physics",)):
        self.target, self.kernel, self.search, self.preload = target, kernel, search, preload
        self.restart()

    def restart(self) -> None:
        self.host, self.tl = pair(self.target, self.kernel, self.search,
                                  loaders=(LinkedLoader, LinkedTargetLoader))
        for name in self.preload:
            assert host_load(self.host, name)[1] == TLoadStatus.lsSuccess
            assert self.tl.load_module(name)[1] == TLoadStatus.lsSuccess


def host_load(host: Loader, name: str):
    try:
        return host.load(name, needs=True), TLoadStatus.lsSuccess
    except LoadError as exc:
        return None, exc.status


def same_modules(host: Loader, tl: TargetLoader, *, contents: bool = True) -> None:
    """Every loaded module: same name, base, bytes in RAM (unless not ``contents``) and
    extent of code (what the console guards against writes, safe mode's range) on both
    consoles."""
    h = {lm.name: (lm.base, lm.module.load_size, lm.code_end) for lm in host.loaded.values()}
    t = {m.name: (m.base, m.size, m.code_size) for m in tl.loaded.values()}
    assert h == t
    for name, (base, size, _code) in h.items() if contents else ():
        assert host.machine.read(base, size) == tl.machine.read(base, size), name


@pytest.fixture(scope="module", params=ALL_TARGETS)
def built(request, example_game):
    target = request.param
    out = example_game(target)
    kernel = target_resident(out, target, [out / f"{m}.elf" for m in MODULES])
    return target, out, kernel


def test_global_symbol_table_is_the_residents_symbols_sorted(built):
    target, _out, kernel = built
    resident = read_resident(kernel, target)
    with open(kernel, "rb") as f:
        elf = ELFFile(f)
        syms = {s.name: s for s in elf.get_section_by_name(".symtab").iter_symbols()}
        order = "<" if elf.little_endian else ">"

        def word(addr: int) -> int:
            for seg in elf.iter_segments():
                v = seg["p_vaddr"] & 0xFFFFFFFF
                if seg["p_type"] == "PT_LOAD" and v <= addr < v + seg["p_filesz"]:
                    return struct.unpack_from(order + "I", seg.data(), addr - v)[0]
            raise AssertionError(f"0x{addr:08x} is not in the file")

        def cstring(addr: int) -> bytes:
            out = b""
            while (b := word(addr & ~3).to_bytes(4, "little" if order == "<" else "big")
                   [addr & 3]) != 0:
                out += bytes([b])
                addr += 1
            return out

        gst = syms["gvm_gst"]["st_value"] & 0xFFFFFFFF
        count = word(syms["gvm_gst_count"]["st_value"] & 0xFFFFFFFF)
        table = [(cstring(word(gst + 8 * i)), word(gst + 8 * i + 4)) for i in range(count)]
    assert [n for n, _ in table] == sorted(n for n, _ in table)            # binary search works
    assert {n.decode(): v for n, v in table} == resident.symbols            # exactly the GST
    assert "gvm_strcmp" not in resident.symbols          # the runtime's internals are static


@pytest.mark.parametrize("name", MODULES)
def test_same_ram_and_bindings_as_the_host_loader(built, name):
    target, out, kernel = built
    host, tl = pair(target, kernel, out)
    lm, status = host_load(host, name)
    handle, t_status = tl.load_module(name)
    assert status == t_status == TLoadStatus.lsSuccess
    same_modules(host, tl)                       # needs too: loaded first, same place
    for sym, addr in lm.symbols.items():         # GetModuleProc finds every export
        assert tl.get_proc(handle, sym) == addr
    assert tl.get_proc(handle, "no_such_symbol") == 0
    # the modules run alike: each self test passes on the target runtime's load
    for m in tl.loaded.values():
        if "gamevm_selftest" in m.symbols:
            assert tl.machine.call(m.symbols["gamevm_selftest"]) == 0, m.name


def test_loads_and_unloads_follow_references_like_the_host(built):
    target, out, kernel = built
    host, tl = pair(target, kernel, out)
    handles = {}
    for name in ("level1", "boss", "physics", "level1"):
        lm, _ = host_load(host, name)
        handles[name] = (lm.handle, tl.load_module(name)[0])
        same_modules(host, tl)
    for name in ("level1", "physics", "level1", "boss", "level1"):
        h, t = handles[name]
        try:
            host.unload(h)
            status = TLoadStatus.lsSuccess
        except LoadError as exc:
            status = exc.status
        assert tl.unload_module(t) == status, name
        same_modules(host, tl)
    assert not tl.loaded


def test_missing_and_foreign_modules(built, tmp_path):
    target, out, kernel = built
    other = "n64" if target != "n64" else "psx"
    foreign = tmp_path / "foreign.elf"
    proc = run_gamevm("module", "-t", other, "-o", foreign,
                      REPO / "tests" / "corpus" / "native" / "physics.c",
                      "-I", REPO / "tests" / "corpus" / "native")
    assert proc.returncode == 0, proc.stderr
    (tmp_path / "physics.elf").write_bytes((out / "physics.elf").read_bytes())
    (tmp_path / "needsmissing.elf").write_bytes((out / "level1.elf").read_bytes())
    host, tl = pair(target, kernel, tmp_path)
    for name, want in (("nothing_here", TLoadStatus.lsFileNotFound),
                       ("foreign", TLoadStatus.lsIncompatibleTarget)):
        assert host_load(host, name)[1] == want
        handle, status = tl.load_module(name)
        assert (handle, status) == (0, want)
    with pytest.raises(LoadError) as err:
        tl.load("foreign")
    assert f"built for target {other}" in str(err.value)
    same_modules(host, tl)


# --- corrupted modules: the same status from both loaders --------------------------------

def mutations():
    """A byte set, a word set, or a truncation, at any offset."""
    return st.one_of(
        st.tuples(st.just("byte"), st.integers(0, 1 << 20), st.integers(0, 255)),
        st.tuples(st.just("word"), st.integers(0, 1 << 20), st.integers(0, 0xFFFFFFFF)),
        st.tuples(st.just("cut"), st.integers(0, 1 << 20), st.just(0)))


def mutate(data: bytes, kind: str, at: int, value: int) -> bytes:
    at %= len(data)
    if kind == "cut":
        return data[:at]
    if kind == "byte":
        return data[:at] + bytes([value]) + data[at + 1:]
    at &= ~3
    return data[:at] + value.to_bytes(4, "little") + data[at + 4:]


@pytest.fixture(scope="module")
def fuzz_pair(built, tmp_path_factory):
    target, out, kernel = built
    d = tmp_path_factory.mktemp(f"fuzz-{target}")
    (d / "physics.elf").write_bytes((out / "physics.elf").read_bytes())
    return target, out, d, Consoles(target, kernel, d)


@settings(max_examples=examples(40), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(victim=st.sampled_from(["level1", "boss", "physics_copy"]), change=mutations())
def test_corrupted_modules_get_the_same_status(fuzz_pair, victim, change):
    target, out, d, consoles = fuzz_pair
    source = out / ("physics.elf" if victim == "physics_copy" else f"{victim}.elf")
    (d / "victim.elf").write_bytes(mutate(source.read_bytes(), *change))
    same_status_on_both(consoles, f"{victim} {change}")


def same_status_on_both(consoles: Consoles, label: str) -> None:
    """Both loaders load ``victim`` alike: the same status, the same image as linked (the
    loaders' work, before any of its code ran), nothing left.

    A victim whose constructors ran has run code that may be corrupt, and what corrupt
    code does can hang on what its caller left in registers, which the runtime and the
    reference do not share (a store through an unset register: a 3DO LZ4 level1 that
    both loaded alike, then wrote apart; a jump through one, which crashed the console
    the reference ran it on without a fault).  Its effects are the module's, not a
    loader's: after it, only the images as linked are compared (and the module tables
    when both loaded it), and both consoles start again, as after a crash."""
    host, tl = consoles.host, consoles.tl
    host.linked, host.constructed, tl.linked = {}, set(), {}
    lm, status = host_load(host, "victim")
    try:
        handle, t_status = tl.load_module("victim")
    except EmulationError:
        handle, t_status = 0, None           # a crash: the runtime cannot return
    ran = host.constructed & set(tl.linked)  # constructors that ran on both consoles
    if not ran:
        # a constructor that faults is a crash on the console (lsInitFailed on the host)
        expected = None if status == TLoadStatus.lsInitFailed else status
        assert t_status == expected, (f"{label}: host {status.name}, target "
                                      f"{t_status.name if t_status else 'crashed'}")
    for name in sorted(set(host.linked) | set(tl.linked)):
        assert host.linked.get(name) == tl.linked.get(name), f"{label}: {name} linked apart"
    if ran or t_status is None:
        if status == t_status == TLoadStatus.lsSuccess:
            same_modules(host, tl, contents=False)
        consoles.restart()
        return
    if status == TLoadStatus.lsSuccess:
        same_modules(host, tl)
        host.unload(lm.handle)
        assert tl.unload_module(handle) == TLoadStatus.lsSuccess
    same_modules(host, tl)


@pytest.mark.parametrize("victim", ["physics_copy", "level1", "boss"])
@pytest.mark.parametrize("section", [".text", ".data"])
@pytest.mark.parametrize("sh_type", [0, 8], ids=["SHT_NULL", "SHT_NOBITS"])
def test_a_section_retyped_gets_the_host_status(built, tmp_path, victim, section, sh_type):
    """A loadable section whose type was changed is read alike by both loaders, whatever
    the module's form. Typed SHT_NULL (no bytes, and not bss either) it is refused by both:
    found by the corrupted-modules property on a packed 3DO level1, which the runtime
    loaded (it took the section's size as contents for the packed relocations' sites) and
    the reference refused. Typed SHT_NOBITS it is zeros on both (reading its module for
    symbols hashed the size instead of bytes: a TypeError, found the same way).  A pair of
    consoles of its own: a zeroed constructor crashes the console mid-load, which leaves
    its state apart from the reference's."""
    target, out, kernel = built
    d = tmp_path
    (d / "physics.elf").write_bytes((out / "physics.elf").read_bytes())
    consoles = Consoles(target, kernel, d)
    source = out / ("physics.elf" if victim == "physics_copy" else f"{victim}.elf")
    with open(source, "rb") as f:
        elf = ELFFile(f)
        if elf.get_section_by_name(section) is None:
            pytest.skip(f"{victim} has no {section}")
        index = next(i for i, sec in enumerate(elf.iter_sections()) if sec.name == section)
        at = elf["e_shoff"] + index * elf["e_shentsize"] + 4          # sh_type
    data = bytearray(source.read_bytes())
    data[at:at + 4] = sh_type.to_bytes(4, "big" if data[5] == 2 else "little")
    (d / "victim.elf").write_bytes(bytes(data))
    same_status_on_both(consoles, f"{victim} {section} typed {sh_type}")


@pytest.mark.parametrize("what", ["e_flags", "ei_version", "pt_load_past_eof", "pt_load_tail",
                                  "pt_load_filesz", "pt_load_outside"])
def test_header_checks_give_the_host_status(fuzz_pair, what):
    """The ELF header's ABI (e_flags as the linker checks objects), its ELF version (as BFD,
    which refuses any EI_VERSION but EV_CURRENT) and PT_LOAD bounds are checked by both
    loaders alike: lsBadFormat."""
    target, out, d, consoles = fuzz_pair
    host, tl = consoles.host, consoles.tl
    data = bytearray((out / "boss.elf").read_bytes())
    order = "big" if data[5] == 2 else "little"
    word = lambda at: int.from_bytes(data[at:at + 4], order)            # noqa: E731
    put = lambda at, v: data.__setitem__(slice(at, at + 4), v.to_bytes(4, order))  # noqa: E731
    phoff = word(28)
    load = next(phoff + 32 * i for i in range(int.from_bytes(data[44:46], order))
                if word(phoff + 32 * i) == 1)
    if what == "e_flags":
        put(36, {"psx": 0x00001006, "n64": 0x00001006, "segacd": 0x00000008,
                 "gba": 0x09000000, "3do": 0x09000000}[target])
    elif what == "ei_version":
        data[6] = 2
    elif what == "pt_load_past_eof":
        put(load + 16, len(data))
    elif what == "pt_load_tail":      # file bytes past the end, within p_memsz
        assert word(load + 20) >= 8
        put(load + 4, len(data) - 4)
        put(load + 16, 8)
    elif what == "pt_load_filesz":
        put(load + 16, word(load + 20) + 4)
    else:
        put(load + 8, 0x7FFF0000)
    (d / "victim.elf").write_bytes(bytes(data))
    _lm, status = host_load(host, "victim")
    assert status == TLoadStatus.lsBadFormat
    assert tl.load_module("victim") == (0, TLoadStatus.lsBadFormat)
    same_modules(host, tl)


# --- the instruction cache ------------------------------------------------------------------

@pytest.mark.parametrize("target", ["psx", "n64"])
def test_code_not_synced_is_a_stale_instruction_cache_fault(tmp_path, target):
    src = tmp_path / "mod.c"
    src.write_text("int answer(void) { return 42; }\n")
    kernel_c = tmp_path / "kernel.c"
    kernel_c.write_text("void _start(void) {}\n"
                        "void forgetful_sync(void *addr, unsigned long size) { (void)addr; "
                        "(void)size; }\n")
    for args in (["module", "-t", target, "-o", tmp_path / "mod.elf", src],
                 ["resident", "-t", target, "-o", tmp_path / "kernel.elf", "--runtime", "target",
                  "--keep", "forgetful_sync", kernel_c]):
        proc = run_gamevm(*args)
        assert proc.returncode == 0, proc.stderr
    resident = read_resident(tmp_path / "kernel.elf", target)
    for sync, ok in ((0, True), (resident.symbols["forgetful_sync"], False)):
        m = Machine(target)
        m.load_elf(tmp_path / "kernel.elf")
        tl = TargetLoader(m, DirectoryReader([tmp_path]), default_regions(m, resident),
                          resident=resident, sync_code=sync)
        handle, status = tl.load_module("mod")
        assert status == TLoadStatus.lsSuccess
        fn = tl.get_proc(handle, "answer")
        if ok:
            assert m.call(fn) == 42
            assert tl.sync_calls and tl.sync_calls[-1][0] <= fn
            continue
        with pytest.raises(EmulationError) as err:
            m.call(fn)
        assert "stale instruction cache: module 'mod'" in str(err.value)
        assert "GameVMSyncCode" in str(err.value)


#: syncs an N64 game may give the runtime (TGameVMConfig.sync_code) and whether the code
#: they cover may run: what counts is the CACHE operations they execute
N64_SYNCS = {
    "by_lines": True,            # libultra: write back each data line, invalidate each I line
    "whole_caches": True,        # by index, every line of both caches (large ranges)
    "no_write_back": False,      # the new code stays in the data cache
    "every_other_line": False,   # instruction lines of 64 bytes: half stay stale
    "discarding": False,         # Hit_Invalidate on the data lines: the code is lost
    "data_twice": False,         # both passes over the data cache
}
N64_SYNCS_C = r"""
#define LINES(op, step, a, n) do { unsigned p_, e_ = (unsigned)(a) + (n); \
    for (p_ = (unsigned)(a) & ~(step - 1u); p_ < e_; p_ += step) \
        __asm__ __volatile__("cache %0, 0(%1)" : : "i"(op), "r"(p_) : "memory"); } while (0)
void by_lines(void *a, unsigned long n) { LINES(0x19, 16, a, n); LINES(0x10, 32, a, n); }
void no_write_back(void *a, unsigned long n) { LINES(0x10, 32, a, n); }
void every_other_line(void *a, unsigned long n) { LINES(0x19, 16, a, n); LINES(0x10, 64, a, n); }
void discarding(void *a, unsigned long n) { LINES(0x11, 16, a, n); LINES(0x10, 32, a, n); }
void data_twice(void *a, unsigned long n) { LINES(0x19, 16, a, n); LINES(0x15, 32, a, n); }
void whole_caches(void *a, unsigned long n)
{
    unsigned i;
    (void)a, (void)n;
    for (i = 0; i < 8192; i += 16)
        __asm__ __volatile__("cache 0x01, 0(%0)" : : "r"(0x80000000u + i) : "memory");
    for (i = 0; i < 16384; i += 32)
        __asm__ __volatile__("cache 0x00, 0(%0)" : : "r"(0x80000000u + i) : "memory");
}
"""


@pytest.mark.parametrize("target", ["n64"])
def test_n64_code_runs_once_cache_instructions_made_it_visible(tmp_path, target):
    """The emulated N64 follows the CACHE instructions the resident executes (unicorn runs
    them as no-ops): a module's code runs once each of its 16-byte data lines was written
    back (Hit_Write_Back, Hit_Write_Back_Invalidate or Index_Write_Back_Invalidate) and
    each 32-byte instruction line invalidated (Hit_Invalidate or Index_Invalidate), by
    line or by index over the whole caches.  A sync that writes nothing back, skips every
    other instruction line, discards the data lines (Hit_Invalidate) or never touches the
    instruction cache leaves a stale instruction cache fault, as the console would run
    stale instructions.  (Calling GameVMSyncCode is not what counts: what it does is.)"""
    kernel = build_modules(tmp_path, target, {"mod": "int answer(void) { return 42; }\n" + "".join(
        f"int pad{i}(int x) {{ return x * {i + 3} + {i}; }}\n" for i in range(24))},
        N64_SYNCS_C, keep=list(N64_SYNCS))
    resident = read_resident(kernel, target)
    for name, runs in N64_SYNCS.items():
        m = Machine(target)
        m.load_elf(tmp_path / "kernel.elf")
        tl = TargetLoader(m, DirectoryReader([tmp_path]), default_regions(m, resident),
                          resident=resident, sync_code=resident.symbols[name])
        handle, status = tl.load_module("mod")
        assert status == TLoadStatus.lsSuccess
        lm = tl.loaded[next(iter(tl.loaded))]
        assert lm.code_size > 64, lm.code_size
        fn = tl.get_proc(handle, "answer")
        if runs:
            assert m.call(fn) == 42, name
            continue
        with pytest.raises(EmulationError) as err:
            m.call(fn)
        assert "stale instruction cache: module 'mod'" in str(err.value), name


@pytest.mark.parametrize("target", ["n64"])
def test_n64_runtime_syncs_every_line_of_a_large_module(tmp_path, target):
    """The runtime's own GameVMSyncCode, followed by the emulated N64's caches, on modules
    of over 2 KiB of code (a stride that skips one line in 32 misses one here), at both
    16-byte alignments within a 32-byte instruction line (modules start 16-aligned: the
    assembler aligns .text so), with two sizes: each line is written back and
    invalidated, the first and last partial ones included, so its first and last
    functions run."""
    from gamevm_build.runtime.allocator import Region
    asm = (".text\\n.set noreorder\\n.globl answer\\nanswer:\\njr $ra\\nli $v0, 42\\n"
           ".rept {}\\nnop\\n.endr\\n.globl last\\nlast:\\njr $ra\\nli $v0, 7\\n")
    kernel = build_modules(tmp_path, target, {name: f'__asm__("{asm.format(nops)}");\n'
                                              for name, nops in (("big", 512), ("bigger", 516))})
    resident = read_resident(kernel, target)
    for name in ("big", "bigger"):
        for offset in (0, 16):
            m = Machine(target)
            m.load_elf(tmp_path / "kernel.elf")
            heap = default_regions(m, resident)[0]
            start = (heap.start + 31) // 32 * 32 + offset
            tl = TargetLoader(m, DirectoryReader([tmp_path]),
                              [Region("heap", start, heap.size - 64)], resident=resident)
            handle, status = tl.load_module(name)
            assert status == TLoadStatus.lsSuccess
            lm = tl.loaded[next(iter(tl.loaded))]
            assert lm.code_size > 2048 and lm.base % 32 == offset, (lm.code_size, lm.base)
            assert m.call(tl.get_proc(handle, "answer")) == 42, (name, offset)
            assert m.call(tl.get_proc(handle, "last")) == 7, (name, offset)


@pytest.mark.parametrize("target", ["n64"])
def test_n64_gamevmsynccode_makes_any_byte_range_visible(tmp_path, target):
    """GameVMSyncCode is the game's too (code it generates or patches itself): called on
    the emulated N64 with ranges starting at any byte of a 32-byte line and of any length
    (1 byte, around a data or instruction line, 1000 and 2100 bytes), it writes back and
    invalidates every line the range touches, as the cache model follows its CACHE
    instructions, and no line next to it."""
    from gamevm_build.emu.vr4300cache import D_LINE, I_LINE
    kernel = build_modules(tmp_path, target, {})
    resident = read_resident(kernel, target)
    m = Machine(target)
    m.load_elf(tmp_path / "kernel.elf")
    tl = TargetLoader(m, DirectoryReader([tmp_path]), default_regions(m, resident),
                      resident=resident)
    caches = tl._caches
    base = (tl.regions[0].start + 0xFFF) & ~0xFFF
    missed = []
    for offset in (0, 1, 4, 8, 12, 15, 16, 20, 28, 31):
        for size in (1, 4, 8, 15, 16, 17, 31, 32, 33, 1000, 2100):
            addr = base + offset
            caches.written(base - 64, size + offset + 128)   # the range and lines around it
            tl.sync_code(addr, size)
            if caches.pending(addr, size):
                missed.append((offset, size))
            end = addr + size                                 # the lines next to it stay
            assert caches.line_state((addr & -D_LINE) - 1)[0], (offset, size)
            assert caches.line_state((addr & -I_LINE) - 1)[1], (offset, size)
            assert caches.line_state(-(-end // D_LINE) * D_LINE)[0], (offset, size)
            assert caches.line_state(-(-end // I_LINE) * I_LINE)[1], (offset, size)
    assert not missed, f"lines left stale (offset, size): {missed}"


def test_consoles_without_caches_need_no_sync():
    from gamevm_build.project.profile import load_profile
    assert {t: load_profile(t).code_sync for t in ALL_TARGETS} == {
        "psx": "psx-bios", "n64": "vr4300", "segacd": "", "gba": "", "3do": ""}


# --- the cost model the analyzer charges is measured from this runtime -----------------------

def test_measured_costs_are_of_this_runtime():
    from gamevm_build.runtime.loadcost import measured_costs
    from gamevm_build.runtime.build import runtime_sha256
    doc = measured_costs()
    assert doc["runtime_sha256"] == runtime_sha256(), (
        "the console-side runtime changed since its costs were measured: run "
        "python bench/measure_runtime_costs.py --write")
    assert set(doc["targets"]) == set(ALL_TARGETS)


def test_the_model_covers_every_example_load(built):
    """What the analyzer charges for a module's CPU time is at least what the runtime
    executes to load it on the console's CPU, and not far above (measured / model 0.83
    to 0.97 on the five consoles, docs/runtime-c.md "What it costs"; the Sega CD's reader
    copy charged in 68000 clock cycles once made its loads 0.67)."""
    from gamevm_build.runtime.target import measure_load
    target, out, _kernel = built
    kernel = target_resident(out, target, [out / f"{m}.elf" for m in MODULES], shipping=True)
    for name in ("physics", "level1", "boss"):
        measured, model, _mod = measure_load(target, kernel, out, name)
        assert measured <= model, f"{target} {name}: measured {measured} > model {model:.0f}"
        assert model <= 1.25 * measured, f"{target} {name}: model {model:.0f} loose"


#: a request by path: the runtime reads all of it again for each entry of the needs table
DEEP = "".join(f"level{i}/" for i in range(24))


@pytest.mark.parametrize("target, where", [(t, "") for t in ALL_TARGETS] + [("psx", DEEP)])
def test_a_load_among_other_modules_costs_what_the_model_charges(tmp_path, target, where):
    """A module that needs seven others and imports 16 functions from the last of them:
    the runtime looks each need up among the loaded modules and searches each import in
    the resident's table, then in every loaded module's exports in load order; it walks
    the needs table registered (the console registers its files' needs: 13 entries, six
    of modules that are not loaded).  What it
    executes stays within what the model charges, and not far below.  The model once
    charged one binary search of all the symbols per import and nothing per need: the
    runtime executed 1.53-1.67x that here (0.95x with the provider alone).  Requested by
    a path 40 bytes long, the load reads it again for each entry of the needs table: the
    reference loader charges the request it is given (it charged the name's length)."""
    from gamevm_build.runtime.target import measure_load
    libs = {f"lib{k}": "".join(f"int lib{k}_f{i}(int x) {{ return x + {i}; }}\n"
                               for i in range(32)) for k in range(6)}
    libs["prov"] = "".join(f"int prov_f{i}(int x) {{ return x * {i}; }}\n" for i in range(32))
    kernel = build_modules(tmp_path, target, libs, "int k_base(int x) { return x; }\n",
                           keep=["k_base"], shipping=True)
    names = [f"prov_f{i}" for i in range(16)]
    (tmp_path / "use.c").write_text("".join(f"int {n}(int);\n" for n in names)
                                    + "int (*const uses[])(int) = {" + ", ".join(names) + "};\n")
    proc = run_gamevm("module", "-t", target, "-o", tmp_path / "use.elf", "--needs",
                      *[str(tmp_path / f"{n}.elf") for n in libs], tmp_path / "use.c")
    assert proc.returncode == 0, proc.stderr
    if where:                                       # the same file, further down
        (tmp_path / where).mkdir(parents=True)
        shutil.copy(tmp_path / "use.elf", tmp_path / where / "use.elf")
    for i in range(6):          # not loaded: their needs are entries of the table registered
        (tmp_path / f"user{i}.c").write_text(f"int user{i}(void) {{ return {i}; }}\n")
        proc = run_gamevm("module", "-t", target, "-o", tmp_path / f"user{i}.elf", "--needs",
                          tmp_path / "prov.elf", tmp_path / f"user{i}.c")
        assert proc.returncode == 0, proc.stderr
    measured, model, mod = measure_load(target, kernel, tmp_path, f"{where}use.elf")
    assert mod.needs == list(libs)
    assert measured <= model, f"measured {measured} > model {model:.0f}"
    assert model <= 1.3 * measured, f"model {model:.0f} loose"


def test_a_load_takes_the_time_the_analyzer_charges(built):
    """The emulated media device times the runtime's reads with the console's drive model:
    the runtime reads each file front to back, so its media time is the analyzer's one
    read of the file, and with the CPU time the load stays within the analyzer's charge."""
    from gamevm_build.play.console import Console
    from gamevm_build.runtime.loadtime import Drive, cpu_steps
    target, out, kernel = built
    names = ("physics", "level1", "boss")
    positions = {n: 1000 + 40 * i for i, n in enumerate(names)}
    for name in names:
        c = Console(target, kernel, search_paths=[out], loader="target")
        c.loader.timer.positions.update(positions)
        mod = read_module(out / f"{name}.elf")
        for need in mod.needs:
            c.load(need)
        c.loader.timer.drive.head = None                      # unknown, as the analyzer assumes
        _handle, status = c.loader.load_module(name)
        assert status == TLoadStatus.lsSuccess
        t = c.loader.load_times[-1]
        offsets = [off for path, off, _n in t["reads"] if path.endswith(f"{name}.elf")]
        assert offsets[0] == 0 and offsets == sorted(offsets)       # front to back
        model = c.loader.timer.model
        media = Drive(model, "paused").read(name, positions[name], mod.file_size, at_s=0.0,
                                            first=True).media_s
        symbols = len(c.resident.symbols) + sum(len(x.symbols) for x in c.loader.loaded.values())
        cpu = sum(cpu_steps(c.loader.timer.costs, mod, symbols=symbols,
                            eager_imports=len(mod.imports)).values())
        observed = t["end_s"] - t["start_s"]
        # one stream: no more than one read of the file (a cartridge bus moves bytes, so
        # padding the runtime skips at the end costs nothing)
        assert 0.98 * media <= t["media_s"] <= media * (1 + 1e-9)
        assert observed <= media + cpu + 1e-12, f"{target} {name}"
        assert media + cpu <= 1.3 * observed, f"{target} {name}: the charge is loose"


@pytest.mark.parametrize("target", ALL_TARGETS)
def test_safe_mode_refuses_to_unload_a_running_module(tmp_path, target):
    """A module asking to unload itself is running (the call's return address is in it):
    both loaders refuse with lsModuleInUse and change nothing; from outside it goes."""
    src = tmp_path / "selfish.c"
    src.write_text('#include "gamevm.h"\n'
                   "int drop_me(TModuleHandle h) { return (int)UnloadModule(h) + 100; }\n")
    kernel_c = tmp_path / "kernel.c"
    kernel_c.write_text("void _start(void) {}\n")
    for runtime in ("host", "target"):
        for args in (["module", "-t", target, "-o", tmp_path / "selfish.elf", src],
                     ["resident", "-t", target, "-o", tmp_path / f"kernel-{runtime}.elf",
                      "--runtime", runtime, "--modules", tmp_path / "selfish.elf", kernel_c]):
            proc = run_gamevm(*args)
            assert proc.returncode == 0, proc.stderr
    from gamevm_build.play.console import Console
    for runtime in ("host", "target"):
        c = Console(target, tmp_path / f"kernel-{runtime}.elf", search_paths=[tmp_path])
        assert c.loader_kind == runtime
        lm = c.load("selfish")
        assert c.call(lm.symbols["drop_me"], lm.handle) == 100 + TLoadStatus.lsModuleInUse
        assert c.loader.by_name("selfish") is not None             # nothing changed
        c.loader.unload(lm.handle)                                  # from the host: it goes
        assert c.loader.by_name("selfish") is None


def overlay_console(target: str, search: Path, runtime: str, module: Path, placed, *,
                    double: bool = False):
    """A console of ``runtime`` ("host" or "target"), its resident linked from
    ``search/kernel.c`` for ``module`` (``k-RUNTIME.elf``), whose RAM after the resident
    is Main and, at its top, the 8 KiB overlay Ovl (with ``double``, Ovl and OvlB, a
    double buffer, declared OvlB, Ovl, Main: the first region may be paired too, and the
    half a load goes to may be region 0); the modules ``placed`` names are placed in Ovl."""
    from types import SimpleNamespace

    from gamevm_build.play.console import Console
    kernel = search / f"k-{runtime}.elf"
    proc = run_gamevm("resident", "-t", target, "-o", kernel, "--runtime", runtime,
                      "--modules", module, search / "kernel.c")
    assert proc.returncode == 0, proc.stderr
    m = Machine(target)
    m.load_elf(kernel)
    heap = default_regions(m, read_resident(kernel, target))[0]
    size, top = 0x2000, heap.end - 0x4000
    regions = [SimpleNamespace(name="Main", start=heap.start, capacity=top - heap.start,
                               overlay=False, pair=None),
               SimpleNamespace(name="Ovl", start=top, capacity=size, overlay=True,
                               pair="OvlB" if double else None)]
    if double:
        regions = [SimpleNamespace(name="OvlB", start=top + size, capacity=size,
                                   overlay=True, pair="Ovl"), regions[1], regions[0]]
    c = Console(target, kernel, search_paths=[search], regions=regions, loader=runtime)
    for module in placed:
        if runtime == "host":
            c.loader.placement[module] = "Ovl"
        else:
            c.loader.place(module, "Ovl")
    return c


@pytest.mark.parametrize("target", ALL_TARGETS)
def test_double_buffering_like_the_host(tmp_path, target):
    """An overlay's occupant that is running asks for a module placed in its region: it
    goes to the other half of the double buffer; once nothing runs, a load evicts."""
    sources = {
        "roomer": "extern void *k_load_other(const char *);\n"       # not a tail call
                  "int roomer_loads(const char *n) { return 2 * (int)k_load_other(n) + 1; }\n",
        "other": "int other_f(void) { return 99; }\n",
        "prov": "int prov_f(int x) { return x + 7; }\n"}
    for name, text in sources.items():
        (tmp_path / f"{name}.c").write_text(text)
        proc = run_gamevm("module", "-t", target, "-o", tmp_path / f"{name}.elf",
                          tmp_path / f"{name}.c")
        assert proc.returncode == 0, proc.stderr
    (tmp_path / "kernel.c").write_text(
        '#include "gamevm.h"\nvoid _start(void) {}\n'
        "TModuleHandle k_load_other(const char *n) { return LoadModule(n); }\n")
    outcome = {}
    for runtime in ("host", "target"):
        c = overlay_console(target, tmp_path, runtime, tmp_path / "roomer.elf", sources,
                            double=True)
        roomer = c.load("roomer")
        handle = c.call(roomer.symbols["roomer_loads"], c.machine.alloc_string("other")) // 2
        assert handle
        where = {x.name: (x.base, x.region.name) for x in c.loader.loaded.values()}
        c.load("prov")                       # nothing runs now: evicts Ovl's occupant
        after = {x.name: (x.base, x.region.name) for x in c.loader.loaded.values()}
        outcome[runtime] = (where, after)
    where, after = outcome["target"]
    assert where["other"][1] == "OvlB" and where["roomer"][1] == "Ovl"
    assert after["prov"][1] == "Ovl" and "roomer" not in after
    assert outcome["host"] == outcome["target"]


@pytest.mark.parametrize("target", ALL_TARGETS)
def test_the_projects_needs_are_loaded_first_like_the_host(tmp_path, target):
    """A module whose file does not declare what it needs (the project configuration's
    modules.NAME.needs does): both loaders load the need first and hold it."""
    for name, text in (("b", "int b_f(int x) { return x + 1; }\n"),
                       ("a", "extern int b_f(int);\nint a_f(int x) { return b_f(x) * 2; }\n")):
        (tmp_path / f"{name}.c").write_text(text)
        proc = run_gamevm("module", "-t", target, "-o", tmp_path / f"{name}.elf",
                          tmp_path / f"{name}.c")
        assert proc.returncode == 0, proc.stderr
    (tmp_path / "kernel.c").write_text("void _start(void) {}\n")
    proc = run_gamevm("resident", "-t", target, "-o", tmp_path / "kernel.elf", "--runtime",
                      "target", tmp_path / "kernel.c")
    assert proc.returncode == 0, proc.stderr
    kernel = tmp_path / "kernel.elf"
    resident = read_resident(kernel, target)
    host_m, target_m = Machine(target), Machine(target)
    for m in (host_m, target_m):
        m.load_elf(kernel)
    host = Loader(host_m, resident, DirectoryReader([tmp_path]), extra_needs={"a": ["b"]})
    tl = TargetLoader(target_m, DirectoryReader([tmp_path]),
                      default_regions(target_m, resident), resident=resident,
                      extra_needs={"a": ["b"]})
    lm, status = host_load(host, "a")
    handle, t_status = tl.load_module("a")
    assert status == t_status == TLoadStatus.lsSuccess
    same_modules(host, tl)
    assert {m.name for m in tl.loaded.values()} == {"a", "b"}
    assert target_m.call(tl.get_proc(handle, "a_f"), 20) == 42
    host.unload(lm.handle)
    assert tl.unload_module(handle) == TLoadStatus.lsSuccess
    assert not tl.loaded and not host.loaded                  # the need went with it


# --- asynchronous loads: LoadModuleAsync, GameVMFrame, GameVMImport ---------------------------

def frames_until_done(tl, rec, *, limit: int = 2000) -> list[float]:
    """Step the runtime's frame loop (GameVMFrame once per frame, the clock at each frame's
    start) until request ``rec`` completed; the simulated seconds each frame's call took."""
    clock = tl.timer.clock
    spans = []
    while rec["frame_completed"] is None:
        assert len(spans) < limit, f"{rec['request']} still pending after {limit} frames"
        k, before = clock.frame, clock.now_s
        tl.frame()
        spans.append(clock.now_s - before)
        clock.now_s = max(clock.now_s, clock.frame_start(k + 1))
        clock.snap()
    return spans


def frames_until_writing(tl, rec, module: str) -> None:
    """Step the runtime's frame loop until the asynchronous request ``rec`` started
    writing ``module`` into its place (the request still pending)."""
    clock = tl.timer.clock
    while not any(e["event"] == "writing" and e["module"] == module for e in tl.events):
        assert rec["frame_completed"] is None, (rec["status"], tl.events)
        tl.frame()
        clock.now_s = clock.frame_start(clock.frame + 1)


def observe_calls(tl, function: str) -> list[tuple[int, int]]:
    """Use resident function ``function`` as a callback target: record its two arguments
    and return at once (the function itself does not run)."""
    from gamevm_build.runtime.target import entry_args, return_now
    calls = []

    def hit(machine):
        calls.append(tuple(entry_args(machine, 2)))
        return_now(machine)
    tl.machine.breakpoint(tl.symbols[function], hit)
    return calls


@pytest.mark.parametrize("name", ["level1", "boss"])
def test_an_async_load_places_what_the_host_loader_places(built, name):
    """LoadModuleAsync reads while the game runs: every GameVMFrame returns within a frame
    (no frame waits for the drive), the load completes in a later frame, and RAM holds the
    same bytes at the same places as the reference loader's load of the module and its
    needs; the callback gets the handle and lsSuccess.  GameVMAsyncStatus says lsPending
    for the request until then, and lsInvalidHandle meanwhile for an id no request has."""
    target, out, kernel = built
    host, tl = pair(target, kernel, out)
    calls = observe_calls(tl, "LoadModule")
    rec = tl.load_async(name, callback=tl.symbols["LoadModule"])
    assert tl.async_status(rec["id"]) == TLoadStatus.lsPending
    # while it is queued, an id no request has is still unknown (GameVMAsyncStatus:lcr_1)
    assert tl.async_status(rec["id"] + 1) == tl.async_status(0) == TLoadStatus.lsInvalidHandle
    spans = frames_until_done(tl, rec)
    frame_s = 1.0 / tl.timer.clock.frame_rate
    assert len(spans) > 2 and max(spans) < frame_s, spans
    assert rec["status"] == "lsSuccess" and tl.async_status(rec["id"]) == TLoadStatus.lsSuccess
    host_load(host, name)
    same_modules(host, tl)
    (handle, status), = calls
    assert status == TLoadStatus.lsSuccess
    assert tl.handle_base(handle) == tl.by_name(name).base
    assert tl.unload_module(handle) == TLoadStatus.lsSuccess
    # every file was read front to back, each byte once
    for path in {p for p, _o, _n in rec["reads"]}:
        pieces = sorted((o, n) for p, o, n in rec["reads"] if p == path)
        assert all(a + n <= b for (a, n), (b, _m) in zip(pieces, pieces[1:])), pieces


def test_async_failures_report_the_host_status_and_leave_nothing(built, tmp_path):
    """A request whose module or need is missing, or foreign, completes with the reference
    loader's status, its callback gets (0, status), and nothing it placed stays."""
    target, out, kernel = built
    (tmp_path / "needsmissing.elf").write_bytes((out / "level1.elf").read_bytes())
    (tmp_path / "boss.elf").write_bytes((out / "boss.elf").read_bytes())
    host, tl = pair(target, kernel, tmp_path)
    calls = observe_calls(tl, "LoadModule")
    for name in ("nothing_here", "needsmissing"):
        want = host_load(host, name)[1]
        assert want != TLoadStatus.lsSuccess
        rec = tl.load_async(name, callback=tl.symbols["LoadModule"])
        frames_until_done(tl, rec)
        assert rec["status"] == want.name and calls[-1] == (0, want)
        assert not tl.loaded
    assert tl.async_status(12345) == TLoadStatus.lsInvalidHandle


def test_requests_queue_and_sync_loads_go_on_meanwhile(built):
    """Requests complete in order.  While one is in flight a synchronous LoadModule works;
    a module loaded meanwhile is what a request completes with; a request for a module
    already loaded completes at the next frame."""
    target, out, kernel = built
    host, tl = pair(target, kernel, out)
    first = tl.load_async("level1")
    second = tl.load_async("boss")
    assert tl.load_module("boss")[1] == TLoadStatus.lsSuccess     # second finds it loaded
    frames_until_done(tl, second)
    assert first["frame_completed"] <= second["frame_completed"]
    assert first["status"] == second["status"] == "lsSuccess"
    again = tl.load_async("boss")
    tl.frame()
    assert again["status"] == "lsSuccess" and again["frame_completed"] == again["frame_requested"]
    for name in ("boss", "level1"):
        host_load(host, name)
    same_modules(host, tl)


def test_a_module_being_written_is_pending_for_a_sync_load(built, tmp_path):
    """A module whose image an asynchronous load is still reading has no handle yet: a
    synchronous LoadModule of it says lsPending and changes nothing.  (A work area too
    small for level1's whole file makes the runtime read its image where it goes: the
    plain form, whose relocations are used where the first read put them; a packed one
    needs room to decode them.)"""
    from gamevm_build.link.shipform import convert
    target, out, kernel = built
    plain = tmp_path / "plain"
    plain.mkdir()
    for name in ("physics", "level1"):
        (plain / f"{name}.elf").write_bytes(convert((out / f"{name}.elf").read_bytes(), "plain"))
    out = plain
    host, tl = pair(target, kernel, out, work_size=0x1000)
    assert tl.load_module("physics")[1] == TLoadStatus.lsSuccess
    rec = tl.load_async("level1")
    frames_until_writing(tl, rec, "level1")
    assert tl.by_name("level1") is None and rec["frame_completed"] is None
    assert tl.load_module("level1") == (0, TLoadStatus.lsPending)
    frames_until_done(tl, rec)
    assert rec["status"] == "lsSuccess"
    for name in ("physics", "level1"):
        host_load(host, name)
    same_modules(host, tl)


def test_gamevm_import_finds_the_module_by_another_spelling(built, tmp_path):
    """GameVMImport("fx.boss") loads the file fx_boss (seed §9.2 dispatch), as the host's
    dispatch does."""
    target, out, kernel = built
    (tmp_path / "fx_boss.elf").write_bytes((out / "boss.elf").read_bytes())
    (tmp_path / "physics.elf").write_bytes((out / "physics.elf").read_bytes())
    host, tl = pair(target, kernel, tmp_path)
    rec = tl.load_async("fx.boss", import_=True)
    frames_until_done(tl, rec)
    assert rec["status"] == "lsSuccess" and tl.by_name("boss") is not None
    assert any(p.endswith("fx_boss.elf") for p, _o, _n in rec["reads"])
    missing = tl.load_async("no.such", import_=True)
    frames_until_done(tl, missing)
    assert missing["status"] == "lsFileNotFound"


def test_an_async_load_completes_within_the_analyzers_frames(built):
    """With the disc layout's positions, an asynchronous load on the runtime completes no
    later than the frame the analyzer's stream model predicts (media frames + CPU slices:
    the host's reference schedule).  The runtime does a module's CPU work in the frame its
    read completes (not in slices yet), so on cartridge consoles it finishes earlier."""
    import json
    from gamevm_build.play.console import Console
    target, out, kernel = built
    layout = json.loads((out / "layout.json").read_text())
    positions = {f["module"]: f["lba"] for f in layout["files"] if f.get("module")}
    for name in ("physics", "level1", "boss"):
        frames = {}
        for loader in ("host", "target"):
            c = Console(target, kernel, search_paths=[out], loader=loader)
            c.loader.timer.positions.update(positions)
            job = c.load_async(name)
            c.wait()
            if loader == "host":
                frames[loader] = c.async_.predicted_frames(job)
            else:
                rec = c.loader.async_loads[-1]
                assert rec["status"] == "lsSuccess"
                frames[loader] = rec["frame_completed"] - rec["frame_requested"]
        assert frames["target"] <= frames["host"], f"{target} {name}: {frames}"
        if target in ("psx", "segacd", "3do"):
            assert frames["host"] <= 1.15 * frames["target"], f"{target} {name}: {frames}"


@pytest.mark.parametrize("target", ALL_TARGETS)
def test_the_example_kernel_streams_a_module_while_its_frames_go_on(example_game, target):
    """examples/game/kernel/loader.c: kernel_stream asks for boss in the background and
    the frame loop's kernel_frame (GameVMFrame) never takes a frame; the callback gets
    boss, which then runs."""
    from gamevm_build.play.console import Console
    out = example_game(target)
    c = Console(target, out / "kernel.elf", search_paths=[out])
    assert isinstance(c.loader, TargetLoader)
    clock, m = c.clock, c.machine
    m.reset_scratch()
    assert c.call("kernel_stream", m.alloc_string("boss")) != 0
    frames = 0
    while c.call("kernel_stream_status") == TLoadStatus.lsPending:
        k, before = clock.frame, clock.now_s
        c.call("kernel_frame")
        assert clock.now_s - before < 1.0 / clock.frame_rate
        clock.now_s = clock.frame_start(k + 1)
        frames += 1
        assert frames < 1000, "boss still pending"
    assert c.call("kernel_stream_status") == TLoadStatus.lsSuccess and frames > 1
    boss = c.loader.by_name("boss")
    assert c.loader.handle_base(c.call("kernel_streamed")) == boss.base
    assert c.call(boss.symbols["gamevm_selftest"]) == 0


# --- lazy binding and stale bindings: the same stubs as the reference loader ------------------

def same_stubs(host: Loader, tl: TargetLoader) -> None:
    """The runtime's stub table (gvm_stub_area) holds the same bytes on both consoles, and
    the reference loader used it (not a stub area of its own)."""
    base, size = tl.symbols["gvm_stub_area"], tl.resident.sizes["gvm_stub_area"]
    assert size > 0
    if host.stubs is not None:
        assert (host.stubs.base, host.stubs.size) == (base, size)
    assert host.machine.read(base, size) == tl.machine.read(base, size)


def build_modules(tmp_path: Path, target: str, sources: dict, kernel_c: str = "",
                  keep=(), shipping=False) -> Path:
    """Modules from C ``sources`` and a resident with the runtime (``kernel_c`` and the
    functions it defines that ``keep`` names; ``shipping``: as :func:`target_resident`'s)."""
    for name, text in sources.items():
        (tmp_path / f"{name}.c").write_text(text)
        proc = run_gamevm("module", "-t", target, "-o", tmp_path / f"{name}.elf",
                          tmp_path / f"{name}.c")
        assert proc.returncode == 0, proc.stderr
    (tmp_path / "kernel.c").write_text("void _start(void) {}\n" + kernel_c)
    proc = run_gamevm("resident", "-t", target, "-o", tmp_path / "kernel.elf", "--runtime",
                      "target", *[a for k in keep for a in ("--keep", k)], tmp_path / "kernel.c",
                      shipping=shipping)
    assert proc.returncode == 0, proc.stderr
    return tmp_path / "kernel.elf"


def fault_of(machine, addr: int, *args: int) -> str:
    with pytest.raises(EmulationError) as err:
        machine.call(addr, *args)
    return str(err.value)


@pytest.mark.parametrize("name", ["level1", "boss"])
def test_lazy_loads_leave_the_same_ram_before_and_after_the_first_calls(built, name):
    """LoadModuleFlags(name, GVM_LOAD_LAZY): the module and its needs load with their called
    functions pointing at the runtime's stubs, the same slots and bytes as the reference
    loader's; the self tests' first calls bind them (every call site patched, the stubs
    freed) alike, and later calls are direct."""
    from gamevm_build.runtime.target import LOAD_LAZY
    target, out, kernel = built
    host, tl = pair(target, kernel, out)
    lm = host.load(name, needs=True, lazy=True)
    handle, status = tl.load_module(name, LOAD_LAZY)
    assert status == TLoadStatus.lsSuccess
    same_modules(host, tl)
    same_stubs(host, tl)
    lazy = {m.name: dict(m.lazy) for m in host.loaded.values()}
    assert any(lazy.values()) == (target in ("psx", "n64")), lazy   # jal imports: MIPS only
    for m in tl.loaded.values():
        if "gamevm_selftest" in m.symbols:
            assert tl.machine.call(m.symbols["gamevm_selftest"]) == 0, m.name
            assert host.machine.call(m.symbols["gamevm_selftest"]) == 0, m.name
    same_modules(host, tl)
    same_stubs(host, tl)
    if target in ("psx", "n64"):
        assert {m.name: dict(m.lazy) for m in host.loaded.values()} != lazy   # some bound
        assert host.events and any(e["event"] == "lazy-bind" for e in host.events)
        # the runtime made the patched calls visible to instruction fetch
        patched = [e for e in tl.events if e["event"] == 5]
        assert patched and all(any(a <= e["base"] and e["base"] + e["size"] <= a + n
                                   for a, n in tl.sync_calls) for e in patched)
    assert tl.unload_module(handle) == TLoadStatus.lsSuccess
    host.unload(lm.handle)
    same_modules(host, tl)


@pytest.mark.parametrize("target", ["psx", "n64"])
def test_a_lazy_import_nobody_provides_fails_at_its_first_call_alike(tmp_path, target):
    """A lazy load does not need its called functions yet (RTLD_LAZY); the first call of
    one nobody provides stops with the reference loader's report.  A lazy load that fails
    (a data import nobody provides) frees its stubs as the reference loader does, so the
    next load's stubs take the same slots."""
    from gamevm_build.runtime.target import LOAD_LAZY
    kernel = build_modules(tmp_path, target, {
        "ghost": "extern int no_such_function(int);\nextern int k_twice(int);\n"
                 "int ghost_ok(int x) { return k_twice(x) + 1; }\n"
                 "int ghost_bad(int x) { return no_such_function(x) + 1; }\n",
        "broken": "extern int k_twice(int);\nextern int k_other(int);\nextern int no_data;\n"
                  "int broken_f(int x) { return k_twice(x) + k_other(x) + no_data; }\n"},
        "int k_twice(int x) { return 2 * x; }\n", keep=["k_twice"])
    resident = read_resident(kernel, target)
    host, tl = pair(target, kernel, tmp_path)
    with pytest.raises(LoadError) as err:
        host.load("broken", lazy=True)
    assert err.value.status == TLoadStatus.lsUndefinedSymbol
    assert tl.load_module("broken", LOAD_LAZY) == (0, TLoadStatus.lsUndefinedSymbol)
    same_stubs(host, tl)
    lm = host.load("ghost", lazy=True)
    handle, status = tl.load_module("ghost", LOAD_LAZY)
    assert status == TLoadStatus.lsSuccess
    assert tl.load_module("ghost")[1] == TLoadStatus.lsSuccess     # a reference more
    host.load("ghost")
    assert resident.symbols["k_twice"]
    same_modules(host, tl)
    same_stubs(host, tl)
    ok, bad = lm.symbols["ghost_ok"], lm.symbols["ghost_bad"]
    assert tl.machine.call(ok, 20) == host.machine.call(ok, 20) == 41
    assert tl.machine.call(ok, 1) == 3                               # direct now
    same_modules(host, tl)
    same_stubs(host, tl)
    reports = [fault_of(m, bad, 1) for m in (host.machine, tl.machine)]
    want = ("lazy binding: module 'ghost' calls 'no_such_function', which neither the "
            "resident nor any loaded module provides")
    assert all(want in r and "undefined symbol at first call" in r for r in reports), reports


STALE_SOURCES = {
    "prov": "int prov_data = 5;\nint prov_f(int x) { return x + 7; }\n",
    "user": "extern int prov_f(int);\nextern int prov_data;\n"
            "int user_call(int x) { return prov_f(x) * 2; }\n"
            "int user_read(void) { return prov_data; }\n",
    "other": "int other_f(void) { return 99; }\n"}


def overlay_regions(machine, resident, overlays: int = 1) -> list:
    """The heap after the resident as Main and, at its top, ``overlays`` overlay regions
    of 8 KiB, 16 KiB apart (``Ovl``, ``Ovl2``...)."""
    from gamevm_build.runtime.allocator import Region
    heap = default_regions(machine, resident)[0]
    top = heap.end - 0x4000 * overlays
    return [Region("Main", heap.start, top - heap.start)] + [
        Region("Ovl" + (str(k + 1) if k else ""), top + 0x4000 * k, 0x2000, "overlay")
        for k in range(overlays)]


def overlay_loaders(tmp_path, target: str, sources: dict, place: dict, *,
                    overlays: int = 1, **target_kw):
    """Both loaders (reference, safe mode; console-side runtime) over the heap and
    ``overlays`` overlay regions of 8 KiB at its top (``Ovl``, ``Ovl2``...), modules built
    from ``sources``, ``place`` as the placements."""
    kernel = build_modules(tmp_path, target, sources)
    return pair(target, kernel, tmp_path, placement=place,
                regions=lambda m, resident: overlay_regions(m, resident, overlays), **target_kw)


@pytest.mark.parametrize("target", ALL_TARGETS)
def test_an_evicted_providers_bindings_go_to_stale_stubs_alike(tmp_path, target):
    """Safe mode: when an overlay's occupant is evicted while another module binds to it,
    both loaders point those bindings at the same stale stub (functions) or unmapped
    address (data), with the same bytes at every site; calling the stale function stops
    with the same report, instead of running what replaced the provider."""
    host, tl = overlay_loaders(tmp_path, target, STALE_SOURCES, {"prov": "Ovl", "other": "Ovl"})
    host_m, target_m = host.machine, tl.machine
    handles = {}
    for name in ("prov", "user"):
        host.load(name)
        handles[name], status = tl.load_module(name)
        assert status == TLoadStatus.lsSuccess
    user = host.by_name("user")
    call, read = user.symbols["user_call"], user.symbols["user_read"]
    assert host_m.call(call, 1) == target_m.call(call, 1) == 16
    host.load("other")                                   # evicts prov
    assert tl.load_module("other")[1] == TLoadStatus.lsSuccess
    assert tl.by_name("prov") is None and host.by_name("prov") is None
    same_modules(host, tl)
    same_stubs(host, tl)
    assert user.stubbed["prov_f"][1] != 0 and host.stubs.contains(user.stubbed["prov_f"][1])
    reports = [fault_of(m, call, 1) for m in (host_m, target_m)]
    want = ("call to unloaded module 'prov' symbol 'prov_f'",
            "through a binding of module 'user', stubbed when 'prov' was freed")
    assert all(w in r for w in want for r in reports), reports
    reports = [fault_of(m, read) for m in (host_m, target_m)]
    assert all("0x7f000000" in r for r in reports), reports
    # the holder goes: its stale stub is free again, for the next stub alike
    host.unload(user.handle)
    assert tl.unload_module(handles["user"]) == TLoadStatus.lsSuccess
    assert not host.stubs.slots
    same_stubs(host, tl)


@pytest.mark.parametrize("target", ["psx", "n64"])
def test_a_patched_call_site_not_synced_is_a_stale_instruction_cache_fault(tmp_path, target):
    """The runtime synchronises what a lazy binding patches; a sync that does nothing from
    then on leaves the patched module unexecutable on the emulated psx/n64."""
    from gamevm_build.runtime.target import LOAD_LAZY
    kernel = build_modules(tmp_path, target, {
        "lazy": "extern int k_twice(int);\nint lazy_f(int x) { return k_twice(x) + 1; }\n"},
        "void GameVMSyncCode(void *addr, unsigned long size);\nint k_twice(int x) "
        "{ return 2 * x; }\nstatic int allow = 1;\nvoid stop_sync(void) { allow = 0; }\n"
        "void picky_sync(void *a, unsigned long n) { if (allow) GameVMSyncCode(a, n); }\n",
        keep=["k_twice", "stop_sync", "picky_sync"])
    resident = read_resident(kernel, target)
    m = Machine(target)
    m.load_elf(kernel)
    tl = TargetLoader(m, DirectoryReader([tmp_path]), default_regions(m, resident),
                      resident=resident, sync_code=resident.symbols["picky_sync"])
    handle, status = tl.load_module("lazy", LOAD_LAZY)
    assert status == TLoadStatus.lsSuccess
    fn = tl.get_proc(handle, "lazy_f")
    m.call(resident.symbols["stop_sync"])
    report = fault_of(m, fn, 20)
    assert "stale instruction cache: module 'lazy'" in report, report


@pytest.mark.parametrize("target", ["n64"])
def test_n64_a_cache_operation_where_the_tlb_maps_nothing_faults(tmp_path, target):
    """GameVMSyncCode over kuseg or kseg2, which go through the TLB (here mapping
    nothing), faults as the VR4300's CACHE instruction takes a TLB miss there; over
    kseg1 past RAM it cleans no line and returns, as on the console."""
    kernel = build_modules(tmp_path, target, {})
    resident = read_resident(kernel, target)
    m = Machine(target)
    m.load_elf(kernel)
    tl = TargetLoader(m, DirectoryReader([tmp_path]), default_regions(m, resident),
                      resident=resident)
    tl.sync_code(0xA0000000 + m.profile.main_ram.size, 64)
    for addr in (0x00001000, 0xC0000000):
        with pytest.raises(EmulationError) as err:
            tl.sync_code(addr, 64)
        assert f"cache operation at 0x{addr:08x}" in str(err.value)
        assert "TLB miss" in str(err.value) and "GameVMSyncCode" in str(err.value)


@pytest.mark.parametrize("target", ALL_TARGETS)
def test_a_read_or_write_past_the_runtimes_work_area_or_pool_faults(tmp_path, target):
    """The memory the game gives the runtime ends at a fence on the emulated console
    (docs/runtime-c.md, "Memory it needs"): a module's store or load at the first byte
    past the work area or the pool stops with a fault naming the area, and the store does
    not land; the area's last word is as any memory.  On a console that access would
    reach the game's memory unseen."""
    from gamevm_build.runtime.target import POOL_SIZE, WORK_SIZE
    kernel = build_modules(tmp_path, target, {
        "poke": "int poke(int *p, int v) { *p = v; return v; }\n"
                "int peek(int *p) { return *p; }\n"})
    _host, tl = pair(target, kernel, tmp_path)
    poke = tl.load("poke")
    put, get = poke.symbols["poke"], poke.symbols["peek"]
    for start, size, what in ((tl.work, WORK_SIZE, "work area"), (tl.pool, POOL_SIZE, "pool")):
        assert tl.machine.call(put, start + size - 4, 0x5A) == 0x5A
        assert tl.machine.call(get, start + size - 4) == 0x5A
        label = f"the memory past the runtime's {what} ({size} bytes)"
        fence = tl.machine.read(start + size, 4)
        for fn, access in ((put, "write"), (get, "read")):
            report = fault_of(tl.machine, fn, start + size, 0x5A)
            assert f"{access} of {label}" in report, report
            assert tl.machine.read(start + size, 4) == fence      # the store did not land
