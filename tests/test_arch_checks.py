"""The architectures' object checks name what is wrong exactly (found by mutation
testing: a message's words or a relocation name changed and no test noticed)."""

from __future__ import annotations

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
