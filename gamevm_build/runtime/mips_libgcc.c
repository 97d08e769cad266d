/*
 * libgcc's integer and bit helpers for the MIPS consoles (PS1 R3000A: MIPS I;
 * N64 VR4300: MIPS III), linked into every resident ahead of libgcc.
 *
 * Why: Debian's mips(el)-linux-gnu libgcc is built for mips32r2 (its
 * __udivdi3 uses clz and movn, its __clzsi2 is a clz), which neither CPU has.
 * gcc calls these for 64-bit division (__divdi3...), 64-bit shifts by a
 * variable at -O0/-Os (__ashldi3...), every __builtin_clz/ctz/ffs/popcount/
 * parity/clrsb/bswap (LZ4 and friends use them) and -ftrapv.  The code is in
 * gvm_libgcc.h; the MIPS primitives below use the 32-bit mult/multu/divu
 * instructions gcc emits inline on any MIPS (with the hazard nops MIPS I
 * needs).  Compiled with the profile's flags by gamevm_build.link.resident.
 */
#include "gvm_libgcc.h"

static u32 mul32(u32 a, u32 b) { return a * b; }

static u64 umul32x32(u32 a, u32 b) { return (u64)a * b; }

static u32 udivmod32(u32 n, u32 d, u32 *rem)
{
    *rem = n % d;
    return n / d;
}

static u32 udiv64by32(u32 hi, u32 lo, u32 d, u32 *rem)
{
    if (hi == 0)
        return udivmod32(lo, d, rem);
    return udiv64by32_steps(hi, lo, d, rem);
}
