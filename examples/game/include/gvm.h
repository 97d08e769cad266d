/*
 * gvm.h - services of the GameVM example kernel (the resident).
 *
 * The resident exports these symbols; modules import them and the loader
 * binds the imports at load time.  Everything is freestanding, integer-only C:
 * the PlayStation has no FPU and the modules are not linked with libgcc's
 * soft-float routines.
 *
 * This header is also included by assembly (kernel/start.S): C declarations
 * are hidden from the assembler.
 */
#ifndef GVM_H
#define GVM_H

/* Size of the kernel's stack, in bytes (the stack lives in the kernel's .bss). */
#define GVM_STACK_SIZE   8192
/* Size of the console ring buffer gvm_print() writes to. */
#define GVM_CONSOLE_SIZE 1024
/* Size of the arena gvm_alloc() hands out memory from. */
#if defined(__m68k__)
#define GVM_HEAP_SIZE    (10 * 1024)   /* the Sega CD's main CPU has 64 KiB of work RAM */
#else
#define GVM_HEAP_SIZE    (64 * 1024)
#endif

#ifndef __ASSEMBLER__

typedef signed char    s8;
typedef unsigned char  u8;
typedef short          s16;
typedef unsigned short u16;
typedef int            s32;
typedef unsigned int   u32;
typedef __SIZE_TYPE__  size_t;

#define NULL ((void *)0)
#define GVM_COUNTOF(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---- console -------------------------------------------------------------- */
/* Append a NUL-terminated message to the console ring buffer. */
void gvm_print(const char *msg);
/* Append "label=<decimal value>\n". */
void gvm_print_int(const char *label, s32 value);
extern char gvm_console[GVM_CONSOLE_SIZE];
extern u32 gvm_console_head;          /* total bytes ever written */

/* ---- memory (gcc may also call these implicitly) ------------------------- */
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t gvm_strlen(const char *s);

/* ---- bump allocator --------------------------------------------------------- */
/* Return 8-byte aligned memory, or NULL when the arena is exhausted. */
void *gvm_alloc(size_t size);
/* Forget every allocation (e.g. when a level is unloaded). */
void gvm_alloc_reset(void);
size_t gvm_alloc_used(void);

/* ---- random numbers (xorshift32) -------------------------------------------- */
void gvm_srand(u32 seed);
u32 gvm_rand(void);
/* Uniform value in [0, n). */
u32 gvm_rand_range(u32 n);

/* ---- score -------------------------------------------------------------------- */
void gvm_score_add(s32 points);
s32 gvm_score_get(void);
s32 gvm_hiscore_get(void);
void gvm_score_reset(void);

/* ---- frames ------------------------------------------------------------------- */
extern volatile u32 gvm_frame_count;  /* incremented once per frame by the kernel */

/*
 * Every module exports gamevm_selftest(): it checks the module's own
 * computations and returns 0 on success, or the number of the first failed
 * check.  Validation tools call it after loading the module.
 */
int gamevm_selftest(void);

#endif /* __ASSEMBLER__ */
#endif /* GVM_H */
