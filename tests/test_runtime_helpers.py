"""The resident's runtime helpers: 64-bit division that the console's CPU can run.

Debian's libgcc is mips32r2 code (clz, movn) that neither the R3000A nor the
VR4300 executes, so gamevm links its own helpers (gamevm_build/runtime/) into
every resident and refuses any libgcc member built for a newer ISA.  The
helpers' results are checked against the host's C on edge cases.
"""

from __future__ import annotations

import subprocess

import pytest

from conftest import ALL_TARGETS, run_gamevm
from gamevm_build.emu.machine import Machine

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


def test_libgcc_code_the_cpu_cannot_run_is_refused(build, target, profile):
    kernel = build.source("kernel.c", "unsigned cz(unsigned x){ return __builtin_clz(x); }\n"
                                      "void _start(void){ for(;;); }\n")
    out = build.tmp / "kernel.elf"
    proc = run_gamevm("resident", "-t", target, "-o", out, kernel)
    assert proc.returncode == 1
    assert "libgcc.a(_clzsi2.o)" in proc.stderr and "(__clzsi2)" in proc.stderr
    assert f"which the {profile.cpu_name} of target {target} cannot run" in proc.stderr
    assert not out.exists()
