"""The console-side C runtime where mutation testing (bench/mutation_c.py, docs/testing.md
"The C runtime") found the differential tests blind: each test here fails on a mutant of
gamevm_build/runtime/loader/*.c or codec/*.c that survived them, a real bug of that shape
that would have gone unnoticed (but one: test_a_binding_to_the_end_of_an_evicted_module_is_not_its,
see its docstring).
Same oracle as tests/test_target_runtime.py: the reference loader on the same console."""

from __future__ import annotations

import io
import re
import struct
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from conftest import REPO, run_gamevm, section_header
from gamevm_build.runtime.reference import LoadError, TLoadStatus
from example_game import example_game  # noqa: F401  (fixture)
from test_target_runtime import build_modules, built, host_load, pair  # noqa: F401


def sweep_work_sizes(target: str, kernel, directory, name: str, sizes, extra_needs=None):
    """Load ``name`` with a work area of each of ``sizes`` on a fresh pair of loaders:
    each load fails lsOutOfMemory, loading nothing, or loads the reference loader's bytes.
    ``extra_needs``: the project's needs (GameVMAddNeed), given to both.
    Yields ``(status, host loader, target loader)``."""
    from test_target_runtime import same_modules
    for size in sizes:
        if extra_needs:
            host, tl = pair(target, kernel, directory, work_size=size, extra_needs=extra_needs)
            host.extra_needs = extra_needs
        else:
            host, tl = pair(target, kernel, directory, work_size=size)
        status = tl.load_module(name)[1]
        assert status in (TLoadStatus.lsOutOfMemory, TLoadStatus.lsSuccess), (size, status)
        if status == TLoadStatus.lsSuccess:
            assert host_load(host, name)[1] == TLoadStatus.lsSuccess
            same_modules(host, tl)
        else:
            assert not tl.loaded, size
        yield status, host, tl


def same_on_a_dirty_heap(kernel, directory, name: str, size: int) -> None:
    """Load ``name`` from ``directory`` with both loaders over a heap whose first ``size``
    bytes are 0xA5: what the file does not give must be zeroed alike (same RAM)."""
    from gamevm_build.link.resident import read_resident
    from gamevm_build.runtime.reference import default_regions
    from test_target_runtime import same_modules
    host, tl = pair("psx", kernel, directory)
    for m in (host.machine, tl.machine):
        heap = default_regions(m, read_resident(kernel, "psx"))[0]
        m.write(heap.start, b"\xa5" * size)
    assert host_load(host, name)[1] == TLoadStatus.lsSuccess
    assert tl.load_module(name)[1] == TLoadStatus.lsSuccess
    same_modules(host, tl)


def module_from(directory, name: str, source: str, *, target: str = "psx",
                needs=()) -> Path:
    """``name``.elf in ``directory``, linked by ``gamevm module`` for ``target`` from the C
    ``source`` (written to ``name``.c), declaring the modules ``needs`` (in ``directory``)."""
    (directory / f"{name}.c").write_text(source)
    proc = run_gamevm("module", "-t", target, "-o", directory / f"{name}.elf",
                      *[a for n in needs for a in ("--needs", directory / f"{n}.elf")],
                      directory / f"{name}.c")
    assert proc.returncode == 0, proc.stderr
    return directory / f"{name}.elf"


class FailingRead(dict):
    """The emulated drive's open files (``TargetLoader.files``), failing read number
    ``fail`` (0 = none): a disc read error the drive gets past."""
    def __init__(self, fail: int):
        super().__init__()
        self.fail, self.reads = fail, 0

    def get(self, fd, default=None):          # the device looks a file up per read
        self.reads += 1
        return default if self.reads == self.fail else super().get(fd, default)


def heap_of(target: str, kernel):
    """The first region the reference loader gives a game of ``kernel`` by default (the
    RAM above the resident)."""
    from gamevm_build.emu.machine import Machine
    from gamevm_build.link.resident import read_resident
    from gamevm_build.runtime.reference import default_regions
    m = Machine(target)
    m.load_elf(kernel)
    return default_regions(m, read_resident(kernel, target))[0]


def pair_over(target: str, kernel, directory, regions, placement=None, **target_options):
    """A reference loader and a C runtime over the game's own ``regions`` (and
    ``placement``), on fresh consoles of ``target`` (``target_options``: the
    TargetLoader's)."""
    from gamevm_build.emu.machine import Machine
    from gamevm_build.link.resident import read_resident
    from gamevm_build.runtime.readers import DirectoryReader
    from gamevm_build.runtime.reference import Loader, LoaderPolicy
    from gamevm_build.runtime.target import TargetLoader
    resident = read_resident(kernel, target)
    host_m, target_m = Machine(target), Machine(target)
    for m in (host_m, target_m):
        m.load_elf(kernel)
    host = Loader(host_m, resident, DirectoryReader([directory]), regions,
                  policy=LoaderPolicy(verify_hash=False), placement=placement or {})
    tl = TargetLoader(target_m, DirectoryReader([directory]), regions, resident=resident,
                      placement=placement or {}, **target_options)
    return host, tl


def loaded_as(kernel, directory: Path, name: str, data: bytes, want: TLoadStatus) -> None:
    """Module ``name`` written as ``data`` into ``directory``: both loaders on the psx
    ``kernel`` give it status ``want``."""
    (directory / f"{name}.elf").write_bytes(data)
    host, tl = pair("psx", kernel, directory)
    assert host_load(host, name)[1] == want
    assert tl.load_module(name)[1] == want


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
    ("n64", 0x20001000),        # MIPS III, the VR4300's (flags_ok:const_39 read 0x20 >> 27)
    ("n64", 0x30001000),        # MIPS IV: above it
    ("n64", 0xA0001000),        # MIPS64R6, the last architecture e_flags names
    ("n64", 0xB0001000),        # one past it, unknown (flags_ok:ror_4 read past the table)
    ("gba", 0x05000001),        # low bits that say nothing of the ABI (flags_ok:const_44)
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


def test_every_mips_architecture_in_a_ps1_modules_flags_gets_the_host_status(psx_kernel,
                                                                             tmp_path):
    """A PS1 module's e_flags naming each of the 16 MIPS architectures: the R3000 runs
    MIPS I only, so every other one (MIPS II first) is a bad file to both loaders, and
    MIPS I loads.  Written for the survivor gvm_loader.c:flags_ok:const_6 (MIPS II taken
    for level 1 in the table of levels)."""
    d, kernel = psx_kernel
    data = bytearray((d / "fpmod.elf").read_bytes())
    flags, = struct.unpack_from("<I", data, 36)
    seen = {}
    for arch in range(16):
        struct.pack_into("<I", data, 36, flags & 0x0FFFFFFF | arch << 28)
        (tmp_path / "fpmod.elf").write_bytes(bytes(data))
        host, tl = pair("psx", kernel, tmp_path)
        seen[arch] = host_load(host, "fpmod")[1], tl.load_module("fpmod")[1]
    assert seen == {arch: (TLoadStatus.lsBadFormat,) * 2 if arch else (TLoadStatus.lsSuccess,) * 2
                    for arch in range(16)}


def test_as_many_modules_as_the_runtime_has_slots_load_like_the_host(psx_kernel, tmp_path):
    """The runtime keeps GVM_MAX_MODULES (32) modules at once: the 32nd loads, at the
    reference loader's base, the same bytes.  A 33rd (the reference loader has no such
    limit) is refused with lsOutOfMemory, changing nothing, and loads once a slot is free.
    The refusal was written for the survivor gvm_loader.c:link_prepare:status_1 (no free
    record made a success of the load's link phase)."""
    from gamevm_build.link.linker import link_module
    from gamevm_build.link.toolchain import find_toolchain
    from test_target_runtime import same_modules

    _d, kernel = psx_kernel
    tc = find_toolchain("psx")
    for i in range(33):
        src = tmp_path / f"slot{i}.c"
        src.write_text(f"int slot{i}_value(int x) {{ return x + {i}; }}\n")
        link_module("psx", [tc.compile(src, tmp_path / f"slot{i}.o")], tmp_path / f"slot{i}.elf")
    host, tl = pair("psx", kernel, tmp_path)
    handles = []
    for i in range(32):
        assert host_load(host, f"slot{i}")[1] == TLoadStatus.lsSuccess
        handle, status = tl.load_module(f"slot{i}")
        assert status == TLoadStatus.lsSuccess, f"slot{i}"
        handles.append(handle)
    same_modules(host, tl)
    assert tl.load_module("slot32") == (0, TLoadStatus.lsOutOfMemory)
    same_modules(host, tl)
    assert tl.unload_module(handles[0]) == TLoadStatus.lsSuccess
    host.unload(host.by_name("slot0").handle)
    assert tl.load_module("slot32")[1] == TLoadStatus.lsSuccess
    assert host_load(host, "slot32")[1] == TLoadStatus.lsSuccess
    same_modules(host, tl)


def sync_load_waits_for(tl, rec, writing: str, request: str) -> None:
    """While the asynchronous request ``rec`` writes module ``writing``, a synchronous
    LoadModule of ``request`` says lsPending and changes nothing; once ``rec`` is done,
    it loads."""
    from test_target_runtime import frames_until_done, frames_until_writing
    frames_until_writing(tl, rec, writing)
    assert rec["frame_completed"] is None
    assert tl.load_module(request) == (0, TLoadStatus.lsPending)
    assert tl.by_name(request) is None
    frames_until_done(tl, rec)
    assert rec["status"] == "lsSuccess"
    assert tl.load_module(request)[1] == TLoadStatus.lsSuccess


def plain_copies(out: Path, directory: Path, names) -> None:
    """The example's modules ``names`` in plain form, into ``directory``."""
    from gamevm_build.link.shipform import convert
    for name in names:
        (directory / f"{name}.elf").write_bytes(
            convert((out / f"{name}.elf").read_bytes(), "plain"))


@pytest.mark.parametrize("built", ["psx"], indirect=True)
def test_a_metadata_need_being_written_makes_a_sync_load_pending(built, tmp_path):
    """As test_a_need_being_written_makes_a_sync_load_pending, with the need named by the
    module's own metadata: a synchronous LoadModule of level1 while its need physics is
    being written by an asynchronous load says lsPending and changes nothing; once that
    request is done, level1 loads as on the host.  Written for the survivor
    gvm_loader.c:next_need:status_1 (lsSuccess there: level1 was bound to a need whose
    image was half read)."""
    from test_target_runtime import same_modules
    target, out, kernel = built
    plain_copies(out, tmp_path, ("physics", "level1"))
    host, tl = pair(target, kernel, tmp_path)
    rec = tl.load_async("physics", slice_ms=0.01)   # a few hundred cycles a frame
    sync_load_waits_for(tl, rec, "physics", "level1")
    for name in ("physics", "level1"):
        host_load(host, name)
    same_modules(host, tl)


@pytest.mark.parametrize("built", ["psx"], indirect=True)
def test_a_need_being_written_makes_a_sync_load_pending(built, tmp_path):
    """The project's needs (GameVMAddNeed) load first: when one is still being written by an
    asynchronous load, a synchronous LoadModule of the module that needs it says lsPending
    and changes nothing; once the request is done, it loads as on the host.  (A work area
    of 6 KiB: too small for level1's whole file, so its image is read over several frames,
    and room enough for the synchronous load's own first read.)"""
    from test_target_runtime import same_modules
    target, out, kernel = built
    plain_copies(out, tmp_path, ("physics", "level1"))
    module_from(tmp_path, "a", "int a_f(int x) { return x + 1; }\n",
                target=target)
    needs = {"a": ["level1"]}
    host, tl = pair(target, kernel, tmp_path, work_size=0x1800, extra_needs=needs)
    host.extra_needs = needs
    assert tl.load_module("physics")[1] == TLoadStatus.lsSuccess
    rec = tl.load_async("level1")
    sync_load_waits_for(tl, rec, "level1", "a")
    for name in ("physics", "level1", "a"):
        host_load(host, name)
    same_modules(host, tl)


USER_OF_MID = "extern int mid_f(int);\nint user_f(int x) { return mid_f(x) + 1; }\n"


def eviction_game(tmp_path, target: str, sources: dict):
    """Both loaders (:func:`test_target_runtime.overlay_loaders`) over modules mid, other
    and ``sources``, and top, which needs mid; top and other are placed in the overlay Ovl,
    so that loading other evicts top."""
    from test_target_runtime import overlay_loaders
    host, tl = overlay_loaders(tmp_path, target, {
        "mid": "int mid_f(int x) { return x * 3; }\n",
        "other": "int other_f(void) { return 99; }\n", **sources},
        {"top": "Ovl", "other": "Ovl"})
    module_from(tmp_path, "top", "extern int mid_f(int);\n"
                                 "int top_f(int x) { return mid_f(x); }\n",
                target=target, needs=["mid"])
    return host, tl


def top_evicted_alike(host, tl, holder: str) -> None:
    """Load top (placed in the overlay Ovl, needing mid) and ``holder`` (binding into mid)
    on both consoles, then other, which evicts top: both keep mid for ``holder``."""
    from test_target_runtime import same_modules
    for name in ("top", holder):
        host.load(name, needs=True)
        assert tl.load_module(name)[1] == TLoadStatus.lsSuccess
    same_modules(host, tl)
    host.load("other")                                      # evicts top
    assert tl.load_module("other")[1] == TLoadStatus.lsSuccess
    assert {lm.name for lm in host.loaded.values()} == {"mid", holder, "other"}
    same_modules(host, tl)


@pytest.mark.parametrize("target", ["psx"])
def test_an_eviction_keeps_a_need_another_module_still_holds(tmp_path, target):
    """top (in the overlay) and side both declare mid as a need; side calls nothing in it.
    Evicting top drops top's reference only: mid keeps side's, so both loaders keep it
    (nothing binds into it, so only its reference count says it is held)."""
    host, tl = eviction_game(tmp_path, target, {})
    module_from(tmp_path, "side", "int side_f(int x) { return x - 1; }\n", target=target,
                needs=["mid"])
    top_evicted_alike(host, tl, "side")


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
    (b"\x7f" * 3, TLoadStatus.lsSuccess),          # DEL, the last one-byte form
    (b"\xed\x9f\xbf", TLoadStatus.lsSuccess),      # U+D7FF, the last before the surrogates
    (b"\xed\xa0\x80", TLoadStatus.lsBadFormat),    # U+D800, the first surrogate
    (b"\xed\xbf\xbf", TLoadStatus.lsBadFormat),    # U+DFFF, the last
    (b"\xee\x80\x80", TLoadStatus.lsSuccess),      # U+E000, the first after them
    (b"\xe0\xa0\x80", TLoadStatus.lsSuccess),      # U+0800, the shortest three-byte form
    (b"\xe0\x9f\xbf", TLoadStatus.lsBadFormat),    # U+07FF in three bytes: overlong
    (b"\x80\x80\x80", TLoadStatus.lsBadFormat),    # continuation bytes alone
    (b"\xf0\x9f\x98\x80", TLoadStatus.lsSuccess),  # U+1F600, four bytes (utf8_len:lcr_2)
    (b"\xf4\x8f\xbf\xbf", TLoadStatus.lsSuccess),  # U+10FFFF, the last code point
    (b"\xf4\x90\x80\x80", TLoadStatus.lsBadFormat),  # one past it
    (b"\xf0\x8f\xbf\xbf", TLoadStatus.lsBadFormat),  # U+FFFF in four bytes: overlong
])
def test_metadata_strings_are_utf8_as_python_decodes_it(psx_kernel, tmp_path, char, want):
    """The metadata note is strict JSON in strict UTF-8: a string in it (here an unknown
    key's value, in place of ``"entry":null``) holding a surrogate or an overlong form
    is refused by both loaders, its neighbours are taken (the key is as much shorter as
    the case is longer, so that the note keeps its size)."""
    d, kernel = psx_kernel
    data = (d / "fpmod.elf").read_bytes()
    assert data.count(b'"entry":null') == 1
    key = b"xyzwvu"[:7 - len(char)]
    (tmp_path / "fpmod.elf").write_bytes(
        data.replace(b'"entry":null', b'"' + key + b'":"' + char + b'"'))
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


@pytest.mark.parametrize("squatter_first, import_first", [(False, ""), (True, ""),
                                                          (True, "plain"), (False, "weak")])
def test_a_lazy_binding_holds_its_provider_in_both_loaders(psx_kernel, tmp_path,
                                                           squatter_first, import_first):
    """Once squatter's lazy import is bound (its first call), squatter holds prov as an eager
    binding would: unloading prov keeps it while the binding does, in both loaders; it goes
    with squatter (tests/test_runtime.py's test for the reference loader, here against the
    runtime).  Loaded before prov, squatter is in the runtime's first slot, which holds
    like any other (the survivor gvm_loader.c:bound_into:const_1 began at the second).
    With ``import_first`` squatter's symbol table holds its globals alone, the import
    first (:func:`globals_only`): symbol 1 is stubbed and bound like any other, and when
    it is weak it is bound at the load, as weak imports are (killing
    gvm_stubs.c:scan_imports:const_40, whose loop reading the weak flags began at 2)."""
    from gamevm_build.runtime.target import LOAD_LAZY
    from test_target_runtime import same_modules

    weak = " __attribute__((weak))" if import_first == "weak" else ""
    kernel = build_modules(tmp_path, "psx", {
        "prov": "int prov_f(int x) { return x + 8; }\n",
        "squatter": f"extern int prov_f(int){weak};\nint squat(int x) {{ return prov_f(x); }}\n"})
    if import_first:
        path = tmp_path / "squatter.elf"
        path.write_bytes(globals_only(path.read_bytes(), "prov_f"))
    host, tl = pair("psx", kernel, tmp_path)
    for name in (["squatter", "prov"] if squatter_first else ["prov", "squatter"]):
        if name == "prov":
            prov = host.load("prov")
            t_prov, status = tl.load_module("prov")
        else:
            squatter = host.load("squatter", lazy=True)
            t_squatter, status = tl.load_module("squatter", LOAD_LAZY)
        assert status == TLoadStatus.lsSuccess
    same_modules(host, tl)                                  # a stub's call, or prov_f's
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
    from gamevm_build.runtime.allocator import Region
    from test_target_runtime import same_modules

    kernel = build_modules(tmp_path, target, {"first": "int first_f(int x) { return x; }\n",
                                              "second": "int second_f(void) { return 2; }\n"})
    heap = heap_of(target, kernel)
    regions = [Region("Ovl", heap.end - 0x2000, 0x2000, "overlay"),
               Region("Main", heap.start, heap.size - 0x4000)]
    host, tl = pair_over(target, kernel, tmp_path, regions, {"first": "Ovl", "second": "Ovl"})
    lm = host.load("first")
    assert tl.load_module("first")[1] == TLoadStatus.lsSuccess
    assert regions[0].start <= lm.base < regions[0].start + regions[0].size
    same_modules(host, tl)
    host.load("second")                                     # evicts first
    assert tl.load_module("second")[1] == TLoadStatus.lsSuccess
    assert tl.by_name("first") is None
    same_modules(host, tl)


@pytest.mark.parametrize("target", ["psx"])
def test_a_module_placed_nowhere_goes_to_the_first_general_region_not_the_first(tmp_path,
                                                                                 target):
    """The game's first region is an overlay, where only first is placed: second, placed
    nowhere, goes to the first general region with room (Main) in both loaders, and first
    stays.  Written for the survivor gvm_loader.c:placed_region:const_4 (no placement
    made region 0: second went into the overlay, evicting first)."""
    from gamevm_build.runtime.allocator import Region
    from test_target_runtime import same_modules

    kernel = build_modules(tmp_path, target, {"first": "int first_f(int x) { return x; }\n",
                                              "second": "int second_f(void) { return 2; }\n"})
    heap = heap_of(target, kernel)
    regions = [Region("Ovl", heap.end - 0x2000, 0x2000, "overlay"),
               Region("Main", heap.start, heap.size - 0x4000)]
    host, tl = pair_over(target, kernel, tmp_path, regions, {"first": "Ovl"})
    host.load("first")
    assert tl.load_module("first")[1] == TLoadStatus.lsSuccess
    lm = host.load("second")
    assert tl.load_module("second")[1] == TLoadStatus.lsSuccess
    assert lm.region.name == "Main" and tl.by_name("first") is not None
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


@pytest.mark.parametrize("value,want", [
    ("éaaé".encode(), TLoadStatus.lsSuccess),           # two-byte sequences (U+00E9)
    ("\u07ffaaé".encode(), TLoadStatus.lsSuccess),     # the last lead byte of two, 0xDF
    ("€abc".encode(), TLoadStatus.lsSuccess),           # a three-byte one
    (b"\x80aaaaa", TLoadStatus.lsBadFormat),            # a continuation byte alone
])
def test_utf8_in_a_metadata_string_is_read_by_its_sequences(psx_kernel, tmp_path, value, want):
    """A string of the metadata (an unknown key's value, in place of ``"entry":null``) may
    hold any UTF-8: two- and three-byte sequences load in both loaders, a continuation byte
    alone does not.  Written for the survivor gvm_meta.c:utf8_len:const_11 (a two-byte
    sequence taken for one byte: its second byte then refused)."""
    d, kernel = psx_kernel
    data = (d / "fpmod.elf").read_bytes()
    member = b'"x":"' + value + b'"'
    assert len(member) == len(b'"entry":null')
    (tmp_path / "fpmod.elf").write_bytes(data.replace(b'"entry":null', member))
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


def test_a_module_without_a_symbol_table_is_refused_whatever_lies_before_its_headers(
        psx_kernel, tmp_path):
    """fpmod with its symbol table made SHT_PROGBITS and its section headers moved to the
    file's end, after a copy of the symbol table's header: the file has no symbol table,
    which both loaders refuse (lsBadFormat), however much the 40 bytes before the headers
    look like one.  Written for the survivor gvm_loader.c:read_symbols:const_1 (the
    "none found" index compared with 0x100000000, which a u32 never equals: the runtime
    took the header before the table's first, these bytes, for the symbol table's, and
    loaded the module)."""
    d, kernel = psx_kernel
    data = (d / "fpmod.elf").read_bytes()
    shoff, = struct.unpack_from("<I", data, 32)
    shnum, = struct.unpack_from("<H", data, 48)
    table = bytearray(data[shoff:shoff + 40 * shnum])
    sym = next(i for i in range(shnum) if struct.unpack_from("<I", table, 40 * i + 4)[0] == 2)
    fake = bytes(table[40 * sym:40 * sym + 40])
    struct.pack_into("<I", table, 40 * sym + 4, 1)
    pad = bytes(-len(data) % 4)
    moved = bytearray(data + pad + fake + table)
    struct.pack_into("<I", moved, 32, len(data) + len(pad) + 40)
    assert len(moved) <= 2048                    # all of it in the runtime's first read
    (tmp_path / "fpmod.elf").write_bytes(bytes(moved))
    host, tl = pair("psx", kernel, tmp_path)
    assert host_load(host, "fpmod")[1] == TLoadStatus.lsBadFormat
    assert tl.load_module("fpmod")[1] == TLoadStatus.lsBadFormat
    assert not tl.loaded


def fpmod_aligned(d, kernel, directory, align: bytes):
    """``fpmod`` with its metadata's ``"align":16,"entry":null`` replaced by ``align`` (as
    long: the file keeps its layout) in ``directory``, and a pair of loaders over it."""
    data = (d / "fpmod.elf").read_bytes()
    old = b'"align":16,"entry":null'
    assert data.count(old) == 1 and len(align) == len(old)
    (directory / "fpmod.elf").write_bytes(data.replace(old, align))
    return pair("psx", kernel, directory)


@pytest.mark.parametrize("align,want", [(b'"align":65536,"xyzwv":0', TLoadStatus.lsSuccess),
                                        (b'"align":131072,"xyzw":0', TLoadStatus.lsBadFormat)])
def test_the_largest_module_alignment_is_64_kib(psx_kernel, tmp_path, align, want):
    """The metadata's ``align`` may be any power of two up to 64 KiB (a bigger one is
    refused): a module asking for exactly 64 KiB loads at the same 64 KiB boundary in both
    loaders.  (The ``"entry":null`` member makes room for the longer number.)"""
    from test_target_runtime import same_modules
    d, kernel = psx_kernel
    host, tl = fpmod_aligned(d, kernel, tmp_path, align)
    lm, status = host_load(host, "fpmod")
    assert status == want
    assert tl.load_module("fpmod")[1] == want
    if lm is not None:
        assert lm.base % 0x10000 == 0
    same_modules(host, tl)



@pytest.mark.parametrize("align,want", [(b'"align":4294967312,"":0', TLoadStatus.lsBadFormat),
                                        (b'"align":4294967296,"":0', TLoadStatus.lsBadFormat),
                                        (b'"align":4294967298,"":0', TLoadStatus.lsBadFormat),
                                        (b'"align":4294967286,"":0', TLoadStatus.lsBadFormat)])
def test_a_metadata_number_past_32_bits_does_not_wrap(psx_kernel, tmp_path, align, want):
    """A metadata number that does not fit 32 bits is refused, not taken modulo 2**32:
    ``align`` 2**32 + 16 would wrap to a valid 16, 2**32 + 2 to a valid 2 (the last digit
    past 429496729...); 4294967286 fits (no power of two: refused as an alignment).
    Written for the survivors gvm_meta.c:number:lcr_5 (the overflow test's ``||`` made
    ``&&``, never true) and number:const_13 (the last digit's bound checked after
    429496728, not 429496729)."""
    d, kernel = psx_kernel
    host, tl = fpmod_aligned(d, kernel, tmp_path, align)
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
    module_from(tmp_path, "wk", "extern int wk_nowhere(int) __attribute__((weak));\n"
                                "int wk_f(int x) { return wk_nowhere ? wk_nowhere(x) : x + 1; }\n")
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


@pytest.mark.parametrize("target,branch", [
    ("psx", "bltzal $t0"), ("psx", "bgezal $zero"),
    ("n64", "bltzall $t0"), ("n64", "bgezall $zero")])
