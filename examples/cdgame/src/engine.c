/*
 * engine.c - the CD game's engine module: stays resident, the part modules import it.
 */
#include "cdgame.h"

static u32 scenes;

void eng_sum(const unsigned char *p, u32 n, u32 sum[2])
{
    u32 a = sum[0], b = sum[1];
    while (n--) {
        a += *p++;
        b += a;
    }
    sum[0] = a;
    sum[1] = b;
}

int eng_check(const cd_assets *assets, const u32 expect[2])
{
    u32 sum[2] = {0, 0}, i;
    for (i = 0; i < assets->count; i++) {
        if (assets->parts[i].size == 0)
            return 1;
        eng_sum(assets->parts[i].data, assets->parts[i].size, sum);
    }
    return sum[0] == expect[0] && sum[1] == expect[1] ? 0 : 2;
}

u32 eng_scene_count(void)
{
    return scenes;
}

void eng_enter_scene(void)
{
    scenes++;
}

int gamevm_selftest(void)
{
    static const unsigned char abc[3] = {1, 2, 3};
    u32 sum[2] = {0, 0};
    eng_sum(abc, 3, sum);
    return sum[0] == 6 && sum[1] == 10 ? 0 : 1;
}
