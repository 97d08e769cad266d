/*
 * fixed.c - 16.16 fixed-point arithmetic and trigonometry (integer only).
 */
#include "physics.h"

/* sin(i * pi/128) for a quarter turn, 16.16; lives in .rodata. */
static const fx_t sin_quarter[FX_ANGLE_QUARTER + 1] = {
    0, 1608, 3216, 4821, 6424, 8022, 9616, 11204,
    12785, 14359, 15924, 17479, 19024, 20557, 22078, 23586,
    25080, 26558, 28020, 29466, 30893, 32303, 33692, 35062,
    36410, 37736, 39040, 40320, 41576, 42806, 44011, 45190,
    46341, 47464, 48559, 49624, 50660, 51665, 52639, 53581,
    54491, 55368, 56212, 57022, 57798, 58538, 59244, 59914,
    60547, 61145, 61705, 62228, 62714, 63162, 63572, 63944,
    64277, 64571, 64827, 65043, 65220, 65358, 65457, 65516,
    65536,
};

fx_t fx_mul(fx_t a, fx_t b)
{
#if defined(__ARM_ARCH_4__)
    /* 3DO: the ARM60 has no long multiply (smull); the same product from 16-bit halves */
    u32 ua = a < 0 ? 0u - (u32)a : (u32)a, ub = b < 0 ? 0u - (u32)b : (u32)b;
    unsigned long long p = (unsigned long long)((ua >> 16) * (ub >> 16)) << 32;
    p += (unsigned long long)((ua >> 16) * (ub & 0xffff)) << 16;
    p += (unsigned long long)((ua & 0xffff) * (ub >> 16)) << 16;
    p += (ua & 0xffff) * (ub & 0xffff);
    return (fx_t)(((a < 0) != (b < 0) ? -(long long)p : (long long)p) >> FX_SHIFT);
#else
    /* 32x32->64 multiply is one MIPS `mult`; no libgcc call. */
    return (fx_t)(((long long)a * b) >> FX_SHIFT);
#endif
}

fx_t fx_div(fx_t a, fx_t b)
{
    int negative = (a < 0) != (b < 0);
    u32 ua = a < 0 ? 0u - (u32)a : (u32)a;
    u32 ub = b < 0 ? 0u - (u32)b : (u32)b;
    u32 q, r;
    int i;

    if (ub == 0)
        return negative ? FX_MIN : FX_MAX;
    /* Integer part by hardware division, then 16 fraction bits by long division. */
    q = ua / ub;
    r = ua % ub;
    for (i = 0; i < FX_SHIFT; i++) {
        int carry = (r & 0x80000000u) != 0;
        r <<= 1;
        q <<= 1;
        if (carry || r >= ub) {
            r -= ub;
            q |= 1;
        }
    }
    return negative ? (fx_t)(0u - q) : (fx_t)q;
}

fx_t fx_sin(u32 angle)
{
    u32 a = angle % FX_ANGLE_FULL;
    u32 quadrant = a / FX_ANGLE_QUARTER;
    u32 i = a % FX_ANGLE_QUARTER;

    switch (quadrant) {
    case 0: return sin_quarter[i];
    case 1: return sin_quarter[FX_ANGLE_QUARTER - i];
    case 2: return -sin_quarter[i];
    default: return -sin_quarter[FX_ANGLE_QUARTER - i];
    }
}

fx_t fx_cos(u32 angle)
{
    return fx_sin(angle + FX_ANGLE_QUARTER);
}

u32 fx_isqrt(u32 v)
{
    u32 root = 0;
    u32 bit = 1u << 30;

    while (bit > v)
        bit >>= 2;
    while (bit != 0) {
        if (v >= root + bit) {
            v -= root + bit;
            root = (root >> 1) + bit;
        } else {
            root >>= 1;
        }
        bit >>= 2;
    }
    return root;
}

fx_t fx_length(fx_vec2 v)
{
    /* Work in 8.8 so the squares fit in 32 bits (|x|, |y| < 128.0). */
    u32 x = (u32)(v.x < 0 ? -v.x : v.x) >> 8;
    u32 y = (u32)(v.y < 0 ? -v.y : v.y) >> 8;

    return (fx_t)(fx_isqrt(x * x + y * y) << 8);
}

fx_vec2 fx_vec2_scale(fx_vec2 v, fx_t s)
{
    fx_vec2 r;

    r.x = fx_mul(v.x, s);
    r.y = fx_mul(v.y, s);
    return r;
}
