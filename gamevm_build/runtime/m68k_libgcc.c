/*
 * Integer helpers gcc calls for the Motorola 68000 (Sega CD main CPU), linked into
 * every resident ahead of libgcc.
 *
 * Why: Debian's m68k-linux-gnu libgcc is built for the 68020+ and uses mulu.l,
 * divu.l, bfffo and friends, which the 68000 does not have.  gcc -m68000 has no
 * 32-bit multiply or divide instruction, so it calls __mulsi3/__divsi3/... for
 * every int '*', '/', '%', and the DImode helpers for long long.  This file has
 * the 32-bit ones and the 68000 primitives; the 64-bit, bit-counting and -ftrapv
 * helpers are gvm_libgcc.h's, which keeps the same rules.
 *
 * gcc only emits mulu.w for a product of two unsigned short variables, and only
 * when optimising (at -O0, or with casts from 32 bits, it calls __mulsi3), so the
 * 16x16->32 multiply and 32/16 divide are one-instruction inline asm (mulu.w,
 * divu.w); nothing here uses C '*', '/' or '%'.
 * Compiled with the profile's flags by gamevm_build.link.resident.
 */
#include "gvm_libgcc.h"

/* low word of a times low word of b, as 32 bits */
static inline u32 mulu16(u32 a, u32 b)
{
    __asm__("mulu.w %2,%0" : "=d"(a) : "0"(a), "d"(b) : "cc");
    return a;
}

/* n / d for a 16-bit d with (n >> 16) < d, so that divu.w cannot overflow:
 * remainder in the high word, quotient in the low word */
static inline u32 divu16(u32 n, u32 d)
{
    __asm__("divu.w %2,%0" : "=d"(n) : "0"(n), "d"(d) : "cc");
    return n;
}

static u32 mul32(u32 a, u32 b)
{
    return mulu16(a, b) + ((mulu16(a >> 16, b) + mulu16(a, b >> 16)) << 16);
}

/* full 64-bit product of two 32-bit values from four 16x16 products */
static u64 umul32x32(u32 a, u32 b)
{
    u32 ll = mulu16(a, b), lh = mulu16(a, b >> 16);
    u32 hl = mulu16(a >> 16, b), hh = mulu16(a >> 16, b >> 16);
    u32 mid = lh + (ll >> 16);              /* neither sum can carry: */
    u32 mid2 = hl + (mid & 0xffff);         /* (2^16-1)^2 + 2^16-1 < 2^32 */
    return MK64(hh + (mid >> 16) + (mid2 >> 16), (mid2 << 16) | (ll & 0xffff));
}

static u32 udivmod32(u32 n, u32 d, u32 *rem)
{
    u32 t, q;
    if (d == 0) { *rem = n; return ~0u; }
    if (d <= 0xffff) {                      /* two divu.w, like long division by digits */
        t = divu16(n >> 16, d);
        q = t << 16;
        t = divu16((t & 0xffff0000) | (n & 0xffff), d);
        *rem = t >> 16;
        return q | (t & 0xffff);
    }
    /* d >= 2^16 (fixed-point code divides by such values all the time): scale n
     * and d down until d fits 15 bits and let divu.w divide those.  Rounding the
     * scaled d up makes the estimate never too big (so q * d cannot overflow) and
     * at most 4 too small, which the loop below fixes. */
    {
        u32 ds = d, ns = n, r;
        while (ds > 0x7fff) { ds >>= 1; ns >>= 1; }
        q = divu16(ns, ds + 1) & 0xffff;
        r = n - (mulu16(q, d) + (mulu16(q, d >> 16) << 16));
        while (r >= d) { r -= d; q++; }
        *rem = r;
        return q;
    }
}

static u32 udiv64by32(u32 hi, u32 lo, u32 d, u32 *rem)
{
    if (d <= 0xffff) {                      /* hi < d: two divu.w cannot overflow */
        u32 t = divu16((hi << 16) | (lo >> 16), d), q = t << 16;
        t = divu16((t & 0xffff0000) | (lo & 0xffff), d);
        *rem = t >> 16;
        return q | (t & 0xffff);
    }
    return udiv64by32_steps(hi, lo, d, rem);
}

/* -------- 32-bit -------- */

u32 __mulsi3(u32 a, u32 b) { return mul32(a, b); }

u32 __udivsi3(u32 n, u32 d) { u32 r; return udivmod32(n, d, &r); }
u32 __umodsi3(u32 n, u32 d) { u32 r; udivmod32(n, d, &r); return r; }

s32 __divsi3(s32 n, s32 d)
{
    u32 r, q = udivmod32(n < 0 ? -(u32)n : (u32)n, d < 0 ? -(u32)d : (u32)d, &r);
    return (n < 0) != (d < 0) ? -(s32)q : (s32)q;
}

s32 __modsi3(s32 n, s32 d)
{
    u32 r;
    udivmod32(n < 0 ? -(u32)n : (u32)n, d < 0 ? -(u32)d : (u32)d, &r);
    return n < 0 ? -(s32)r : (s32)r;
}
