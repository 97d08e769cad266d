"""The emulator on the 68000 and ARM consoles: gamevm.h traps, CPU faults, freed memory,
unaligned accesses as the real CPUs make them, the stack guard (on every console), and the
blocks the machine remembers: counts of rewritten code, and execution guards (on every console).

Runs real cross-compiled code on unicorn's CPU models through the loader (the
quirks each family's :class:`gamevm_build.emu.cpu.Cpu` works around are in
``gamevm_build/emu/m68k.py`` and ``gamevm_build/emu/arm.py``).
"""

from __future__ import annotations

import pytest

from conftest import ALL_TARGETS, NEW_TARGETS, Builder, run_gamevm
from gamevm_build.play.console import Console
from gamevm_build.emu.elfimage import BARE_METAL_SCRIPT
from gamevm_build.emu.machine import Machine
from gamevm_build.errors import EmulationFault, EmulationTimeout
from gamevm_build.project.profile import load_profile
from gamevm_build.link.toolchain import find_toolchain, run

MODULE = r"""
#include "gamevm.h"
static int ready;
__attribute__((constructor)) static void init(void) { ready = 41; }
int hello(void) { GameVMPrint("hello from the module"); return ready + 1; }
int nested(void) {
    TLoadStatus st = lsSuccess;
    TModuleHandle h = LoadModuleEx("missing", &st);
    return h == 0 ? (int)st : -1;
}
int wild(int *p) { return *p; }
"""
KERNEL = "int k_unused;\nvoid _start(void) {}\n"
#: an instruction every console's CPU refuses, as hand-assembled data in .text
BAD = {"segacd": ".short 0x4afc", "gba": ".word 0xe7f000f0", "3do": ".word 0xe7f000f0"}
BAD_CAUSE = {"segacd": "illegal instruction", "gba": "undefined instruction",
             "3do": "undefined instruction"}


@pytest.fixture(params=NEW_TARGETS)
def console(request, tmp_path):
    target = request.param
    b = Builder(tmp_path, find_toolchain(target))
    flags = ["-mthumb"] if target == "gba" else []          # gamevm.h traps from Thumb code
    src = b.source("mod.c", MODULE)
    bad = b.source("bad.s", f"        .text\n        .global bad\nbad:    {BAD[target]}\n")
    for args in (["module", "-t", target, "-o", tmp_path / "mod.elf", src, bad,
                  *(f"--cflags={f}" for f in flags)],
                 ["resident", "-t", target, "-o", tmp_path / "kernel.elf",
                  "--modules", tmp_path / "mod.elf", b.source("kernel.c", KERNEL)]):
        proc = run_gamevm(*args)
        assert proc.returncode == 0, proc.stderr
    c = Console(target, tmp_path / "kernel.elf", search_paths=[tmp_path])
    return target, c, c.loader.load("mod")


def test_trap_constructor_and_print(console):
    target, c, lm = console
    assert c.machine.call(lm.symbols["hello"]) == 42          # the constructor ran on the CPU
    assert "hello from the module" in c.output


def test_trap_returns_status_through_pointer(console):
    target, c, lm = console
    assert c.machine.call(lm.symbols["nested"]) == 1           # lsFileNotFound, written by the trap


def test_undefined_instruction_fault(console):
    target, c, lm = console
    with pytest.raises(EmulationFault) as exc:
        c.machine.call(lm.symbols["bad"])
    report = exc.value.report
    assert report.cause == BAD_CAUSE[target] and report.pc == lm.symbols["bad"]
    assert "bad" in (report.pc_symbol or "")


def test_wild_pointer_names_address_and_function(console):
    target, c, lm = console
    with pytest.raises(EmulationFault) as exc:
        c.machine.call(lm.symbols["wild"], 0x10000000)
    r = exc.value.report
    assert (r.cause, r.access, r.address) == ("unmapped address", "read", 0x10000000)
    assert (r.pc_symbol or "").startswith("mod:wild") or "wild" in (r.pc_symbol or "")


def test_call_into_unloaded_module_faults(console):
    target, c, lm = console
    hello = lm.symbols["hello"]
    c.loader.unload(lm.handle)
    with pytest.raises(EmulationFault) as exc:
        c.machine.call(hello)
    assert "not executable" in str(exc.value) or "unloaded" in str(exc.value)


