"""The 68000 and ARM consoles (segacd, gba, 3do) against GNU ld, the host and their CPUs.

GNU ld oracle: the corpus in ``tests/corpus/consoles`` is linked by
gamevm_build (module, prelinked at ``base``) and by the target's GNU ld with a
linker script that puts every input section at the address our section map
gives it.  Every byte must then agree, except at calls: where our linker
routes a call through a veneer (imports, ARM<->Thumb, out of range) and ld
routes it through its own stub, or directly, the *final* target of each call
(branch, then veneer/stub, with the Thumb bit) must agree.  On the GBA the
second object is Thumb code and the module runs from IWRAM, 16 MiB away from
the resident in EWRAM: interworking and long calls both ways.

The host differential over the larger corpus is tests/test_native_diff.py
(parametrized over every console); here the same module also runs through the
loader (gamevm call) on each CPU.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile
from elftools.elf.relocation import RelocationSection

from conftest import NEW_TARGETS, Builder, run_gamevm
from gamevm_build.link.linker import link_module
from gamevm_build.link.module import read_module
from gamevm_build.link.prelink import chain_resolver, relocate
from gamevm_build.project.profile import load_profile
from gamevm_build.link.toolchain import find_toolchain

CORPUS = Path(__file__).resolve().parent / "corpus" / "consoles"
#: where the corpus module is placed, and the resident symbols both links see
BASES = {"segacd": 0x00200000, "gba": 0x03000000, "3do": 0x00080000}
#: relocation types that are calls (their final target is compared, not their bytes)
CALLS = {"arm": {1, 28, 29, 10, 30}, "m68k": set()}
OTHER_FLAGS = {"gba": ["-mthumb"]}


def _decode_branch(image: bytes, off: int, rtype: int, order: str, base: int) -> int:
    """Destination of the call at ``off`` (with bit 0 set when it lands in Thumb code)."""
    if rtype in (10, 30):                                   # Thumb BL pair
        hi = int.from_bytes(image[off:off + 2], order)
        lo = int.from_bytes(image[off + 2:off + 4], order)
        if rtype == 10:
            delta = ((hi & 0x7FF) << 12 | (lo & 0x7FF) << 1)
            delta -= (1 << 23) if delta & (1 << 22) else 0
        else:
            s = hi >> 10 & 1
            i1, i2 = 1 - ((lo >> 13 & 1) ^ s), 1 - ((lo >> 11 & 1) ^ s)
            delta = s << 24 | i1 << 23 | i2 << 22 | (hi & 0x3FF) << 12 | (lo & 0x7FF) << 1
            delta -= (1 << 25) if s else 0
        thumb_target = lo & 0x1000 or rtype == 30           # BL (not BLX) stays in Thumb
        return (base + off + 4 + delta) | (1 if thumb_target else 0)
    word = int.from_bytes(image[off:off + 4], order)
    delta = (word & 0xFFFFFF) << 2
    delta -= (1 << 26) if delta & (1 << 25) else 0
    return base + off + 8 + delta


def _final_target(image: bytes, base: int, addr: int, order: str, depth: int = 0) -> int:
    """Follow veneers/stubs from ``addr`` (ours and GNU ld's) to the function they reach."""
    off = (addr & ~1) - base
    if depth > 3 or not 0 <= off < len(image) - 2:
        return addr
    w = lambda o: int.from_bytes(image[o:o + 4], order)          # noqa: E731
    h = lambda o: int.from_bytes(image[o:o + 2], order)          # noqa: E731
    if addr & 1:                                                 # Thumb entry
        if h(off) == 0x4778 and h(off + 2) in (0x46C0, 0xE7FD):  # bx pc; nop: ARM follows
            return _final_target(image, base, addr - 1 + 4, order, depth + 1)
        if h(off) & 0xF800 == 0x4800 and h(off + 2) & 0xFF87 == 0x4700:
            return w((off + 4 + (h(off) & 0xFF) * 4) & ~3)      # ldr rX, [pc]; bx rX
        return addr
    first = w(off)
    if first in (0xE59FC000, 0xE59FC004) and w(off + 4) == 0xE12FFF1C:   # ldr ip,[pc]; bx ip
        return w(off + 8 + (first & 0xFFF))
    if first == 0xE51FF004:                                      # ldr pc, [pc, #-4]
        return w(off + 4)
    if first & 0x0F000000 == 0x0A000000 and first >> 28 == 0xE:  # b: glue ending in a branch
        return _final_target(image, base, _decode_branch(image, off, 29, order, base),
                             order, depth + 1)
    return addr


def _ld_same_layout(tc, profile, objects, module, result, base, resident, out: Path) -> bytes:
    """Link ``objects`` with GNU ld, every input section where our section map put it."""
    lines = ["ENTRY(calls_entry)", "SECTIONS", "{"]
    by_out: dict[str, list] = {}
    for e in result.section_map:
        by_out.setdefault(e.out_section, []).append(e)
    for name in (".text", ".rodata", ".init_array", ".fini_array", ".data", ".bss"):
        entries = by_out.get(name)
        if not entries:
            continue
        lines.append(f"  {name} 0x{base + entries[0].offset:08x} : {{")
        for e in entries:
            if e.section == ".glue":
                # our veneers' place: GNU ld puts its own stubs and glue here
                lines.append("    *(.glue_7) *(.glue_7t) *(.v4_bx)")
                continue
            lines.append(f"    . = 0x{e.offset - entries[0].offset:x};")
            lines.append(f"    KEEP({Path(e.obj).name}({e.section}))")
        lines.append("  }")
    lines.append("  /DISCARD/ : { *(.ARM.exidx*) *(.ARM.attributes) *(.comment) }")
    lines.append("}")
    script = out.with_suffix(".ld")
    script.write_text("\n".join(lines) + "\n")
    defsyms = [f"--defsym={k}=0x{v:08x}" for k, v in sorted(resident.items())]
    endian = ["-EB"] if profile.big_endian else []
    subprocess.run([tc.ld, *endian, "-T", str(script), "-o", str(out), *defsyms,
                    *(o.name for o in objects)], check=True, capture_output=True, text=True,
                   cwd=objects[0].parent)
    image = bytearray(module.image_size)
    with open(out, "rb") as f:
        elf = ELFFile(f)
        for seg in elf.iter_segments():
            if seg["p_type"] != "PT_LOAD":
                continue
            data = seg.data()
            lo = seg["p_vaddr"] - base
            for i in range(len(data)):
                if 0 <= lo + i < len(image):
                    image[lo + i] = data[i]
    return bytes(image)


def _relocation_sites(objects, result):
    """(module offset, type, object, section, site offset) of every input relocation."""
    where = {(Path(e.obj).name, e.section): e.offset for e in result.section_map}
    for obj in objects:
        with open(obj, "rb") as f:
            elf = ELFFile(f)
            for sec in elf.iter_sections():
                if not isinstance(sec, RelocationSection):
                    continue
                target = elf.get_section(sec["sh_info"]).name
                start = where.get((obj.name, target))
                if start is None:
                    continue
                for r in sec.iter_relocations():
                    if r["r_info_type"] in (0, 40):                  # NONE, V4BX markers
                        continue
                    yield start + r["r_offset"], r["r_info_type"], obj.name, target, r["r_offset"]


@pytest.fixture(params=NEW_TARGETS)
def console(request):
    return request.param


def _corpus(console, tmp_path):
    profile = load_profile(console)
    tc = find_toolchain(console)
    b = Builder(tmp_path, tc)
    calls = b.obj("calls.c", (CORPUS / "calls.c").read_text(), "-O2")
    other = b.obj("other.c", (CORPUS / "other.c").read_text(), "-O2",
                  *OTHER_FLAGS.get(console, []))
    return profile, tc, [calls, other]


def test_module_matches_gnu_ld(console, tmp_path):
    profile, tc, objects = _corpus(console, tmp_path)
    result = link_module(console, objects, tmp_path / "calls.elf", name="calls")
    module = read_module(result.output)
    base = BASES[console]
    # every import at an address in the resident (compiler helpers such as __mulsi3 too)
    resident = {name: profile.resident_base + 0x100 + 0x20 * i
                for i, name in enumerate(sorted(module.imports))}
    ours = bytes(relocate(module, base, chain_resolver(resident)))
    theirs = _ld_same_layout(tc, profile, objects, module, result, base, resident,
                             tmp_path / "ld.elf")
    order = profile.byteorder
    calls = CALLS[profile.arch]
    glue = [(e.offset, e.offset + e.size) for e in result.section_map if e.section == ".glue"]
    skip = set()
    problems, checked, veneered = [], 0, 0
    for off, rtype, obj, sec, site in _relocation_sites(objects, result):
        where = f"{obj} {sec}+0x{site:x} (type {rtype})"
        if rtype in calls:
            a = _final_target(ours, base, _decode_branch(ours, off, rtype, order, base), order)
            t = _final_target(theirs, base, _decode_branch(theirs, off, rtype, order, base), order)
            direct = _decode_branch(ours, off, rtype, order, base) & ~1
            veneered += any(lo <= direct - base < hi for lo, hi in glue)
            if a != t:
                problems.append(f"{where}: call reaches 0x{a:08x}, GNU ld's 0x{t:08x}")
            skip.update(range(off, off + 4))
        checked += 1
    for lo, hi in glue:
        skip.update(range(lo, hi))
    for i, (x, y) in enumerate(zip(ours, theirs)):
        if i not in skip and x != y:
            problems.append(f"byte at module offset 0x{i:x}: ours 0x{x:02x}, GNU ld 0x{y:02x}")
            if len(problems) > 20:
                break
    assert not problems, "\n".join(problems)
    assert checked >= 10 and any(theirs)          # the oracle's image is really there
    if profile.arch == "arm":
        assert veneered >= 3            # imports (and, on the GBA, ARM<->Thumb) use veneers


# ------------------------------------------------------------ the loader on each CPU vs the host

HOST_CALLS = [("calls_entry", (5,)), ("calls_entry", (-7,)),
              *[("calls_switch", (i,)) for i in range(-1, 8)],
              *[("calls_indirect", (i, 9)) for i in range(6)],
              ("other_back", (3,)), ("other_counter_value", ())]


@pytest.fixture(scope="module")
def host_expected(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("host")
    decls = "\n".join(sorted({f"extern int {n}();" for n, _ in HOST_CALLS}))
    body = "\n".join(f'    printf("%u\\n", (unsigned){n}({", ".join(map(str, a))}));'
                     for n, a in HOST_CALLS)
    main = tmp / "main.c"
    main.write_text(f"#include <stdio.h>\n{decls}\nint main(void) {{\n{body}\n    return 0;\n}}\n")
    exe = tmp / "host"
    subprocess.run(["gcc", "-O2", "-w", "-DGAMEVM_HOST", *(str(CORPUS / f) for f in ("calls.c", "other.c", "kernel.c")),
                    str(main), "-o", str(exe)], check=True)
    return [int(x) for x in subprocess.run([str(exe)], capture_output=True, text=True,
                                           check=True).stdout.split()]


def _game(console, tmp_path):
    """The corpus as a module (other.c Thumb on the GBA) and a resident, via the CLI."""
    mod, kernel = tmp_path / "calls.elf", tmp_path / "kernel.elf"
    other = tmp_path / "other.o"
    tc = find_toolchain(console)
    tc.compile(CORPUS / "other.c", other, extra_flags=["-O2", *OTHER_FLAGS.get(console, [])])
    for args in (["module", "-t", console, "-o", mod, CORPUS / "calls.c", other],
                 ["resident", "-t", console, "-o", kernel, "--modules", mod, CORPUS / "kernel.c"]):
        proc = run_gamevm(*args)
        assert proc.returncode == 0, proc.stderr
    return mod, kernel


def test_loaded_module_returns_host_results(console, tmp_path, host_expected):
    from gamevm_build.play.console import Console
    mod, kernel = _game(console, tmp_path)
    c = Console(console, kernel, search_paths=[tmp_path])
    lm = c.loader.load("calls")
    got = [c.machine.call(lm.symbols[n] if n in lm.symbols else n, *a) for n, a in HOST_CALLS]
    assert got == host_expected


def test_call_cli_and_fault_report(console, tmp_path):
    """`gamevm call` on each CPU, and a symbolized fault report for a wild pointer."""
    mod, kernel = _game(console, tmp_path)
    ok = run_gamevm("call", "-t", console, "--resident", kernel, "--search", tmp_path,
                    "--load", "calls", "calls:calls_switch(4)", "calls:calls_switch(2)")
    assert ok.returncode == 0, ok.stderr
    assert "calls:calls_switch(4) = 8 " in ok.stdout and "= 33 " in ok.stdout, ok.stdout
    bad = run_gamevm("call", "-t", console, "--resident", kernel, "--search", tmp_path,
                     "--load", "calls",
                     "calls:calls_indirect(2, 1)")           # calls_ops[2] is NULL until set
    assert bad.returncode == 1
    assert "unmapped address" in bad.stderr and "fetch" in bad.stderr, bad.stderr
    assert "calls_indirect" in bad.stderr, bad.stderr       # the caller, symbolized
    shown = run_gamevm("inspect", mod)
    assert shown.returncode == 0, shown.stderr
    want = "R_68K_32" if console == "segacd" else "R_ARM_ABS32"
    assert f"target   {console}" in shown.stdout and want in shown.stdout


# ------------------------------------------------------------ rejections with fix-it messages

def _link_error(console, tmp_path, name, text, *flags, more=()):
    from gamevm_build.errors import GameVMError
    b = Builder(tmp_path, find_toolchain(console))
    objs = [b.obj(name, text, *flags)] + [b.obj(n, t) for n, t in more]
    with pytest.raises(GameVMError) as exc:
        link_module(console, objs, tmp_path / "m.elf", name="m")
    assert not (tmp_path / "m.elf").exists()                 # nothing half-written
    return str(exc.value)


def test_thumb_bl_out_of_range(tmp_path):
    msg = _link_error("gba", tmp_path, "far.s", """
        .syntax unified
        .thumb
        .global near
        .thumb_func
near:   bl      far
        bx      lr
""", more=[("far_b.s", """
        .syntax unified
        .thumb
        .space  0x500000
        .global far
        .thumb_func
far:    bx      lr
""")])
    assert "far.o" in msg and ".text" in msg and "far" in msg
    assert "Thumb BL" in msg and "4 MiB" in msg and "-marm" in msg


def test_m68k_pc_relative_out_of_range(tmp_path):
    msg = _link_error("segacd", tmp_path, "far.s", """
        .global near
near:   bsr.w   far
        rts
""", more=[("far_b.s", """
        .space  0x9000
        .global far
far:    rts
""")])
    assert "far.o" in msg and "R_68K_PC16" in msg and "16 signed bits on the 68000" in msg
    assert "bsr.w" in msg


def test_m68k_pc_relative_to_import(tmp_path):
    msg = _link_error("segacd", tmp_path, "imp.s", """
        .global near
near:   bsr.w   k_add
        rts
""")
    assert "k_add" in msg and "absolute long addressing" in msg and "-mpcrel" in msg


def test_68020_object_rejected(tmp_path):
    msg = _link_error("segacd", tmp_path, "wide.c", "int mul(int a, int b) { return a * b; }",
                      "-m68020")
    assert "wide.o" in msg and "<mul+" in msg and "68020" in msg and "-m68000" in msg


def test_68020_instruction_in_68000_object(tmp_path):
    """Assembled as 68000 code but using mulu.l (unicorn would run it): the disassembler catches it."""
    msg = _link_error("segacd", tmp_path, "sneaky.s", """
        .global sneaky
sneaky: .short 0x4c00, 0x1001     | mulu.l d0, d1 (68020), hand-encoded
        rts
""")
    assert "sneaky" in msg and "mulu" in msg


def test_armv3_rejects_halfword_and_long_multiply(tmp_path):
    msg = _link_error("3do", tmp_path, "hw.c", """
short pick(short *p, int i) { return p[i]; }
long long wide(long long a, long long b) { return a * b; }
""")
    assert "hw.o" in msg and "<pick+" in msg and "ldrsh" in msg and "16-bit types" in msg
    assert "<wide+" in msg and "long multiply" in msg


def test_armv3_rejects_thumb(tmp_path):
    msg = _link_error("3do", tmp_path, "t.c", "int f(int x) { return x + 1; }", "-mthumb",
                      "-march=armv4t")
    assert "Thumb" in msg and "-marm" in msg


def test_armv3_v4bx_fix(tmp_path):
    """ARMv4T objects' bx lr becomes mov pc, lr on the 3DO (GNU ld --fix-v4bx)."""
    b = Builder(tmp_path, find_toolchain("3do"))
    obj = b.obj("v4t.c", "int add1(int x) { return x + 1; }", "-march=armv4t")
    link_module("3do", [obj], tmp_path / "m.elf", name="m")
    data = read_module(tmp_path / "m.elf").sections[".text"][1]
    words = [int.from_bytes(data[i:i + 4], "big") for i in range(0, len(data), 4)]
    assert 0xE1A0F00E in words and 0xE12FFF1E not in words     # mov pc, lr; no bx lr


def test_68000_resident_refuses_68020_libgcc(tmp_path):
    """Float code pulls Debian's 68020 libgcc members: the resident link names them."""
    src = tmp_path / "k.c"
    src.write_text("float addf(float a, float b) { return a + b; }\nvoid _start(void) {}\n")
    proc = run_gamevm("resident", "-t", "segacd", "-o", tmp_path / "k.elf", "--keep", "addf", src)
    assert proc.returncode != 0
    assert "libgcc.a(_float.o)" in proc.stderr and "__addsf3" in proc.stderr
    assert "68020+" in proc.stderr and "own sources" in proc.stderr
    assert not (tmp_path / "k.elf").exists()


def test_3do_resident_code_is_disassembled(tmp_path):
    """The resident's own objects are checked too, not only what it pulls from libgcc."""
    src = tmp_path / "k.c"
    src.write_text("short half(short *p) { return p[1]; }\nvoid _start(void) {}\n")
    proc = run_gamevm("resident", "-t", "3do", "-o", tmp_path / "k.elf", "--keep", "half", src)
    assert proc.returncode == 1, proc.stderr
    assert "<half+" in proc.stderr and "ldrsh" in proc.stderr and "16-bit types" in proc.stderr
    assert not (tmp_path / "k.elf").exists()


# --------------------------------------------------------------------------- refusals name sources

HALF_AND_WIDE = """\
int keep(int x) { return x; }

short pick(short *p, int i) { return p[i]; }
long long wide(long long a, long long b) { return a * b; }
void _start(void) { for (;;) ; }
"""


@pytest.mark.parametrize("command", ["module", "resident"])
def test_isa_refusal_of_a_c_file_names_the_file_and_line(tmp_path, command):
    """Not the temporary object it was compiled to (gone by then); exit status 1 either way,
    and the same lines whether or not the user compiles with -g."""
    (tmp_path / "hw.c").write_text(HALF_AND_WIDE)
    keep = ["--keep=pick", "--keep=wide"] if command == "resident" else []
    for flags in ([], ["--cflags=-g"]):
        proc = run_gamevm(command, "-t", "3do", "-o", "out.elf", "hw.c", *keep, *flags,
                          cwd=tmp_path)
        assert proc.returncode == 1, proc.stderr
        err = proc.stderr
        assert "code the ARM60 of target 3do cannot execute" in err
        assert re.search(r"\n  hw\.c:3: \.text(\.pick)?\+0x[0-9a-f]+ <pick\+0x[0-9a-f]+>: ldrsh ", err), err
        assert re.search(r"\n  hw\.c:4: \.text(\.wide)?\+0x[0-9a-f]+ <wide\+0x[0-9a-f]+>: umull ", err), err
        assert "gamevm-" not in err and ".o" not in err and "Traceback" not in err
        assert not (tmp_path / "out.elf").exists()


@pytest.mark.parametrize("command", ["module", "resident"])
def test_isa_refusal_exit_status_is_1_for_objects_and_sources(tmp_path, command):
    b = Builder(tmp_path, find_toolchain("segacd"))
    obj = b.obj("wide.c", "int mul(int a, int b) { return a * b; }\nvoid _start(void) {}\n",
                "-m68020")
    keep = ["--keep=mul"] if command == "resident" else []
    proc = run_gamevm(command, "-t", "segacd", "-o", "out.elf", obj, *keep, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "wide.o" in proc.stderr and "<mul+" in proc.stderr and "68020" in proc.stderr
    proc = run_gamevm(command, "-t", "segacd", "-o", "out.elf", "wide.c", "--cflags=-m68020",
                      *keep, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert re.search(r"wide\.c:1: \.text(\.mul)?\+0x[0-9a-f]+ <mul\+", proc.stderr), proc.stderr
    assert "gamevm-" not in proc.stderr


@pytest.mark.parametrize("target", ["psx", "n64", "segacd", "gba", "3do"])
def test_module_bytes_do_not_depend_on_g(tmp_path, target):
    """Debug sections are dropped, and gcc generates the same code with -g: a module is
    the same file whether or not the user asks for line info."""
    repo = Path(__file__).resolve().parents[1] / "examples" / "game"
    outs = []
    for tag, flags in (("plain", []), ("g", ["--cflags=-g"])):
        out = tmp_path / tag / "physics.elf"
        proc = run_gamevm("module", "-t", target, "-o", out, *sorted((repo / "physics").glob("*.c")),
                          "-I", repo / "include", *flags)
        assert proc.returncode == 0, proc.stderr
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
