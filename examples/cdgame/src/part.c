/*
 * part.c - the code of every data module (a world, its music, a boss, a screen, shared
 * graphics and sounds), compiled once per module with MOD defined to its name
 * (gen/<module>_code.c, written by the SConscript): MOD_init enters the scene, and the
 * self test checks every byte of the module's assets against the generator's sums, so a
 * module that was packed, compressed and decoded on the console is proven whole.
 */
#include "cdgame.h"

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define M(x) CAT(MOD, x)

extern const cd_assets M(_assets);
extern const u32 M(_sum)[2];

static u32 entered;                 /* data the module keeps (its .bss) */

int M(_init)(void)
{
    eng_enter_scene();
    entered++;
    return (int)M(_assets).count;
}

int gamevm_selftest(void)
{
    return eng_check(&M(_assets), M(_sum));
}
