"""The architectures' object checks name what is wrong exactly (found by mutation
testing: a message's words or a relocation name changed and no test noticed)."""

from __future__ import annotations

import struct

import pytest
from elftools.elf.elffile import ELFFile

from conftest import Builder
from gamevm_build.arch import get_arch
from gamevm_build.arch.arm import ArmArch
from gamevm_build.errors import InputError
from gamevm_build.link import elf32
from gamevm_build.link.toolchain import find_toolchain
from gamevm_build.project.profile import load_profile


def test_arm_relocation_13_is_named_tls_desc():
    # pyelftools still calls 13 R_ARM_SWI24, which the ARM ELF ABI retired for TLS_DESC
    assert ArmArch().all_names()[13] == "R_ARM_TLS_DESC"


def _compiled(tmp_path, target: str) -> bytes:
    return Builder(tmp_path, find_toolchain(target)).obj("o.c", "int f(void) { return 1; }\n",
                                                        "-O2").read_bytes()


def test_an_arm_be8_object_is_refused_with_the_flags_to_use(tmp_path):
    data = bytearray(_compiled(tmp_path, "3do"))
    flags = int.from_bytes(data[36:40], "big") | ArmArch.EF_ARM_BE8     # e_flags (ELF32, BE)
    data[36:40] = flags.to_bytes(4, "big")
    profile = load_profile("3do")
    with pytest.raises(InputError) as err:
        get_arch("arm").check_object(elf32.parse(bytes(data), "be8.o"), profile)
    assert str(err.value) == (f"be8.o: BE8 (ARMv6+) byte order; the {profile.cpu_name} is BE32: "
                              "compile with the profile flags (-mbig-endian, no -mbe8)")


def test_an_unknown_mips_float_abi_is_named_by_its_number(tmp_path):
    data = bytearray(_compiled(tmp_path, "psx"))
    import io
    at = ELFFile(io.BytesIO(bytes(data))).get_section_by_name(".MIPS.abiflags")["sh_offset"]
    data[at + 7] = 9                                  # fp_abi: no value the ABI defines
    with pytest.raises(InputError) as err:
        get_arch("mips").check_object(elf32.parse(bytes(data), "fp.o"), load_profile("psx"))
    assert str(err.value) == ("fp.o: uses 9 float ABI but target psx is soft-float; "
                              "compile with -msoft-float")


@pytest.mark.parametrize("version", [6, 0xFF])
def test_an_unknown_arm_eabi_version_is_refused_naming_it(tmp_path, version):
    data = bytearray(_compiled(tmp_path, "gba"))
    flags = (int.from_bytes(data[36:40], "little") & 0xFFFFFF) | version << 24
    data[36:40] = flags.to_bytes(4, "little")
    with pytest.raises(InputError) as err:
        get_arch("arm").check_object(elf32.parse(bytes(data), "v.o"), load_profile("gba"))
    assert str(err.value) == (f"v.o: unknown ARM EABI version {version} (e_flags "
                              f"0x{flags:08x}); build it with arm-none-eabi-gcc")


@pytest.mark.parametrize("abi_flags", [0x20, 0x3000, 0x4000], ids=["n32", "o64", "eabi32"])
def test_a_mips_object_of_another_abi_is_refused_with_the_flag_to_use(tmp_path, abi_flags):
    data = bytearray(_compiled(tmp_path, "psx"))
    flags = (int.from_bytes(data[36:40], "little") & ~0xF020) | abi_flags
    data[36:40] = flags.to_bytes(4, "little")
    with pytest.raises(InputError) as err:
        get_arch("mips").check_object(elf32.parse(bytes(data), "n.o"), load_profile("psx"))
    assert str(err.value) == (f"n.o: not an o32 object (e_flags 0x{flags:08x}); target psx "
                              "uses the o32 ABI: compile with -mabi=32")