# ----------------------------------------------------------------------------------------
# Unaligned accesses as the real CPUs make them, and the stack guard.  Programs are linked
# at the profile's resident base and loaded into a bare Machine.

#: bytes every unaligned test reads from (an 8-aligned scratch buffer)
PATTERN = bytes(range(0x30, 0x70))


def machine_with(tmp_path, target: str, sources: dict[str, str]) -> Machine:
    b = Builder(tmp_path, find_toolchain(target))
    profile = load_profile(target)
    objects = [b.obj(name, text) for name, text in sources.items()]
    script = b.source("prog.ld", BARE_METAL_SCRIPT.format(base=profile.resident_base))
    out = tmp_path / "prog.elf"
    endian = ["-EB"] if profile.big_endian and profile.arch == "arm" else []
    run([b.tc.ld, *endian, "-T", str(script), *map(str, objects), "-o", str(out)])
    m = Machine(profile)
    m.load_elf(out)
    return m


def pattern_buffer(m: Machine) -> int:
    buf = m.alloc(len(PATTERN), align=8)
    m.write(buf, PATTERN)
    return buf


# The rules of ARM DUI 0068B / GBATEK, written out independently of gamevm_build.emu.armalign.
def ror32(value: int, bits: int) -> int:
    bits %= 32
    return ((value >> bits) | (value << (32 - bits))) & 0xFFFFFFFF


def model_ldr(mem: bytes, off: int, order: str) -> int:
    """LDR: the word at off & ~3, rotated right by 8 * (off & 3)."""
    base = off & ~3
    return ror32(int.from_bytes(mem[base:base + 4], order), 8 * (off & 3))


def model_ldrh(mem: bytes, off: int, order: str) -> int:
    """ARMv4 LDRH: at an odd address, LDRH [off-1] ROR 8 (a 32-bit rotate)."""
    base = off & ~1
    return ror32(int.from_bytes(mem[base:base + 2], order), 8 * (off & 1))


def model_ldrsh(mem: bytes, off: int, order: str) -> int:
    """ARMv4 LDRSH: at an odd address, LDRSB [off]."""
    if off & 1:
        return (mem[off] ^ 0x80) - 0x80 & 0xFFFFFFFF
    value = int.from_bytes(mem[off:off + 2], order)
    return (value ^ 0x8000) - 0x8000 & 0xFFFFFFFF


def model_store(mem: bytes, off: int, value: int, size: int, order: str) -> bytes:
    """STR/STRH: the low address bits are ignored."""
    out = bytearray(mem)
    base = off & -size
    out[base:base + size] = (value & ((1 << 8 * size) - 1)).to_bytes(size, order)
    return bytes(out)


M68K_C = r"""
int read_word(const char *p) { return *(const short *)p; }
int read_long(const char *p) { return *(const int *)p; }
void write_word(char *p, int v) { *(short *)p = v; }
void write_long(char *p, int v) { *(int *)p = v; }
int ret_7(void) { return 7; }
int call_ptr(int (*f)(void)) { return f() + 1; }
"""


@pytest.mark.parametrize("fn, access, size", [("read_word", "read", 2), ("read_long", "read", 4),
                                              ("write_word", "write", 2),
                                              ("write_long", "write", 4)])
def test_68000_odd_word_and_long_access_is_an_address_error(tmp_path, fn, access, size):
    m = machine_with(tmp_path, "segacd", {"m.c": M68K_C})
    buf = pattern_buffer(m)
    with pytest.raises(EmulationFault) as exc:
        m.call(fn, buf + 5, 0x1234567)
    r = exc.value.report
    assert (r.cause, r.access, r.address, r.size) == ("address error", access, buf + 5, size)
    assert r.pc_symbol.startswith(fn) and r.function_symbol == fn
    assert "packed struct" in r.detail and "pointer cast" in r.detail
    assert m.read(buf, len(PATTERN)) == PATTERN              # the 68000 aborts the bus cycle
    # what the 68000 allows: words and longs at any even address
    assert m.call("read_long", buf + 2) == int.from_bytes(PATTERN[2:6], "big")
    m.call("write_long", buf + 6, 0x01020304)
    assert m.read(buf + 6, 4) == bytes([1, 2, 3, 4])


