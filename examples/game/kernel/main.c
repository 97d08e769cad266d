/*
 * main.c - the example kernel's main loop and its own self test.
 */
#include "gvm.h"

/* The kernel's stack; start.S points $sp at its top. */
u8 gvm_stack[GVM_STACK_SIZE] __attribute__((aligned(8)));

volatile u32 gvm_frame_count;

int gvm_kernel_selftest(void)
{
    static const char hello[] = "hello";
    char buf[16];
    u32 a, b;
    u8 *p, *q;

    memset(buf, 'x', sizeof buf);
    memcpy(buf, hello, sizeof hello);
    if (gvm_strlen(buf) != 5 || memcmp(buf, "hello", 6) != 0 || (u8)buf[6] != 'x')
        return 1;
    memmove(buf + 1, buf, 5);                 /* overlapping copy */
    if (memcmp(buf, "hhello", 6) != 0)
        return 2;

    gvm_srand(42);
    a = gvm_rand();
    gvm_srand(42);
    b = gvm_rand();
    if (a != b || a == 0 || gvm_rand_range(10) >= 10)
        return 3;

    gvm_alloc_reset();
    p = gvm_alloc(3);
    q = gvm_alloc(5);
    if (p == NULL || q != p + 8 || gvm_alloc_used() != 16 || gvm_alloc(GVM_HEAP_SIZE) != NULL)
        return 4;
    gvm_alloc_reset();

    gvm_score_reset();
    gvm_score_add(150);
    gvm_score_add(-50);
    if (gvm_score_get() != 100 || gvm_hiscore_get() < 150)
        return 5;
    gvm_score_reset();
    return 0;
}

int gvm_loader_start(void);

int gvm_kernel_main(void)
{
    int status;

    gvm_print("GameVM kernel\n");
    if (gvm_loader_start() != 0)           /* kernel/loader.c: the console-side loader */
        return -1;
    status = gvm_kernel_selftest();
    gvm_print_int("kernel selftest", status);
    gvm_srand(0x2545f491u);
    gvm_frame_count = 0;
    return status;
}
