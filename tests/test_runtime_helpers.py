"""The resident's runtime helpers: libgcc's integer and bit helpers the console's CPU can run.

Debian's libgcc is mips32r2 code (clz, movn) that neither the R3000A nor the
VR4300 executes, its m68k one is 68020 code, and arm-none-eabi's is ARMv4T
little-endian code the 3DO's ARM60 cannot run; so gamevm links its own helpers
(gamevm_build/runtime/, the profiles' toolchain.runtime) into every resident
and refuses any library member the CPU cannot run.  A probe corpus of C finds
every helper gcc calls for each console at every -O level; the helpers'
results are checked against the host's C on edge cases, on every console.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import ALL_TARGETS, REPO, run_gamevm
from gamevm_build.emu.machine import Machine
from gamevm_build.errors import EmulationFault
from gamevm_build.project.profile import load_profile
from gamevm_build.link.resident import RUNTIME_DIR, build_resident
from gamevm_build.link.toolchain import find_toolchain

CORPUS = REPO / "tests" / "corpus" / "helpers"
LEVELS = ["-O0", "-O1", "-O2", "-O3", "-Os"]

OPS = """
long long sdiv(int ah, unsigned al, int bh, unsigned bl)
{ long long a = ((long long)ah << 32) | al, b = ((long long)bh << 32) | bl; return a / b; }
long long smod(int ah, unsigned al, int bh, unsigned bl)
{ long long a = ((long long)ah << 32) | al, b = ((long long)bh << 32) | bl; return a % b; }
unsigned long long udiv(unsigned ah, unsigned al, unsigned bh, unsigned bl)
{ unsigned long long a = ((unsigned long long)ah << 32) | al, b = ((unsigned long long)bh << 32) | bl; return a / b; }
unsigned long long umod(unsigned ah, unsigned al, unsigned bh, unsigned bl)
{ unsigned long long a = ((unsigned long long)ah << 32) | al, b = ((unsigned long long)bh << 32) | bl; return a % b; }
/* 32-bit helpers (68000: __mulsi3, __divsi3...; ARM: __aeabi_idiv...) on the low words */
unsigned t_mul32(int a, unsigned b, int c, unsigned d) { return (unsigned)((int)b * (int)d); }
unsigned t_div32(int a, unsigned b, int c, unsigned d) { return (unsigned)((int)b / (int)d); }
unsigned t_mod32(int a, unsigned b, int c, unsigned d) { return (unsigned)((int)b % (int)d); }
unsigned t_udiv32(int a, unsigned b, int c, unsigned d) { return b / d; }
unsigned t_umod32(int a, unsigned b, int c, unsigned d) { return b % d; }
/* the low and high words of the last result, for a 32-bit return path */
unsigned lo(long long v) { return (unsigned)v; }
"""

CASES = [(0, 100, 0, 7), (0, 0xFFFFFFFF, 0, 3), (1, 0, 0, 10), (0x7FFFFFFF, 0xFFFFFFFF, 0, 0x10001),
         (-1, 0xFFFFFF00, 0, 7), (-5, 12345, -1, 0xFFFF0000), (0x12345678, 0x9ABCDEF0, 0x1234, 0x5678),
         (0, 5, 0, 5), (3, 0, 3, 1), (-0x80000000, 0, -1, 0xFFFFFFFF)]


def wrap(name):
    return f"unsigned t_{name}_lo(int a,unsigned b,int c,unsigned d){{ return (unsigned){name}(a,b,c,d); }}\n" \
           f"unsigned t_{name}_hi(int a,unsigned b,int c,unsigned d){{ return (unsigned)((unsigned long long){name}(a,b,c,d) >> 32); }}\n"


SOURCE = OPS + "".join(wrap(n) for n in ("sdiv", "smod", "udiv", "umod"))
FUNCS = [f"t_{n}_{half}" for n in ("sdiv", "smod", "udiv", "umod") for half in ("lo", "hi")] + \
    ["t_mul32", "t_div32", "t_mod32", "t_udiv32", "t_umod32"]


@pytest.mark.parametrize("target", ALL_TARGETS)
def test_division_helpers_match_host(build, target):
    kernel = build.source("kernel.c", SOURCE + "void _start(void){ for(;;); }\n")
    out = build.tmp / "kernel.elf"
    proc = run_gamevm("resident", "-t", target, "-o", out, kernel,
                      *[f"--keep={f}" for f in FUNCS])
    assert proc.returncode == 0, proc.stderr
    host = build.source("host.c", "#include <stdio.h>\n" + SOURCE + "int main(void){\n" + "".join(
        f'printf("%u\\n", {f}({a}, {b}u, {c}, {d}u));\n' for (a, b, c, d) in CASES for f in FUNCS)
        + "return 0; }\n")
    exe = build.tmp / "host"
    subprocess.run(["gcc", "-O2", "-w", str(host), "-o", str(exe)], check=True)
    expected = [int(x) for x in subprocess.run([str(exe)], capture_output=True, text=True,
                                               check=True).stdout.split()]
    m = Machine(target)
    m.load_elf(out)
    got = [m.call(f, a, b, c, d) for (a, b, c, d) in CASES for f in FUNCS]
    assert got == expected


# ----------------------------------------------------------------------------- probe corpus

def _probe_objects(target: str, tmp: Path) -> tuple[list[Path], list[str]]:
    """The probe corpus compiled at every -O level (and as Thumb code on the GBA)."""
    tc = find_toolchain(target)
    armv3 = ["-DARMV3"] if load_profile(target).isa == "armv3" else []
    variants = [("", [])] + ([("thumb_", ["-mthumb"])] if target == "gba" else [])
    objs, anchors = [], []
    for level in LEVELS:
        for src, extra in (("probe.c", []), ("trapv.c", ["-ftrapv"])):
            for tag, flags in variants:
                prefix = f"{src[:-2]}_{level[1:]}_{tag}"
                # no -ffunction-sections: keeping one function keeps the whole corpus
                objs.append(tc.compile(CORPUS / src, tmp / f"{prefix}.o",
                                       [level, *extra, *flags, *armv3, f"-DPREFIX={prefix}"]))
                anchors.append(f"{prefix}s32_add" if src == "trapv.c" else f"{prefix}s32_div")
    return objs, anchors


def _helper_calls(target: str, objs) -> set[str]:
    tc = find_toolchain(target)
    out = subprocess.run([tc.tool("nm"), "-u", *map(str, objs)], capture_output=True,
                         text=True, check=True).stdout
    return {w for w in out.split() if w.startswith("__")}


@pytest.mark.parametrize("target", ALL_TARGETS)
def test_probe_corpus_links_at_every_level(tmp_path, target):
    """Every helper gcc calls for the corpus, at -O0..-Os, comes from code the CPU runs."""
    objs, anchors = _probe_objects(target, tmp_path)
    calls = _helper_calls(target, objs)
    assert {"__clzsi2", "__ctzsi2", "__popcountsi2", "__addvsi3", "__mulvdi3"} <= calls
    kernel = tmp_path / "k.c"
    kernel.write_text("void _start(void) { for (;;) ; }\n")
    tc = find_toolchain(target)
    result = build_resident(target, [tc.compile(kernel, tmp_path / "k.o"), *objs],
                            tmp_path / "k.elf", keep=anchors)
    assert calls <= set(result.resident.symbols)
    if target == "gba":
        # the GBA keeps the toolchain's ARMv4T libgcc (every member pulled is checked)
        assert any("_clzsi2.o" in m for m in result.pulled)
    else:
        # Debian's libgcc is refused on these CPUs: the runtime covers every call
        assert result.pulled == []


@pytest.mark.parametrize("target", ALL_TARGETS)
def test_runtime_compiles_alone_at_every_level(tmp_path, target):
    """Each runtime file is one translation unit (gvm_libgcc.h next to it), warning-free and
    calling nothing outside itself, whatever -O the profile flags are used with."""
    profile, tc = load_profile(target), find_toolchain(target)
    for name in profile.runtime:
        for level in LEVELS:
            obj = tmp_path / f"{Path(name).stem}{level}.o"
            proc = subprocess.run([tc.gcc, *tc.cflags, level, "-Wall", "-Wextra", "-Werror",
                                   "-c", str(RUNTIME_DIR / name), "-o", str(obj)],
                                  capture_output=True, text=True)
            assert proc.returncode == 0, (name, level, proc.stderr)
            assert _helper_calls(target, [obj]) == set(), (name, level)


# ----------------------------------------------------------------------------- values vs host

#: The helpers called by name on the console and computed with C on the host, so that
#: every helper is tested whatever gcc would inline.  Each test function takes
#: (a, b, c, d): x = a:b and y = c:d as 64-bit values, n = d & 63 a shift count.
BITS_SOURCE = """
typedef unsigned long long u64; typedef long long s64; typedef unsigned u32; typedef int s32;
#define X (((u64)(u32)a << 32) | b)
#define Y (((u64)(u32)c << 32) | d)
#ifdef CONSOLE
u64 __ashldi3(u64, int); u64 __lshrdi3(u64, int); s64 __ashrdi3(s64, int);
u64 __muldi3(u64, u64); s64 __negdi2(s64); int __cmpdi2(s64, s64); int __ucmpdi2(u64, u64);
u64 __udivmoddi4(u64, u64, u64 *);
int __clzsi2(u32); int __ctzsi2(u32); int __ffssi2(u32); int __clrsbsi2(s32);
int __popcountsi2(u32); int __paritysi2(u32); u32 __bswapsi2(u32);
int __clzdi2(u64); int __ctzdi2(u64); int __ffsdi2(u64); int __clrsbdi2(s64);
int __popcountdi2(u64); int __paritydi2(u64); u64 __bswapdi2(u64);
#define SHL(x, n) __ashldi3(x, n)
#define LSHR(x, n) __lshrdi3(x, n)
#define ASHR(x, n) __ashrdi3(x, n)
#define MUL(x, y) __muldi3(x, y)
#define NEG(x) __negdi2(x)
#define CMP(x, y) __cmpdi2(x, y)
#define UCMP(x, y) __ucmpdi2(x, y)
#define UDIVMOD(x, y, r) __udivmoddi4(x, y, r)
#define CLZ(x) __clzsi2(x)
#define CTZ(x) __ctzsi2(x)
#define FFS(x) __ffssi2(x)
#define CLRSB(x) __clrsbsi2(x)
#define POP(x) __popcountsi2(x)
#define PAR(x) __paritysi2(x)
#define BSWAP(x) __bswapsi2(x)
#define CLZ64(x) __clzdi2(x)
#define CTZ64(x) __ctzdi2(x)
#define FFS64(x) __ffsdi2(x)
#define CLRSB64(x) __clrsbdi2(x)
#define POP64(x) __popcountdi2(x)
#define PAR64(x) __paritydi2(x)
#define BSWAP64(x) __bswapdi2(x)
#else
#define SHL(x, n) ((u64)(x) << (n))
#define LSHR(x, n) ((u64)(x) >> (n))
#define ASHR(x, n) ((s64)(x) >> (n))
#define MUL(x, y) ((u64)(x) * (y))
#define NEG(x) (-(u64)(x))
#define CMP(x, y) ((s64)(x) < (s64)(y) ? 0 : (s64)(x) > (s64)(y) ? 2 : 1)
#define UCMP(x, y) ((x) < (y) ? 0 : (x) > (y) ? 2 : 1)
#define UDIVMOD(x, y, r) (*(r) = (y) ? (x) % (y) : (x), (y) ? (x) / (y) : ~(u64)0)
#define CLZ(x) ((x) ? __builtin_clz(x) : 32)
#define CTZ(x) ((x) ? __builtin_ctz(x) : 32)
#define FFS(x) __builtin_ffs(x)
#define CLRSB(x) __builtin_clrsb(x)
#define POP(x) __builtin_popcount(x)
#define PAR(x) __builtin_parity(x)
#define BSWAP(x) __builtin_bswap32(x)
#define CLZ64(x) ((x) ? __builtin_clzll(x) : 64)
#define CTZ64(x) ((x) ? __builtin_ctzll(x) : 64)
#define FFS64(x) __builtin_ffsll(x)
#define CLRSB64(x) __builtin_clrsbll(x)
#define POP64(x) __builtin_popcountll(x)
#define PAR64(x) __builtin_parityll(x)
#define BSWAP64(x) __builtin_bswap64(x)
#endif
#define T(name, expr) unsigned t_##name(s32 a, u32 b, s32 c, u32 d) { return (u32)(expr); }
#define T64(name, expr) T(name##_lo, (expr)) T(name##_hi, (u64)(expr) >> 32)
T64(shl, SHL(X, d & 63)) T64(lshr, LSHR(X, d & 63)) T64(ashr, ASHR(X, d & 63))
T64(mul, MUL(X, Y)) T64(neg, NEG(X)) T(cmp, CMP(X, Y)) T(ucmp, UCMP(X, Y))
/* C leaves clz/ctz of 0 and division by 0 undefined, and libgcc (the GBA's) does
 * not return what ours does: those inputs are kept from the helpers */
