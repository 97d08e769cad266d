/*
 * Run-time ABI helpers (__aeabi_*) and libgcc integer helpers for the 3DO's ARM60,
 * linked into every resident ahead of libgcc.
 *
 * Why: the ARM60 is ARMv3: no divide instruction (gcc calls __aeabi_uidiv & co.
 * for every '/' and '%'), no Thumb and so no BX, no long multiply (umull/smull),
 * no halfword or signed-byte loads.  arm-none-eabi's libgcc returns with bx, uses
 * umull/clz and is little-endian (the 3DO is big-endian), so none of it may be
 * linked in.  gcc cannot target ARMv3; with -march=armv4 (no T) it returns with
 * "mov pc, lr" and never emits bx.  This file has the 32-bit division, the
 * __aeabi_ names and the ARM primitives; the 64-bit, bit-counting and -ftrapv
 * helpers are gvm_libgcc.h's, whose rules also keep umull out: 64-bit products
 * are built from 16x16->32 MULs, which ARMv3 has.
 * __aeabi_{u,}ldivmod return two 64-bit values in r0-r3, which C cannot express,
 * so they are small naked asm wrappers around __udivmoddi4/__divmoddi4.
 * Division by zero just returns (unsigned: quotient all ones, remainder the
 * dividend) instead of calling __aeabi_idiv0, which would come from libgcc.
 * The GNU names (__udivsi3, __muldi3, ...) are defined too because libgcc keeps
 * them in the same archive members as the __aeabi_ ones: a reference to one
 * would pull in a member that clashes with the definitions here.
 * Works big- and little-endian.  Compiled with the profile's flags by
 * gamevm_build.link.resident.
 */
#include "gvm_libgcc.h"

/* Two 32-bit results in r0 (first) and r1 (second), returned as one 64-bit value:
 * the AAPCS puts a long long's low word in r0 little-endian but its high word
 * big-endian. */
#ifdef __ARMEB__
#define R0R1(r0, r1) MK64(r0, r1)
#else
#define R0R1(r0, r1) MK64(r1, r0)
#endif

static u32 mul32(u32 a, u32 b) { return a * b; }        /* MUL: ARMv2 has it */

/* full 64-bit product of two 32-bit values from four 16x16 products */
static u64 umul32x32(u32 a, u32 b)
{
    u32 al = a & 0xffff, ah = a >> 16, bl = b & 0xffff, bh = b >> 16;
    u32 ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
    u32 mid = lh + (ll >> 16);              /* neither sum can carry: */
    u32 mid2 = hl + (mid & 0xffff);         /* (2^16-1)^2 + 2^16-1 < 2^32 */
    return MK64(hh + (mid >> 16) + (mid2 >> 16), (mid2 << 16) | (ll & 0xffff));
}

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

static u32 udiv64by32(u32 hi, u32 lo, u32 d, u32 *rem)
{
    if (hi == 0)
        return udivmod32(lo, d, rem);
    return udiv64by32_steps(hi, lo, d, rem);
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

/* -------- 64-bit: the __aeabi_ names of gvm_libgcc.h's helpers -------- */

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

u64 __aeabi_lmul(u64 a, u64 b) __attribute__((alias("__muldi3")));
u64 __aeabi_llsl(u64 a, int n) __attribute__((alias("__ashldi3")));
u64 __aeabi_llsr(u64 a, int n) __attribute__((alias("__lshrdi3")));
s64 __aeabi_lasr(s64 a, int n) __attribute__((alias("__ashrdi3")));

int __aeabi_lcmp(s64 a, s64 b) { return a < b ? -1 : a > b; }
int __aeabi_ulcmp(u64 a, u64 b) { return a < b ? -1 : a > b; }
