"""gamevm_build.emu.machine: real cross-compiled C run in the emulated console.

Each program is compiled with the target's profile flags, linked by the
target's GNU ld at ``profile.resident_base`` with a small generated linker
script, loaded with ``Machine.load_elf`` and called.  Results are checked
against the same C compiled natively with the host ``gcc`` or against values
computed in Python.
"""

from __future__ import annotations

import json
import re
import struct
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from gamevm_build.emu.machine import SCRATCH_SIZE, SENTINEL, Machine
from gamevm_build.emu.memory import tlb_entries
from gamevm_build.errors import EmulationError, EmulationFault, EmulationTimeout, InputError
from gamevm_build.link.toolchain import run

DISCARD = "*(.MIPS.abiflags) *(.reginfo) *(.pdr) *(.comment) *(.gnu.attributes) *(.note*)"

LINKER_SCRIPT = """\
ENTRY({entry})
SECTIONS
{{
  . = 0x{base:08x};
  .text : {{ *(.text .text.*) }}
  .rodata : {{ *(.rodata .rodata.*) }}
  .data : {{ *(.data .data.*) }}
  _gp = ALIGN(16) + 0x7ff0;
  .got : {{ *(.got) }}
  .bss : {{ *(.sbss .sbss.* .scommon .bss .bss.* COMMON) }}
  {extra}
  /DISCARD/ : {{ {discard} }}
}}
"""


def link(build, toolchain, profile, sources: dict[str, str], *, entry: str,
         libgcc: bool = False, extra: str = "", discard: str = DISCARD,
         name: str = "prog.elf", base: int | None = None) -> Path:
    """Compile ``sources`` and link them into a static ELF at ``base`` (default: the
    profile's resident base)."""
    objects = [build.obj(fname, text) for fname, text in sources.items()]
    base = profile.resident_base if base is None else base
    script = build.source(name + ".ld", LINKER_SCRIPT.format(
        entry=entry, base=base, extra=extra, discard=discard))
    out = build.tmp / name
    # Debian's libgcc is mips32r2 + abicalls: ld warns about the ABI on psx and
    # refuses to merge it with vr4300 objects unless told not to (its integer
    # helpers only use instructions both CPUs have).
    libs = ["--no-warn-mismatch", toolchain.libgcc()] if libgcc else []
    run([toolchain.ld, "-T", str(script), *map(str, objects), *libs, "-o", str(out)])
    return out


# --------------------------------------------------------------------------
# Several functions checked against the host compiler.

CALC_H = """\
int sum6(int a, int b, int c, int d, int e, int f);
int sum9(int a, int b, int c, int d, int e, int f, int g, int h, int i);
int pick9(int n, int a, int b, int c, int d, int e, int f, int g, int h, int i);
int fib(int n);
unsigned lcg_table(int n, unsigned seed);
int divmod(int a, int b);
int str_len(const char *s);
unsigned str_hash(const char *s);
unsigned mix64(unsigned hi, unsigned lo, unsigned k);
int sdiv64(int hi, unsigned lo, int d);
unsigned umod64(unsigned hi, unsigned lo, unsigned dhi, unsigned dlo);
"""

CALC_C = """\
#include "calc.h"

int sum6(int a, int b, int c, int d, int e, int f)
{ return a - 2 * b + 3 * c - 4 * d + 5 * e - 6 * f; }

int sum9(int a, int b, int c, int d, int e, int f, int g, int h, int i)
{ return a + 10 * b + 100 * c - d * e + f * g - h * i; }

int pick9(int n, int a, int b, int c, int d, int e, int f, int g, int h, int i)
{
    switch (n) {
    case 0: return a; case 1: return b; case 2: return c; case 3: return d;
    case 4: return e; case 5: return f; case 6: return g; case 7: return h;
    default: return i;
    }
}

int fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

static unsigned table[64];

unsigned lcg_table(int n, unsigned seed)
{
    unsigned h = 0;
    int i;
    for (i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        table[i & 63] ^= seed >> 3;
    }
    for (i = 0; i < 64; i++)
        h = ((h << 5) | (h >> 27)) ^ table[i];
    return h;
}

int divmod(int a, int b) { return a / b * 1000 + a % b; }

int str_len(const char *s) { int n = 0; while (s[n]) n++; return n; }

unsigned str_hash(const char *s)
{
    unsigned h = 5381;
    while (*s)
        h = (h * 33) ^ (unsigned char)*s++;
    return h;
}

unsigned mix64(unsigned hi, unsigned lo, unsigned k)
{
    unsigned long long x = ((unsigned long long)hi << 32) | lo;
    x *= 0x9E3779B97F4A7C15ull;
    x ^= x >> (k & 63);
    x /= 1000003u + k;
    return (unsigned)(x ^ (x >> 32));
}

int sdiv64(int hi, unsigned lo, int d)
{
    long long a = (long long)(((unsigned long long)(unsigned)hi << 32) | lo);
    long long q = a / d, r = a % d;
    return (int)(q ^ (q >> 32)) + (int)r;
}

unsigned umod64(unsigned hi, unsigned lo, unsigned dhi, unsigned dlo)
{
    unsigned long long a = ((unsigned long long)hi << 32) | lo;
    unsigned long long d = ((unsigned long long)dhi << 32) | dlo;
    unsigned long long r = a % d;
    return (unsigned)r ^ (unsigned)(r >> 32);
}
"""