T(udivmod_q, ({ u64 r = 7; Y ? UDIVMOD(X, Y, &r) : 0; }))
T(udivmod_r, ({ u64 r = 7; Y ? UDIVMOD(X, Y, &r) : 0; r; }))
T(clz, b ? CLZ(b) : 32) T(ctz, b ? CTZ(b) : 32) T(ffs, FFS(b)) T(clrsb, CLRSB((s32)b))
T(pop, POP(b)) T(par, PAR(b)) T(bswap, BSWAP(b))
T(clz64, X ? CLZ64(X) : 64) T(ctz64, X ? CTZ64(X) : 64) T(ffs64, FFS64(X))
T(clrsb64, CLRSB64((s64)X)) T(pop64, POP64(X)) T(par64, PAR64(X)) T64(bswap64, BSWAP64(X))
"""

BITS_FUNCS = [f"t_{n}_{h}" for n in ("shl", "lshr", "ashr", "mul", "neg", "bswap64")
              for h in ("lo", "hi")] + [
    f"t_{n}" for n in ("cmp", "ucmp", "udivmod_q", "udivmod_r", "clz", "ctz", "ffs", "clrsb",
                       "pop", "par", "bswap", "clz64", "ctz64", "ffs64", "clrsb64", "pop64",
                       "par64")]

BITS_CASES = [(0, 0, 0, 0), (0, 1, 0, 1), (-1, 0xFFFFFFFF, -1, 0xFFFFFFFF),
              (0x7FFFFFFF, 0xFFFFFFFF, 0, 32), (-0x80000000, 0, 0, 33),
              (0x12345678, 0x9ABCDEF0, 0x0FEDCBA9, 0x87654321), (0, 0x80000000, 0, 31),
              (1, 0, -1, 0xFFFFFFFF), (0, 0x10000, 0, 0x10000), (0xFFFF, 0xFFFF0000, 0x7FFF, 0x8000),
              (-2, 0x7FFFFFFF, 3, 62), (0x00F00000, 0x00000100, 0, 0xFF), (0, 0xFFFFFFFE, 1, 1),
              (-0x12345679, 0x65432110, 0x80, 0x3F)]

#: -ftrapv helpers, called by name; the host says "trap" where the operation overflows
TRAPV_SOURCE = """
typedef long long s64; typedef unsigned long long u64; typedef int s32; typedef unsigned u32;
#define X ((s64)(((u64)(u32)a << 32) | b))
#define Y ((s64)(((u64)(u32)c << 32) | d))
#ifdef CONSOLE
s32 __addvsi3(s32, s32); s32 __subvsi3(s32, s32); s32 __mulvsi3(s32, s32);
s32 __negvsi2(s32); s32 __absvsi2(s32);
s64 __addvdi3(s64, s64); s64 __subvdi3(s64, s64); s64 __mulvdi3(s64, s64);
s64 __negvdi2(s64); s64 __absvdi2(s64);
#define OP32(name, op, ...) __##name##vsi3(__VA_ARGS__)
#define UN32(name, x) __##name##vsi2(x)
#define OP64(name, op, ...) __##name##vdi3(__VA_ARGS__)
#define UN64(name, x) __##name##vdi2(x)
#define T(name, expr, over) unsigned t_##name(s32 a, u32 b, s32 c, u32 d) { return (u32)(expr); }
#else
#include <stdio.h>
#define OP32(name, op, x, y) ((s32)((u32)(x) op (u32)(y)))
#define OP64(name, op, x, y) ((s64)((u64)(x) op (u64)(y)))
#define UN32(name, x) host_##name##32(x)
#define UN64(name, x) host_##name##64(x)
#define host_neg32(x) ((s32)(0u - (u32)(x)))
#define host_abs32(x) ((x) < 0 ? host_neg32(x) : (x))
#define host_neg64(x) ((s64)(0 - (u64)(x)))
#define host_abs64(x) ((x) < 0 ? host_neg64(x) : (x))
#define T(name, expr, over) void t_##name(s32 a, u32 b, s32 c, u32 d) \
    { if (over) puts("trap"); else printf("%u\\n", (u32)(expr)); }
