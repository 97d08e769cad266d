"""The console-side C runtime where mutation testing (bench/mutation_c.py, docs/testing.md
"The C runtime") found the differential tests blind: each test here fails on a mutant of
gamevm_build/runtime/loader/*.c or codec/*.c that survived them, a real bug of that shape
that would have gone unnoticed (but one: test_a_binding_to_the_end_of_an_evicted_module_is_not_its,
see its docstring).
Same oracle as tests/test_target_runtime.py: the reference loader on the same console."""

from __future__ import annotations

import struct

import pytest

from conftest import REPO, run_gamevm
from gamevm_build.runtime.reference import TLoadStatus
from example_game import example_game  # noqa: F401  (fixture)
from test_target_runtime import build_modules, built, host_load, pair  # noqa: F401

SHT_MIPS_ABIFLAGS = 0x7000002A


def with_section(data: bytes, name: bytes, sh_type: int, body: bytes) -> bytes:
    """``data`` (a module) with one more section (``name``, ``sh_type``, contents ``body``)
    at the end of the file, its name added to the section names; the rest stays put."""
    order = "<" if data[5] == 1 else ">"
    shoff, = struct.unpack_from(order + "I", data, 32)
    shnum, shstrndx = struct.unpack_from(order + "HH", data, 48)
    headers = [list(struct.unpack_from(order + "10I", data, shoff + 40 * i)) for i in range(shnum)]
    out = bytearray(data) + bytes(-len(data) % 4)
    strtab = headers[shstrndx]
    names = data[strtab[4]:strtab[4] + strtab[5]] + name + b"\0"
    name_at = strtab[5]
    strtab[4], strtab[5] = len(out), len(names)
    out += names + bytes(-len(names) % 8)
    headers.append([name_at, sh_type, 2, 0, len(out), len(body), 0, 0, 8, len(body)])
    out += body + bytes(-len(body) % 4)
    struct.pack_into(order + "I", out, 32, len(out))
    for h in headers:
        out += struct.pack(order + "10I", *h)
    struct.pack_into(order + "H", out, 48, shnum + 1)
    return bytes(out)


@pytest.fixture(scope="module", params=["psx"])
def psx_kernel(request, tmp_path_factory):
    """A PS1 resident with the runtime, and a module ``fpmod`` (the console is a parameter
    so that bench/mutation_c.py's ``-k psx`` selects these tests)."""
    d = tmp_path_factory.mktemp("psx-mutants")
    kernel = build_modules(d, request.param, {"fpmod": "int fp_twice(int x) { return 2 * x; }\n"})
    return d, kernel


@pytest.mark.parametrize("size,fp_abi,want", [
    (8, 1, TLoadStatus.lsBadFormat),       # the shortest record with its fp_abi byte: read
    (8, 3, TLoadStatus.lsSuccess),
    (7, 1, TLoadStatus.lsSuccess),         # one byte short of it: no float ABI said
])
def test_an_abiflags_record_of_eight_bytes_still_says_the_float_abi(psx_kernel, tmp_path,
                                                                     size, fp_abi, want):
    """read_module takes fp_abi (byte 7) from a ``.MIPS.abiflags`` of 8 bytes or more: a
    hard-float record that short is refused by both loaders alike, a shorter one ignored."""
    d, kernel = psx_kernel
    record = struct.pack("<HBBBBBB", 0, 1, 0, 1, 1, 0, fp_abi)[:size]
    data = (d / "fpmod.elf").read_bytes()
    (tmp_path / "fpmod.elf").write_bytes(with_section(data, b".MIPS.abiflags",
                                                      SHT_MIPS_ABIFLAGS, record))
    host, tl = pair("psx", kernel, tmp_path)
    assert host_load(host, "fpmod")[1] == want
    assert tl.load_module("fpmod")[1] == want


@pytest.fixture(scope="module")
def foreign_modules(tmp_path_factory):
    """The corpus' physics module built for each console but the PS1."""
    d = tmp_path_factory.mktemp("foreign")
    out = {}
    for target in ("n64", "segacd", "gba", "3do"):
        out[target] = d / f"{target}.elf"
        proc = run_gamevm("module", "-t", target, "-o", out[target],
                          REPO / "tests" / "corpus" / "native" / "physics.c",
                          "-I", REPO / "tests" / "corpus" / "native")
        assert proc.returncode == 0, proc.stderr
    return out


