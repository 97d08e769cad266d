/*
 * Integer helpers gcc calls for the Motorola 68000 (Sega CD main CPU), linked into
 * every resident ahead of libgcc.
 *
 * Why: Debian's m68k-linux-gnu libgcc is built for the 68020+ and uses mulu.l,
 * divu.l, bfffo and friends, which the 68000 does not have.  gcc -m68000 has no
 * 32-bit multiply or divide instruction, so it calls __mulsi3/__divsi3/... for
 * every int '*', '/', '%', and the DImode helpers for long long; these versions
 * use only 68000 instructions.
 *
 * Rules this file keeps so that it never calls a helper itself (possibly one of
 * its own, recursively), at any -O level:
 *  - no C '*', '/' or '%' on 32- or 64-bit values.  gcc only emits mulu.w for a
 *    product of two unsigned short variables, and only when optimising (at -O0,
 *    or with casts from 32 bits, it calls __mulsi3), so the 16x16->32 multiply
 *    and 32/16 divide are one-instruction inline asm (mulu.w, divu.w);
 *  - 64-bit values are shifted only by constants (a variable long long shift
 *    is a call to __ashldi3 & co. at -Os);
 *  - no bit-counting loops gcc could recognise as a popcount/ctz idiom.
 * Division by zero does not trap (the 68000 would): the quotient is all ones and
 * the remainder the dividend, as in mips_divdi.c.
 * Compiled with the profile's flags by gamevm_build.resident.
 */

typedef unsigned int u32;
typedef int s32;
typedef unsigned long long u64;
typedef long long s64;

#define HI(x) ((u32)((x) >> 32))
#define LO(x) ((u32)(x))
#define MK64(hi, lo) (((u64)(u32)(hi) << 32) | (u32)(lo))

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

/* full 64-bit product of two 32-bit values from four 16x16 products */
static u64 umul32x32(u32 a, u32 b)
{
    u32 ll = mulu16(a, b), lh = mulu16(a, b >> 16);
    u32 hl = mulu16(a >> 16, b), hh = mulu16(a >> 16, b >> 16);
    u32 mid = lh + (ll >> 16);              /* neither sum can carry: */
    u32 mid2 = hl + (mid & 0xffff);         /* (2^16-1)^2 + 2^16-1 < 2^32 */
    return MK64(hh + (mid >> 16) + (mid2 >> 16), (mid2 << 16) | (ll & 0xffff));
}

/* (hi:lo) / d for hi < d, so that the quotient fits 32 bits: one restoring
 * shift-subtract step per quotient bit */
