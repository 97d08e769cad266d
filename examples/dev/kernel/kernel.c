/*
 * kernel.c - the dev example's resident: a little state the modules read.  Under
 * gamevm dev the host runs the frame loop (each frame calls the scene's modules'
 * gamevm_frame), so _start only parks the CPU.
 */
#include "kernel.h"

volatile int kernel_frames;

int kernel_lives(void)
{
    return 3;
}

void _start(void)
{
    for (;;)
        ;
}