def test_interleaved_hi16_pairs_each_take_their_own_lo16(tmp_path):
    """Two %hi/%lo pairs against different symbols, their halves interleaved (as a
    scheduler leaves them): each HI16 takes the LO16 of its own symbol, carry and sign
    included; a LO16 after the pair takes the last HI16 of its symbol, and one of a
    symbol no HI16 named is its own sign-extended half.  The module carries
    the full addends (RELA), which are those GNU ld computes."""
    from gamevm_build.link.linker import link_module
    from gamevm_build.link.module import read_module
    b = Builder(tmp_path, find_toolchain("psx"))
    o = b.obj("pairs.s", ".set noreorder\n.text\n.globl use\n"
                         "use: lui $2, %hi(d+0x10)\n"
                         "lui $3, %hi(z+0x9000)\n"
                         "addiu $2, $2, %lo(d+0x10)\n"
                         "addiu $3, $3, %lo(z+0x9000)\n"
                         "lw $4, %lo(z+0x9004)($3)\n"
                         "addiu $5, $0, %lo(r+4)\n"
                         "jr $ra\nnop\n"
                         ".data\nd: .word 1\n.bss\nz: .space 4\n"
                         ".section .rodata\nr: .word 2\n")
    link_module("psx", [o], tmp_path / "m.gvm")
    mod = read_module(tmp_path / "m.gvm")
    got = [(r.offset, r.type_name, r.symbol, r.addend) for r in mod.relocations]
    assert got == [(0, "R_MIPS_HI16", ".data", 0x10), (4, "R_MIPS_HI16", ".bss", 0x9000),
                   (8, "R_MIPS_LO16", ".data", 0x10), (12, "R_MIPS_LO16", ".bss", 0x9000),
                   (16, "R_MIPS_LO16", ".bss", 0x9004), (20, "R_MIPS_LO16", ".rodata", 4)]


def test_a_profile_naming_an_unknown_arch_is_refused_naming_the_missing_table():
    from gamevm_build.errors import ConfigError
    with pytest.raises(ConfigError) as err:
        get_arch("z80")
    assert str(err.value) == ("profile arch 'z80': no relocation table "
                              "gamevm_build/arch/z80.py")


def test_an_unpaired_hi16_against_a_global_symbol_names_it(tmp_path):
    """The message and the error's fields name the object, section, offset and symbol.
    The offset's field was written for the survivor
    mips.xǁMipsArchǁrel_addends__mutmut_100 (the offset left out of the error)."""
    from gamevm_build.errors import RelocationError
    from gamevm_build.link.linker import link_module
    o = Builder(tmp_path, find_toolchain("psx")).obj(
        "hi.s", ".set noreorder\n.text\n.globl f\nf: nop\nlui $2, %hi(data_sym)\njr $ra\n"
                "nop\n.data\n.globl data_sym\ndata_sym: .word 1\n")
    with pytest.raises(RelocationError) as err:
        link_module("psx", [o], tmp_path / "m.gvm")
    assert str(err.value) == (f"{o}: section .text offset 0x4 (symbol 'data_sym'): R_MIPS_HI16 "
                              "has no matching R_MIPS_LO16 against the same symbol after it; "
                              "the object is malformed (hand-written asm must pair %hi with "
                              "%lo)")
    assert (err.value.obj, err.value.section, err.value.offset, err.value.symbol) == (
        str(o), ".text", 4, "data_sym")


def _rel_as_rela(data: bytes, v4bx_type: int = ArmArch.V4BX) -> bytes:
    """A big-endian ELF32 object with each SHT_REL section rewritten as SHT_RELA (entries
    moved to the file's end, addend 0) and its R_ARM_V4BX entries given ``v4bx_type``:
    GNU as writes REL for ARM, but the ABI allows either, and other assemblers use RELA."""
    out = bytearray(data)
    shoff, = struct.unpack_from(">I", data, 32)
    shentsize, shnum = struct.unpack_from(">HH", data, 46)
    for i in range(shnum):
        at = shoff + i * shentsize
        if struct.unpack_from(">I", data, at + 4)[0] != 9:          # SHT_REL
            continue
        offset, size = struct.unpack_from(">II", data, at + 16)
        rows = b""
        for r_offset, r_info in struct.iter_unpack(">II", data[offset:offset + size]):
            if r_info & 0xFF == ArmArch.V4BX:
                r_info = r_info & ~0xFF | v4bx_type
            rows += struct.pack(">IIi", r_offset, r_info, 0)
        struct.pack_into(">I", out, at + 4, 4)                      # SHT_RELA
        struct.pack_into(">II", out, at + 16, len(out), len(rows))
        struct.pack_into(">I", out, at + 36, 12)                    # sh_entsize
        out += rows
    return bytes(out)


