/*
 * 64-bit integer division helpers for MIPS consoles, linked into every resident
 * ahead of libgcc.
 *
 * Why: Debian's mips(el)-linux-gnu libgcc is built for mips32r2; its __udivdi3
 * uses clz/movn, which neither the R3000A (PS1, MIPS I) nor the VR4300 (N64,
 * MIPS III) has.  These versions use only 32-bit operations gcc emits inline for
 * any MIPS ISA (shifts by constants, add/sub with carry, compares): a plain
 * restoring shift-subtract division, one quotient bit per iteration.
 * Compiled with the profile's flags by gamevm_build.resident.
 */

typedef unsigned int u32;
typedef unsigned long long u64;
typedef long long s64;

static u64 udivmod64(u64 n, u64 d, u64 *rem)
{
    u64 q = 0, r = 0;
    int i;
    if (d == 0) {                       /* like the hardware: no trap, defined garbage */
        if (rem) *rem = n;
        return ~(u64)0;
    }
    if ((d >> 32) == 0 && (n >> 32) == 0) {   /* fast path: 32-bit divide instruction */
        u32 nn = (u32)n, dd = (u32)d;
        if (rem) *rem = nn % dd;
        return nn / dd;
    }
    for (i = 63; i >= 0; i--) {
        r = (r << 1) | ((n >> 63) & 1);
        n <<= 1;
        q <<= 1;
        if (r >= d) { r -= d; q |= 1; }
    }
    if (rem) *rem = r;
    return q;
}

u64 __udivdi3(u64 n, u64 d) { return udivmod64(n, d, 0); }
u64 __umoddi3(u64 n, u64 d) { u64 r; udivmod64(n, d, &r); return r; }

s64 __divdi3(s64 n, s64 d)
{
    int neg = (n < 0) != (d < 0);
    u64 q = udivmod64(n < 0 ? -(u64)n : (u64)n, d < 0 ? -(u64)d : (u64)d, 0);
    return neg ? -(s64)q : (s64)q;
}

s64 __moddi3(s64 n, s64 d)
{
    u64 r;
    udivmod64(n < 0 ? -(u64)n : (u64)n, d < 0 ? -(u64)d : (u64)d, &r);
    return n < 0 ? -(s64)r : (s64)r;
}
