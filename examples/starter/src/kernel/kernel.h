/*
 * kernel.h - what the resident kernel gives the modules.
 *
 * The kernel (the resident) is linked at the console's resident base and
 * stays in memory; a module imports these symbols and the loader binds
 * them when it loads the module.  start.S includes this header too, so
 * the C declarations are hidden from the assembler.
 */
#ifndef KERNEL_H
#define KERNEL_H

/* The kernel's stack, an array in its .bss: start.S points the stack pointer at its top. */
#define KERNEL_STACK_SIZE   4096
/* The ring buffer kernel_print() writes to (a power of two). */
#define KERNEL_CONSOLE_SIZE 256

#ifndef __ASSEMBLER__

typedef __SIZE_TYPE__ size_t;

/* Append a NUL-terminated message to kernel_console (a debugger or the emulator reads it). */
void kernel_print(const char *msg);
extern char kernel_console[KERNEL_CONSOLE_SIZE];
extern unsigned kernel_console_head;     /* bytes ever written */

/* gcc may call these by itself (struct copies, loops it recognises). */
void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);

/* Every module exports gamevm_selftest(): 0 when its own checks pass, else the
 * number of the first failed check.  Validation calls it after loading the module. */
int gamevm_selftest(void);

#endif /* __ASSEMBLER__ */
#endif /* KERNEL_H */
