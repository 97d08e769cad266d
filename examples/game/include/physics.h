/*
 * physics.h - API of the "physics" module: 16.16 fixed-point maths and
 * simple rigid bodies.  Imported by the level1 and boss modules.
 */
#ifndef PHYSICS_H
#define PHYSICS_H

#include "gvm.h"

typedef s32 fx_t;                        /* 16.16 fixed point */

#define FX_SHIFT   16
#define FX_ONE     (1 << FX_SHIFT)
#define FX(i)      ((fx_t)((i) * FX_ONE))
#if defined(__ARM_ARCH_4__)
/* 3DO (ARM60, ARMv3; built as ARMv4): gcc would load just the high half of a
 * struct field with ldrsh, which the ARM60 lacks; the empty asm keeps the
 * whole word in a register.  gamevm_build's disassembler check found it. */
static inline s32 fx_int(s32 f) { __asm__("" : "+r"(f)); return f >> FX_SHIFT; }
#define FX_INT(f)  fx_int((s32)(f))
#else
#define FX_INT(f)  ((s32)(f) >> FX_SHIFT)
#endif
#define FX_HALF    (FX_ONE / 2)
#define FX_MAX     ((fx_t)0x7fffffff)
#define FX_MIN     ((fx_t)-0x7fffffff - 1)

/* Angles are binary: 256 units per full turn. */
#define FX_ANGLE_FULL    256u
#define FX_ANGLE_QUARTER 64u

typedef struct {
    fx_t x, y;
} fx_vec2;

#define PHYS_ON_GROUND 0x1

typedef struct {
    fx_vec2 pos;
    fx_vec2 vel;
    fx_t radius;
    s32 flags;
} phys_body;

fx_t fx_mul(fx_t a, fx_t b);
fx_t fx_div(fx_t a, fx_t b);
fx_t fx_sin(u32 angle);
fx_t fx_cos(u32 angle);
u32 fx_isqrt(u32 v);
fx_t fx_length(fx_vec2 v);
fx_vec2 fx_vec2_scale(fx_vec2 v, fx_t s);

/* World floor used by phys_step (bodies rest on it). */
extern fx_t phys_floor_y;

/* Advance a body by dt under gravity; lands it on phys_floor_y. */
void phys_step(phys_body *b, fx_t gravity, fx_t dt);
/* Non-zero when two bodies' circles overlap. */
int phys_collide(const phys_body *a, const phys_body *b);

#endif /* PHYSICS_H */
