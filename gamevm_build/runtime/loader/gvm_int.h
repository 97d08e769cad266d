/*
 * gvm_int.h - what the pieces of the console-side loader share.
 *
 * The loader is freestanding C99: no libc, no division, no 64-bit arithmetic,
 * every multi-byte field read byte by byte (module files and relocation sites
 * need not be aligned, and the 68000 faults on odd word accesses).  It mirrors
 * the Python reference loader (gamevm_build/runtime/reference.py) step by step so the two
 * can be compared byte for byte: docs/runtime-c.md.
 */
#ifndef GVM_INT_H
#define GVM_INT_H

#include "gamevm_runtime.h"

typedef unsigned int u32;
typedef int s32;
typedef unsigned short u16;
typedef unsigned char u8;

/* CPU families, for the relocation types a module of any known console may carry */
enum { GVM_FAMILY_MIPS, GVM_FAMILY_M68K, GVM_FAMILY_ARM };

#include "gvm_target.h"          /* generated per console by gamevm_build.runtime.build */

/* The runtime is compiled as one translation unit (gvm_runtime.c includes the
 * others), so what its files share is static: the resident's symbol table lists
 * only the API, and -Os sees the whole loader at once. */
#define GVM_INTERNAL static

#ifndef GVM_MAX_MODULES
#define GVM_MAX_MODULES 32       /* loaded at once; a bit per module in u32 masks */
#endif
#ifndef GVM_MAX_REGIONS
#define GVM_MAX_REGIONS 8
#endif
#define GVM_MAX_DEPTH 16         /* nested needs of one load */
#ifndef GVM_MAX_STUBS
#define GVM_MAX_STUBS 32         /* lazy and stale stubs at once (at most 127) */
#endif
#if defined(__mips__)
#define GVM_LAZY 1               /* lazy binding patches `jal`s: MIPS modules only */
#else
#define GVM_LAZY 0
#endif
#if defined(__m68k__)
#define GVM_STACK_ALIGN 2        /* the 68000 pushes longs at any even address */
#else
#define GVM_STACK_ALIGN 4
#endif
#if defined(__arm__)
#define GVM_STUB_WORDS 3         /* mov ip, #slot; ldr pc, [pc, #-4]; .word gvm_stub_entry */
#else
#define GVM_STUB_WORDS 2         /* MIPS j gvm_stub_entry; li t8, slot -- 68000 moveq #slot,
                                  * d0; jmp gvm_stub_entry */
#endif

/* section slots, in the module format's order (docs/format.md) */
enum { SL_TEXT, SL_RODATA, SL_INIT_ARRAY, SL_FINI_ARRAY, SL_CTORS, SL_DTORS, SL_DATA, SL_BSS,
       SL_COUNT, SL_NONE = 0xFF };
/* constructor/destructor tables of the metadata's "init" */
enum { T_INIT_ARRAY, T_FINI_ARRAY, T_CTORS, T_DTORS, T_COUNT };

/* ---- metadata (.note.gamevm, canonical JSON) ---------------------------------- */
#define META_MAX_NEEDS 16
/* No array last: GCC 12's -fsanitize=bounds (the checked build) takes a structure's last
 * array for a flexible one and leaves an index past its end unchecked. */
typedef struct {
    u32 format, image_size, align;
    u32 has_format, has_image_size;
    const char *target, *name;
    const char *needs[META_MAX_NEEDS];
    u32 init_off[T_COUNT], init_count[T_COUNT];
    u32 init_has[T_COUNT];
    u32 nneeds;
} gvm_meta;

/* Parse and check the descriptor (modified in place: strings are unescaped and
 * NUL-terminated) into `meta`, which starts zeroed (a load's context is: new_load).
 * 0 on success, -1 for anything the format does not allow. */
GVM_INTERNAL int gvm_meta_parse(u8 *text, u32 len, gvm_meta *meta);

/* ---- byte access -----------------------------------------------------------------
 * Headers, symbols and relocations are read into the work area at 4-byte aligned
 * addresses, and every field the loader reads there is naturally aligned: one load
 * (swapped for a file of the other byte order, which is then refused).  16-bit
 * fields are read by bytes: the ARM60 has no halfword loads. */
typedef u32 __attribute__((may_alias)) gvm_word;