@pytest.mark.parametrize("target,flags", [
    ("segacd", 0x00000008),     # a 68020-class ABI bit: not the Sega CD's 68000
    ("segacd", 0x00008000),
    ("segacd", 0x02000000),
    ("segacd", 0x00810000),
    ("segacd", 0x01000000),     # the 68000 itself
    ("segacd", 0x00000000),
    ("gba", 0x05000000),
    ("gba", 0x06000000),        # an EABI the ARM consoles do not run
    ("gba", 0x05800000),        # BE8
    ("n64", 0x00001007),        # PIC
    ("n64", 0x00002000),        # another ABI
])
def test_a_foreign_module_with_its_own_consoles_bad_flags_is_bad_not_foreign(
        psx_kernel, foreign_modules, tmp_path, target, flags):
    """A module of another console is told apart from a corrupt one by its own target's
    e_flags rules (gamevm_build.arch's check_object), whatever the console loading it:
    lsIncompatibleTarget when they hold, lsBadFormat when not, on both loaders alike."""
    _d, kernel = psx_kernel
    data = bytearray(foreign_modules[target].read_bytes())
    struct.pack_into("<I" if data[5] == 1 else ">I", data, 36, flags)
    (tmp_path / "victim.elf").write_bytes(bytes(data))
    host, tl = pair("psx", kernel, tmp_path)
    status = host_load(host, "victim")[1]
    assert status in (TLoadStatus.lsBadFormat, TLoadStatus.lsIncompatibleTarget)
    assert tl.load_module("victim")[1] == status


def test_as_many_modules_as_the_runtime_has_slots_load_like_the_host(psx_kernel, tmp_path):
    """The runtime keeps GVM_MAX_MODULES (32) modules at once: the 32nd loads, at the
    reference loader's base, the same bytes."""
    from gamevm_build.link.linker import link_module
    from gamevm_build.link.toolchain import find_toolchain
    from test_target_runtime import same_modules

    _d, kernel = psx_kernel
    tc = find_toolchain("psx")
    for i in range(32):
        src = tmp_path / f"slot{i}.c"
        src.write_text(f"int slot{i}_value(int x) {{ return x + {i}; }}\n")
        link_module("psx", [tc.compile(src, tmp_path / f"slot{i}.o")], tmp_path / f"slot{i}.elf")
    host, tl = pair("psx", kernel, tmp_path)
    for i in range(32):
        assert host_load(host, f"slot{i}")[1] == TLoadStatus.lsSuccess
        assert tl.load_module(f"slot{i}")[1] == TLoadStatus.lsSuccess, f"slot{i}"
    same_modules(host, tl)


@pytest.mark.parametrize("built", ["psx"], indirect=True)
def test_a_need_being_written_makes_a_sync_load_pending(built, tmp_path):
    """The project's needs (GameVMAddNeed) load first: when one is still being written by an
    asynchronous load, a synchronous LoadModule of the module that needs it says lsPending
    and changes nothing; once the request is done, it loads as on the host.  (A work area
    of 6 KiB: too small for level1's whole file, so its image is read over several frames,
    and room enough for the synchronous load's own first read.)"""
    from gamevm_build.link.shipform import convert
    from test_target_runtime import frames_until_done, same_modules

    target, out, kernel = built
    for name in ("physics", "level1"):
        (tmp_path / f"{name}.elf").write_bytes(
            convert((out / f"{name}.elf").read_bytes(), "plain"))
    (tmp_path / "a.c").write_text("int a_f(int x) { return x + 1; }\n")
    proc = run_gamevm("module", "-t", target, "-o", tmp_path / "a.elf", tmp_path / "a.c")
    assert proc.returncode == 0, proc.stderr
    needs = {"a": ["level1"]}
    host, tl = pair(target, kernel, tmp_path, work_size=0x1800, extra_needs=needs)
    host.extra_needs = needs
    clock = tl.timer.clock
    assert tl.load_module("physics")[1] == TLoadStatus.lsSuccess
    rec = tl.load_async("level1")
    while not any(e["event"] == "writing" and e["module"] == "level1" for e in tl.events):
        assert rec["frame_completed"] is None, (rec["status"], tl.events)
        tl.frame()
        clock.now_s = clock.frame_start(clock.frame + 1)
    assert rec["frame_completed"] is None
    assert tl.load_module("a") == (0, TLoadStatus.lsPending)
    assert tl.by_name("a") is None
    frames_until_done(tl, rec)
    assert rec["status"] == "lsSuccess"
    assert tl.load_module("a")[1] == TLoadStatus.lsSuccess
    for name in ("physics", "level1", "a"):
        host_load(host, name)
    same_modules(host, tl)


@pytest.mark.parametrize("target", ["psx"])
def test_an_eviction_keeps_a_need_another_module_still_holds(tmp_path, target):
    """top (in the overlay) and side both declare mid as a need; side calls nothing in it.
    Evicting top drops top's reference only: mid keeps side's, so both loaders keep it
    (nothing binds into it, so only its reference count says it is held)."""
    from test_target_runtime import overlay_loaders, same_modules
    host, tl = overlay_loaders(tmp_path, target, {
        "mid": "int mid_f(int x) { return x * 3; }\n",
        "other": "int other_f(void) { return 99; }\n"}, {"top": "Ovl", "other": "Ovl"})
    for name, text in (("top", "extern int mid_f(int);\nint top_f(int x) { return mid_f(x); }\n"),
                       ("side", "int side_f(int x) { return x - 1; }\n")):
        (tmp_path / f"{name}.c").write_text(text)
        proc = run_gamevm("module", "-t", target, "-o", tmp_path / f"{name}.elf",
                          "--needs", tmp_path / "mid.elf", tmp_path / f"{name}.c")
        assert proc.returncode == 0, proc.stderr
    for name in ("top", "side"):
        host.load(name, needs=True)
        assert tl.load_module(name)[1] == TLoadStatus.lsSuccess
    same_modules(host, tl)
    host.load("other")                                      # evicts top
    assert tl.load_module("other")[1] == TLoadStatus.lsSuccess
    assert {lm.name for lm in host.loaded.values()} == {"mid", "side", "other"}
    same_modules(host, tl)