def test_68000_jump_to_odd_address_is_an_address_error(tmp_path):
    m = machine_with(tmp_path, "segacd", {"m.c": M68K_C})
    assert m.call("call_ptr", m.symbols["ret_7"]) == 8
    with pytest.raises(EmulationFault) as exc:
        m.call("call_ptr", m.symbols["ret_7"] + 1)
    r = exc.value.report
    assert (r.cause, r.access, r.address) == ("address error", "fetch", m.symbols["ret_7"] + 1)
    assert r.block_symbol.startswith("call_ptr") and "function pointer" in r.detail


ARM_ASM = r"""
        .text
        .arm
        .macro fn name
        .global \name
        .type \name, %function
\name:
        .endm
        fn ldr_plain                    @ (p) -> [p]
        ldr r0, [r0]
        mov pc, lr
        fn ldr_pre_wb                   @ (p, out): out = {p + 1, [p + 1]!}
        ldr r2, [r0, #1]!
        stmia r1, {r0, r2}
        mov pc, lr
        fn ldr_post                     @ (p, out): out = {p - 3, [p], #-3}
        ldr r2, [r0], #-3
        stmia r1, {r0, r2}
        mov pc, lr
        fn ldr_reg_wb                   @ (p, out, k): out = {p + 2k, [p, k, lsl #1]!}
        ldr r3, [r0, r2, lsl #1]!
        stmia r1, {r0, r3}
        mov pc, lr
        fn ldr_lsr                      @ (p, k) -> [p + (k lsr #2)]
        ldr r0, [r0, r1, lsr #2]
        mov pc, lr
        fn ldr_sub_asr                  @ (p, k) -> [p - (k asr #1)]
        ldr r0, [r0, -r1, asr #1]
        mov pc, lr
        fn ldr_ror                      @ (p, k) -> [p + (k ror #4)]
        ldr r0, [r0, r1, ror #4]
        mov pc, lr
        fn ldr_rrx                      @ (p, k) -> [p + (k rrx)], carry clear
        adds r2, r1, #0
        ldr r0, [r0, r1, rrx]
        mov pc, lr
        fn ldr_pc                       @ (p): jumps where the rotated word points
        ldr pc, [r0]
        fn ret_42
        mov r0, #42
        mov pc, lr
        fn str_post                     @ (p, v): str v, [p], #4 -> p + 4
        str r1, [r0], #4
        mov pc, lr
        fn ldm_wb                       @ (p, out): out = {p + 8, the two words}
        ldmia r0!, {r2, r3}
        stmia r1, {r0, r2, r3}
        mov pc, lr
        fn stmdb_wb                     @ (p, a, b): stmdb p!, {a, b} -> p - 8
        stmdb r0!, {r1, r2}
        mov pc, lr
        fn swp_at                       @ (p, v): swp -> the old value
        swp r2, r1, [r0]
        mov r0, r2
        mov pc, lr
        fn ldr_forever
1:      ldr r1, [r0]
        b 1b
"""

GBA_ASM = r"""
        .text
        .macro fn name
        .global \name
        .type \name, %function
\name:
        .endm
        .macro tfn name
        .global \name
        .thumb_func
\name:
        .endm
        .arm
        fn ldrh_at
        ldrh r0, [r0]
        bx lr
        fn ldrsh_at
        ldrsh r0, [r0]
        bx lr
        fn strh_at
        strh r1, [r0]
        bx lr
        fn ldrh_post                    @ (p, out): out = {p + 2, [p], #2}
        ldrh r2, [r0], #2
        stmia r1, {r0, r2}
        bx lr
        .thumb
        tfn t_ldr                       @ (p) -> [p + 4]
        ldr r0, [r0, #4]
        bx lr
        tfn t_ldr_reg                   @ (p, k) -> [p + k]
        ldr r0, [r0, r1]
        bx lr
        tfn t_ldr_sp                    @ (p) -> [sp + 4] with sp = p
        mov r3, sp
        mov sp, r0
        ldr r0, [sp, #4]
        mov sp, r3
        bx lr
        tfn t_ldrh                      @ (p) -> [p + 2]
        ldrh r0, [r0, #2]
        bx lr
        tfn t_ldrsh                     @ (p, k) -> [p + k]
        ldrsh r0, [r0, r1]
        bx lr
        tfn t_str                       @ (p, v): [p + 4] = v
        str r1, [r0, #4]
        bx lr
        tfn t_strh                      @ (p, v): [p] = v
        strh r1, [r0, #0]
        bx lr
        tfn t_ldmia                     @ (p, out): out = {p + 8, the two words}
        ldmia r0!, {r2, r3}
        stmia r1!, {r0, r2, r3}
        bx lr
        tfn t_stmia                     @ (p, a, b) -> p + 8
        stmia r0!, {r1, r2}
        bx lr
        tfn t_pop                       @ (p, out): out = {the two words}, -> p + 8
        mov r3, sp
        mov sp, r0
        pop {r0, r2}
        stmia r1!, {r0, r2}
        mov r0, sp
        mov sp, r3
        bx lr
        tfn t_push                      @ (p, a, b) -> p - 8
        mov r3, sp
        mov sp, r0
        push {r1, r2}
        mov r0, sp
        mov sp, r3
        bx lr
"""


