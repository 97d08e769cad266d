/*
 * gvm_stubs.c - lazy binding (seed §6.2) and stale bindings (seed §4.2), on the console.
 *
 * Both point a module's import at a stub in gvm_stub_area, a table in the runtime's
 * memory.  A stub loads its slot number into a scratch register and jumps to
 * gvm_stub_entry, which keeps the arguments and calls gvm_stub_call(slot):
 *
 * - a lazy stub (LoadModuleFlags(name, GVM_LOAD_LAZY), MIPS `jal` imports only) binds
 *   the import now (resident first, then modules in load order), patches every call
 *   site of it, makes the code visible to the CPU, frees the stub and goes on into the
 *   function: later calls are direct;
 * - a stale stub replaces a binding into a module that was freed while the holder
 *   stayed (an evicted overlay, in safe mode): calling it reports the call (GVM_EV_STALE
 *   to gvm_debug_event, where a debugger or the emulated console stops) and never
 *   returns, instead of running whatever now lies in the freed memory.  Data bindings
 *   point at 0x7F000000 + 16 k instead, unmapped on every console.  With
 *   GameVMSetStale(GVM_STALE_RELOAD) the call loads the module again, rebinds what was
 *   stubbed away from it and goes on (gvm_stale_reload).
 *
 * Slots, their order of reuse and every patched byte are those of the reference loader
 * (gamevm_build/runtime/reference.py, StubArea), which the tests compare RAM with.
 */
#include "gvm_int.h"

enum { STUB_FREE, STUB_LAZY, STUB_STALE };
enum { IMP_CALL = 1, IMP_OTHER = 2, IMP_WEAK = 4 };   /* its uses; the last symbol weak */
#define STALE_DATA_BASE 0x7F000000u
#define STUB_BYTES (GVM_STUB_WORDS * 4u)
/* gvm_import.stub: the slot + 1 of its lazy or stale stub in the low byte (0: none); a
 * stale binding (function or data) keeps its provider's placement_of() above it */
#define STUB_SLOT(v) ((v) & 0xFFu)

gvm_word gvm_stub_area[GVM_MAX_STUBS * GVM_STUB_WORDS];
void gvm_stub_entry(void);

static u32 stub_address(u32 slot)
{
    return (u32)gvm_stub_area + slot * STUB_BYTES;
}

/* A slot for `kind` held by module slot `holder`'s import `imp`, its code written and
 * made visible; -1 when the area is full. */
static s32 stub_alloc(u32 kind, u32 holder, u32 imp)
{
    u32 i, e = (u32)gvm_stub_entry;
    gvm_word *w;
    if (G.free_stub) {
        i = G.free_stub - 1;
        G.free_stub = G.stubs[i].next;
    } else if (G.next_stub < GVM_MAX_STUBS) {
        i = G.next_stub++;
    } else {
        return -1;
    }
    G.stubs[i].kind = (u8)kind;
    G.stubs[i].holder = (u8)holder;
    G.stubs[i].imp = (u8)imp;
    w = gvm_stub_area + i * GVM_STUB_WORDS;
#if defined(__mips__)
    w[0] = 0x08000000u | (e >> 2 & 0x03FFFFFFu);          /* j gvm_stub_entry */
    w[1] = 0x24180000u | i;                               /* li $t8, slot (delay slot) */
#elif defined(__m68k__)
    w[0] = (0x7000u | i) << 16 | 0x4EF9u;                 /* moveq #slot, d0; jmp (abs.l) */
    w[1] = e;
#else
    w[0] = 0xE3A0C000u | i;                               /* mov ip, #slot */
    w[1] = 0xE51FF004u;                                   /* ldr pc, [pc, #-4] */
    w[2] = e;
#endif
    sync_code((u32)w, STUB_BYTES);
    return (s32)i;
}

static void stub_free(u32 i)
{
    if (G.stubs[i].kind) {
        G.stubs[i].kind = STUB_FREE;
        G.stubs[i].next = (u8)G.free_stub;
        G.free_stub = i + 1;
    }
}

