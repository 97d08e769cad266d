"""The reference loader where a fresh mutation sample (bench/mutation.py ``-p loader --seed
2026120501``, docs/testing.md) showed no test looking: the offsets and events it reports,
the status and message of a refused module, the references an unload drops, the stubs a
reload gives back, a hole in a region reused, the constructor time of a target-side load.

Each test names the survivor it was written for: a bug of that shape would have gone
unnoticed.  Real modules built by the cross compilers, run on unicorn; where the console-side
C runtime can be asked the same question (a status), it must give the same answer (the
reference loader is its oracle, docs/runtime-c.md).
"""

from __future__ import annotations

import hashlib
import io
import re
import struct

import pytest
from elftools.elf.elffile import ELFFile

from gamevm_build.emu.machine import Machine
from gamevm_build.link.linker import link_module
from gamevm_build.link.module import read_module
from gamevm_build.link.resident import read_resident
from gamevm_build.link.shipform import convert
from gamevm_build.link.toolchain import find_toolchain
from gamevm_build.play.console import Console
from gamevm_build.runtime import trust
from gamevm_build.runtime.allocator import OutOfMemory, Region
from gamevm_build.runtime.readers import DirectoryReader
from gamevm_build.runtime.reference import Loader, LoaderPolicy, LoadError, TLoadStatus
from test_runtime import built, console, notes, refcounts, with_overlay  # noqa: F401
from test_runtime_c_mutants import _metadata_edited, pair_over
from test_target_runtime import build_modules, pair


@pytest.fixture
def target() -> str:
    """The loader's logic is the same on every console: one is enough here (the
    differential tests cover the others)."""
    return "psx"


# --- what the loader reports -----------------------------------------------------------------

#: two words of code before the module's first symbol: an offset only the module's name
#: and the offset can describe
UNNAMED_HEAD = (
    '__asm__(".text\\n.set noreorder\\n.word 0\\n.word 0\\n'
    '.globl pad_f\\n.type pad_f, @function\\npad_f:\\njr $ra\\nli $v0, 7\\n'
    '.size pad_f, .-pad_f\\n.set reorder\\n");\n')


def test_an_address_before_a_modules_first_symbol_is_named_by_its_offset(built, target,
                                                                          tmp_path):
    """A fault or backtrace address in a module where no symbol starts at or below it reads
    ``module+0xOFFSET``, the offset from the module's base.  Written for the survivor
    LoadedModule.symbolize__mutmut_6 (``addr - self.base`` made ``addr + self.base``)."""
    src = tmp_path / "padmod.c"
    src.write_text(UNNAMED_HEAD)
    link_module(target, [find_toolchain(target).compile(src, tmp_path / "padmod.o")],
                tmp_path / "padmod.elf")
    kernel = built(target)
    c = Console(target, kernel, search_paths=[kernel.parent, tmp_path])
    lm = c.load("padmod")
    assert lm.module.exports["pad_f"].value == 8
    assert c.machine.symbolize(lm.base + 4) == lm.symbolize(lm.base + 4) == "padmod+0x4"
    assert c.machine.symbolize(lm.base + 8) == "padmod:pad_f"
    assert c.call("padmod:pad_f") == 7


def test_a_read_starts_where_its_seek_ends(built, target):
    """A load's timeline: the drive seeks (``access_s``, from the request), then reads the
    file until the step's end; the read phase starts where the seek ends.  Written for the
    survivor Loader.read_items__mutmut_50 (the read phase starting at ``start - access``,
    before the seek)."""
    c = console(built(target), target)
    lm = c.load("other")
    step = lm.timing.media
    assert step.access_s > 0
    (seek, a, b), (read, c_, d) = lm.timing.phases[:2]
    assert (seek, read) == ("seek", "read")
    assert (a, b) == (step.start_s, step.start_s + step.access_s)
    assert (c_, d) == (b, step.end_s)
    assert d - c_ == pytest.approx(step.read_s)
    phases = lm.timing.to_dict()["phases"]
    assert phases[0]["end_ms"] == phases[1]["start_ms"]