@pytest.fixture(params=["gba", "3do"])
def arm(request, tmp_path):
    target = request.param
    sources = {"a.s": ARM_ASM} | ({"g.s": GBA_ASM} if target == "gba" else {})
    m = machine_with(tmp_path, target, sources)
    return m, pattern_buffer(m), m.profile.byteorder


def words(m: Machine, addr: int, n: int) -> list[int]:
    return [m.read_u32(addr + 4 * i) for i in range(n)]


def test_arm_unaligned_ldr_returns_the_rotated_word(arm):
    m, buf, order = arm
    for off in range(8, 12):
        got = m.call("ldr_plain", buf + off)
        assert got == model_ldr(PATTERN, off, order)
        assert m.unaligned_accesses == off - 8           # counted, never reported
        addressed = PATTERN[off]
        if order == "big":        # BE32: bits 31:24 when address bit 0 is clear, else 15:8
            assert got >> (8 if off & 1 else 24) & 0xFF == addressed
        else:
            assert got & 0xFF == addressed


def test_arm_unaligned_loads_in_every_addressing_mode(arm):
    m, buf, order = arm
    out = m.alloc(16)
    m.call("ldr_pre_wb", buf + 4, out)
    assert words(m, out, 2) == [buf + 5, model_ldr(PATTERN, 5, order)]
    m.call("ldr_post", buf + 9, out)
    assert words(m, out, 2) == [buf + 6, model_ldr(PATTERN, 9, order)]
    m.call("ldr_reg_wb", buf + 1, out, 3)
    assert words(m, out, 2) == [buf + 7, model_ldr(PATTERN, 7, order)]
    m.call("ldm_wb", buf + 10, out)          # LDM ignores the low bits, writeback keeps them
    assert words(m, out, 3) == [buf + 18, model_ldr(PATTERN, 8, order),
                                model_ldr(PATTERN, 12, order)]


def test_arm_unaligned_loads_with_shifted_register_offsets(arm):
    m, buf, order = arm
    assert m.call("ldr_lsr", buf + 1, 4 * 6) == model_ldr(PATTERN, 7, order)
    assert m.call("ldr_sub_asr", buf + 20, 2 * 7) == model_ldr(PATTERN, 13, order)
    assert m.call("ldr_ror", buf, 0x50) == model_ldr(PATTERN, 5, order)
    assert m.call("ldr_rrx", buf + 1, 2 * 5) == model_ldr(PATTERN, 6, order)


def test_arm_unaligned_load_into_pc_jumps_to_the_rotated_word(arm):
    m, buf, order = arm
    target = m.symbols["ret_42"]
    m.write(buf + 16, ror32(target, 32 - 8 * 3).to_bytes(4, order))  # rotates back to target
    assert m.call("ldr_pc", buf + 19) == 42


def test_arm_unaligned_stores_ignore_the_low_bits(arm):
    m, buf, order = arm
    assert m.call("str_post", buf + 6, 0xA1B2C3D4) == buf + 10
    expected = model_store(PATTERN, 6, 0xA1B2C3D4, 4, order)
    assert m.read(buf, len(PATTERN)) == expected
    assert m.call("stmdb_wb", buf + 19, 0x11111111, 0x22222222) == buf + 11
    expected = model_store(model_store(expected, 8, 0x11111111, 4, order), 12, 0x22222222, 4, order)
    assert m.read(buf, len(PATTERN)) == expected