/* Every import of the module being loaded, in the file's order, when it keeps them
 * (`keep`).  0 if the work area is full. */
static u32 scan_imports(load_ctx *c, u32 keep)
{
    u32 i, j, k;
    struct imp_scan *p;
    c->imp = 0;
    if (!keep)
        return 1;
    if (!(p = work_alloc(sizeof *p)) || !(p->of = work_alloc(c->nsym * 4u)) ||
        !(p->sym = work_alloc(c->nsym * 4u)))
        return 0;
    p->n = p->names = p->nirel = 0;
    p->of[0] = 0;                           /* a packed module's own base */
    for (i = 1; i < c->nsym; i++) {
        u8 *s = c->sym + (i << 4);
        const char *name;
        p->of[i] = 0;
        if ((s[12] & 15) == STT_SECTION || gvm_rd16(s + 14, c->big) != SHN_UNDEF)
            continue;
        name = (const char *)c->str + gvm_rd32(s, c->big);
        for (k = 0; k < p->n; k++) {          /* a name twice: one import, in its place */
            const char *other = (const char *)c->str +
                                gvm_rd32(c->sym + (p->sym[k] << 4), c->big);
            if (*other == *name && gvm_strcmp(other, name) == 0)
                break;
        }
        if (k == p->n) {
            if (p->n == 255)
                return 0;                   /* a stub names its import in a byte */
            p->sym[p->n++] = i;
            p->names += slen(name) + 1;
        }
        p->of[i] = k + 1;
    }
    if (GVM_LAZY && (!(p->use = work_alloc(p->n)) || !(p->stub = work_alloc(p->n * 4u))))
        return 0;
    for (k = 0; GVM_LAZY && k < p->n; k++)
        p->use[k] = 0, p->stub[k] = 0;
    for (i = 1; GVM_LAZY && i < c->nsym; i++)      /* the last symbol of a name decides */
        if ((k = p->of[i]) != 0)
            p->use[k - 1] = (u8)((p->use[k - 1] & ~IMP_WEAK) |
                                     ((c->sym[(i << 4) + 12] >> 4) == STB_WEAK ? IMP_WEAK : 0));
    for (i = 0; i < c->shnum; i++) {
        const gvm_word *r = (const gvm_word *)(const void *)c->rel[i];
        for (j = 0; r && j < c->nrel[i]; j++, r += 3)
            if ((k = p->of[r[1] >> 8]) != 0) {
                if (GVM_LAZY)                                    /* R_MIPS_26: a jal */
                    p->use[k - 1] |= (r[1] & 0xFF) == 4 ? IMP_CALL : IMP_OTHER;
                p->nirel++;
            }
    }
    c->imp = p;
    return 1;
}

/* A lazy load: a stub for each import that is only ever called (every site a `jal`) and
 * not weak; data and functions whose address is taken are bound now (as glibc binds
 * only PLT calls lazily). */
static TLoadStatus lazy_stubs(load_ctx *c, module_t *m)
{
    u32 k;
    for (k = 0; GVM_LAZY && c->lazy && c->imp && k < c->imp->n; k++) {
        s32 slot;
        if (c->imp->use[k] != IMP_CALL)         /* only called, and not weak */
            continue;
        if ((slot = stub_alloc(STUB_LAZY, (u32)slot_index(m), k)) < 0) {
            free_load_stubs(c);
            return lsOutOfMemory;
        }
        c->imp->stub[k] = (u32)slot + 1;
    }
    return lsSuccess;
}

/* Safe mode keeps the imports of a module bound into an overlay's occupant: only an
 * eviction frees a module others still bind to (an unload waits for its binders). */
static u32 binds_into_overlay(u32 providers)
{
    u32 i;
    for (i = 0; G.cfg.stack_top && i < GVM_MAX_MODULES; i++)
        if ((providers >> i & 1) && (G.regions[G.mods[i].region].flags & GVM_REGION_OVERLAY))
            return 1;
    return 0;
}