static inline u32 gvm_rd32(const u8 *p, int big)
{
    u32 v = *(const gvm_word *)(const void *)p;
    if (big != GVM_BIG_ENDIAN)
        v = v >> 24 | (v >> 8 & 0xFF00u) | (v << 8 & 0xFF0000u) | v << 24;
    return v;
}

static inline u32 gvm_rd16(const u8 *p, int big)
{
    return big ? (u32)p[0] << 8 | p[1] : (u32)p[1] << 8 | p[0];
}

GVM_INTERNAL int gvm_strcmp(const char *a, const char *b);

/* ---- relocation (gvm_reloc.c, one table per CPU family) ------------------------ */
/* Bytes of the field relocation `type` of a `family` module patches, or 0 when a
 * loader must not apply it (a module for another console is checked by its own
 * family's rules before it is refused as incompatible, as the host does). */
GVM_INTERNAL u32 gvm_reloc_size(u32 family, u32 type);
/* 1 if some value does not fit a `type` field (only those are checked before writing). */
GVM_INTERNAL u32 gvm_reloc_may_overflow(u32 type);
/* Check that `type` can hold S + A at P (0) or not (-1), without touching memory. */
GVM_INTERNAL int gvm_reloc_check(u32 type, u32 S, u32 A, u32 P);
/* The addend a format 2 module keeps in the `type` field at `site` (before relocation). */
GVM_INTERNAL u32 gvm_reloc_field(u32 type, const u8 *site);
/* 1 if code address `v` follows a call instruction lying at or after `lo` (it can be a
 * return address from code that starts at `lo`); no byte before `lo` is read. */
GVM_INTERNAL int gvm_after_call(u32 v, u32 lo);
/* Apply `n` RELA entries at `rela` (this CPU's byte order, 4-byte aligned) to the
 * module at `base`; S[i] is the value of symbol i. */
GVM_INTERNAL void gvm_relocate(const u8 *rela, u32 n, u32 base, const u32 *S);

/* ---- the resident's Global Symbol Table (generated: gvm_gst.S) ----------------- */
typedef struct {
    const char *name;
    u32 value;
} gvm_symbol;

extern const gvm_symbol gvm_gst[];
extern const u32 gvm_gst_count;

/* Lazy and stale stubs (gvm_stubs.c): GVM_STUB_WORDS words each; a stub jumps to
 * gvm_stub_entry with its slot number.  Global, so the emulated console finds them. */
extern gvm_word gvm_stub_area[GVM_MAX_STUBS * GVM_STUB_WORDS];
#define STUB_PATCH 0xFFFFFFFFu   /* stub_bindings: patch (no region's dry run) */

/* Called with a module's place before and after each change, so debuggers and the
 * emulated console can follow loads (a no-op the linker keeps; break on it).  The words
 * a kind does not name below are 0 (the emulated console checks it). */
typedef struct {
    u32 what, base, size, code_size;
    const char *name;
} gvm_event;
void gvm_debug_event(const gvm_event *event);      /* global: debuggers break on it */
#define GVM_EV_WRITING  1    /* the loader is about to write [base, base+size) */
#define GVM_EV_LOADED   2    /* loaded: code is [base, base+code_size) */
#define GVM_EV_FREED    3    /* unloaded or rolled back: as GVM_EV_LOADED */
#define GVM_EV_FAILED   4    /* LoadModule(name) failed: `base` holds the TLoadStatus */
#define GVM_EV_PATCHING 5    /* about to rebind [base, base+size) of loaded module `name` */
#define GVM_EV_STALE    6    /* a call through a binding stubbed when its provider went:
                              * `base` 2 (0: a free stub), `size` the holder's base,
                              * `code_size` the stub, `name` the symbol; never returns */
#define GVM_EV_UNBOUND  7    /* a lazy import's first call finds no provider: `base` the
                              * stub, `size` the holder's base, `name` the symbol; never returns */
#define GVM_EV_RELOAD_FAILED 8  /* GVM_STALE_RELOAD: reloading a stale stub's module failed
                              * (or it no longer exports the symbol: lsSymbolNotFound): `base`
                              * the TLoadStatus, `size` the holder's base, `code_size` the
                              * stub, `name` the symbol; never returns */


#endif /* GVM_INT_H */
