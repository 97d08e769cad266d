/* level1.h - private declarations shared by the level1 module's sources. */
#ifndef LEVEL1_H
#define LEVEL1_H

#include "gvm.h"
#include "physics.h"

#define MAP_W 64
#define MAP_H 64

enum tile {
    T_EMPTY, T_WALL, T_COIN, T_SPIKE, T_SPRING, T_DOOR, T_KEY, T_WATER, T_GEM
};

typedef struct {
    phys_body body;
    s32 keys;
    s32 lives;
    s32 exited;
} player_t;

extern u8 level1_map[MAP_W * MAP_H];

void map_build(u32 seed);
int map_count(int tile);
int map_touch(player_t *p, int tile);

#endif