static void free_load_stubs(load_ctx *c)
{
    u32 k;
    for (k = 0; GVM_LAZY && k < NIMP(c); k++)
        if (c->imp->stub[k])
            stub_free(c->imp->stub[k] - 1);
}

/* The stubs module `m` holds, in its imports' order (it is being freed). */
static void free_stubs(module_t *m)
{
    u32 k;
    gvm_import *im = IMPORTS(m);
    for (k = 0; k < m->nimports; k++) {
        if (STUB_SLOT(im[k].stub))
            stub_free(STUB_SLOT(im[k].stub) - 1);
        im[k].stub = 0;
    }
}

/* Re-apply the relocations of `m`'s import `imp` (only its `jal`s with `calls`) with value
 * S, and make the code visible: the emulated console is told first (GVM_EV_PATCHING). */
static void patch_import(module_t *m, u32 imp, u32 S, int calls)
{
    const gvm_word *r, *irel = IRELS(m);
    u32 k, lo = 0xFFFFFFFFu, hi = 0, e[3];
    for (r = irel, k = 0; k < m->nirel; k++, r += 3)
        if (r[1] >> 8 == imp && (!calls || (r[1] & 0xFF) == 4)) {
            lo = r[0] < lo ? r[0] : lo;
            hi = r[0] + 4 > hi ? r[0] + 4 : hi;
        }
    if (lo > hi)
        return;
    event(GVM_EV_PATCHING, m->base + lo, hi - lo, 0, m->name);
    for (r = irel, k = 0; k < m->nirel; k++, r += 3)
        if (r[1] >> 8 == imp && (!calls || (r[1] & 0xFF) == 4)) {
            e[0] = r[0];
            e[1] = r[1] & 0xFF;
            e[2] = r[2];
            gvm_relocate((const u8 *)e, 1, m->base, &S);   /* a field that cannot hold S stays */
        }
    sync_code(m->base + lo, hi - lo);
}

/* Safe mode: `gone` is freed; the bindings loaded modules still hold to its exports go to
 * stale stubs (functions) or unmapped addresses (data), every site of each.  Returns the
 * stubs they take.  With `dry` a region's number: only counts them, for the modules
 * outside that region (all of it is being evicted). */
static u32 stub_bindings(module_t *gone, u32 dry)
{
    u32 order[GVM_MAX_MODULES], n = in_load_order(order), j, k, need = 0;
    u32 from = placement_of(gone->name) << 8;
    if (!G.cfg.stack_top)
        return 0;
    for (j = 0; j < n; j++) {
        module_t *m = &G.mods[order[j]];
        for (k = 0; m->region != dry && k < m->nimports; k++) {
            gvm_import *im = IMPORTS(m) + k;
            const gvm_symbol *e;
            u32 S;
            s32 slot;
            if ((STUB_SLOT(im->stub) && G.stubs[STUB_SLOT(im->stub) - 1].kind == STUB_LAZY) ||
                im->value - gone->base >= gone->size ||
                !(e = search(gone->exports, gone->nexports, im->name)) || e->value != im->value)
                continue;
            if (e->name[-1] == 1) {                         /* STT_OBJECT */
                if (dry != STUB_PATCH)
                    continue;
                S = STALE_DATA_BASE + 16u * G.stale_data++;
                im->stub = from;
            } else {
                need++;
                if (dry != STUB_PATCH || (slot = stub_alloc(STUB_STALE, order[j], k)) < 0)
                    continue;             /* counting; or full (an unload's): it stays */
                im->stub = from | ((u32)slot + 1);
                S = stub_address((u32)slot);
            }
            patch_import(m, k, S, 0);
            im->value = S;
        }
    }
    return need;
}

/* Are there stubs enough for evicting region `r`'s occupants?  The reference loader fails
 * such a load with lsOutOfMemory; the runtime checks first, so nothing changes. */