def test_a_loads_cpu_phases_follow_its_read_in_order_each_as_long_as_its_steps(built, target):
    """After the read, the CPU phases by name, copy, relocate, bind, one after another,
    each as long as the modelled steps it covers.  Written for the survivors of the
    2026120603 sample, Loader.link_items__mutmut_83, 86, 87 (a phase misnamed) and 93
    (a phase ending before it starts)."""
    c = console(built(target), target)
    lm = c.load("other")
    phases = lm.timing.phases
    assert [p[0] for p in phases] == ["seek", "read", "copy", "relocate", "bind", "init"]
    cpu = lm.timing.cpu
    for (name, start, end), steps in zip(phases[2:], (("fixed", "copy", "zero"),
                                                      ("relocate",), ("bind",))):
        assert end - start == pytest.approx(sum(cpu[s] for s in steps)), name
    assert all(a[2] == b[1] for a, b in zip(phases, phases[1:]))


def test_double_buffering_is_an_event(built, target):
    """A load sent to the other half of a double buffer says so in the loader's events (a
    scenario's report lists them): which module, the half it went to, the half it would
    have evicted.  Written for the survivor Loader._choose_region__mutmut_30 (the event's
    ``event`` key misspelt: the report lost it)."""
    c = console(built(target), target)
    with_overlay(c, pair=True)
    c.loader.placement.update(roomer="Ovl", other="Ovl")
    c.load("roomer")
    assert c.call("roomer:roomer_loads", c.machine.alloc_string("other")) != 1   # 2h + 1
    assert [e for e in c.loader.events if e.get("event") == "double-buffer"] == [
        {"event": "double-buffer", "module": "other", "region": "OvlB", "instead_of": "Ovl"}]


def test_a_target_side_eviction_skips_the_destructors_and_says_so(built, target):
    """Target code loading a module into an overlay region evicts its occupant while the
    CPU runs: the occupant's destructors cannot run then (the CPU is inside the kernel's
    LoadModule), and the loader records that it skipped them.  Written for the survivor
    Loader._free__mutmut_11 (the event's name misspelt)."""
    c = console(built(target), target)
    with_overlay(c)
    c.loader.placement.update(base="Ovl", other="Ovl")
    c.load("base")
    assert c.call("k_load", c.machine.alloc_string("other")) == 1
    assert notes(c) == [1]                         # base's constructor, not its destructor
    assert refcounts(c) == {"other": 1}
    assert [e for e in c.loader.events if e["module"] == "base" and e["event"] != "load"] == [
        {"event": "fini-skipped", "module": "base", "why": "evicted during a target-side load"},
        {"event": "evict", "module": "base", "base": c.loader.events[0]["base"],
         "why": "evicted by 'other' (overlay region Ovl)"}]


def test_a_target_side_eviction_frees_the_needs_only_the_evicted_module_held(built, target):
    """Target code loading into an overlay region evicts its occupant mid while the CPU
    runs; base, which only mid needed, goes with it (no frame points into it), as an
    unload would free it.  Written for the survivor Loader.evict__mutmut_27 (the frames
    into the needed module looked for in no module: the eviction failed mid-way)."""
    c = console(built(target), target)
    with_overlay(c)
    c.loader.placement.update(mid="Ovl", other="Ovl")
    c.load("mid", needs=True)
    assert refcounts(c) == {"base": 1, "mid": 1}
    assert c.call("k_load", c.machine.alloc_string("other")) == 1
    assert refcounts(c) == {"other": 1}
    assert [e["why"] for e in c.loader.events
            if e["event"] == "unload" and e["module"] == "base"] == [
        "no longer needed after evicted by 'other' (overlay region Ovl)"]


def test_a_load_may_turn_double_buffering_off_or_on_for_itself(built, target):
    """``load(alternate=False)`` replaces an overlay's occupant in use although the policy
    double buffers, and ``alternate=True`` sends the load to the other half although it
    does not; a second load of a
    loaded module only counts a reference, recorded as the load's.  Written for the
    survivors Loader.load__mutmut_48 (the caller's ``alternate`` dropped: the policy's
    used) and Loader.load__mutmut_13 (the reference's reason misspelt)."""
    c = console(built(target), target)
    with_overlay(c, pair=True)
    c.loader.placement.update(base="Ovl", other="Ovl", prov="Ovl")
    c.load("base").pinned = True              # in use: a double-buffering load goes by
    other = c.load("other", alternate=False)
    assert other.region.name == "Ovl" and c.loader.by_name("base") is None
    assert not [e for e in c.loader.events if e.get("event") == "double-buffer"]
    other.pinned = True
    c.loader.policy.double_buffer = False
    prov = c.load("prov", alternate=True)
    assert prov.region.name == "OvlB" and c.loader.by_name("other") is other
    assert c.load("prov") is prov and prov.refcount == 2
    assert c.loader.events[-1] == {"event": "ref", "module": "prov", "refcount": 2,
                                   "why": "load"}