CALLS = [
    ("sum6", (1, -2, 3, 4, -5, 6)),
    ("sum6", (-100000, 7, 2**31 - 1, -(2**31), 9, -1)),
    ("sum9", (1, 2, 3, 4, 5, 6, 7, 8, 9)),
    ("sum9", (-9, 8, -7, 6, -5, 4, -3, 2, -1)),
    *(("pick9", (n, 11, 22, 33, 44, 55, 66, 77, 88, -99)) for n in range(9)),
    ("fib", (0,)), ("fib", (1,)), ("fib", (20,)),
    ("lcg_table", (100, 1)), ("lcg_table", (1000, 0xDEADBEEF)),
    ("divmod", (1234567, 89)), ("divmod", (-1234567, 89)), ("divmod", (1234567, -89)),
    ("str_len", ("",)), ("str_len", ("hello, world",)),
    ("str_hash", ("GameVM",)), ("str_hash", ("a longer string, with punctuation!",)),
    ("mix64", (0x12345678, 0x9ABCDEF0, 7)), ("mix64", (0xFFFFFFFF, 0xFFFFFFFF, 63)),
    ("sdiv64", (-5, 0x89ABCDEF, 77)), ("sdiv64", (0x7FFF, 12345, -3)),
    ("umod64", (0xFFFFFFFF, 0x12345678, 0x1, 0x0000FFFF)),
    ("umod64", (0x00000123, 0x456789AB, 0x0, 0x00000007)),
]


def _c_literal(value) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    return f"({value})" if value < 0 else f"0x{value:x}u"


def host_results(tmp: Path) -> list[int]:
    """Run CALLS through the host gcc's build of CALC_C."""
    (tmp / "calc.h").write_text(CALC_H)
    (tmp / "calc_host.c").write_text(CALC_C)
    lines = [f'    printf("%u\\n", (unsigned){fn}({", ".join(map(_c_literal, args))}));'
             for fn, args in CALLS]
    (tmp / "main_host.c").write_text('#include <stdio.h>\n#include "calc.h"\n'
                                     "int main(void)\n{\n" + "\n".join(lines) + "\n    return 0;\n}\n")
    exe = tmp / "calc_host"
    subprocess.run(["gcc", "-O2", "-fwrapv", "-o", str(exe), str(tmp / "calc_host.c"),
                    str(tmp / "main_host.c")], check=True)
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout
    return [int(line) for line in out.split()]


def test_functions_match_host_gcc(build, toolchain, profile):
    build.source("calc.h", CALC_H)
    elf = link(build, toolchain, profile, {"calc.c": CALC_C}, entry="fib", libgcc=True)
    m = Machine(profile)
    syms = m.load_elf(elf)
    got = []
    for fn, args in CALLS:
        args = [m.alloc_string(a) if isinstance(a, str) else a for a in args]
        got.append(m.call(syms[fn], *args))
    expected = host_results(build.tmp)
    assert got == expected
    # Independent spot checks, and o32 stack arguments (a5..a9 live at sp+16..).
    assert m.call("fib", 20) == 6765
    assert m.call("sum6", 1, -2, 3, 4, -5, 6) == (1 + 4 + 9 - 16 - 25 - 36) & 0xFFFFFFFF
    assert [m.call("pick9", n, *range(100, 109)) for n in range(9)] == list(range(100, 109))


# --------------------------------------------------------------------------
# One program with small functions for the remaining behaviours.

