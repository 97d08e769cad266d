/*
 * kernel.c - the resident kernel: its stack, its services for modules, and a
 * self test that loads the game module at run time through gamevm.h
 * (LoadModule, GetModuleProc, UnloadModule).
 *
 * The SConstruct links the kernel with GAMEVM_MODULES=game, so every symbol
 * the module imports from here is kept through --gc-sections, and a module
 * importing something the kernel lacks fails the build.
 */
#include "kernel.h"
#include "gamevm.h"

unsigned char kernel_stack[KERNEL_STACK_SIZE] __attribute__((aligned(8)));
char kernel_console[KERNEL_CONSOLE_SIZE];
unsigned kernel_console_head;

void kernel_print(const char *msg)
{
    while (*msg) {
        kernel_console[kernel_console_head & (KERNEL_CONSOLE_SIZE - 1)] = *msg++;
        kernel_console_head++;
    }
}

/* Loop distribution stays off here, or gcc turns these loops back into calls to themselves. */
#define NO_LIBCALLS __attribute__((optimize("no-tree-loop-distribute-patterns")))

NO_LIBCALLS void *memcpy(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;

    while (n--)
        *d++ = *s++;
    return dst;
}

NO_LIBCALLS void *memset(void *dst, int c, size_t n)
{
    unsigned char *d = dst;

    while (n--)
        *d++ = (unsigned char)c;
    return dst;
}

/*
 * Load the game module, run its self test, unload it: 0 on success, 1 when the
 * self test failed, 2 when loading failed, 3 when the module has no self test.
 * Validation calls it (SConstruct: GAMEVM_TESTS; GAMEVM_KEEP keeps it, since
 * nothing in the kernel calls it).
 */
int kernel_selftest(void)
{
    TModuleHandle game;
    int (*selftest)(void);
    int result;

    game = LoadModule("game");
    if (game == 0)
        return 2;
    selftest = (int (*)(void))GetModuleProc(game, "gamevm_selftest");
    result = selftest == 0 ? 3 : selftest() != 0;
    if (UnloadModule(game) != lsSuccess)
        return 2;
    return result;
}

/* start.S calls this with the stack set up; the game's main loop goes here. */
int kernel_main(void)
{
    kernel_print("kernel started\n");
    return 0;
}