# --- constructor time ------------------------------------------------------------------------

def test_a_target_side_load_without_constructors_measures_none(built, target):
    """A module with no constructors, loaded by target code (LoadModule: the constructors
    are the CPU's to run), is measured at 0 instructions of constructor time, as a host-side
    load measures it: the trace says so.  Written for the survivor
    Loader.link_items__mutmut_176 (``if not self.init_functions(lm)`` inverted: no
    measurement at all for such a module)."""
    c = console(built(target), target)
    assert c.call("k_load", c.machine.alloc_string("other")) == 1
    t = c.loader.by_name("other").timing
    h = console(built(target), target).load("other").timing
    assert t.init_instructions == h.init_instructions == 0
    assert t.to_dict()["init_measured"] == h.to_dict()["init_measured"] == {
        "instructions": 0, "ms": 0.0}
    assert t.cpu["init"] == 0.0


def test_a_load_finished_without_its_constructors_measures_no_instructions(built, target):
    """Asking for the constructor past the end of a load's table finishes the load: when
    none ran (the caller asked for none), none is measured.  Written for the survivor
    Loader._finish_init__mutmut_28 (a module never measured counted 1 instruction)."""
    c = console(built(target), target)
    lm = c.load("twoctor", run_init=False)
    entries = c.loader.pending_init[lm.handle]["entries"]
    assert len(entries) == 2
    assert c.loader.init_entry(lm.handle, len(entries)) == 0
    assert lm.handle not in c.loader.pending_init and notes(c) == []
    assert lm.timing.init_instructions == 0 and lm.timing.init_measured_s == 0.0
    costs = c.timer.costs
    assert lm.timing.cpu["init"] == pytest.approx(costs.seconds(costs.ctor_call * 2))
    # the constructors run one by one through the same calls are measured as usual
    again = console(built(target), target)
    lm = again.load("twoctor", run_init=False)
    i = 0
    while (fn := again.loader.init_entry(lm.handle, i)) != 0:
        again.machine.call(fn)
        i += 1
    assert i == 2 and notes(again) == [7, 8] and lm.timing.init_instructions > 1000


# --- unloading and stubs ---------------------------------------------------------------------

def test_unloading_a_module_whose_need_was_evicted(built, target):
    """user needs prov; an overlay load evicts prov (user's bindings go to stubs); unloading
    user then frees user alone: its reference to prov went with prov.  Written for the
    survivor Loader.unload__mutmut_24 (``dm is not None and dm not in plan`` made ``or``:
    the unload failed on the evicted need's missing entry)."""
    c = console(built(target), target)
    with_overlay(c)
    c.loader.placement.update(prov="Ovl", other="Ovl")
    c.load("prov")
    user = c.load("user")
    prov_handle = c.loader.by_name("prov").handle
    assert user.deps == [prov_handle]
    c.load("other")                               # evicts prov
    assert c.loader.by_name("prov") is None and user.deps == [prov_handle]
    assert [m.name for m in c.loader.unload(user.handle)] == ["user"]
    assert refcounts(c) == {"other": 1}


def test_a_stub_given_back_by_a_reload_is_reused(built, target):
    """A call through a stale stub reloads its module (policy ``reload``) and rebinds every
    holder: the stub is given back, and the next eviction of the same module takes the same
    slot again.  Written for the survivor Loader._rebind_stubbed__mutmut_14 (the stub was
    looked up as ``slots.get(None)``: never freed, one slot lost per reload)."""
    c = console(built(target), target, policy=LoaderPolicy(stale="reload"))
    with_overlay(c)
    c.loader.placement.update(prov="Ovl", other="Ovl")
    c.load("prov")
    c.load("user")
    c.load("other")                               # evicts prov: prov_f -> a stale stub
    stubs = c.loader.stubs
    stub = c.loader.by_name("user").stubbed["prov_f"][1]
    free = stubs.free_count()
    assert stub in stubs.slots and c.machine.symbolize(stub) == "stale stub prov:prov_f"
    assert c.call("user:use_f", 1) == 16          # reloads prov, rebinds user
    assert not c.loader.by_name("user").stubbed
    assert stub not in stubs.slots and stubs.free_count() == free + 1
    assert c.machine.symbolize(stub) == "loader: free stub"
    c.load("other")                               # evicts prov again
    assert c.loader.by_name("user").stubbed["prov_f"][1] == stub
    assert stubs.free_count() == free


