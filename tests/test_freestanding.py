"""Console code sees only freestanding headers: the compiler's own, gamevm.h and the user's -I.

Debian's ``*-linux-gnu`` cross compilers search the build machine's /usr/include
(x86 glibc headers) and their limits.h reaches for a C library's limits.h;
every console compile therefore uses -nostdinc with the compiler's header
directories (gamevm_build.link.toolchain).  A hosted header (stdio.h) fails the build
with exit status 1 and a message saying what to do instead.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import ALL_TARGETS, run_gamevm
from gamevm_build.emu.machine import Machine
from gamevm_build.project.profile import load_profile
from gamevm_build.link.toolchain import FREESTANDING_HEADERS, SYSINCLUDE_DIR, find_toolchain

#: Each freestanding header, used the way a first C file would use it; check()
#: returns a bit per failed expectation (0: all hold on this console).
CHECKS = r"""
#include <float.h>
#include <iso646.h>
#include <limits.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdnoreturn.h>
#include <gamevm.h>
#include "mine.h"

struct pair { char c; int32_t v; };

static int va_sum(int n, ...)
{
    va_list ap;
    int s = 0;
    va_start(ap, n);
    while (n--)
        s += va_arg(ap, int);
    va_end(ap);
    return s;
}

static long long va_wide(int n, ...)
{
    va_list ap;
    long long s = 0;
    va_start(ap, n);
    while (n-- > 0)
        s += va_arg(ap, long long);
    va_end(ap);
    return s;
}

noreturn void stop(void) { for (;;) ; }

static alignas(8) unsigned char aligned_buf[8];

int check(int a, int b, int c, int d)
{
    int bad = 0, bit = 0;
#define EXPECT(cond) do { if (!(cond)) bad |= 1 << bit; bit++; } while (0)
    EXPECT(INT_MAX == 2147483647 and INT_MIN == -INT_MAX - 1);
    EXPECT(UINT_MAX == 4294967295u and CHAR_BIT == 8 and SCHAR_MIN == -128);
    EXPECT(LLONG_MAX == 9223372036854775807LL and ULLONG_MAX == 18446744073709551615ULL);
    EXPECT(CHAR_MIN == (((char)-1 < 0) ? -128 : 0) and LONG_MAX == 2147483647L);
    EXPECT(UINT32_MAX == 0xffffffffu and INT16_MIN == -32768 and UINT8_MAX == 255);
    EXPECT(INT64_MAX == 0x7fffffffffffffffLL and UINTPTR_MAX == 0xffffffffu);
    EXPECT(sizeof(size_t) == 4 and sizeof(ptrdiff_t) == 4 and sizeof(intptr_t) == 4);
    EXPECT(offsetof(struct pair, v) == alignof(int32_t) and NULL == (void *)0);
    EXPECT(va_sum(4, a, b, c, d) == a + b + c + d and va_sum(0) == 0);
    EXPECT(va_wide(2, (long long)a << 32, (long long)d) == ((long long)a << 32) + d);
    EXPECT(true == 1 and false == 0 and (bool)2 == true);
    EXPECT(alignof(int32_t) == 4 or alignof(int32_t) == 2);       /* 68000: 2 */
    EXPECT(((uintptr_t)aligned_buf & 7) == 0);
    EXPECT(FLT_MANT_DIG == 24 and DBL_MANT_DIG == 53 and FLT_RADIX == 2);
    EXPECT(MINE_ANSWER == 42 and lsForceInt != 0);
    EXPECT(INT8_C(-1) == -1 and UINT64_C(1) << 40 == 0x10000000000ULL);
    return bad;
}

