/*
 * gvm_thread.c - the inner interpreter (NEXT) and primitives of threaded GameVM code,
 * one source for every console (docs/formats.md, gamevm_thread.h).
 *
 * Freestanding C99: no libc, no compiler helpers but the multiply the CPU may lack.
 * Each primitive is a native function, so a DTC cell, an ITC code field and a TTC
 * table entry all hold plain function addresses the linker relocates, and STC code
 * calls the very same functions: the four formats differ only in how a thread names
 * them, which is what the measurements compare.
 */
#include "gamevm_thread.h"

#define GVM_STACK_CELLS 64
#define GVM_RSTACK_CELLS 64

struct gvm_thread_vm gvm_vm;
static int32_t gvm_stack[GVM_STACK_CELLS];
static const uint8_t *gvm_rstack[GVM_RSTACK_CELLS];

static inline void push(int32_t x) { *gvm_vm.sp++ = gvm_vm.tos; gvm_vm.tos = x; }
static inline int32_t pop(void) { int32_t x = gvm_vm.tos; gvm_vm.tos = *--gvm_vm.sp; return x; }

/* An inline operand: a cell in DTC and ITC threads; in TTC's byte stream a
 * little-endian 32-bit literal or 16-bit branch offset, read a byte at a time (a
 * token stream has no alignment). */
static int32_t operand32(void)
{
    const uint8_t *p = gvm_vm.ip;
    if (gvm_vm.format == GVM_TTC) {
        gvm_vm.ip += 4;
        return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16
                         | (uint32_t)p[3] << 24);
    }
    gvm_vm.ip += 4;
    return *(const int32_t *)p;
}

static int32_t offset(void)
{
    const uint8_t *p = gvm_vm.ip;
    if (gvm_vm.format == GVM_TTC) {
        gvm_vm.ip += 2;
        return (int16_t)(uint16_t)((uint32_t)p[0] | (uint32_t)p[1] << 8);
    }
    gvm_vm.ip += 4;
    return *(const int32_t *)p;
}

/* A TTC operand naming a table entry (a token: one byte, or two, low first); elsewhere
 * the address itself. */
static uintptr_t target(void)
{
    const uint8_t *p = gvm_vm.ip;
    uint32_t token;
    if (gvm_vm.format != GVM_TTC) {
        gvm_vm.ip = p + 4;
        return *(const uintptr_t *)p;
    }
    token = gvm_vm.token_bytes == 2 ? p[0] | (uint32_t)p[1] << 8 : p[0];
    gvm_vm.ip = p + gvm_vm.token_bytes;
    return (uintptr_t)gvm_vm.table[token];
}

void gvm_p_lit(void) { push(operand32()); }
void gvm_p_tlit(void) { push((int32_t)target()); }
void gvm_p_branch(void) { const uint8_t *at = gvm_vm.ip; gvm_vm.ip = at + offset(); }
void gvm_p_zbranch(void)
{
    const uint8_t *at = gvm_vm.ip;
    int32_t off = offset();
    if (pop() == 0)
        gvm_vm.ip = at + off;
}
void gvm_p_call(void)
{
    const uint8_t *to = (const uint8_t *)target();
    *gvm_vm.rp++ = gvm_vm.ip;
    gvm_vm.ip = to;
}
void gvm_p_exit(void) { gvm_vm.ip = *--gvm_vm.rp; }
void gvm_p_docol(void)
{
    *gvm_vm.rp++ = gvm_vm.ip;
    gvm_vm.ip = (const uint8_t *)(gvm_vm.w + 1);
}

typedef int32_t (*cfn0)(void);
typedef int32_t (*cfn1)(int32_t);
typedef int32_t (*cfn2)(int32_t, int32_t);
typedef int32_t (*cfn3)(int32_t, int32_t, int32_t);
void gvm_p_ccall0(void) { cfn0 f = (cfn0)target(); push(f()); }
void gvm_p_ccall1(void) { cfn1 f = (cfn1)target(); gvm_vm.tos = f(gvm_vm.tos); }
void gvm_p_ccall2(void)
{
    cfn2 f = (cfn2)target();
    int32_t b = pop();
    gvm_vm.tos = f(gvm_vm.tos, b);
}
void gvm_p_ccall3(void)
{
    cfn3 f = (cfn3)target();
    int32_t c = pop(), b = pop();
    gvm_vm.tos = f(gvm_vm.tos, b, c);
}

