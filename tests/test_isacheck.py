"""The disassembler check (gamevm_build/arch/isacheck.py) on hand-assembled code: literal
pools and switch tables without mapping symbols are data, not instructions; the pyelftools
and the project's own ELF readers agree (docs/consoles.md, "The disassembler check").
"""

from __future__ import annotations

import struct

import pytest

from conftest import Builder
from gamevm_build.link import elf32
from gamevm_build.arch.isacheck import ISAS, check_code, check_elf, check_elf32
from gamevm_build.link.toolchain import find_toolchain

CLZ = 0xE16F0F11             # clz r0, r1: ARMv5, so data that decodes as it is a violation
MOV_PC_LR = 0xE1A0F00E
NOP = 0xE1A00000


def arm(*words: int) -> bytes:
    return struct.pack(f"<{len(words)}I", *words)


def violations(code: bytes, isa: str = "armv4t", thumb: bool = False) -> list[str]:
    found = check_code([(".text", 0x100, code)], [("f", 0x100 | thumb, len(code), "FUNC", ".text"),
                                                  ("g", 0x100, 4, "FUNC", ".data")],
                       isa=isa, big_endian=False)
    assert all((v.function, v.function_offset) == ("f", v.offset - 0x100) for v in found)
    return [f"{v.offset - 0x100:#x} {v.instruction}" for v in found]


