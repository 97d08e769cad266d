/*
 * gvm_loader.c - the GameVM module loader, on the console (seed §3, §6, §8).
 *
 * LoadModule reads a module through the game's reader, checks every header,
 * index and offset before it touches RAM, loads the modules it needs first
 * (nested in the work area), allocates from a stack/region allocator, binds
 * imports against the resident's Global Symbol Table (binary search) and the
 * loaded modules (load order), relocates in place, makes the code visible to
 * the CPU, and runs constructors, dependencies first, once the whole load has
 * succeeded.  A failed load frees what it placed and returns a TLoadStatus.
 * Unloading follows reference counts and needs (libdragon's rule: a module is
 * freed at refcount 0 once nothing binds to it), running destructors.
 *
 * Every rule mirrors gamevm_build/runtime/reference.py and gamevm_build/link/module.py, the
 * reference the tests compare this file against on each console's CPU.
 */
#include "gvm_int.h"

/* A loaded module's record (its handle: HANDLE, below).  The emulated console reads
 * `seq` at offset 0, `base` at offset 8 and `refcount` at offset 20 of the record, and
 * finds the records at `gvm_records` (gamevm_build.runtime.target, HANDLE_*_OFFSET,
 * RECORD_SIZE): the checks below keep them there. */
typedef struct module_s {
    u32 seq;                        /* load order; 0 marks a free slot */
    const char *name;               /* in the pool */
    u32 base, size, code_end;
    s32 refcount;
    u32 deps;                       /* slots this one holds a reference to (its needs) */
    u32 providers;                  /* slots its imports are bound into */
    gvm_symbol *exports;            /* sorted by name, in the pool */
    u32 nexports;
    u32 pool_lo, pool_hi;           /* its pool block */
    u32 init_off[T_COUNT], init_count[T_COUNT];
    u8 init_has;                    /* a bit per table the metadata lists */
    u8 job;                         /* placed by the asynchronous load in progress */
    u8 region;
    u8 nimports;                    /* imports kept for lazy and stale stubs */
    u32 nirel;                      /* relocations of those */
    u8 hidden;                      /* a copy of a reloaded module (gvm_reload.c): it
                                     * holds its memory, nothing finds or binds to it */
    u8 slot;                        /* its index in G.mods, for its handle */
    u8 spare[2];                    /* the same size on every CPU (the 68000 aligns to 2) */
} module_t;
typedef char gvm_check_record_size[sizeof(module_t) == 92 ? 1 : -1];
typedef char gvm_check_seq_offset[__builtin_offsetof(module_t, seq) == 0 ? 1 : -1];
typedef char gvm_check_base_offset[__builtin_offsetof(module_t, base) == 8 ? 1 : -1];
typedef char gvm_check_refcount_offset[__builtin_offsetof(module_t, refcount) == 20 ? 1 : -1];

/* A module's pool block: its imports' relocations (offset, type | import << 8, addend),
 * its imports, its exports, then the names. */
#define IMPORTS(m) ((struct gvm_import *)(void *)(m)->exports - (m)->nimports)
#define IRELS(m) ((const gvm_word *)(const void *)IMPORTS(m) - 3 * (m)->nirel)

/* An import a loaded module keeps (lazy loads, safe mode): what it is bound to now, and
 * its stub (slot + 1) while that is a lazy or stale stub (gvm_stubs.c). */
typedef struct gvm_import {
    const char *name;
    u32 value;
    u32 stub;
} gvm_import;

typedef struct {
    const char *name;
    u32 start, end;
    u32 flags;
    s32 pair;                       /* the other half of a double buffer, or -1 */
} region_t;

/* What the loader knows about a module file while loading it (in the work area). */
typedef struct load_ctx {
    const char *request;
    int file;
    u32 fsize;
    u8 *pre;                         /* the file's first pre_hi bytes, read in one piece */
    u32 pre_hi;                      /* (its headers and metadata: see fetch) */
    u8 *sh;                          /* section headers, 40 bytes each */
    u32 shnum, shoff, shstrndx;
    u32 phoff, phnum, flags;
    u8 *shstr;
    u32 shstr_size, shstr_names;     /* names may start below shstr_names (its last NUL + 1) */
    u8 *sym;                         /* symbols, 16 bytes each */
    u32 nsym, symtab_index;
    u8 *str;
    u32 str_size, str_names;
    u32 slot_addr[SL_COUNT], slot_size[SL_COUNT];   /* of the last section of each slot */
    u8 *slot_of;                     /* section index -> slot, SL_NONE if not loadable */
    u32 slot_first[SL_COUNT], slot_last[SL_COUNT];   /* section index + 1, 0 if absent */
    u32 *bound;                      /* per symbol: address an import is bound to */
    u8 **rel;                        /* section index -> its relocation entries */
    u32 *nrel;                       /* section index -> how many */
    u32 checked_types;               /* relocations whose value may not fit its field */
    u32 machine, family;
    u32 nexports, export_names;      /* count and name bytes, for the pool */
    gvm_meta meta;
    struct load_ctx *parent;
    u8 big;                          /* the file is big-endian */
    u8 depth;                        /* needs nested above this load */
    u8 phase;                        /* P_*: how far this load got */
    u8 waiting;                      /* a read was started and has not finished */
    u32 head;                        /* bytes of the file's start read before its headers */
    u32 next;                        /* P_NEEDS: the next need; P_IMAGE: the next slot */
    u32 gap_lo, gap_hi;              /* P_IMAGE: slots of the piece whose gaps to clear */
    u32 order[SL_COUNT], norder;     /* loadable slots in order of first appearance */
    u8 merge;                        /* no two slots overlap: a piece may span several */
    u32 rel_sec, rel_done;           /* P_IMAGE: relocations applied (section, entries) */
    u8 lazy;                         /* GVM_LOAD_LAZY: bind called functions at first call */
    /* format 2 (gvm_relpack.c): .gvm.relpack and .gvm.image (section index + 1, or 0), how
     * each packed entry's addend is found, the loadable bytes the file stores, the bytes
     * the module takes (its image, or room to decode in place) */
    u32 relpack, zimage, file_image, footprint;
    u8 *how;
    u8 zstate;                       /* .gvm.image: 0 not read, 1 being read, 2 decoded */
    u8 addends;                      /* the packed addends are taken from the image */
    module_t *m;
    struct imp_scan *imp;            /* its imports, when it keeps them (gvm_stubs.c) */
    /* GameVMTrust: the file's digest so far (bytes [0, hashed)) and
     * the piece a read is bringing, hashed when it has arrived */
    struct gvm_sha256 *sha;
    u32 hashed, hp_off, hp_len;
    u8 *hp_dst;
} load_ctx;

/* A load's imports, in the work area (a lazy load, or one bound into an overlay's
 * occupant): symbol -> import + 1; per import its first symbol, how its relocations use
 * it (IMP_*), its stub (slot + 1); their name bytes and relocations. */
struct imp_scan {
    u32 *of, *sym, *stub;
    u8 *use;
    u32 n, names, nirel;
};
#define NIMP(c) ((c)->imp ? (c)->imp->n : 0u)

/* The phases of one module's load.  A synchronous load runs them back to back; an
 * asynchronous one (LoadModuleAsync) stops wherever a read is in flight and goes on
 * in a later GameVMFrame, so no frame waits for the drive. */
enum { P_OPEN, P_HEAD, P_PREFIX, P_CHECK, P_NEEDS, P_LINK, P_IMAGE, P_LINKED };

/* GameVMPlaceModule and GameVMAddNeed entries: a game of 30-odd modules (the CD game
 * example) needs about 40 and 70; the Sega CD's main CPU has 64 KiB of work RAM */
#ifndef GVM_MAX_PLACEMENTS
#if defined(__m68k__)
#define GVM_MAX_PLACEMENTS 16
#else
#define GVM_MAX_PLACEMENTS 48
#endif
#endif
#ifndef GVM_MAX_NEEDS
#if defined(__m68k__)
#define GVM_MAX_NEEDS 32
#else
#define GVM_MAX_NEEDS 96
#endif
#endif
#ifndef GVM_MAX_ASYNC
#define GVM_MAX_ASYNC 8             /* asynchronous requests queued, and statuses kept */
#endif
/* The first read of a module file: one CD sector, so a small module's headers,
 * symbols and relocations arrive in one request (what follows is read where it is). */
#ifndef GVM_HEAD_READ
#define GVM_HEAD_READ 2048u
#endif

typedef struct {
    const char *name;
    TLoadCallback callback;
    u32 id;
    u8 import;                       /* GameVMImport: the name may name the file otherwise */
    u8 lazy;                         /* LoadModuleAsyncEx(GVM_LOAD_LAZY) */
    u32 slice;                       /* clock ticks of CPU per frame (GameVMSetSlice), 0: all */
} request_t;

/* The runtime's state, under a name the emulated console (and a debugger) can find in
 * the resident's symbols: a scan for pointers the game stored skips it. */
#define G gvm_state
static struct {
    TGameVMConfig cfg;
    int ready;
    region_t regions[GVM_MAX_REGIONS];
    u32 nregions;
    struct { const char *module; u32 region; } placements[GVM_MAX_PLACEMENTS];
    u32 nplacements;
    struct { const char *module, *need; } needs[GVM_MAX_NEEDS];   /* GameVMAddNeed */
    u32 nneeds;
    module_t mods[GVM_MAX_MODULES];
    u32 next_seq;
    u32 work_top;
    u32 caller_sp, caller_ra;        /* where the game called the API from (safe mode) */
    u32 going;                       /* slots an unload is freeing while their destructors run */
    /* asynchronous loads: a queue worked through in order, one chain of loads at a time */
    request_t queue[GVM_MAX_ASYNC];
    u32 qhead, qcount, next_id;
    struct { u32 id; TLoadStatus status; } done[GVM_MAX_ASYNC];
    u32 ndone;
    load_ctx *job_top, *job_root;    /* the chain in progress (in the work area's bottom) */
    u32 job_work;                    /* the work area it uses: synchronous loads go above */
    u32 job_first;                   /* next_seq when it started */
    TLoadStatus job_status;          /* lsPending until the first request ended */
    u8 async;                        /* stepping the asynchronous chain */
    char import_name[64];            /* the file name a GameVMImport found */
    u8 in_frame;
    u8 lazy_next;                    /* LoadModuleFlags: the next LoadModuleEx is lazy */
    /* CPU slices (GameVMSetSlice): the slice of requests made from now on; in a frame, when
     * it began (clock) and the ticks its asynchronous work may use */
    u32 slice_next, frame_t0, frame_budget;
    /* the stub area (gvm_stubs.c): per slot its kind, holder and import; freed slots are
     * reused last freed first (a list through `next`), as the reference loader's */
    struct { u8 kind, holder, imp, next; } stubs[GVM_MAX_STUBS];
    u32 free_stub, next_stub;        /* the free list's head (slot + 1), slots never used */
    u32 stale_data;                  /* stale data bindings made (each 16 bytes apart) */
    const u8 *trust;                 /* GameVMTrust: the manifest's entries, or 0 */
    u32 ntrust;
    TLoadStatus (*trust_step)(struct load_ctx *c, u32 step);
    u32 (*reload)(const char *module, u32 slot);   /* GameVMSetStale: gvm_stubs.c */
    u8 keep_imports;                 /* GameVMSetReload: every load keeps its imports */
    /* GameVMLoadCopy (gvm_reload.c, linked only with it): the module being copied, where
     * its copy goes, and how a hidden copy in an overlay being loaded into goes */
    const struct module_s *copy_of;
    int (*place_copy)(u32 r, u32 size, u32 align, u32 *base);
    void (*drop_copy)(struct module_s *m);
} G;

