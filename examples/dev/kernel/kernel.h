/* kernel.h - what the dev example's kernel gives its modules. */
#ifndef DEV_KERNEL_H
#define DEV_KERNEL_H

extern volatile int kernel_frames;        /* frames the game has run */
int kernel_lives(void);

#endif