def test_a_hole_below_the_top_takes_a_block_placed_inside_it():
    """``alloc_at(..., into_free=True)`` (hot reload puts a module back where it was): a
    block inside a run of freed blocks splits it, the rest stays free; a block reaching
    memory in use, or outside any freed block, is refused by name.  Written for the
    survivor Region._alloc_in_free__mutmut_4 (``enumerate(self.blocks)`` made
    ``enumerate(None)``: no test placed a block in a hole)."""
    r = Region("Heap", 0x1000, 0x100)
    a, b = r.alloc(0x20, 4, "a"), r.alloc(0x20, 4, "b")
    r.alloc(0x10, 4, "c")
    r.free(a)
    r.free(b)
    assert r.holes() == [(0x1000, 0x40)]
    before = r.snapshot()
    for addr, size in ((0x1030, 0x20), (0x0FF0, 0x20)):   # into c; below the region
        with pytest.raises(OutOfMemory, match=re.escape(
                f"region 'Heap': 0x{addr:08x}..0x{addr + size:08x} is not inside freed memory, "
                f"so 'n' ({size} bytes) cannot go there")):
            r.alloc_at(addr, size, "n", into_free=True)
        assert r.snapshot() == before
    n = r.alloc_at(0x1008, 0x30, "n", into_free=True)    # across a's and b's blocks
    assert (n.start, n.size, n.free) == (0x1008, 0x30, False)
    assert r.snapshot() == ((0x1000, 0x8, "(gap)", True), (0x1008, 0x30, "n", False),
                            (0x1038, 0x8, "(gap)", True), (0x1040, 0x10, "c", False))
    assert r.holes() == [(0x1000, 0x8), (0x1038, 0x8)]
    exact = r.alloc_at(0x1000, 0x8, "m", into_free=True)  # a hole exactly
    assert exact.start == 0x1000 and r.holes() == [(0x1038, 0x8)]


def test_a_block_placed_in_freed_memory_never_covers_a_block_in_use():
    """Freed blocks on both sides of a block in use: a placement spanning all three is
    refused, though each end lies in freed memory; so is one in memory in use that no
    freed block touches (OutOfMemory by name, not an IndexError), and a placement above
    the top leaves the space below it as a free gap.  Written for the survivors
    Region._alloc_in_free__mutmut_12 (``not run or`` made ``and``: the freed blocks no
    longer had to be one run) and Region.alloc_at__mutmut_28 (the gap's name)."""
    r = Region("Heap", 0x1000, 0x100)
    a, _b, c = (r.alloc(0x10, 4, n) for n in "abc")
    r.alloc(0x10, 4, "d")
    r.free(a)
    r.free(c)
    before = r.snapshot()
    for addr, size in ((0x1000, 0x30), (0x1014, 0x4)):     # a to c over b; inside b
        with pytest.raises(OutOfMemory, match=re.escape(
                f"region 'Heap': 0x{addr:08x}..0x{addr + size:08x} is not inside freed memory, "
                f"so 'n' ({size} bytes) cannot go there")):
            r.alloc_at(addr, size, "n", into_free=True)
        assert r.snapshot() == before
    r.alloc_at(0x1080, 0x10, "e")
    assert r.snapshot()[-2:] == ((0x1040, 0x40, "(gap)", True), (0x1080, 0x10, "e", False))
    assert r.holes() == [(0x1000, 0x10), (0x1020, 0x10), (0x1040, 0x40)]


# --- refused modules: status and message, on both loaders ------------------------------------

@pytest.fixture(scope="module", params=["psx"])
def rt_kernel(request, tmp_path_factory):
    """A PS1 resident with the console-side runtime and GameVMTrust, and modules: ``farcall``
    (calls the resident's ``k_fn``: out of a jal's reach from the scratchpad), ``ghostly``
    (imports a function nothing provides), ``bigmod`` (compresses)."""
    d = tmp_path_factory.mktemp("psx-loader-mutants")
    kernel = build_modules(d, request.param, {
        "farcall": "int k_fn(int); int far_g(int x) { return k_fn(x) + 1; }\n",
        "ghostly": "extern int no_such(int); int ghost_h(int x) { return no_such(x); }\n",
        "bigmod": 'const char big_tab[6000] = "abc";\n'
                  "int big_get(int i) { return big_tab[i]; }\n"},
        kernel_c="int k_fn(int x) { return x + 1; }\n", keep=["k_fn", "GameVMTrust"])
    return d, kernel