#endif
#define BIG(x, bits) ((x) == (s##bits)((u##bits)1 << (bits - 1)))
T(addv32, OP32(add, +, (s32)b, c), ({ s32 r; __builtin_add_overflow((s32)b, c, &r); }))
T(subv32, OP32(sub, -, (s32)b, c), ({ s32 r; __builtin_sub_overflow((s32)b, c, &r); }))
T(mulv32, OP32(mul, *, (s32)b, c), ({ s32 r; __builtin_mul_overflow((s32)b, c, &r); }))
T(negv32, UN32(neg, (s32)b), BIG((s32)b, 32))
T(absv32, UN32(abs, (s32)b), BIG((s32)b, 32))
T(addv64_lo, OP64(add, +, X, Y), ({ s64 r; __builtin_add_overflow(X, Y, &r); }))
T(addv64_hi, (u64)OP64(add, +, X, Y) >> 32, ({ s64 r; __builtin_add_overflow(X, Y, &r); }))
T(subv64_lo, OP64(sub, -, X, Y), ({ s64 r; __builtin_sub_overflow(X, Y, &r); }))
T(subv64_hi, (u64)OP64(sub, -, X, Y) >> 32, ({ s64 r; __builtin_sub_overflow(X, Y, &r); }))
T(mulv64_lo, OP64(mul, *, X, Y), ({ s64 r; __builtin_mul_overflow(X, Y, &r); }))
T(mulv64_hi, (u64)OP64(mul, *, X, Y) >> 32, ({ s64 r; __builtin_mul_overflow(X, Y, &r); }))
T(negv64_lo, UN64(neg, X), BIG(X, 64))
T(negv64_hi, (u64)UN64(neg, X) >> 32, BIG(X, 64))
T(absv64_lo, UN64(abs, X), BIG(X, 64))
T(absv64_hi, (u64)UN64(abs, X) >> 32, BIG(X, 64))
"""

TRAPV_FUNCS = ["t_addv32", "t_subv32", "t_mulv32", "t_negv32", "t_absv32"] + [
    f"t_{n}_{h}" for n in ("addv64", "subv64", "mulv64", "negv64", "absv64") for h in ("lo", "hi")]

TRAPV_CASES = [(0, 5, 7, 0), (0, 0x7FFFFFFF, 1, 0), (0, 0x80000000, -1, 0), (0, 0x80000000, 1, 0),
               (0, 0xFFFF, 0x10001, 0), (0, 0x10000, 0x8000, 0), (0, 0xFFFF0000, 0x8000, 0),
               (0x7FFFFFFF, 0xFFFFFFFF, 0, 1), (-0x80000000, 0, -1, 0xFFFFFFFF),
               (-0x80000000, 0, 0, 1), (0, 0xB504F333, 0, 0xB504F333),
               (0, 0xB504F334, 0, 0xB504F334), (1, 0, 0x7FFFFFFF, 0xFFFFFFFF),
               (-1, 0xFFFFFFFF, -0x80000000, 0), (0x40000000, 0, 0, 2), (0xC0000000 - (1 << 32), 0, 0, 2),
               (-0x40000000, 0, 0, 2), (0, 3, -1, 0xFFFFFFFD), (0x12345, 0x6789ABCD, 0, 0xFEDC)]


def _host_values(build, source: str, funcs, cases, fmt: str) -> list[str]:
    host = build.source("host.c", "#include <stdio.h>\n" + source + "int main(void){\n" + "".join(
        fmt.format(f=f, a=a, b=b, c=c, d=d) for (a, b, c, d) in cases for f in funcs)
        + "return 0; }\n")
    exe = build.tmp / "host"
    subprocess.run(["gcc", "-O2", "-w", str(host), "-o", str(exe)], check=True)
    return subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split()


def _console(build, target, source: str, funcs) -> Machine:
    kernel = build.source("kernel.c", source + "void _start(void){ for(;;); }\n")
    out = build.tmp / "kernel.elf"
    proc = run_gamevm("resident", "-t", target, "-o", out, kernel, "--cflags=-DCONSOLE",
                      *[f"--keep={f}" for f in funcs])
    assert proc.returncode == 0, proc.stderr
    m = Machine(target)
    m.load_elf(out)
    return m


@pytest.mark.parametrize("target", ALL_TARGETS)
def test_shift_multiply_and_bit_helpers_match_host(build, target):
    expected = [int(v) for v in _host_values(build, BITS_SOURCE, BITS_FUNCS, BITS_CASES,
                                             'printf("%u\\n", {f}({a}, {b}u, {c}, {d}u));\n')]
    m = _console(build, target, BITS_SOURCE, BITS_FUNCS)
    got = [m.call(f, a, b, c, d) for (a, b, c, d) in BITS_CASES for f in BITS_FUNCS]
    assert dict(zip([(f, case) for case in BITS_CASES for f in BITS_FUNCS], got)) == \
        dict(zip([(f, case) for case in BITS_CASES for f in BITS_FUNCS], expected))


@pytest.mark.parametrize("target", ALL_TARGETS)
def test_trapv_helpers_match_host_and_trap_on_overflow(build, target):
    expected = _host_values(build, TRAPV_SOURCE, TRAPV_FUNCS, TRAPV_CASES,
                            "{f}({a}, {b}u, {c}, {d}u);\n")
    m = _console(build, target, TRAPV_SOURCE, TRAPV_FUNCS)
    got = []
    for (a, b, c, d) in TRAPV_CASES:
        for f in TRAPV_FUNCS:
            try:
                got.append(str(m.call(f, a, b, c, d)))
            except EmulationFault:
                got.append("trap")
    keys = [(f, case) for case in TRAPV_CASES for f in TRAPV_FUNCS]
    assert dict(zip(keys, got)) == dict(zip(keys, expected))
    assert expected.count("trap") > 10 and len(set(expected)) > 20     # both paths were taken


@pytest.mark.parametrize("target", ["psx", "n64", "segacd", "3do"])
def test_library_code_the_cpu_cannot_run_is_refused_naming_the_module(tmp_path, target):
    """A module's import that pulls a libgcc member the CPU cannot run names the module.

    Float conversions are not in the runtime (soft-float is not covered), so they
    still come from the toolchain's libgcc: mips32r2 code on the MIPS consoles,
    68020 code on the Sega CD, little-endian code on the big-endian 3DO.
    """
    profile = load_profile(target)
    lvl = tmp_path / "lvl.c"
    lvl.write_text("long long to_int(double d) { return (long long)d; }\n")
    mod = tmp_path / "lvl.elf"
    proc = run_gamevm("module", "-t", target, "-o", mod, lvl)
    assert proc.returncode == 0, proc.stderr
    kernel = tmp_path / "kernel.c"
    kernel.write_text("void _start(void){ for(;;); }\n")
    out = tmp_path / "kernel.elf"
    proc = run_gamevm("resident", "-t", target, "-o", out, "--modules", mod, kernel)
    assert proc.returncode == 1, proc.stderr
    assert "library code the console cannot execute" in proc.stderr
    helper = "__aeabi_d2lz" if profile.arch == "arm" else "__fixdfdi"
    assert f"pulled in by module 'lvl' ({mod}) imports {helper}" in proc.stderr, proc.stderr
    assert f"the {profile.cpu_name}" in proc.stderr
    assert "Traceback" not in proc.stderr and not out.exists()


def test_library_code_pulled_by_a_source_names_the_source(build, target):
    build.source("kernel.c", "long long to_int(double d) { return (long long)d; }\n"
                             "void _start(void){ for(;;); }\n")
    proc = run_gamevm("resident", "-t", target, "-o", "k.elf", "--keep=to_int", "kernel.c",
                      cwd=build.tmp)
    assert proc.returncode == 1
    assert "pulled in by kernel.c (__fixdfdi)" in proc.stderr, proc.stderr
    assert "gamevm-" not in proc.stderr                 # no temporary object is named
