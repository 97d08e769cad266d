        .type   _start, @function
        .set    noreorder
_start:
        la      $sp, kernel_stack + KERNEL_STACK_SIZE - 16
        jal     kernel_main
        nop
1:      b       1b
        nop
        .set    reorder
