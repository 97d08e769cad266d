/*
 * Run-time ABI helpers (__aeabi_*) and libgcc integer helpers for the 3DO's ARM60,
 * linked into every resident ahead of libgcc.
 *
 * Why: the ARM60 is ARMv3: no divide instruction (gcc calls __aeabi_uidiv & co.
 * for every '/' and '%'), no Thumb and so no BX, no long multiply (umull/smull),
 * no halfword or signed-byte loads.  arm-none-eabi's libgcc returns with bx and
 * uses umull/clz, so none of it may be linked in.  gcc cannot target ARMv3; with
 * -march=armv4 (no T) it returns with "mov pc, lr" and never emits bx, and
 * this file keeps clear of the rest:
 *  - no C '/' or '%' (a call to __aeabi_uidiv, possibly recursively): division
 *    is restoring shift-subtract;
 *  - no 32x32->64 C multiply (gcc emits umull for it): 64-bit products are built
 *    from 16x16->32 MULs, which ARMv3 has;
 *  - no bit-counting loops gcc could recognise as a popcount/ctz idiom.
 * __aeabi_{u,}ldivmod return two 64-bit values in r0-r3, which C cannot express,
 * so they are small naked asm wrappers around __udivmoddi4/__divmoddi4.
 * Division by zero just returns (unsigned: quotient all ones, remainder the
 * dividend) instead of calling __aeabi_idiv0, which would come from libgcc.
 * The GNU names (__udivsi3, __muldi3, ...) are defined too because libgcc keeps
 * them in the same archive members as the __aeabi_ ones: a reference to one
 * would pull in a member that clashes with the definitions here.
 * Works big- and little-endian.  Compiled with the profile's flags by
 * gamevm_build.resident.
 */

typedef unsigned int u32;
typedef int s32;
typedef unsigned long long u64;
typedef long long s64;

#define HI(x) ((u32)((x) >> 32))
#define LO(x) ((u32)(x))
#define MK64(hi, lo) (((u64)(u32)(hi) << 32) | (u32)(lo))

/* Two 32-bit results in r0 (first) and r1 (second), returned as one 64-bit value:
 * the AAPCS puts a long long's low word in r0 little-endian but its high word
 * big-endian. */
#ifdef __ARMEB__
#define R0R1(r0, r1) MK64(r0, r1)
#else
#define R0R1(r0, r1) MK64(r1, r0)
#endif

static u32 udivmod32(u32 n, u32 d, u32 *rem)
{
    u32 q = 0, bit = 1;
    if (d == 0) { *rem = n; return ~0u; }
    /* line d up under n's top bit so that small quotients take few steps
     * (there is no clz to do it in one); 2d <= n cannot overflow */
    while (d <= (n >> 1)) { d <<= 1; bit <<= 1; }
    do {
        if (n >= d) { n -= d; q |= bit; }
        d >>= 1;
    } while (bit >>= 1);
    *rem = n;
    return q;
}

/* (hi:lo) / d for hi < d, so that the quotient fits 32 bits */
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

