/*
 * body.c - integrating and colliding bodies; the physics module's self test.
 */
#include "physics.h"

fx_t phys_floor_y = FX(100);

void phys_step(phys_body *b, fx_t gravity, fx_t dt)
{
    b->vel.y += fx_mul(gravity, dt);
    b->pos.x += fx_mul(b->vel.x, dt);
    b->pos.y += fx_mul(b->vel.y, dt);
    if (b->pos.y + b->radius >= phys_floor_y) {
        b->pos.y = phys_floor_y - b->radius;
        b->vel.y = 0;
        b->flags |= PHYS_ON_GROUND;
    } else {
        b->flags &= ~PHYS_ON_GROUND;
    }
}

int phys_collide(const phys_body *a, const phys_body *b)
{
    fx_vec2 d;

    d.x = a->pos.x - b->pos.x;
    d.y = a->pos.y - b->pos.y;
    return fx_length(d) < a->radius + b->radius;
}

int gamevm_selftest(void)
{
    phys_body a = { { FX(0), FX(0) }, { FX(2), FX(0) }, FX(1), 0 };
    phys_body b = { { FX(3), FX(4) }, { 0, 0 }, FX(1), 0 };
    fx_vec2 v = { FX(3), FX(4) };
    int i;

    if (fx_mul(FX(3), FX(4)) != FX(12) || fx_mul(-FX_HALF, FX(3)) != -FX(3) / 2)
        return 1;
    if (fx_div(FX(1), FX(4)) != FX_ONE / 4 || fx_div(FX(-9), FX(3)) != FX(-3))
        return 2;
    if (fx_sin(0) != 0 || fx_sin(64) != FX_ONE || fx_sin(128) != 0 || fx_sin(192) != -FX_ONE)
        return 3;
    if (fx_cos(0) != FX_ONE || fx_cos(128) != -FX_ONE || fx_sin(32) != 46341)
        return 4;
    if (fx_isqrt(144) != 12 || fx_isqrt(145) != 12 || fx_isqrt(0xfffffffeu) != 65535)
        return 5;
    if (fx_length(v) != FX(5))
        return 6;
    if (phys_collide(&a, &b))                  /* 5.0 apart, radii sum 2.0 */
        return 7;
    b.pos.x = FX(1);
    b.pos.y = FX(1);
    if (!phys_collide(&a, &b))
        return 8;
    /* Fall from 0 onto the floor at 100: lands and stays there. */
    for (i = 0; i < 200; i++)
        phys_step(&a, FX(10), FX_ONE / 8);
    if (!(a.flags & PHYS_ON_GROUND) || a.pos.y != phys_floor_y - a.radius || a.pos.x != FX(50))
        return 9;
    return 0;
}
