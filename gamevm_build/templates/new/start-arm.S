        .arm
        .type   _start, %function
_start:
        ldr     sp, =kernel_stack + KERNEL_STACK_SIZE
        bl      kernel_main
1:      b       1b
        .ltorg
