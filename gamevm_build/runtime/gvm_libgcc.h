/*
 * libgcc's integer and bit helpers in portable C, for the runtime files that
 * replace libgcc on consoles whose CPU cannot run the toolchain's own
 * (mips_libgcc.c, m68k_libgcc.c, arm_aeabi.c) or where libgcc's call abort()
 * (arm_trapv.c).  Each of those is one translation unit compiled alone into
 * every resident (profile toolchain.runtime, -ffunction-sections: unused
 * helpers are dropped), so this header holds definitions, not only
 * declarations.
 *
 * What the CPU does differently comes from four primitives the including
 * file defines (after including this header; with GVM_LIBGCC_TRAPV_ONLY,
 * only the -ftrapv helpers and umul32x32):
 *
 *   static u32 mul32(u32 a, u32 b);            low 32 bits of a * b
 *   static u64 umul32x32(u32 a, u32 b);        full 64-bit product
 *   static u32 udivmod32(u32 n, u32 d, u32 *rem);          d != 0
 *   static u32 udiv64by32(u32 hi, u32 lo, u32 d, u32 *rem);
 *                                              (hi:lo) / d for hi < d, d != 0
 *
 * Rules this code keeps, so that no helper ends up calling itself (or a
 * libgcc helper the CPU cannot run) at any -O level on any of the CPUs:
 *  - no C '*', '/' or '%' (68000: __mulsi3/__divsi3; ARM60: long multiply,
 *    __aeabi_uidiv): the primitives above do it;
 *  - 64-bit values are shifted only by constants (a variable shift is a call
 *    to __ashldi3 & co. on MIPS and the 68000);
 *  - no __builtin_clz & co., no loops gcc could recognise as a popcount or
 *    ctz idiom, no byte swaps it could turn into __builtin_bswap32 (none of
 *    these CPUs has an instruction for them, so gcc would call the helper).
 * Division by zero does not trap: the quotient is all ones and the remainder
 * the dividend.  The -ftrapv helpers (__addvsi3...) execute __builtin_trap()
 * on overflow where libgcc's call abort(): break on MIPS, trap #7 on the
 * 68000, an undefined instruction on ARM (the emulator reports the fault).
 */
#ifndef GVM_LIBGCC_H
#define GVM_LIBGCC_H

typedef unsigned int u32;
typedef int s32;
typedef unsigned long long u64;
typedef long long s64;

#define HI(x) ((u32)((x) >> 32))
#define LO(x) ((u32)(x))
#define MK64(hi, lo) (((u64)(u32)(hi) << 32) | (u32)(lo))

static u64 umul32x32(u32 a, u32 b);
#ifndef GVM_LIBGCC_TRAPV_ONLY
static u32 mul32(u32 a, u32 b);
static u32 udivmod32(u32 n, u32 d, u32 *rem);
static u32 udiv64by32(u32 hi, u32 lo, u32 d, u32 *rem);
#endif

/* the global helpers, declared so that they may call each other in any order */
u64 __muldi3(u64 a, u64 b);
u64 __udivmoddi4(u64 n, u64 d, u64 *rem);
s64 __divmoddi4(s64 n, s64 d, s64 *rem);
u64 __udivdi3(u64 n, u64 d);
u64 __umoddi3(u64 n, u64 d);
s64 __divdi3(s64 n, s64 d);
s64 __moddi3(s64 n, s64 d);
s64 __negdi2(s64 a);
int __cmpdi2(s64 a, s64 b);
int __ucmpdi2(u64 a, u64 b);
u64 __ashldi3(u64 a, int n);
u64 __lshrdi3(u64 a, int n);
s64 __ashrdi3(s64 a, int n);
int __clzsi2(u32 x);
int __ctzsi2(u32 x);
int __clzdi2(u64 x);
int __ctzdi2(u64 x);
int __ffssi2(u32 x);
int __ffsdi2(u64 x);
int __clrsbsi2(s32 x);
int __clrsbdi2(s64 x);
int __popcountsi2(u32 x);
int __popcountdi2(u64 x);
int __paritysi2(u32 x);
int __paritydi2(u64 x);
u32 __bswapsi2(u32 x);
u64 __bswapdi2(u64 x);
s32 __addvsi3(s32 a, s32 b);
s32 __subvsi3(s32 a, s32 b);
s32 __mulvsi3(s32 a, s32 b);
s32 __negvsi2(s32 a);
s32 __absvsi2(s32 a);
s64 __addvdi3(s64 a, s64 b);
s64 __subvdi3(s64 a, s64 b);
s64 __mulvdi3(s64 a, s64 b);
s64 __negvdi2(s64 a);
s64 __absvdi2(s64 a);