MISC_C = """\
int counter;
int numbers[16] = { 3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3 };

void bump(int by) { counter += by; }
int get_counter(void) { return counter; }
int sum_numbers(void) { int s = 0, i; for (i = 0; i < 16; i++) s += numbers[i]; return s; }
void scale_numbers(int k) { int i; for (i = 0; i < 16; i++) numbers[i] *= k; }

void store_at(int *p, int v) { *p = v; }
int load_at(const int *p) { return *p; }
int call_ptr(int (*f)(int), int x) { return f(x) + 1; }
int negate(int x) { return -x; }
long long widen(int x) { return (long long)x * 3; }

void spin(void) { for (;;) { } }
void spin_write(volatile unsigned *p) { for (;;) (*p)++; }

unsigned mirror_word(volatile unsigned *a, volatile unsigned *b, unsigned v)
{ *a = v; return *b; }

int divide(int a, int b) { return a / b; }

int do_syscall(int x)
{
    register int a0 __asm__("$4") = x;
    register int v0 __asm__("$2");
    __asm__ volatile ("syscall 0x42" : "=r"(v0) : "r"(a0) : "memory");
    return v0;
}

int do_break(int x)
{
    register int a0 __asm__("$4") = x;
    register int v0 __asm__("$2");
    __asm__ volatile ("break 5" : "=r"(v0) : "r"(a0) : "memory");
    return v0;
}

int syscall_then_break(int x) { return do_break(do_syscall(x)) + 1; }

unsigned fpu_roundtrip(unsigned x)
{
    register unsigned a0 __asm__("$4") = x;
    register unsigned v0 __asm__("$2");
    /* mtc1 $a0, $f0; mfc1 $v0, $f0 -- as words: psx code is built -msoft-float */
    __asm__ volatile (".word 0x44840000\\n\\tnop\\n\\t.word 0x44020000\\n\\tnop"
                      : "=r"(v0) : "r"(a0));
    return v0;
}
"""

_ELF_CACHE: dict[tuple[str, str], Path] = {}


@pytest.fixture
def misc(target, toolchain, profile, tmp_path_factory) -> Path:
    """MISC_C linked for ``target`` (built once per target)."""
    key = (target, "misc")
    if key not in _ELF_CACHE:
        from conftest import Builder
        build = Builder(tmp_path_factory.mktemp(f"misc-{target}"), toolchain)
        _ELF_CACHE[key] = link(build, toolchain, profile, {"misc.c": MISC_C}, entry="bump")
    return _ELF_CACHE[key]


@pytest.fixture
def machine(profile, misc) -> Machine:
    m = Machine(profile)
    m.load_elf(misc)
    return m


def test_load_elf_returns_32bit_symbols(machine, misc, profile, toolchain):
    syms = machine.load_elf(misc)
    nm = run([toolchain.tool("nm"), str(misc)])
    for line in nm.splitlines():
        value, _kind, name = line.split()
        if name in ("bump", "counter", "numbers", "divide"):
            # nm may print sign-extended 64-bit values; load_elf masks them.
            assert syms[name] == int(value, 16) & 0xFFFFFFFF
    assert all(0 <= v <= 0xFFFFFFFF for v in syms.values())
    assert profile.main_ram.contains(syms["bump"])
    assert syms["_gp"] > syms["numbers"]


def test_state_persists_between_calls(machine):
    syms = machine.symbols
    machine.call("bump", 5)
    machine.call("bump", -2)
    assert machine.call("get_counter") == 3
    assert machine.read_u32(syms["counter"]) == 3
    assert machine.call("sum_numbers") == 80
    machine.call("scale_numbers", -3)
    assert machine.call("sum_numbers") == (-240) & 0xFFFFFFFF
    # The host sees what the guest wrote, and the guest what the host writes.
    assert machine.read_u32(syms["numbers"]) == (-9) & 0xFFFFFFFF
    machine.write_u32(syms["counter"], 1000)
    machine.call("bump", 1)
    assert machine.call("get_counter") == 1001


def test_negative_arguments_and_results(machine):
    assert machine.call("negate", 5) == 0xFFFFFFFB
    assert machine.call("negate", -(2**31)) == 0x80000000
    assert machine.call("negate", -7) == 7
    machine.call("widen", -5)
    # long long results come back in v0/v1 (high word first on big-endian).
    hi, lo = ("v0", "v1") if machine.profile.big_endian else ("v1", "v0")
    assert machine.reg(hi) << 32 | machine.reg(lo) == (-15) & (2**64 - 1)


