/*
 * start.S - entry point of the GameVM example kernel (the resident).
 *
 * Kept minimal: point the stack pointer at the top of the kernel's own stack
 * (an array in .bss, so no address is hard-wired for any console), call
 * gvm_kernel_main, and park the CPU when it returns (its result stays in the
 * result register).  .bss is zeroed by whoever loads the resident (boot loader
 * or emulator).  One entry per CPU family, picked by the compiler's target.
 */
#include "gvm.h"

        .text
        .globl  _start
#if defined(__mips__)
        .type   _start, @function
        .set    noreorder
_start:
        la      $sp, gvm_stack + GVM_STACK_SIZE - 16
        jal     gvm_kernel_main
        nop
1:      b       1b
        nop
        .set    reorder
#elif defined(__m68k__)
        .type   _start, @function
_start:
        lea     gvm_stack + GVM_STACK_SIZE, %sp
        jsr     gvm_kernel_main
1:      bra.s   1b
#elif defined(__arm__)
        .arm
        .type   _start, %function
_start:
        ldr     sp, =gvm_stack + GVM_STACK_SIZE
        bl      gvm_kernel_main
1:      b       1b
        .ltorg
#else
#error "start.S: no entry point for this CPU"
#endif
        .size   _start, . - _start