@pytest.mark.parametrize("regions", ["nine", "wrapping"])
def test_the_runtime_refuses_a_ninth_region_and_one_past_4_gib(psx_kernel, regions):
    """GameVMAddRegion keeps GVM_MAX_REGIONS (8) regions, each within the 32-bit address
    space: a ninth, or one whose end wraps past 4 GiB, is refused (lsOutOfMemory), which
    the emulated console reports naming the region."""
    from gamevm_build.emu.machine import Machine
    from gamevm_build.errors import EmulationError
    from gamevm_build.link.resident import read_resident
    from gamevm_build.runtime.allocator import Region
    from gamevm_build.runtime.readers import DirectoryReader
    from gamevm_build.runtime.reference import default_regions
    from gamevm_build.runtime.target import TargetLoader

    d, kernel = psx_kernel
    resident = read_resident(kernel, "psx")
    m = Machine("psx")
    m.load_elf(kernel)
    heap = default_regions(m, resident)[0]
    if regions == "nine":
        part = (heap.size // 9) & ~0xF
        want = [Region(f"R{i}", heap.start + part * i, part) for i in range(9)]
        refused = "R8"
    else:
        want = [heap, Region("Wrap", 0xFFFF0000, 0x20000)]
        refused = "Wrap"
    with pytest.raises(EmulationError, match=f"refused region {refused}"):
        TargetLoader(m, DirectoryReader([d]), want, resident=resident)
    if regions == "nine":       # eight are kept
        TargetLoader(m, DirectoryReader([d]), want[:8], resident=resident)


@pytest.mark.parametrize("char,want", [
    (b"\xed\x9f\xbf", TLoadStatus.lsSuccess),      # U+D7FF, the last before the surrogates
    (b"\xed\xa0\x80", TLoadStatus.lsBadFormat),    # U+D800, the first surrogate
    (b"\xed\xbf\xbf", TLoadStatus.lsBadFormat),    # U+DFFF, the last
    (b"\xee\x80\x80", TLoadStatus.lsSuccess),      # U+E000, the first after them
    (b"\xe0\xa0\x80", TLoadStatus.lsSuccess),      # U+0800, the shortest three-byte form
    (b"\xe0\x9f\xbf", TLoadStatus.lsBadFormat),    # U+07FF in three bytes: overlong
])
def test_metadata_strings_are_utf8_as_python_decodes_it(psx_kernel, tmp_path, char, want):
    """The metadata note is strict JSON in strict UTF-8: a string in it (here an unknown
    key's value, in place of ``"entry":null``) holding a surrogate or an overlong form
    is refused by both loaders, its neighbours are taken."""
    d, kernel = psx_kernel
    data = (d / "fpmod.elf").read_bytes()
    assert data.count(b'"entry":null') == 1
    (tmp_path / "fpmod.elf").write_bytes(data.replace(b'"entry":null', b'"xyzw":"' + char + b'"'))
    host, tl = pair("psx", kernel, tmp_path)
    assert host_load(host, "fpmod")[1] == want
    assert tl.load_module("fpmod")[1] == want


@pytest.mark.parametrize("escape,char", [
    (b"\\n", "\n"), (b"\\t", "\t"), (b"\\r", "\r"), (b"\\b", "\b"), (b"\\f", "\f"),
    (b"\\/", "/"), (b"\\\\", "\\"), (b'\\"', '"'),
])
def test_a_module_name_with_a_json_escape_is_read_alike(psx_kernel, tmp_path, escape, char):
    """Each JSON escape in the metadata's module name decodes to the same character in
    both loaders: the module is listed under the same name (same_modules compares them)."""
    from test_target_runtime import same_modules
    d, kernel = psx_kernel
    data = (d / "fpmod.elf").read_bytes()
    (tmp_path / "fpmod.elf").write_bytes(
        data.replace(b'"name":"fpmod"', b'"name":"f' + escape + b'od"'))
    host, tl = pair("psx", kernel, tmp_path)
    assert host_load(host, "fpmod")[1] == TLoadStatus.lsSuccess
    assert tl.load_module("fpmod")[1] == TLoadStatus.lsSuccess
    assert [m.name for m in tl.loaded.values()] == [f"f{char}od"]
    same_modules(host, tl)


@pytest.mark.parametrize("past_end,want", [(4, TLoadStatus.lsSuccess),
                                           (3, TLoadStatus.lsBadFormat),
                                           (1, TLoadStatus.lsBadFormat)])
def test_a_word_relocation_must_fit_in_its_section(psx_kernel, tmp_path, past_end, want):
    """An R_MIPS_32 site is 4 bytes: one that starts 3 bytes or fewer before the end of its
    section runs past it, and both loaders refuse the module (lsBadFormat); one at the last
    word is applied alike."""
    from elftools.elf.elffile import ELFFile
    from gamevm_build.link.shipform import convert
    from test_target_runtime import same_modules

    d, kernel = psx_kernel
    src = tmp_path / "ptrs.c"
    src.write_text("int v = 1;\nint w = 2;\nint *ptrs[2] = { &v, &w };\n")
    proc = run_gamevm("module", "-t", "psx", "-o", tmp_path / "built.elf", src)
    assert proc.returncode == 0, proc.stderr
    data = bytearray(convert((tmp_path / "built.elf").read_bytes(), "plain"))
    with open(tmp_path / "built.elf", "wb") as f:
        f.write(data)
    with open(tmp_path / "built.elf", "rb") as f:
        elf = ELFFile(f)
        rela = next(s for s in elf.iter_sections() if s["sh_type"] == "SHT_RELA"
                    and any(r["r_info_type"] == 2 for r in s.iter_relocations()))
        target = elf.get_section(rela["sh_info"])
        k = next(i for i, r in enumerate(rela.iter_relocations()) if r["r_info_type"] == 2)
        at = rela["sh_offset"] + 12 * k
    end = target["sh_addr"] + target["sh_size"]
    struct.pack_into("<I", data, at, end - past_end)
    (tmp_path / "ptrs.elf").write_bytes(bytes(data))
    host, tl = pair("psx", kernel, tmp_path)
    assert host_load(host, "ptrs")[1] == want
    assert tl.load_module("ptrs")[1] == want
    same_modules(host, tl)


def test_a_lazy_binding_holds_its_provider_in_both_loaders(psx_kernel, tmp_path):
    """Once squatter's lazy import is bound (its first call), squatter holds prov as an eager
    binding would: unloading prov keeps it while the binding does, in both loaders; it goes
    with squatter (tests/test_runtime.py's test for the reference loader, here against the
    runtime)."""
    from gamevm_build.runtime.target import LOAD_LAZY
    from test_target_runtime import same_modules

    kernel = build_modules(tmp_path, "psx", {
        "prov": "int prov_f(int x) { return x + 8; }\n",
        "squatter": "extern int prov_f(int);\nint squat(int x) { return prov_f(x); }\n"})
    host, tl = pair("psx", kernel, tmp_path)
    prov = host.load("prov")
    squatter = host.load("squatter", lazy=True)
    t_prov, status = tl.load_module("prov")
    assert status == TLoadStatus.lsSuccess
    t_squatter, status = tl.load_module("squatter", LOAD_LAZY)
    assert status == TLoadStatus.lsSuccess
    fn = squatter.symbols["squat"]
    assert host.machine.call(fn, 1) == tl.machine.call(fn, 1) == 9     # binds prov_f
    same_modules(host, tl)
    assert host.unload(prov.handle) == [] and host.by_name("prov") is prov
    assert tl.unload_module(t_prov) == TLoadStatus.lsSuccess
    assert tl.by_name("prov") is not None
    assert host.machine.call(fn, 2) == tl.machine.call(fn, 2) == 10
    same_modules(host, tl)
    assert [m.name for m in host.unload(squatter.handle)] == ["squatter", "prov"]
    assert tl.unload_module(t_squatter) == TLoadStatus.lsSuccess
    assert not tl.loaded


@pytest.mark.parametrize("target", ["psx"])
def test_a_binding_to_the_end_of_an_evicted_module_is_not_its(tmp_path, target):
    """An export at the very end of a module (a zero-size array after its data) has the
    address just past it: a binding to it is not a binding into the module, so evicting
    the module leaves it alone in both loaders (the stale stubs are for addresses inside).
    Written for the survivor gvm_stubs.c:stub_bindings:ror_5 (``>=`` made ``>``), which it
    does not kill: the mutant leaves this binding alone too (docs/testing.md)."""
    from test_target_runtime import overlay_loaders, same_modules, same_stubs
    host, tl = overlay_loaders(tmp_path, target, {
        "prov": "int prov_f(int x) { return x + 7; }\nint prov_data[3] = {1, 2, 3};\n"
                "char prov_end[0];\n",
        "user": "extern char prov_end[];\nchar *user_end(void) { return prov_end; }\n",
        "other": "int other_f(void) { return 99; }\n"}, {"prov": "Ovl", "other": "Ovl"})
    prov = host.load("prov")
    user = host.load("user")
    assert prov.symbols["prov_end"] == prov.base + prov.module.load_size   # the premise
    for name in ("prov", "user"):
        assert tl.load_module(name)[1] == TLoadStatus.lsSuccess
    host.load("other")                                   # evicts prov
    assert tl.load_module("other")[1] == TLoadStatus.lsSuccess
    assert "prov_end" not in user.stubbed
    fn = user.symbols["user_end"]
    assert host.machine.call(fn) == tl.machine.call(fn) == prov.symbols["prov_end"]
    same_modules(host, tl)
    same_stubs(host, tl)


@pytest.mark.parametrize("target", ["psx"])
def test_the_lz4_decoder_agrees_with_its_mirror_on_every_cut_of_a_block(target,
                                                                        tmp_path_factory):
    """gvm_lz4.c and its Python mirror (gamevm_build.link.compress.lz4_decode, the
    reference loader's) on a block cut at every length, the empty one included: the
    same verdict (-1 for None), the same bytes.  A block cut just after a match ends in
    no literals-only sequence and is corrupt to both."""
    from gamevm_build.link.compress import lz4_compress, lz4_decode
    from test_codecs import GUARD, decode, decoder, samples

    m, buf = decoder(target, tmp_path_factory)
    data = samples()[1][:300]
    block = lz4_compress(data)
    for cut in range(len(block) + 1):
        want = lz4_decode(block[:cut], len(data))
        r, out, guard, _n = decode(m, buf, block[:cut], len(data))
        assert guard == GUARD * 2, cut
        assert (r, out) == ((-1, b"") if want is None else (len(want), want)), cut


@pytest.mark.parametrize("target", ["psx"])
def test_a_module_placed_in_the_first_region_goes_there(tmp_path, target):
    """A placement naming the first region the game added (index 0; here an overlay before
    the heap) is a placement like any other: both loaders put the module in it, and the
    next occupant evicts it."""
    from gamevm_build.emu.machine import Machine
    from gamevm_build.link.resident import read_resident
    from gamevm_build.runtime.allocator import Region
    from gamevm_build.runtime.readers import DirectoryReader
    from gamevm_build.runtime.reference import Loader, LoaderPolicy, default_regions
    from gamevm_build.runtime.target import TargetLoader
    from test_target_runtime import same_modules

    kernel = build_modules(tmp_path, target, {"first": "int first_f(int x) { return x; }\n",
                                              "second": "int second_f(void) { return 2; }\n"})
    resident = read_resident(kernel, target)
    machines = [Machine(target), Machine(target)]
    for m in machines:
        m.load_elf(kernel)
    heap = default_regions(machines[0], resident)[0]
    regions = [Region("Ovl", heap.end - 0x2000, 0x2000, "overlay"),
               Region("Main", heap.start, heap.size - 0x4000)]
    place = {"first": "Ovl", "second": "Ovl"}
    host = Loader(machines[0], resident, DirectoryReader([tmp_path]), regions,
                  policy=LoaderPolicy(verify_hash=False), placement=place)
    tl = TargetLoader(machines[1], DirectoryReader([tmp_path]), regions, resident=resident,
                      placement=place)
    lm = host.load("first")
    assert tl.load_module("first")[1] == TLoadStatus.lsSuccess
    assert regions[0].start <= lm.base < regions[0].start + regions[0].size
    same_modules(host, tl)
    host.load("second")                                     # evicts first
    assert tl.load_module("second")[1] == TLoadStatus.lsSuccess
    assert tl.by_name("first") is None
    same_modules(host, tl)


@pytest.mark.parametrize("escape,want", [
    (b"\\u004F", TLoadStatus.lsSuccess), (b"\\u004f", TLoadStatus.lsSuccess),
    (b"\\u004A", TLoadStatus.lsSuccess), (b"\\u0049", TLoadStatus.lsSuccess),
    (b"\\u004G", TLoadStatus.lsBadFormat), (b"\\u004g", TLoadStatus.lsBadFormat),
    (b"\\u004@", TLoadStatus.lsBadFormat), (b"\\u004:", TLoadStatus.lsBadFormat),
])
def test_a_unicode_escape_takes_hex_digits_of_either_case_only(psx_kernel, tmp_path,
                                                               escape, want):
    """``\\uXXXX`` in the metadata (an unknown key's value, in place of ``"entry":null``):
    0-9, a-f and A-F are its digits, the characters next to them are not, in both loaders."""
    d, kernel = psx_kernel
    data = (d / "fpmod.elf").read_bytes()
    (tmp_path / "fpmod.elf").write_bytes(data.replace(b'"entry":null', b'"x":"' + escape + b'"'))
    host, tl = pair("psx", kernel, tmp_path)
    assert host_load(host, "fpmod")[1] == want
    assert tl.load_module("fpmod")[1] == want


def test_a_unicode_escape_cut_short_by_the_end_of_the_metadata_is_refused(psx_kernel,
                                                                          tmp_path):
    """The metadata text ending inside ``\\u`` (an unknown key's value, the last member:
    ``"xyzwvu":"\\u}``) is bad JSON for both loaders, though what follows the escape
    would close the object."""
    d, kernel = psx_kernel
    data = (d / "fpmod.elf").read_bytes()
    start = data.index(b'{"align"')
    end = data.index(b'"target":"psx"}', start) + len(b'"target":"psx"}')
    text = data[start:end]
    bad = text.replace(b'"entry":null,', b"")[:-1] + b',"xyzwvu":"\\u}'
    assert len(bad) == len(text)
    (tmp_path / "fpmod.elf").write_bytes(data[:start] + bad + data[end:])
    host, tl = pair("psx", kernel, tmp_path)
    assert host_load(host, "fpmod")[1] == TLoadStatus.lsBadFormat
    assert tl.load_module("fpmod")[1] == TLoadStatus.lsBadFormat


@pytest.mark.parametrize("target", ["psx"])
def test_a_packed_module_with_a_pointer_at_an_odd_address_loads_alike(tmp_path, target):
    """A pointer in a packed struct sits at an address one past a word boundary: the packed
    form keeps its addend in the field, which the runtime reads a byte at a time there (an
    aligned word load would fault), and both loaders relocate it alike."""
    from gamevm_build.link.shipform import convert
    from test_target_runtime import same_modules
    kernel = build_modules(tmp_path, target, {
        "odd": "int v = 7;\n"
               "struct __attribute__((packed)) P { char c; int *p; char d[3]; };\n"
               "struct P odd_s __attribute__((aligned(4))) = {1, &v + 1, {2, 3, 4}};\n"
               "int odd_get(void) { return odd_s.p[-1]; }\n"})
    path = tmp_path / "odd.elf"
    path.write_bytes(convert(path.read_bytes(), "packed"))
    host, tl = pair(target, kernel, tmp_path)
    lm = host.load("odd")
    assert tl.load_module("odd")[1] == TLoadStatus.lsSuccess
    assert lm.symbols["odd_s"] % 4 == 0
    same_modules(host, tl)
    fn = lm.symbols["odd_get"]
    assert host.machine.call(fn) == tl.machine.call(fn) == 7


def test_a_section_name_may_be_the_tail_of_the_last_name(psx_kernel, tmp_path):
    """A section name is valid when a NUL follows it inside the section names: one that
    starts inside the table's last string (a shared tail, as linkers merge them) is as good
    as its start, for both loaders.  (Here the name of the section-name table itself.)"""
    from test_target_runtime import same_modules
    d, kernel = psx_kernel
    data = bytearray((d / "fpmod.elf").read_bytes())
    shoff, = struct.unpack_from("<I", data, 32)
    shstrndx, = struct.unpack_from("<H", data, 50)
    at = shoff + 40 * shstrndx
    off, size = struct.unpack_from("<II", data, at + 16)
    names = bytes(data[off:off + size])
    assert names.endswith(b"\0")
    last = names.rindex(b"\0", 0, size - 1) + 1
    assert size - 1 - last >= 2                         # a tail of at least one character
    struct.pack_into("<I", data, at, last + 1)
    (tmp_path / "fpmod.elf").write_bytes(bytes(data))
    host, tl = pair("psx", kernel, tmp_path)
    assert host_load(host, "fpmod")[1] == TLoadStatus.lsSuccess
    assert tl.load_module("fpmod")[1] == TLoadStatus.lsSuccess
    same_modules(host, tl)


@pytest.mark.parametrize("align,want", [(b'"align":65536,"xyzwv":0', TLoadStatus.lsSuccess),
                                        (b'"align":131072,"xyzw":0', TLoadStatus.lsBadFormat)])
def test_the_largest_module_alignment_is_64_kib(psx_kernel, tmp_path, align, want):
    """The metadata's ``align`` may be any power of two up to 64 KiB (a bigger one is
    refused): a module asking for exactly 64 KiB loads at the same 64 KiB boundary in both
    loaders.  (The ``"entry":null`` member makes room for the longer number.)"""
    from test_target_runtime import same_modules
    d, kernel = psx_kernel
    data = (d / "fpmod.elf").read_bytes()
    old = b'"align":16,"entry":null'
    assert data.count(old) == 1 and len(align) == len(old)
    (tmp_path / "fpmod.elf").write_bytes(data.replace(old, align))
    host, tl = pair("psx", kernel, tmp_path)
    lm, status = host_load(host, "fpmod")
    assert status == want
    assert tl.load_module("fpmod")[1] == want
    if lm is not None:
        assert lm.base % 0x10000 == 0
    same_modules(host, tl)



@pytest.mark.parametrize("align,want", [(b'"align":4294967312,"":0', TLoadStatus.lsBadFormat),
                                        (b'"align":4294967296,"":0', TLoadStatus.lsBadFormat)])
def test_a_metadata_number_past_32_bits_does_not_wrap(psx_kernel, tmp_path, align, want):
    """A metadata number that does not fit 32 bits is refused, not taken modulo 2**32:
    ``align`` 2**32 + 16 would wrap to a valid 16.  Written for the survivor
    gvm_meta.c:number:lcr_5 (the overflow test's ``||`` made ``&&``, never true)."""
    d, kernel = psx_kernel
    data = (d / "fpmod.elf").read_bytes()
    old = b'"align":16,"entry":null'
    assert data.count(old) == 1 and len(align) == len(old)
    (tmp_path / "fpmod.elf").write_bytes(data.replace(old, align))
    host, tl = pair("psx", kernel, tmp_path)
    assert host_load(host, "fpmod")[1] == want
    assert tl.load_module("fpmod")[1] == want


def _nested_in_place_of_the_hash(data: bytes, inner: bytes, levels: int) -> bytes:
    """``data`` with its metadata's ``hash`` member (which loaders need not check) made an
    unknown key holding ``inner`` within ``levels`` arrays, padded with JSON whitespace."""
    at = data.index(b'"hash":"sha256:')
    old = data[at:data.index(b'"', at + 8) + 1]
    new = b'"qq":' + b"[" * levels + inner + b"]" * levels
    assert len(new) <= len(old)
    return data.replace(old, new + b" " * (len(old) - len(new)))


@pytest.mark.parametrize("levels", [31, 32, 33])
def test_a_value_nested_too_deep_is_refused_not_left_unread(psx_kernel, tmp_path, levels):
    """An unknown member's value may nest arrays to depth 32: the value under the 33rd
    level is refused, not skipped unread.  An unread value would leave what follows it to
    be taken as the array's next ``,`` — ``[,]`` there would pass.  Written for the
    survivor gvm_meta.c:skip:const_2 (the too-deep case's ``c->bad = 1`` made 0)."""
    from test_target_runtime import same_modules
    d, kernel = psx_kernel
    data = (d / "fpmod.elf").read_bytes()
    for inner in (b"0", b","):
        (tmp_path / "fpmod.elf").write_bytes(_nested_in_place_of_the_hash(data, inner, levels))
        host, tl = pair("psx", kernel, tmp_path)
        want = host_load(host, "fpmod")[1]
        assert tl.load_module("fpmod")[1] == want, (inner, levels)
        if inner == b"0" and levels <= 31:
            assert want == TLoadStatus.lsSuccess       # the case reaches the skipped value
            same_modules(host, tl)


def test_an_undefined_symbols_size_does_not_hide_its_weakness(psx_kernel, tmp_path):
    """Whether an import is weak is its undefined symbol's st_info, whatever its st_size
    (nothing reads the size of an undefined symbol): a weak import left unresolved, its
    size's top byte 3 (STT_SECTION's value, one byte before st_info), still binds to 0 in
    both loaders.  Written for the survivor gvm_loader.c:import_is_weak:const_7 (the type
    read from t[11], st_size's last byte on a little-endian console, not t[12])."""
    from test_target_runtime import same_modules
    _d, kernel = psx_kernel
    (tmp_path / "wk.c").write_text("extern int wk_nowhere(int) __attribute__((weak));\n"
                                   "int wk_f(int x) { return wk_nowhere ? wk_nowhere(x) : x + 1; }\n")
    proc = run_gamevm("module", "-t", "psx", "-o", tmp_path / "wk.elf", tmp_path / "wk.c")
    assert proc.returncode == 0, proc.stderr
    data = bytearray((tmp_path / "wk.elf").read_bytes())
    shoff, = struct.unpack_from("<I", data, 32)
    shnum, = struct.unpack_from("<H", data, 48)
    headers = [struct.unpack_from("<10I", data, shoff + 40 * i) for i in range(shnum)]
    patched = 0
    for h in headers:
        if h[1] != 2:                                   # SHT_SYMTAB
            continue
        strtab = headers[h[6]]
        for at in range(h[4] + 16, h[4] + h[5], 16):
            name, _value, _size, info, _other, shndx = struct.unpack_from("<IIIBBH", data, at)
            end = data.index(b"\0", strtab[4] + name)
            if bytes(data[strtab[4] + name:end]) == b"wk_nowhere" and shndx == 0:
                assert info >> 4 == 2                   # STB_WEAK
                struct.pack_into("<I", data, at + 8, 0x03000000)
                patched += 1
    assert patched
    (tmp_path / "wk.elf").write_bytes(bytes(data))
    host, tl = pair("psx", kernel, tmp_path)
    assert host_load(host, "wk")[1] == TLoadStatus.lsSuccess
    assert tl.load_module("wk")[1] == TLoadStatus.lsSuccess
    same_modules(host, tl)


@pytest.mark.parametrize("target", ["psx"])
def test_safe_mode_counts_a_bltzal_as_a_call(tmp_path, target):
    """The return address safe mode checks may follow a ``bltzal`` (branch-and-link on less
    than zero, rt 16), not only a ``jal``: a module that reaches UnloadModule (by a tail
    jump) from one is running, and both loaders refuse to unload it.  Written for the
    survivor gvm_reloc.c:gvm_after_call:const_27 (bltzal's rt read from the wrong bit)."""
    from gamevm_build.play.console import Console
    src = tmp_path / "selfish.c"
    src.write_text(
        '#include "gamevm.h"\n'
        "int drop_me(TModuleHandle h) {\n"
        "    int r;\n"
        "    __asm__ volatile(\".set noreorder\\n\"\n"
        "        \"addiu $sp, $sp, -24\\n sw $ra, 20($sp)\\n\"\n"
        "        \"lui $t0, 0x8000\\n move $a0, %1\\n\"\n"
        "        \"bltzal $t0, 1f\\n nop\\n\"\n"
        "        \"b 2f\\n move %0, $v0\\n\"\n"
        "        \"1: j UnloadModule\\n nop\\n\"\n"
        "        \"2: lw $ra, 20($sp)\\n addiu $sp, $sp, 24\\n .set reorder\\n\"\n"
        "        : \"=r\"(r) : \"r\"(h)\n"
        "        : \"t0\", \"t1\", \"t2\", \"t3\", \"t4\", \"t5\", \"t6\", \"t7\", \"t8\", \"t9\",\n"
        "          \"a0\", \"a1\", \"a2\", \"a3\", \"v0\", \"v1\", \"at\", \"memory\");\n"
        "    return r + 100;\n"
        "}\n")
    kernel_c = tmp_path / "kernel.c"
    kernel_c.write_text("void _start(void) {}\n")
    proc = run_gamevm("module", "-t", target, "-o", tmp_path / "selfish.elf", src)
    assert proc.returncode == 0, proc.stderr
    for runtime in ("host", "target"):
        proc = run_gamevm("resident", "-t", target, "-o", tmp_path / f"kernel-{runtime}.elf",
                          "--runtime", runtime, "--modules", tmp_path / "selfish.elf", kernel_c)
        assert proc.returncode == 0, proc.stderr
    for runtime in ("host", "target"):
        c = Console(target, tmp_path / f"kernel-{runtime}.elf", search_paths=[tmp_path])
        lm = c.load("selfish")
        assert c.call(lm.symbols["drop_me"], lm.handle) == 100 + TLoadStatus.lsModuleInUse
        assert c.loader.by_name("selfish") is not None


@pytest.mark.parametrize("form", ["plain", "packed"])
@pytest.mark.parametrize("image_size", [b"4149", b"4147"])
def test_an_image_of_odd_size_is_zeroed_to_its_last_byte(psx_kernel, tmp_path, form,
                                                         image_size):
    """A metadata ``image_size`` past the sections' end and not a multiple of 4 (here the
    linker's 4144 made 4149 or 4147): the .bss to the image's last byte is zeroed over a
    heap full of garbage, the same bytes in both loaders.  Written for the survivor
    gvm_loader.c:fill:const_5 (the odd tail's ``n &= 3`` made ``n &= 2``)."""
    from gamevm_build.link.shipform import convert
    from gamevm_build.link.resident import read_resident
    from gamevm_build.runtime.reference import default_regions
    from test_target_runtime import same_modules
    _d, kernel = psx_kernel
    (tmp_path / "ob.c").write_text("char ob_buf[4097];\n"
                                   "char ob_get(int i) { return ob_buf[i]; }\n")
    proc = run_gamevm("module", "-t", "psx", "-o", tmp_path / "ob.elf", tmp_path / "ob.c")
    assert proc.returncode == 0, proc.stderr
    data = convert((tmp_path / "ob.elf").read_bytes(), form)
    assert data.count(b'"image_size":4144,') == 1
    (tmp_path / "ob.elf").write_bytes(
        data.replace(b'"image_size":4144,', b'"image_size":' + image_size + b","))
    host, tl = pair("psx", kernel, tmp_path)
    for m in (host.machine, tl.machine):
        heap = default_regions(m, read_resident(kernel, "psx"))[0]
        m.write(heap.start, b"\xa5" * 0x2000)
    assert host_load(host, "ob")[1] == TLoadStatus.lsSuccess
    assert tl.load_module("ob")[1] == TLoadStatus.lsSuccess
    same_modules(host, tl)


@pytest.mark.parametrize("target", ["psx"])
@pytest.mark.parametrize("form", ["plain", "packed"])
def test_a_packed_modules_only_call_out_of_range_is_refused(tmp_path, form, target):
    """A module placed in the PS1 scratchpad (0x1F800000, another 256 MB segment than the
    resident's code) whose one relocation is a ``jal`` to the resident: the call cannot
    reach, and both loaders refuse it (lsRelocationError), in the packed form too, where
    the runtime counts the relocations it must check as it reads them.  Written for the
    survivors gvm_relpack.c:relpack_read:const_23 (the count skipping the first
    relocation) and :const_26 (the type taken from the addend's word)."""
    from gamevm_build.link.resident import read_resident
    from gamevm_build.link.shipform import convert
    from gamevm_build.runtime.allocator import Region
    from gamevm_build.runtime.target import TargetLoader
    kernel = build_modules(tmp_path, target, {"far": "int k_fn(int);\n"
                                                    "int g(int x) { return k_fn(x); }\n"},
                           "int k_fn(int x) { return x + 1; }\n", keep=["k_fn"])
    path = tmp_path / "far.elf"
    path.write_bytes(convert(path.read_bytes(), form))
    host, _tl = pair("psx", kernel, tmp_path)
    scratch = [Region("far", 0x1F800000, 0x400)]
    host.allocator.regions = scratch
    tl = TargetLoader(_tl.machine, _tl.reader, scratch, resident=read_resident(kernel, "psx"))
    assert host_load(host, "far")[1] == TLoadStatus.lsRelocationError
    assert tl.load_module("far")[1] == TLoadStatus.lsRelocationError