def test_alloc_string_is_nul_terminated_in_scratch(machine):
    addr = machine.alloc_string("abc")
    assert machine.scratch_base <= addr < machine.scratch_end
    assert machine.read(addr, 4) == b"abc\0"
    assert machine.read_cstring(addr) == b"abc"
    second = machine.alloc_string(b"xy")
    assert second >= addr + 4 and machine.read_cstring(second) == b"xy"
    machine.reset_scratch()
    assert machine.alloc_string("z") == addr
    with pytest.raises(EmulationError, match="scratch area full"):
        machine.alloc(SCRATCH_SIZE + 1)


def test_kseg0_kseg1_and_profile_mirrors(machine, profile):
    ram = profile.main_ram
    base = ram.start + 0x1000                  # a page past the NULL guard in every view
    machine.write_u32(base, 0x11223344)
    for mirror in ram.mirrors:
        assert machine.read_u32(mirror + 0x1000) == 0x11223344
    # The guest CPU sees the same: write through kseg0, read through each mirror.
    for n, mirror in enumerate(ram.mirrors):
        assert machine.call("mirror_word", base, mirror + 0x1000, 0xCAFE0000 + n) == 0xCAFE0000 + n
        machine.write_u32(mirror + 0x1000, 0xBEEF0000 + n)
        assert machine.read_u32(base) == 0xBEEF0000 + n
    assert machine.read(base, 4) == machine.read(ram.start + 0x20001000 - 0x20000000, 4)


def test_byte_order_follows_profile(machine, profile):
    machine.write_u32(profile.main_ram.start + 0x2000, 0x01020304)
    expected = b"\x01\x02\x03\x04" if profile.big_endian else b"\x04\x03\x02\x01"
    assert machine.read(profile.main_ram.start + 0x2000, 4) == expected


def test_scratchpad_is_mapped_when_profile_has_one(machine, profile):
    for region in profile.ram[1:]:
        machine.write_u32(region.start, 0x5A5A5A5A)
        assert machine.call("load_at", region.start) == 0x5A5A5A5A


def test_timeout_on_endless_loop(machine):
    with pytest.raises(EmulationTimeout) as info:
        machine.call("spin", max_instructions=200_000)
    err = info.value
    assert err.budget == 200_000 and err.function == machine.symbols["spin"]
    assert "spin" in str(err) and "200000" in str(err)
    # The machine is still usable afterwards.
    machine.call("bump", 2)
    assert machine.call("get_counter") == 2


def test_default_budget_stops_an_endless_loop(machine):
    """The default budget stops a call after that many instructions (how long that takes
    on this machine is bench/bench_emulator.py's business, not a test's)."""
    cell = machine.alloc(4)
    before = machine.instructions
    with pytest.raises(EmulationTimeout):
        machine.call("spin_write", cell)
    assert machine.instructions - before <= machine.default_budget + 64
    assert 0 < machine.read_u32(cell) < machine.default_budget


def test_null_pointer_write_faults(machine, profile):
    machine.write_u32(profile.main_ram.start, 0x1234)        # physical 0, under kuseg NULL
    with pytest.raises(EmulationFault) as info:
        machine.call("store_at", 0, 123)
    assert machine.read_u32(profile.main_ram.start) == 0x1234
    report = info.value.report
    assert (report.access, report.address, report.cause) == ("write", 0, "unmapped address")
    assert report.pc_symbol.startswith("store_at")
    assert report.ra == SENTINEL and report.ra_symbol == "return to host"
    assert "store_at" in str(info.value) and "write" in str(info.value)
    # Read of a small offset from NULL: exact address, not just the page.
    with pytest.raises(EmulationFault) as info:
        machine.call("load_at", 0x10)
    assert (info.value.report.access, info.value.report.address) == ("read", 0x10)
    # The host may still use a RAM view that covers the guard (the PS1 kuseg mirror).
    if machine.space.view_for(0):
        machine.write_u32(0, 0x4321)
        assert machine.read_u32(profile.main_ram.start) == 0x4321
    assert machine.call("negate", 1) == 0xFFFFFFFF