void _start(void) { stop(); }
"""


def _builder(tmp_path: Path) -> tuple[Path, Path]:
    inc = tmp_path / "inc"
    inc.mkdir()
    (inc / "mine.h").write_text("#define MINE_ANSWER 42\n")
    src = tmp_path / "first.c"
    src.write_text(CHECKS)
    return src, inc


@pytest.mark.parametrize("target", ALL_TARGETS)
def test_each_freestanding_header_compiles_alone(tmp_path, target):
    tc = find_toolchain(target)
    for header in FREESTANDING_HEADERS:
        src = tmp_path / f"{header[:-2]}.c"
        src.write_text(f"#include <{header}>\nint x;\n")
        tc.compile(src, tmp_path / f"{header[:-2]}.o")


@pytest.mark.parametrize("target", ALL_TARGETS)
def test_freestanding_headers_work_on_the_console(tmp_path, target):
    """INT_MAX, UINT32_MAX, va_arg... hold their values when the code runs on the console."""
    src, inc = _builder(tmp_path)
    out = tmp_path / "kernel.elf"
    proc = run_gamevm("resident", "-t", target, "-o", out, "--keep=check", src, "-I", inc,
                      "--cflags=-std=gnu11", "--cflags=-Wall", "--cflags=-Werror")
    assert proc.returncode == 0, proc.stderr
    m = Machine(target)
    m.load_elf(out)
    assert m.call("check", 3, -7, 1000, 0x7fff0000) == 0
    # and the same source as a module
    proc = run_gamevm("module", "-t", target, "-o", tmp_path / "first.elf", src, "-I", inc)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("target", ALL_TARGETS)
def test_no_header_comes_from_the_build_machine(tmp_path, target):
    tc = find_toolchain(target)
    src, inc = _builder(tmp_path)
    gamevm_h = Path(SYSINCLUDE_DIR).parent / "include"
    deps = subprocess.run([tc.gcc, *tc.cflags, "-M", f"-I{inc}", f"-I{gamevm_h}", str(src)],
                          capture_output=True, text=True, check=True).stdout
    headers = [w for w in deps.replace("\\\n", " ").split()[1:] if w.endswith(".h")]
    assert len(headers) >= len(FREESTANDING_HEADERS)
    assert not [h for h in headers if h.startswith("/usr/include")], headers
    assert "-nostdinc" in tc.cflags and "-ffreestanding" in load_profile(target).cflags


def test_every_profile_is_freestanding():
    """gcc's stdint.h wraps the C library's (#include_next) unless -ffreestanding."""
    from gamevm_build.project.profile import available_targets
    for name in available_targets():
        assert "-ffreestanding" in load_profile(name).cflags, name


@pytest.mark.parametrize("target", ALL_TARGETS)
def test_hosted_header_fails_with_what_to_do_instead(tmp_path, target):
    (tmp_path / "inc").mkdir()
    (tmp_path / "inc" / "util.h").write_text("#include <string.h>\n")
    (tmp_path / "level.c").write_text("#include <stdint.h>\n#include <stdio.h>\n"
                                      "int f(void) { return 0; }\n")
    (tmp_path / "nested.c").write_text("#include <stddef.h>\n#include \"util.h\"\nint g;\n")
    profile = load_profile(target)
    proc = run_gamevm("module", "-t", target, "-o", "level.elf", "level.c", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    err = proc.stderr
    assert err.startswith("gamevm: error: level.c:2: #include <stdio.h>: stdio.h belongs to the "
                          "hosted C library"), err
    assert f"target {target} has only the compiler's own headers" in err
    assert all(h in err for h in FREESTANDING_HEADERS) and "gamevm.h" in err
    assert "GameVMPrint()" in err and profile.cpu_name in err and "-I DIR" in err
    assert "Traceback" not in err and not (tmp_path / "level.elf").exists()
    proc = run_gamevm("resident", "-t", target, "-o", "k.elf", "nested.c", "-I", "inc",
                      cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "inc/util.h:1 (included from nested.c:2): #include <string.h>" in proc.stderr
    assert "memcpy" in proc.stderr


def test_unknown_header_says_where_console_code_looks(tmp_path):
    (tmp_path / "a.c").write_text('#include "physics.h"\n')
    proc = run_gamevm("module", "-t", "psx", "-o", "a.elf", "a.c", cwd=tmp_path)
    assert proc.returncode == 1
    assert "a.c:1: 'physics.h' not found" in proc.stderr
    assert "/usr/include is never searched" in proc.stderr and "-I DIR" in proc.stderr


def test_compile_errors_are_build_failures(tmp_path):
    (tmp_path / "a.c").write_text("int f(void) { return missing; }\n")
    proc = run_gamevm("module", "-t", "psx", "-o", "a.elf", "a.c", cwd=tmp_path)
    assert proc.returncode == 1
    assert "missing" in proc.stderr and "undeclared" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_own_limits_h_on_the_include_path_wins(tmp_path):
    """sysinclude/limits.h is searched last: a project's own limits.h still comes first."""
    (tmp_path / "inc").mkdir()
    (tmp_path / "inc" / "limits.h").write_text("#define MY_LIMITS 1\n")
    (tmp_path / "a.c").write_text("#include <limits.h>\n#ifndef MY_LIMITS\n#error\n#endif\n"
                                  "int x;\n")
    proc = run_gamevm("module", "-t", "n64", "-o", "a.elf", "a.c", "-I", "inc", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