def table(entries: dict[str, bytes | tuple[int, bytes]]) -> bytes:
    """A trust table: a module's file bytes (listed as they are), or (size, digest)."""
    return trust.encode({n: trust.TrustEntry(*e) if isinstance(e, tuple)
                         else trust.TrustEntry(len(e), hashlib.sha256(e).digest())
                         for n, e in entries.items()})


def refused(host, tl, name: str, status: TLoadStatus, trusted: bytes | None = None) -> str:
    """Load ``name`` on both loaders (with the trust table ``trusted``): both refuse it with
    ``status`` and load nothing; returns the reference loader's message."""
    if trusted is not None:
        host.trust(trusted)
        assert tl.trust(trusted) == TLoadStatus.lsSuccess
    with pytest.raises(LoadError) as err:
        host.load(name, needs=True)
    assert err.value.status == status, str(err.value)
    assert tl.load_module(name)[1] == status
    assert not host.loaded and not tl.loaded
    return str(err.value)


def test_a_module_refused_by_the_manifest_is_named_with_why(rt_kernel, tmp_path):
    """A module the trusted manifest does not list, or lists with another size: both
    loaders refuse it (lsBadSignature), and the reference loader says which module and
    why.  Written for the survivor Loader._check_trusted_entry__mutmut_8 (the
    message dropped: ``None``)."""
    d, kernel = rt_kernel
    data = (d / "ghostly.elf").read_bytes()
    (tmp_path / "ghostly.elf").write_bytes(data)
    host, tl = pair("psx", kernel, tmp_path)
    msg = refused(host, tl, "ghostly", TLoadStatus.lsBadSignature, table({"farcall": data}))
    assert msg.endswith("ghostly.elf: module 'ghostly' is not in the trusted manifest (sign "
                        "the disc's modules again with gamevm sign, and give the console the "
                        "new table)")
    host, tl = pair("psx", kernel, tmp_path)
    msg = refused(host, tl, "ghostly", TLoadStatus.lsBadSignature,
                  table({"ghostly": (len(data) + 4, hashlib.sha256(data).digest())}))
    assert msg.endswith(f"ghostly.elf: module 'ghostly' is {len(data)} bytes; the trusted "
                        f"manifest says {len(data) + 4}")


def _gvm_image_header(data: bytes) -> int:
    """The file offset of a compressed module's ``.gvm.image`` header (type, size, align)."""
    elf = ELFFile(io.BytesIO(data))
    return elf.get_section_by_name(".gvm.image")["sh_offset"]


def test_an_image_that_does_not_decode_is_bad_format_or_untrusted(rt_kernel, tmp_path):
    """An LZ4 module whose compression header says one byte more than its sections hold:
    lsBadFormat, naming the header; with a trusted manifest that signed the module before
    it changed, lsBadSignature (the console hashes the file before it decodes the image),
    naming the module that changed.  Written for the survivors Loader._read__mutmut_35
    (the lsBadFormat error raised without its message: a TypeError, no status) and
    Loader._read__mutmut_29 (the lsBadSignature message dropped: ``None``)."""
    d, kernel = rt_kernel
    good = convert((d / "bigmod.elf").read_bytes(), "lz4")
    at = _gvm_image_header(good) + 4
    size, = struct.unpack_from("<I", good, at)
    bad = bytearray(good)
    struct.pack_into("<I", bad, at, size + 1)
    (tmp_path / "bigmod.elf").write_bytes(bad)
    host, tl = pair("psx", kernel, tmp_path)
    msg = refused(host, tl, "bigmod", TLoadStatus.lsBadFormat)
    assert f".gvm.image: the header says {size + 1} bytes" in msg
    assert msg.startswith(str(tmp_path / "bigmod.elf"))
    host, tl = pair("psx", kernel, tmp_path)
    msg = refused(host, tl, "bigmod", TLoadStatus.lsBadSignature, table({"bigmod": good}))
    assert "module 'bigmod' does not match the trusted manifest" in msg
    assert "it changed after signing" in msg
    # the file as it is now, signed: the manifest has nothing against it, the image is bad
    host, tl = pair("psx", kernel, tmp_path)
    refused(host, tl, "bigmod", TLoadStatus.lsBadFormat, table({"bigmod": bytes(bad)}))