def test_jump_to_unmapped_address_faults(machine, profile):
    # kuseg without a view, the NULL guard, kseg2 (no TLB entries), kseg0 past RAM.
    for target in (0x10000000, 0, 0x40, 0xC0000000, profile.main_ram.end):
        with pytest.raises(EmulationFault) as info:
            machine.call("call_ptr", target, 1)
        report = info.value.report
        assert (report.access, report.address, report.pc) == ("fetch", target, target)
        assert report.ra_symbol.startswith("call_ptr+")        # jalr came from call_ptr
        assert report.block_symbol.startswith("call_ptr")
        assert f"0x{target:08x}" in str(report)
        # A failed fetch used to leave unicorn unable to translate new code.
        assert machine.call("negate", 4) == (-4) & 0xFFFFFFFF
        assert machine.call("sum_numbers") == 80


def test_ram_aliases_the_profile_does_not_list_fault(machine, profile):
    ram = profile.main_ram
    kuseg = ram.physical + 0x2000          # the CPU reaches RAM 1:1 in kuseg
    machine.write_u32(ram.start + 0x2000, 0x600D)
    if any(view.start == ram.physical for view in machine.space.views):
        assert machine.call("load_at", kuseg) == 0x600D          # psx: a listed mirror
        return
    with pytest.raises(EmulationFault) as info:
        machine.call("store_at", kuseg, 0xBAD)
    report = info.value.report
    assert (report.access, report.address) == ("write", kuseg)
    assert machine.read_u32(ram.start + 0x2000) == 0x600D        # the store was undone
    with pytest.raises(EmulationFault):
        machine.call("load_at", kuseg)


def test_kseg2_data_access_faults(machine):
    for fn, args, access in (("load_at", (0xC0001234,), "read"), ("store_at", (0xE0000010, 1), "write")):
        with pytest.raises(EmulationFault) as info:
            machine.call(fn, *args)
        report = info.value.report
        assert (report.cause, report.access, report.address) == ("unmapped address", access, args[0])
        assert report.pc_symbol.startswith(fn)
    assert machine.call("negate", 1) == 0xFFFFFFFF


def test_access_beyond_ram_faults(machine, profile):
    end = profile.main_ram.start + profile.main_ram.size
    with pytest.raises(EmulationFault) as info:
        machine.call("load_at", end + 8)
    assert (info.value.report.access, info.value.report.address) == ("read", end + 8)
    with pytest.raises(EmulationError):
        machine.read(end - 2, 4)


def test_trap_handlers_get_kind_and_code_and_resume(machine):
    seen = []

    @machine.on_trap
    def handler(m, kind, code):
        seen.append((kind, code))
        a0 = m.reg("a0")
        m.set_reg("v0", a0 * 3 + 1 if kind == "syscall" else a0 - 7)

    assert machine.call("do_syscall", 10) == 31
    assert machine.call("do_break", 10) == 3
    # break after a syscall: unicorn's stale pc for break must not matter.
    assert machine.call("syscall_then_break", 10) == 31 - 7 + 1
    assert machine.call("syscall_then_break", 2) == 7 - 7 + 1
    assert seen == [("syscall", 0x42), ("break", 5 << 10)] + [("syscall", 0x42), ("break", 5 << 10)] * 2


def test_trap_handler_may_decline_or_raise(machine):
    machine.on_trap(lambda m, kind, code: NotImplemented if kind == "break" else None)
    machine.set_reg("v0", 0)
    machine.call("do_syscall", 1)
    with pytest.raises(EmulationFault) as info:
        machine.call("do_break", 1)
    report = info.value.report
    assert report.cause == "break" and "break 5" in report.detail
    assert report.pc_exact and report.pc_symbol.startswith("do_break")

    class Stop(Exception):
        pass

    def raiser(m, kind, code):
        raise Stop(kind)

    other = Machine(machine.profile)
    other.load_elf(_ELF_CACHE[(machine.profile.name, "misc")])
    other.on_trap(raiser)
    with pytest.raises(Stop):
        other.call("do_syscall", 1)
    assert other.call("negate", 3) == 0xFFFFFFFD


def test_unhandled_trap_is_a_fault(machine):
    with pytest.raises(EmulationFault) as info:
        machine.call("do_syscall", 1)
    report = info.value.report
    assert report.cause == "syscall" and report.detail.startswith("syscall 0x42")
    assert report.pc == machine.symbols["do_syscall"] + report.pc - machine.symbols["do_syscall"]
    assert machine.read_u32(report.pc) & 0xFC00003F == 0x0C      # pc is the syscall itself
    assert report.pc_symbol.startswith("do_syscall")


