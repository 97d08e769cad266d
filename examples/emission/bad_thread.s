/* A TTC thread holding a code address, which TTC threads may not: gamevm module
 * --emission ttc refuses it, naming the site (docs/formats.md). */
    .section .gvm.thread.ttc,"a"
    .byte 1, 2
    .4byte gvm_p_add