/* Where debuggers and the emulated console find the module records (a handle's low bits
 * index them): kept through --gc-sections (gamevm_build.runtime.build TARGET_ENTRY). */
module_t *const gvm_records = G.mods;

/* The game's stack pointer at its call of the API function this is expanded in.  A
 * Thumb build of the runtime (profile runtime_isa "thumb") compiles the functions that
 * take it as ARM code (GVM_FRAMED): a Thumb frame pointer (r7) lies below the function's
 * locals, not at its saved lr, so the caller's frame cannot be found from it. */
#if defined(__thumb__)
#define GVM_FRAMED __attribute__((target("arm"), noinline))
#else
#define GVM_FRAMED
#endif
#if defined(__arm__)
#define CALLER_SP(param) ((u32)__builtin_frame_address(0) + 4u)   /* fp: the saved lr */
#else
#define CALLER_SP(param) ((u32)&(param))    /* MIPS o32 home slot; 68000 first argument */
#endif
#define AT_API_ENTRY(param) (G.caller_sp = CALLER_SP(param), \
                             G.caller_ra = (u32)__builtin_return_address(0))
/* The same for a function without parameters: from its own frame (more conservative). */
#define AT_FRAME_ENTRY() (G.caller_sp = (u32)__builtin_frame_address(0), \
                          G.caller_ra = (u32)__builtin_return_address(0))

static const char *const slot_names[SL_COUNT] = {
    ".text", ".rodata", ".init_array", ".fini_array", ".ctors", ".dtors", ".data", ".bss"};

enum { SHT_SYMTAB = 2, SHT_RELA = 4, SHT_NOBITS = 8, SHT_REL = 9, SHF_ALLOC = 2,
       SHN_UNDEF = 0, SHN_LORESERVE = 0xFF00, SHN_ABS = 0xFFF1,
       STB_LOCAL = 0, STB_WEAK = 2, STT_SECTION = 3, ET_DYN = 3 };
/* format 2 (docs/format.md, "Shipping forms"; gamevm_build.link.shipform) */
#define SHT_GVM_RELPACK 0x80474D52u
#define ELFCOMPRESS_GVM_LZ4 0x60474D01u
#define ELFCOMPRESS_GVM_ZX0 0x60474D02u
enum { SHT_PROGBITS = 1, SHF_COMPRESSED = 0x800, CHDR_SIZE = 12 };

/* ---- small helpers ------------------------------------------------------------- */

int gvm_strcmp(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return (int)(u8)*a - (int)(u8)*b;
}

/* Zero `n` bytes from the 4-byte aligned `p` (module bases are at least 4-aligned). */
static void fill(u8 *p, u32 n)
{
    gvm_word *w = (gvm_word *)(void *)p;
    u32 words = n >> 2;
    while (words--)
        *w++ = 0;
    p = (u8 *)w;
    for (n &= 3; n; n--)
        *p++ = 0;
}

/* A word at a time when both ends are word-aligned (an asynchronous load copies a whole
 * image out of the work area: within the reader's per-byte charge, loadcost.py). */
static void copy(u8 *d, const u8 *s, u32 n)
{
    if (!(((u32)d | (u32)s) & 3)) {
        gvm_word *wd = (gvm_word *)(void *)d;
        const gvm_word *ws = (const gvm_word *)(const void *)s;
        for (; n >= 4; n -= 4)
            *wd++ = *ws++;
        d = (u8 *)wd;
        s = (const u8 *)ws;
    }
    while (n--)
        *d++ = *s++;
}

static u32 slen(const char *s)
{
    u32 n = 0;
    while (s[n])
        n++;
    return n;
}

/* A no-op the linker keeps: the emulated console and debuggers break on it. */
__attribute__((noinline)) void gvm_debug_event(const gvm_event *event)
{
    __asm__ __volatile__("" : : "r"(event) : "memory");
}

static void event(u32 what, u32 base, u32 size, u32 code_size, const char *name)
{
    gvm_event e;
    e.what = what;
    e.base = base;
    e.size = size;
    e.code_size = code_size;
    e.name = name;
    gvm_debug_event(&e);
}

static void sync_code(u32 base, u32 size)
{
    if (G.cfg.sync_code)
        G.cfg.sync_code((void *)base, size);
    else
        GameVMSyncCode((void *)base, size);
}

/* ---- work area: a stack, released when the outermost load returns ---------------- */
static void *work_alloc(u32 size)
{
    u32 at = (G.work_top + 3u) & ~3u;
    if (at > G.cfg.work_size || size > G.cfg.work_size - at)
        return 0;
    G.work_top = at + size;
    return (u8 *)G.cfg.work + at;
}

/* An asynchronous load has used the CPU time the frame gives it (GameVMSetSlice):
 * it goes on in the next GameVMFrame.  Checked between phases and relocation chunks,
 * so a frame's share is exceeded by one of those at most. */
#define GVM_UNLIMITED 0xFFFFFFFFu
#ifndef GVM_RELOC_CHUNK
#define GVM_RELOC_CHUNK 32u          /* relocations applied between two checks */
#endif
static int out_of_time(void)
{
    return G.async && G.frame_budget != GVM_UNLIMITED && G.cfg.clock &&
           (u32)G.cfg.clock() - G.frame_t0 >= G.frame_budget;
}

/* `size` bytes at `off` of the file, in the work area and 4-byte aligned: from the
 * metadata read in one piece when they lie there, else read now. */
static TLoadStatus fetch(load_ctx *c, u32 off, u32 size, u8 **out)
{
    u8 *p;
    if (c->pre && off <= c->pre_hi && size <= c->pre_hi - off) {
        p = c->pre + off;
        if (!(off & 3)) {                  /* pre starts at a 4-aligned file offset */
            *out = p;
            return lsSuccess;
        }
        if (!(*out = work_alloc(size)))
            return lsOutOfMemory;
        copy(*out, p, size);
        return lsSuccess;
    }
    if (!(p = work_alloc(size)))
        return lsOutOfMemory;
    if (size && G.cfg.reader->read(G.cfg.reader->ctx, c->file, off, p, size) != 0)
        return lsFileNotFound;
    *out = p;
    return lsSuccess;
}

/* Read [off, off + len) of the file to `dst`: started, when the load is asynchronous and
 * the reader can (the load then waits for it), else read now. */
static TLoadStatus read_to(load_ctx *c, u32 off, void *dst, u32 len)
{
    const TGameVMReader *r = G.cfg.reader;
    if (!len)
        return lsSuccess;
    if (G.async && r->start && r->poll) {
        if (r->start(r->ctx, c->file, off, dst, len) != 0)
            return lsFileNotFound;
        c->waiting = 1;
        return lsSuccess;
    }
    return r->read(r->ctx, c->file, off, dst, len) == 0 ? lsSuccess : lsFileNotFound;
}

/* Bytes [off, off + len) of the file to `dst`: what the first read brought is copied, the
 * rest read (started, for an asynchronous load: it then waits). */
static TLoadStatus read_into(load_ctx *c, u32 off, u8 *dst, u32 len)
{
    u32 k;
    if (off < c->head) {
        k = (len < c->head - off ? len : c->head - off);
        copy(dst, c->pre + off, k);
        off += k, dst += k, len -= k;
    }
    return read_to(c, off, dst, len);
}

/* GameVMTrust (gvm_trust.c): the digest check's steps, reached through a pointer that
 * GameVMTrust sets, so a game that never calls it links none of it (the Sega CD's main
 * CPU has 64 KiB of RAM) */
enum { TRUST_OPEN, TRUST_HEAD, TRUST_ENTRY, TRUST_PIECE, TRUST_CHECK };
static TLoadStatus __attribute__((noinline)) trust_hook(load_ctx *c, u32 step)
{
    return G.trust_step ? G.trust_step(c, step) : lsSuccess;
}