def test_division_by_zero_is_reported_in_the_dividing_function(machine):
    assert machine.call("divide", -100, 7) == (-14) & 0xFFFFFFFF
    with pytest.raises(EmulationFault) as info:
        machine.call("divide", 1, 0)
    report = info.value.report
    # MIPS I (psx) checks with `break 7`, MIPS II+ (n64) with `teq ..., 7`.
    if report.cause == "break":
        assert report.pc_exact and report.detail.startswith("break 7")
    else:
        assert report.cause == "conditional trap"
        assert machine.read_u32(report.pc) & 0xFC00FFFF == 0x000001F4    # teq rs, zero, 7
    assert report.pc_symbol.startswith("divide")


def test_unaligned_access_reports_address_and_pc(machine, profile):
    cell = profile.main_ram.start + 0x3002
    with pytest.raises(EmulationFault) as info:
        machine.call("load_at", cell)
    report = info.value.report
    assert (report.cause, report.access, report.address) == ("unaligned address", "read", cell)
    assert report.pc_symbol.startswith("load_at")
    with pytest.raises(EmulationFault) as info:
        machine.call("store_at", cell + 1, 5)
    report = info.value.report
    assert (report.cause, report.access, report.address) == ("unaligned address", "write", cell + 1)
    assert report.pc_symbol.startswith("store_at")


def test_fpu_follows_the_profile_float_abi(machine, profile):
    if profile.float_abi == "hard":
        assert machine.call("fpu_roundtrip", 0x3F800000) == 0x3F800000
    else:
        with pytest.raises(EmulationFault) as info:
            machine.call("fpu_roundtrip", 0x3F800000)
        report = info.value.report
        assert report.cause == "coprocessor unusable" and report.pc_exact
        assert report.pc_symbol.startswith("fpu_roundtrip")


FLOAT_C = """\
unsigned scale_bits(unsigned bits, int k)
{
    union { unsigned u; float f; } x;
    x.u = bits;
    x.f = x.f * (float)k + 0.5f;
    return x.u;
}
"""


def test_hard_float_c_code(build, toolchain, profile):
    if profile.float_abi != "hard":
        pytest.skip("soft-float target: Debian's libgcc has no soft-float helpers")
    elf = link(build, toolchain, profile, {"f.c": FLOAT_C}, entry="scale_bits")
    m = Machine(profile)
    m.load_elf(elf)
    for value, k in ((1.5, 3), (-2.25, -7), (1e10, 1000)):
        bits = struct.unpack("<I", struct.pack("<f", value))[0]
        expected = struct.unpack("<f", struct.pack("<f", value * k))[0]
        expected = struct.unpack("<I", struct.pack("<f", expected + 0.5))[0]
        assert m.call("scale_bits", bits, k) == expected


def test_segments_outside_ram_are_skipped(build, toolchain, profile):
    # Keep .MIPS.abiflags, in its own segment at 0x00400000 as binutils places it.
    elf = link(build, toolchain, profile, {"m.c": MISC_C}, entry="bump",
               extra=".MIPS.abiflags 0x00400000 : { *(.MIPS.abiflags) }",
               discard=DISCARD.replace("*(.MIPS.abiflags) ", ""))
    headers = run([toolchain.readelf, "-lW", str(elf)])
    assert "0x00400000" in headers
    m = Machine(profile)
    m.load_elf(elf)
    assert m.call("negate", 9) == (-9) & 0xFFFFFFFF


def test_program_segment_outside_ram_is_an_error(build, toolchain, profile):
    base = 0x10000000                           # no console has memory there
    elf = link(build, toolchain, profile, {"m.c": MISC_C}, entry="bump", base=base)
    with pytest.raises(EmulationError) as info:
        Machine(profile).load_elf(elf)
    message = str(info.value)
    assert re.search(r"segment 0x10000000\.\.0x[0-9a-f]{8} \(R.X: \.text", message), message
    assert f"lies outside the RAM of target '{profile.name}'" in message
    for region in profile.ram:
        assert f"{region.name} 0x{region.start:08x}..0x{region.end:08x}" in message
    assert f"memory.resident_base 0x{profile.resident_base:08x}" in message
    assert f"gamevm_build/profiles/{profile.name}.toml" in message