@pytest.mark.parametrize("load, literal", [
    (0xE59F0004, 0xC),            # ldr r0, [pc, #4]: reads . + 8 + 4
    (0xE51F0004, 0x4),            # ldr r0, [pc, #-4]: reads . + 8 - 4
    (0xE1DF01B4, 0x1C),           # ldrh r0, [pc, #0x14]: split immediate, reads . + 8 + 0x14
    (0xE15F00B4, 0x4),            # ldrh r0, [pc, #-4]
])
def test_pc_relative_loads_mark_their_literal_as_data(load, literal):
    words = [load, MOV_PC_LR] + [NOP] * 6
    words[literal // 4] = CLZ
    assert violations(arm(*words)) == []
    # the same word where nothing reads it is code, and reported
    words[literal // 4], words[7 if literal != 0x1C else 6] = NOP, CLZ
    assert violations(arm(*words)) == [f"{0x1C if literal != 0x1C else 0x18:#x} clz r0, r1"]


def test_only_pc_relative_loads_and_function_symbols_mark_data_or_thumb():
    # mov r0, r0, rrx has the bits of an ldrh's type field but reads no literal
    assert violations(arm(0xE1A00060, MOV_PC_LR, CLZ)) == ["0x8 clz r0, r1"]
    # an odd-valued object symbol is no Thumb function
    found = check_code([(".text", 0x100, arm(MOV_PC_LR, NOP, CLZ))],
                       [("f", 0x100, 12, "FUNC", ".text"), ("odd", 0x109, 1, "OBJECT", ".text")],
                       isa="armv4t", big_endian=False)
    assert [(v.offset, v.instruction) for v in found] == [(0x108, "clz r0, r1")]


def test_code_without_any_symbol_is_arm():
    found = check_code([(".text", 0, arm(MOV_PC_LR, CLZ))], [], isa="armv4t", big_endian=False)
    assert [(v.offset, v.instruction, v.function) for v in found] == [(4, "clz r0, r1", None)]


def test_a_switch_table_of_256_cases_and_more():
    # cmp r0, #0x100 (a rotated immediate): 257 entries
    table = [0xE3500C01, 0x979FF100, 0xEA000000 | 257, *[CLZ] * 257, MOV_PC_LR]
    assert violations(arm(*table)) == []
    # and no more: the code after entry 256 is checked (a rotation off by one read 513)
    assert violations(arm(*table, CLZ)) == [f"{(len(table)) * 4:#x} clz r0, r1"]


def test_switch_table_after_ldrls_pc_is_data():
    table = [0xE3500002, 0x979FF100, 0xEA000002, CLZ, CLZ, CLZ, MOV_PC_LR]   # cmp r0, #2
    assert violations(arm(*table)) == []
    one_more = [0xE3500001] + table[1:]          # cmp r0, #1: two entries, the third is code
    assert violations(arm(*one_more)) == ["0x14 clz r0, r1"]
    other_reg = [0xE3510002] + table[1:]         # cmp r1: not the index register
    assert len(violations(arm(*other_reg))) == 3
    by_r1 = [0xE3510002, 0x979FF101] + table[2:]  # cmp r1, #2; ldrls pc, [pc, r1, lsl #2]
    assert violations(arm(*by_r1)) == []


def test_thumb_literal_pool_is_data():
    thumb = struct.pack("<4H", 0x4801, 0x4770, 0x46C0, 0x46C0) + struct.pack("<2H", 0xF8D1, 0)
    assert violations(thumb, thumb=True) == []    # ldr r0, [pc, #4]: reads (. + 4 & ~3) + 4
    unread = struct.pack("<4H", 0x46C0, 0x4770, 0x46C0, 0x46C0) + thumb[8:]
    assert violations(unread, thumb=True) == ["0x8 ldr.w r0, [r1]"]


def test_both_elf_readers_find_the_same_violations(tmp_path):
    b = Builder(tmp_path, find_toolchain("3do"))
    obj = b.obj("h.c", "int sh(short *p) { return p[1]; }\n"
                       "long long mul(long long a, long long b) { return a * b; }\n", "-O2")
    data = obj.read_bytes()
    ours = check_elf32(elf32.parse(data, obj.name), isa="armv3")
    assert ours and {v.function for v in ours} >= {"sh"}
    assert check_elf(obj, isa="armv3") == ours == check_elf(data, isa="armv3")
    assert any(v.instruction.startswith("ldrsh") for v in ours)
    with pytest.raises(ValueError, match="cannot be checked as m68000"):
        check_elf(data, isa="m68000")
    with pytest.raises(ValueError, match="cannot be checked as m68000"):
        check_elf32(elf32.parse(data, obj.name), isa="m68000")


def test_isa_problem_is_the_first_violation_and_a_count(tmp_path):
    from gamevm_build.arch import get_arch
    from gamevm_build.project.profile import load_profile

    profile = load_profile("3do")
    b = Builder(tmp_path, find_toolchain("3do"))
    one = b.obj("one.c", "int sh(short *p) { return p[1]; }\n", "-O2")
    two = b.obj("two.c", "int sh(short *p) { return p[1]; }\n"
                         "int sb(signed char *p) { return p[2]; }\n", "-O2")
    arch = get_arch(profile.arch)
    # the object's name is not part of it, even when it holds ": "
    elf = elf32.parse(one.read_bytes(), "lib: one.o")
    first = check_elf32(elf, isa="armv3")[0]
    assert arch.isa_problem(elf, profile) == (f".text+0x{first.offset:x} "
                                              f"<sh+0x{first.function_offset:x}>: "
                                              f"{first.instruction}: {first.hint}")
    problem = arch.isa_problem(elf32.parse(two.read_bytes(), "two.o"), profile)
    assert problem.startswith(".text+0x") and problem.endswith(" (and 1 more)")
    assert arch.isa_problem(elf32.parse(one.read_bytes(), "one.o"), load_profile("gba")) is None


def m68k(*halfwords: int) -> bytes:
    return struct.pack(f">{len(halfwords)}H", *halfwords)


def m68k_violations(code: bytes, symbols=()) -> list[str]:
    symbols = [("f", 0x200, len(code), "FUNC", ".text"),
               *((n, 0x200 + v, z, k, ".text") for n, v, z, k in symbols)]
    return [f"{v.offset - 0x200:#x} {v.instruction}"
            for v in check_code([(".text", 0x200, code)], symbols, isa="m68000", big_endian=True)]


EXTB = 0x49C0               # extb.l d0: 68020
NOP, RTS = 0x4E71, 0x4E75


def test_m68k_data_objects_are_skipped_and_code_resumes_after_them():
    code = m68k(NOP, RTS, EXTB, EXTB, RTS)        # the first extb.l is the object's bytes
    assert m68k_violations(code, [("tab", 4, 2, "OBJECT")]) == ["0x6 extb.l d0"]
    assert m68k_violations(code, [("tab", 4, 2, "NOTYPE")]) == ["0x4 extb.l d0", "0x6 extb.l d0"]
    # an object of unknown size is data up to the next symbol, where code resumes
    for kind in ("FUNC", "NOTYPE"):
        assert m68k_violations(code, [("tab", 4, 0, "OBJECT"), ("g", 6, 4, kind)]) == [
            "0x6 extb.l d0"]
    assert m68k_violations(code, [("tab", 4, 0, "OBJECT")]) == []
    # an undecodable word is reported and skipped by its two bytes
    assert m68k_violations(m68k(0xA000, EXTB, RTS)) == ["0x0 dc.w $a000", "0x2 extb.l d0"]
    # at its own address, past the section's start
    assert m68k_violations(m68k(NOP, 0xA000, RTS)) == ["0x2 dc.w $a000"]


def test_m68k_addressing_the_68000_lacks_is_reported():
    # move.l (0,a0,d0.l*4),d1: the 68000 decodes it, but has no scaled index
    found = m68k_violations(m68k(0x2230, 0x0C00, RTS))
    assert len(found) == 1 and found[0].startswith("0x0 move.l")


def test_m68k_switch_table_after_its_jmp_is_data():
    # jmp (2,pc,d0.w); .word 6, 8, 0x49c0 (the table ends at the nearest case, +6); case code
    code = m68k(0x4EFB, 0x0002, 0x0006, 0x0008, EXTB, EXTB, RTS)
    assert m68k_violations(code) == ["0xa extb.l d0"]
    # a jmp elsewhere (4,pc,d0.w) starts no table there: its words are decoded
    code = m68k(0x4EFB, 0x0004, 0x0006, 0x0008, EXTB, EXTB, RTS)
    assert "0x8 extb.l d0" in m68k_violations(code)


def test_m68k_long_branch_is_named_with_its_reason():
    # bra.l +4 (0x60ff and a 32-bit displacement): the 68000 has 8- and 16-bit ones only
    v, = check_code([(".text", 0x200, m68k(0x60FF, 0x0000, 0x0004, RTS, RTS))],
                    [("f", 0x200, 10, "FUNC", ".text")], isa="m68000", big_endian=True)
    assert v.instruction.startswith("bra.l") and v.hint.startswith(
        "32-bit branch displacements are 68020+")


def test_only_executable_sections_are_checked(tmp_path):
    """68020 words in .data are data: check_elf disassembles only SHF_EXECINSTR sections."""
    b = Builder(tmp_path, find_toolchain("segacd"))
    obj = b.obj("d.s", ".data\n.globl tab\ntab: .word 0x49c0, 0x49c0\n"
                       ".text\n.globl f\nf: rts\n")
    assert check_elf(obj, isa="m68000") == []
    assert check_elf32(elf32.parse(obj.read_bytes(), obj.name), isa="m68000") == []


@pytest.mark.parametrize("index", ["d3", "a5"])
@pytest.mark.parametrize("size", ["w", "l"])
@pytest.mark.parametrize("scale", [1, 2, 4, 8])
def test_m68k_zero_displacement_index_is_brief_or_full_by_its_extension_word(index, size, scale):
    """``move.l (0,a0,Xn.SIZE*SCALE),d1``: capstone reports a brief extension word with
    a zero displacement as the 68020's base-displacement mode, like the full-format
    word (bit 8 set, null base displacement) with the same fields.  The brief word
    (D/A bit 15, register, W/L bit 11, scale bits 10-9) is the 68000's (d8,An,Xn)
    when unscaled and a scaled index otherwise; the full word is always 68020 code.
    Written for the survivors isacheck.x__brief_zero_disp__mutmut_23 (the D/A bit
    shifted to 16), __mutmut_36 (scale 4 looked for as 3) and __mutmut_38 (scale 8
    looked for as 4)."""
    from gamevm_build.arch.isacheck import ISAS

    features = ISAS["m68000"].features
    brief = ((index[0] == "a") << 15 | int(index[1]) << 12 | (size == "l") << 11
             | {1: 0, 2: 1, 4: 2, 8: 3}[scale] << 9)
    text = f"move.l (a0, {index}.{size}{f' * {scale}' if scale > 1 else ''}), d1"
    code = [(".text", 0x200, m68k(0x2230, brief, RTS))]
    found = check_code(code, [("f", 0x200, 6, "FUNC", ".text")], isa="m68000", big_endian=True)
    assert [(v.offset, v.instruction, v.hint) for v in found] == (
        [] if scale == 1 else [(0x200, text, features["scaled_index"])])
    full = [(".text", 0x200, m68k(0x2230, brief | 0x0110, RTS))]    # full format, null base
    found = check_code(full, [("f", 0x200, 6, "FUNC", ".text")], isa="m68000", big_endian=True)
    assert [(v.offset, v.instruction, v.hint) for v in found] == [
        (0x200, text, features["full_extension"])]


def test_an_unknown_isa_is_refused_naming_the_known_ones():
    with pytest.raises(ValueError) as exc:
        check_code([], [], isa="z80", big_endian=True)
    assert str(exc.value) == "unknown isa 'z80'; known: m68000, armv3, armv4t"


@pytest.mark.parametrize("words, full", [
    ((0x2230, 0x0120, 0x0000), True),     # move.l (0.w,a0,d0.w),d1: a zero word displacement
    ((0x23B0, 0x0110, 0x0000), True),     # move.l full (0,a0,d0.w) to a brief (0,a1,d0.w)
    ((0x23B0, 0x0000, 0x0110), True),     # the brief source, the full destination
    ((0x23B0, 0x0000, 0x0000), False),    # both brief
    ((0x4AB0, 0x0120, 0x0000), True),     # tst.l, one operand
    ((0x0CB0, 0x0000, 0x0000, 0x0120, 0x0000), True),   # cmpi.l #0: the immediate first
    ((0x0CB0, 0x0000, 0x0110, 0x0000), False),          # cmpi.l #0x110, brief: the immediate
    ((0x0830, 0x0003, 0x0110), True),     # btst #3: the bit number first
    ((0x4CF0, 0x0003, 0x0110), True),     # movem.l (0,a0,d0.w),d0-d1: the mask first
    ((0x4CF0, 0x0110, 0x0000), False),    # a mask of d4 and a0 (0x0110), brief
    ((0x5EB0, 0x0110), True),             # addq.l #7: the immediate in the opcode word
    ((0x21BC, 0x0000, 0x0110, 0x0000), False),   # move.l #0x110 to a brief operand
])
def test_m68k_each_operand_is_told_brief_or_full_by_its_own_extension_word(words, full):
    """The full format's (0,An,Xn) is told from the 68000's by the operand's own extension
    word, found by position (a movem mask, then the source's words, then the
    destination's), not by any word of the instruction that looks brief: ``0x2230 0x0120
    0x0000`` passed, its zero displacement word read as a brief extension word, and so did
    a ``move`` with one full and one brief operand (found by the 2026120602 mutation
    sample's tests)."""
    found = check_code([(".text", 0x200, m68k(*words, RTS))],
                       [("f", 0x200, 2 * len(words) + 2, "FUNC", ".text")],
                       isa="m68000", big_endian=True)
    assert [v.hint for v in found] == (
        [ISAS["m68000"].features["full_extension"]] if full else [])


@pytest.mark.parametrize("isa, big_endian", [("armv4t", False), ("armv3", True)])
def test_undecodable_arm_and_thumb_code_is_reported_as_its_bytes(isa, big_endian):
    """With mapping symbols, a word capstone cannot decode in ARM code and a halfword in
    Thumb code are reported as ``.word``/``.short`` with their bytes as stored; on the
    ARMv3 (no Thumb state) each Thumb function's first instruction is reported, by its
    text or, undecodable, its bytes.  Written for the survivor
    isacheck.x__scan_arm__mutmut_63 (the instruction text made None)."""
    order = ">" if big_endian else "<"
    code = (struct.pack(f"{order}2I", MOV_PC_LR, 0xE6000010)       # mov pc, lr; undefined
            + struct.pack(f"{order}3H", 0xB600, 0x4770, 0x4770))   # undefined; bx lr; bx lr
    symbols = [("f", 0x100, 8, "FUNC", ".text"), ("$a", 0x100, 0, "NOTYPE", ".text"),
               ("t", 0x109, 4, "FUNC", ".text"), ("$t", 0x108, 0, "NOTYPE", ".text"),
               ("u", 0x10D, 2, "FUNC", ".text")]
    found = check_code([(".text", 0x100, code)], symbols, isa=isa, big_endian=big_endian)
    undefined = "an undefined instruction (or data in code without a $d mapping symbol)"
    if isa == "armv4t":
        assert [(v.offset, v.function, v.instruction, v.hint) for v in found] == [
            (0x104, "f", ".word 0x100000e6", undefined),
            (0x108, "t", ".short 0x00b6", undefined)]
    else:
        no_thumb = "the ARM60 has no Thumb state: compile with -marm"
        assert [(v.offset, v.function, v.instruction, v.hint) for v in found] == [
            (0x104, "f", ".word 0xe6000010", undefined),
            (0x108, "t", ".short 0xb600", no_thumb),
            (0x10C, "u", "bx lr", no_thumb)]


def test_isa_report_shows_eight_violations_and_counts_the_rest(tmp_path):
    """An object with eleven 68020 instructions (``extb.l``, as ``.word``: gas refuses it
    for the 68000): the report names the CPU and target, lists the first eight
    violations, one a line, and says how many it left out, three.  Written for the
    survivor arch.xǁArchǁisa_report__mutmut_19."""
    from gamevm_build.arch import get_arch
    from gamevm_build.project.profile import load_profile

    profile = load_profile("segacd")
    b = Builder(tmp_path, find_toolchain("segacd"))
    obj = b.obj("many.s", ".text\n.globl f\nf:\n" + " .word 0x49c0\n" * 11 + " rts\n")
    elf = elf32.parse(obj.read_bytes(), "many.o")
    found = check_elf32(elf, isa="m68000")
    assert [v.offset for v in found] == list(range(0, 22, 2))
    report = get_arch(profile.arch).isa_report(elf, profile, "many.o")
    assert report.split("\n") == (
        ["code the 68000 of target segacd cannot execute:"]
        + ["  " + v.describe("many.o") for v in found[:8]]
        + ["  ... and 3 more"])
    # eight are all shown, with nothing left to count
    obj = b.obj("eight.s", ".text\n.globl f\nf:\n" + " .word 0x49c0\n" * 8 + " rts\n")
    report = get_arch(profile.arch).isa_report(elf32.parse(obj.read_bytes(), "eight.o"),
                                               profile, "eight.o")
    assert len(report.split("\n")) == 9 and "more" not in report


#: 68000 sources with extension words of their own before a brief ``(0,a1,d0.w)``
#: destination, each holding 0x0110 (which, read as the destination's word, is the
#: 68020's full format): (d16,An), abs.w, abs.l, (d16,PC), then (An) with none; the
#: words gas writes, and the source as capstone prints it
_SOURCES_BEFORE_INDEX = [
    ("move.l (0x110,%a0),(0,%a1,%d0.w)", (0x23A8, 0x0110), "move.l $110(a0)"),
    ("move.l 0x110.w,(0,%a1,%d0.w)", (0x23B8, 0x0110), "move.l $110.w"),
    ("move.l 0x110.l,(0,%a1,%d0.w)", (0x23B9, 0x0000, 0x0110), "move.l $110.l"),
    ("move.l (0x110,%pc),(0,%a1,%d0.w)", (0x23BA, 0x0110),
     "move.l $326(pc)"),                    # at 0x214 in check_code: 0x214 + 2 + 0x110
    ("move.l (%a0),(0,%a1,%d0.w)", (0x2390,), "move.l (a0)"),
]


def test_m68k_an_index_word_is_found_past_the_words_of_a_plain_memory_source(tmp_path):
    """``move.l SRC,(0,a1,d0.w)`` with a source that is memory but not indexed
    ((d16,An), absolute short and long, (d16,PC), (An)): the destination's extension
    word is found past the source's words, so gas's 68000 code (a brief zero-displacement
    word) passes, and the same instructions with a full-format destination word are each
    reported as 68020 addressing.  Written for the survivor
    isacheck.x__m68k_extension_offsets__mutmut_80 (the modes looked up on None)."""
    b = Builder(tmp_path, find_toolchain("segacd"))
    asm = "".join(f" {line}\n" for line, _, _ in _SOURCES_BEFORE_INDEX)
    obj = b.obj("plain.s", ".text\n.globl f\nf:\n" + asm + " rts\n")
    assert check_elf(obj, isa="m68000") == []
    text = elf32.parse(obj.read_bytes(), obj.name).section_by_name(".text").data
    words = [w for _, source, _ in _SOURCES_BEFORE_INDEX for w in (*source, 0x0000)]
    assert text == m68k(*words, RTS)            # gas wrote the words named here
    full = [w for _, source, _ in _SOURCES_BEFORE_INDEX for w in (*source, 0x0110)]
    found = check_code([(".text", 0x200, m68k(*full, RTS))],
                       [("f", 0x200, 2 * len(full) + 2, "FUNC", ".text")],
                       isa="m68000", big_endian=True)
    at = [0x200 + 2 * sum(len(s) + 1 for _, s, _ in _SOURCES_BEFORE_INDEX[:i])
          for i in range(len(_SOURCES_BEFORE_INDEX))]
    assert [(v.offset, v.instruction.split(",")[0], v.hint) for v in found] == [
        (a, text, ISAS["m68000"].features["full_extension"])
        for a, (_, _, text) in zip(at, _SOURCES_BEFORE_INDEX)]


@pytest.mark.parametrize("op", ["addq", "subq"])
@pytest.mark.parametrize("size", ["w", "l"])
def test_m68k_a_quick_immediate_has_no_word_before_the_index_word(tmp_path, op, size):
    """``addq``/``subq`` ``#7,(0,a1,d0.w)``: the quick immediate is in the opcode word, so
    the destination's extension word comes right after it.  gas's 68000 code (a brief
    zero-displacement word) passes, for subq as for addq and at either size, and the same
    instruction with a full-format word there is reported as 68020 addressing.  Written
    for the survivor isacheck.x__m68k_extension_offsets__mutmut_17 (subq not taken as
    quick: its index word looked for past an immediate it does not have, so gas's code
    was reported as 68020 addressing)."""
    b = Builder(tmp_path, find_toolchain("segacd"))
    obj = b.obj("q.s", f".text\n.globl f\nf:\n {op}.{size} #7,(0,%a1,%d0.w)\n rts\n")
    assert check_elf(obj, isa="m68000") == []
    opcode = 0x5E31 | (op == "subq") << 8 | {"w": 1, "l": 2}[size] << 6
    text = elf32.parse(obj.read_bytes(), obj.name).section_by_name(".text").data
    assert text == m68k(opcode, 0x0000, RTS)            # gas wrote the words named here
    found = check_code([(".text", 0x200, m68k(opcode, 0x0110, RTS))],
                       [("f", 0x200, 6, "FUNC", ".text")], isa="m68000", big_endian=True)
    assert [(v.offset, v.instruction, v.hint) for v in found] == [
        (0x200, f"{op}.{size} #$7, (a1, d0.w)", ISAS["m68000"].features["full_extension"])]


@pytest.mark.parametrize("words, text", [
    ((0x2230, 0x0120, 0x1234), "move.l $1234(a0, d0.w), d1"),          # a word displacement
    ((0x2230, 0x0130, 0x1234, 0x5678), "move.l $12345678(a0, d0.w), d1"),   # a long one
    ((0x2230, 0x01A0, 0x0000), "move.l (d0.w), d1"),                    # the base suppressed
    ((0x2230, 0x0160, 0x0000), "move.l (a0, invalid.w), d1"),           # the index suppressed
    ((0x2230, 0x0122, 0x0000, 0x0010), "move.l ([a0, d0.w], $10), d1"),  # memory indirect
])
def test_m68k_a_full_format_operand_that_is_no_brief_one_is_68020_addressing(words, text):
    """A full-format extension word with a base displacement, a suppressed base or index,
    or an outer displacement is 68020 addressing whatever its words look like: only a
    (0,An,Xn) with both registers and no displacement can be the 68000's brief form.
    Written for the survivor isacheck.x__brief_zero_disp__mutmut_7 (those operands taken
    for the 68000's: none reported)."""
    from gamevm_build.arch.isacheck import ISAS

    found = check_code([(".text", 0x200, m68k(*words, RTS))],
                       [("f", 0x200, 2 * len(words) + 2, "FUNC", ".text")],
                       isa="m68000", big_endian=True)
    assert [(v.offset, v.instruction, v.hint) for v in found] == [
        (0x200, text, ISAS["m68000"].features["full_extension"])]


def test_arm_code_after_a_data_region_is_checked_too(tmp_path):
    """A literal pool (``$d``) between two functions ends the code before it, not the
    check: the Thumb function after the pool is still reported on the ARMv3.  Written for
    the survivor isacheck.x__scan_arm__mutmut_28 (``continue`` made ``break`` at a data
    region: nothing after the first pool was looked at)."""
    code = (struct.pack(">2I", MOV_PC_LR, 0x12345678)           # mov pc, lr; a literal
            + struct.pack(">2H", 0x4770, 0x4770))               # bx lr; bx lr
    symbols = [("f", 0x100, 4, "FUNC", ".text"), ("$a", 0x100, 0, "NOTYPE", ".text"),
               ("$d", 0x104, 0, "NOTYPE", ".text"),
               ("t", 0x109, 4, "FUNC", ".text"), ("$t", 0x108, 0, "NOTYPE", ".text")]
    found = check_code([(".text", 0x100, code)], symbols, isa="armv3", big_endian=True)
    assert [(v.offset, v.function, v.instruction) for v in found] == [(0x108, "t", "bx lr")]
