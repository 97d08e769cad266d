        .type   _start, @function
_start:
        lea     kernel_stack + KERNEL_STACK_SIZE, %sp
        jsr     kernel_main
1:      bra.s   1b