void gvm_p_add(void) { int32_t b = pop(); gvm_vm.tos += b; }
void gvm_p_sub(void) { int32_t b = pop(); gvm_vm.tos -= b; }
void gvm_p_mul(void)            /* wraps modulo 2^32, as the C the formats are checked against */
{
    int32_t b = pop();
    gvm_vm.tos = (int32_t)((uint32_t)gvm_vm.tos * (uint32_t)b);
}
void gvm_p_and(void) { int32_t b = pop(); gvm_vm.tos &= b; }
void gvm_p_or(void) { int32_t b = pop(); gvm_vm.tos |= b; }
void gvm_p_xor(void) { int32_t b = pop(); gvm_vm.tos ^= b; }
void gvm_p_lt(void) { int32_t b = pop(); gvm_vm.tos = gvm_vm.tos < b ? -1 : 0; }
void gvm_p_eq(void) { int32_t b = pop(); gvm_vm.tos = gvm_vm.tos == b ? -1 : 0; }
void gvm_p_dup(void) { push(gvm_vm.tos); }
void gvm_p_drop(void) { (void)pop(); }
void gvm_p_swap(void) { int32_t t = gvm_vm.tos; gvm_vm.tos = gvm_vm.sp[-1]; gvm_vm.sp[-1] = t; }
void gvm_p_over(void) { push(gvm_vm.sp[-1]); }
void gvm_p_rot(void)            /* ( a b c -- b c a ) */
{
    int32_t a = gvm_vm.sp[-2];
    gvm_vm.sp[-2] = gvm_vm.sp[-1];
    gvm_vm.sp[-1] = gvm_vm.tos;
    gvm_vm.tos = a;
}
void gvm_p_fetch(void) { gvm_vm.tos = *(const int32_t *)(uintptr_t)gvm_vm.tos; }
void gvm_p_store(void)          /* ( x addr -- ) */
{
    int32_t *addr = (int32_t *)(uintptr_t)pop();
    *addr = pop();
}

/* ITC's code fields: the cells its threads point at, each holding a primitive */
#define GVM_CODE_FIELD(name) const gvm_code gvm_cf_##name = gvm_p_##name;
GVM_PRIMITIVES(GVM_CODE_FIELD)

void gvm_s_push(int32_t value) { push(value); }
int32_t gvm_s_pop(void) { return pop(); }

/* NEXT, one loop per format: fetch the entry ip points at, step past it, run it.  A
 * thread ends with exit, which pops the NULL gvm_thread_call pushed and stops it. */
static void run_dtc(void)
{
    while (gvm_vm.ip) {
        gvm_code code = *(const gvm_code *)gvm_vm.ip;
        gvm_vm.ip += 4;
        code();
    }
}

static void run_itc(void)
{
    while (gvm_vm.ip) {
        gvm_vm.w = *(const gvm_code *const *)gvm_vm.ip;
        gvm_vm.ip += 4;
        (*gvm_vm.w)();
    }
}

static void run_ttc(void)
{
    while (gvm_vm.ip)
        gvm_vm.table[*gvm_vm.ip++]();
}

/* 2-byte tokens, low byte first: two byte loads, so no alignment and no halfword load
 * (the 3DO's ARM60 has none), on either byte order. */
static void run_ttc2(void)
{
    while (gvm_vm.ip) {
        const uint8_t *p = gvm_vm.ip;
        gvm_vm.ip = p + 2;
        gvm_vm.table[p[0] | (uint32_t)p[1] << 8]();
    }
}

int32_t gvm_thread_call(const struct gvm_thread_word *word, int32_t a, int32_t b, int32_t c)
{
    struct gvm_thread_vm saved = gvm_vm;     /* a C function a thread calls may call threads */
    int32_t args[3] = {a, b, c};
    int32_t i, result;
    if (!gvm_vm.sp) {
        gvm_vm.sp = gvm_stack;
        gvm_vm.rp = gvm_rstack;
    }
    for (i = 0; i < word->nargs && i < 3; i++)
        push(args[i]);
    gvm_vm.format = word->format;
    gvm_vm.table = word->table;
    gvm_vm.token_bytes = word->token_bytes;
    *gvm_vm.rp++ = 0;
    switch (word->format) {
    case GVM_STC:
        gvm_vm.rp--;
        ((gvm_code)word->code)();
        break;
    case GVM_DTC:
        gvm_vm.ip = word->code;
        run_dtc();
        break;
    case GVM_ITC:
        gvm_vm.w = word->code;
        gvm_vm.ip = (const uint8_t *)(gvm_vm.w + 1);
        run_itc();
        break;
    case GVM_TTC:
        gvm_vm.ip = word->code;
        if (word->token_bytes == 2)
            run_ttc2();
        else
            run_ttc();
        break;
    default:
        gvm_vm.rp--;
        break;
    }
    result = pop();
    gvm_vm.ip = saved.ip;
    gvm_vm.w = saved.w;
    gvm_vm.table = saved.table;
    gvm_vm.format = saved.format;
    gvm_vm.token_bytes = saved.token_bytes;
    return result;
}
