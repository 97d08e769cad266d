/*
 * start.S - the kernel's entry point, _start (the resident's entry symbol).
 *
 * Point the stack pointer at the top of kernel_stack (an array in .bss,
 * kernel.c: no console address is hard-wired), call kernel_main and park the
 * CPU when it returns.  Whoever loads the resident (the console's boot code,
 * the emulator) zeroes its .bss.  One entry per CPU family of this project's
 * consoles ({{consoles}}), picked by the compiler's target.
 */
#include "kernel.h"

        .text
        .globl  _start
{{entries}}
#else
#error "start.S: no entry point for this CPU (gamevm new writes one per console it is given)"
#endif
        .size   _start, . - _start
