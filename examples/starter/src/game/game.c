/*
 * game.c - the game module: a relocatable ELF file the kernel loads at run
 * time.  It imports kernel_print from the kernel; the loader binds it.
 */
#include "kernel.h"

static int score;                       /* .bss: zeroed when the module loads */
static const int bonus[4] = {0, 10, 25, 50};   /* .rodata */

/* Add `points`, plus the bonus of `combo` (0 to 3); return the new score. */
int game_add_points(int points, int combo)
{
    score += points + bonus[combo & 3];
    kernel_print("points\n");
    return score;
}

int game_score(void)
{
    return score;
}

int gamevm_selftest(void)
{
    int before = score;

    if (game_add_points(5, 2) != before + 30)
        return 1;
    if (game_score() != before + 30)
        return 2;
    score = before;
    return 0;
}