def test_arm_unaligned_swp_reads_rotated_and_stores_aligned(arm):
    m, buf, order = arm
    assert m.call("swp_at", buf + 13, 0xCAFEF00D) == model_ldr(PATTERN, 13, order)
    assert m.read(buf, len(PATTERN)) == model_store(PATTERN, 13, 0xCAFEF00D, 4, order)


def test_arm_unaligned_loads_count_against_the_budget(arm):
    m, buf, _ = arm
    with pytest.raises(EmulationTimeout):
        m.call("ldr_forever", buf + 1, max_instructions=1000)
    assert m.call("ldr_plain", buf + 1) == model_ldr(PATTERN, 1, m.profile.byteorder)


def gba(tmp_path) -> tuple[Machine, int]:
    m = machine_with(tmp_path, "gba", {"a.s": ARM_ASM, "g.s": GBA_ASM})
    return m, pattern_buffer(m)


def test_gba_odd_halfword_loads_and_stores(tmp_path):
    m, buf = gba(tmp_path)
    for off in (20, 21, 22, 23):
        assert m.call("ldrh_at", buf + off) == model_ldrh(PATTERN, off, "little")
        assert m.call("ldrsh_at", buf + off) == model_ldrsh(PATTERN, off, "little")
    assert m.call("ldrh_at", buf + 0x3F) == 0x6E00006F     # bytes 6e 6f: a 32-bit rotate
    out = m.alloc(8)
    m.call("ldrh_post", buf + 3, out)
    assert words(m, out, 2) == [buf + 5, model_ldrh(PATTERN, 3, "little")]
    m.call("strh_at", buf + 9, 0xBEEF)
    assert m.read(buf, len(PATTERN)) == model_store(PATTERN, 9, 0xBEEF, 2, "little")


def test_gba_thumb_unaligned_transfers(tmp_path):
    m, buf = gba(tmp_path)
    mem = PATTERN
    assert m.call("t_ldr", buf + 1) == model_ldr(mem, 5, "little")
    assert m.call("t_ldr_reg", buf + 2, 5) == model_ldr(mem, 7, "little")
    assert m.call("t_ldr_sp", buf + 2) == model_ldr(mem, 6, "little")
    assert m.call("t_ldrh", buf + 1) == model_ldrh(mem, 3, "little")
    assert m.call("t_ldrsh", buf, 0x3F) == model_ldrsh(mem, 0x3F, "little")
    out = m.alloc(12)
    m.call("t_ldmia", buf + 3, out)
    assert words(m, out, 3) == [buf + 11, model_ldr(mem, 0, "little"), model_ldr(mem, 4, "little")]
    assert m.call("t_pop", buf + 14, out) == buf + 22
    assert words(m, out, 2) == [model_ldr(mem, 12, "little"), model_ldr(mem, 16, "little")]
    m.call("t_str", buf + 2, 0x01020304)
    mem = model_store(mem, 6, 0x01020304, 4, "little")
    m.call("t_strh", buf + 11, 0x0506)
    mem = model_store(mem, 11, 0x0506, 2, "little")
    assert m.call("t_stmia", buf + 21, 0x0A0A0A0A, 0x0B0B0B0B) == buf + 29
    mem = model_store(model_store(mem, 20, 0x0A0A0A0A, 4, "little"), 24, 0x0B0B0B0B, 4, "little")
    assert m.call("t_push", buf + 0x2E, 0x0C0C0C0C, 0x0D0D0D0D) == buf + 0x26
    mem = model_store(mem, 0x24, 0x0C0C0C0C, 4, "little")
    mem = model_store(mem, 0x28, 0x0D0D0D0D, 4, "little")
    assert m.read(buf, len(PATTERN)) == mem


STACK_C = r"""
int depth(int n)
{
    volatile char pad[64];
    pad[0] = (char)n;
    return n ? depth(n - 1) + pad[0] : 0;
}
int peek(const int *p) { return *p; }
"""