static u64 udivmod64(u64 n, u64 d, u64 *rem)
{
    u32 nh = HI(n), nl = LO(n), dh = HI(d), dl = LO(d), r, qh, ql;
    int i;
    if (dh == 0) {
        if (dl == 0) { *rem = n; return ~(u64)0; }
        qh = udivmod32(nh, dl, &r);         /* now r < dl */
        ql = nh == 0 ? udivmod32(nl, dl, &r) : udiv64by32(r, nl, dl, &r);
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

/* full 64-bit product of two 32-bit values from four 16x16 products */
static u64 umul32x32(u32 a, u32 b)
{
    u32 al = a & 0xffff, ah = a >> 16, bl = b & 0xffff, bh = b >> 16;
    u32 ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
    u32 mid = lh + (ll >> 16);              /* neither sum can carry: */
    u32 mid2 = hl + (mid & 0xffff);         /* (2^16-1)^2 + 2^16-1 < 2^32 */
    return MK64(hh + (mid >> 16) + (mid2 >> 16), (mid2 << 16) | (ll & 0xffff));
}

/* -------- 32-bit division -------- */

u32 __aeabi_uidiv(u32 n, u32 d) { u32 r; return udivmod32(n, d, &r); }
u32 __udivsi3(u32 n, u32 d) __attribute__((alias("__aeabi_uidiv")));
u32 __umodsi3(u32 n, u32 d) { u32 r; udivmod32(n, d, &r); return r; }

u64 __aeabi_uidivmod(u32 n, u32 d)
{
    u32 r, q = udivmod32(n, d, &r);
    return R0R1(q, r);
}

static s32 sdivmod32(s32 n, s32 d, s32 *rem)
{
    u32 r, q = udivmod32(n < 0 ? -(u32)n : (u32)n, d < 0 ? -(u32)d : (u32)d, &r);
    *rem = n < 0 ? -(s32)r : (s32)r;
    return (n < 0) != (d < 0) ? -(s32)q : (s32)q;
}

s32 __aeabi_idiv(s32 n, s32 d) { s32 r; return sdivmod32(n, d, &r); }
s32 __divsi3(s32 n, s32 d) __attribute__((alias("__aeabi_idiv")));
s32 __modsi3(s32 n, s32 d) { s32 r; sdivmod32(n, d, &r); return r; }

u64 __aeabi_idivmod(s32 n, s32 d)
{
    s32 r, q = sdivmod32(n, d, &r);
    return R0R1(q, r);
}

/* -------- 64-bit division -------- */

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

/* quotient in r0:r1, remainder in r2:r3.  A 64-bit value in a register pair is
 * laid out as if loaded from memory with ldm, so loading the remainder's two
 * words in address order is right for both endiannesses.  r4 is pushed only to
 * keep sp 8-byte aligned across the call; returns without bx (ARMv3). */
#define DIVMOD_WRAPPER(name, helper)                                           \
    __attribute__((naked)) void name(void)                                     \
    {                                                                          \
        __asm__("stmfd  sp!, {r4, lr}\n\t"                                     \
                "sub    sp, sp, #16\n\t"                                       \
                "add    ip, sp, #8\n\t"                                        \
                "str    ip, [sp]\n\t"      /* 5th argument: &remainder */      \
                "bl     " #helper "\n\t"                                       \
                "ldr    r2, [sp, #8]\n\t"                                      \
                "ldr    r3, [sp, #12]\n\t"                                     \
                "add    sp, sp, #16\n\t"                                       \
                "ldmfd  sp!, {r4, pc}");                                       \
    }

DIVMOD_WRAPPER(__aeabi_uldivmod, __udivmoddi4)
DIVMOD_WRAPPER(__aeabi_ldivmod, __divmoddi4)

/* -------- 64-bit multiply, negate, compare -------- */

u64 __aeabi_lmul(u64 a, u64 b)
{
    return umul32x32(LO(a), LO(b)) + ((u64)(HI(a) * LO(b) + LO(a) * HI(b)) << 32);
}
u64 __muldi3(u64 a, u64 b) __attribute__((alias("__aeabi_lmul")));

s64 __negdi2(s64 a) { return -(u64)a; }

int __aeabi_lcmp(s64 a, s64 b) { return a < b ? -1 : a > b; }
int __aeabi_ulcmp(u64 a, u64 b) { return a < b ? -1 : a > b; }
/* libgcc's convention: 0 if a < b, 1 if equal, 2 if a > b */
int __cmpdi2(s64 a, s64 b) { return a < b ? 0 : a > b ? 2 : 1; }
int __ucmpdi2(u64 a, u64 b) { return a < b ? 0 : a > b ? 2 : 1; }

/* -------- 64-bit shifts (counts 0..63) -------- */

u64 __aeabi_llsl(u64 a, int n)
{
    u32 hi = HI(a), lo = LO(a);
    if (n == 0) return a;
    if (n >= 32) return MK64(lo << (n - 32), 0);
    return MK64((hi << n) | (lo >> (32 - n)), lo << n);
}
u64 __ashldi3(u64 a, int n) __attribute__((alias("__aeabi_llsl")));

u64 __aeabi_llsr(u64 a, int n)
{
    u32 hi = HI(a), lo = LO(a);
    if (n == 0) return a;
    if (n >= 32) return hi >> (n - 32);
    return MK64(hi >> n, (lo >> n) | (hi << (32 - n)));
}
u64 __lshrdi3(u64 a, int n) __attribute__((alias("__aeabi_llsr")));

s64 __aeabi_lasr(s64 a, int n)
{
    s32 hi = (s32)HI(a);
    u32 lo = LO(a);
    if (n == 0) return a;
    if (n >= 32) return MK64(hi >> 31, hi >> (n - 32));
    return MK64(hi >> n, (lo >> n) | ((u32)hi << (32 - n)));
}
s64 __ashrdi3(s64 a, int n) __attribute__((alias("__aeabi_lasr")));

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
    x += x >> 8;
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
