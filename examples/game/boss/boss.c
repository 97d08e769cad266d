/*
 * boss.c - the boss fight, loaded as an overlay when the player reaches it.
 * Imports from the kernel (memcpy via struct copies, gvm_rand, gvm_alloc,
 * score) and from the physics module (orbit movement with fx_sin/fx_cos).
 */
#include "gvm.h"
#include "physics.h"

enum boss_phase { PHASE_ENTER, PHASE_ORBIT, PHASE_CHARGE, PHASE_ENRAGED, PHASE_DEFEATED };

typedef struct {
    char name[24];
    s32 hp;
    s32 phase;
    u32 angle;
    u32 timer;
    fx_t orbit_radius;
    phys_body body;
    u8 attack_pattern[64];
} boss_t;

typedef struct {
    phys_body body;
    s32 damage;
} projectile_t;

/* The template is copied with a struct assignment: gcc emits a memcpy call. */
static const boss_t boss_template = {
    "Mecha Tortoise", 100, PHASE_ENTER, 0, 0, FX(20),
    { { FX(32), FX(8) }, { 0, 0 }, FX(3), 0 },
    { 0, 1, 0, 2, 1, 1, 0, 3, 0, 1, 2, 2, 0, 3, 1, 0,
      1, 1, 0, 0, 2, 0, 1, 3, 0, 0, 1, 2, 1, 0, 3, 3,
      0, 2, 0, 2, 1, 0, 1, 0, 3, 0, 0, 1, 2, 1, 0, 1,
      2, 0, 1, 1, 0, 3, 0, 2, 1, 0, 0, 2, 1, 3, 0, 1 },
};

static boss_t boss;
static projectile_t *shots[8];

void boss_spawn(void)
{
    int i;

    boss = boss_template;
    for (i = 0; i < GVM_COUNTOF(shots); i++)
        shots[i] = NULL;
}

static projectile_t *boss_fire(fx_t speed)
{
    int i;
    projectile_t *p;

    for (i = 0; i < GVM_COUNTOF(shots); i++)
        if (shots[i] == NULL)
            break;
    if (i == GVM_COUNTOF(shots) || (p = gvm_alloc(sizeof *p)) == NULL)
        return NULL;
    p->body = boss.body;
    p->body.radius = FX_HALF;
    p->body.vel.x = fx_mul(fx_cos(boss.angle), speed);
    p->body.vel.y = fx_mul(fx_sin(boss.angle), speed);
    p->damage = boss.phase == PHASE_ENRAGED ? 2 : 1;
    shots[i] = p;
    return p;
}

int boss_hit(s32 damage)
{
    if (boss.phase == PHASE_DEFEATED)
        return 0;
    boss.hp -= damage;
    if (boss.hp <= 0) {
        boss.hp = 0;
        boss.phase = PHASE_DEFEATED;
        gvm_score_add(1000);
        gvm_print("boss defeated\n");
    } else if (boss.hp < 30) {
        boss.phase = PHASE_ENRAGED;
    }
    return boss.hp;
}

void boss_update(void)
{
    boss.timer++;
    switch (boss.phase) {
    case PHASE_ENTER:
        boss.body.pos.y += FX_HALF;
        if (boss.body.pos.y >= FX(20))
            boss.phase = PHASE_ORBIT;
        break;
    case PHASE_ORBIT:
    case PHASE_ENRAGED:
        boss.angle += boss.phase == PHASE_ENRAGED ? 4 : 2;
        boss.body.pos.x = FX(32) + fx_mul(fx_cos(boss.angle), boss.orbit_radius);
        boss.body.pos.y = FX(20) + fx_mul(fx_sin(boss.angle), boss.orbit_radius);
        if (boss.attack_pattern[boss.timer % sizeof boss.attack_pattern] != 0 && gvm_rand_range(4) == 0)
            boss_fire(FX(2));
        break;
    case PHASE_CHARGE:
        phys_step(&boss.body, FX(10), FX_ONE / 30);
        break;
    default:
        break;
    }
}

int boss_hp(void)
{
    return boss.hp;
}

int gamevm_selftest(void)
{
    projectile_t *p;
    int i;

    boss_spawn();
    if (boss.hp != 100 || boss.attack_pattern[7] != 3 || memcmp(boss.name, "Mecha", 5) != 0)
        return 1;
    for (i = 0; i < 24; i++)
        boss_update();
    if (boss.phase != PHASE_ORBIT)
        return 2;
    boss.angle = 0;
    p = boss_fire(FX(2));
    if (p == NULL || p->body.vel.x != FX(2) || p->body.vel.y != 0 || p->damage != 1)
        return 3;
    if (boss_hit(75) != 25 || boss.phase != PHASE_ENRAGED)
        return 4;
    gvm_score_reset();
    if (boss_hit(30) != 0 || boss.phase != PHASE_DEFEATED || gvm_score_get() != 1000)
        return 5;
    return 0;
}