static u32 udiv64by32(u32 hi, u32 lo, u32 d, u32 *rem)
{
    u32 q = 0, carry;
    int i;
    for (i = 0; i < 32; i++) {
        carry = hi >> 31;                   /* the 33rd bit of the partial remainder */
        hi = (hi << 1) | (lo >> 31);
        lo <<= 1;
        q <<= 1;
        if (carry || hi >= d) { hi -= d; q |= 1; }
    }
    *rem = hi;
    return q;
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

static u64 udivmod64(u64 n, u64 d, u64 *rem)
{
    u32 nh = HI(n), nl = LO(n), dh = HI(d), dl = LO(d), r, qh, ql;
    int i;
    if (dh == 0) {
        if (dl == 0) { *rem = n; return ~(u64)0; }
        qh = udivmod32(nh, dl, &r);         /* now r < dl */
        if (dl <= 0xffff) {
            u32 t = divu16((r << 16) | (nl >> 16), dl);
            ql = t << 16;
            t = divu16((t & 0xffff0000) | (nl & 0xffff), dl);
            ql |= t & 0xffff;
            r = t >> 16;
        } else {
            ql = udiv64by32(r, nl, dl, &r);
        }
        *rem = r;
        return MK64(qh, ql);
    }
    /* d >= 2^32: the quotient has at most 32 bits */
    {
        u64 rr = nh;
        u32 carry;
        ql = 0;
        for (i = 0; i < 32; i++) {
            carry = HI(rr) >> 31;
            rr = (rr << 1) | (nl >> 31);
            nl <<= 1;
            ql <<= 1;
            if (carry || rr >= d) { rr -= d; ql |= 1; }
        }
        *rem = rr;
        return ql;
    }
}

/* -------- 32-bit -------- */

u32 __mulsi3(u32 a, u32 b)
{
    return mulu16(a, b) + ((mulu16(a >> 16, b) + mulu16(a, b >> 16)) << 16);
}

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

/* -------- 64-bit arithmetic -------- */

u64 __muldi3(u64 a, u64 b)
{
    u64 p = umul32x32(LO(a), LO(b));
    return p + ((u64)(__mulsi3(HI(a), LO(b)) + __mulsi3(LO(a), HI(b))) << 32);
}

u64 __udivmoddi4(u64 n, u64 d, u64 *rem)
{
    u64 r, q = udivmod64(n, d, &r);
    if (rem) *rem = r;
    return q;
}

s64 __divmoddi4(s64 n, s64 d, s64 *rem)
{
    u64 r, q = udivmod64(n < 0 ? -(u64)n : (u64)n, d < 0 ? -(u64)d : (u64)d, &r);
    if (rem) *rem = n < 0 ? -(s64)r : (s64)r;
    return (n < 0) != (d < 0) ? -(s64)q : (s64)q;
}

u64 __udivdi3(u64 n, u64 d) { u64 r; return udivmod64(n, d, &r); }
u64 __umoddi3(u64 n, u64 d) { u64 r; udivmod64(n, d, &r); return r; }
s64 __divdi3(s64 n, s64 d) { return __divmoddi4(n, d, 0); }
s64 __moddi3(s64 n, s64 d) { s64 r; __divmoddi4(n, d, &r); return r; }

s64 __negdi2(s64 a) { return -(u64)a; }

/* libgcc's convention: 0 if a < b, 1 if equal, 2 if a > b */
int __cmpdi2(s64 a, s64 b) { return a < b ? 0 : a > b ? 2 : 1; }
int __ucmpdi2(u64 a, u64 b) { return a < b ? 0 : a > b ? 2 : 1; }

/* -------- 64-bit shifts (counts 0..63, as gcc guarantees) -------- */

u64 __ashldi3(u64 a, int n)
{
    u32 hi = HI(a), lo = LO(a);
    if (n == 0) return a;
    if (n >= 32) return MK64(lo << (n - 32), 0);
    return MK64((hi << n) | (lo >> (32 - n)), lo << n);
}

u64 __lshrdi3(u64 a, int n)
{
    u32 hi = HI(a), lo = LO(a);
    if (n == 0) return a;
    if (n >= 32) return hi >> (n - 32);
    return MK64(hi >> n, (lo >> n) | (hi << (32 - n)));
}

s64 __ashrdi3(s64 a, int n)
{
    s32 hi = (s32)HI(a);
    u32 lo = LO(a);
    if (n == 0) return a;
    if (n >= 32) return MK64(hi >> 31, hi >> (n - 32));
    return MK64(hi >> n, (lo >> n) | ((u32)hi << (32 - n)));
}

/* -------- bit counting (__builtin_clz & co.) -------- */

int __clzsi2(u32 x)
{
    int n = 0;
    if (x == 0) return 32;
    if (!(x & 0xffff0000)) { n += 16; x <<= 16; }
    if (!(x & 0xff000000)) { n += 8; x <<= 8; }
    if (!(x & 0xf0000000)) { n += 4; x <<= 4; }
    if (!(x & 0xc0000000)) { n += 2; x <<= 2; }
    if (!(x & 0x80000000)) n += 1;
    return n;
}

int __ctzsi2(u32 x)
{
    int n = 0;
    if (x == 0) return 32;
    if (!(x & 0xffff)) { n += 16; x >>= 16; }
    if (!(x & 0xff)) { n += 8; x >>= 8; }
    if (!(x & 0xf)) { n += 4; x >>= 4; }
    if (!(x & 0x3)) { n += 2; x >>= 2; }
    if (!(x & 0x1)) n += 1;
    return n;
}

int __clzdi2(u64 x) { return HI(x) ? __clzsi2(HI(x)) : 32 + __clzsi2(LO(x)); }
int __ctzdi2(u64 x) { return LO(x) ? __ctzsi2(LO(x)) : 32 + __ctzsi2(HI(x)); }
int __ffssi2(u32 x) { return x ? __ctzsi2(x) + 1 : 0; }
int __ffsdi2(u64 x) { return x ? __ctzdi2(x) + 1 : 0; }

int __clrsbsi2(s32 x) { return __clzsi2((u32)(x ^ (x >> 31))) - 1; }
int __clrsbdi2(s64 x)
{
    s32 hi = (s32)HI(x), s = hi >> 31;
    u32 h = (u32)(hi ^ s), l = LO(x) ^ (u32)s;
    return (h ? __clzsi2(h) : 32 + __clzsi2(l)) - 1;
}

int __popcountsi2(u32 x)
{
    x = x - ((x >> 1) & 0x55555555);
    x = (x & 0x33333333) + ((x >> 2) & 0x33333333);
    x = (x + (x >> 4)) & 0x0f0f0f0f;
    x += x >> 8;                            /* no multiply by 0x01010101: that is __mulsi3 */
    x += x >> 16;
    return x & 0x3f;
}

int __popcountdi2(u64 x) { return __popcountsi2(HI(x)) + __popcountsi2(LO(x)); }

int __paritysi2(u32 x)
{
    x ^= x >> 16;
    x ^= x >> 8;
    x ^= x >> 4;
    return (0x6996 >> (x & 0xf)) & 1;
}

int __paritydi2(u64 x) { return __paritysi2(HI(x) ^ LO(x)); }

u32 __bswapsi2(u32 x)
{
    return (x >> 24) | ((x >> 8) & 0xff00) | ((x << 8) & 0xff0000) | (x << 24);
}

u64 __bswapdi2(u64 x) { return MK64(__bswapsi2(LO(x)), __bswapsi2(HI(x))); }