def test_an_armv3_bx_marked_for_the_v4bx_fix_passes_in_a_rela_section_too(tmp_path):
    """On the 3DO an ARMv4T ``bx lr`` is no violation when an R_ARM_V4BX marks it: the
    linker rewrites it (GNU ld --fix-v4bx).  The marker counts in a RELA section as in
    a REL one; without it the ``bx`` is reported.  Written for the survivor
    arm.xǁArmArchǁisa_violations__mutmut_15 (RELA's type 4 made 5)."""
    data = Builder(tmp_path, find_toolchain("3do")).obj(
        "v4t.c", "int one(void) { return 1; }\n", "-march=armv4t", "-O2").read_bytes()
    arm, profile = get_arch("arm"), load_profile("3do")
    assert arm.isa_violations(elf32.parse(data, "v4t.o"), profile) == []
    rela = _rel_as_rela(data)
    elf = elf32.parse(rela, "rela.o")
    assert [s.type for s in elf.sections if s.name.startswith(".rel")] == [4]
    assert arm.isa_violations(elf, profile) == []
    unmarked = arm.isa_violations(elf32.parse(_rel_as_rela(data, 0), "none.o"), profile)
    assert [v.instruction for v in unmarked] == ["bx lr"]


def test_a_mips_isa_violation_on_a_console_without_a_march_hint_names_the_profile_flags(
        tmp_path):
    """A MIPS console added as a profile file (here the PSX's under another name) has no
    entry in MipsArch.MARCH_HINT: an object built for a later MIPS ISA is refused telling
    to compile with the profile flags.  Written for the survivor
    mips.xǁMipsArchǁcheck_object__mutmut_21 (the hint's default dropped: "compile with
    None")."""
    from gamevm_build.errors import IsaError
    from gamevm_build.project.profile import PROFILE_DIR, _parse_profile

    toml = (PROFILE_DIR / "psx.toml").read_text().replace('name = "psx"', 'name = "mipsdev"', 1)
    (tmp_path / "mipsdev.toml").write_text(toml)
    profile = _parse_profile(tmp_path / "mipsdev.toml")
    assert (profile.name, profile.arch, profile.isa_max) == ("mipsdev", "mips", 1)
    data = bytearray(_compiled(tmp_path, "psx"))
    flags = (int.from_bytes(data[36:40], "little") & 0x0FFFFFFF) | 1 << 28    # EF_MIPS_ARCH_2
    data[36:40] = flags.to_bytes(4, "little")
    with pytest.raises(IsaError) as err:
        get_arch("mips").check_object(elf32.parse(bytes(data), "m2.o"), profile)
    assert str(err.value) == ("m2.o: built for mips2, which the R3000A of target mipsdev "
                              "cannot run; compile with the profile flags")


@pytest.mark.parametrize("isa_max", [64, 999, 1000, 1 << 31])
def test_a_mips_arch_no_abi_defines_is_refused_whatever_the_profiles_isa_max(tmp_path,
                                                                             isa_max):
    """A MIPS console added as a profile file whose isa_max lets every MIPS ISA through
    (64, mips64r6's level, or any larger number) still refuses an object whose
    EF_MIPS_ARCH (11 to 15) no ABI defines, naming it by its number, as the console-side
    loader refuses such a module (gvm_loader.c, flags_ok: an arch below 11 only); the
    known ISAs, up to mips64r6 (10), pass.  An unknown arch was given level 999, so a
    profile of isa_max 999 or more let it through.  Written for the survivor
    mips.xǁMipsArchǁisa_problem__mutmut_10 (that level made 1000: the same hole from
    1000 on)."""
    from gamevm_build.errors import IsaError
    from gamevm_build.project.profile import PROFILE_DIR, _parse_profile

    toml = (PROFILE_DIR / "psx.toml").read_text().replace('name = "psx"', 'name = "mipsany"', 1)
    assert toml.count("\nisa_max = 1 ") == 1
    (tmp_path / "mipsany.toml").write_text(toml.replace("\nisa_max = 1 ",
                                                        f"\nisa_max = {isa_max} "))
    profile = _parse_profile(tmp_path / "mipsany.toml")
    assert (profile.name, profile.arch, profile.isa_max) == ("mipsany", "mips", isa_max)
    data = bytearray(_compiled(tmp_path, "psx"))
    mips = get_arch("mips")

    def with_arch(number):
        flags = (int.from_bytes(data[36:40], "little") & 0x0FFFFFFF) | number << 28
        return elf32.parse(bytes(data[:36]) + flags.to_bytes(4, "little") + bytes(data[40:]),
                           f"arch{number}.o")

    for number in range(11):
        assert mips.isa_problem(with_arch(number), profile) is None
        mips.check_object(with_arch(number), profile)
    for number in range(11, 16):
        with pytest.raises(IsaError) as err:
            mips.check_object(with_arch(number), profile)
        assert str(err.value) == (f"arch{number}.o: built for arch {number}, which the R3000A "
                                  "of target mipsany cannot run; compile with the profile flags")
