"""Reports speak source (docs/debugging.md): with a debug file beside a module or the
resident, fault reports, backtraces and timeouts name ``file:line``; backtraces unwind
with the DWARF CFI of ``.debug_frame`` and mark how each frame was found."""

from __future__ import annotations

import re

import pytest

from conftest import ALL_TARGETS, run_gamevm
from gamevm_build import INCLUDE_DIR as INCLUDE

#: c2's frame has a size known only at run time (a VLA): prologue analysis cannot
#: unwind it, the CFI (which follows the frame pointer) can
DEEP = """\
int deep_global = 42;
int k_poke(int *p, int v);

__attribute__((noinline)) int c3(int x)
{
    int local = x * 3 + deep_global;
    if (x > 100)
        return k_poke((int *)(0x10 + 4 * x), local) + 1;
    *(volatile int *)(0x10 + 4 * x) = local;
    return local;
}

__attribute__((noinline)) int c2(int n)
{
    volatile char buf[n + 8];
    buf[0] = (char)n;
    return c3(buf[0] + 1) + 1;
}

__attribute__((noinline)) int c1(int x)
{
    return c2(x * 2) * 3;
}

int spin(int x)
{
    while (x != 12345)
        x = x * 5 + deep_global;
    return x;
}
"""
KERNEL = """\
void _start(void){ for(;;); }

__attribute__((noinline)) int k_poke(int *p, int v)
{
    *(volatile int *)p = v;
    return v;
}
"""


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def build(tmp_path, target, *, debug=True):
    cflags = ["--cflags=-g"] if debug else []
    (tmp_path / "deep.c").write_text(DEEP)
    (tmp_path / "k.c").write_text(KERNEL)
    for args in (("module", "-o", tmp_path / "deep.elf", tmp_path / "deep.c"),
                 ("resident", "-o", tmp_path / "k.elf", "-I", INCLUDE, "--keep=k_poke",
                  tmp_path / "k.c")):
        proc = run_gamevm(args[0], "-t", target, *args[1:], *cflags)
        assert proc.returncode == 0, proc.stderr
    return tmp_path / "k.elf", tmp_path / "deep.elf"


def call(kernel, module, target, *exprs, extra=()):
    return run_gamevm("call", "-t", target, "--resident", kernel, "--load", module, *extra,
                      *exprs)


def frames(stderr: str) -> list[str]:
    return re.findall(r"^  #\d+ (.*)$", stderr, re.M)


@pytest.mark.parametrize("target", ALL_TARGETS)
def test_backtrace_names_lines_and_is_unwound_by_cfi(tmp_path, target):
    kernel, module = build(tmp_path, target)
    proc = call(kernel, module, target, "deep:c1(0)")
    assert proc.returncode == 1
    err = proc.stderr
    assert "backtrace:" in err and "(partial)" not in err, err
    f = frames(err)
    store = line_of(DEEP, "*(volatile int *)(0x10")
    # frame #0 is the faulting store; callers name the line of their call
    assert re.search(rf"<deep:c3\+0x[0-9a-f]+, deep\.c:{store}>$", f[0]), f
    assert re.search(rf"<deep:c2\+0x[0-9a-f]+, deep\.c:{line_of(DEEP, 'return c3(')}> \[cfi\]$",
                     f[1]), f
    assert re.search(rf"<deep:c1\+0x[0-9a-f]+, deep\.c:{line_of(DEEP, 'return c2(')}> \[cfi\]$",
                     f[2]), f
    # the fault line itself names the source too
    assert re.search(rf"pc (near )?0x[0-9a-f]+ <deep:c3\+0x[0-9a-f]+, deep\.c:{store}>", err)


@pytest.mark.parametrize("target", ALL_TARGETS)
def test_resident_frames_name_lines(tmp_path, target):
    kernel, module = build(tmp_path, target)
    proc = call(kernel, module, target, "deep:c3(200)")
    assert proc.returncode == 1
    f = frames(proc.stderr)
    assert re.search(rf"<k_poke\+0x[0-9a-f]+, k\.c:{line_of(KERNEL, '*(volatile int *)p')}>$",
                     f[0]), proc.stderr
    assert re.search(rf"<deep:c3\+0x[0-9a-f]+, deep\.c:{line_of(DEEP, 'return k_poke')}> ",
                     f[1]), proc.stderr


def test_without_debug_files_reports_are_unchanged_and_cfi_is_what_unwinds(tmp_path):
    """The same code without -g: no lines, and prologue analysis stops at the VLA frame
    that the CFI unwound above (MIPS)."""
    kernel, module = build(tmp_path, "psx", debug=False)
    assert not list(tmp_path.glob("*.debug"))
    proc = call(kernel, module, "psx", "deep:c1(0)")
    err = proc.stderr
    assert ".c:" not in err and "backtrace (partial):" in err, err
    assert not any("deep:c1" in f for f in frames(err))


@pytest.mark.parametrize("target", ["psx", "gba"])
def test_timeout_names_the_line(tmp_path, target):
    kernel, module = build(tmp_path, target)
    proc = call(kernel, module, target, "deep:spin(1)", extra=("--max-instructions", "5000"))
    assert proc.returncode == 1
    loop = {line_of(DEEP, "while (x != 12345)"), line_of(DEEP, "x = x * 5")}
    m = re.search(r"stopped at pc 0x[0-9a-f]+ <deep:spin\+0x[0-9a-f]+, deep\.c:(\d+)>",
                  proc.stderr)
    assert m and int(m.group(1)) in loop, proc.stderr