@pytest.mark.parametrize("target", ALL_TARGETS)
def test_stack_overflow_is_a_fault_naming_the_profile_key(tmp_path, target):
    m = machine_with(tmp_path, target, {"s.c": STACK_C})
    canary = m.alloc(16)
    m.write(canary, b"scratch canary!!")
    assert m.call("depth", 10) == 55
    with pytest.raises(EmulationFault) as exc:
        m.call("depth", 100_000)
    r = exc.value.report
    assert (r.cause, r.access) == ("stack overflow", "write")
    assert m.guard_base <= r.address < m.stack_base
    assert r.pc_symbol.startswith("depth") and r.function_symbol == "depth"
    size = m.profile.stack_size
    assert f"{size} bytes" in r.detail and "memory.stack_size" in r.detail
    assert f"gamevm_build/profiles/{target}.toml" in r.detail
    assert m.read(canary, 16) == b"scratch canary!!"         # the guard stopped it first
    with pytest.raises(EmulationFault) as exc:
        m.call("peek", m.guard_base + 8)                     # reads count too
    assert (exc.value.report.cause, exc.value.report.access) == ("stack overflow", "read")
    assert m.call("depth", 10) == 55


# ----------------------------------------------------------------------------------------
# Blocks the machine remembers (machine.py, "Block counts"): code rewritten at the same
# address, into a block of the same size but another instruction count, counts as the new
# code, whether the host or the guest rewrote it; a guard set on a block already run stops it.

#: per console: ``blk`` and ``alt`` are blocks of the same size; ``(blk's instructions,
#: alt's instructions, alt's result, alt runs in Thumb state)``
REWRITE_ASM = {
    "segacd": (r"""
        .text
        .globl blk, alt
blk:    move.l #0x12345678, %d0
        rts
alt:    moveq #1, %d0
        moveq #2, %d1
        moveq #3, %d0
        rts
""", 2, 4, 3, False),
    "gba": (r"""
        .text
        .globl blk, alt
        .arm
        .align 2
blk:    mov r0, #1
        mov r1, #2
        bx lr
        .thumb
        .align 2
alt:    movs r0, #1
        movs r1, #2
        movs r0, #3
        movs r1, #4
        movs r0, #5
        bx lr
""", 3, 6, 5, True),
}
COPY_C = r"""
void copy(volatile unsigned char *dst, const unsigned char *src, int n)
{
    while (n-- > 0)
        *dst++ = *src++;
}
"""


@pytest.mark.parametrize("target", sorted(REWRITE_ASM))
@pytest.mark.parametrize("writer", ["host", "guest"])
def test_instruction_counts_follow_rewritten_code(tmp_path, target, writer):
    asm, n_blk, n_alt, result, thumb = REWRITE_ASM[target]
    m = machine_with(tmp_path, target, {"r.s": asm, "c.c": COPY_C})
    blk, alt = m.symbols["blk"] & ~1, m.symbols["alt"] & ~1
    size = alt - blk

    def run(addr: int) -> tuple[int, int]:
        before = m.instructions
        value = m.call(addr)
        return value, m.instructions - before

    assert run(blk)[1] == n_blk and run(blk)[1] == n_blk          # counted, then remembered
    assert m.last_block == (blk, size)
    if writer == "host":
        m.write(blk, m.read(alt, size))
    else:
        m.call("copy", blk, alt, size)                            # self-modifying code
    entry = blk | 1 if thumb else blk
    assert run(entry) == (result, n_alt)
    assert m.last_block == (blk, size)                            # the same block, recounted
    assert run(entry) == (result, n_alt)


@pytest.mark.parametrize("target", ALL_TARGETS)
def test_execution_guards_apply_to_blocks_already_counted(tmp_path, target):
    m = machine_with(tmp_path, target, {"s.c": "int seven(void) { return 7; }\n"})
    seven = m.symbols["seven"] & ~1
    before = m.instructions
    assert m.call("seven") == 7
    n = m.instructions - before
    token = m.guard(seven, 4, "noexec", "freed memory")
    for _ in range(2):
        with pytest.raises(EmulationFault) as exc:
            m.call("seven")
        r = exc.value.report
        assert (r.cause, r.access, r.address) == ("freed memory (not executable)", "fetch", seven)
    m.unguard(token)
    before = m.instructions
    assert m.call("seven") == 7 and m.instructions - before == n