static int stubs_for_eviction(u32 r)
{
    u32 i;
    s32 have = 0;
    for (i = 0; i < GVM_MAX_STUBS; i++)       /* free, or held by what goes */
        if (i >= G.next_stub || !G.stubs[i].kind || G.mods[G.stubs[i].holder].region == r)
            have++;
    for (i = 0; i < GVM_MAX_MODULES; i++)
        if (G.mods[i].seq && G.mods[i].region == r)
            have -= (s32)stub_bindings(&G.mods[i], r);
    return have >= 0;
}

/* The reloaded module `r`: every binding stubbed away from a module of its name (stale
 * stubs and data addresses, each holder in load order, its imports in order) is bound
 * to it again, every site patched and synchronised, and the stubs freed (the reference
 * loader's _rebind_stubbed). */
static void rebind_stale(module_t *r)
{
    u32 order[GVM_MAX_MODULES], n = in_load_order(order), j, k;
    for (j = 0; j < n; j++) {
        module_t *m = &G.mods[order[j]];
        for (k = 0; k < m->nimports; k++) {
            gvm_import *im = IMPORTS(m) + k;
            const gvm_symbol *e;
            if (!(im->stub >> 8) || gvm_strcmp(G.placements[(im->stub >> 8) - 1].module,
                                               r->name) != 0 ||
                !(e = search(r->exports, r->nexports, im->name)))
                continue;
            patch_import(m, k, e->value, 0);
            im->value = e->value;
            m->providers |= 1u << slot_index(r);
            if (STUB_SLOT(im->stub))
                stub_free(STUB_SLOT(im->stub) - 1);
            im->stub = 0;
        }
    }
}

/* GVM_STALE_RELOAD: a call through stale stub `slot` loads its module again by its
 * placed name, `module` (its needs first; an overlay's occupant is evicted, or the load
 * refused, as for any load), rebinds, runs the constructors of what it loaded and returns
 * the function to go on into; a reload that fails is reported and stops there.  Reached
 * only through G.reload: a game that never calls GameVMSetStale links none of it.  Global,
 * so debuggers and the emulated console's traces see a reload begin and end. */
u32 gvm_stale_reload(const char *module, u32 slot);
GVM_FRAMED u32 gvm_stale_reload(const char *module, u32 slot)
{
    module_t *h = &G.mods[G.stubs[slot].holder], *r;
    const char *sym = IMPORTS(h)[G.stubs[slot].imp].name;
    u32 mask = 0;
    TLoadStatus st = lsFileNotFound;
    const gvm_symbol *e;
    AT_FRAME_ENTRY();                /* safe mode scans the stack from here: the caller's */
    if (module && (r = load_now(module, &st, 0, &mask)) != 0) {
        rebind_stale(r);
        if ((e = search(r->exports, r->nexports, sym)) != 0) {
            construct(mask);
            return e->value;
        }
        st = lsSymbolNotFound;
    }
    event(GVM_EV_RELOAD_FAILED, (u32)st, h->base, stub_address(slot), sym);
    for (;;)
        ;
}

TLoadStatus GameVMSetStale(unsigned policy)
{
    if (policy > GVM_STALE_RELOAD)
        return lsBadFormat;
    G.reload = policy == GVM_STALE_RELOAD ? gvm_stale_reload : 0;
    return lsSuccess;
}

/* Where every stub goes (from gvm_stub_entry, the arguments kept): a lazy import's
 * address once bound; a stale or unbound call is reported and stops there (a stale one
 * reloads its module instead, with GVM_STALE_RELOAD). */
__attribute__((used, noinline, noclone)) static u32 gvm_stub_call(u32 slot)
{
    module_t *m = &G.mods[G.stubs[slot].holder];
    gvm_import *im = IMPORTS(m) + G.stubs[slot].imp;
    u32 v, order[GVM_MAX_MODULES], n = in_load_order(order);
    module_t *p;
    if (GVM_LAZY && G.stubs[slot].kind == STUB_LAZY) {
        if (resolve(im->name, &v, order, n)) {
            patch_import(m, G.stubs[slot].imp, v, 1);
            im->value = v;
            im->stub = 0;
            stub_free(slot);
            if ((p = containing(v, 0)) != 0)
                m->providers |= 1u << slot_index(p);
            return v;
        }
        event(GVM_EV_UNBOUND, stub_address(slot), m->base, 0, im->name);
    } else if (G.reload && G.stubs[slot].kind == STUB_STALE) {
        return G.reload(im->stub >> 8 ? G.placements[(im->stub >> 8) - 1].module : 0, slot);
    } else {
        event(GVM_EV_STALE, G.stubs[slot].kind, m->base, stub_address(slot), im->name);
    }
    for (;;)
        ;
}