def test_segment_running_into_ram_says_where_it_starts(build, toolchain, profile):
    ram = profile.main_ram
    elf = link(build, toolchain, profile, {"m.c": MISC_C}, entry="bump", base=ram.start - 0x100)
    with pytest.raises(EmulationError,
                       match=f"starts before RAM region '{ram.name}' at 0x{ram.start:08x} "
                             r"\(0x[0-9a-f]+ bytes too low\)"):
        Machine(profile).load_elf(elf)


def test_segment_running_off_the_end_of_ram(build, toolchain, profile):
    ram = profile.main_ram
    elf = link(build, toolchain, profile, {"m.c": MISC_C}, entry="bump", base=ram.end - 0x20)
    with pytest.raises(EmulationError,
                       match=f"extends past the end of RAM region '{ram.name}' "
                             f"0x{ram.start:08x}..0x{ram.end:08x} by 0x"):
        Machine(profile).load_elf(elf)


def test_load_elf_rejects_objects(build, profile):
    obj = build.obj("x.c", "int x(void) { return 1; }\n")
    with pytest.raises(InputError, match="not a linked executable"):
        Machine(profile).load_elf(obj)


def test_machine_from_profile_fields(profile):
    m = Machine(profile.name)
    assert m.profile == profile
    assert m.stack_top % 8 == 0 and m.stack_top <= profile.stack_top
    assert m.scratch_end <= m.stack_top - 0x1000 and profile.main_ram.contains(m.scratch_base)
    with pytest.raises(EmulationError):
        m.call("no_such_function")
    for region in profile.ram:
        beyond = region.start + region.size
        with pytest.raises(EmulationError):
            m.read(beyond, 4)
        if region.expansion_size:
            big = Machine(profile, expansion=True)
            big.write_u32(beyond, 0xE0E0)
            assert big.read_u32(region.start + region.expansion_size - 4) == 0
            assert big.read_u32(beyond) == 0xE0E0


def test_without_block_tracking(profile, misc):
    m = Machine(profile, track_blocks=False)
    m.load_elf(misc)
    assert m.call("negate", 5) == 0xFFFFFFFB
    m.on_trap(lambda mm, kind, code: mm.set_reg("v0", 77))
    assert m.call("do_syscall", 1) == 77                  # syscall pcs need no tracking
    with pytest.raises(EmulationFault) as info:
        m.call("do_break", 1)                             # break pcs do
    assert info.value.report.pc is None and "track_blocks" in str(info.value)
    with pytest.raises(EmulationFault):
        m.call("store_at", 0, 1)
    assert m.call("negate", 6) == 0xFFFFFFFA


def test_custom_symbolizer(machine):
    machine.symbolizer = lambda addr: f"fn@{addr:x}"
    with pytest.raises(EmulationFault) as info:
        machine.call("store_at", 0, 1)
    assert info.value.report.pc_symbol == f"fn@{info.value.report.pc:x}"
    machine.symbolizer = None
    with pytest.raises(EmulationFault) as info:
        machine.call("store_at", 0, 1)
    assert info.value.report.pc_symbol is None


def test_rewritten_code_is_retranslated(profile):
    m = Machine(profile)
    base = profile.main_ram.start + 0x40000
    alias = next(v for v in profile.main_ram.mirrors if v >= 0x80000000) + 0x40000

    def li_v0_and_return(value):        # jr ra; addiu v0, zero, value (in the delay slot)
        return b"".join(w.to_bytes(4, profile.byteorder) for w in (0x03E00008, 0x24020000 | value))

    for n, entry in enumerate((base, alias, base, alias), start=1):
        m.write(base, li_v0_and_return(n))
        assert m.call(entry) == n


@given(st.integers(0, 0x3FF), st.integers(1, 0x400))
def test_tlb_entries_cover_a_range_exactly_without_overlap(first_page, pages):
    start, end = first_page * 0x1000, (first_page + pages) * 0x1000
    mapped = []
    for e in tlb_entries(start, end):
        assert e.vpn2 % (2 * e.page) == 0
        for half, phys in ((0, e.even), (1, e.odd)):
            if phys is not None:
                vaddr = e.vpn2 + half * e.page
                assert phys == vaddr
                mapped += range(vaddr, vaddr + e.page, 0x1000)
    assert sorted(mapped) == list(range(start, end, 0x1000))
    spans = sorted((e.vpn2, e.vpn2 + 2 * e.page) for e in tlb_entries(start, end))
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))
