/*
 * map.c - level1's tile map: a big array in .bss and the tile rules (a
 * switch dense enough for gcc to compile into a jump table in .rodata).
 */
#include "level1.h"

u8 level1_map[MAP_W * MAP_H];            /* 4 KiB of .bss */

void map_build(u32 seed)
{
    int x, y;

    gvm_srand(seed);
    memset(level1_map, T_EMPTY, sizeof level1_map);
    for (y = 0; y < MAP_H; y++) {
        for (x = 0; x < MAP_W; x++) {
            u8 *t = &level1_map[y * MAP_W + x];
            if (y == MAP_H - 1 || x == 0 || x == MAP_W - 1)
                *t = T_WALL;
            else if (gvm_rand_range(16) == 0)
                *t = (u8)(T_COIN + gvm_rand_range(T_GEM - T_COIN + 1));
        }
    }
    level1_map[(MAP_H - 2) * MAP_W + MAP_W - 2] = T_DOOR;
}

int map_count(int tile)
{
    int i, n = 0;

    for (i = 0; i < MAP_W * MAP_H; i++)
        n += level1_map[i] == tile;
    return n;
}

/* What touching a tile does to the player; returns the points scored. */
__attribute__((noinline)) int map_touch(player_t *p, int tile)
{
    switch (tile) {
    case T_EMPTY:
        return 0;
    case T_WALL:
        p->body.vel.x = -p->body.vel.x / 2;
        return 0;
    case T_COIN:
        gvm_score_add(10);
        return 10;
    case T_SPIKE:
        p->lives--;
        gvm_print("ouch\n");
        return -5;
    case T_SPRING:
        p->body.vel.y = -FX(12);
        p->body.flags &= ~PHYS_ON_GROUND;
        return 1;
    case T_DOOR:
        if (p->keys == 0) {
            gvm_print("the door is locked\n");
            return 0;
        }
        p->keys--;
        p->exited = 1;
        gvm_score_add(100);
        return 100;
    case T_KEY:
        p->keys++;
        return 25;
    case T_WATER:
        p->body.vel = fx_vec2_scale(p->body.vel, FX_HALF);
        return 2;
    case T_GEM:
        gvm_score_add(50 + (s32)gvm_rand_range(50));
        return 50;
    default:
        return -1;
    }
}
