"""Portable byte-by-byte reads stay byte reads on the Sega CD's 68000.

GCC 12's bswap pass turns ``p[0] << 8 | p[1]`` into one word load even with
``-mstrict-align``; the 68000 faults on a word at an odd address (the emulated console
does too).  The segacd profile compiles with ``-fno-expensive-optimizations``, the pass's
only switch: the same C then reads any address on the emulated 68000.
"""

from __future__ import annotations

from gamevm_build.emu.machine import Machine
from gamevm_build.link.toolchain import find_toolchain, run
from gamevm_build.project.profile import load_profile

READS = """
unsigned rd16(const unsigned char *p) { return (unsigned)p[0] << 8 | p[1]; }
unsigned rd16le(const unsigned char *p) { return p[0] | (unsigned)p[1] << 8; }
unsigned long rd32(const unsigned char *p)
{
    return (unsigned long)p[0] << 24 | (unsigned long)p[1] << 16 | (unsigned long)p[2] << 8 | p[3];
}
void _start(void) { for (;;); }
"""


def test_byte_reads_at_odd_addresses_do_not_fault(tmp_path):
    profile = load_profile("segacd")
    tc = find_toolchain(profile)
    src = tmp_path / "reads.c"
    src.write_text(READS)
    obj = tmp_path / "reads.o"
    tc.compile(src, obj, extra_flags=["-O2"])
    elf = tmp_path / "reads.elf"
    run([tc.gcc, *profile.cflags, "-nostdlib", "-nostartfiles", "-static",
         "-Wl,-N", f"-Wl,-Ttext=0x{profile.resident_base:x}", str(obj), "-o", str(elf)])
    m = Machine(profile)
    m.load_elf(elf)
    buf = profile.main_ram.start + 0x8001                     # odd
    m.write(buf, bytes([0x12, 0x34, 0x56, 0x78]))
    assert m.call("rd16", buf) == 0x1234
    assert m.call("rd16le", buf) == 0x3412
    assert m.call("rd32", buf) == 0x12345678
