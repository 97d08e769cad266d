/*
 * start.S - entry point of the GameVM example kernel (the resident).
 *
 * Kept minimal: point $sp at the top of the kernel's own stack (an array in
 * .bss, so no address is hard-wired for either console), call
 * gvm_kernel_main, and park the CPU when it returns (its result stays in $v0).
 * .bss is zeroed by whoever loads the resident (boot loader or emulator).
 */
#include "gvm.h"

        .text
        .globl  _start
        .type   _start, @function
        .set    noreorder
_start:
        la      $sp, gvm_stack + GVM_STACK_SIZE - 16
        jal     gvm_kernel_main
        nop
1:      b       1b
        nop
        .set    reorder
        .size   _start, . - _start