#ifndef GVM_LIBGCC_TRAPV_ONLY

/* (hi:lo) / d for hi < d, so that the quotient fits 32 bits: one restoring
 * shift-subtract step per quotient bit (for udiv64by32 to fall back on) */
static u32 udiv64by32_steps(u32 hi, u32 lo, u32 d, u32 *rem)
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

static u64 udivmod64(u64 n, u64 d, u64 *rem)
{
    u32 nh = HI(n), nl = LO(n), dh = HI(d), dl = LO(d), r, qh, ql;
    int i;
    if (dh == 0) {
        if (dl == 0) { *rem = n; return ~(u64)0; }
        qh = nh < dl ? (r = nh, 0) : udivmod32(nh, dl, &r);   /* now r < dl */
        ql = udiv64by32(r, nl, dl, &r);
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

/* -------- 64-bit arithmetic -------- */

u64 __muldi3(u64 a, u64 b)
{
    return umul32x32(LO(a), LO(b)) + ((u64)(mul32(HI(a), LO(b)) + mul32(LO(a), HI(b))) << 32);
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

/* __builtin_clz(0) is undefined; libgcc's C versions return the width, as here */
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
    x += x >> 8;                            /* no multiply by 0x01010101 (see the rules) */
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

#endif /* GVM_LIBGCC_TRAPV_ONLY */

/* -------- -ftrapv: arithmetic that traps on signed overflow -------- */

s32 __addvsi3(s32 a, s32 b)
{
    s32 r = (s32)((u32)a + (u32)b);
    if (b >= 0 ? r < a : r > a) __builtin_trap();
    return r;
}

s32 __subvsi3(s32 a, s32 b)
{
    s32 r = (s32)((u32)a - (u32)b);
    if (b >= 0 ? r > a : r < a) __builtin_trap();
    return r;
}

s32 __negvsi2(s32 a)
{
    if ((u32)a == 0x80000000u) __builtin_trap();
    return (s32)(0u - (u32)a);
}

s32 __absvsi2(s32 a) { return a < 0 ? __negvsi2(a) : a; }

s32 __mulvsi3(s32 a, s32 b)
{
    int neg = (a < 0) != (b < 0);
    u64 p = umul32x32(a < 0 ? 0u - (u32)a : (u32)a, b < 0 ? 0u - (u32)b : (u32)b);
    if (HI(p) || LO(p) > 0x7fffffffu + (u32)neg) __builtin_trap();
    return (s32)(neg ? 0u - LO(p) : LO(p));
}

s64 __addvdi3(s64 a, s64 b)
{
    s64 r = (s64)((u64)a + (u64)b);
    if (b >= 0 ? r < a : r > a) __builtin_trap();
    return r;
}

s64 __subvdi3(s64 a, s64 b)
{
    s64 r = (s64)((u64)a - (u64)b);
    if (b >= 0 ? r > a : r < a) __builtin_trap();
    return r;
}

s64 __negvdi2(s64 a)
{
    if ((u64)a == MK64(0x80000000u, 0)) __builtin_trap();
    return (s64)(0 - (u64)a);
}

s64 __absvdi2(s64 a) { return a < 0 ? __negvdi2(a) : a; }

s64 __mulvdi3(s64 a, s64 b)
{
    int neg = (a < 0) != (b < 0);
    u64 ua = a < 0 ? 0 - (u64)a : (u64)a, ub = b < 0 ? 0 - (u64)b : (u64)b;
    u64 p, cross;
    u32 hi;
    if (HI(ua) && HI(ub)) __builtin_trap();            /* at least 2^64 */
    p = umul32x32(LO(ua), LO(ub));
    cross = HI(ua) ? umul32x32(HI(ua), LO(ub)) : umul32x32(LO(ua), HI(ub));
    hi = HI(p) + LO(cross);
    if (HI(cross) || hi < HI(p)) __builtin_trap();      /* the product needs 65+ bits */
    p = MK64(hi, LO(p));
    if (p > MK64(0x7fffffffu, 0xffffffffu) + (u64)neg) __builtin_trap();
    return (s64)(neg ? 0 - p : p);
}

#endif /* GVM_LIBGCC_H */