def test_a_module_whose_hash_fails_and_whose_digest_fails_is_untrusted(rt_kernel, tmp_path):
    """A plain module changed after signing (a byte of its code): the reference loader,
    which also checks the metadata's hash, finds the change first by the hash; with a trusted
    manifest the status is still the console's (lsBadSignature, the digest comes first), and
    the message names the module.  Written for the survivor Loader._read__mutmut_29."""
    d, kernel = rt_kernel
    good = (d / "ghostly.elf").read_bytes()
    text = read_module(good).sections[".text"][1]
    at = good.index(text) + 4
    bad = good[:at] + bytes([good[at] ^ 0x40]) + good[at + 1:]
    (tmp_path / "ghostly.elf").write_bytes(bad)
    resident = read_resident(kernel, "psx")
    machine = Machine("psx")
    machine.load_elf(kernel)
    host = Loader(machine, resident, DirectoryReader([tmp_path]))      # hash checked
    with pytest.raises(LoadError) as err:
        host.load("ghostly")
    assert err.value.status == TLoadStatus.lsBadChecksum
    host.trust(table({"ghostly": good}))
    with pytest.raises(LoadError) as err:
        host.load("ghostly")
    assert err.value.status == TLoadStatus.lsBadSignature
    assert "ghostly.elf: module 'ghostly' does not match the trusted manifest" in str(err.value)
    assert not host.loaded


@pytest.mark.parametrize("form", ["plain", "packed"])
@pytest.mark.parametrize("name,unsigned", [("farcall", TLoadStatus.lsRelocationError),
                                           ("ghostly", TLoadStatus.lsUndefinedSymbol)])
def test_binding_comes_before_the_digest_and_relocating_a_packed_module_after(
        rt_kernel, tmp_path, form, name, unsigned):
    """The console binds a module's imports before it reads the image, and checks a plain
    (format 1) module's relocations then too; it hashes the file before it relocates a
    packed (format 2) one.  So a module that changed after signing is refused as undefined
    (lsUndefinedSymbol) when an import is missing, whatever its form; one out of a jump's
    reach (lsRelocationError) is refused as such when plain, as untrusted (lsBadSignature)
    when packed; both loaders alike.  Written for the survivor Loader._link_one__mutmut_97
    (``failed.status == lsRelocationError`` made ``!=``: the two packed cases swapped)."""
    d, kernel = rt_kernel
    far = [Region("far", 0x1F800000, 0x400)]   # the scratchpad: no jal reaches kseg0 from it
    data = convert((d / f"{name}.elf").read_bytes(), form)
    assert read_module(data).format == (1 if form == "plain" else 2)
    (tmp_path / f"{name}.elf").write_bytes(data)
    host, tl = pair_over("psx", kernel, tmp_path, far)
    refused(host, tl, name, unsigned)
    signed = table({name: (len(data), bytes(32))})    # listed, this size, another digest
    want = TLoadStatus.lsBadSignature if (name, form) == ("farcall", "packed") else unsigned
    host, tl = pair_over("psx", kernel, tmp_path, far)
    msg = refused(host, tl, name, want, signed)
    assert (f"module '{name}' does not match the trusted manifest" in msg
            if want == TLoadStatus.lsBadSignature else f"module '{name}'" in msg)


@pytest.mark.parametrize("image_size,want", [
    (0x7FFFFFFE, TLoadStatus.lsOutOfMemory),
    (0x7FFFFFFF, TLoadStatus.lsOutOfMemory),       # the largest size taken at its word
    (0x80000000, TLoadStatus.lsBadFormat),
    (0xFFFFFFFF, TLoadStatus.lsBadFormat),
])
def test_the_largest_plausible_image_is_2_gib_less_one_byte(rt_kernel, tmp_path, image_size,
                                                           want):
    """A module's metadata may say any image size up to 0x7FFFFFFF: a loader then looks for
    that much memory (lsOutOfMemory, naming the size it needs); a larger one is not a module
    (lsBadFormat): the C runtime's ``image_size > 0x7FFFFFFFu``.  Written for the survivor
    Loader._read__mutmut_52 (``>`` made ``>=``: 0x7FFFFFFF refused as implausible)."""
    d, kernel = rt_kernel
    data = (d / "ghostly.elf").read_bytes()
    size = read_module(data).image_size
    (tmp_path / "ghostly.elf").write_bytes(_metadata_edited(
        data, b'"image_size":%d' % size, b'"image_size":%d' % image_size))
    host, tl = pair("psx", kernel, tmp_path)
    msg = refused(host, tl, "ghostly", want)
    assert (f"'ghostly' needs {image_size};" in msg if want == TLoadStatus.lsOutOfMemory
            else msg.endswith("ghostly.elf: image size is implausible"))
