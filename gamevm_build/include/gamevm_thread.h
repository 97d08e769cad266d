/*
 * gamevm_thread.h - the inner interpreter for threaded GameVM code (docs/formats.md).
 *
 * A module built in the DTC, ITC or TTC emission format holds threads: lists that
 * this interpreter walks, calling one native primitive per entry.  An STC module's
 * threads are native code that calls the same primitives directly.  The resident
 * links gamevm_build/runtime/gvm_thread.c (`gamevm thread --interpreter`
 * prints its path) and exports every gvm_p_* / gvm_cf_* / gvm_s_* symbol below:
 * modules import them.
 *
 * The virtual machine is one global, gvm_vm (the register convention, in memory
 * because C cannot pin registers portably):
 *   ip     next cell (DTC, ITC) or token (TTC) of the running thread; NULL stops NEXT
 *   w      ITC: the code field being executed (docol's body is w + 1)
 *   sp     data stack: next free slot; the items below the top are sp[-1], sp[-2]...
 *   tos    the top of the data stack, cached apart from the rest
 *   rp     return stack: next free slot (saved ip of each calling thread)
 *   table  TTC: the running module's token table (token k runs table[k])
 *   token_bytes  TTC: bytes per token, 1 or 2 (two bytes, low first), from the word's
 *          descriptor
 * Primitives are `void f(void)` functions working on gvm_vm; an inline operand
 * (a literal, a branch offset, a call target) follows its primitive in the thread.
 */
#ifndef GAMEVM_THREAD_H
#define GAMEVM_THREAD_H

#include <stdint.h>

typedef void (*gvm_code)(void);

enum { GVM_STC = 0, GVM_DTC = 1, GVM_ITC = 2, GVM_TTC = 3 };

/* What `gamevm thread` exports for each `export NAME N`: everything a caller needs. */
struct gvm_thread_word {
    int32_t format;             /* GVM_STC ... GVM_TTC */
    const void *code;           /* STC: native function; DTC, TTC: the thread; ITC: its code field */
    const gvm_code *table;      /* TTC: the module's token table; else NULL */
    /* bytes rather than halfwords: the same on either byte order, and the ARM60 has no
     * halfword loads */
    uint8_t nargs;              /* arguments taken from gvm_thread_call (0-3) */
    uint8_t token_bytes;        /* TTC: bytes per token, 1 or 2 (little-endian); else 0 */
    uint8_t reserved[2];
};

struct gvm_thread_vm {
    const uint8_t *ip;
    const gvm_code *w;
    int32_t *sp;
    int32_t tos;
    const uint8_t **rp;
    const gvm_code *table;
    int32_t format;
    int32_t token_bytes;
};

extern struct gvm_thread_vm gvm_vm;

/* Run an exported word with up to three arguments; returns the top of the stack. */
int32_t gvm_thread_call(const struct gvm_thread_word *word, int32_t a, int32_t b, int32_t c);

/* STC's helpers: native threads push literals and pop flags and arguments. */
void gvm_s_push(int32_t value);
int32_t gvm_s_pop(void);

#define GVM_PRIMITIVES(X) \
    X(lit) X(tlit) X(branch) X(zbranch) X(call) X(exit) X(docol) \
    X(ccall0) X(ccall1) X(ccall2) X(ccall3) \
    X(add) X(sub) X(mul) X(and) X(or) X(xor) X(lt) X(eq) \
    X(dup) X(drop) X(swap) X(over) X(rot) X(fetch) X(store)

#define GVM_DECLARE(name) void gvm_p_##name(void); extern const gvm_code gvm_cf_##name;
GVM_PRIMITIVES(GVM_DECLARE)
#undef GVM_DECLARE

#endif
