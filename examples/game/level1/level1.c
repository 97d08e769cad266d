/*
 * level1.c - the first level.  Imports from the kernel (gvm_print, gvm_alloc,
 * memset, score...) and from the physics module (fx_*, phys_*).
 *
 * It exercises what a module loader has to get right: a constructor, a table
 * of function pointers in .data, a big .bss array (map.c), a jump table in
 * .rodata (map.c), string literals, and imported data (gvm_frame_count).
 */
#include "level1.h"

static const char level_name[] = "Level 1: Green Hill";
static s32 constructed;
static player_t *player;

/* ---- enemy behaviours, selected through a table in .data ------------------- */

static void ai_idle(phys_body *b)
{
    b->vel.x = 0;
}

static void ai_patrol(phys_body *b)
{
    b->vel.x = fx_cos(gvm_frame_count & 0xff) * 2;
}

static void ai_chase(phys_body *b)
{
    if (player != NULL)
        b->vel.x = player->body.pos.x > b->pos.x ? FX(3) : -FX(3);
}

static void ai_hop(phys_body *b)
{
    if (b->flags & PHYS_ON_GROUND)
        b->vel.y = -FX(8);
}

/* Writable (behaviours can be swapped at run time), so it stays in .data. */
void (*level1_ai[])(phys_body *) = { ai_idle, ai_patrol, ai_chase, ai_hop };

void level1_set_ai(int slot, void (*fn)(phys_body *))
{
    if (slot >= 0 && slot < GVM_COUNTOF(level1_ai))
        level1_ai[slot] = fn;
}

/* ---- lifecycle ------------------------------------------------------------------ */

__attribute__((constructor)) static void level1_construct(void)
{
    constructed = 0x1e7e1;
    gvm_print("level1: constructor ran\n");
}

int level1_init(void)
{
    player = gvm_alloc(sizeof *player);
    if (player == NULL)
        return -1;
    memset(player, 0, sizeof *player);
    player->body.pos.x = FX(2);
    player->body.radius = FX_HALF;
    player->lives = 3;
    map_build(1234);
    gvm_print(level_name);
    gvm_print("\n");
    return 0;
}

int level1_update(void)
{
    phys_body *b = &player->body;
    int tx, ty;

    phys_step(b, FX(20), FX_ONE / 60);
    tx = FX_INT(b->pos.x);
    ty = FX_INT(b->pos.y);
    if (tx >= 0 && tx < MAP_W && ty >= 0 && ty < MAP_H)
        return map_touch(player, level1_map[ty * MAP_W + tx]);
    return 0;
}

/* ---- self test ------------------------------------------------------------------ */

int gamevm_selftest(void)
{
    player_t p;
    phys_body enemy;
    int coins, i;

    if (constructed != 0x1e7e1)             /* the loader must run constructors */
        return 1;
    if (gvm_strlen(level_name) != 19 || level_name[6] != '1')
        return 2;
    if (level1_init() != 0 || player->lives != 3 || player->body.pos.x != FX(2))
        return 3;
    if (level1_map[0] != T_WALL || level1_map[MAP_W * MAP_H - 1] != T_WALL
        || level1_map[(MAP_H - 2) * MAP_W + MAP_W - 2] != T_DOOR)
        return 4;
    coins = map_count(T_COIN);
    if (coins <= 0 || coins > MAP_W * MAP_H / 4)
        return 5;

    /* Every case of the jump table. */
    memset(&p, 0, sizeof p);
    p.lives = 3;
    p.body.vel.x = FX(4);
    p.body.vel.y = FX(2);
    if (map_touch(&p, T_EMPTY) != 0 || map_touch(&p, T_WALL) != 0 || p.body.vel.x != -FX(2))
        return 6;
    if (map_touch(&p, T_COIN) != 10 || map_touch(&p, T_SPIKE) != -5 || p.lives != 2)
        return 7;
    if (map_touch(&p, T_SPRING) != 1 || p.body.vel.y != -FX(12))
        return 8;
    if (map_touch(&p, T_DOOR) != 0 || map_touch(&p, T_KEY) != 25 || p.keys != 1
        || map_touch(&p, T_DOOR) != 100 || !p.exited || p.keys != 0)
        return 9;
    if (map_touch(&p, T_WATER) != 2 || p.body.vel.y != -FX(6) || p.body.vel.x != -FX(1))
        return 10;
    if (map_touch(&p, T_GEM) != 50 || map_touch(&p, 200) != -1)
        return 11;

    /* The function-pointer table in .data. */
    memset(&enemy, 0, sizeof enemy);
    enemy.vel.x = FX(5);
    level1_ai[0](&enemy);
    if (enemy.vel.x != 0)
        return 12;
    enemy.flags = PHYS_ON_GROUND;
    level1_ai[3](&enemy);
    if (enemy.vel.y != -FX(8))
        return 13;
    enemy.pos.x = FX(10);
    level1_ai[2](&enemy);
    if (enemy.vel.x != -FX(3))
        return 14;

    /* Drop the player through a coin onto the floor (physics module). */
    memset(level1_map, T_EMPTY, sizeof level1_map);
    level1_map[10 * MAP_W + 2] = T_COIN;
    gvm_score_reset();
    for (i = 0; i < 400; i++)
        level1_update();
    if (!(player->body.flags & PHYS_ON_GROUND) || player->body.pos.y != phys_floor_y - FX_HALF)
        return 15;
    if (gvm_score_get() < 10)
        return 16;
    return 0;
}
