/*
 * start.S - the kernel's entry point, _start (the resident's entry symbol).
 *
 * Point the stack pointer at the top of kernel_stack (an array in .bss,
 * kernel.c: no console address is hard-wired), call kernel_main and park the
 * CPU when it returns.  Whoever loads the resident (the console's boot code,
 * the emulator) zeroes its .bss.  One entry per CPU family of this project's
 * consoles (psx, gba), picked by the compiler's target.
 */
#include "kernel.h"

        .text
        .globl  _start
#if defined(__mips__)                   /* psx */
        .type   _start, @function
        .set    noreorder
_start:
        la      $sp, kernel_stack + KERNEL_STACK_SIZE - 16
        jal     kernel_main
        nop
1:      b       1b
        nop
        .set    reorder
#elif defined(__arm__)                  /* gba */
        .arm
        .type   _start, %function
_start:
        ldr     sp, =kernel_stack + KERNEL_STACK_SIZE
        bl      kernel_main
1:      b       1b
        .ltorg
#else
#error "start.S: no entry point for this CPU (gamevm new writes one per console it is given)"
#endif
        .size   _start, . - _start