def test_safe_mode_counts_a_bltzal_as_a_call(tmp_path, target, branch):
    """The return address safe mode checks may follow a ``bltzal`` or a ``bgezal``
    (branch-and-link on less than zero, rt 16; on greater or equal, rt 17: ``bal``), or on
    the N64's VR4300 (MIPS III) their branch-likely forms (rt 18 and 19), not only a
    ``jal``: a module that reaches UnloadModule (by a tail jump) from one is running, and
    both loaders refuse to unload it.  Written for the survivors
    gvm_reloc.c:gvm_after_call:const_27 (bltzal's rt read from the wrong bit) and
    :const_24 (bgezal's rt masked with 0x1E, which no odd rt matches); the branch-likely
    forms found the runtime taking them for no call, where the reference loader does."""
    from gamevm_build.play.console import Console
    src = tmp_path / "selfish.c"
    src.write_text(
        '#include "gamevm.h"\n'
        "int drop_me(TModuleHandle h) {\n"
        "    int r;\n"
        "    __asm__ volatile(\".set noreorder\\n\"\n"
        "        \"addiu $sp, $sp, -24\\n sw $ra, 20($sp)\\n\"\n"
        "        \"lui $t0, 0x8000\\n move $a0, %1\\n\"\n"
        f"        \"{branch}, 1f\\n nop\\n\"\n"
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
    _d, kernel = psx_kernel
    module_from(tmp_path, "ob", "char ob_buf[4097];\n"
                                "char ob_get(int i) { return ob_buf[i]; }\n")
    data = convert((tmp_path / "ob.elf").read_bytes(), form)
    assert data.count(b'"image_size":4144,') == 1
    (tmp_path / "ob.elf").write_bytes(
        data.replace(b'"image_size":4144,', b'"image_size":' + image_size + b","))
    same_on_a_dirty_heap(kernel, tmp_path, "ob", 0x2000)


@pytest.mark.parametrize("target", ["psx"])
@pytest.mark.parametrize("form", ["plain", "packed"])
# after-data: the module's own data relocations come first in a packed module; a function
# without relocations first keeps their offsets' low bytes off 4 (R_MIPS_26's number)
@pytest.mark.parametrize("before", ["", "int twice(int x) { return 2 * x + 1; }\n"
                                        "int *p;\nint h(void) { return *p; }\n"],
                         ids=["alone", "after-data"])
def test_a_packed_modules_only_call_out_of_range_is_refused(tmp_path, form, target, before):
    """A module placed in the PS1 scratchpad (0x1F800000, another 256 MB segment than the
    resident's code) whose one call is a ``jal`` to the resident: the call cannot reach,
    and both loaders refuse it (lsRelocationError), in the packed form too, where the
    runtime counts the relocations it must check as it reads them: the call alone, or
    after the module's own data relocations (a packed module lists those first).  Written
    for the survivors gvm_relpack.c:relpack_read:const_23 (the count skipping the first
    relocation), :const_26 (the type taken from the addend's word) and :const_25 (from
    8-byte entries' places in the 12-byte table)."""
    from gamevm_build.link.resident import read_resident
    from gamevm_build.link.shipform import convert
    from gamevm_build.runtime.allocator import Region
    from gamevm_build.runtime.target import TargetLoader
    kernel = build_modules(tmp_path, target, {"far": before + "int k_fn(int);\n"
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


def _resealed(data: bytes) -> bytes:
    """``data`` with its metadata's hash made the one its changed contents hash to."""
    from gamevm_build.errors import ModuleChecksumError
    from gamevm_build.link.module import read_module
    try:
        read_module(data)
        return data
    except ModuleChecksumError as exc:
        assert data.count(exc.recorded.encode()) == 1
        return data.replace(exc.recorded.encode(), exc.actual.encode())


def _with_section_header(data: bytes, name: bytes, **fields: int) -> bytes:
    """``data`` (a module) with the section ``name``'s header fields (``type``, ``addr``,
    ``offset``, ``size``, ``link``, ``entsize``) set as given; the bytes stay where they are."""
    order = "<" if data[5] == 1 else ">"
    shoff, = struct.unpack_from(order + "I", data, 32)
    shnum, shstrndx = struct.unpack_from(order + "HH", data, 48)
    names = struct.unpack_from(order + "10I", data, shoff + 40 * shstrndx)[4]
    for i in range(shnum):
        at = names + struct.unpack_from(order + "I", data, shoff + 40 * i)[0]
        if data[at:data.index(b"\0", at)] == name:
            out = bytearray(data)
            for field, value in fields.items():
                where = {"type": 4, "addr": 12, "offset": 16, "size": 20, "link": 24,
                         "entsize": 36}[field]
                struct.pack_into(order + "I", out, shoff + 40 * i + where, value)
            return bytes(out)
    raise KeyError(name)


def test_a_null_section_named_like_the_note_is_the_note_both_refuse(psx_kernel, tmp_path):
    """Section 0 (SHT_NULL, no bytes) whose name is ``.note.gamevm``: the note is the first
    section of that name, here one without a note, so both loaders refuse the module
    alike.  Written for the survivor gvm_loader.c:read_note:const_4 (the search for the
    note began at section 1 and found the real one)."""
    d, kernel = psx_kernel
    data = bytearray((d / "fpmod.elf").read_bytes())
    shoff, = struct.unpack_from("<I", data, 32)
    _at, note = section_header(bytes(data), ".note.gamevm")
    struct.pack_into("<I", data, shoff, note[0])
    loaded_as(kernel, tmp_path, "fpmod", bytes(data), TLoadStatus.lsBadFormat)


@pytest.mark.parametrize("into", [0, 8, 40])
def test_code_lying_over_the_metadata_text_holds_the_files_bytes(psx_kernel, tmp_path, into):
    """A module whose .text header points ``into`` bytes into its metadata note's JSON (a
    corrupt module both loaders take): the code in RAM is the file's bytes, as the
    reference loader reads them, not the text as the runtime's JSON parser leaves it
    (strings NUL-terminated in place).  Written for the survivor
    gvm_loader.c:shares_bytes:const_2 (sections of type 1, SHT_PROGBITS, taken for
    SHT_NULL and never found sharing the note: it was parsed in place)."""
    from test_target_runtime import same_modules
    d, kernel = psx_kernel
    data = (d / "fpmod.elf").read_bytes()
    _at, note = section_header(data, ".note.gamevm")
    text = note[4] + 20 + into                 # past the note's header and "GameVM\0\0"
    assert data[text - into - 1:text - into + 1] == b"\0{"
    (tmp_path / "fpmod.elf").write_bytes(_with_section_header(data, b".text", offset=text))
    host, tl = pair("psx", kernel, tmp_path)
    assert host_load(host, "fpmod")[1] == TLoadStatus.lsSuccess
    assert tl.load_module("fpmod")[1] == TLoadStatus.lsSuccess
    same_modules(host, tl)


@pytest.mark.parametrize("target", ["psx"])
def test_sections_back_to_back_in_file_and_memory_are_read_in_one_request(tmp_path,
                                                                          target):
    """A module of 120 exports, whose headers, symbols and metadata fill more than the
    runtime's first read (2 KiB), and whose .text (at address 0), .rodata and .data follow
    one another in the file as in memory: after the headers the runtime reads the image
    in one request, from .text's first byte to .data's last, and loads what the
    reference loader loads.  Written for the survivor gvm_loader.c:next_piece:aor_3 (a
    piece's end address computed as ``addr - size``: below address 0 it wrapped, and
    .text was read on its own)."""
    from test_target_runtime import same_modules
    src = "".join(f"int many_f{i}(void) {{ return {i}; }}\n" for i in range(120)) + \
        'const char many_r[300] = "r";\nint many_d[50] = {1};\n'
    kernel = build_modules(tmp_path, target, {"many": src})
    elf = (tmp_path / "many.elf").read_bytes()
    text, data = (section_header(elf, name)[1] for name in (".text", ".data"))
    assert text[3] == 0 and text[4] > 2048
    host, tl = pair(target, kernel, tmp_path)
    host.load("many")
    assert tl.load_module("many")[1] == TLoadStatus.lsSuccess
    reads = [(off, n) for _path, off, n in tl.load_times[-1]["reads"]]
    text = text[4]
    assert reads[-1] == (text, data[4] + data[5] - text), reads
    assert all(off + n <= text for off, n in reads[:-1]), reads
    same_modules(host, tl)


@pytest.mark.parametrize("swap", [(".text", ".data"), (".text", ".rodata"),
                                  (".rodata", ".data")])
def test_sections_listed_out_of_slot_order_are_read_alike(psx_kernel, tmp_path, swap):
    """A module whose section headers list its image's sections in another order than
    the format's slots (two headers' names swapped: ``.data`` before ``.text``): both
    loaders take each section's bytes to its place, the same bytes in RAM.  Written for
    the survivor gvm_loader.c:link_prepare:aor_7 (the insertion sort of the sections by
    first appearance shifted ``order[j + 1]`` into ``order[j]``: a section was read twice
    and another not at all)."""
    from test_target_runtime import same_modules
    _d, kernel = psx_kernel
    path = module_from(tmp_path, "three", 'const char three_r[300] = "r";\n'
                                          "int three_d[50] = {1, 2, 3};\n"
                                          "int three_f(int i) { return three_r[i] + three_d[i]; }\n")
    data = bytearray(path.read_bytes())
    (a, head_a), (b, head_b) = (section_header(bytes(data), name) for name in swap)
    struct.pack_into("<I", data, a, head_b[0])
    struct.pack_into("<I", data, b, head_a[0])
    path.write_bytes(bytes(data))
    host, tl = pair("psx", kernel, tmp_path)
    assert host_load(host, "three")[1] == TLoadStatus.lsSuccess
    assert tl.load_module("three")[1] == TLoadStatus.lsSuccess
    same_modules(host, tl)


def load_odd_compressed(kernel, directory, form: str, *, tail: int, rodata: int,
                        data_at: int) -> None:
    """A module of 32 bytes of code and a ``tail``-byte .rodata array, its .rodata cut to
    ``rodata`` bytes and its empty .data moved to ``data_at`` (so the stored image ends
    at 32 + ``rodata``), in shipping form ``form``: loaded by both loaders over a dirty
    heap, the same bytes."""
    from gamevm_build.link.module import read_module
    from gamevm_build.link.shipform import convert, file_image_size
    module_from(directory, "odd", f'const char odd_tail[{tail}] = "abcd";\n'
                                  "int odd_get(int i) { return odd_tail[i]; }\n")
    data = _with_section_header((directory / "odd.elf").read_bytes(), b".rodata", size=rodata)
    data = _resealed(_with_section_header(data, b".data", addr=data_at))
    module = read_module(data)
    assert file_image_size({n: (off, module.section_size(n))
                            for n, (off, _b) in module.sections.items()}) == 32 + rodata
    (directory / "odd.elf").write_bytes(convert(data, form))
    same_on_a_dirty_heap(kernel, directory, "odd", 0x3000)


@pytest.mark.parametrize("form", ["lz4", "zx0"])
@pytest.mark.parametrize("rodata", [4093, 4094, 4095])
def test_a_compressed_image_of_any_size_is_decoded_and_zeroed_alike(psx_kernel, tmp_path,
                                                                    form, rodata):
    """A compressed module whose stored image ends off a word boundary (its last stored
    section, .rodata, 4093 to 4095 bytes after 32 of code; the empty .data moved inside
    it): the runtime zeroes the odd
    bytes after it one by one, then the rest of the footprint a word at a time, from the
    next word boundary, over a heap full of garbage: the same bytes as the reference loader.
    Written for the survivor gvm_relpack.c:zimage_load:const_15 (``k & 3`` made ``k & 2``:
    an image of 4n+1 bytes left its byte loop at once, and its word loop stored at an odd
    address)."""
    _d, kernel = psx_kernel
    # the empty .data after it would end the stored image at 4128 again: put it inside
    load_odd_compressed(kernel, tmp_path, form, tail=4093, rodata=rodata, data_at=4124)


@pytest.mark.parametrize("target", ["psx"])
def test_a_work_area_too_small_for_packed_relocations_fails_out_of_memory(tmp_path, target):
    """A packed module of 200 relocations (a table of function pointers) loaded with work
    areas from 1 KiB to 8 KiB: each load either fails lsOutOfMemory or loads the reference
    loader's bytes, and from the smallest area that loads it, every larger one does.  Where
    the work area holds the import list but not the 2,400 bytes of decoded relocations, the
    load fails.  Written for the survivor gvm_relpack.c:relpack_read:status_4 (that
    failure returned lsSuccess: the module went on without its relocations)."""
    from gamevm_build.link.shipform import convert
    src = ("int f(int x) { return x; }\n"
           "int (*const tbl[200])(int) = {" + ", ".join(["f"] * 200) + "};\n"
           "int g(int i) { return tbl[i](i); }\n")
    kernel = build_modules(tmp_path, target, {"many": src})
    path = tmp_path / "many.elf"
    path.write_bytes(convert(path.read_bytes(), "packed"))
    statuses = [st for st, _h, _t in
                sweep_work_sizes(target, kernel, tmp_path, "many", range(0x400, 0x2000, 0x80))]
    first = statuses.index(TLoadStatus.lsSuccess)
    assert 0 < first and set(statuses[first:]) == {TLoadStatus.lsSuccess}, statuses


def test_sections_placed_out_of_file_order_are_read_one_by_one(psx_kernel, tmp_path):
    """Sections whose places do not ascend in file order are read a section at a time,
    never as one piece with their neighbours: here .text sits between .rodata and .data,
    which are neighbours in the file (the same distance from their places) with .text's
    place between them; read as one piece, the file's bytes between them, then the zeros
    of the gap, would land on .text.  Both loaders load the same bytes, .text's own.
    Written for the survivor gvm_loader.c:next_piece:lcr_4 (``c->merge && ...`` made
    ``||``: neighbours were merged whatever the order)."""
    from test_target_runtime import same_modules
    _d, kernel = psx_kernel
    module_from(tmp_path, "m4", "const int m4_ro[4] = {1, 2, 3, 4};\n"
                                "int m4_data[4] = {5, 6, 7, 8};\n"
                                "int m4_twice(int x) { return x + x + 1; }\n")
    data = (tmp_path / "m4.elf").read_bytes()
    shoff, = struct.unpack_from("<I", data, 32)
    text, ro, rw = (struct.unpack_from("<10I", data, shoff + 40 * i) for i in (1, 2, 3))
    # the linker's layout: .text, .rodata, .data, 16 bytes each, placed as they are stored
    assert [(h[3], h[5]) for h in (text, ro, rw)] == [(0, 16), (16, 16), (32, 16)]
    assert ro[4] - ro[3] == text[4] - text[3] == rw[4] - rw[3]
    data = _with_section_header(data, b".text", addr=16)
    data = _with_section_header(data, b".rodata", addr=0, offset=text[4])
    (tmp_path / "m4.elf").write_bytes(data)
    host, tl = pair("psx", kernel, tmp_path)
    assert host_load(host, "m4")[1] == TLoadStatus.lsSuccess
    assert tl.load_module("m4")[1] == TLoadStatus.lsSuccess
    same_modules(host, tl)
    base = tl.by_name("m4").base
    assert tl.machine.read(base + 16, 16) == data[text[4]:text[4] + 16]


def hashless(data: bytes) -> bytes:
    """Module file ``data`` with no ``hash`` in its metadata: the loaders then take edits
    to what it covers (:func:`_metadata_edited` with nothing else changed)."""
    name = re.search(rb'"name":"[^"]*"', data).group()
    return _metadata_edited(data, name, name)


def _metadata_edited(data: bytes, old: bytes, new: bytes) -> bytes:
    """``data`` with ``old`` in its metadata made ``new``, the text keeping its length: the
    ``hash`` member (which loaders need not check) gives up the room, or pads with spaces."""
    at = data.index(b'"hash":"sha256:')
    member = data[at:data.index(b'"', at + 8) + 1]
    filler = b'"qq":0'
    room = len(member) - len(filler) - (len(new) - len(old))
    assert room >= 0 and data.count(old) == 1
    return data.replace(member, filler + b" " * room).replace(old, new)


@pytest.mark.parametrize("table,want", [(b"[4,0]", TLoadStatus.lsSuccess),
                                        (b"[2,0]", TLoadStatus.lsBadFormat),
                                        (b"[1,0]", TLoadStatus.lsBadFormat),
                                        (b"[3,0]", TLoadStatus.lsBadFormat)])
def test_an_init_table_off_a_word_boundary_is_refused_even_empty(psx_kernel, tmp_path, table,
                                                                 want):
    """An init table (here an empty ``ctors``) must start on a word boundary, however many
    entries it has: both loaders refuse one at an odd offset.  Written for the survivor
    gvm_meta.c:gvm_meta_parse:lcr_13 (``(off & 3) || n > ...`` made ``&&``: a misaligned
    table passed unless it was also too long)."""
    d, kernel = psx_kernel
    data = (d / "fpmod.elf").read_bytes()
    (tmp_path / "fpmod.elf").write_bytes(
        _metadata_edited(data, b'"init":{}', b'"init":{"ctors":' + table + b"}"))
    host, tl = pair("psx", kernel, tmp_path)
    assert host_load(host, "fpmod")[1] == want
    assert tl.load_module("fpmod")[1] == want


@pytest.mark.parametrize("target", ["psx"])
def test_metadata_without_init_runs_nothing_after_a_module_that_had_tables(tmp_path,
                                                                            target):
    """A module whose metadata has no ``init`` member at all (it is optional), loaded
    right after one whose constructor ran from its .init_array, over an image full of
    pointers to a function that counts: both loaders load it and run nothing for it,
    whatever the earlier load left in the runtime's work area.  Written while reading the
    survivor gvm_meta.c:gvm_meta_parse:const_10 (the parser cleared the tables' presence
    from the second on): the load's context starts zeroed, so the parser's own clearing
    did nothing, and it is gone."""
    from test_target_runtime import same_modules
    kernel = build_modules(tmp_path, target, {
        "ctor": "extern int made;\nint ctor_f(void) { return made; }\n"
                "__attribute__((constructor)) static void make(void) { made += 1; }\n",
        # words a stale table would run: each the resident's bump()
        "plain": "extern int made;\nextern void bump(void);\n"
                 "int plain_f(void) { return made + 1; }\n"
                 "void (*const plain_t[32])(void) = {" + "bump, " * 32 + "};\n"},
        kernel_c="int made;\nvoid bump(void) { made += 100; }\n", keep=["made", "bump"])
    data = (tmp_path / "plain.elf").read_bytes()
    assert data.count(b'"init":{}') == 1
    (tmp_path / "plain.elf").write_bytes(_metadata_edited(data, b'"init":{}', b'"xxxx":{}'))
    host, tl = pair(target, kernel, tmp_path)
    for name in ("ctor", "plain"):
        assert host_load(host, name)[1] == TLoadStatus.lsSuccess
        assert tl.load_module(name)[1] == TLoadStatus.lsSuccess, name
    same_modules(host, tl)
    made = tl.machine.symbols["made"]
    assert host.machine.read_u32(made) == tl.machine.read_u32(made) == 1


@pytest.mark.parametrize("first", [b'{"ctors":[4,1]}', b'{"init_array":[0,2],"dtors":[8,1]}'])
def test_a_repeated_init_member_keeps_only_its_last_tables(psx_kernel, tmp_path, first):
    """Metadata naming ``init`` twice, the first listing tables and the last none: the last
    occurrence counts (docs/format.md, as Python's JSON reads it), so both loaders load the
    module and run nothing from the first's tables.  Written for the survivor
    gvm_meta.c:init_tables:const_2 (each ``init`` object marked every table present
    instead of none before reading its own: the first's entries were called)."""
    from test_target_runtime import same_modules
    d, kernel = psx_kernel
    data = (d / "fpmod.elf").read_bytes()
    (tmp_path / "fpmod.elf").write_bytes(
        _metadata_edited(data, b'"init":{}', b'"init":' + first + b',"init":{}'))
    host, tl = pair("psx", kernel, tmp_path)
    assert host_load(host, "fpmod")[1] == TLoadStatus.lsSuccess
    assert tl.load_module("fpmod")[1] == TLoadStatus.lsSuccess
    same_modules(host, tl)


@pytest.mark.parametrize("target", ["psx"])
def test_code_is_read_into_place_not_zeroed_first(tmp_path, target):
    """The runtime zeroes only what no section's bytes cover (bss, padding): 32 KiB of
    code cost the load a few instructions per read, 32 KiB of bss its zeroing, word by
    word.  Counted in instructions on the emulated console (deterministic): the code's
    extra over a one-function module stays under a quarter of the bss's.  Written for the
    survivor gvm_loader.c:zero_uncovered:const_2 (the search for covering sections skipped
    .text, so the whole image was zeroed before the code was read over it: the same bytes,
    a cycle a byte slower)."""
    from gamevm_build.runtime.target import measure_load
    kernel = build_modules(tmp_path, target, {
        "code": 'int spin(int v) {\n    __asm__ volatile(".rept 8192\\n nop\\n .endr");\n'
                "    return v;\n}\n",
        "zeros": "int zeros[8192];\nint zero_at(int i) { return zeros[i]; }\n",
        "one": "int one(int x) { return x + 1; }\n"}, shipping=True)
    executed = {}
    for name in ("code", "zeros", "one"):
        executed[name], _charged, mod = measure_load(target, kernel, tmp_path, name)
        assert mod.load_size >= (32768 if name != "one" else 0)
    assert executed["code"] - executed["one"] < (executed["zeros"] - executed["one"]) / 4, executed


@pytest.mark.parametrize("first", [True, False])
def test_an_unresolved_weak_import_binds_into_no_module(psx_kernel, tmp_path, first):
    """A module whose weak import stayed unresolved (bound to 0) holds no other module:
    with it loaded first (the first slot) or last (the last), and 31 more filling every
    other slot, each of those unloads when the game lets it go, in both loaders.  Written
    for the survivor gvm_loader.c:link_prepare:const_15 (an import bound to 0 was taken as
    bound into the ``module`` at address 1, which set the provider bit of one slot, fixed
    by where the module table lies: that slot's module then stayed loaded after its
    unload, unless the slot was the binder's own)."""
    from gamevm_build.link.linker import link_module
    from gamevm_build.link.toolchain import find_toolchain
    from test_target_runtime import same_modules

    _d, kernel = psx_kernel
    tc = find_toolchain("psx")
    sources = {"wk": "extern int wk_nowhere(int) __attribute__((weak));\n"
                     "int wk_f(int x) { return wk_nowhere ? wk_nowhere(x) : x + 1; }\n"}
    others = {f"slot{i}": f"int slot{i}_value(int x) {{ return x + {i}; }}\n"
              for i in range(31)}
    sources = {**sources, **others} if first else {**others, **sources}
    for name, text in sources.items():
        (tmp_path / f"{name}.c").write_text(text)
        link_module("psx", [tc.compile(tmp_path / f"{name}.c", tmp_path / f"{name}.o")],
                    tmp_path / f"{name}.elf")
    host, tl = pair("psx", kernel, tmp_path)
    handles = {}
    for name in sources:
        lm, status = host_load(host, name)
        assert status == TLoadStatus.lsSuccess
        handles[name] = (lm.handle, *tl.load_module(name))
        assert handles[name][2] == TLoadStatus.lsSuccess, name
    for name, (host_handle, handle, _status) in handles.items():
        if name != "wk":
            host.unload(host_handle)
            assert tl.unload_module(handle) == TLoadStatus.lsSuccess
            assert tl.by_name(name) is None, f"{name} stayed loaded"
    same_modules(host, tl)
    assert [m.name for m in tl.loaded.values()] == ["wk"]
    assert tl.by_name("wk").base == host.by_name("wk").base


@pytest.mark.parametrize("request_name", ["a", "a.elf"])
def test_a_project_need_is_found_for_a_request_naming_the_file(psx_kernel, tmp_path,
                                                               request_name):
    """The project's needs (GameVMAddNeed, keyed by module name) load first whether the
    game asks for the module by name or by its file's name (``a.elf``), in both loaders:
    the need's file is read before the module's is opened (the analyzer's load-plan
    order), and both are placed as the reference loader places them.  Written for the
    survivor gvm_loader.c:names_module:lcr_3 (the request's stem *and* its whole name had
    to equal the module's: ``a.elf`` no longer named ``a``, so its need was found only
    from the module's metadata, after its file was read)."""
    from test_target_runtime import same_modules
    _d, kernel = psx_kernel
    for name, text in {"a": "int a_f(int x) { return x + 1; }\n",
                       "b": "int b_f(int x) { return x + 2; }\n"}.items():
        module_from(tmp_path, name, text)
    needs = {"a": ["b"]}
    host, tl = pair("psx", kernel, tmp_path, extra_needs=needs)
    host.extra_needs = needs
    assert host_load(host, request_name)[1] == TLoadStatus.lsSuccess
    assert tl.load_module(request_name)[1] == TLoadStatus.lsSuccess
    assert sorted(m.name for m in tl.loaded.values()) == ["a", "b"]
    files = [Path(path).name for path, _off, _n in tl.load_times[-1]["reads"]]
    assert set(files) == {"a.elf", "b.elf"}, files
    assert files == sorted(files, key=["b.elf", "a.elf"].index), files
    same_modules(host, tl)


@pytest.mark.parametrize("length", [62, 63, 64, 65, 100])
def test_a_loaded_module_is_found_by_path_whatever_its_names_length(psx_kernel, tmp_path,
                                                                     length):
    """A loaded module asked for again by a path whose directory holds no such file
    (``gone/NAME.elf``) is found by its name, whatever the name's length: both loaders
    return the same handle with one more reference and read nothing.  The runtime once
    copied the request's stem into a 64-byte buffer and opened the file for a longer one
    (lsFileNotFound where the reference loader found the module).  Written for the
    survivor gvm_loader.c:loaded_for:ror_1 (``n >= cap`` made ``n > cap``), whose buffer
    is gone."""
    from test_target_runtime import same_modules
    _d, kernel = psx_kernel
    name = "long_" + "n" * (length - 5)
    module_from(tmp_path, name, "int long_f(int x) { return x + 1; }\n")
    host, tl = pair("psx", kernel, tmp_path)
    first, st = host_load(host, name)
    handle, tst = tl.load_module(name)
    assert st == tst == TLoadStatus.lsSuccess
    again, st = host_load(host, f"gone/{name}.elf")
    handle_again, tst = tl.load_module(f"gone/{name}.elf")
    assert st == tst == TLoadStatus.lsSuccess
    assert again.handle == first.handle and handle_again == handle
    assert tl.load_times[-1]["reads"] == []
    assert first.refcount == tl.handle_refcount(handle) == 2
    same_modules(host, tl)


@pytest.mark.parametrize("target", ["psx"])
def test_binding_many_imports_costs_what_the_model_charges(tmp_path, target):
    """A module binding 200 imports to a resident exporting 400 more functions: the
    instructions the runtime executes to load it stay within what the analyzer charges
    (the cost model measured from this runtime: a binary search of the symbol table per
    import), and not far below.  Written for the survivor gvm_loader.c:search:const_2 (the
    search split its range at a quarter instead of the middle: the same symbols found,
    in about 2.4 times the steps)."""
    from gamevm_build.runtime.target import measure_load
    names = [f"k{i:04d}" for i in range(400)]
    module = ("".join(f"int {n}(int);\n" for n in names[::2])
              + "int (*const uses[])(int) = {" + ", ".join(names[::2]) + "};\n")
    kernel = build_modules(tmp_path, target, {"imp": module},
                           "".join(f"int {n}(int x) {{ return x + {i}; }}\n"
                                   for i, n in enumerate(names)), keep=names,
                           shipping=True)
    measured, model, mod = measure_load(target, kernel, tmp_path, "imp")
    assert len(mod.imports) == 200
    assert measured <= model, f"measured {measured} > model {model:.0f}"
    assert model <= 1.25 * measured, f"model {model:.0f} loose"


def _symbols(data: bytes) -> dict[bytes, tuple[int, int]]:
    """A little-endian module's symbols: name -> (file offset of the entry, st_name)."""
    shoff, = struct.unpack_from("<I", data, 32)
    shnum, = struct.unpack_from("<H", data, 48)
    headers = [struct.unpack_from("<10I", data, shoff + 40 * i) for i in range(shnum)]
    symtab = next(h for h in headers if h[1] == 2)                 # SHT_SYMTAB
    strtab = headers[symtab[6]]
    out = {}
    for entry in range(symtab[4] + 16, symtab[4] + symtab[5], 16):
        name, = struct.unpack_from("<I", data, entry)
        start = strtab[4] + name
        out[bytes(data[start:data.index(b"\0", start)])] = (entry, name)
    return out


def _renamed_import(data: bytes, old: bytes, new: bytes) -> bytes:
    """``data`` (a little-endian module) with its undefined symbol ``old`` given the name of
    its undefined symbol ``new``: two symbols of one import."""
    at = _symbols(data)
    out = bytearray(data)
    struct.pack_into("<I", out, at[old][0], at[new][1])
    return bytes(out)


def test_an_import_named_by_two_symbols_gets_one_lazy_stub(psx_kernel, tmp_path):
    """Two undefined symbols of one name are one import: a lazy load gives it one stub,
    which both symbols' call sites call, in both loaders (the same bytes and stubs); the
    first call binds every site.  Written for the survivor gvm_stubs.c:scan_imports:aor_5
    (the names compared were read from before the symbol table, so a name seen twice was
    never found again: two imports, two stubs)."""
    from gamevm_build.runtime.target import LOAD_LAZY
    from test_target_runtime import same_modules, same_stubs
    kernel = build_modules(tmp_path, "psx", {
        "dup": "extern int k_one(int);\nextern int k_two(int);\n"
               "int dup_f(int x) { return k_one(x) + k_two(x); }\n"},
        "int k_one(int x) { return x + 1; }\nint k_two(int x) { return x + 100; }\n",
        keep=["k_one", "k_two"])
    path = tmp_path / "dup.elf"
    path.write_bytes(_renamed_import(path.read_bytes(), b"k_two", b"k_one"))
    host, tl = pair("psx", kernel, tmp_path)
    lm = host.load("dup", needs=True, lazy=True)
    _handle, status = tl.load_module("dup", LOAD_LAZY)
    assert status == TLoadStatus.lsSuccess
    same_modules(host, tl)
    same_stubs(host, tl)
    assert len(dict(lm.lazy)) == 1
    f = tl.by_name("dup").symbols["dup_f"]
    assert tl.machine.call(f, 5) == host.machine.call(f, 5) == 12
    same_modules(host, tl)


@pytest.mark.parametrize("shndx,want", [
    (0xFFF1, TLoadStatus.lsSuccess),       # SHN_ABS: an absolute export
    (0xFFF2, TLoadStatus.lsBadFormat),     # SHN_COMMON: a module has none left
    ("note", TLoadStatus.lsBadFormat),     # a section that is not loaded
    (0x0FFF, TLoadStatus.lsBadFormat),     # past the section headers
])
def test_an_export_defined_outside_the_loaded_sections_is_refused(psx_kernel, tmp_path,
                                                                  shndx, want):
    """A defined symbol's section must be one the module loads, or SHN_ABS: an export of
    .note.gamevm, of SHN_COMMON or of a section past the headers is bad, in both loaders.
    Written for the survivor gvm_loader.c:check_symbols:ror_5 (``shndx != SHN_ABS`` made
    ``==``: only an absolute symbol was refused, and any other section taken)."""
    d, kernel = psx_kernel
    data = bytearray((d / "fpmod.elf").read_bytes())
    if shndx == "note":
        shoff, = struct.unpack_from("<I", data, 32)
        shnum, shstrndx = struct.unpack_from("<HH", data, 48)
        names = struct.unpack_from("<10I", data, shoff + 40 * shstrndx)[4]
        shndx = next(i for i in range(shnum) if data[names + struct.unpack_from(
            "<I", data, shoff + 40 * i)[0]:].startswith(b".note.gamevm\0"))
    entry, _name = _symbols(bytes(data))[b"fp_twice"]
    struct.pack_into("<H", data, entry + 14, shndx)
    (tmp_path / "fpmod.elf").write_bytes(bytes(data))
    host, tl = pair("psx", kernel, tmp_path)
    assert host_load(host, "fpmod")[1] == want
    assert tl.load_module("fpmod")[1] == want


@pytest.mark.parametrize("target", ["psx"])
def test_a_work_area_too_small_for_a_need_fails_out_of_memory(tmp_path, target):
    """A module whose file needs another, loaded with work areas from 256 bytes up in steps
    of 32: each load either fails lsOutOfMemory, leaving nothing loaded, or loads both as
    the reference loader does, and from the smallest area that loads them every larger one
    does.  Among them is the area that holds the module's own load but not its need's (a
    load's state is allocated as the need is reached).  Written for the survivor
    gvm_loader.c:next_need:status_2 (that failure returned lsSuccess, with no load to go
    on with)."""
    kernel = build_modules(tmp_path, target, {"mid": "int mid_f(int x) { return x * 3; }\n"})
    module_from(tmp_path, "top", "extern int mid_f(int);\n"
                                 "int top_f(int x) { return mid_f(x); }\n",
                target=target, needs=["mid"])
    statuses = [st for st, _h, _t in
                sweep_work_sizes(target, kernel, tmp_path, "top", range(0x100, 0x1000, 0x20))]
    first = statuses.index(TLoadStatus.lsSuccess)
    assert 0 < first and set(statuses[first:]) == {TLoadStatus.lsSuccess}, statuses


@pytest.mark.parametrize("extra,want", [(0, TLoadStatus.lsSuccess),
                                        (1, TLoadStatus.lsBadFormat),
                                        (0x80000000, TLoadStatus.lsBadFormat)])
def test_a_metadata_note_longer_than_its_section_is_bad(psx_kernel, tmp_path, extra, want):
    """The metadata note's descsz must fit in .note.gamevm: one byte more than the section
    holds after the note's header and name (or a size that wraps) makes the module
    lsBadFormat in both loaders, as any other malformed note.  Written for the survivor
    gvm_loader.c:read_note:status_5 (that case said lsRelocationError)."""
    d, kernel = psx_kernel
    data = bytearray((d / "fpmod.elf").read_bytes())
    shoff, = struct.unpack_from("<I", data, 32)
    shnum, shstrndx = struct.unpack_from("<HH", data, 48)
    names = struct.unpack_from("<10I", data, shoff + 40 * shstrndx)[4]
    note = next(h for h in (struct.unpack_from("<10I", data, shoff + 40 * i) for i in range(shnum))
                if data[names + h[0]:].startswith(b".note.gamevm\0"))
    descsz, = struct.unpack_from("<I", data, note[4] + 4)
    room = note[5] - 20                          # after namesz, descsz, type and "GameVM\0\0"
    assert descsz <= room
    struct.pack_into("<I", data, note[4] + 4, (room + extra) & 0xFFFFFFFF if extra else descsz)
    (tmp_path / "fpmod.elf").write_bytes(bytes(data))
    host, tl = pair("psx", kernel, tmp_path)
    assert host_load(host, "fpmod")[1] == want
    assert tl.load_module("fpmod")[1] == want


@pytest.mark.parametrize("number", [b"1.9", b"0.09", b"2.5e9", b"7E+19", b"1.0e-9"])
def test_a_fraction_or_exponent_with_a_nine_is_a_number(psx_kernel, tmp_path, number):
    """A metadata number's fraction and exponent take every digit, 9 included: a module
    whose metadata holds one under a key no loader knows loads alike in both loaders.
    Written for the survivor gvm_meta.c:number:ror_15 (the fraction's first digit tested
    with ``>= '9'``: ``1.9`` was not JSON)."""
    from test_target_runtime import same_modules
    d, kernel = psx_kernel
    data = (d / "fpmod.elf").read_bytes()
    (tmp_path / "fpmod.elf").write_bytes(
        _metadata_edited(data, b'"init":{}', b'"init":{},"zz":' + number))
    host, tl = pair("psx", kernel, tmp_path)
    assert host_load(host, "fpmod")[1] == TLoadStatus.lsSuccess
    assert tl.load_module("fpmod")[1] == TLoadStatus.lsSuccess
    same_modules(host, tl)


def _with_section_moved(data: bytes, name: bytes, misalign: int) -> bytes:
    """``data`` (a little-endian module) with section ``name``'s bytes copied to the end of
    the file at ``misalign`` bytes past a word boundary, its header pointing there; the
    section headers follow."""
    shoff, = struct.unpack_from("<I", data, 32)
    shnum, shstrndx = struct.unpack_from("<HH", data, 48)
    headers = [list(struct.unpack_from("<10I", data, shoff + 40 * i)) for i in range(shnum)]
    names = headers[shstrndx][4]
    out = bytearray(data[:shoff]) + bytes(-shoff % 4) + bytes(misalign)
    for h in headers:
        if data[names + h[0]:].startswith(name + b"\0"):
            body = data[h[4]:h[4] + h[5]]
            h[4] = len(out)
            out += body
    out += bytes(-len(out) % 4)
    struct.pack_into("<I", out, 32, len(out))
    for h in headers:
        out += struct.pack("<10I", *h)
    return bytes(out)


@pytest.mark.parametrize("target", ["psx"])
def test_a_misaligned_string_table_in_a_work_area_too_small_for_its_copy(tmp_path, target):
    """A module whose string table (1.8 KiB: 40 long export names) starts one byte past a
    word boundary, loaded with work areas from 2 KiB to 16 KiB in steps of 128 bytes: each
    load fails lsOutOfMemory, or loads the reference loader's bytes and exports.  (Where
    the headers are read in one piece with the rest of the file's front, the table is
    copied to an aligned place: some areas hold the piece but not the copy.)  Written for
    the survivor gvm_loader.c:fetch:status_2 (a failed copy returned lsSuccess and no
    table)."""
    kernel = build_modules(tmp_path, target, {"names": "".join(
        f"int an_exported_function_with_a_rather_long_name_{i:03d}(int x) "
        f"{{ return x + {i}; }}\n" for i in range(40))})
    path = tmp_path / "names.elf"
    path.write_bytes(_with_section_moved(path.read_bytes(), b".strtab", 1))
    statuses = set()
    for status, host, tl in sweep_work_sizes(target, kernel, tmp_path, "names",
                                             range(0x800, 0x4000, 0x80)):
        if status == TLoadStatus.lsSuccess:
            assert tl.by_name("names").symbols == host.by_name("names").symbols
        statuses.add(status)
    assert statuses == {TLoadStatus.lsOutOfMemory, TLoadStatus.lsSuccess}


@pytest.mark.parametrize("target", ["psx"])
def test_an_unload_while_a_request_is_queued_leaves_the_request_alone(tmp_path, target):
    """An asynchronous request is queued (no frame has run yet) when the game unloads a
    module whose need, in the first slot, stays (the game holds it too): the request then
    completes as queued, in the frames after, and the modules are the reference loader's.
    Written for the survivor gvm_loader.c:UnloadModule:ror_8 (the copy of the reference
    counts ran to slot 32; GCC, for which that overrun is undefined, cut the copy back to
    32 slots but ran the loop that drops the freed modules' references to their needs to
    33, where slot 32's reference count is the word after the module table's end: the
    first queued request's callback, decremented, then called)."""
    from test_target_runtime import frames_until_done, same_modules
    host, tl = pair(target, build_modules(tmp_path, target, {
        "n": "int n_f(int x) { return x + 1; }\n",
        "x": "int x_f(int x) { return x + 2; }\n"}), tmp_path)
    module_from(tmp_path, "m", "extern int n_f(int);\nint m_f(int x) { return n_f(x); }\n",
                target=target, needs=["n"])
    handles = {}
    for name in ("n", "m"):
        handles[name], status = tl.load_module(name)
        assert status == TLoadStatus.lsSuccess
        host.load(name, needs=True)
    assert [m.name for m in tl.loaded.values()][0] == "n"          # the first slot
    rec = tl.load_async("x")
    assert tl.unload_module(handles["m"]) == TLoadStatus.lsSuccess
    host.unload(host.by_name("m").handle)
    frames_until_done(tl, rec)
    assert rec["status"] == "lsSuccess"
    host.load("x")
    assert sorted(m.name for m in tl.loaded.values()) == ["n", "x"]
    same_modules(host, tl)



@pytest.mark.parametrize("target", ["psx"])
def test_an_async_load_runs_only_its_own_constructors(tmp_path, target):
    """An asynchronous load that completes (or fails) in GameVMFrame runs the constructors
    of what it loaded, and no other module's: the module in the first slot, loaded before
    with a constructor, has run it once.  Written for the survivor
    gvm_loader.c:GameVMFrame:const_6 (the mask of modules to construct started with slot 0
    in it)."""
    from test_target_runtime import frames_until_done, same_modules
    host, tl = pair(target, build_modules(tmp_path, target, {
        "c0": "int c0_inits;\n__attribute__((constructor)) static void c0_init(void) "
              "{ c0_inits++; }\n",
        "x": "int x_f(int x) { return x + 2; }\n"}), tmp_path)
    module_from(tmp_path, "bad", "extern int nowhere_f(int);\n"
                                 "int bad_f(int x) { return nowhere_f(x); }\n", target=target)
    assert tl.load_module("c0")[1] == TLoadStatus.lsSuccess
    host.load("c0")
    for name, want in (("x", "lsSuccess"), ("bad", "lsUndefinedSymbol")):
        rec = tl.load_async(name)
        frames_until_done(tl, rec)
        assert rec["status"] == want
        host_load(host, name)
    inits = host.by_name("c0").symbols["c0_inits"]
    assert tl.machine.read_u32(inits) == host.machine.read_u32(inits) == 1
    same_modules(host, tl)


@pytest.mark.parametrize("target", ["psx"])
def test_a_failed_async_load_takes_back_the_needs_it_placed(tmp_path, target):
    """An asynchronous load of m, whose need n loads first and which then fails to link
    (an import nothing provides): the request ends lsUndefinedSymbol and n goes too, so
    nothing stays loaded, as after the same synchronous load on the reference loader.
    Written for the survivor gvm_loader.c:GameVMFrame:const_7 (the rollback asked for
    the records of job 2: an asynchronous load's are job 1, and n stayed)."""
    from test_target_runtime import frames_until_done, same_modules
    host, tl = pair(target, build_modules(tmp_path, target, {
        "n": "int n_f(int x) { return x + 1; }\n"}), tmp_path)
    module_from(tmp_path, "m", "extern int n_f(int);\nextern int nowhere_f(int);\n"
                               "int m_f(int x) { return n_f(x) + nowhere_f(x); }\n",
                target=target, needs=["n"])
    rec = tl.load_async("m")
    frames_until_done(tl, rec)
    assert rec["status"] == "lsUndefinedSymbol"
    assert host_load(host, "m")[1] == TLoadStatus.lsUndefinedSymbol
    assert not tl.loaded and not host.loaded
    same_modules(host, tl)


@pytest.mark.parametrize("offset,size", [(4, 8), (4, 12), (0, 8)])
def test_a_region_without_room_for_the_alignment_is_full(psx_kernel, offset, size):
    """A region whose top, rounded up to the module's alignment (fpmod: 16), lies past its
    end holds nothing: both loaders refuse lsOutOfMemory and write nothing outside it.
    Written for the survivor gvm_loader.c:fits:lcr_1 (``start < region start || start >
    end`` made ``&&``: the room left, ``end - start``, then wrapped to 4 GiB and the module
    went past the region's end)."""
    from gamevm_build.runtime.allocator import Region
    from test_target_runtime import same_modules
    d, kernel = psx_kernel
    heap = heap_of("psx", kernel)
    assert heap.start % 16 == 0
    host, tl = pair_over("psx", kernel, d, [Region("Tiny", heap.start + offset, size)])
    want = TLoadStatus.lsOutOfMemory
    assert host_load(host, "fpmod")[1] == want
    assert tl.load_module("fpmod")[1] == want
    assert not tl.loaded
    assert tl.machine.read(heap.start, 0x100) == host.machine.read(heap.start, 0x100)
    same_modules(host, tl)


def test_a_lazy_module_with_many_exports_keeps_only_its_imports(psx_kernel, tmp_path):
    """A module loaded lazily keeps its imports for their stubs, and only them: 300
    exported functions beside one import load, bind on first call and run alike in both
    loaders (at most 255 imports get stubs).  Written for the survivor
    gvm_stubs.c:scan_imports:lcr_3 (``section || defined`` made ``&&``: every defined
    symbol was taken for an import, and a module of more than 255 refused)."""
    from gamevm_build.runtime.target import LOAD_LAZY
    from test_target_runtime import same_modules
    body = "".join(f"int e{i}(void) {{ return {i}; }}\n" for i in range(300))
    kernel = build_modules(tmp_path, "psx", {
        "prov": "int prov_f(int x) { return x + 8; }\n",
        "wide": body + "extern int prov_f(int);\nint use(int x) { return prov_f(x); }\n"})
    host, tl = pair("psx", kernel, tmp_path, pool_size=0x4000, work_size=0x8000)
    host.load("prov")
    wide = host.load("wide", lazy=True)
    assert tl.load_module("prov")[1] == TLoadStatus.lsSuccess
    assert tl.load_module("wide", LOAD_LAZY)[1] == TLoadStatus.lsSuccess
    fn = wide.symbols["use"]
    assert host.machine.call(fn, 1) == tl.machine.call(fn, 1) == 9
    assert host.machine.call(wide.symbols["e299"]) == tl.machine.call(wide.symbols["e299"]) \
        == 299
    same_modules(host, tl)


@pytest.mark.parametrize("count", [255, 256])
@pytest.mark.parametrize("target", ["psx"])
def test_a_module_binding_255_imports_into_an_overlay_keeps_them_all(tmp_path, target, count):
    """A module whose 255 imports are all bound into an overlay's occupant keeps every one
    of them (for the stubs an eviction would point them at; a stub names its import in a
    byte, so 255 is the most): it loads and runs alike in both loaders.  With 256 the
    runtime refuses it, lsOutOfMemory, loading nothing (docs/runtime-c.md "Memory"; the
    reference loader has no such limit).  Written for the survivors
    gvm_stubs.c:scan_imports:const_28 (the limit taken at 254: the module was refused
    lsOutOfMemory) and const_29 (the 256th import scanned as none: loaded without the
    imports an eviction must stub)."""
    from gamevm_build.runtime.allocator import Region
    from test_target_runtime import same_modules
    names = [f"p{i}" for i in range(count)]
    kernel = build_modules(tmp_path, target, {
        "prov": "".join(f"int {n}(void) {{ return {i}; }}\n" for i, n in enumerate(names)),
        "user": "".join(f"extern int {n}(void);\n" for n in names) +
                "int user_sum(void) { return " + " + ".join(f"{n}()" for n in names) + "; }\n"})
    heap = heap_of(target, kernel)
    regions = [Region("Main", heap.start, heap.size - 0x8000),
               Region("Ovl", heap.end - 0x6000, 0x6000, "overlay")]
    host, tl = pair_over(target, kernel, tmp_path, regions, {"prov": "Ovl"},
                         pool_size=0x4000, work_size=0x8000)
    host.load("prov")
    assert tl.load_module("prov")[1] == TLoadStatus.lsSuccess
    if count > 255:
        assert tl.load_module("user") == (0, TLoadStatus.lsOutOfMemory)
        same_modules(host, tl)
        return
    host.load("user")
    assert tl.load_module("user")[1] == TLoadStatus.lsSuccess
    same_modules(host, tl)
    fn = tl.by_name("user").symbols["user_sum"]
    assert host.machine.call(fn) == tl.machine.call(fn) == 255 * 254 // 2


def lazy_pool_bytes(path) -> int:
    """What a lazily loaded module keeps in the runtime's pool (docs/runtime-c.md "Memory"):
    its name, each export (9 bytes and its name), each import (12 bytes and its name) and
    each relocation against an import (12 bytes); every name with its terminating zero."""
    from gamevm_build.link.module import read_module
    mod = read_module(path)
    names = lambda xs: sum(len(x) + 1 for x in xs)      # noqa: E731
    irels = sum(1 for r in mod.relocations if r.is_import)
    return (len(mod.name) + 1 + 9 * len(mod.exports) + names(mod.exports)
            + 12 * len(mod.imports) + names(mod.imports) + 12 * irels)


def test_a_lazy_module_fits_a_pool_of_exactly_what_it_keeps(psx_kernel, tmp_path):
    """A pool holding exactly what the lazily loaded module keeps (docs/runtime-c.md's
    figures, computed from the file) is enough; a byte less is lsOutOfMemory, loading
    nothing.  Written for the survivor gvm_stubs.c:scan_imports:const_30 (each import's
    name counted one byte longer than it is)."""
    from gamevm_build.runtime.target import LOAD_LAZY
    kernel = build_modules(tmp_path, "psx", {
        "prov": "int pa(int x) { return x + 1; }\nint pb(int x) { return x + 2; }\n"
                "int pc(int x) { return x + 3; }\nint pd(int x) { return x + 4; }\n",
        "four": "extern int pa(int), pb(int), pc(int), pd(int);\n"
                "int four(int x) { return pa(pb(pc(pd(x)))); }\n"})
    # prov is in the pool first: its block (eager, no imports) ends 4-aligned below four's
    prov = lazy_pool_bytes(tmp_path / "prov.elf")
    need = (prov + 3 & ~3) + lazy_pool_bytes(tmp_path / "four.elf")
    for size, want in ((need, TLoadStatus.lsSuccess), (need - 1, TLoadStatus.lsOutOfMemory)):
        _host, tl = pair("psx", kernel, tmp_path, pool_size=size)
        assert tl.load_module("prov")[1] == TLoadStatus.lsSuccess
        handle, status = tl.load_module("four", LOAD_LAZY)
        assert status == want, size
        if status == TLoadStatus.lsSuccess:
            assert tl.machine.call(tl.by_name("four").symbols["four"], 0) == 10
        else:
            assert tl.by_name("four") is None


@pytest.mark.parametrize("target", ["psx"])
def test_an_overlays_next_occupant_drops_a_reloaded_occupants_old_copy(tmp_path, target):
    """Hot reload of an overlay's occupant: its copy goes to the heap, and after the swap
    the old copy stays hidden in the overlay until the next occupant comes, which frees it
    (GVM_EV_FREED) and goes at the overlay's start like any occupant.  Written for the
    survivor gvm_loader.c:region_alloc:call_1 (the hidden copy neither dropped nor
    evicted: it kept the overlay's room)."""
    from gamevm_build.runtime.allocator import Region
    from gamevm_build.runtime.build import RELOAD_API

    kernel = build_modules(tmp_path, target, {"lvl": "int lvl_f(int x) { return x + 1; }\n",
                                              "lvl2": "int lvl2_f(int x) { return x + 2; }\n"},
                           keep=RELOAD_API)
    heap = heap_of(target, kernel)
    ovl = Region("Ovl", heap.end - 0x2000, 0x2000, "overlay")
    regions = [ovl, Region("Main", heap.start, heap.size - 0x4000)]
    _host, tl = pair_over(target, kernel, tmp_path, regions, {"lvl": "Ovl", "lvl2": "Ovl"})
    lvl = tl.load("lvl")
    live = lvl.handle
    assert lvl.base == ovl.start
    status, copy = tl.load_copy(live, "lvl", (tmp_path / "lvl.elf").read_bytes(),
                                str(tmp_path / "lvl.elf"))
    assert status == TLoadStatus.lsSuccess
    assert tl.swap_copy(live, copy) == TLoadStatus.lsSuccess
    new = tl.by_name("lvl")
    assert regions[1].start <= new.base < regions[1].start + regions[1].size
    assert [t.base for t in tl.copies.values()] == [ovl.start]       # the old copy, hidden
    assert tl.load_module("lvl2")[1] == TLoadStatus.lsSuccess
    assert tl.by_name("lvl2").base == ovl.start and tl.copies == {}
    assert tl.machine.call(tl.by_name("lvl2").symbols["lvl2_f"], 1) == 3
    assert tl.machine.call(tl.by_name("lvl").symbols["lvl_f"], 1) == 2


@pytest.mark.parametrize("target", ["psx"])
def test_an_import_binds_to_the_first_loaded_provider_in_a_later_slot(tmp_path, target):
    """Two modules export ``twin``; the one loaded first holds the second slot, because
    the other was loaded into the first slot after an unload freed it.  An import binds
    to the provider loaded first, wherever its slot is: the load order is the modules'
    sequence, not their slots'.  Written for the survivor gvm_loader.c:in_load_order:const_3
    (a module never sorted ahead of the first slot's)."""
    kernel = build_modules(tmp_path, target, {
        "gone": "int gone_f(void) { return 5; }\n",
        "older": "int twin(void) { return 1; }\n",
        "newer": "int twin(void) { return 2; }\n",
        "user": "extern int twin(void);\nint user_f(void) { return twin(); }\n"})
    from test_target_runtime import same_modules
    host, tl = pair(target, kernel, tmp_path)
    for name in ("gone", "older"):
        tl.load(name)
        host_load(host, name)
    assert tl.unload_module(tl.by_name("gone").handle) == TLoadStatus.lsSuccess
    host.unload(host.by_name("gone").handle)
    for name in ("newer", "user"):
        tl.load(name)
        host_load(host, name)
    assert tl.record(tl.by_name("newer").handle) < tl.record(tl.by_name("older").handle)
    for loader in (host, tl):
        assert loader.machine.call(loader.by_name("user").symbols["user_f"]) == 1
    same_modules(host, tl)


@pytest.mark.parametrize("target", ["psx"])
def test_a_swap_reads_nothing_past_a_modules_imports(tmp_path, target):
    """A swap checks what other modules import from the live copy, and reads nothing
    past a module's imports: ``h`` imports nothing, and its first export, right after its
    (empty) imports in the pool, is an absolute symbol that the live ``prov`` exports with
    the same value and the new copy drops; the next export's name starts at an address
    whose low byte is 0, an import's "no stub".  Read as an import, it would bind the
    dropped name, and the swap would be refused.  Written for the survivor
    gvm_reload.c:rebind_into:ror_3 (``k <= nimports``)."""
    from gamevm_build.runtime.build import RELOAD_API

    absolute = "__asm__(\".globl {0}\\n.set {0}, 0x1234\\n\");\n"
    kernel = build_modules(tmp_path, target, {"prov": "int prov_f(void) { return 1; }\n"},
                           keep=RELOAD_API)
    _host, tl = pair(target, kernel, tmp_path)
    # h's pool block, at the pool's start: 2 exports of 8 bytes, then each name after a
    # type byte, so h_f's name starts at pool + 16 + (1 + length + 1) + 1
    length = -(tl.pool + 2 * 8 + 3) % 256 or 256
    shared = "a" * length
    module_from(tmp_path, "h", absolute.format(shared) + "int h_f(void) { return 3; }\n",
                target=target)
    v2 = module_from(tmp_path, "prov", "int prov_f(void) { return 2; }\n",
                     target=target).read_bytes()
    module_from(tmp_path, "prov", absolute.format(shared) + "int prov_f(void) { return 1; }\n",
                target=target)
    tl.load("h")
    assert tl.machine.read(tl.pool + 2 * 8 + length + 3, 4) == b"h_f\0"
    live = tl.load("prov").handle
    status, copy = tl.load_copy(live, "prov", v2, str(tmp_path / "prov.elf"))
    assert status == TLoadStatus.lsSuccess
    assert tl.swap_copy(live, copy) == TLoadStatus.lsSuccess
    assert tl.machine.call(tl.get_proc(live, "prov_f")) == 2


@pytest.mark.parametrize("target", ["psx"])
def test_a_reloaded_modules_copy_goes_to_the_lowest_hole(tmp_path, target):
    """A heap region is a stack, but a reload's copy goes to the lowest hole that holds it
    (here the region's start, which an unload freed), so that reloading again and again
    costs one copy; what loads after it goes on top as ever.  Written for the survivor
    gvm_loader.c:fits_for:const_1 (a copy placed on top, as any load)."""
    from gamevm_build.runtime.build import RELOAD_API

    kernel = build_modules(tmp_path, target, {
        "gap": "int gap_pad[256];\nint gap_f(void) { return gap_pad[0]; }\n",
        "lvl": "int lvl_f(int x) { return x + 1; }\n",
        "top": "int top_f(int x) { return x + 2; }\n"}, keep=RELOAD_API)
    _host, tl = pair(target, kernel, tmp_path)
    gap, lvl, top = (tl.load(n) for n in ("gap", "lvl", "top"))
    assert tl.unload_module(gap.handle) == TLoadStatus.lsSuccess
    status, copy = tl.load_copy(lvl.handle, "lvl", (tmp_path / "lvl.elf").read_bytes(),
                                str(tmp_path / "lvl.elf"))
    assert status == TLoadStatus.lsSuccess
    assert [t.base for t in tl.copies.values()] == [gap.base]
    assert tl.load("gap").base >= top.base + top.size


@pytest.mark.parametrize("target", ["psx"])
def test_a_copy_loaded_from_inside_an_overlays_occupant_cannot_evict_it(tmp_path, target):
    """GameVMLoadCopy called from a frame of an overlay's occupant (occ calls the kernel,
    which asks for lvl's copy), where the copy needs a module placed in that overlay: safe
    mode refuses the load (lsModuleInUse), occ stays and its call returns.  Written for the
    survivor gvm_reload.c:GameVMLoadCopy:call_1 (the caller's frame not recorded: safe
    mode scanned the stack from the previous call's, found occ idle and evicted it under
    its own running code)."""
    from gamevm_build.runtime.allocator import Region
    from gamevm_build.runtime.build import RELOAD_API

    kernel_c = ('#include "gamevm_runtime.h"\n'
                "TModuleHandle k_live, k_copy_h;\n"
                "int k_copy(void) { return (int)GameVMLoadCopy(k_live, \"lvl\", 0, &k_copy_h); }\n")
    kernel = build_modules(tmp_path, target, {
        "mate": "int mate_f(int x) { return x + 3; }\n",
        "lvl": "int lvl_f(int x) { return x + 1; }\n",
        "occ": "extern int k_copy(void);\nint occ_f(void) { return 100 * k_copy() + 1; }\n"},
        kernel_c=kernel_c, keep=[*RELOAD_API, "k_copy", "k_live", "k_copy_h"])
    heap = heap_of(target, kernel)
    ovl = Region("Ovl", heap.end - 0x2000, 0x2000, "overlay")
    regions = [Region("Main", heap.start, heap.size - 0x4000), ovl]
    _host, tl = pair_over(target, kernel, tmp_path, regions, {"occ": "Ovl", "mate": "Ovl"})
    live = tl.load("lvl").handle
    occ = tl.load("occ")
    module_from(tmp_path, "lvl", "extern int mate_f(int);\n"
                                 "int lvl_f(int x) { return mate_f(x) + 1; }\n",
                target=target, needs=["mate"])
    tl.machine.write_u32(tl.symbols["k_live"], live)
    assert tl.machine.call(occ.symbols["occ_f"]) == 100 * TLoadStatus.lsModuleInUse + 1
    assert tl.by_name("occ") is not None and tl.by_name("mate") is None
    assert tl.copies == {} and tl.machine.read_u32(tl.symbols["k_copy_h"]) == 0


def test_the_runtime_closes_every_file_it_opens(psx_kernel, tmp_path):
    """A reader's files are the game's resource (a PS1 game's BIOS file handles): the
    runtime closes each one it opened, the media device's first (number 0) included, after
    a load and after one that failed.  Written for the survivor
    gvm_loader.c:close_file:const_1 (``file >= 1``: file 0 was never closed)."""
    d, kernel = psx_kernel
    (tmp_path / "fpmod.elf").write_bytes((d / "fpmod.elf").read_bytes())
    (tmp_path / "cut.elf").write_bytes((d / "fpmod.elf").read_bytes()[:100])
    _host, tl = pair("psx", kernel, tmp_path)
    assert tl.load_module("fpmod")[1] == TLoadStatus.lsSuccess
    assert tl._next_file == 1 and tl.files == {}
    assert tl.load_module("cut")[1] == TLoadStatus.lsBadFormat
    assert tl._next_file == 2 and tl.files == {}


@pytest.mark.parametrize("target", ["psx"])
def test_a_read_failing_after_the_needs_are_recorded_gives_back_their_references(
        tmp_path, target):
    """x needs a, then big; a needs c, which the game loaded.  Whichever read fails — up
    to the last of big's image, after the load recorded every module's needs (a disc
    error) — the load fails with lsFileNotFound, a is freed and the reference it took on
    c given back: the game's one UnloadModule of c then leaves nothing loaded.  Written
    for the survivor gvm_loader.c:rollback:const_4 (``1u << j`` made ``0u << j``: no
    reference given back, and c stayed loaded with nobody holding it)."""
    body = "const int big[1536] = {1, 2, 3};\nint big_at(int i) { return big[i]; }\n"
    kernel = build_modules(tmp_path, target, {"big": body})
    module_from(tmp_path, "c", "int c_f(int x) { return x + 3; }\n")
    module_from(tmp_path, "a", "extern int c_f(int);\nint a_f(int x) { return c_f(x); }\n",
                needs=["c"])
    module_from(tmp_path, "x", "extern int a_f(int), big_at(int);\n"
                               "int x_f(int i) { return a_f(i) + big_at(i); }\n",
                needs=["a", "big"])

    def game(fail):
        _host, tl = pair(target, kernel, tmp_path)
        c, status = tl.load_module("c")
        assert status == TLoadStatus.lsSuccess
        tl.files = reads = FailingRead(fail)
        return tl, c, tl.load_module("x")[1], reads
    tl, _c, status, clean = game(0)
    assert status == TLoadStatus.lsSuccess and tl.machine.call(tl.by_name("x").symbols["x_f"], 2) == 8
    for fail in range(1, clean.reads + 1):
        tl, c, status, _reads = game(fail)
        assert status == TLoadStatus.lsFileNotFound, fail
        assert [m.name for m in tl.loaded.values()] == ["c"] and tl.handle_refcount(c) == 1, fail
        assert tl.unload_module(c) == TLoadStatus.lsSuccess and not tl.loaded, fail


def test_a_failed_load_leaves_the_last_loaded_modules_references(psx_kernel, tmp_path):
    """A load that fails gives back only what it placed: the module loaded just before it
    keeps its reference to its need, so the need, asked for and given back by the game,
    stays for it, in both loaders.  Written for the survivor gvm_loader.c:rollback:ror_2
    (``seq <= first`` made ``<``: the last module loaded before the failed load lost its
    needs' references, and its need went while it still called it)."""
    from test_target_runtime import same_modules
    kernel = build_modules(tmp_path, "psx", {"n": "int n_f(int x) { return x + 1; }\n"})
    module_from(tmp_path, "a", "extern int n_f(int);\nint a_f(int x) { return n_f(x); }\n",
                needs=["n"])
    host, tl = pair("psx", kernel, tmp_path)
    a = host.load("a", needs=True)
    assert tl.load_module("a")[1] == TLoadStatus.lsSuccess
    for loader in (lambda: host_load(host, "missing")[1], lambda: tl.load_module("missing")[1]):
        assert loader() == TLoadStatus.lsFileNotFound
    n_handle, status = tl.load_module("n")
    assert status == TLoadStatus.lsSuccess
    assert tl.handle_refcount(n_handle) == 2                        # a's and the game's
    host.unload(host.load("n").handle)
    assert tl.unload_module(n_handle) == TLoadStatus.lsSuccess
    assert sorted(m.name for m in tl.loaded.values()) == ["a", "n"]
    assert host.machine.call(a.symbols["a_f"], 1) == tl.machine.call(a.symbols["a_f"], 1) == 2
    same_modules(host, tl)


@pytest.mark.parametrize("target", ["psx"])
def test_a_slot_freed_by_an_eviction_is_no_longer_a_holders_need(tmp_path, target):
    """mid needs base, which sits in the overlay; other, loaded there, evicts base, and
    extra, loaded next, takes base's slot in the runtime's table. Unloading mid then gives
    back mid's own references only: extra and other, held by the game, stay, in both
    loaders.  Written for the survivor gvm_loader.c:release:const_1 (the freed slot's bit
    cleared one slot up: mid kept base's slot as a need, and its unload dropped extra's
    reference, freeing it)."""
    from gamevm_build.runtime.allocator import Region
    from test_target_runtime import same_modules

    kernel = build_modules(tmp_path, target, {"base": "int base_f(int x) { return x + 1; }\n",
                                              "other": "int other_f(void) { return 2; }\n",
                                              "extra": "int extra_f(void) { return 3; }\n"})
    module_from(tmp_path, "mid", "extern int base_f(int);\n"
                                 "int mid_f(int x) { return base_f(x) * 2; }\n",
                target=target, needs=["base"])
    heap = heap_of(target, kernel)
    regions = [Region("Main", heap.start, heap.size - 0x4000),
               Region("Ovl", heap.end - 0x2000, 0x2000, "overlay")]
    host, tl = pair_over(target, kernel, tmp_path, regions, {"base": "Ovl", "other": "Ovl"})
    mid = host.load("mid", needs=True)
    t_mid, status = tl.load_module("mid")
    assert status == TLoadStatus.lsSuccess
    host.load("other")
    assert tl.load_module("other")[1] == TLoadStatus.lsSuccess
    assert tl.by_name("base") is None and tl.by_name("other") is not None
    host.load("extra")
    assert tl.load_module("extra")[1] == TLoadStatus.lsSuccess
    host.unload(mid.handle)
    assert tl.unload_module(t_mid) == TLoadStatus.lsSuccess
    assert sorted(m.name for m in host.loaded.values()) == ["extra", "other"]
    assert sorted(m.name for m in tl.loaded.values()) == ["extra", "other"]
    same_modules(host, tl)


@pytest.mark.parametrize("target", ["psx"])
def test_an_evicted_overlay_occupant_runs_its_destructors(tmp_path, target):
    """Loading into an overlay region evicts its occupant, which is unloaded as any module
    is: its destructors run, once, in both loaders (the game's ``LoadModule`` from the host
    here, not from a module's code).  Written for the survivor gvm_loader.c:evict:call_1
    (``run_destructors(m)`` dropped: an evicted module's cleanup never ran)."""
    from gamevm_build.runtime.allocator import Region
    from test_target_runtime import same_modules

    kernel = build_modules(tmp_path, target, {
        "first": "extern int cleaned;\nint first_f(void) { return 1; }\n"
                 "__attribute__((destructor)) static void gone(void) { cleaned += 1; }\n",
        "second": "int second_f(void) { return 2; }\n"},
        kernel_c="int cleaned;\n", keep=["cleaned"])
    heap = heap_of(target, kernel)
    regions = [Region("Main", heap.start, heap.size - 0x4000),
               Region("Ovl", heap.end - 0x2000, 0x2000, "overlay")]
    host, tl = pair_over(target, kernel, tmp_path, regions, {"first": "Ovl", "second": "Ovl"})
    host.load("first")
    assert tl.load_module("first")[1] == TLoadStatus.lsSuccess
    host.load("second")
    assert tl.load_module("second")[1] == TLoadStatus.lsSuccess
    assert host.by_name("first") is None and tl.by_name("first") is None
    same_modules(host, tl)
    cleaned = tl.machine.symbols["cleaned"]
    assert host.machine.read_u32(cleaned) == tl.machine.read_u32(cleaned) == 1


#: a module with two entries in each of the four tables, each logging its number in the
#: resident (``k_log``): .init_array runs first to last, then .ctors last to first; at
#: unload .fini_array last to first, then .dtors first to last (the ELF and gcc orders)
TABLES_C = "extern void k_log(int);\n" + "".join(
    f"static void t{n}(void) {{ k_log({n}); }}\n" for n in (11, 12, 21, 22, 31, 32, 41, 42)) + "".join(
    f'__attribute__((used, section("{sec}"))) static void (*const {var}[])(void) = '
    f"{{t{k}1, t{k}2}};\n"
    for k, sec, var in ((1, ".init_array", "ia"), (2, ".ctors", "ca"),
                        (3, ".fini_array", "fa"), (4, ".dtors", "da")))


@pytest.mark.parametrize("target", ["psx"])
def test_each_init_table_runs_in_its_own_order(tmp_path, target):
    """Loading and unloading a module with two entries in every init table runs them in
    the same order on both loaders: .init_array forward, then .ctors backward; .fini_array
    backward, then .dtors forward.  Written for the survivor
    gvm_loader.c:run_constructors:const_3 (.ctors run forward)."""
    kernel = build_modules(tmp_path, target, {"tables": TABLES_C},
                           kernel_c="int k_logged[9], k_n;\n"
                                    "void k_log(int v) { if (k_n < 9) k_logged[k_n++] = v; }\n",
                           keep=["k_log", "k_logged", "k_n"])
    host, tl = pair(target, kernel, tmp_path)
    lm = host.load("tables")
    handle, st = tl.load_module("tables")
    assert st == TLoadStatus.lsSuccess
    host.unload(lm.handle)
    assert tl.unload_module(handle) == TLoadStatus.lsSuccess
    logs = []
    for m in (host.machine, tl.machine):
        at = m.symbols["k_logged"]
        logs.append([m.read_u32(at + 4 * i) for i in range(m.read_u32(m.symbols["k_n"]))])
    assert logs[0] == logs[1] == [11, 12, 22, 21, 32, 31, 41, 42]


@pytest.mark.parametrize("target", ["psx"])
def test_an_absolute_symbol_of_an_evicted_module_stays_bound(tmp_path, target):
    """An overlay's occupant exports an absolute symbol (0x1234, no section) beside a
    function; a module in the heap binds both.  Evicting the occupant (safe mode) points
    the function's binding at a stale stub, but the absolute value lies in no module and
    stays: both loaders give 0x1234 afterwards, the same RAM.  Written for the survivor
    gvm_stubs.c:stub_bindings:lcr_3 (``stubbed || outside``
    made ``&&``: a binding outside the freed module was taken for one into it)."""
    from gamevm_build.runtime.allocator import Region
    from test_target_runtime import same_modules
    kernel = build_modules(tmp_path, target, {
        "prov": '__asm__(".globl p_abs\\n.set p_abs, 0x1234\\n");\n'
                "int p_f(int x) { return x + 1; }\n",
        "other": "int o_f(int x) { return x + 2; }\n",
        "user": "extern char p_abs[];\nextern int p_f(int);\n"
                "unsigned u_abs(void) { return (unsigned)p_abs; }\n"
                "int u_f(int x) { return p_f(x); }\n"})
    heap = heap_of(target, kernel)
    regions = [Region("Main", heap.start, heap.size - 0x4000),
               Region("Ovl", heap.end - 0x2000, 0x2000, "overlay")]
    host, tl = pair_over(target, kernel, tmp_path, regions, {"prov": "Ovl", "other": "Ovl"})
    for name in ("prov", "user", "other"):
        host.load(name)
        assert tl.load_module(name)[1] == TLoadStatus.lsSuccess, name
    assert tl.by_name("prov") is None
    same_modules(host, tl)
    fn = tl.by_name("user").symbols["u_abs"]
    assert host.machine.call(fn) == tl.machine.call(fn) == 0x1234


@pytest.mark.parametrize("target", ["psx"])
def test_a_destructor_may_load_and_unload_its_own_need(tmp_path, target):
    """A module's destructor borrows its need through the API while the module is being
    unloaded (LoadModuleEx, GetModuleProc, the call, UnloadModule), as a game's cleanup
    might: the destructor's unload gives back only its own reference, and the outer unload
    frees both modules, each once, as on the reference console.  Found while writing a test
    for the survivor gvm_loader.c:UnloadModule:const_25: the runtime planned the module
    being freed again from its own destructor's UnloadModule, ran that destructor again,
    and so on until the stack overflowed."""
    from gamevm_build.play.console import Console
    kernel = build_modules(tmp_path, target, {
        "n": "extern int cleaned;\nvoid n_cleanup(void) { cleaned++; }\n"
             "__attribute__((destructor)) static void gone(void) { cleaned += 100; }\n"},
        kernel_c="int cleaned;\n", keep=["cleaned"])
    module_from(
        tmp_path, "a",
        '#include "gamevm.h"\nextern void n_cleanup(void);\nextern int cleaned;\n'
        "int a_f(void) { n_cleanup(); return 1; }\n"
        "__attribute__((destructor)) static void bye(void)\n{\n"
        "    TLoadStatus st = lsBadFormat;\n"
        '    TModuleHandle h = LoadModuleEx("n", &st);\n'
        "    cleaned += 1000 * (int)st + (h ? 10 : 0);\n"
        "    if (h) {\n"
        '        void (*f)(void) = (void (*)(void))GetModuleProc(h, "n_cleanup");\n'
        "        if (f) f();\n"
        "        cleaned += 10000 * (int)UnloadModule(h);\n"
        "    }\n}\n",
        target=target, needs=["n"])
    seen = {}
    for loader in ("host", "target"):
        c = Console(target, kernel, search_paths=[tmp_path], loader=loader)
        handle = c.loader.load("a", needs=True).handle
        assert c.call("a_f") == 1
        c.loader.unload(handle)
        seen[loader] = (c.machine.read_u32(c.machine.symbols["cleaned"]),
                        sorted(m.name for m in c.loader.loaded.values()))
    # a_f's call; in bye: lsSuccess (0) and a handle (10), n_cleanup (1), UnloadModule's
    # lsSuccess (0); n's destructor once (100)
    assert seen["host"] == seen["target"] == (112, [])
    if target == "psx":
        assert [e["module"] for e in c.loader.events if e["event"] == "freed"] == ["a", "n"]


@pytest.mark.parametrize("target", ["psx"])
def test_a_read_the_reader_fails_fails_the_load(tmp_path, target):
    """The reader contract (docs/runtime-c.md): a ``read`` that fails fails the load with
    lsFileNotFound, whichever read it is — of the headers, a table, the metadata, a section
    read to its place — even when every read after it succeeds (a disc read error the
    drive gets past), and the load leaves nothing loaded and no file open.  Written for the
    survivor gvm_loader.c:fetch:status_5 (a failed read of a table taken for a good one),
    which it does not kill: this module's tables all come in the runtime's first two reads,
    and fetch reads a table itself only when it lies outside them."""
    body = "const int big[1536] = {1, 2, 3};\nint big_at(int i) { return big[i]; }\n"
    kernel = build_modules(tmp_path, target, {"big": body})

    _host, tl = pair(target, kernel, tmp_path)
    tl.files = clean = FailingRead(0)
    assert tl.load_module("big")[1] == TLoadStatus.lsSuccess
    assert tl.machine.call(tl.by_name("big").symbols["big_at"], 2) == 3
    assert clean.reads >= 2, clean.reads
    for fail in range(1, clean.reads + 1):
        _host, tl = pair(target, kernel, tmp_path)
        tl.files = FailingRead(fail)
        assert tl.load_module("big")[1] == TLoadStatus.lsFileNotFound, fail
        assert not tl.loaded and not tl.files, fail


def test_a_lazy_load_gives_a_weak_import_no_stub(psx_kernel, tmp_path):
    """A lazy load stubs the imports that are only called and not weak: a weak function
    nothing provides is bound now, to 0, as the reference loader binds it, and gets no
    stub, beside a strong one that does.  Written for the survivor
    gvm_stubs.c:scan_imports:ror_11 (``!= 0`` made ``== 0``: no import was marked weak)."""
    from gamevm_build.runtime.target import LOAD_LAZY
    from test_target_runtime import same_modules, same_stubs
    kernel = build_modules(tmp_path, "psx", {
        "weakcall": "extern int k_one(int);\n"
                    "extern int w_missing(int) __attribute__((weak));\n"
                    "int wc_f(int x) { return k_one(x); }\n"
                    "int wc_g(int x) { return w_missing(x); }\n"},
        "int k_one(int x) { return x + 1; }\n", keep=["k_one"])
    host, tl = pair("psx", kernel, tmp_path)
    lm = host.load("weakcall", needs=True, lazy=True)
    assert tl.load_module("weakcall", LOAD_LAZY)[1] == TLoadStatus.lsSuccess
    assert sorted(dict(lm.lazy)) == ["k_one"]
    same_modules(host, tl)
    same_stubs(host, tl)
    fn = lm.symbols["wc_f"]
    assert host.machine.call(fn, 1) == tl.machine.call(fn, 1) == 2


def test_a_lazy_load_of_many_imports_stubs_exactly_the_strong_ones(psx_kernel, tmp_path):
    """A lazy load of a module with eight imports, four strong ones resolved in the
    resident and four weak ones nothing provides, each only called: both loaders stub the
    four strong ones and bind the weak ones to 0, and the strong ones' sum is the same.
    With two definitions ahead of them, the first import is symbol 6, an import's own
    number among eight.  Written for the survivor gvm_stubs.c:scan_imports:ror_10 (the
    loop marking weak imports ran to ``i <= nsym``: the symbol after the table, read from
    the string table that follows it, cleared the sixth import's weakness), and for
    gvm_stubs.c:patch_import:aor_8 (a rebinding synced ``hi + lo`` bytes, not ``hi - lo``)."""
    from gamevm_build.runtime.target import EV_PATCHING, LOAD_LAZY
    from test_target_runtime import same_modules, same_stubs
    strong = [f"k{i}" for i in range(4)]
    weak = [f"w{i}" for i in range(4, 8)]
    src = "".join(f"extern int {n}(int);\n" for n in strong) + \
        "".join(f"extern int {n}(int) __attribute__((weak));\n" for n in weak) + \
        "int strong_sum(int x) { return " + " + ".join(f"{n}(x)" for n in strong) + "; }\n" + \
        "int weak_sum(int x) { return " + " + ".join(f"{n}(x)" for n in weak) + "; }\n"
    kernel_c = "".join(f"int {n}(int x) {{ return x + {i}; }}\n" for i, n in enumerate(strong))
    kernel = build_modules(tmp_path, "psx", {"many": src}, kernel_c, keep=strong)
    host, tl = pair("psx", kernel, tmp_path)
    lm = host.load("many", needs=True, lazy=True)
    assert tl.load_module("many", LOAD_LAZY)[1] == TLoadStatus.lsSuccess
    assert sorted(dict(lm.lazy)) == strong
    same_modules(host, tl)
    same_stubs(host, tl)
    fn = lm.symbols["strong_sum"]
    assert host.machine.call(fn, 1) == tl.machine.call(fn, 1) == 10
    # each first call rebinds its import's sites and makes exactly those words visible to
    # instruction fetch (N64 cache operations go a line at a time: more costs time)
    patched = [(e["base"], e["size"]) for e in tl.events if e["event"] == EV_PATCHING]
    assert len(patched) == 4 and all(p in tl.sync_calls for p in patched), \
        (patched, tl.sync_calls)


def test_an_abiflags_record_cut_to_seven_bytes_is_not_read_past(psx_kernel, tmp_path):
    """A ``.MIPS.abiflags`` record of 7 bytes followed in the file by a hard-float fp_abi
    byte (1): the record is too short to say a float ABI, so both loaders load the
    module; the byte after the section is not the record's.  Written for the survivor
    gvm_loader.c:known_target:const_6 (``size >= 8`` made ``size >= 7``)."""
    d, kernel = psx_kernel
    record = struct.pack("<HBBBBBB", 0, 1, 0, 1, 1, 0, 1)
    data = with_section((d / "fpmod.elf").read_bytes(), b".MIPS.abiflags",
                        SHT_MIPS_ABIFLAGS, record)
    (tmp_path / "fpmod.elf").write_bytes(_with_section_header(data, b".MIPS.abiflags",
                                                              size=7))
    host, tl = pair("psx", kernel, tmp_path)
    assert host_load(host, "fpmod")[1] == TLoadStatus.lsSuccess
    assert tl.load_module("fpmod")[1] == TLoadStatus.lsSuccess


@pytest.mark.parametrize("sh_type", [1, 0x80474D53])
def test_a_packed_module_without_its_packed_relocations_is_bad(psx_kernel, tmp_path, sh_type):
    """A module in the packed form (format 2) whose ``.gvm.relpack`` section has another
    type (here PROGBITS, or the next user type): it says its relocations are packed and
    has none, so both loaders refuse it (lsBadFormat) instead of loading it unrelocated.
    Written for the survivor gvm_loader.c:check_relocations:const_34 (``format == 2``
    made ``format == 3``)."""
    refused_packed(psx_kernel, tmp_path,
                   lambda data: _with_section_header(data, b".gvm.relpack", type=sh_type))


def refused_packed(psx_kernel, tmp_path, edit) -> None:
    """rp, a module calling fpmod's fp_twice through a table of two pointers, in the
    packed form, its file changed by ``edit``: both loaders refuse it lsBadFormat."""
    from gamevm_build.link.module import read_module
    from gamevm_build.link.shipform import convert
    d, kernel = psx_kernel
    (tmp_path / "fpmod.elf").write_bytes((d / "fpmod.elf").read_bytes())
    module_from(tmp_path, "rp", "extern int fp_twice(int);\n"
                                "int (*const rp_table[2])(int) = {fp_twice, fp_twice};\n"
                                "int rp_call(int i, int x) { return rp_table[i](x); }\n",
                needs=["fpmod"])
    data = convert((tmp_path / "rp.elf").read_bytes(), "packed")
    assert read_module(data).relpack_size
    (tmp_path / "rp.elf").write_bytes(edit(data))
    host, tl = pair("psx", kernel, tmp_path)
    assert host_load(host, "rp")[1] == TLoadStatus.lsBadFormat
    assert tl.load_module("rp")[1] == TLoadStatus.lsBadFormat
    assert not tl.loaded


@pytest.mark.parametrize("stale", [0x01, 0x02, 0xA5])
def test_a_packed_module_loads_alike_over_a_work_area_of_stale_bytes(psx_kernel, tmp_path,
                                                                     stale):
    """The runtime keeps a packed module's relocations and how each finds its addend in its
    work area, which it does not clear: over a work area full of a stale byte (each of
    the addend kinds' codes, and another), both loaders load the same bytes.  Written for
    the survivor gvm_relpack.c:relpack_addends:ror_1 (``k < n`` made ``k <= n``: one entry
    past the table, read from what lay there, patched the entries' kinds or read far
    outside the image)."""
    from gamevm_build.link.shipform import convert
    from gamevm_build.runtime.target import WORK_SIZE
    from test_target_runtime import same_modules
    d, kernel = psx_kernel
    (tmp_path / "fpmod.elf").write_bytes((d / "fpmod.elf").read_bytes())
    module_from(tmp_path, "rp", "extern int fp_twice(int);\n"
                                "int (*const rp_table[16])(int) = {" + ", ".join(["fp_twice"] * 16)
                + "};\nint rp_call(int i, int x) { return rp_table[i](x); }\n",
                needs=["fpmod"])
    (tmp_path / "rp.elf").write_bytes(convert((tmp_path / "rp.elf").read_bytes(), "packed"))
    host, tl = pair("psx", kernel, tmp_path)
    tl.machine.write(tl.work, bytes([stale]) * WORK_SIZE)
    assert host_load(host, "rp")[1] == TLoadStatus.lsSuccess
    assert tl.load_module("rp")[1] == TLoadStatus.lsSuccess
    same_modules(host, tl)
    assert tl.machine.call(tl.by_name("rp").symbols["rp_call"], 15, 21) == 42


def test_a_packed_module_takes_four_bytes_a_symbol_and_twelve_a_relocation(psx_kernel,
                                                                           tmp_path):
    """The work area a packed module's relocations take, to the byte: its imports' symbol
    numbers in name order (a word per symbol of its table, the imports' first), then its
    relocations decoded (12 bytes each: the site, the type and symbol, the addend), with
    nothing between them.  Checked in the work area after a synchronous load over stale
    bytes: the imports' numbers, stale words up to a word per symbol, then every
    relocation of the module's plain form.  Written for the survivor
    gvm_relpack.c:relpack_read:const_2 (a quarter more taken for the imports, ``nsym * 5``:
    a load needing all of its work area but that ran out of it)."""
    from gamevm_build.link.module import read_module
    from gamevm_build.link.shipform import convert
    from gamevm_build.runtime.target import WORK_SIZE
    from test_target_runtime import same_modules
    _d, kernel = psx_kernel
    module_from(tmp_path, "prov", "".join(f"int p{c}(int x) {{ return x + {i}; }}\n"
                                          for i, c in enumerate("abcd")))
    module_from(tmp_path, "rp", "".join(f"extern int p{c}(int);\n" for c in "abcd")
                + "int (*const rp_table[])(int) = {pa, pb, pc, pd, pa};\n"
                "int rp_call(int i, int x) { return rp_table[i](x); }\n", needs=["prov"])
    plain = read_module((tmp_path / "rp.elf").read_bytes())
    packed = convert((tmp_path / "rp.elf").read_bytes(), "packed")
    (tmp_path / "rp.elf").write_bytes(packed)
    table = list(ELFFile(io.BytesIO(packed)).get_section_by_name(".symtab").iter_symbols())
    imports = [k for k, sym in enumerate(table) if k and sym["st_shndx"] == "SHN_UNDEF"]
    assert [table[k].name for k in imports] == ["pa", "pb", "pc", "pd"]
    host, tl = pair("psx", kernel, tmp_path)
    host_load(host, "prov")
    assert tl.load_module("prov")[1] == TLoadStatus.lsSuccess
    tl.machine.write(tl.work, b"\xa5" * WORK_SIZE)
    assert host_load(host, "rp")[1] == TLoadStatus.lsSuccess
    assert tl.load_module("rp")[1] == TLoadStatus.lsSuccess
    same_modules(host, tl)
    work = tl.machine.read(tl.work, WORK_SIZE)
    numbers = b"".join(struct.pack("<I", k) for k in imports)
    assert work.count(numbers) == 1
    start = work.index(numbers)
    at = start + 4 * len(table)
    assert work[start + len(numbers):at] == b"\xa5" * (at - start - len(numbers))
    decoded = [struct.unpack_from("<3I", work, at + 12 * k) for k in range(len(plain.relocations))]
    assert sorted((o, info & 0xFF) for o, info, _a in decoded) == \
        sorted((r.offset, r.type) for r in plain.relocations)


def test_a_packed_hi16_lo16_pair_whose_low_half_is_0x8000_once_loaded(psx_kernel, tmp_path):
    """A packed module's ``%hi``/``%lo`` pair naming ``&big[k]``, ``k`` chosen so that the
    address, once the module is placed, has a low half of exactly 0x8000: the pair's
    addend is the high half's shifted plus the low half sign-extended, and a ``%hi`` one
    less would miss by 64 KiB.  Both loaders place the same bytes and the function returns
    the address.  Written for the survivor gvm_relpack.c:relpack_addends:const_17 (the low
    half sign-extended one less: only an address whose low half is 0x8000 shows it)."""
    from gamevm_build.link.shipform import convert
    from test_target_runtime import same_modules
    _d, kernel = psx_kernel

    def source(k: int) -> str:
        return f"int big[16384];\nint *hl_at(void) {{ return &big[{k}]; }}\n"
    module_from(tmp_path, "hl", source(0))           # where big lands: k moves only the addend
    host, _tl = pair("psx", kernel, tmp_path)
    assert host_load(host, "hl")[1] == TLoadStatus.lsSuccess
    big = host.by_name("hl").symbols["big"]
    k = ((0x8000 - big) & 0xFFFF) // 4
    path = module_from(tmp_path, "hl", source(k))
    path.write_bytes(convert(path.read_bytes(), "packed"))
    host, tl = pair("psx", kernel, tmp_path)
    assert host_load(host, "hl")[1] == tl.load_module("hl")[1] == TLoadStatus.lsSuccess
    same_modules(host, tl)
    at = host.by_name("hl").symbols["hl_at"]
    assert host.by_name("hl").symbols["big"] == big
    assert host.machine.call(at) == tl.machine.call(at) == big + 4 * k
    assert (big + 4 * k) & 0xFFFF == 0x8000


def test_packed_relocations_in_a_plain_module_are_bad(psx_kernel, tmp_path):
    """A module whose metadata says format 1 (plain) but which carries packed relocations
    (``.gvm.relpack``, format 2's) is refused by both loaders as a bad file (lsBadFormat),
    not as a relocation that failed.  Written for the survivor
    gvm_loader.c:check_relocations:status_2 (that refusal made lsRelocationError)."""
    def plain(data: bytes) -> bytes:
        assert data.count(b'"format":2') == 1
        return data.replace(b'"format":2', b'"format":1')
    refused_packed(psx_kernel, tmp_path, plain)


@pytest.mark.parametrize("link", [0, 1])
def test_packed_relocations_naming_another_symbol_table_are_bad(psx_kernel, tmp_path, link):
    """A packed module's ``.gvm.relpack`` names its imports by their place in the symbol
    table its ``sh_link`` gives: one that links another section (none, or the first) has
    no imports to name, and both loaders refuse it (lsBadFormat), not as a relocation
    that failed.  Written for the survivor gvm_relpack.c:relpack_read:status_1 (that
    refusal made lsRelocationError)."""
    refused_packed(psx_kernel, tmp_path,
                   lambda data: _with_section_header(data, b".gvm.relpack", link=link))


@pytest.mark.parametrize("target", ["psx"])
def test_an_eviction_keeps_a_need_a_module_in_the_first_slot_binds_into(tmp_path, target):
    """top (in the overlay) needs mid; user, loaded into the first slot after top, calls
    mid_f without declaring mid a need. Evicting top leaves mid no reference, but user
    binds into it, so both loaders keep it, and user's call still reaches it.  Written
    for the survivor gvm_loader.c:evict:const_11 (``bound_into(order[j], 0)`` made
    ``bound_into(order[j], 1)``: the module in slot 0 was not counted as a binder)."""
    from test_target_runtime import same_modules
    host, tl = eviction_game(tmp_path, target, {"pad": "int pad_f(void) { return 1; }\n",
                                                "user": USER_OF_MID})
    handles = {}
    for name in ("pad", "top"):
        host.load(name, needs=True)
        handles[name], status = tl.load_module(name)
        assert status == TLoadStatus.lsSuccess
    host.unload(host.by_name("pad").handle)
    assert tl.unload_module(handles["pad"]) == TLoadStatus.lsSuccess
    host.load("user", needs=True)
    user, status = tl.load_module("user")
    assert status == TLoadStatus.lsSuccess and user != handles["pad"]
    assert tl.record(user) == tl.record(handles["pad"])             # pad's slot, the first
    same_modules(host, tl)
    host.load("other")                                      # evicts top
    assert tl.load_module("other")[1] == TLoadStatus.lsSuccess
    assert {lm.name for lm in host.loaded.values()} == {"mid", "user", "other"}
    same_modules(host, tl)
    fn = tl.by_name("user").symbols["user_f"]
    assert host.machine.call(fn, 4) == tl.machine.call(fn, 4) == 13


def globals_only(data: bytes, first: str) -> bytes:
    """Module file ``data`` with a symbol table of its global symbols alone,
    ``first`` (an import) right after the null symbol: a valid ELF (no relocation may name
    a local symbol) whose first symbol is an import, which a linker never writes."""
    data = bytearray(data)
    (at, symtab), (_t, strtab) = (section_header(bytes(data), n) for n in (".symtab", ".strtab"))
    syms = [bytes(data[a:a + 16]) for a in range(symtab[4], symtab[4] + symtab[5], 16)]

    def symbol_name(s: bytes) -> bytes:
        start = strtab[4] + struct.unpack_from("<I", s)[0]
        return bytes(data[start:data.index(b"\0", start)])
    keep = sorted((i for i, s in enumerate(syms) if i and s[12] >> 4),
                  key=lambda i: symbol_name(syms[i]) != first.encode())
    order = [0] + keep
    renumber = {old: k for k, old in enumerate(order)}
    data[symtab[4]:symtab[4] + symtab[5]] = b"".join(syms[i] for i in order).ljust(symtab[5],
                                                                                   b"\0")
    struct.pack_into("<I", data, at + 20, 16 * len(order))          # sh_size
    struct.pack_into("<I", data, at + 28, 1)                         # sh_info: no locals
    shoff, = struct.unpack_from("<I", data, 32)
    shnum, = struct.unpack_from("<H", data, 48)
    for h in range(shnum):
        head = struct.unpack_from("<10I", data, shoff + 40 * h)
        if head[1] in (4, 9):                                        # SHT_RELA, SHT_REL
            for r in range(head[4], head[4] + head[5], 12 if head[1] == 4 else 8):
                info, = struct.unpack_from("<I", data, r + 4)
                struct.pack_into("<I", data, r + 4, renumber[info >> 8] << 8 | info & 0xFF)
    return hashless(bytes(data))


@pytest.mark.parametrize("target", ["psx"])
def test_an_eviction_keeps_a_need_the_first_symbol_binds_into(tmp_path, target):
    """As the test above, with user's symbol table holding its globals alone and the
    import of mid_f first (symbol 1): that binding counts like any other, so both loaders
    keep mid when top is evicted.  Written for the survivor
    gvm_loader.c:link_prepare:const_12 (the loop recording the modules a load binds into
    began at symbol 2)."""
    host, tl = eviction_game(tmp_path, target, {"user": USER_OF_MID})
    user = tmp_path / "user.elf"
    user.write_bytes(globals_only(user.read_bytes(), "mid_f"))
    top_evicted_alike(host, tl, "user")
    fn = tl.by_name("user").symbols["user_f"]
    assert host.machine.call(fn, 4) == tl.machine.call(fn, 4) == 13


@pytest.mark.parametrize("extra", [16, 17])
def test_a_module_may_have_sixteen_needs_in_all(psx_kernel, tmp_path, extra):
    """The runtime keeps 16 needs per module (META_MAX_NEEDS, as the metadata's own limit):
    a module given 16 needs by the project (GameVMAddNeed) loads them first, as the
    reference loader does; a 17th is refused lsOutOfMemory, loading and leaving open
    nothing (in about the instructions loading and unloading its needs take), where the
    reference loader, which has no such limit, loads all 17.  Written for the survivor
    gvm_loader.c:check_module:status_3 (the full table taken for success)."""
    from gamevm_build.runtime.readers import DirectoryReader
    from gamevm_build.runtime.reference import Loader, LoaderPolicy, default_regions
    from gamevm_build.emu.machine import Machine
    from gamevm_build.link.resident import read_resident
    from gamevm_build.runtime.target import TargetLoader
    from test_target_runtime import same_modules
    _d, kernel = psx_kernel
    names = [f"n{i:02d}" for i in range(extra)]
    for name in names + ["top"]:
        module_from(tmp_path, name, f"int {name}_f(void) {{ return 7; }}\n")
    resident = read_resident(kernel, "psx")
    host_m, target_m = Machine("psx"), Machine("psx")
    for m in (host_m, target_m):
        m.load_elf(kernel)
    host = Loader(host_m, resident, DirectoryReader([tmp_path]),
                  policy=LoaderPolicy(verify_hash=False), extra_needs={"top": names})
    tl = TargetLoader(target_m, DirectoryReader([tmp_path]),
                      default_regions(target_m, resident), resident=resident,
                      # a load keeps each need's tables in the work area until it ends:
                      # room for 17, so that only the needs table can refuse the 17th
                      extra_needs={"top": names}, work_size=0xC000)
    assert host_load(host, "top")[1] == TLoadStatus.lsSuccess
    assert len(host.loaded) == extra + 1
    if extra == 16:
        assert tl.load_module("top")[1] == TLoadStatus.lsSuccess
        same_modules(host, tl)
    else:
        assert tl.load_module("top")[1] == TLoadStatus.lsOutOfMemory
        assert not tl.loaded and not tl.files
        before = tl.machine.instructions        # again, the runtime set up by the first
        assert tl.load_module("top")[1] == TLoadStatus.lsOutOfMemory
        refused = tl.machine.instructions - before
        # the needs are loaded, the 17th found over the table, and all unloaded: work of
        # the order of loading them (400 k instructions), not a check that, taken for
        # success without moving the load on, ran again until the work area ran out (2.9 M)
        before = tl.machine.instructions
        handle, status = tl.load_module(names[0])
        assert status == TLoadStatus.lsSuccess
        one = tl.machine.instructions - before
        assert refused < 2 * (extra + 1) * one, (refused, one)
        assert tl.unload_module(handle) == TLoadStatus.lsSuccess


def test_a_resident_symbol_is_found_by_name_and_an_unknown_one_is_null(psx_kernel):
    """GameVMResidentSymbol binary-searches the Global Symbol Table: every name it holds
    gives the address the resident's symbol table says, a name it lacks (before the first,
    between two, after the last) gives NULL.  Written for the survivor
    gvm_loader.c:GameVMResidentSymbol:const_1 (NULL made 1)."""
    from gamevm_build.link.resident import read_resident
    _d, kernel = psx_kernel
    _host, tl = pair("psx", kernel, _d)
    resident = read_resident(kernel, "psx")
    names = sorted(resident.symbols)
    assert len(names) > 10
    for name in names:
        assert tl.machine.call("GameVMResidentSymbol", tl._string(name)) == \
            resident.symbols[name], name
    for name in ("", "!", names[0][:-1], names[len(names) // 2] + "_", "~~~"):
        assert name not in resident.symbols
        assert tl.machine.call("GameVMResidentSymbol", tl._string(name)) == 0, name


@pytest.mark.parametrize("shndx,info", [
    (5, 0x03),          # a section symbol of .symtab, which is not loaded
    (0, 0x00),          # an undefined local symbol
])
def test_the_first_symbol_after_the_null_one_is_checked_too(psx_kernel, tmp_path, shndx,
                                                             info):
    """Symbol 1 (the linker's section symbol of .text) made bad: both loaders refuse the
    module (lsBadFormat), as they refuse any other bad symbol.  Written for the survivor
    gvm_loader.c:check_symbols:const_2 (the check started at symbol 2)."""
    _d, kernel = psx_kernel
    module_from(tmp_path, "s1", "int s1_val = 3;\nint s1_get(void) { return s1_val; }\n")
    data = bytearray((tmp_path / "s1.elf").read_bytes())
    shoff, = struct.unpack_from("<I", data, 32)
    symtab_off, = struct.unpack_from("<I", data, shoff + 40 * 5 + 16)
    assert struct.unpack_from("<IIIBBH", data, symtab_off + 16) == (0, 0, 0, 0x03, 0, 1)
    data[symtab_off + 16 + 12] = info
    struct.pack_into("<H", data, symtab_off + 16 + 14, shndx)
    loaded_as(kernel, tmp_path, "s1", bytes(data), TLoadStatus.lsBadFormat)


@pytest.mark.parametrize("other", [0x02, 0x03, 0x80])
def test_an_imports_st_other_byte_does_not_change_its_binding(psx_kernel, tmp_path, other):
    """An import whose symbol's st_other is not 0 (a hidden or protected visibility, or a
    processor bit) is bound like any other: neither loader reads st_other, so both bind
    fp_twice from the loaded fpmod, the same bytes, and the call reaches it.  Written for
    the survivor gvm_loader.c:bind_imports:const_17 (the section index read one byte
    early, st_other's byte with it: such an import was taken as defined, left 0)."""
    from test_target_runtime import same_modules
    d, kernel = psx_kernel
    (tmp_path / "fpmod.elf").write_bytes((d / "fpmod.elf").read_bytes())
    module_from(tmp_path, "im", "extern int fp_twice(int);\n"
                                "int im_call(int x) { return fp_twice(x) + 1; }\n")
    data = bytearray((tmp_path / "im.elf").read_bytes())
    symbols = _symbols(bytes(data))
    at = symbols[b"fp_twice"][0]
    assert data[at + 13] == 0 and struct.unpack_from("<H", data, at + 14)[0] == 0
    data[at + 13] = other
    (tmp_path / "im.elf").write_bytes(bytes(data))
    host, tl = pair("psx", kernel, tmp_path)
    for name in ("fpmod", "im"):
        assert host_load(host, name)[1] == TLoadStatus.lsSuccess
        assert tl.load_module(name)[1] == TLoadStatus.lsSuccess
    same_modules(host, tl)
    fn = tl.by_name("im").symbols["im_call"]
    assert host.machine.call(fn, 5) == tl.machine.call(fn, 5) == 11


def test_a_packed_module_naming_one_import_twice_is_bad_format(tmp_path):
    """Packed relocations name their imports by rank in the symbol table's name order, so
    the imports must be in strictly ascending order: a packed module whose two imports
    have the same name (the second symbol's name made the first's) is refused by both
    loaders (lsBadFormat), as one out of order is.  Written for the survivor
    gvm_relpack.c:relpack_read:ror_5 (``>= 0`` made ``> 0``: equal names taken)."""
    from gamevm_build.link import elf32 as E
    from gamevm_build.link.shipform import convert
    kernel = build_modules(tmp_path, "psx", {"dup": "int k_a(int);\nint k_b(int);\n"
                                                   "int g(int x) { return k_a(x) + k_b(x); }\n"},
                           "int k_a(int x) { return x + 1; }\n"
                           "int k_b(int x) { return x + 2; }\n", keep=["k_a", "k_b"])
    path = tmp_path / "dup.elf"
    packed = convert(path.read_bytes(), "packed")
    path.write_bytes(packed)
    host, tl = pair("psx", kernel, tmp_path)
    assert host_load(host, "dup")[1] == TLoadStatus.lsSuccess
    assert tl.load_module("dup")[1] == TLoadStatus.lsSuccess
    elf = E.parse(packed, "dup.elf")
    symtab = elf.sections[elf.symtab_index]
    imports = [i for i, s in enumerate(elf.symbols)
               if i and s.shndx == E.SHN_UNDEF and s.type != E.STT_SECTION]
    assert [elf.symbols[i].name for i in imports] == ["k_a", "k_b"]
    data = bytearray(packed)
    first_name = data[symtab.offset + 16 * imports[0]:symtab.offset + 16 * imports[0] + 4]
    data[symtab.offset + 16 * imports[1]:symtab.offset + 16 * imports[1] + 4] = first_name
    path.write_bytes(bytes(data))
    host, tl = pair("psx", kernel, tmp_path)
    assert host_load(host, "dup")[1] == TLoadStatus.lsBadFormat
    assert tl.load_module("dup") == (0, TLoadStatus.lsBadFormat)


@pytest.mark.parametrize("name,status", [("nosuch", TLoadStatus.lsFileNotFound),
                                         ("bad", TLoadStatus.lsBadFormat)])
@pytest.mark.parametrize("how", ["sync", "async"])
def test_a_failed_load_is_reported_with_its_status_and_why(psx_kernel, tmp_path, name, status,
                                                           how):
    """The runtime reports each LoadModule that fails (its GVM_EV_FAILED event), which the
    emulated console prints as ``[loader] LoadModule("name"): status: why``, once; an
    asynchronous load that fails in GameVMFrame is reported alike.  Written for the
    survivors gvm_loader.c:load_now:call_2 and GameVMFrame:call_3 (the event not sent:
    the failure went unreported)."""
    from test_target_runtime import frames_until_done
    _d, kernel = psx_kernel
    (tmp_path / "bad.elf").write_bytes(b"\x7fELF" + bytes(60))
    _host, tl = pair("psx", kernel, tmp_path)
    if how == "sync":
        assert tl.load_module(name) == (0, status)
    else:
        rec = tl.load_async(name)
        frames_until_done(tl, rec)
        assert rec["status"] == status.name
    lines = [line for line in tl.output if line.startswith("[loader] ")]
    assert len(lines) == 1 and lines[0].startswith(f'[loader] LoadModule("{name}"): '
                                                   f"{status.name}: "), lines
    assert name in lines[0][len(f'[loader] LoadModule("{name}"): '):]


#: a game's own reader that only reads synchronously (no start/poll: the emulator's
#: media device underneath) and its clock, a frame counter (a VSync count)
SYNC_READER_C = """#include "gamevm_runtime.h"
static int s_open(void *x, const char *n, unsigned long *z)
{ return GameVMEmulatorReader.open(x, n, z); }
static int s_read(void *x, int f, unsigned long o, void *d, unsigned long n)
{ return GameVMEmulatorReader.read(x, f, o, d, n); }
static void s_close(void *x, int f) { GameVMEmulatorReader.close(x, f); }
const TGameVMReader sync_reader = {s_open, s_read, s_close, 0, 0, 0};
unsigned long k_frames;
unsigned long frame_clock(void) { return k_frames; }
"""


@pytest.mark.parametrize("target", ["psx"])
def test_an_async_request_with_a_slice_leaves_its_cpu_work_to_a_frame(tmp_path, target):
    """With a reader that only reads synchronously and a clock counting frames, an
    asynchronous request with a CPU slice (one tick: a frame) does nothing but open the
    file and read its first bytes before the next GameVMFrame: no byte of the module is
    written; that frame loads it (the clock stands still within
    it), as the reference loader loads it.  Written for the survivor
    gvm_loader.c:out_of_time:ror_2 (the slice taken as used up only past its budget, not
    at it: the request's zero budget let the whole load run inside LoadModuleAsync)."""
    from gamevm_build.link.resident import read_resident
    from test_target_runtime import same_modules
    kernel = build_modules(tmp_path, target,
                           {"fpmod": "int fp_twice(int x) { return 2 * x; }\n"},
                           SYNC_READER_C, keep=["sync_reader", "frame_clock", "k_frames"])
    resident = read_resident(kernel, target)
    host, tl = pair(target, kernel, tmp_path, game_reader=resident.symbols["sync_reader"],
                    clock=resident.symbols["frame_clock"])
    rec = tl.load_async("fpmod", slice_ms=1e-9)
    assert rec["status"] == "lsPending"
    assert not any(e["event"] == "writing" for e in tl.events), tl.events
    tl.frame()
    assert rec["status"] == "lsSuccess" and rec["frame_completed"] == 0
    host.load("fpmod")
    same_modules(host, tl)


@pytest.mark.parametrize("built", ["psx"], indirect=True)
@pytest.mark.parametrize("form", ["packed", "plain"])
def test_a_load_relocated_over_many_thin_slices_is_the_host_loaders(built, tmp_path, form):
    """An asynchronous load with a CPU slice of a few hundred cycles a frame relocates its
    module over many frames, stopping between relocations: the module ends with the
    reference loader's bytes all the same.  A packed module's addends are taken from its
    fields once, before the first relocation is written; taken again after a slice ended
    mid-table they would be relocated values.  Written for the survivor
    gvm_loader.c:next_piece:const_8 (the addends marked as not taken), and
    gvm_loader.c:step:ror_4 (below)."""
    from gamevm_build.link.shipform import convert
    from test_target_runtime import frames_until_done, same_modules
    target, out, kernel = built
    for name in ("physics", "level1"):
        (tmp_path / f"{name}.elf").write_bytes(convert((out / f"{name}.elf").read_bytes(), form))
    host, tl = pair(target, kernel, tmp_path)
    assert tl.load_module("physics")[1] == TLoadStatus.lsSuccess
    rec = tl.load_async("level1", slice_ms=0.01)
    spans = frames_until_done(tl, rec, limit=1000)          # it takes 91 to 93
    assert rec["status"] == "lsSuccess" and len(spans) > 50, len(spans)
    # the steps before the image (header, metadata, checks, link preparation) each end a
    # frame whose slice is used up: no frame does half the load's work (survivor
    # gvm_loader.c:step:ror_4 stopped only after linking: one frame did 83% of it)
    assert max(spans) < sum(spans) / 2, (max(spans), sum(spans))
    assert host_load(host, "level1")[1] == TLoadStatus.lsSuccess
    same_modules(host, tl)


def test_a_constructor_runs_once_whatever_is_loaded_after(psx_kernel, tmp_path):
    """A module's constructors run when it is loaded, once: not again when another module
    is loaded after it, nor when it is loaded again (a reference more), on both loaders.
    The module is the first loaded, so it holds the runtime's first slot.  Written for the
    survivor gvm_loader.c:LoadModuleEx:const_2 (the slots to construct starting with slot 0
    in them: every LoadModule ran the first slot's constructors again)."""
    _d, kernel = psx_kernel
    module_from(tmp_path, "ca", "static int count;\n"
                                "__attribute__((constructor)) static void up(void) { count++; }\n"
                                "int ca_count(void) { return count; }\n")
    module_from(tmp_path, "cb", "int cb_f(void) { return 2; }\n")
    host, tl = pair("psx", kernel, tmp_path)
    for step in ("ca", "cb", "ca"):
        assert host_load(host, step)[1] == TLoadStatus.lsSuccess
        assert tl.load_module(step)[1] == TLoadStatus.lsSuccess
        counts = [loader.machine.call(loaded.symbols["ca_count"])
                  for loader, loaded in ((host, host.by_name("ca")), (tl, tl.by_name("ca")))]
        assert counts == [1, 1], (step, counts)


def test_the_padding_between_sections_is_zeroed_over_a_dirty_heap(psx_kernel, tmp_path):
    """The bytes between two sections read together are no section's: both loaders zero
    them (the file's bytes there, read with the sections in one piece, and the heap's
    garbage), the same bytes in RAM.  gamevm module pads each section to the next one's
    alignment, so the gap is made by cutting a 16-byte .rodata to 5 bytes (its other 11,
    "fghijklmno", stay in the file).  Written for the survivor
    gvm_loader.c:clear_gaps:aor_7 (the gap's end computed below its start: nothing
    zeroed)."""
    _d, kernel = psx_kernel
    path = module_from(tmp_path, "gp", "const char gp_s[16] = \"abcdefghijklmno\";\n"
                                       "int gp_d[4] __attribute__((aligned(16))) = {5, 6};\n"
                                       "int gp_g(int i) { return gp_s[i] + gp_d[i]; }\n")
    path.write_bytes(_with_section_header(path.read_bytes(), b".rodata", size=5))
    same_on_a_dirty_heap(kernel, tmp_path, "gp", 0x2000)


@pytest.mark.parametrize("target", ["psx"])
def test_a_work_area_too_small_for_a_registered_need_fails_out_of_memory(tmp_path, target):
    """The project's needs (GameVMAddNeed) get their load's state before the module's own
    file is opened: with work areas from 64 bytes up in steps of 16 (of 256 from 1 KiB), one
    holds the module's load state but not its need's.  Each load fails lsOutOfMemory, leaving nothing, or
    loads both as the reference loader does, and from the smallest area that loads them
    every larger one does.  Written for the survivor gvm_loader.c:open_module:const_6 (a
    failed allocation taken for a need pushed: the load went on with no state)."""
    kernel = build_modules(tmp_path, target, {"mid": "int mid_f(int x) { return x * 3; }\n",
                                              "top": "int top_f(int x) { return x + 1; }\n"})
    statuses = [st for st, _h, _t in
                sweep_work_sizes(target, kernel, tmp_path, "top",
                                 [*range(0x40, 0x400, 0x10), *range(0x400, 0x2000, 0x100)],
                                 extra_needs={"top": ["mid"]})]
    first = statuses.index(TLoadStatus.lsSuccess)
    assert 0 < first and set(statuses[first:]) == {TLoadStatus.lsSuccess}, statuses


def test_a_frame_called_from_a_completion_callback_does_nothing(tmp_path):
    """GameVMFrame from inside a frame (a load's callback calling it) returns 0 and
    completes nothing: the request queued after it completes in the outer frame, after
    the callback returned, never inside it.  Here ``b`` is loaded already, so its request
    completes at the first frame that reaches it; ``a``'s callback calls GameVMFrame.
    Written for the survivor gvm_loader.c:GameVMFrame:const_4 (the frame never marked as
    running: the nested call completed ``b`` inside ``a``'s callback)."""
    from test_target_runtime import frames_until_done, same_modules
    kernel = build_modules(tmp_path, "psx", {
        "a": "int a_f(int x) { return x + 1; }\n",
        "b": "int b_f(int x) { return x * 2; }\n"},
        kernel_c="#include \"gamevm.h\"\n"
                 "int in_a, nested = -1, b_saw_in_a = -1, b_status = -1;\n"
                 "void on_b(TModuleHandle h, TLoadStatus st) { b_saw_in_a = in_a; "
                 "b_status = st; }\n"
                 "void on_a(TModuleHandle h, TLoadStatus st) { in_a = 1; "
                 "nested = (int)GameVMFrame(); in_a = 0; }\n",
        keep=["on_a", "on_b", "in_a", "nested", "b_saw_in_a", "b_status"])
    host, tl = pair("psx", kernel, tmp_path)
    assert tl.load_module("b")[1] == TLoadStatus.lsSuccess
    first = tl.load_async("a", callback=tl.symbols["on_a"])
    second = tl.load_async("b", callback=tl.symbols["on_b"])
    frames_until_done(tl, second)
    assert first["status"] == second["status"] == "lsSuccess"
    word = {name: tl.machine.read_u32(tl.symbols[name])
            for name in ("nested", "b_saw_in_a", "b_status")}
    assert word == {"nested": 0, "b_saw_in_a": 0, "b_status": TLoadStatus.lsSuccess}
    for name in ("b", "a"):
        assert host_load(host, name)[1] == TLoadStatus.lsSuccess
    same_modules(host, tl)


@pytest.mark.parametrize("target", ["psx", "n64"])
def test_safe_mode_counts_a_stack_word_only_after_a_call(tmp_path, target):
    """A word in a live frame of the game's stack that points into a module's code keeps
    the runtime loaded only when the instruction before it (before the delay slot) is a
    call: after a ``jal`` the runtime refuses the unload (lsModuleInUse: its conservative
    rule, docs/runtime-c.md "Safe mode"; the reference loader, which unwinds the frames,
    sees no return address there and unloads); after a MIPS instruction of the same major
    opcode as ``jalr`` that is no call (``addu``, ``jr``) both unload it.  The kernel keeps the
    word in its own frame while it calls UnloadModule.  Written for the survivor
    gvm_reloc.c:gvm_after_call:lcr_2 (``&&`` made ``||``: every such instruction, and
    every word whose low six bits are 9, counted as a call)."""
    from gamevm_build.play.console import Console
    from test_runtime_c_safemode import unload_with_residents
    unload_with_residents(tmp_path, target, {
        "held": "extern int k_twice(int);\n"
                "int held_a(int x, int y) { return k_twice(x) + y; }\n"})
    for runtime in ("host", "target"):
        c = Console(target, tmp_path / f"kernel-{runtime}.elf", search_paths=[tmp_path])
        lm = c.load("held")
        code = c.machine.read(lm.base, lm.module.code_size)
        words = [int.from_bytes(code[i:i + 4], "big" if target == "n64" else "little")
                 for i in range(0, len(code), 4)]
        after = {kind: lm.base + 4 * words.index(next(w for w in words if test(w))) + 8
                 for kind, test in (("jal", lambda w: w >> 26 == 3),
                                    ("jr", lambda w: w >> 26 == 0 and w & 0x3F == 8),
                                    ("addu", lambda w: w >> 26 == 0 and w & 0x3F == 0x21))}
        for kind, want in (("addu", TLoadStatus.lsSuccess), ("jr", TLoadStatus.lsSuccess),
                           ("jal", TLoadStatus.lsModuleInUse if runtime == "target"
                            else TLoadStatus.lsSuccess)):
            lm = c.loader.by_name("held") or c.load("held")
            assert c.call("unload_with", lm.handle, after[kind]) == want, (runtime, kind)
            assert (c.loader.by_name("held") is None) == (want == TLoadStatus.lsSuccess)


def test_a_section_name_table_past_the_end_of_a_large_file_is_bad_format(psx_kernel, tmp_path):
    """A module of 24 KiB whose section name table's size reaches one byte past the end
    of the file, loaded with an 8 KiB work area: both loaders refuse it as lsBadFormat (it
    is checked before it is read), not lsOutOfMemory (the work area cannot hold what the
    header claims).  Written for the survivor gvm_loader.c:read_sections:aor_1 (the bound
    ``fsize - off`` made ``fsize + off``: only a file larger than the work area tells)."""
    _d, kernel = psx_kernel
    path = module_from(tmp_path, "big", "const char big_t[24576] = {1};\n"
                                        "int big_f(int i) { return big_t[i]; }\n")
    data = path.read_bytes()
    shoff, = struct.unpack_from("<I", data, 32)
    shstrndx, = struct.unpack_from("<H", data, 50)
    offset = struct.unpack_from("<10I", data, shoff + 40 * shstrndx)[4]
    path.write_bytes(_with_section_header(data, b".shstrtab", size=len(data) - offset + 1))
    host, tl = pair("psx", kernel, tmp_path, work_size=0x2000)
    assert len(data) > 3 * 0x2000
    assert host_load(host, "big")[1] == TLoadStatus.lsBadFormat
    assert tl.load_module("big")[1] == TLoadStatus.lsBadFormat
    assert not tl.loaded


def test_a_failed_load_gives_back_the_references_its_placed_modules_took(psx_kernel, tmp_path):
    """``x`` needs ``a`` then ``b``; ``a`` needs ``c``, which the game loaded.  ``b``
    imports a function nobody provides, so the load of ``x`` fails (lsUndefinedSymbol)
    after placing and binding ``a``: both loaders free ``a``
    and give back the reference it took on ``c``, so the game's one UnloadModule of ``c``
    frees it, and nothing is left.  (Written while looking for a way into the line of
    gvm_loader.c's rollback that no test runs, bench/coverage_c.py: this is not one, as a
    load records its modules' needs only once every one is bound.)"""
    from test_target_runtime import same_modules
    _d, kernel = psx_kernel
    module_from(tmp_path, "c", "int c_f(int x) { return x + 3; }\n")
    module_from(tmp_path, "a", "extern int c_f(int);\nint a_f(int x) { return c_f(x); }\n",
                needs=["c"])
    module_from(tmp_path, "b", "extern int nowhere(int);\nint b_f(int x) { return nowhere(x); }\n")
    module_from(tmp_path, "x", "extern int a_f(int), b_f(int);\n"
                               "int x_f(int x) { return a_f(x) + b_f(x); }\n", needs=["a", "b"])
    host, tl = pair("psx", kernel, tmp_path)
    lm, status = host_load(host, "c")
    handle, t_status = tl.load_module("c")
    assert status == t_status == TLoadStatus.lsSuccess
    assert host_load(host, "x")[1] == TLoadStatus.lsUndefinedSymbol
    assert tl.load_module("x") == (0, TLoadStatus.lsUndefinedSymbol)
    same_modules(host, tl)
    assert [m.name for m in tl.loaded.values()] == ["c"]
    host.unload(lm.handle)
    assert tl.unload_module(handle) == TLoadStatus.lsSuccess
    assert not tl.loaded and not host.loaded


def test_load_module_async_without_flags_loads_as_the_reference(tmp_path):
    """LoadModuleAsync(name, cb), the seed's form without flags or an id: the load
    completes over frames (GameVMAsyncStatus of the first request's id, 1, says so), the
    callback gets the handle and lsSuccess, and RAM holds the reference loader's bytes."""
    from test_target_runtime import frames_until_done, same_modules
    kernel = build_modules(tmp_path, "psx", {"a": "int a_f(int x) { return x + 1; }\n"},
                           kernel_c="#include \"gamevm.h\"\n"
                                    "TModuleHandle got = 0; int got_status = -1;\n"
                                    "void on_a(TModuleHandle h, TLoadStatus st) "
                                    "{ got = h; got_status = st; }\n",
                           keep=["LoadModuleAsync", "on_a", "got", "got_status"])
    host, tl = pair("psx", kernel, tmp_path)
    tl.machine.call("LoadModuleAsync", tl._string("a"), tl.symbols["on_a"])
    rec = {"request": "a", "id": 1, "frame_completed": None, "status": "lsPending"}
    tl.async_loads.append(rec)
    frames_until_done(tl, rec)
    assert rec["status"] == "lsSuccess" and tl.async_status(1) == TLoadStatus.lsSuccess
    assert tl.machine.read_u32(tl.symbols["got_status"]) == TLoadStatus.lsSuccess
    assert tl.handle_base(tl.machine.read_u32(tl.symbols["got"])) == tl.by_name("a").base
    assert host_load(host, "a")[1] == TLoadStatus.lsSuccess
    same_modules(host, tl)


# --- the fresh sample of 2026-12-06 (seed 2026120602) ------------------------------------------

def test_a_module_in_a_region_starting_at_an_odd_address_is_aligned_into_it(tmp_path, target):
    """A region the game adds at an odd address (one byte past a multiple of 16): the
    first module placed there goes to the next multiple of its alignment inside it, in both
    loaders, not below the region's start.  Written for the survivor
    gvm_loader.c:fits:const_1 (``top + align - 1`` made ``- 2``: a top one past a multiple
    rounded down, onto the byte before).  Modules' footprints are multiples of 16, so only
    a region's start can leave the top so."""
    from gamevm_build.runtime.allocator import Region
    from test_target_runtime import same_modules

    kernel = build_modules(tmp_path, target, {"m": "long long m_v = 7;\n"
                                                   "int m_f(void) { return 1; }\n"})
    heap = heap_of(target, kernel)
    start = (heap.start + 0x100) & ~0xF | 1
    regions = [Region("Odd", start, 0x4000)]
    host, tl = pair_over(target, kernel, tmp_path, regions)
    lm = host.load("m")
    assert tl.load_module("m")[1] == TLoadStatus.lsSuccess
    assert lm.base == start + 15
    same_modules(host, tl)


@pytest.mark.parametrize("align", [b'"align":1,"entry":null ', b'"align":2,"entry":null '])
def test_a_module_asking_less_than_word_alignment_gets_a_word(psx_kernel, tmp_path, align):
    """A module whose metadata asks an alignment of 1 or 2 is placed on a word, as its
    words need, and no further: in a region starting 4 bytes past a multiple of 8, at its
    start, in both loaders.  Written for the survivor gvm_loader.c:link_prepare:const_3
    (the least alignment 4 made 5: rounding with ``& ~4`` moved such a module 4 bytes
    on)."""
    from gamevm_build.runtime.allocator import Region
    from test_target_runtime import same_modules
    d, kernel = psx_kernel
    data = (d / "fpmod.elf").read_bytes()
    old = b'"align":16,"entry":null'
    assert data.count(old) == 1 and len(align) == len(old)
    (tmp_path / "fpmod.elf").write_bytes(data.replace(old, align))
    heap = heap_of("psx", kernel)
    start = ((heap.start + 0x100) & ~0xF) + 4
    host, tl = pair_over("psx", kernel, tmp_path, [Region("Word", start, 0x4000)])
    lm = host.load("fpmod")
    assert tl.load_module("fpmod")[1] == TLoadStatus.lsSuccess
    assert lm.base == start
    same_modules(host, tl)


def test_a_weak_import_followed_by_another_import_stays_weak(psx_kernel, tmp_path):
    """Whether an import is weak is read from its own symbol: a weak import that is not
    the symbol table's last (another import sorts after it) and that nothing provides
    binds to 0 in both loaders, and the other binds to its provider.  Written for the
    survivor gvm_loader.c:import_is_weak:const_10 (st_shndx read one byte on, into the
    next symbol's name: the last symbol read the string table's leading NUL)."""
    from test_target_runtime import same_modules
    _d, kernel = psx_kernel
    module_from(tmp_path, "zz", "int zz_f(int x) { return x * 2; }\n")
    module_from(tmp_path, "aw", "extern int aw_nowhere(int) __attribute__((weak));\n"
                                "extern int zz_f(int);\n"
                                "int aw_f(int x) { return aw_nowhere ? aw_nowhere(x) : zz_f(x); }\n")
    host, tl = pair("psx", kernel, tmp_path)
    for name in ("zz", "aw"):
        assert host_load(host, name)[1] == TLoadStatus.lsSuccess
        assert tl.load_module(name)[1] == TLoadStatus.lsSuccess
    same_modules(host, tl)
    aw = host.by_name("aw")
    assert [i.name for i in aw.module.imports.values()] == ["aw_nowhere", "zz_f"]
    assert host.machine.call(aw.symbols["aw_f"], 5) == tl.machine.call(aw.symbols["aw_f"], 5) == 10


def test_an_async_load_reads_a_file_that_fits_with_a_quarter_more_in_one_request(psx_kernel,
                                                                                tmp_path):
    """An asynchronous load reads the whole file in one request (one wait for the drive)
    when the work area holds it and a quarter more, and 256 bytes: a file of about 8 KiB in
    the 12 KiB work area is read so, and lands as the reference loader's.  Written for the
    survivor gvm_loader.c:opened:const_11 (a half more asked for: the file read in pieces)."""
    from gamevm_build.runtime.target import WORK_SIZE
    from test_target_runtime import frames_until_done, same_modules
    _d, kernel = psx_kernel
    path = module_from(tmp_path, "big8", "const unsigned char big8_t[7600] = {1, 2, 3};\n"
                                         "int big8_f(int i) { return big8_t[i]; }\n")
    size = path.stat().st_size
    assert size + size // 4 + 256 <= WORK_SIZE - 1024 and size + size // 2 + 256 > WORK_SIZE
    host, tl = pair("psx", kernel, tmp_path)
    rec = tl.load_async("big8", callback=0)
    frames_until_done(tl, rec)
    assert rec["status"] == "lsSuccess"
    assert [(o, n) for p, o, n in rec["reads"] if p.endswith("big8.elf")] == [(0, size)]
    host_load(host, "big8")
    same_modules(host, tl)


def test_the_whole_file_read_begins_exactly_at_a_quarter_more_and_256_bytes(psx_kernel,
                                                                           tmp_path):
    """The threshold to the byte: an asynchronous load reads the whole file in one request
    when the room left after its load state (``at``, where its first read lands) holds
    the file, a quarter of it more and 256 bytes; four bytes less and it reads the first
    2 KiB, then the rest, and loads the same bytes either way.  Written for the survivors
    gvm_loader.c:opened:const_12 (257 bytes asked for) and opened:aor_2 (the room computed
    as ``work_size + at``)."""
    from test_target_runtime import frames_until_done, same_modules
    _d, kernel = psx_kernel
    path = module_from(tmp_path, "q", "const unsigned char q_t[3000] = {1, 2, 3};\n"
                                      "int q_f(int i) { return q_t[i]; }\n")
    data = path.read_bytes()
    path.write_bytes(data + bytes(-len(data) % 16))     # the threshold a multiple of 4
    size = path.stat().st_size
    need = size + size // 4 + 256
    _host, tl = pair("psx", kernel, tmp_path, work_size=0x8000)
    frames_until_done(tl, tl.load_async("q"))
    (_p, offset, dst, length), *rest = tl.read_log
    assert (offset, length, rest) == (0, size, [])
    at = dst - tl.work
    assert 0 < at < 0x400 and at % 4 == 0
    for work_size, first in ((at + need, size), (at + need - 4, 2048)):
        host, tl = pair("psx", kernel, tmp_path, work_size=work_size)
        rec = tl.load_async("q")
        frames_until_done(tl, rec)
        assert rec["status"] == "lsSuccess"
        assert tl.read_log[0][1:] == (0, tl.work + at, first), work_size
        host_load(host, "q")
        same_modules(host, tl)


@pytest.mark.parametrize("pad", [0, 1], ids=["psx-8n", "psx-8n+4"])
def test_a_lazy_stub_jumps_to_the_runtime_wherever_its_entry_lies(tmp_path, pad):
    """A MIPS lazy stub is ``j gvm_stub_entry``, whose target field holds the entry's
    address in words: with ``pad`` words of kernel code before the runtime, the entry lies
    at an address that is a multiple of 8 or not, and a lazy call binds through it and
    returns what the reference loader's does either way.  Written for the survivor
    gvm_stubs.c:stub_alloc:const_11 (the field's lowest bit dropped: the stub jumped a
    word before an entry that lay off a multiple of 8, which no kernel of the tests had)."""
    from gamevm_build.runtime.target import LOAD_LAZY
    from test_target_runtime import same_modules, same_stubs
    words = ", ".join(["0x03e00008", "0"] + ["0"] * pad)          # jr $ra; nop; padding
    kernel = build_modules(tmp_path, "psx", {
        "prov": "int prov_f(int x) { return x + 8; }\n",
        "lazy": "extern int prov_f(int);\nint lazy_f(int x) { return prov_f(x) * 2; }\n"},
        f'__asm__(".section .text.kpad,\\"ax\\",@progbits\\n.globl kpad\\nkpad: .word {words}");\n',
        keep=["kpad"])
    with open(kernel, "rb") as f:
        entry = ELFFile(f).get_section_by_name(".symtab").get_symbol_by_name("gvm_stub_entry")[0]
    assert entry["st_value"] % 8 == 4 * pad, hex(entry["st_value"])
    host, tl = pair("psx", kernel, tmp_path)
    host.load("prov")
    assert tl.load_module("prov")[1] == TLoadStatus.lsSuccess
    lm = host.load("lazy", lazy=True)
    assert tl.load_module("lazy", LOAD_LAZY)[1] == TLoadStatus.lsSuccess
    same_stubs(host, tl)
    assert host.machine.call(lm.symbols["lazy_f"], 5) == \
        tl.machine.call(tl.by_name("lazy").symbols["lazy_f"], 5) == 26
    same_modules(host, tl)
    same_stubs(host, tl)


def test_placing_a_module_in_a_region_never_added_is_refused(psx_kernel, tmp_path):
    """GameVMPlaceModule with a region name no GameVMAddRegion gave: lsSymbolNotFound, and
    the module still loads where it would have (the first heap), as the reference loader
    places it.  (TargetLoader.place refuses such a name itself, as the project
    configuration's check does, so the runtime's own refusal is called directly.)
    Written for the survivor gvm_loader.c:GameVMPlaceModule:ror_1 (the search ran one
    region past those added, and placed the module in a region that does not exist)."""
    from test_target_runtime import same_modules
    d, kernel = psx_kernel
    (tmp_path / "fpmod.elf").write_bytes((d / "fpmod.elf").read_bytes())
    host, tl = pair("psx", kernel, tmp_path)
    status = tl.machine.call("GameVMPlaceModule", tl._string("fpmod"), tl._string("nowhere"))
    assert TLoadStatus(status) == TLoadStatus.lsSymbolNotFound
    assert host_load(host, "fpmod")[1] == tl.load_module("fpmod")[1] == TLoadStatus.lsSuccess
    same_modules(host, tl)


@pytest.mark.parametrize("more", [0, 1], ids=["psx-image", "psx-image+1"])
def test_a_zx0_margin_as_large_as_the_image_is_the_largest_accepted(psx_kernel, tmp_path,
                                                                   more):
    """A ZX0 module's in-place margin (``.gvm.image``'s sh_entsize) may be as large as its
    image: it then loads (decoded from further up its larger footprint) as on the host;
    a byte more is a bad file in both loaders.  Written for the survivor
    gvm_relpack.c:zimage_check:ror_3 (a margin equal to the image refused)."""
    from gamevm_build.link.module import read_module
    from gamevm_build.link.shipform import convert
    from test_target_runtime import same_modules
    _d, kernel = psx_kernel
    path = module_from(tmp_path, "zm", "const int zm_t[256] = {1, 2, 3};\n"
                                       "int zm_f(int i) { return zm_t[i & 255] * 2; }\n")
    data = convert(path.read_bytes(), "zx0")
    image = read_module(data).image_size
    edited = hashless(_with_section_header(data, b".gvm.image", entsize=image + more))
    want = TLoadStatus.lsBadFormat if more else TLoadStatus.lsSuccess
    (tmp_path / "zm.elf").write_bytes(edited)
    host, tl = pair("psx", kernel, tmp_path)
    assert host_load(host, "zm")[1] == want
    assert tl.load_module("zm")[1] == want
    same_modules(host, tl)
    if not more:
        assert tl.machine.call(tl.by_name("zm").symbols["zm_f"], 2) == 6


@pytest.mark.parametrize("target", ["psx"])
def test_a_load_into_the_overlay_its_running_occupant_holds_is_refused(tmp_path, target):
    """Safe mode: the overlay's occupant, running, asks for another module placed in its
    overlay (no double buffer): both loaders refuse it with lsModuleInUse and change
    nothing; once the occupant has returned, the same load evicts it.  Written for the
    survivor gvm_loader.c:region_alloc:status_1 (that refusal made lsSuccess: the load
    went on with no place chosen)."""
    from test_target_runtime import overlay_console
    module_from(tmp_path, "occ", '#include "gamevm.h"\n'
                                 'int occ_load(void) { TLoadStatus s = lsSuccess;'
                                 ' LoadModuleEx("other", &s); return 100 + (int)s; }\n',
                target=target)
    module_from(tmp_path, "other", "int other_f(void) { return 99; }\n", target=target)
    (tmp_path / "kernel.c").write_text("void _start(void) {}\n")
    outcome = {}
    for runtime in ("host", "target"):
        c = overlay_console(target, tmp_path, runtime, tmp_path / "occ.elf", ("occ", "other"))
        occ = c.load("occ")
        status = c.call(occ.symbols["occ_load"]) - 100
        during = {x.name: x.base for x in c.loader.loaded.values()}
        c.load("other")                     # nothing runs now: evicts the occupant
        after = {x.name: x.base for x in c.loader.loaded.values()}
        outcome[runtime] = (status, during, after)
    status, during, after = outcome["target"]
    assert status == TLoadStatus.lsModuleInUse
    assert set(during) == {"occ"} and set(after) == {"other"}
    assert outcome["host"] == outcome["target"]


@pytest.mark.parametrize("target", ["psx"])
def test_a_trusted_module_read_in_several_pieces_is_hashed_whole(tmp_path, target):
    """GameVMTrust: a module listed with its size and SHA-256 whose metadata and headers
    take more than the first read (2 KiB), so the runtime reads its file in three pieces
    (the first sector, the rest of the headers, the image) and hashes each as it arrives:
    it loads, as on the reference loader; one byte of its image changed, both refuse it
    (lsBadSignature) and load nothing.  Written for the survivor
    gvm_loader.c:read_module:call_1 (the rest of the headers not hashed: every module
    larger than the first read refused), which only tests/test_trust.py reached."""
    from test_loader_mutants import table as trust_table
    from test_target_runtime import same_modules
    names = [f"tr_f{i:03d}" for i in range(120)]
    kernel = build_modules(tmp_path, target, {"tr": "".join(
        f"int {n}(int x) {{ return x + {i}; }}\n" for i, n in enumerate(names))},
        keep=["GameVMTrust"])
    data = (tmp_path / "tr.elf").read_bytes()
    _at, text = section_header(data, ".text")
    assert text[4] > 2048                            # the image starts past the first read
    table = trust_table({"tr": data})
    host, tl = pair(target, kernel, tmp_path)
    host.trust(table)
    assert tl.trust(table) == TLoadStatus.lsSuccess
    assert host_load(host, "tr")[1] == tl.load_module("tr")[1] == TLoadStatus.lsSuccess
    same_modules(host, tl)
    assert len([r for r in tl.read_log if r[0].endswith("tr.elf")]) >= 3
    bad = bytearray(data)
    bad[text[4] + 8] ^= 1
    (tmp_path / "tr.elf").write_bytes(bytes(bad))
    host, tl = pair(target, kernel, tmp_path)
    host.trust(table)
    assert tl.trust(table) == TLoadStatus.lsSuccess
    assert host_load(host, "tr")[1] == tl.load_module("tr")[1] == TLoadStatus.lsBadSignature
    assert not tl.loaded and not host.loaded


def test_bytes_after_the_section_header_table_are_no_section(psx_kernel, tmp_path):
    """A module file with 40 bytes between its section header table and its image that
    read as one more header, of a relocation table the format refuses (SHT_REL): no
    section, as e_shnum says, so both loaders load it as they load the file without
    them.  Written for the survivor gvm_loader.c:check_relocations:ror_1 (the walk of the
    relocation tables ran one header past the table, and refused the module)."""
    from test_target_runtime import same_modules
    d, kernel = psx_kernel
    data = bytearray((d / "fpmod.elf").read_bytes())
    phoff, shoff = struct.unpack_from("<II", data, 28)
    phnum, _size, shnum = struct.unpack_from("<HHH", data, 44)
    end = shoff + 40 * shnum                            # the image follows: moved 40 on
    assert len(data) < 2048                             # one read brings it all
    for at, count, size, field in ((phoff, phnum, 32, 4), (shoff, shnum, 40, 16)):
        for k in range(count):
            where, = struct.unpack_from("<I", data, at + size * k + field)
            if where >= end:
                struct.pack_into("<I", data, at + size * k + field, where + 40)
    extra = struct.pack("<10I", 1, 9, 0, 0, 64, 12, 0, 1, 4, 8)
    (tmp_path / "fpmod.elf").write_bytes(bytes(data[:end]) + extra + bytes(data[end:]))
    host, tl = pair("psx", kernel, tmp_path)
    assert host_load(host, "fpmod")[1] == tl.load_module("fpmod")[1] == TLoadStatus.lsSuccess
    same_modules(host, tl)


def test_a_lazy_load_in_a_work_area_too_small_for_its_stub_table_changes_nothing(
        psx_kernel, tmp_path):
    """A lazy load (GVM_LOAD_LAZY) into an overlay whose occupant it would evict, over work
    areas from the smallest that loads it down by words: each either loads it as the
    reference loader does (the occupant evicted, the same stubs and bytes) or is
    lsOutOfMemory and changes nothing: the occupant stays, including where the table of
    its imports' stubs is the block that does not fit.  Written for the survivor
    gvm_stubs.c:scan_imports:const_36 (that refusal made "no imports kept": the load went
    on, evicted the occupant, and only then ran out of memory)."""
    from gamevm_build.runtime.target import LOAD_LAZY
    from test_target_runtime import overlay_regions, same_modules, same_stubs
    d, kernel = psx_kernel
    (tmp_path / "fpmod.elf").write_bytes((d / "fpmod.elf").read_bytes())
    module_from(tmp_path, "occ", "int occ_f(int x) { return x - 1; }\n")
    module_from(tmp_path, "lz", "extern int fp_twice(int);\n"
                                "int lz_f(int x) { return fp_twice(x) + 1; }\n", needs=["fpmod"])

    def lazily(size):
        """(host, target, lz's status) with fpmod and occ loaded first, or None if they do
        not fit"""
        host, tl = pair("psx", kernel, tmp_path, regions=overlay_regions, work_size=size,
                        placement={"occ": "Ovl", "lz": "Ovl"})
        if tl.load_module("fpmod")[1] != TLoadStatus.lsSuccess or \
                tl.load_module("occ")[1] != TLoadStatus.lsSuccess:
            return None
        host.load("fpmod")
        host.load("occ")
        return host, tl, tl.load_module("lz", LOAD_LAZY)[1]
    lo, hi = 64, 0x2000                         # the smallest work area that loads it
    while hi - lo > 4:
        mid = (lo + hi) // 2 & ~3
        got = lazily(mid)
        lo, hi = (lo, mid) if got and got[2] == TLoadStatus.lsSuccess else (mid, hi)
    refused = 0
    for size in range(hi, hi - 48, -4):
        host, tl, status = lazily(size)
        assert status in (TLoadStatus.lsSuccess, TLoadStatus.lsOutOfMemory), (size, status)
        if status == TLoadStatus.lsSuccess:
            lz = host.load("lz", lazy=True)
            same_stubs(host, tl)
        else:
            refused += 1
            assert {m.name for m in tl.loaded.values()} == {"fpmod", "occ"}, size
        same_modules(host, tl)
        if status == TLoadStatus.lsSuccess:
            assert host.machine.call(lz.symbols["lz_f"], 4) == \
                tl.machine.call(tl.by_name("lz").symbols["lz_f"], 4) == 9
    assert refused == 11


@pytest.mark.parametrize("before,after", [(0, 1), (1, 1), (2, 1), (3, 1), (1, 0)],
                         ids=lambda k: f"psx-{k}")
def test_an_export_defined_twice_binds_to_its_last_definition(psx_kernel, tmp_path, before,
                                                              after):
    """A module whose symbol table defines one name twice (``dup_b``'s entry renamed
    ``dup_a``), with ``before`` exports whose names sort before it and ``after`` after it:
    the last definition wins, in both loaders, for a module that imports the name and for
    GetModuleProc, wherever the name's entries fall in the search, the table's end
    included.  Written for the survivors gvm_loader.c:make_record:const_44 (the test for a
    repeated name made ``== 1``: both definitions were kept, and the search found
    whichever it met first) and make_record:const_40 (a repeated name last in the table
    kept twice)."""
    from test_target_runtime import same_modules
    _d, kernel = psx_kernel
    path = module_from(tmp_path, "dup", "".join(f"int dua_{k}(int x) {{ return x; }}\n"
                                                for k in range(before))
                       + "int dup_a(int x) { return x + 1; }\n"
                         "int dup_b(int x) { return x + 2; }\n"
                       + "int dup_c(int x) { return x + 3; }\n" * after)
    module_from(tmp_path, "user", "extern int dup_a(int);\n"
                                  "int user_f(int x) { return dup_a(x); }\n", needs=["dup"])
    data = bytearray(path.read_bytes())
    symbols = _symbols(bytes(data))
    entry_b, _name_b = symbols[b"dup_b"]
    struct.pack_into("<I", data, entry_b, symbols[b"dup_a"][1])
    path.write_bytes(hashless(bytes(data)))
    host, tl = pair("psx", kernel, tmp_path)
    handles = {}
    for name in ("dup", "user"):
        handles[name], status = tl.load_module(name)
        assert host_load(host, name)[1] == status == TLoadStatus.lsSuccess
    same_modules(host, tl)
    user = host.by_name("user").symbols["user_f"]
    assert host.machine.call(user, 10) == tl.machine.call(user, 10) == 12
    assert tl.get_proc(handles["dup"], "dup_a") == host.by_name("dup").symbols["dup_a"]


@pytest.mark.parametrize("body,apart", [
    ("int lz1_f(int x) { return lz2_g(x) * lz2_g(x + 1); }\n", None),
    # two calls a word apart with their delay slots: 8 bytes
    ("int lz1_f(int x) { lz2_g(x); lz2_g(x + 1); return 20; }\n", 8)],
    ids=["psx-apart", "psx-next"])
def test_a_lazy_binding_announces_exactly_the_words_it_rewrites(psx_kernel, tmp_path, body,
                                                                apart):
    """The first call of a lazy import rewrites its call sites; the runtime tells the
    debugger hook (GVM_EV_PATCHING) the range from the first site to the end of the last
    word, not a byte more, also when the sites follow each other.  Written for the
    survivors gvm_stubs.c:patch_import:const_25 (the range's end one byte past the last
    site's word) and patch_import:aor_2 (a site taken as the range's last only when it
    lay more than 8 bytes past it)."""
    from gamevm_build.runtime.target import EV_PATCHING, LOAD_LAZY
    _d, kernel = psx_kernel
    module_from(tmp_path, "lz2", "int lz2_g(int x) { return x + 1; }\n")
    module_from(tmp_path, "lz1", "extern int lz2_g(int);\n" + body)
    host, tl = pair("psx", kernel, tmp_path)
    assert tl.load_module("lz2")[1] == tl.load_module("lz1", LOAD_LAZY)[1] == \
        TLoadStatus.lsSuccess
    lz1 = tl.by_name("lz1")
    sites = sorted(r.offset for r in lz1.module.relocations
                   if r.is_import and r.symbol == "lz2_g" and r.type_name == "R_MIPS_26")
    assert len(sites) == 2 and apart in (None, sites[1] - sites[0])
    before = len(tl.events)
    assert tl.machine.call(lz1.symbols["lz1_f"], 3) == 20
    patching = [(e["base"], e["size"]) for e in tl.events[before:] if e["event"] == EV_PATCHING]
    assert patching == [(lz1.base + sites[0], sites[1] + 4 - sites[0])]


@pytest.mark.parametrize("size", [1, 51])
def test_a_file_shorter_than_an_elf_header_is_bad_format(psx_kernel, tmp_path, size):
    """A module file shorter than the 52 bytes of an ELF header (a cut copy of a real one)
    is lsBadFormat in both loaders, asynchronous or not, and nothing is placed.  Written
    for the survivor gvm_loader.c:opened:status_1 (the status of that refusal changed)."""
    from test_target_runtime import frames_until_done
    d, kernel = psx_kernel
    (tmp_path / "cut.elf").write_bytes((d / "fpmod.elf").read_bytes()[:size])
    host, tl = pair("psx", kernel, tmp_path)
    assert host_load(host, "cut")[1] == TLoadStatus.lsBadFormat
    assert tl.load_module("cut") == (0, TLoadStatus.lsBadFormat)
    rec = tl.load_async("cut", callback=0)
    frames_until_done(tl, rec)
    assert rec["status"] == "lsBadFormat" and not tl.loaded and not host.loaded


@pytest.mark.parametrize("length,want", [(63, "lsSuccess"), (64, "lsFileNotFound")])
def test_an_import_name_is_spelled_otherwise_up_to_63_bytes(psx_kernel, tmp_path, length, want):
    """GameVMImport tries a dotted name's other spellings (``fx.b...`` as ``fx_b...``) when
    the name has at most 63 bytes, the runtime's buffer for them less its NUL; a longer name
    is looked up as given only (the reference loader has no such bound: docs/runtime-c.md).
    Written for the survivor gvm_loader.c:import_candidates:ror_2 (``n < 64`` made ``<=``:
    a 64-byte name was spelled into the buffer and one byte past it)."""
    from test_target_runtime import frames_until_done
    d, kernel = psx_kernel
    name = "fx." + "b" * (length - 3)
    (tmp_path / f"{name.replace('.', '_')}.elf").write_bytes((d / "fpmod.elf").read_bytes())
    _host, tl = pair("psx", kernel, tmp_path)
    rec = tl.load_async(name, import_=True)
    frames_until_done(tl, rec)
    assert rec["status"] == want
    assert (tl.by_name("fpmod") is not None) == (want == "lsSuccess")


def test_a_synchronous_load_needs_as_much_work_area_before_an_asynchronous_one_as_after(
        psx_kernel, tmp_path):
    """The work area a synchronous load needs (the smallest that loads fpmod, found by
    halving) is the same from GameVMInit on as once an asynchronous load has come and
    gone (loaded or refused): none of it is kept for an asynchronous chain that is not
    there.  Written for
    the survivor gvm_loader.c:GameVMInit:const_9 (``job_work = 1``: a synchronous load
    started 4 bytes up until the first asynchronous one completed)."""
    from test_target_runtime import frames_until_done
    d, kernel = psx_kernel
    (tmp_path / "fpmod.elf").write_bytes((d / "fpmod.elf").read_bytes())
    module_from(tmp_path, "other", "int other_f(int x) { return x + 1; }\n")

    def loads(size: int, after_async: bool) -> bool:
        _host, tl = pair("psx", kernel, tmp_path, work_size=size)
        if after_async:
            rec = tl.load_async("other")          # whether or not it fits, it ends
            frames_until_done(tl, rec)
            assert rec["status"] in ("lsSuccess", "lsOutOfMemory")
        return tl.load_module("fpmod")[1] == TLoadStatus.lsSuccess

    lo, hi = 0, 0x4000                    # fpmod fails with lo bytes, loads with hi
    assert loads(hi, False) and loads(hi, True)
    while hi - lo > 4:
        mid = (lo + hi) // 2 & ~3
        lo, hi = (lo, mid) if loads(mid, False) else (mid, hi)
    assert loads(hi, True) and not loads(hi - 4, True), hi


def test_the_table_of_project_needs_holds_96_entries(psx_kernel, tmp_path):
    """GameVMAddNeed takes GVM_MAX_NEEDS (96 on psx) entries and refuses the next one with
    lsOutOfMemory (docs/runtime-c.md), which TargetLoader reports; a load then still
    walks the 96.  Written for the survivor gvm_loader.c:GameVMAddNeed:status_1 (a full
    table answered lsSuccess and dropped the need)."""
    from gamevm_build.errors import EmulationError
    d, kernel = psx_kernel
    (tmp_path / "fpmod.elf").write_bytes((d / "fpmod.elf").read_bytes())
    needs = {"other": tuple(f"n{i}" for i in range(96))}
    _host, tl = pair("psx", kernel, tmp_path, extra_needs=needs)
    assert tl.load_module("fpmod")[1] == TLoadStatus.lsSuccess
    with pytest.raises(EmulationError, match="table of project needs is full"):
        pair("psx", kernel, tmp_path, extra_needs={"other": needs["other"] + ("n96",)})


def test_an_import_whose_file_is_the_readers_first_loads_that_file(psx_kernel, tmp_path):
    """GameVMImport("fx.bb") with ``fx.bb.elf`` there loads it, though the reader gives
    it its first file number, 0: a valid file, not a failed open, so the name's other
    spellings (``fx_bb.elf``, another module here) are not tried, and file 0 is closed.
    Written for the survivor gvm_loader.c:open_module:ror_6 (``file <= 0``: the other
    spelling loaded, and file 0 stayed open)."""
    from test_target_runtime import frames_until_done
    d, kernel = psx_kernel
    (tmp_path / "fx.bb.elf").write_bytes((d / "fpmod.elf").read_bytes())
    module_from(tmp_path, "fx_bb", "int other_f(void) { return 1; }\n")
    host, tl = pair("psx", kernel, tmp_path)
    assert host.dispatch("fx.bb") == "fx.bb"                  # the reference loader's choice
    rec = tl.load_async("fx.bb", import_=True)
    frames_until_done(tl, rec)
    assert rec["status"] == "lsSuccess" and [t.name for t in tl.loaded.values()] == ["fpmod"]
    assert tl._next_file == 1 and tl.files == {}


@pytest.mark.parametrize("name", [".elf", ".ELF"])
def test_an_import_named_only_the_suffix_is_not_spelled_otherwise(psx_kernel, tmp_path, name):
    """GameVMImport(".elf"): a name that is all file suffix is a file name, whose dot is
    not a separator, so its other spellings (``_elf``) are not tried, in either loader:
    lsFileNotFound even with ``_elf.elf`` there.  Written for the survivor
    gvm_loader.c:elf_suffix:ror_1 (``n >= 4`` made ``n > 4``: the runtime loaded
    ``_elf``)."""
    from test_target_runtime import frames_until_done
    d, kernel = psx_kernel
    (tmp_path / "_elf.elf").write_bytes((d / "fpmod.elf").read_bytes())
    host, tl = pair("psx", kernel, tmp_path)
    with pytest.raises(LoadError) as err:
        host.dispatch(name)
    assert err.value.status == TLoadStatus.lsFileNotFound
    rec = tl.load_async(name, import_=True)
    frames_until_done(tl, rec)
    assert rec["status"] == "lsFileNotFound" and not tl.loaded


def test_program_headers_running_a_byte_past_the_file_are_refused(psx_kernel, tmp_path):
    """A module whose program header table (e_phoff moved) ends one byte past the end of
    its file: lsBadFormat in both loaders.  Written for the survivor
    gvm_loader.c:read_elf_header:const_54 (the table's entries counted 31 bytes long: up to
    one byte per entry past the end let through)."""
    d, kernel = psx_kernel
    data = bytearray((d / "fpmod.elf").read_bytes())
    phnum, = struct.unpack_from("<H", data, 44)
    assert phnum >= 1
    struct.pack_into("<I", data, 28, len(data) - 32 * phnum + 1)         # e_phoff
    (tmp_path / "fpmod.elf").write_bytes(bytes(data))
    host, tl = pair("psx", kernel, tmp_path)
    assert host_load(host, "fpmod")[1] == TLoadStatus.lsBadFormat
    assert tl.load_module("fpmod") == (0, TLoadStatus.lsBadFormat)


def test_an_async_load_without_room_for_its_state_completes_out_of_memory(psx_kernel,
                                                                        tmp_path):
    """The smallest work area the runtime takes (64 bytes) has no room for an asynchronous
    load's state: the request completes lsOutOfMemory, loading nothing, and the next
    frame goes on.  Written for the survivor gvm_loader.c:advance_job:status_1 (that
    refusal made lsSuccess: the runtime took the missing load's module)."""
    from test_target_runtime import frames_until_done
    d, kernel = psx_kernel
    _host, tl = pair("psx", kernel, d, work_size=64)
    rec = tl.load_async("fpmod", callback=0)
    frames_until_done(tl, rec)
    assert rec["status"] == "lsOutOfMemory" and not tl.loaded
    tl.frame()
    assert tl.async_status(rec["id"]) == TLoadStatus.lsOutOfMemory


@pytest.mark.parametrize("forged", [0, 2, 31, 0xFFFFFFFF, 0x80000000])
def test_a_handle_no_load_returned_names_nothing(psx_kernel, tmp_path, forged):
    """A value the runtime never returned as a handle (0, a slot with no load, every bit
    set, a RAM address as old handles were): UnloadModule answers lsInvalidHandle and
    GetModuleProc 0, with a module loaded and its reference unchanged, as the reference
    loader does for a handle it never gave."""
    d, kernel = psx_kernel
    host, tl = pair("psx", kernel, d)
    handle, status = tl.load_module("fpmod")
    assert status == TLoadStatus.lsSuccess and handle != forged
    assert host_load(host, "fpmod")[1] == TLoadStatus.lsSuccess
    assert tl.unload_module(forged) == TLoadStatus.lsInvalidHandle
    assert tl.get_proc(forged, "gamevm_selftest") == 0
    assert tl.handle_refcount(handle) == 1 and tl.by_name("fpmod") is not None
    with pytest.raises(LoadError) as err:
        host.unload(forged)
    assert err.value.status == TLoadStatus.lsInvalidHandle


@pytest.mark.parametrize("target", ["psx"])
@pytest.mark.parametrize("high", [0, 0x30000])
def test_a_packed_high_half_of_an_odd_import_one_short_of_a_carry_loads_alike(tmp_path,
                                                                              target, high):
    """``%hi``/``%lo`` of an import at an odd address (a byte the resident exports) plus an
    addend that puts the sum at 0x7FFF in its low half, one short of the carry into the
    high half, in a packed module: the runtime takes the high half's addend from the
    fields (the low half's sign-extended), and both loaders patch the same high half.
    Written for the C survivors gvm_relpack.c:relpack_addends:const_15 (the low half's
    sign extension off by one: the sum crossed to 0x8000 and the high half carried) and
    const_14 (the high field shifted 15, not 16: only an addend with a high half, here
    3, shows it)."""
    from gamevm_build.link.resident import read_resident
    from gamevm_build.link.shipform import convert
    from test_target_runtime import same_modules
    kernel = build_modules(tmp_path, target, {}, kernel_c=(
        '__asm__(".data\\n.byte 0\\n.globl k_odd\\n.type k_odd, @object\\n'
        'k_odd: .byte 5\\n.size k_odd, 1\\n");\n'), keep=["k_odd"])
    k_odd = read_resident(kernel, target).symbols["k_odd"]
    addend = ((0x7FFF - k_odd) & 0xFFFF) + high        # even: the low half's addend too
    assert k_odd % 2 and (k_odd + addend) & 0xFFFF == 0x7FFF
    path = module_from(tmp_path, "carry", (
        '__asm__(".text\\n.set noreorder\\n.globl carry_f\\n.type carry_f, @function\\n'
        f'carry_f: lui $2, %hi(k_odd+{addend})\\njr $31\\n'
        f'addiu $2, $2, %lo(k_odd+{addend})\\n.set reorder\\n");\n'))
    path.write_bytes(convert(path.read_bytes(), "packed"))
    host, tl = pair(target, kernel, tmp_path)
    fn = host.load("carry").symbols["carry_f"]
    assert tl.load_module("carry")[1] == TLoadStatus.lsSuccess
    same_modules(host, tl)
    assert host.machine.call(fn) & 0xFFFFFFFF == tl.machine.call(fn) & 0xFFFFFFFF \
        == k_odd + addend


@pytest.mark.parametrize("target", ["psx"])
def test_a_need_that_fails_closes_every_file_its_load_opened(tmp_path, target):
    """top needs mid, mid needs bottom, and bottom is gone: loading top fails as in the
    reference loader (lsFileNotFound, nothing loaded), and every file the load opened is
    closed, top's and mid's included, which were open while their needs loaded (the
    emulated media device holds the runtime to TGameVMReader's one close per open).
    Written for the survivor gvm_loader.c:run:call_2 (a need's failure closed only its
    own file)."""
    from test_target_runtime import same_modules
    kernel = build_modules(tmp_path, target, {})
    module_from(tmp_path, "bottom", "int bottom_f(int x) { return x + 1; }\n")
    module_from(tmp_path, "mid", "extern int bottom_f(int);\n"
                "int mid_f(int x) { return bottom_f(x) * 2; }\n", needs=["bottom"])
    module_from(tmp_path, "top", "extern int mid_f(int);\n"
                "int top_f(int x) { return mid_f(x) - 3; }\n", needs=["mid"])
    (tmp_path / "bottom.elf").unlink()
    host, tl = pair(target, kernel, tmp_path)
    assert host_load(host, "top")[1] == TLoadStatus.lsFileNotFound
    assert tl.load_module("top") == (0, TLoadStatus.lsFileNotFound)
    opened = {Path(p).name for p, _o, _n in tl.load_times[-1]["reads"]}
    assert opened == {"top.elf", "mid.elf"}, opened
    assert not tl.files and not tl.loaded
    same_modules(host, tl)


@pytest.mark.parametrize("target", ["psx"])
def test_a_module_an_asynchronous_load_is_writing_binds_nothing_yet(tmp_path, target):
    """While an asynchronous request writes prov, a synchronous load of user, whose
    import prov_f nothing it declares provides, does not bind it to the half-written prov:
    lsUndefinedSymbol, as the reference loader, which loads prov only when the request
    completes, says. Once the request is done, user loads and binds to prov in both.
    Written for the survivor gvm_loader.c:in_load_order:lcr_2 (a module of a request in
    progress taken for a loaded one by a synchronous load's binding)."""
    from test_target_runtime import (build_modules, frames_until_done, frames_until_writing,
                                     same_modules)
    kernel = build_modules(tmp_path, target, {
        "prov": "int prov_f(int x) { return x + 5; }\n",
        "user": "extern int prov_f(int);\nint user_f(int x) { return prov_f(x) * 2; }\n"})
    host, tl = pair(target, kernel, tmp_path)
    rec = tl.load_async("prov", slice_ms=0.01)      # a few hundred cycles a frame
    frames_until_writing(tl, rec, "prov")
    assert host_load(host, "user")[1] == TLoadStatus.lsUndefinedSymbol
    assert tl.load_module("user") == (0, TLoadStatus.lsUndefinedSymbol)
    frames_until_done(tl, rec)
    assert rec["status"] == "lsSuccess"
    for name in ("prov", "user"):
        assert host_load(host, name)[1] == TLoadStatus.lsSuccess
    handle, status = tl.load_module("user")
    assert status == TLoadStatus.lsSuccess
    same_modules(host, tl)
    assert tl.machine.call(tl.get_proc(handle, "user_f"), 1) == 12


def test_exports_listed_out_of_name_order_are_all_found(psx_kernel, tmp_path):
    """A module whose symbol table lists its exports backwards (z_f first, a_f last:
    the linker writes them in name order): both loaders load it and GetModuleProc finds
    every export at the same address (the runtime sorts the exports it keeps, to search
    them by halves).  Written for the survivor gvm_loader.c:sort_exports:const_8 (the
    insertion sort's shift made ``e[j] = e[j - 0]``: a sort that moved anything lost
    exports)."""
    from test_target_runtime import same_modules
    _d, kernel = psx_kernel
    names = [f"{c}_f" for c in "abcdefgz"]
    path = module_from(tmp_path, "back", "".join(
        f"int {n}(void) {{ return {i}; }}\n" for i, n in enumerate(names)))
    data = bytearray(path.read_bytes())
    _at, (_n, _t, _f, _a, off, size, _l, first_global, _al, ent) = \
        section_header(bytes(data), ".symtab")
    entries = [bytes(data[o:o + ent]) for o in range(off + first_global * ent, off + size, ent)]
    assert len(entries) == len(names)
    data[off + first_global * ent:off + size] = b"".join(reversed(entries))
    path.write_bytes(bytes(data))
    host, tl = pair("psx", kernel, tmp_path)
    handle = host_load(host, "back")[0].handle
    t, status = tl.load_module("back")
    assert status == TLoadStatus.lsSuccess
    same_modules(host, tl)
    got = {n: tl.get_proc(t, n) for n in names}
    assert got == {n: host.get_proc(handle, n) for n in names} and all(got.values()), got


@pytest.mark.parametrize("first, second", [(".rodata", ".data"), (".text", ".rodata")])
def test_overlapping_sections_listed_out_of_slot_order_take_the_later_ones_bytes(
        psx_kernel, tmp_path, first, second):
    """A module whose section headers name a later slot before an earlier one (.data
    before .rodata; .rodata before .text, so that the first header is not the first slot
    the runtime sorts), and whose later header lies over the first one's place in memory
    with other bytes: both loaders take the sections in the order their headers list
    them, so the later one's bytes are what RAM holds there.  Written for the survivors
    gvm_loader.c:link_prepare:const_36 (the sort of the slots by first appearance
    compared with ``order[j]``, one past the sorted part: .rodata was read first and
    .data's bytes won) and link_prepare:const_34 (the sort stopped at ``j > 1``: a slot
    listed before every other never reached the front)."""
    from test_target_runtime import same_modules
    _d, kernel = psx_kernel
    path = module_from(tmp_path, "three", 'const char three_r[300] = "rodata bytes";\n'
                                          "int three_d[50] = {1, 2, 3};\n"
                                          "int three_f(int i) { return three_r[i] + three_d[i]; }\n")
    data = bytearray(path.read_bytes())
    (a, head_a), (b, head_b) = (section_header(bytes(data), n) for n in (first, second))
    assert a < b and head_a[3] < head_b[3]
    struct.pack_into("<I", data, a, head_b[0])          # the first header now names the
    struct.pack_into("<I", data, b, head_a[0])          # later slot, the second the earlier
    struct.pack_into("<I", data, b + 12, head_a[3])     # ... over the first one's place
    path.write_bytes(bytes(data))
    host, tl = pair("psx", kernel, tmp_path)
    assert host_load(host, "three")[1] == TLoadStatus.lsSuccess
    assert tl.load_module("three")[1] == TLoadStatus.lsSuccess
    same_modules(host, tl)


def unloaded_alike(host, tl, host_handle, handle, *gone: str) -> None:
    """Unload a module from both consoles (its ``host_handle`` and the runtime's ``handle``):
    the runtime says lsSuccess, the modules ``gone`` are freed by both, and the two
    consoles hold the same modules."""
    from test_target_runtime import same_modules
    host.unload(host_handle)
    assert tl.unload_module(handle) == TLoadStatus.lsSuccess
    assert all(host.by_name(n) is None and tl.by_name(n) is None for n in gone), gone
    same_modules(host, tl)


def test_a_need_named_twice_is_held_once(psx_kernel, tmp_path):
    """A module whose metadata names its need twice (``"needs":["bottom","bottom"]``)
    holds one reference to it in both loaders: unloading the module frees the need too.
    Written for the survivor gvm_loader.c:next_piece:const_14 (the test whether the
    reference was taken already made ``0u << ...``: a need named twice was counted twice
    and outlived its holder)."""
    from test_target_runtime import same_modules
    _d, kernel = psx_kernel
    module_from(tmp_path, "bottom", "int bottom_f(int x) { return x + 1; }\n")
    top = module_from(tmp_path, "top", "extern int bottom_f(int);\n"
                      "int top_f(int x) { return bottom_f(x) * 2; }\n", needs=["bottom"])
    top.write_bytes(_metadata_edited(top.read_bytes(), b'"needs":["bottom"]',
                                     b'"needs":["bottom","bottom"]'))
    host, tl = pair("psx", kernel, tmp_path)
    lm = host_load(host, "top")[0]
    handle, status = tl.load_module("top")
    assert status == TLoadStatus.lsSuccess
    same_modules(host, tl)
    unloaded_alike(host, tl, lm.handle, handle, "bottom")


def test_a_null_section_named_like_the_compressed_image_is_checked_as_one(psx_kernel,
                                                                          tmp_path):
    """Section 0 (SHT_NULL, no bytes) of an LZ4 module named ``.gvm.image``: both loaders
    check every section of that name as a compressed image, section 0 too, and refuse the
    module alike.  Written for the survivor gvm_loader.c:check_module:const_1 (the
    runtime's search began at section 1)."""
    from gamevm_build.link.shipform import convert
    _d, kernel = psx_kernel
    path = module_from(tmp_path, "zz", "int zz_t[256] = {1, 2, 3};\n"
                                       "int zz_f(int i) { return zz_t[i & 255]; }\n")
    data = bytearray(convert(path.read_bytes(), "lz4"))
    shoff, = struct.unpack_from("<I", data, 32)
    _at, image = section_header(bytes(data), ".gvm.image")
    struct.pack_into("<I", data, shoff, image[0])
    loaded_as(kernel, tmp_path, "zz", bytes(data), TLoadStatus.lsBadFormat)


@pytest.mark.parametrize("words, bad", [
    ((1, 0x80100000, 64, 1), "kind 1 with code_size not 0"),           # writing
    ((4, 5, 0, 7), "kind 4 with code_size not 0"),                      # failed
    ((4, 5, 3, 0), "kind 4 with size not 0"),
    ((5, 0x80100000, 16, 2), "kind 5 with code_size not 0"),            # patching
    ((9, 0, 0, 0), "unknown kind 9")])
def test_an_event_with_a_word_its_kind_does_not_name_faults(psx_kernel, tmp_path, words, bad):
    """The emulated console holds the runtime to gvm_int.h's rule for gvm_debug_event: the
    words an event's kind does not name are 0 (a debugger script prints events whole), and
    the kinds are the header's.  An event breaking it stops the call with a fault naming
    the kind and the word.  Written for the survivor gvm_loader.c:link_prepare:const_29
    (the writing event's ``code_size`` made 1, which no reader checked)."""
    from gamevm_build.errors import EmulationFault
    _d, kernel = psx_kernel
    _host, tl = pair("psx", kernel, tmp_path)
    m = tl.machine
    name = m.alloc_string("mod")
    event = m.alloc(20)
    m.write(event, struct.pack("<5I", *words, name))
    with pytest.raises(EmulationFault, match=bad + ".*gvm_int.h"):
        m.call("gvm_debug_event", event)
    clean = [w if w != 9 else 2 for w in words[:1]] + [
        0 if f"with {field} not 0" in bad else w
        for field, w in zip(("base", "size", "code_size"), words[1:])]
    m.write(event, struct.pack("<5I", *clean, name))
    m.call("gvm_debug_event", event)                   # the named words alone: no fault


def without_bss(data: bytes) -> bytes:
    """Module file ``data`` with no .bss: its header nulled, its section symbol made .data's
    (the header before it), the hash left out of the metadata (loaders need not check it)."""
    data = bytearray(data)
    (b, _bss), (_s, symtab) = (section_header(bytes(data), n) for n in (".bss", ".symtab"))
    data[b:b + 40] = bytes(40)
    bss = (b - struct.unpack_from("<I", data, 32)[0]) // 40
    assert section_header(bytes(data), ".data")[0] == b - 40
    for at in range(symtab[4], symtab[4] + symtab[5], 16):
        if struct.unpack_from("<H", data, at + 14)[0] == bss:
            struct.pack_into("<H", data, at + 14, bss - 1)
    return hashless(bytes(data))


@pytest.mark.parametrize("overlap", [False, True])
def test_a_last_section_inside_an_earlier_ones_place_is_not_read_with_it(psx_kernel,
                                                                         tmp_path, overlap):
    """A module without .bss, so that .data is the last section read, loads alike: its
    sections ascend, and are read together in one piece that ends at .data's end.  With
    ``overlap`` its .data lies inside .rodata's place in memory and in the file alike (the
    same distance between the two, so a read of both in one piece would look right): both
    loaders read .rodata whole, then .data over its start, and RAM holds all of .rodata's
    bytes.  Reading the neighbours together is only for places that ascend without
    overlapping; a piece that ended at .data's end would cut .rodata short.  Written for
    the survivors gvm_loader.c:link_prepare:const_40 (the overlap test looked at the header
    before each slot's, so the last slot's overlap went unseen) and next_piece:ror_7 (the
    neighbours' loop ran to ``next <= norder``: past the last section, it took the first
    slot's again as a neighbour, and the piece ended at .text's end)."""
    from test_target_runtime import same_modules
    _d, kernel = psx_kernel
    path = module_from(tmp_path, "two", "const int two_t[8] = {1, 2, 3, 4, 5, 6, 7, 8};\n"
                                        "int two_d[4] = {9, 10, 11, 12};\n"
                                        "int two_f(int i) { return two_t[i & 7] * two_d[i & 3]; }\n")
    data = bytearray(without_bss(path.read_bytes()))
    (_r, rodata), (d, _data) = (section_header(bytes(data), n) for n in (".rodata", ".data"))
    assert rodata[5] == 32
    if overlap:
        struct.pack_into("<3I", data, d + 12, rodata[3], rodata[4], 4)   # addr, offset, size
    path.write_bytes(bytes(data))
    host, tl = pair("psx", kernel, tmp_path)
    assert host_load(host, "two")[1] == TLoadStatus.lsSuccess
    assert tl.load_module("two")[1] == TLoadStatus.lsSuccess
    same_modules(host, tl)
    assert tl.machine.read(tl.by_name("two").base + rodata[3], 32) == \
        struct.pack("<8i", *range(1, 9))


@pytest.mark.parametrize("align", [1, 2])
@pytest.mark.parametrize("start", [1, 2, 3])
def test_a_module_aligned_below_a_word_still_starts_on_one(psx_kernel, tmp_path, align,
                                                            start):
    """A module whose metadata asks for an alignment of 1 or 2 bytes, loaded into a region
    that starts off a word boundary: both loaders place it on a 4-byte boundary (the
    CPU's loads and stores of its words need one), at the same base.  Written for the
    survivor gvm_loader.c:link_prepare:const_4 (the floor of 4 made 3, which rounds an
    address with a mask that keeps its low bit)."""
    from gamevm_build.runtime.allocator import Region
    from test_target_runtime import same_modules
    _d, kernel = psx_kernel
    path = module_from(tmp_path, "low", "int low_v[4] = {5, 6, 7, 8};\n"
                                        "int low_f(int i) { return low_v[i & 3]; }\n")
    path.write_bytes(_metadata_edited(path.read_bytes(), b'"align":16',
                                      f'"align":{align}'.encode()))
    heap = heap_of("psx", kernel)
    regions = [Region("Odd", heap.start + 0x100 + start, 0x2000)]
    host, tl = pair_over("psx", kernel, tmp_path, regions)
    lm = host.load("low")
    assert tl.load_module("low")[1] == TLoadStatus.lsSuccess
    assert lm.base % 4 == 0 and lm.base > regions[0].start, hex(lm.base)
    same_modules(host, tl)


@pytest.mark.parametrize("imports", [False, True])
def test_stale_words_in_the_work_area_bind_nothing(psx_kernel, tmp_path, imports):
    """The work area is not cleared between loads: over one full of words that point into
    a loaded module (a's), a load of b that binds nothing in a (no imports, or one of
    another module's) leaves a free to go, in both loaders.  Written for the survivor
    gvm_loader.c:link_prepare:ror_6 (the loop recording the modules a load binds into ran
    to ``i <= nsym``: one binding past the table, a stale word, made a b's provider)."""
    from gamevm_build.runtime.target import WORK_SIZE
    from test_target_runtime import same_modules
    _d, kernel = psx_kernel
    module_from(tmp_path, "a", "int a_v[8] = {1};\nint a_f(int x) { return x + a_v[x & 7]; }\n")
    module_from(tmp_path, "c", "int c_f(int x) { return x - 1; }\n")
    module_from(tmp_path, "b", "extern int c_f(int);\nint b_f(int x) { return c_f(x) * 2; }\n"
                if imports else "int b_f(int x) { return x * 2; }\n",
                needs=["c"] if imports else ())
    host, tl = pair("psx", kernel, tmp_path)
    a = host.load("a")
    ta, status = tl.load_module("a")
    assert status == TLoadStatus.lsSuccess
    tl.machine.write(tl.work, struct.pack("<I", a.base + 16) * (WORK_SIZE // 4))
    host.load("b", needs=True)
    assert tl.load_module("b")[1] == TLoadStatus.lsSuccess
    same_modules(host, tl)
    unloaded_alike(host, tl, a.handle, ta, "a")


def test_an_async_load_of_a_file_larger_than_the_work_area_reads_it_in_pieces(psx_kernel,
                                                                             tmp_path):
    """An asynchronous load reads the whole file in one request only when the work area
    holds it and a quarter more; a module of 16 KiB over the game's 12 KiB work area is
    read in pieces (its headers there, its image into its place), and loads as the
    reference loader loads it.  (Written for the survivor gvm_loader.c:opened:aor_2, the
    room left in the work area computed as ``work_size + at``, which it does not kill:
    that room is wrong by twice the work the load used before its first read, which
    changes the read pattern only for a file within that many bytes of the threshold.)"""
    from gamevm_build.runtime.target import WORK_SIZE
    from test_target_runtime import frames_until_done, same_modules
    _d, kernel = psx_kernel
    path = module_from(tmp_path, "huge", "const int huge_t[4096] = {1, 2, 3};\n"
                                         "int huge_f(int i) { return huge_t[i & 4095]; }\n")
    assert path.stat().st_size > WORK_SIZE + 0x800
    host, tl = pair("psx", kernel, tmp_path)
    rec = tl.load_async("huge")
    frames_until_done(tl, rec)
    assert rec["status"] == "lsSuccess"
    assert host_load(host, "huge")[1] == TLoadStatus.lsSuccess
    same_modules(host, tl)
    reads = [n for p, _o, n in rec["reads"] if p.endswith("huge.elf")]
    assert len(reads) > 1 and reads[0] < WORK_SIZE, reads    # headers, then the image


@pytest.mark.parametrize("size", [0, 51, 52, 53, 64])
def test_a_file_cut_to_its_elf_header_is_a_bad_module(psx_kernel, tmp_path, size):
    """A module file cut to ``size`` bytes (nothing, one byte short of the ELF header, the
    header alone, a byte more, a little more): no section headers to read, and both
    loaders refuse it as a bad file (lsBadFormat), not as memory they lack.  Written for
    the survivor gvm_loader.c:opened:const_14 (a first read of 52 bytes refused as too
    short for the header: a 52-byte file ran out of memory)."""
    d, kernel = psx_kernel
    data = (d / "fpmod.elf").read_bytes()[:size]
    loaded_as(kernel, tmp_path, "cut", data, TLoadStatus.lsBadFormat)


@pytest.mark.parametrize("extra", [1, 4])
def test_bytes_after_the_last_group_of_packed_relocations_are_bad(psx_kernel, tmp_path,
                                                                   extra):
    """``.gvm.relpack`` made ``extra`` bytes longer (the file's next bytes join it): after
    its last group of relocations the stream must end, and both loaders refuse a module
    with bytes left over as a bad file (lsBadFormat), not as a relocation that failed.
    Written for the survivor gvm_relpack.c:relpack_walk:status_10 (that refusal made
    lsRelocationError)."""
    def longer(data: bytes) -> bytes:
        data = bytearray(data)
        at, head = section_header(bytes(data), ".gvm.relpack")
        assert head[4] + head[5] + extra <= len(data)
        struct.pack_into("<I", data, at + 20, head[5] + extra)
        return hashless(bytes(data))
    refused_packed(psx_kernel, tmp_path, longer)


def test_an_import_no_site_uses_is_bound_at_a_lazy_load(psx_kernel, tmp_path):
    """A module whose symbol table names an import that no relocation uses (``.globl`` of
    a symbol it never references), loaded lazily: only imports every site of which is a
    call get a stub, so this one is bound at the load, and both loaders' stub tables are
    the same.  Written for the survivor gvm_stubs.c:scan_imports:const_38 (each import's
    uses started as "a call": one with no site got a lazy stub)."""
    from gamevm_build.runtime.target import LOAD_LAZY
    from test_target_runtime import same_modules, same_stubs
    kernel = build_modules(tmp_path, "psx", {
        "prov": "int prov_f(int x) { return x + 8; }\nint prov_g(int x) { return x; }\n",
        "lazy": '__asm__(".globl prov_g");\nextern int prov_f(int);\n'
                "int lazy_f(int x) { return prov_f(x); }\n"})
    assert b"prov_g" in (tmp_path / "lazy.elf").read_bytes()
    host, tl = pair("psx", kernel, tmp_path)
    host.load("prov")
    assert tl.load_module("prov")[1] == TLoadStatus.lsSuccess
    host.load("lazy", lazy=True)
    assert tl.load_module("lazy", LOAD_LAZY)[1] == TLoadStatus.lsSuccess
    same_modules(host, tl)
    same_stubs(host, tl)



@pytest.mark.parametrize("target", ["psx"])
def test_a_module_its_providers_destructor_loads_has_its_binding_stubbed(tmp_path, target):
    """prov, an overlay's occupant, has a destructor that loads ``late`` (a game's cleanup
    that loads what comes next), which binds into prov while prov is being unloaded; once
    prov is freed, safe mode points late's binding at a stale stub, as the reference
    loader does for any provider (its _free): the call stops with the report instead of running prov's freed memory.  Written for the
    survivor gvm_loader.c:UnloadModule:call_5 (no ``stub_bindings`` after an unload: only
    a module a destructor loads can still bind into what an unload frees)."""
    from test_target_runtime import fault_of, overlay_regions
    kernel = build_modules(tmp_path, target, {
        "late": "extern int prov_f(int);\nint late_f(int x) { return prov_f(x) + 1; }\n"},
        kernel_c="int later;\n", keep=["later"])
    module_from(
        tmp_path, "prov",
        '#include "gamevm.h"\nextern int later;\n'
        "int prov_f(int x) { return x * 16; }\n"
        "__attribute__((destructor)) static void bye(void)\n{\n"
        "    TLoadStatus st = lsBadFormat;\n"
        '    later = (int)LoadModuleEx("late", &st);\n}\n',
        target=target)
    _host, tl = pair(target, kernel, tmp_path, placement={"prov": "Ovl"},
                     regions=overlay_regions)
    handle, status = tl.load_module("prov")
    assert status == TLoadStatus.lsSuccess
    assert tl.unload_module(handle) == TLoadStatus.lsSuccess
    assert [m.name for m in tl.loaded.values()] == ["late"]
    report = fault_of(tl.machine, tl.by_name("late").symbols["late_f"], 1)
    assert "call to unloaded module 'prov' symbol 'prov_f'" in report, report
    assert "through a binding of module 'late', stubbed when 'prov' was freed" in report



@pytest.mark.parametrize("target", ["psx"])
def test_a_module_of_code_alone_loads_packed_and_compressed_alike(tmp_path, target):
    """A module whose file stores only ``.text`` (an import called, a function of its own
    called; its empty ``.data`` at the image's start) loads packed, LZ4- and ZX0-compressed alike
    on both loaders: the stored image the packed sites and the decoders are checked
    against is the code's.  Written for the
    survivor gvm_loader.c:check_sections:const_12 (the stored image measured from the
    second slot on: code alone stored nothing, and every such module was refused)."""
    from gamevm_build.link.module import read_module
    from gamevm_build.link.shipform import convert
    from test_target_runtime import same_modules
    kernel = build_modules(tmp_path, target, {
        "prov": "int prov_f(int x) { return x * 16; }\n",
        "code": "extern int prov_f(int);\n"
                "__attribute__((noinline)) static int twice(int x) { return prov_f(x) * 2; }\n"
                "#define STEP x = twice(x) + 1; x = twice(x) - 1;\n"  # code that compresses
                "int code_f(int x) { STEP STEP STEP STEP STEP STEP STEP STEP return x; }\n"})
    want = 3
    for _ in range(8):
        want = (want * 32 + 1) * 32 - 1 & 0xFFFFFFFF
    plain = (tmp_path / "code.elf").read_bytes()
    e = "<" if plain[5] == 1 else ">"
    assert [n for n, (_at, b) in read_module(plain).sections.items() if b] == [".text"]
    for form in ("packed", "lz4", "zx0"):
        d = tmp_path / form
        d.mkdir()
        (d / "prov.elf").write_bytes((tmp_path / "prov.elf").read_bytes())
        data = bytearray(convert(plain, form))
        at, head = section_header(data, ".data")      # empty: put at the image's start
        assert head[5] == 0
        struct.pack_into(e + "I", data, at + 12, 0)
        (d / "code.elf").write_bytes(data)
        host, tl = pair(target, kernel, d)
        for name in ("prov", "code"):
            host.load(name)
            assert tl.load_module(name)[1] == TLoadStatus.lsSuccess, (form, name)
        same_modules(host, tl)
        fn = tl.by_name("code").symbols["code_f"]
        assert host.machine.call(fn, 3) == tl.machine.call(fn, 3) == want, form


@pytest.mark.parametrize("target", ["psx"])
def test_an_lz4_block_too_small_for_its_image_is_refused_before_it_is_placed(tmp_path, target):
    """LZ4 expands a byte to at most 255: an image stored as a 1-byte block may claim 271
    bytes (255 + 16) at most.  Claiming 272 is a bad file to both loaders, and the runtime
    refuses it from the headers, before it places the module to decode the block; at 271
    it places it, decodes, and refuses the block.  Written for the survivor
    gvm_relpack.c:zimage_check:const_7 (the bound made 255 + 17)."""
    import json
    from gamevm_build.link.shipform import CH_TYPES, convert
    from test_runtime_c_streams import metadata_of, note, section_replaced
    kernel = build_modules(tmp_path, target, {
        "z": "#define STEP x = x * 3 + 1; x = x * 5 - 1;\n"
             "int z_f(int x) { STEP STEP STEP STEP STEP STEP STEP STEP return x; }\n"})
    lz4 = convert((tmp_path / "z.elf").read_bytes(), "lz4")
    e = "<" if lz4[5] == 1 else ">"
    for claimed in (271, 272):
        data = bytearray(lz4)
        for name, size in ((".text", claimed), (".data", None), (".bss", None)):
            at, head = section_header(data, name)        # code claimed; the others empty
            head[3], head[5] = 0, head[5] if size is None else size
            struct.pack_into(e + "10I", data, at, *head)
        meta = {**metadata_of(bytes(data), dict), "image_size": 272}
        data = section_replaced(bytes(data), ".note.gamevm", note(
            json.dumps(meta, separators=(",", ":")).encode(), e))
        data = section_replaced(data, ".gvm.image",
                                struct.pack(e + "III", CH_TYPES["lz4"], claimed, 16) + b"\0")
        (tmp_path / "z.elf").write_bytes(data)
        host, tl = pair(target, kernel, tmp_path)
        assert host_load(host, "z")[1] == TLoadStatus.lsBadFormat, claimed
        assert tl.load_module("z")[1] == TLoadStatus.lsBadFormat, claimed
        assert any(ev["event"] == "writing" for ev in tl.events) == (claimed == 271)


@pytest.mark.parametrize("kind", [0, 1, 2, 8, 13, 15], ids=lambda k: f"psx-{k}")
def test_a_local_symbol_of_any_type_is_no_export(psx_kernel, tmp_path, kind):
    """A module whose symbol ``loc_b`` is made local, of symbol type ``kind`` (the OS and
    processor-specific ones, 10 to 15, and 8 and 9 included): both loaders load it with
    ``loc_a`` its only export, and the pool need hold only what keeps that one: a pool of
    exactly the module's name and one export loads it, a byte less does not.  Written for
    the survivor gvm_loader.c:check_symbols:const_17 (``info >> 3``: a local symbol of a
    type from 8 up counted as an export, which took pool it never used)."""
    _d, kernel = psx_kernel
    path = module_from(tmp_path, "loc", "int loc_a(int x) { return x + 1; }\n"
                                        "int loc_b(int x) { return x + 2; }\n")
    data = bytearray(path.read_bytes())
    entry, _name = _symbols(bytes(data))[b"loc_b"]
    data[entry + 12] = kind                            # st_info: STB_LOCAL, the type
    path.write_bytes(hashless(bytes(data)))
    need = len("loc") + 1 + 9 + len("loc_a") + 1
    for size, want in ((need, TLoadStatus.lsSuccess), (need - 1, TLoadStatus.lsOutOfMemory)):
        host, tl = pair("psx", kernel, tmp_path, pool_size=size)
        assert tl.load_module("loc")[1] == want, size
        if want == TLoadStatus.lsSuccess:
            assert host_load(host, "loc")[1] == want
            assert set(host.by_name("loc").symbols) == set(tl.by_name("loc").symbols) == \
                {"loc_a"}


def test_a_module_whose_symbol_table_is_the_null_symbol_alone_loads_alike(psx_kernel,
                                                                          tmp_path):
    """A module of code that relocates nothing, its symbol table cut to the null symbol
    (no export, no import, no section symbol): both loaders load it alike, with nothing
    to look up in it; a table of no entry at all is a bad file to both.  Written for the
    survivor gvm_loader.c:read_symbols:const_7 (a table of one entry refused)."""
    from test_target_runtime import same_modules
    _d, kernel = psx_kernel
    path = module_from(tmp_path, "bare", "int bare_f(int x) { return x * 3; }\n")
    plain = path.read_bytes()
    for entries, want in ((1, TLoadStatus.lsSuccess), (0, TLoadStatus.lsBadFormat)):
        data = bytearray(plain)
        at, head = section_header(data, ".symtab")
        struct.pack_into("<I", data, at + 20, 16 * entries)
        path.write_bytes(hashless(bytes(data)))
        host, tl = pair("psx", kernel, tmp_path)
        assert host_load(host, "bare")[1] == tl.load_module("bare")[1] == want, entries
        if want == TLoadStatus.lsSuccess:
            same_modules(host, tl)
            assert tl.by_name("bare").symbols == {}
