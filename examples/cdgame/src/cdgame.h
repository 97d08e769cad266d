/*
 * cdgame.h - what the CD game's modules share: the engine's exports and the layout of
 * each module's asset table (written by assets.py: a count, then (pointer, size) per
 * part, then the parts' checksum as the generator computed it).
 */
#ifndef CDGAME_H
#define CDGAME_H

typedef unsigned int u32;

typedef struct {
    const unsigned char *data;
    u32 size;
} cd_part;

typedef struct {
    u32 count;
    cd_part parts[1];               /* `count` of them */
} cd_assets;

/* engine: Fletcher-style sums (a += byte; b += a, modulo 2^32) over `n` bytes */
void eng_sum(const unsigned char *p, u32 n, u32 sum[2]);
/* engine: the parts of `assets` summed in order, compared with `expect` (0: equal) */
int eng_check(const cd_assets *assets, const u32 expect[2]);
/* engine: scenes entered since the engine was loaded */
u32 eng_scene_count(void);
void eng_enter_scene(void);

#endif