/* The stub's slot is in $t8 (MIPS), d0 (68000), ip (ARM); the arguments in registers (and
 * on the 68000's stack) stay as the caller left them, and so does the return address. */
#if defined(__mips__)
/* o32: a0-a3 and, with hard float (n64), $f12-$f15 (the first two float/double arguments,
 * which gvm_stub_call and the game's sync_code may use); `sdc1` keeps an even/odd pair. */
#if defined(__mips_hard_float)
#define FP_SAVE "\tsdc1 $f12, 40($sp)\n\tsdc1 $f14, 48($sp)\n"
#define FP_LOAD "\tldc1 $f12, 40($sp)\n\tldc1 $f14, 48($sp)\n"
#define FRAME "56"
#else
#define FP_SAVE ""
#define FP_LOAD ""
#define FRAME "40"
#endif
__asm__(".section .text.gvm_stub_entry,\"ax\",@progbits\n"
        "\t.globl gvm_stub_entry\n\t.type gvm_stub_entry, @function\n"
        "\t.set push\n\t.set noreorder\n"
        "gvm_stub_entry:\n"
        "\taddiu $sp, $sp, -" FRAME "\n\tsw $4, 16($sp)\n\tsw $5, 20($sp)\n\tsw $6, 24($sp)\n"
        "\tsw $7, 28($sp)\n\tsw $31, 32($sp)\n" FP_SAVE
        "\tjal gvm_stub_call\n\tmove $4, $24\n" FP_LOAD
        "\tlw $4, 16($sp)\n\tlw $5, 20($sp)\n\tlw $6, 24($sp)\n\tlw $7, 28($sp)\n"
        "\tlw $31, 32($sp)\n\tjr $2\n\taddiu $sp, $sp, " FRAME "\n"
        "\t.set pop\n\t.size gvm_stub_entry, . - gvm_stub_entry\n\t.previous\n");
#elif defined(__m68k__)
__asm__(".section .text.gvm_stub_entry,\"ax\",@progbits\n"
        "\t.globl gvm_stub_entry\n\t.type gvm_stub_entry, @function\n"
        "gvm_stub_entry:\n"
        "\tmovem.l %d1/%a0-%a1, -(%sp)\n\tmove.l %d0, -(%sp)\n\tjsr gvm_stub_call\n"
        "\taddq.l #4, %sp\n\tmovem.l (%sp)+, %d1/%a0-%a1\n\tmove.l %d0, -(%sp)\n\trts\n"
        "\t.size gvm_stub_entry, . - gvm_stub_entry\n\t.previous\n");
#else
/* The function it goes on into may be Thumb code (bit 0 set: a GBA module's, reached by a
 * stale stub's reload): `bx` where the CPU has Thumb; the ARM60 (ARMv3) has neither. */
#if defined(__ARM_ARCH_ISA_THUMB)
#define GVM_JUMP_IP "\tbx ip\n"
#else
#define GVM_JUMP_IP "\tmov pc, ip\n"
#endif
__asm__(".section .text.gvm_stub_entry,\"ax\",%progbits\n"
        "\t.arm\n\t.align 2\n\t.globl gvm_stub_entry\n\t.type gvm_stub_entry, %function\n"
        "gvm_stub_entry:\n"
        "\tstmfd sp!, {r0-r4, lr}\n\tmov r0, ip\n\tbl gvm_stub_call\n\tmov ip, r0\n"
        "\tldmfd sp!, {r0-r4, lr}\n" GVM_JUMP_IP
        "\t.size gvm_stub_entry, . - gvm_stub_entry\n\t.previous\n");
#endif