/* ---- the Global Symbol Table and loaded modules' exports ------------------------- */
static const gvm_symbol *search(const gvm_symbol *table, u32 n, const char *name)
{
    u32 lo = 0, hi = n;
    while (lo < hi) {
        u32 mid = lo + ((hi - lo) >> 1);
        int d = gvm_strcmp(name, table[mid].name);
        if (d == 0)
            return &table[mid];
        if (d < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return 0;
}

void *GameVMResidentSymbol(const char *name)
{
    const gvm_symbol *s = search(gvm_gst, gvm_gst_count, name);
    return s ? (void *)s->value : 0;
}

/* Modules in load order (their slots), for binding and unload plans; what an
 * asynchronous load is placing counts only for that load. */
static u32 in_load_order(u32 *out)
{
    u32 n = 0, i, j;
    for (i = 0; i < GVM_MAX_MODULES; i++) {
        if (!G.mods[i].seq || G.mods[i].hidden || (G.mods[i].job && !G.async))
            continue;
        for (j = n; j > 0 && G.mods[out[j - 1]].seq > G.mods[i].seq; j--)
            out[j] = out[j - 1];
        out[j] = i;
        n++;
    }
    return n;
}

/* Binding order: the resident, then loaded modules in `order` (load order).  1 if found. */
static int resolve(const char *name, u32 *value, const u32 *order, u32 n)
{
    u32 i;
    const gvm_symbol *s = search(gvm_gst, gvm_gst_count, name);
    if (s) {
        *value = s->value;
        return 1;
    }
    for (i = 0; i < n; i++) {
        module_t *m = &G.mods[order[i]];
        s = search(m->exports, m->nexports, name);
        if (s) {
            *value = s->value;
            return 1;
        }
    }
    return 0;
}

/* Is `name` the string at `s`, up to its NUL or its first `n` bytes, whichever comes
 * first (a name is compared as it goes, never measured first: by_name is on every load's
 * path, and a name's length would cost a pass over it each time)? */
static int name_is(const char *name, const char *s, u32 n)
{
    u32 i;
    for (i = 0; i < n && s[i] && s[i] == name[i]; i++)
        ;
    return !name[i] && (i == n || !s[i]);
}

/* The loaded module named by the string at `name` (its first `n` bytes at most),
 * whatever its length. */
static module_t *by_name_n(const char *name, u32 n)
{
    u32 i;
    for (i = 0; i < GVM_MAX_MODULES; i++)
        if (G.mods[i].seq && !G.mods[i].hidden && name_is(G.mods[i].name, name, n))
            return &G.mods[i];
    return 0;
}

static module_t *by_name(const char *name)
{
    return by_name_n(name, 0xFFFFFFFFu);
}

/* The request as a module name: its last path part without ".elf". */
static int elf_suffix(const char *s, u32 n)
{
    return n >= 4 && s[n - 4] == '.' && (s[n - 3] | 32) == 'e' && (s[n - 2] | 32) == 'l' &&
           (s[n - 1] | 32) == 'f';
}

/* The module name a request spells: its last path part without ".elf" (*n bytes). */
static const char *request_stem(const char *request, u32 *n)
{
    const char *p, *base = request;
    for (p = request; *p; p++)
        if (*p == '/')
            base = p + 1;
    *n = slen(base);
    if (elf_suffix(base, *n))
        *n -= 4;
    return base;
}

static module_t *loaded_for(const char *request)
{
    u32 n;
    const char *base;
    module_t *m = by_name(request);
    if (m)
        return m;
    base = request_stem(request, &n);
    return by_name_n(base, n);
}

static s32 slot_index(module_t *m)
{
    return m->slot;
}

/* A handle is its record's slot and the load that took it (`seq`), not the record's
 * address: one given back stays invalid when a later load takes the slot again, as the
 * reference loader's handles, which never repeat, are.  Never 0: seq is odd (its low 27
 * bits are in the handle, which repeats after 2^26 loads). */
#define SLOT_BITS 5
typedef char gvm_check_slot_bits[GVM_MAX_MODULES <= (1 << SLOT_BITS) ? 1 : -1];
#define HANDLE(m) ((TModuleHandle)(((m)->seq << SLOT_BITS) | (m)->slot))

/* The record handle `h` names while its load lasts, a hidden copy's (gvm_reload.c) with
 * `hidden`, or 0. */
static module_t *handle_module_of(TModuleHandle h, u32 hidden)
{
    u32 v = (u32)h, i = v & ((1u << SLOT_BITS) - 1);
    module_t *m = &G.mods[i < GVM_MAX_MODULES ? i : 0];
    return i < GVM_MAX_MODULES && m->seq && (m->seq << SLOT_BITS) == (v & ~i) && !m->job &&
           m->hidden == hidden ? m : 0;
}

/* ---- allocation --------------------------------------------------------------------- */
static u32 region_top(u32 r)
{
    u32 i, top = G.regions[r].start;
    for (i = 0; i < GVM_MAX_MODULES; i++)
        if (G.mods[i].seq && G.mods[i].region == r && G.mods[i].base + G.mods[i].size > top)
            top = G.mods[i].base + G.mods[i].size;
    return top;
}

static int fits(u32 r, u32 size, u32 align, u32 *base)
{
    u32 start = (region_top(r) + align - 1) & ~(align - 1);
    if (start < G.regions[r].start || start > G.regions[r].end || size > G.regions[r].end - start)
        return 0;
    *base = start;
    return 1;
}

/* Room for module `name` in region `r`: on top of the stack, or for a reload's copy
 * where gvm_reload.c places it (linked only with it). */
static int fits_for(const char *name, u32 r, u32 size, u32 align, u32 *base)
{
    if (G.copy_of && gvm_strcmp(name, G.copy_of->name) == 0)
        return G.place_copy(r, size, align, base);
    return fits(r, size, align, base);
}

/* The placement of module `name` (GameVMPlaceModule; the last one made): its index + 1,
 * or 0.  A stale binding keeps it: the name its module is reloaded by. */
static u32 placement_of(const char *name)
{
    u32 i;
    for (i = G.nplacements; i-- > 0;)
        if (gvm_strcmp(G.placements[i].module, name) == 0)
            return i + 1;
    return 0;
}

/* The region a module is placed in by name, or -1. */
static s32 placed_region(const char *name)
{
    u32 p = placement_of(name);
    return p ? (s32)G.placements[p - 1].region : -1;
}

static void evict(module_t *m);
static int in_use(module_t *m);
static TLoadStatus lazy_stubs(load_ctx *c, module_t *m);
static void free_load_stubs(load_ctx *c);
static void free_stubs(module_t *m);
static u32 stub_bindings(module_t *gone, u32 dry);
static int stubs_for_eviction(u32 r);
static u32 scan_imports(load_ctx *c, u32 keep);
static u32 binds_into_overlay(u32 providers);

/* Is an occupant of region `r` running (safe mode), or still being loaded? */
static int region_busy(u32 r)
{
    u32 i;
    for (i = 0; i < GVM_MAX_MODULES; i++)
        if (G.mods[i].seq && G.mods[i].region == r && (G.mods[i].job || in_use(&G.mods[i])))
            return 1;
    return 0;
}

/* The placed region (an overlay's occupants are evicted first: seed §4), else the
 * first general region with room (regions are stacks: allocation goes on top). */
static TLoadStatus region_alloc(const char *name, u32 size, u32 align, u32 *region, u32 *base)
{
    u32 r, i;
    s32 placed = placed_region(name);
    /* a copy of an overlay's occupant (gvm_reload.c) goes beside it: in a heap region */
    if (G.copy_of && placed >= 0 && (G.regions[placed].flags & GVM_REGION_OVERLAY) &&
        gvm_strcmp(name, G.copy_of->name) == 0)
        placed = -1;
    if (placed >= 0) {
        r = (u32)placed;
        if ((G.regions[r].flags & GVM_REGION_OVERLAY) && region_busy(r) &&
            G.regions[r].pair >= 0 && !region_busy((u32)G.regions[r].pair))
            r = (u32)G.regions[r].pair;            /* double buffer: load into the other half */
        if (G.regions[r].flags & GVM_REGION_OVERLAY) {
            if (region_busy(r))
                return lsModuleInUse;              /* safe mode: the occupant is running */
            if (!stubs_for_eviction(r))
                return lsOutOfMemory;              /* no stale stubs for its binders */
            for (i = 0; i < GVM_MAX_MODULES; i++)
                if (G.mods[i].seq && G.mods[i].region == r) {
                    if (G.mods[i].hidden)
                        G.drop_copy(&G.mods[i]);   /* a reloaded module's old copy */
                    else
                        evict(&G.mods[i]);
                }
        }
        *region = r;
        return fits_for(name, r, size, align, base) ? lsSuccess : lsOutOfMemory;
    }
    for (r = 0; r < G.nregions; r++) {
        if (G.regions[r].flags & GVM_REGION_OVERLAY)
            continue;
        if (fits_for(name, r, size, align, base)) {
            *region = r;
            return lsSuccess;
        }
    }
    return lsOutOfMemory;
}

/* `size` bytes of the pool, at the lowest 4-aligned gap between the live modules' blocks
 * that holds them (modules come and go in any order: overlays evict old ones). */
static u8 *pool_alloc(u32 size, u32 *lo)
{
    u32 i, at = 0, moved = 1;
    while (moved) {                  /* first fit: past every block that overlaps [at, +size) */
        moved = 0;
        for (i = 0; i < GVM_MAX_MODULES; i++) {
            module_t *m = &G.mods[i];
            if (!m->seq || m->pool_hi <= at || (size <= G.cfg.pool_size - at &&
                                                 m->pool_lo >= at + size))
                continue;
            at = (m->pool_hi + 3u) & ~3u;        /* past it: pool_hi > at here */
            moved = 1;
        }
    }
    if (at > G.cfg.pool_size || size > G.cfg.pool_size - at)
        return 0;
    *lo = at;
    return (u8 *)G.cfg.pool + at;
}

/* ---- reading and checking a module file (gamevm_build.link.module.read_module) ---------- */
static u8 *shdr(load_ctx *c, u32 i)
{
    return c->sh + i * 40u;
}

#define SH(c, i, field) gvm_rd32(shdr(c, i) + 4u * (field), (c)->big)
enum { F_NAME, F_TYPE, F_FLAGS, F_ADDR, F_OFFSET, F_SIZE, F_LINK, F_INFO, F_ALIGN, F_ENTSIZE };

/* A name at `off` of a string table is valid if a NUL follows it inside the table:
 * if it starts before the table's last NUL (found once, from the end). */
static u32 names_end(const u8 *table, u32 size)
{
    while (size && table[size - 1] != 0)
        size--;
    return size;
}

static u32 section_size(load_ctx *c, u32 slot)
{
    return c->slot_size[slot];
}

static u32 section_addr(load_ctx *c, u32 slot)
{
    return c->slot_addr[slot];
}

/* The ABI in e_flags is one target `t`'s CPU runs (gamevm_build.arch's check_object). */
static int flags_ok(u32 f, u32 t)
{
    if (gvm_targets[t].family == GVM_FAMILY_MIPS)
        return !(f & 0x26) && ((f & 0xF000) == 0 || (f & 0xF000) == 0x1000) &&
               (f >> 28) < GVM_MIPS_ARCHS && gvm_mips_level[f >> 28] <= gvm_targets[t].isa_max;
    if (gvm_targets[t].family == GVM_FAMILY_ARM)
        return (f >> 24) <= 5 && !(f & 0x00800000) && !((f & 0x400) && gvm_targets[t].soft);
    if (!gvm_targets[t].m68000 || (f & 0x01000000))
        return 1;                                 /* any family, or the 68000 */
    return !(f & 0x800F) && !(f & 0x02000000) && (f & 0x00810000) != 0x00810000;
}

static TLoadStatus section_data(load_ctx *c, u32 i, u8 **out, u32 *size);
static TLoadStatus relpack_read(load_ctx *c, u32 i);
static void relpack_addends(load_ctx *c, u32 base);
static TLoadStatus zimage_check(load_ctx *c, u32 i);
static TLoadStatus zimage_load(load_ctx *c);

/* The module's target is known and its ELF header and float ABI are that target's:
 * lsBadFormat otherwise (gamevm_build.link.module.read_module). */
static TLoadStatus known_target(load_ctx *c)
{
    u32 i, j, size;
    u8 *d;
    TLoadStatus st;
    for (i = 0; i < GVM_TARGET_COUNT; i++)
        if (gvm_strcmp(c->meta.target, gvm_targets[i].name) == 0) {
            c->family = gvm_targets[i].family;
            if (gvm_targets[i].machine != c->machine || gvm_targets[i].big != (u32)c->big ||
                !flags_ok(c->flags, i))
                break;
            /* MIPS: the first .MIPS.abiflags section's fp_abi byte, unless 0 (any), is soft
             * (3) exactly when the target is (gamevm_build.arch.mips's check_object) */
            for (j = 0; c->family == GVM_FAMILY_MIPS && j < c->shnum; j++)
                if (gvm_strcmp((const char *)c->shstr + SH(c, j, F_NAME), ".MIPS.abiflags") == 0) {
                    if ((st = section_data(c, j, &d, &size)) != lsSuccess)
                        return st;
                    return size >= 8 && d[7] && (d[7] == 3) != gvm_targets[i].soft
                               ? lsBadFormat : lsSuccess;
                }
            return lsSuccess;
        }
    return lsBadFormat;
}

/* P_HEAD: the ELF header, from the file's first bytes.  Modules keep everything but
 * the image in front of it (docs/format.md), ending with the section headers: what the
 * first read did not bring is read in one more request, so a CD streams the file front
 * to back.  A file laid out otherwise is read piece by piece (and waited for). */
static TLoadStatus read_elf_header(load_ctx *c)
{
    const u8 *eh = c->pre;
    u32 phoff, phnum, end, at;
    trust_hook(c, TRUST_HEAD);                /* the first read, before anything parses it */

    if (eh[0] != 0x7F || eh[1] != 'E' || eh[2] != 'L' || eh[3] != 'F' || eh[4] != 1 ||
        (eh[5] != 1 && eh[5] != 2) || eh[6] != 1)        /* EI_VERSION: EV_CURRENT */
        return lsBadFormat;
    c->big = eh[5] == 2;
    c->machine = gvm_rd16(eh + 18, c->big);
    c->flags = gvm_rd32(eh + 36, c->big);
    c->phoff = phoff = gvm_rd32(eh + 28, c->big);
    c->shoff = gvm_rd32(eh + 32, c->big);
    c->phnum = phnum = gvm_rd16(eh + 44, c->big);
    c->shnum = gvm_rd16(eh + 48, c->big);
    c->shstrndx = gvm_rd16(eh + 50, c->big);
    if (gvm_rd16(eh + 16, c->big) != ET_DYN || c->shnum == 0)
        return lsBadFormat;
    if (gvm_rd16(eh + 46, c->big) != 40 || c->shoff > c->fsize ||
        c->shnum * 40u > c->fsize - c->shoff || c->shstrndx >= c->shnum)
        return lsBadFormat;
    if (phnum && (gvm_rd16(eh + 42, c->big) != 32 || phoff > c->fsize ||
                  phnum * 32u > c->fsize - phoff))
        return lsBadFormat;
    c->phase = P_PREFIX;
    end = c->shoff + c->shnum * 40u;
    at = (u32)(c->pre + c->head - (u8 *)G.cfg.work);
    if (end <= c->head || at != G.work_top || (c->head & 3) || !work_alloc(end - c->head))
        return lsSuccess;
    c->pre_hi = end;
    return read_to(c, c->head, c->pre + c->head, end - c->head);
}

/* P_PREFIX, first: the section headers and their names. */
static TLoadStatus read_sections(load_ctx *c)
{
    u32 i, off, size;
    TLoadStatus st;
    if ((st = fetch(c, c->shoff, c->shnum * 40u, &c->sh)) != lsSuccess)
        return st;
    off = SH(c, c->shstrndx, F_OFFSET);
    size = SH(c, c->shstrndx, F_SIZE);
    if (off > c->fsize || size > c->fsize - off)
        return lsBadFormat;
    c->shstr_size = size;
    if ((st = fetch(c, off, size, &c->shstr)) != lsSuccess)
        return st;
    c->shstr_names = names_end(c->shstr, size);
    c->symtab_index = 0xFFFFFFFFu;
    for (i = 0; i < c->shnum; i++) {
        u32 type = SH(c, i, F_TYPE);
        off = SH(c, i, F_OFFSET);
        size = SH(c, i, F_SIZE);
        if (SH(c, i, F_NAME) >= c->shstr_names)
            return lsBadFormat;
        if (type != SHT_NOBITS && type != 0 && (off > c->fsize || size > c->fsize - off))
            return lsBadFormat;
        if (type == SHT_SYMTAB && c->symtab_index == 0xFFFFFFFFu)
            c->symtab_index = i;
    }
    return lsSuccess;
}

/* The file bytes of section i (empty for SHT_NOBITS/SHT_NULL), into the work area. */
static TLoadStatus section_data(load_ctx *c, u32 i, u8 **out, u32 *size)
{
    u32 type = SH(c, i, F_TYPE);
    if (type == SHT_NOBITS || type == 0) {
        *size = 0;
        *out = (u8 *)work_alloc(0);
        return *out ? lsSuccess : lsOutOfMemory;
    }
    *size = SH(c, i, F_SIZE);
    return fetch(c, SH(c, i, F_OFFSET), *size, out);
}

static TLoadStatus read_symbols(load_ctx *c)
{
    u32 i, link, size;
    TLoadStatus st;
    if (c->symtab_index == 0xFFFFFFFFu)
        return lsBadFormat;
    link = SH(c, c->symtab_index, F_LINK);
    if (link >= c->shnum)
        return lsBadFormat;
    if ((st = section_data(c, link, &c->str, &c->str_size)) != lsSuccess)
        return st;
    c->str_names = names_end(c->str, c->str_size);
    if ((st = section_data(c, c->symtab_index, &c->sym, &size)) != lsSuccess)
        return st;
    if (size & 15)
        return lsBadFormat;
    c->nsym = size >> 4;
    if (c->nsym == 0)
        return lsBadFormat;
    for (i = 0; i < c->nsym; i++) {
        u8 *s = c->sym + (i << 4);
        u32 shndx = gvm_rd16(s + 14, c->big);
        if (shndx >= c->shnum && shndx < SHN_LORESERVE)
            return lsBadFormat;
        if (gvm_rd32(s, c->big) >= c->str_names)
            return lsBadFormat;
    }
    return lsSuccess;
}

/* Whether a section other than `note` has file bytes among [lo, lo + len) (len > 0).
 * Headers lying over the note need no check: read as headers, JSON text gives
 * section offsets past any file (refused before the note is read) and program
 * header types that are not PT_LOAD (ignored). */
static int shares_bytes(load_ctx *c, u32 note, u32 lo, u32 len)
{
    u32 i, type, at, n;
    for (i = 0; i < c->shnum; i++) {
        type = SH(c, i, F_TYPE);
        at = SH(c, i, F_OFFSET);
        n = SH(c, i, F_SIZE);
        if (i != note && type != SHT_NOBITS && type != 0 && n &&
            (at < lo ? n > lo - at : len > at - lo))
            return 1;
    }
    return 0;
}

static TLoadStatus read_note(load_ctx *c)
{
    u32 i, note, size, namesz, descsz, desc_off;
    u8 *data;
    TLoadStatus st;
    static const u8 note_name[7] = {'G', 'a', 'm', 'e', 'V', 'M', 0};

    for (i = 0; i < c->shnum; i++)
        if (gvm_strcmp((const char *)c->shstr + SH(c, i, F_NAME), ".note.gamevm") == 0)
            break;
    if ((note = i) == c->shnum)
        return lsBadFormat;
    if ((st = section_data(c, note, &data, &size)) != lsSuccess)
        return st;
    desc_off = 20;                         /* a 12-byte header, "GameVM\0" padded to 8 */
    if (size < desc_off)
        return lsBadFormat;
    namesz = gvm_rd32(data, c->big);
    descsz = gvm_rd32(data + 4, c->big);
    if (namesz != 7 || gvm_rd32(data + 8, c->big) != 1 || descsz > size - desc_off)
        return lsBadFormat;
    for (i = 0; i < 7; i++)
        if (data[12 + i] != note_name[i])
            return lsBadFormat;
    data += desc_off;
    /* the parser unescapes in place: a note whose bytes another section shares (a
     * corrupt module) is parsed in a copy, so that what is read from that section is
     * the file's bytes, as the reference loader reads them */
    if (descsz && shares_bytes(c, note, SH(c, note, F_OFFSET) + desc_off, descsz)) {
        u8 *own = work_alloc(descsz);
        if (!own)
            return lsOutOfMemory;
        copy(own, data, descsz);
        data = own;
    }
    return gvm_meta_parse(data, descsz, &c->meta) == 0 ? lsSuccess : lsBadFormat;
}

static TLoadStatus check_sections(load_ctx *c)
{
    u32 i, j, image = c->meta.image_size;
    if (!(c->slot_of = work_alloc(c->shnum)))
        return lsOutOfMemory;
    for (j = 0; j < SL_COUNT; j++)
        c->slot_first[j] = c->slot_last[j] = c->slot_addr[j] = c->slot_size[j] = 0;
    for (i = 0; i < c->shnum; i++) {
        const char *name = (const char *)c->shstr + SH(c, i, F_NAME);
        c->slot_of[i] = SL_NONE;
        if (!(SH(c, i, F_FLAGS) & SHF_ALLOC))
            continue;
        for (j = 0; j < SL_COUNT; j++)
            if (gvm_strcmp(name, slot_names[j]) == 0)
                break;
        if (j == SL_COUNT)
            continue;
        if (SH(c, i, F_ADDR) > image || SH(c, i, F_SIZE) > image - SH(c, i, F_ADDR))
            return lsBadFormat;
        if (SH(c, i, F_TYPE) == 0)      /* SHT_NULL: neither bytes nor bss (reference.py) */
            return lsBadFormat;
        c->slot_of[i] = (u8)j;
        if (!c->slot_first[j])
            c->slot_first[j] = i + 1;
        c->slot_last[j] = i + 1;
        c->slot_addr[j] = SH(c, i, F_ADDR);
        c->slot_size[j] = SH(c, i, F_SIZE);
    }
    for (c->file_image = 0, j = 0; j < SL_BSS; j++)      /* what the file stores */
        if (c->slot_last[j] && c->slot_addr[j] + c->slot_size[j] > c->file_image)
            c->file_image = c->slot_addr[j] + c->slot_size[j];
    c->footprint = image;
    return lsSuccess;
}

static int loadable(load_ctx *c, u32 shndx)
{
    return shndx < c->shnum && c->slot_of[shndx] != SL_NONE;
}

static TLoadStatus check_symbols(load_ctx *c)
{
    u32 i;
    c->nexports = c->export_names = 0;
    for (i = 1; i < c->nsym; i++) {
        u8 *s = c->sym + (i << 4);
        u32 value = gvm_rd32(s + 4, c->big), info = s[12], shndx = gvm_rd16(s + 14, c->big);
        if ((info & 15) == STT_SECTION) {
            if (!loadable(c, shndx))
                return lsBadFormat;
            continue;
        }
        if (shndx == SHN_UNDEF) {
            if ((info >> 4) == STB_LOCAL)
                return lsBadFormat;
            continue;
        }
        if (!loadable(c, shndx) && shndx != SHN_ABS)
            return lsBadFormat;
        if (loadable(c, shndx) && value > c->meta.image_size)
            return lsBadFormat;
        if ((info >> 4) != STB_LOCAL) {
            c->nexports++;
            c->export_names += slen((const char *)c->str + gvm_rd32(s, c->big)) + 1;
        }
    }
    return lsSuccess;
}

/* The weak flag of import `name`: the last undefined symbol of that name decides. */
static int import_is_weak(load_ctx *c, const char *name)
{
    u32 j;
    int weak = 0;
    for (j = 1; j < c->nsym; j++) {
        u8 *t = c->sym + (j << 4);
        if (gvm_rd16(t + 14, c->big) == SHN_UNDEF &&      /* section symbols are defined */
            gvm_strcmp((const char *)c->str + gvm_rd32(t, c->big), name) == 0)
            weak = (t[12] >> 4) == STB_WEAK;
    }
    return weak;
}

/* Each relocation section holds only what a loader applies, inside its section: its
 * entries are read into the work area (kept for the passes at `base`) and checked. */
static TLoadStatus check_relocations(load_ctx *c)
{
    u32 i, k;
    TLoadStatus st;
    if (!(c->rel = work_alloc(c->shnum * sizeof(u8 *))) ||
        !(c->nrel = work_alloc(c->shnum * sizeof(u32))))
        return lsOutOfMemory;
    c->checked_types = 0;
    for (i = 0; i < c->shnum; i++) {
        u32 type = SH(c, i, F_TYPE), info, t_off, t_end, size, n;
        u8 *rel;
        c->rel[i] = 0;
        if (type == SHT_GVM_RELPACK) {            /* format 2: the only relocations */
            if (c->meta.format != 2 || c->relpack)
                return lsBadFormat;
            c->relpack = i + 1;
            if ((st = relpack_read(c, i)) != lsSuccess)
                return st;
            continue;
        }
        if (type != SHT_RELA && type != SHT_REL)
            continue;
        if (type == SHT_REL || SH(c, i, F_LINK) != c->symtab_index || c->meta.format == 2)
            return lsBadFormat;
        info = SH(c, i, F_INFO);
        if (!loadable(c, info))
            return lsBadFormat;
        t_off = section_addr(c, c->slot_of[info]);
        t_end = t_off + section_size(c, c->slot_of[info]);
        if ((st = section_data(c, i, &c->rel[i], &size)) != lsSuccess)
            return st;
        rel = c->rel[i];
        for (n = 0, k = 0; k < size; k += 12)
            n++;
        if (n * 12u != size)
            return lsBadFormat;
        c->nrel[i] = n;
        for (k = 0; k < n; k++, rel += 12) {
            u32 off = gvm_rd32(rel, c->big), rinfo = gvm_rd32(rel + 4, c->big);
            u32 rtype = rinfo & 0xFF, symi = rinfo >> 8;
            u32 rsize = gvm_reloc_size(c->family, rtype);
            u8 *sym;
            if (symi >= c->nsym || !rsize || off < t_off || off > t_end || rsize > t_end - off ||
                symi == 0)
                return lsBadFormat;
            sym = c->sym + (symi << 4);
            if ((sym[12] & 15) != STT_SECTION && gvm_rd16(sym + 14, c->big) != SHN_UNDEF)
                return lsBadFormat;        /* internal targets are section symbols */
            c->checked_types += gvm_reloc_may_overflow(rtype);
        }
    }
    return c->meta.format == 2 && !c->relpack ? lsBadFormat : lsSuccess;
}

/* The relocations whose field can overflow, checked at `base` before anything is
 * written (the values of the symbols are in c->bound). */
static TLoadStatus check_fields(load_ctx *c, u32 base)
{
    u32 i, k;
    for (i = 0; i < c->shnum; i++) {
        const gvm_word *r = (const gvm_word *)(const void *)c->rel[i];
        for (k = 0; r && k < c->nrel[i]; k++, r += 3) {
            u32 type = r[1] & 0xFF, symi = r[1] >> 8, S = c->bound[symi];
            u8 *sym = c->sym + (symi << 4);
            if (!gvm_reloc_may_overflow(type) || gvm_reloc_check(type, S, r[2], base + r[0]) == 0)
                continue;
            if ((sym[12] & 15) != STT_SECTION && S == 0 &&
                import_is_weak(c, (const char *)c->str + gvm_rd32(sym, c->big)))
                continue;          /* an unresolved weak call: the code tests it first */
            return lsRelocationError;
        }
    }
    return lsSuccess;
}

/* The value of every symbol a relocation may name (into c->bound, taken by link_prepare):
 * an import's binding (any strong miss fails), a section symbol's address at `base`. */
static TLoadStatus bind_imports(load_ctx *c, u32 base)
{
    u32 i, order[GVM_MAX_MODULES], n = in_load_order(order);
    c->bound[0] = base;                  /* what a packed module's own relocations name */
    for (i = 1; i < c->nsym; i++) {
        u8 *s = c->sym + (i << 4);
        u32 v = 0;
        c->bound[i] = 0;
        if ((s[12] & 15) == STT_SECTION) {
            c->bound[i] = base + section_addr(c, c->slot_of[gvm_rd16(s + 14, c->big)]);
            continue;
        }
        if (gvm_rd16(s + 14, c->big) != SHN_UNDEF)
            continue;
        if (GVM_LAZY && c->imp && c->imp->stub[c->imp->of[i] - 1]) {     /* lazy: its stub */
            c->bound[i] = (u32)gvm_stub_area + (c->imp->stub[c->imp->of[i] - 1] - 1) *
                          (GVM_STUB_WORDS * 4u);
            continue;
        }
        if (!resolve((const char *)c->str + gvm_rd32(s, c->big), &v, order, n) &&
            !import_is_weak(c, (const char *)c->str + gvm_rd32(s, c->big)))
            return lsUndefinedSymbol;
        c->bound[i] = v;
    }
    return lsSuccess;
}

/* ---- placing a module ------------------------------------------------------------ */
static void sort_exports(gvm_symbol *e, u32 n)
{
    u32 i, j;
    for (i = 1; i < n; i++) {        /* insertion sort: stable, so equal names keep file order */
        gvm_symbol x = e[i];
        for (j = i; j > 0 && gvm_strcmp(e[j - 1].name, x.name) > 0; j--)
            e[j] = e[j - 1];
        e[j] = x;
    }
}

/* The relocations of imports a module keeps in its pool block (for rebinding). */
static void keep_import_relocs(load_ctx *c, module_t *m)
{
    u32 i, k;
    gvm_word *w = (gvm_word *)(void *)IRELS(m);
    for (i = 0; c->imp && i < c->shnum; i++) {
        const gvm_word *r = (const gvm_word *)(const void *)c->rel[i];
        for (k = 0; r && k < c->nrel[i]; k++, r += 3)
            if (c->imp->of[r[1] >> 8]) {
                *w++ = r[0];
                *w++ = (r[1] & 0xFF) | (u32)(c->imp->of[r[1] >> 8] - 1) << 8;
                *w++ = r[2];
            }
    }
}

/* The module's record, exports (last definition of a name wins) and name in the pool. */
static TLoadStatus make_record(load_ctx *c, module_t *m, u32 base)
{
    u32 lo, i, j, k, n = 0, bytes, name_len = slen(c->meta.name) + 1;
    u8 *p;
    char *names;
    gvm_word *w;
    gvm_import *im;
    /* imports' relocations, imports, exports, then the names (an export's symbol type in
     * the byte before its name) */
    bytes = c->nexports * 9u + c->export_names + name_len +
            (c->imp ? c->imp->n * 12u + c->imp->names + c->imp->nirel * 12u : 0u);
    if (!(p = pool_alloc(bytes, &lo)))
        return lsOutOfMemory;
    m->pool_lo = lo;
    m->pool_hi = lo + bytes;
    w = (gvm_word *)(void *)p;
    m->nirel = c->imp ? c->imp->nirel : 0;
    m->nimports = (u8)NIMP(c);
    im = (gvm_import *)(void *)(w + 3 * m->nirel);
    m->exports = (gvm_symbol *)(void *)(im + m->nimports);
    names = (char *)(m->exports + c->nexports);
    for (k = 0; k < m->nimports; k++) {
        const char *name = (const char *)c->str + gvm_rd32(c->sym + (c->imp->sym[k] << 4), c->big);
        u32 len = slen(name) + 1;
        copy((u8 *)names, (const u8 *)name, len);
        im[k].name = names;
        im[k].value = c->bound[c->imp->sym[k]];
        im[k].stub = GVM_LAZY ? c->imp->stub[k] : 0;
        names += len;
    }
    if (!c->relpack)                 /* a packed module's addends come with its image */
        keep_import_relocs(c, m);
    for (i = 1; i < c->nsym; i++) {
        u8 *s = c->sym + (i << 4);
        u32 shndx = gvm_rd16(s + 14, c->big), value = gvm_rd32(s + 4, c->big), info = s[12];
        const char *name = (const char *)c->str + gvm_rd32(s, c->big);
        u32 len = slen(name) + 1;
        if ((info & 15) == STT_SECTION || shndx == SHN_UNDEF || (info >> 4) == STB_LOCAL)
            continue;
        *names++ = (char)(info & 15);
        copy((u8 *)names, (const u8 *)name, len);
        m->exports[n].name = names;
        m->exports[n++].value = shndx == SHN_ABS ? value : base + value;
        names += len;
    }
    sort_exports(m->exports, n);       /* the linker writes them sorted: linear */
    for (i = 0, j = 0; i < n; i++) {   /* a name defined twice: the last definition wins */
        if (i + 1 < n && gvm_strcmp(m->exports[i].name, m->exports[i + 1].name) == 0)
            continue;
        m->exports[j++] = m->exports[i];
    }
    m->nexports = j;
    copy((u8 *)names, (const u8 *)c->meta.name, name_len);
    m->name = names;
    return lsSuccess;
}

static module_t *free_slot(void)
{
    u32 i;
    for (i = 0; i < GVM_MAX_MODULES; i++)
        if (!G.mods[i].seq)
            return &G.mods[i];
    return 0;
}

static module_t *containing(u32 addr, module_t *except)
{
    u32 i;
    for (i = 0; i < GVM_MAX_MODULES; i++) {
        module_t *m = &G.mods[i];
        if (m->seq && m != except && m->base <= addr && addr - m->base < m->size)
            return m;
    }
    return 0;
}

/* The parts of [0, image) no section's bytes cover (bss, and the padding between
 * sections), in order.  A plain module's are zeroed: the file says nothing there (the
 * pieces read next cover the rest; not the whole image first, which cost a cycle a byte
 * of every module on top of its read).  A decoded image's, below .bss, are checked: the
 * linker pads with zeros, so a block that decodes anything else there is corrupt (0),
 * as reference.py reads it, and a module's RAM never holds bytes its hash leaves out. */
static int uncovered(load_ctx *c, u8 *base, u32 image, int check)
{
    u32 at = 0, slot, next;
    while (at < image) {
        next = image;
        for (slot = 0; slot < SL_COUNT; slot++) {
            u32 i = c->slot_last[slot], lo = c->slot_addr[slot], hi = lo + c->slot_size[slot];
            if (!i || lo == hi || (check ? slot == SL_BSS : SH(c, i - 1, F_TYPE) == SHT_NOBITS))
                continue;
            if (lo <= at && hi > at) {
                at = hi;                 /* covered: go on from its end */
                next = 0;
                break;
            }
            if (lo > at && lo < next)
                next = lo;
        }
        if (!next)
            continue;
        if (check) {
            for (; at < next; at++)
                if (base[at])
                    return 0;
            continue;
        }
        while (at < next && (at & 3))
            base[at++] = 0;
        fill(base + at, next - at);
        at = next;
    }
    return 1;
}

/* P_LINK: allocate, bind and check at the module's place, record it, and clear its
 * memory (nothing can fail once its image is being written but a read). */
static TLoadStatus link_prepare(load_ctx *c)
{
    u32 region, base, align = c->meta.align < 4 ? 4 : c->meta.align, i, slot, j;
    u32 image = c->footprint, n = 0, last = 0, providers = 0;
    module_t *m = free_slot(), *p;
    TLoadStatus st;

    /* the work area the link needs is taken before region_alloc may evict an overlay's
     * occupant: a work area too small refuses the load with nothing changed */
    if (!m || !(c->bound = work_alloc(c->nsym * 4u)) ||
        !scan_imports(c, (GVM_LAZY && c->lazy) || G.keep_imports))
        return lsOutOfMemory;
    /* fits() and fits_below() give a base aligned to `align` (a multiple of the metadata's
     * power of two) with `image` bytes below the region's end: nothing to check here */
    if ((st = region_alloc(c->meta.name, image, align, &region, &base)) != lsSuccess)
        return st;
    if ((st = lazy_stubs(c, m)) != lsSuccess)
        return st;
    if ((st = bind_imports(c, base)) == lsSuccess)
        for (i = 1; i < c->nsym; i++)
            if ((p = c->bound[i] ? containing(c->bound[i], 0) : 0) != 0)
                providers |= 1u << slot_index(p);
    if (st != lsSuccess ||
        (c->checked_types && !c->relpack && (st = check_fields(c, base)) != lsSuccess) ||
        (!c->imp && binds_into_overlay(providers) && !scan_imports(c, 1) &&
         (st = lsOutOfMemory)) ||
        (st = make_record(c, m, base)) != lsSuccess) {
        free_load_stubs(c);
        return st;
    }

    G.next_seq += 2;                 /* odd (GameVMInit): never 0, nor is a handle */
    m->seq = G.next_seq;             /* its memory is taken from now on */
    m->job = G.async;
    m->base = base;
    m->size = image;
    m->region = (u8)region;
    m->refcount = 0;
    m->deps = 0;
    m->code_end = 0;
    m->init_has = 0;
    for (slot = SL_TEXT; slot <= SL_RODATA; slot++)
        if (c->slot_last[slot] && section_addr(c, slot) + section_size(c, slot) > m->code_end)
            m->code_end = section_addr(c, slot) + section_size(c, slot);
    for (i = 0; i < T_COUNT; i++) {
        m->init_has |= (u8)((c->meta.init_has[i] != 0) << i);
        m->init_off[i] = c->meta.init_off[i];
        m->init_count[i] = c->meta.init_count[i];
    }
    m->providers = providers;
    c->m = m;
    event(GVM_EV_WRITING, base, image, 0, c->meta.name);
    if (!c->zimage)                  /* a compressed image zeroes what it does not decode */
        uncovered(c, (u8 *)base, image, 0);

    /* sections in order of first appearance, the last copy of a slot winning; when their
     * places ascend without overlapping, neighbours in the file are read together */
    c->merge = 1;
    for (slot = 0; slot < SL_COUNT; slot++) {
        if (!c->slot_first[slot])
            continue;
        for (j = n; j > 0 && c->slot_first[c->order[j - 1]] > c->slot_first[slot]; j--)
            c->order[j] = c->order[j - 1];
        c->order[j] = slot;
        n++;
    }
    for (i = 0; i < n; i++) {
        u32 s = c->slot_last[c->order[i]] - 1;
        if (!SH(c, s, F_SIZE))
            continue;
        if (SH(c, s, F_ADDR) < last)
            c->merge = 0;
        last = SH(c, s, F_ADDR) + SH(c, s, F_SIZE);
    }
    c->norder = n;
    c->next = c->gap_lo = c->gap_hi = 0;
    c->rel_sec = c->rel_done = 0;
    c->phase = P_IMAGE;
    return lsSuccess;
}

/* Zero what a piece read between its sections (the image is zero there). */
static void clear_gaps(load_ctx *c)
{
    u32 k;
    for (k = c->gap_lo + 1; k < c->gap_hi; k++) {
        u32 a = c->slot_last[c->order[k - 1]] - 1, b = c->slot_last[c->order[k]] - 1;
        u8 *p = (u8 *)(c->m->base + SH(c, a, F_ADDR) + SH(c, a, F_SIZE));
        u8 *end = (u8 *)(c->m->base + SH(c, b, F_ADDR));
        while (p < end)
            *p++ = 0;
    }
    c->gap_lo = c->gap_hi = 0;
}

/* P_IMAGE: the sections' bytes, a piece (neighbouring sections) per read; what the
 * first read already brought is copied.  Then relocate, and make the code visible. */
static TLoadStatus next_piece(load_ctx *c)
{
    module_t *m = c->m;
    u32 i, k;
    TLoadStatus st;
    if ((st = trust_hook(c, TRUST_PIECE)) != lsSuccess)   /* the bytes as read, before gaps */
        return st;
    clear_gaps(c);
    if (c->zimage && c->zstate < 2) {
        if ((st = zimage_load(c)) != lsSuccess || c->waiting)
            return st;
        c->next = c->norder;
    }
    while (c->next < c->norder) {
        u32 first = c->next, s = c->slot_last[c->order[c->next++]] - 1;
        u32 off = SH(c, s, F_OFFSET), addr = SH(c, s, F_ADDR), end = off + SH(c, s, F_SIZE);
        if (SH(c, s, F_TYPE) == SHT_NOBITS || off == end)
            continue;
        /* with merge the places ascend without overlapping (link_prepare): a neighbour
         * that lies as far from its place in the file joins the read */
        while (c->merge && c->next < c->norder) {
            u32 t = c->slot_last[c->order[c->next]] - 1, size = SH(c, t, F_SIZE);
            if (SH(c, t, F_TYPE) == SHT_NOBITS || !size ||
                SH(c, t, F_OFFSET) - SH(c, t, F_ADDR) != off - addr)
                break;
            end = SH(c, t, F_OFFSET) + size;
            c->next++;
        }
        c->gap_lo = first;
        c->gap_hi = c->next;
        c->hp_off = off, c->hp_len = end - off, c->hp_dst = (u8 *)(m->base + addr);
        if ((st = read_into(c, off, c->hp_dst, end - off)) != lsSuccess || c->waiting)
            return st;
        if ((st = trust_hook(c, TRUST_PIECE)) != lsSuccess)
            return st;
        clear_gaps(c);
    }
    if ((st = trust_hook(c, TRUST_CHECK)) != lsSuccess)
        return st;
    if (c->relpack && !c->addends) {         /* format 2: now that the fields are there */
        relpack_addends(c, m->base);
        c->addends = 1;
        if (c->checked_types && (st = check_fields(c, m->base)) != lsSuccess)
            return st;
        keep_import_relocs(c, m);
    }
    while (c->rel_sec < c->shnum) {          /* in chunks: a slice may end between */
        i = c->rel_sec;
        if (c->rel[i] && c->rel_done < c->nrel[i]) {
            if (out_of_time())
                return lsPending;
            k = c->nrel[i] - c->rel_done < GVM_RELOC_CHUNK ? c->nrel[i] - c->rel_done
                                                          : GVM_RELOC_CHUNK;
            gvm_relocate(c->rel[i] + 12u * c->rel_done, k, m->base, c->bound);
            c->rel_done += k;
            continue;
        }
        c->rel_sec++;
        c->rel_done = 0;
    }
    sync_code(m->base, m->size);
    for (i = 0; i < c->meta.nneeds; i++) {   /* references follow the needs' names */
        module_t *d = by_name(c->meta.needs[i]);
        if (d && d != m && !(m->deps & (1u << slot_index(d)))) {
            m->deps |= 1u << slot_index(d);
            d->refcount++;
        }
    }
    event(GVM_EV_LOADED, m->base, m->size, m->code_end, m->name);
    c->phase = P_LINKED;
    return lsSuccess;
}


/* One reference fewer on each module of `mask`, a bit per slot: drop_refs(m->deps) gives
 * back the references `m` holds to its needs. */
static void drop_refs(u32 mask)
{
    u32 i;
    for (i = 0; mask; i++, mask >>= 1)
        if (mask & 1)
            G.mods[i].refcount--;
}

static void release(module_t *m)
{
    u32 i, bit = 1u << slot_index(m);
    event(GVM_EV_FREED, m->base, m->size, m->code_end, m->name);
    m->seq = 0;
    m->hidden = 0;
    /* the references its holders keep and their bindings into it go with it: the slot
     * is reused, and a holder freed later must not drop a reference of (or an eviction
     * find a binding into) the slot's next module */
    for (i = 0; i < GVM_MAX_MODULES; i++) {
        G.mods[i].deps &= ~bit;
        G.mods[i].providers &= ~bit;
    }
    free_stubs(m);
}

/* ---- constructors and destructors ------------------------------------------------- */
typedef void (*fn_t)(void);

static void run_table(module_t *m, int table, int backwards)
{
    u32 i, n = m->init_count[table];
    if (!(m->init_has >> table & 1))
        return;
    for (i = 0; i < n; i++) {
        u32 k = backwards ? n - 1 - i : i;
        u32 fn = gvm_rd32((const u8 *)(m->base + m->init_off[table] + 4u * k), GVM_BIG_ENDIAN);
        if (fn != 0 && fn != 0xFFFFFFFFu)
            ((fn_t)fn)();
    }
}

static void run_constructors(module_t *m)
{
    run_table(m, T_INIT_ARRAY, 0);
    run_table(m, T_CTORS, 1);
}

static void run_destructors(module_t *m)
{
    run_table(m, T_FINI_ARRAY, 1);
    run_table(m, T_DTORS, 0);
}

/* ---- loading ------------------------------------------------------------------------- */
/* Does `request` ("level1", "dir/level1.elf") name module `name`? */
static int names_module(const char *request, const char *name)
{
    u32 n;
    const char *base = request_stem(request, &n);
    return name_is(name, base, n) || gvm_strcmp(base, name) == 0;
}

/* Is module `name` being loaded by `c` or a load that waits for it? */
static int in_chain(load_ctx *c, const char *name)
{
    for (; c; c = c->parent)
        if (c->meta.name ? gvm_strcmp(c->meta.name, name) == 0 : names_module(c->request, name))
            return 1;
    return 0;
}

static load_ctx *new_load(const char *request, load_ctx *parent)
{
    load_ctx *c = work_alloc(sizeof *c);
    if (c) {
        fill((u8 *)c, sizeof *c);
        c->request = request;
        c->parent = parent;
        c->depth = parent ? (u8)(parent->depth + 1) : 0;
        c->lazy = parent ? parent->lazy : 0;
        c->file = -1;
    }
    return c;
}

/* A module that is there already (an asynchronous load still placing it is not, yet,
 * for anything but that load). */
static TLoadStatus found(load_ctx *c, module_t *m)
{
    if (m->job && !G.async)
        return lsPending;
    c->m = m;
    c->phase = P_LINKED;
    return lsSuccess;
}

static TLoadStatus opened(load_ctx *c, u32 size);

/* GameVMImport's other spellings of a name (seed §9.2): "gfx.vga" is also the module
 * gfx_vga, or gfx/vga, whichever is there first (gamevm_build.runtime.reference.dispatch). */
static TLoadStatus import_candidates(load_ctx *c, unsigned long *size)
{
    const char *name = c->request;
    char *alt = G.import_name;
    u32 n = slen(name), k, i;
    module_t *m;
    if (!elf_suffix(name, n))
        for (k = 0; k < 2 && n < sizeof G.import_name; k++) {
            for (i = 0; i <= n; i++)
                alt[i] = name[i] == '.' ? (k ? '/' : '_') : name[i];
            if (gvm_strcmp(alt, name) == 0)
                break;
            c->request = alt;
            if ((m = loaded_for(alt)) != 0)
                return found(c, m);
            c->file = G.cfg.reader->open(G.cfg.reader->ctx, alt, size);
            if (c->file >= 0)
                return opened(c, (u32)*size);
        }
    c->request = name;
    return lsFileNotFound;
}

/* P_OPEN: the module loaded already, or its file, whose first bytes are read. */
#define ST_PUSHED ((TLoadStatus)0x100)   /* step: a need is to be loaded first */

static TLoadStatus open_module(load_ctx **top)
{
    load_ctx *c = *top;
    unsigned long size = 0;
    module_t *m;

    if (c->depth > GVM_MAX_DEPTH)
        return lsOutOfMemory;
    if ((m = loaded_for(c->request)) != 0)
        return found(c, m);
    /* the needs the game registered for it load before its file is opened: with the
     * build's whole needs table (GameVMAddNeed), files are read in load-plan order */
    for (; c->next < G.nneeds; c->next++) {
        const char *need = G.needs[c->next].need;
        if (!names_module(c->request, G.needs[c->next].module) || in_chain(c, need))
            continue;
        if ((m = by_name(need)) != 0) {
            if (m->job && !G.async)
                return lsPending;
            continue;
        }
        c->next++;
        return (*top = new_load(need, c)) != 0 ? ST_PUSHED : lsOutOfMemory;
    }
    c->file = G.cfg.reader->open(G.cfg.reader->ctx, c->request, &size);
    if (c->file < 0 && c == G.job_root && G.queue[G.qhead].import)
        return import_candidates(c, &size);
    if (c->file < 0)
        return lsFileNotFound;
    return opened(c, (u32)size);
}

/* The file is open: read its first bytes. */
static TLoadStatus opened(load_ctx *c, u32 size)
{
    u32 at, room, head;
    TLoadStatus st;
    c->fsize = size;
    if (c->fsize < 52)
        return lsBadFormat;
    if ((st = trust_hook(c, TRUST_OPEN)) != lsSuccess)   /* below the first read, which grows */
        return st;
    at = (G.work_top + 3u) & ~3u;
    room = at < G.cfg.work_size ? (G.cfg.work_size - at) & ~3u : 0;
    /* an asynchronous load reads the whole file in one request when the work area holds
     * it and a quarter more (what the checks allocate): each read waits for a frame, and
     * the image is copied from there */
    head = c->fsize < GVM_HEAD_READ ? c->fsize : GVM_HEAD_READ;
    if (G.async && c->fsize < room && c->fsize + (c->fsize >> 2) + 256u <= room)
        head = c->fsize;
    if (head > room)
        head = room;
    if (head < 52 || !(c->pre = work_alloc(head)))
        return lsOutOfMemory;
    c->pre_hi = c->head = head;
    c->phase = P_HEAD;
    return read_to(c, 0, c->pre, head);
}

/* PT_LOAD program headers inside the file (as readelf checks them) and the image. */
static TLoadStatus check_segments(load_ctx *c)
{
    u32 i;
    u8 *ph;
    TLoadStatus st;
    if (!c->phnum)
        return lsSuccess;
    if ((st = fetch(c, c->phoff, c->phnum * 32u, &ph)) != lsSuccess)
        return st;
    for (i = 0; i < c->phnum; i++, ph += 32) {
        u32 off = gvm_rd32(ph + 4, c->big), vaddr = gvm_rd32(ph + 8, c->big);
        u32 filesz = gvm_rd32(ph + 16, c->big), memsz = gvm_rd32(ph + 20, c->big);
        if (gvm_rd32(ph, c->big) != 1)           /* PT_LOAD */
            continue;
        if (off > c->fsize || filesz > c->fsize - off || filesz > memsz ||
            vaddr > c->meta.image_size || memsz > c->meta.image_size - vaddr)
            return lsBadFormat;
    }
    return lsSuccess;
}

/* P_PREFIX: read everything but the image and parse the metadata; P_CHECK checks it
 * (gamevm_build.link.module.read_module), a phase of its own so that a CPU slice may
 * end between the two halves of the work. */
static TLoadStatus read_module(load_ctx *c)
{
    TLoadStatus st;
    trust_hook(c, TRUST_HEAD);                /* the rest of the headers, before parsing */
    if ((st = read_sections(c)) != lsSuccess || (st = read_symbols(c)) != lsSuccess ||
        (st = read_note(c)) != lsSuccess)
        return st;
    if ((st = known_target(c)) != lsSuccess)
        return st;
    c->phase = P_CHECK;
    return lsSuccess;
}

static TLoadStatus check_module(load_ctx *c)
{
    TLoadStatus st;
    module_t *m;
    u32 i;
    if ((st = check_sections(c)) != lsSuccess || (st = check_symbols(c)) != lsSuccess ||
        (st = check_relocations(c)) != lsSuccess)
        return st;
    for (i = 0; c->meta.format == 2 && i < c->shnum; i++)
        if (gvm_strcmp((const char *)c->shstr + SH(c, i, F_NAME), ".gvm.image") == 0 &&
            (st = zimage_check(c, i)) != lsSuccess)
            return st;
    if ((st = check_segments(c)) != lsSuccess)
        return st;
    if (gvm_strcmp(c->meta.target, GVM_TARGET_NAME) != 0)
        return lsIncompatibleTarget;
    if (c->meta.image_size > 0x7FFFFFFFu)
        return lsBadFormat;
    for (i = 0; i < G.nneeds; i++) {      /* the project's needs, after the file's */
        u32 j;
        if (gvm_strcmp(G.needs[i].module, c->meta.name) != 0)
            continue;
        for (j = 0; j < c->meta.nneeds && gvm_strcmp(c->meta.needs[j], G.needs[i].need); j++)
            ;
        if (j < c->meta.nneeds)
            continue;
        if (c->meta.nneeds == META_MAX_NEEDS)
            return lsOutOfMemory;
        c->meta.needs[c->meta.nneeds++] = G.needs[i].need;
    }
    if ((m = by_name(c->meta.name)) != 0)         /* loaded under another request */
        return found(c, m);
    if ((st = trust_hook(c, TRUST_ENTRY)) != lsSuccess)
        return st;
    c->phase = P_NEEDS;
    c->next = 0;
    return lsSuccess;
}

/* P_NEEDS: the next need that is not there yet becomes the innermost load. */
static TLoadStatus next_need(load_ctx **top)
{
    load_ctx *c = *top;
    while (c->next < c->meta.nneeds) {
        const char *need = c->meta.needs[c->next++];
        module_t *d;
        if (gvm_strcmp(need, c->meta.name) == 0 || in_chain(c, need))
            continue;                  /* itself, or a cycle: what stays unbound fails */
        if ((d = by_name(need)) != 0) {
            if (d->job && !G.async)
                return lsPending;
            continue;
        }
        if (!(*top = new_load(need, c)))
            return lsOutOfMemory;
        return ST_PUSHED;
    }
    c->phase = P_LINK;
    return lsSuccess;
}

/* Take the innermost load as far as it goes now: lsPending while a read runs,
 * ST_PUSHED when it needs a module loaded first, lsSuccess once linked, else why not. */
static TLoadStatus step(load_ctx **top)
{
    load_ctx *c = *top;
    TLoadStatus st;
    for (;;) {
        if (c->waiting) {
            int r = G.cfg.reader->poll(G.cfg.reader->ctx, c->file);
            if (r == 0)
                return lsPending;
            c->waiting = 0;
            if (r < 0)
                return lsFileNotFound;
        }
        if (c->phase != P_OPEN && c->phase != P_LINKED && out_of_time())
            return lsPending;                /* the frame's CPU slice is used up */
        switch (c->phase) {
        case P_OPEN:   st = open_module(top); break;
        case P_HEAD:   st = read_elf_header(c); break;
        case P_PREFIX: st = read_module(c); break;
        case P_CHECK:  st = check_module(c); break;
        case P_NEEDS:  st = next_need(top); break;
        case P_LINK:   st = link_prepare(c); break;
        case P_IMAGE:  st = next_piece(c); break;
        default:       return lsSuccess;
        }
        if (st != lsSuccess)
            return st;
    }
}

static void close_file(load_ctx *c)
{
    if (c->file >= 0 && G.cfg.reader->close)
        G.cfg.reader->close(G.cfg.reader->ctx, c->file);
    c->file = -1;
}

/* Run the chain of loads from *top: lsPending while an asynchronous load's read runs,
 * else how the outermost load ended (every file closed: a synchronous load's lsPending,
 * a need another request is writing, too).  *top moves to the load in progress. */
static TLoadStatus run(load_ctx **top)
{
    for (;;) {
        load_ctx *c = *top;
        TLoadStatus st = step(top);
        if (st == ST_PUSHED)
            continue;
        if (st == lsPending && G.async)
            return st;           /* the asynchronous load goes on in a later frame */
        close_file(c);           /* a synchronous one is over, lsPending too */
        if (st != lsSuccess) {
            while ((c = c->parent) != 0)
                close_file(c);
            return st;
        }
        if (!c->parent)
            return st;
        *top = c->parent;
    }
}

/* Undo a failed load: free what it placed (seq > first; job: the asynchronous one's). */
static void rollback(u32 first, u32 job)
{
    u32 i, j;
    for (i = 0; i < GVM_MAX_MODULES; i++)
        if (G.mods[i].seq && G.mods[i].seq > first && G.mods[i].job == job)
            drop_refs(G.mods[i].deps);
    for (j = G.next_seq; j > first; j -= 2)     /* newest first, as the reference loader */
        for (i = 0; i < GVM_MAX_MODULES; i++)
            if (G.mods[i].seq == j && G.mods[i].job == job)
                release(&G.mods[i]);
}

/* Constructors of the modules a load placed (`mask`), in load order. */
static void construct(u32 mask)
{
    u32 i, order[GVM_MAX_MODULES], n = in_load_order(order);
    for (i = 0; i < n; i++)
        if (mask & (1u << order[i]))
            run_constructors(&G.mods[order[i]]);
}

/* Load `name` and what it needs now; the slots it placed are added to *mask, their
 * constructors not run yet (a stale stub's reload rebinds first, as the reference
 * loader's does). */
static module_t *load_now(const char *name, TLoadStatus *status, u32 lazy, u32 *mask)
{
    TLoadStatus st;
    module_t *m;
    u32 first = G.next_seq, i;
    load_ctx *root, *top;

    G.work_top = G.job_work;                 /* above an asynchronous load's */
    m = loaded_for(name);
    root = top = m ? 0 : new_load(name, 0);
    if (root)
        root->lazy = (u8)lazy;
    st = m && m->job ? lsPending : m ? lsSuccess : root ? run(&top) : lsOutOfMemory;
    m = st == lsSuccess && root ? root->m : m;
    G.work_top = G.job_work;
    if (st != lsSuccess) {
        rollback(first, 0);
        m = 0;
        event(GVM_EV_FAILED, (u32)st, 0, 0, name);
    } else {
        m->refcount++;
        for (i = 0; i < GVM_MAX_MODULES; i++)
            if (G.mods[i].seq > first && !G.mods[i].job)
                *mask |= 1u << i;
    }
    *status = st;
    return m;
}

GVM_FRAMED TModuleHandle LoadModuleEx(const char *name, TLoadStatus *status)
{
    TLoadStatus st = lsFileNotFound;         /* no reader before GameVMInit */
    module_t *m = 0;
    u32 mask = 0;

    AT_API_ENTRY(name);
    if (G.ready && name) {
        m = load_now(name, &st, G.lazy_next, &mask);
        construct(mask);
    }
    G.lazy_next = 0;
    if (status)
        *status = st;
    return m ? HANDLE(m) : 0;
}

TModuleHandle LoadModule(const char *name)
{
    return LoadModuleEx(name, 0);
}

/* GVM_LOAD_LAZY: the load's (and its needs') called functions bind at first call. */
TModuleHandle LoadModuleFlags(const char *name, unsigned flags, TLoadStatus *status)
{
    G.lazy_next = (u8)(flags & GVM_LOAD_LAZY);
    return LoadModuleEx(name, status);
}

/* ---- asynchronous loads (seed §5.1) ---------------------------------------------------
 * Requests are worked through in order, one chain of loads at a time, in the work
 * area's bottom.  Each GameVMFrame takes the first request as far as it goes without
 * waiting for a read; when it is done, its modules' constructors and its callback run. */
#define Q_MASK (GVM_MAX_ASYNC - 1u)
typedef char gvm_async_pow2[(GVM_MAX_ASYNC & Q_MASK) == 0 ? 1 : -1];

/* Take the first request as far as it goes: lsPending while a read runs. */
static TLoadStatus advance_job(void)
{
    TLoadStatus st;
    G.work_top = G.job_work;
    if (!G.job_top) {
        G.job_first = G.next_seq;
        G.job_root = G.job_top = new_load(G.queue[G.qhead].name, 0);
        if (!G.job_top)
            return lsOutOfMemory;
        G.job_top->lazy = G.queue[G.qhead].lazy;
    }
    G.async = 1;
    st = run(&G.job_top);
    G.job_work = G.work_top;
    G.async = 0;
    return st;
}

static unsigned enqueue(const char *name, TLoadCallback on_complete, u32 import, u32 lazy)
{
    request_t *q;
    if (!G.ready || !name || G.qcount == GVM_MAX_ASYNC)
        return 0;
    q = &G.queue[(G.qhead + G.qcount++) & Q_MASK];
    q->name = name;
    q->callback = on_complete;
    q->import = (u8)import;
    q->lazy = (u8)(lazy & GVM_LOAD_LAZY);
    q->slice = G.slice_next;
    if (!(q->id = ++G.next_id))
        q->id = ++G.next_id;
    if (G.qcount == 1 && !G.in_frame) {
        /* the drive starts now, not at the next frame; the CPU work waits for a frame */
        G.frame_budget = q->slice ? 0 : GVM_UNLIMITED;
        if (G.cfg.clock)
            G.frame_t0 = (u32)G.cfg.clock();
        G.job_status = advance_job();
    }
    return q->id;
}

GVM_FRAMED unsigned LoadModuleAsyncEx(const char *name, TLoadCallback on_complete, unsigned flags)
{
    AT_API_ENTRY(name);
    return enqueue(name, on_complete, 0, flags);
}

GVM_FRAMED unsigned GameVMImport(const char *name, TLoadCallback on_complete)
{
    AT_API_ENTRY(name);
    return enqueue(name, on_complete, 1, 0);
}

void GameVMSetSlice(unsigned long ticks)
{
    G.slice_next = (u32)ticks;
}

void LoadModuleAsync(const char *name, TLoadCallback on_complete)
{
    (void)LoadModuleAsyncEx(name, on_complete, 0);
}

GVM_FRAMED unsigned GameVMFrame(void)
{
    unsigned n = 0;
    AT_FRAME_ENTRY();
    if (G.in_frame)
        return 0;
    G.in_frame = 1;
    /* the requests share the CPU time of the first one's slice, from now on */
    G.frame_budget = G.qcount && G.queue[G.qhead].slice ? G.queue[G.qhead].slice
                                                         : GVM_UNLIMITED;
    if (G.cfg.clock)
        G.frame_t0 = (u32)G.cfg.clock();
    while (G.qcount) {
        request_t q = G.queue[G.qhead];
        TLoadStatus st = G.job_status == lsPending ? advance_job() : G.job_status;
        module_t *m = 0;
        u32 i, mask = 0;
        if (st == lsPending)
            break;
        if (st == lsSuccess) {
            m = G.job_root->m;
            m->refcount++;
        } else {
            rollback(G.job_first, 1);
            event(GVM_EV_FAILED, (u32)st, 0, 0, q.name);
        }
        for (i = 0; i < GVM_MAX_MODULES; i++)
            if (G.mods[i].seq && G.mods[i].job) {
                G.mods[i].job = 0;
                mask |= 1u << i;
            }
        G.job_top = G.job_root = 0;
        G.job_work = 0;
        G.job_status = lsPending;
        G.qhead = (G.qhead + 1) & Q_MASK;
        G.qcount--;
        G.done[G.ndone++ & Q_MASK].id = q.id;
        G.done[(G.ndone - 1) & Q_MASK].status = st;
        n++;
        construct(mask);
        if (q.callback)
            q.callback(m ? HANDLE(m) : 0, st);
    }
    G.in_frame = 0;
    return n;
}

TLoadStatus GameVMAsyncStatus(unsigned id)
{
    u32 i;
    for (i = 0; i < G.qcount; i++)
        if (id && G.queue[(G.qhead + i) & Q_MASK].id == id)
            return lsPending;
    for (i = 0; i < GVM_MAX_ASYNC; i++)
        if (id && G.done[i].id == id)
            return G.done[i].status;
    return lsInvalidHandle;
}

static module_t *handle_module(TModuleHandle h)
{
    return handle_module_of(h, 0);
}

void *GetModuleProc(TModuleHandle handle, const char *proc_name)
{
    module_t *m = handle_module(handle);
    const gvm_symbol *s = m && proc_name ? search(m->exports, m->nexports, proc_name) : 0;
    return s ? (void *)s->value : 0;
}

/* Safe mode: is `m`'s code live?  The return address into the game's code that called
 * the API, or a word of the game's stack (from where it called to the stack's top),
 * points into it after a call instruction: the reference loader's conservative rule,
 * without its frame unwinding.  The runtime's own frames are not scanned. */
static int returns_into(u32 v, module_t *m)
{
    return v - m->base < m->code_end && gvm_after_call(v, m->base);
}

static int in_use(module_t *m)
{
    u32 top = (u32)G.cfg.stack_top, a;
    if (!top)
        return 0;
    if (returns_into(G.caller_ra, m))
        return 1;
    for (a = (G.caller_sp + GVM_STACK_ALIGN - 1u) & ~(GVM_STACK_ALIGN - 1u); a + 4u <= top;
         a += GVM_STACK_ALIGN)
        if (returns_into(*(const gvm_word *)(const void *)a, m))
            return 1;
    return 0;
}

/* Does any loaded module outside `gone` bind into slot `k`? */
static int bound_into(u32 k, u32 gone)
{
    u32 i;
    for (i = 0; i < GVM_MAX_MODULES; i++)
        if (G.mods[i].seq && i != k && !(gone & (1u << i)) && !G.mods[i].hidden &&
            (G.mods[i].providers & (1u << k)))
            return 1;
    return 0;
}

GVM_FRAMED TLoadStatus UnloadModule(TModuleHandle handle)
{
    module_t *m = handle_module(handle);
    s32 counts[GVM_MAX_MODULES];
    u32 plan[GVM_MAX_MODULES], nplan = 0, gone = 0, order[GVM_MAX_MODULES], n, i, j, d, before;

    if (!m || m->refcount <= 0)
        return lsInvalidHandle;
    for (i = 0; i < GVM_MAX_MODULES; i++)
        counts[i] = G.mods[i].refcount;
    counts[slot_index(m)]--;
    n = in_load_order(order);
    do {                         /* what no reference and no binding holds, newest first */
        before = nplan;
        for (j = n; j-- > 0;) {
            u32 k = order[j];
            if (((gone | G.going) & (1u << k)) || counts[k] > 0 || bound_into(k, gone))
                continue;
            plan[nplan++] = k;
            gone |= 1u << k;
            for (i = 0, d = G.mods[k].deps; d; i++, d >>= 1)
                counts[i] -= (s32)(d & 1);
        }
    } while (nplan != before);
    AT_API_ENTRY(handle);
    for (j = 0; j < nplan; j++)
        if (in_use(&G.mods[plan[j]]))
            return lsModuleInUse;        /* safe mode: nothing changed */
    m->refcount--;
    for (j = 0; j < nplan; j++)
        drop_refs(G.mods[plan[j]].deps & ~gone);
    /* a destructor may call the API (borrow its need: LoadModule, UnloadModule); what this
     * unload frees is not planned again by an unload made from there */
    G.going |= gone;
    for (j = 0; j < nplan; j++) {
        module_t *x = &G.mods[plan[j]];
        run_destructors(x);
        release(x);
        stub_bindings(x, STUB_PATCH);
        G.going &= ~(1u << plan[j]);
    }
    return lsSuccess;
}

/* An overlay's occupant makes room, whatever its references: it and what only it held
 * are freed, destructors first; in safe mode, the bindings other modules still hold to
 * what goes are pointed at stubs (gvm_stubs.c). */
static void evict(module_t *m)
{
    u32 order[GVM_MAX_MODULES], n, j, dropped = m->deps;
    drop_refs(m->deps);
    run_destructors(m);
    release(m);
    stub_bindings(m, STUB_PATCH);
    n = in_load_order(order);
    /* what it held and nothing else holds goes too, newest first; each one freed here
     * drops its own needs' references, so a chain goes whole (a need is older than what
     * needs it, so this pass reaches it after its holder).  Only what lost a reference
     * here: a need a load in progress just placed holds none yet.  Nothing binds into
     * one (bound_into: every binding sets its holder's `providers` bit), so unlike `m`
     * it leaves no binding to stub. */
    for (j = n; j-- > 0;) {
        module_t *x = &G.mods[order[j]];
        if (x->seq && (dropped >> order[j] & 1) && x->refcount <= 0 &&
            !bound_into(order[j], 0)) {
            dropped |= x->deps;
            drop_refs(x->deps);
            run_destructors(x);
            release(x);
        }
    }
}

/* ---- set-up -------------------------------------------------------------------------- */
TLoadStatus GameVMInit(const TGameVMConfig *config)
{
    u32 i;
    G.ready = 0;
    G.nregions = 0;
    G.nplacements = 0;
    G.nneeds = 0;
    G.next_seq = 1;
    G.qcount = G.ndone = 0;
    G.job_top = G.job_root = 0;
    G.job_work = 0;
    G.job_status = lsPending;
    G.in_frame = 0;
    G.lazy_next = 0;
    G.free_stub = G.next_stub = G.stale_data = 0;
    G.trust = 0;
    G.ntrust = 0;
    G.trust_step = 0;
    G.reload = 0;
    for (i = 0; i < GVM_MAX_STUBS; i++)
        G.stubs[i].kind = 0;
    for (i = 0; i < GVM_MAX_ASYNC; i++)
        G.done[i].id = 0;
    G.keep_imports = 0;
    G.copy_of = 0;
    G.going = 0;
    for (i = 0; i < GVM_MAX_MODULES; i++) {
        G.mods[i].seq = G.mods[i].hidden = 0;
        G.mods[i].slot = (u8)i;
    }
    if (!config || !config->reader || !config->reader->open || !config->reader->read ||
        !config->work || config->work_size < 64 || !config->pool)
        return lsBadFormat;
    G.cfg.reader = config->reader;
    G.cfg.work = config->work;
    G.cfg.work_size = config->work_size;
    G.cfg.pool = config->pool;
    G.cfg.pool_size = config->pool_size;
    G.cfg.sync_code = config->sync_code;
    G.cfg.stack_top = config->stack_top;
    G.cfg.clock = config->clock;
    G.slice_next = 0;
    G.ready = 1;
    return lsSuccess;
}

TLoadStatus GameVMAddRegion(const char *name, unsigned long start, unsigned long size,
                            unsigned flags)
{
    region_t *r;
    if (G.nregions == GVM_MAX_REGIONS || start + size < start)
        return lsOutOfMemory;
    r = &G.regions[G.nregions++];
    r->name = name;
    r->start = (u32)start;
    r->end = (u32)(start + size);
    r->flags = flags;
    r->pair = -1;
    return lsSuccess;
}

TLoadStatus GameVMPairRegions(const char *region, const char *other)
{
    u32 a, b;
    for (a = 0; a < G.nregions && gvm_strcmp(G.regions[a].name, region) != 0; a++)
        ;
    for (b = 0; b < G.nregions && gvm_strcmp(G.regions[b].name, other) != 0; b++)
        ;
    if (a == G.nregions || b == G.nregions)
        return lsSymbolNotFound;
    G.regions[a].pair = (s32)b;
    return lsSuccess;
}

TLoadStatus GameVMAddNeed(const char *module, const char *need)
{
    if (G.nneeds == GVM_MAX_NEEDS)
        return lsOutOfMemory;
    G.needs[G.nneeds].module = module;
    G.needs[G.nneeds++].need = need;
    return lsSuccess;
}

TLoadStatus GameVMPlaceModule(const char *module, const char *region)
{
    u32 r;
    for (r = 0; r < G.nregions; r++)
        if (gvm_strcmp(G.regions[r].name, region) == 0)
            break;
    if (r == G.nregions)
        return lsSymbolNotFound;
    if (G.nplacements == GVM_MAX_PLACEMENTS)
        return lsOutOfMemory;
    G.placements[G.nplacements].module = module;
    G.placements[G.nplacements++].region = r;
    return lsSuccess;
}
