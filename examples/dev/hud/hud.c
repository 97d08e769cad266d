/*
 * hud.c - the module gamevm dev edits in docs/dev.md.  gamevm_frame runs once a
 * frame; its result is shown on the session's frame lines.  Edit hud_message and
 * save: the next frames show the new value while ticks (bss) keeps counting.
 */
#include "gamevm.h"
#include "kernel.h"
#include "hud.h"

static int ticks;                          /* frames the HUD has drawn: kept by reloads */

struct hud_state {
    int score;
    int lives;
} hud_state = {0, 0};                      /* grow it and gamevm dev reports the resize */

int hud_message(void)
{
    return 1;
}

int hud_ticks(void)
{
    return ticks;
}

int gamevm_frame(int frame)
{
    char line[48];

    ticks++;
    hud_state.score += 10;
    hud_state.lives = kernel_lives();
    kernel_frames = frame;
    if ((ticks & 63) == 1) {               /* every 64 frames: a mask, no division */
        char *p = hud_put_str(line, "hud: ticks ");
        hud_put_int(p, ticks);
        GameVMPrint(line);
    }
    return hud_message();
}
