/*
 * gvm_reload.c - hot reload on the console, for development sessions (docs/dev.md,
 * "Reload on the console-side runtime").
 *
 * A session (gamevm dev, through the emulator or a debug link) swaps a loaded module for
 * a rebuilt one at a frame boundary in three calls, so that the part only a host can do
 * (it has both files' symbols, statics included) goes in between:
 *
 *   GameVMLoadCopy  loads the new file beside the live copy, placed, relocated, bound and
 *                   constructed as any load, but hidden: no name finds it, nothing binds to
 *                   it, and it never binds into the copy it replaces;
 *                   (the host carries the data and bss state symbol by symbol)
 *   GameVMSwapCopy  rebinds every other module's imports bound into the live copy to the
 *                   new one, then the two records trade places: the handle the game holds
 *                   names the new copy and keeps its place in the binding order, its
 *                   reference count and its pins; the old copy is hidden, its memory kept
 *                   (a function pointer stored at run time may still enter it: the host
 *                   writes a jump at each of its entries);
 *   GameVMFreeCopy  frees a hidden copy (no destructors: its state lives on in the other).
 *
 * Swapping back and freeing the new copy undoes a reload whose self test failed.  Only a
 * runtime with GameVMSetReload called keeps every module's imports, which the rebinding
 * needs.  Reached only through these four functions: a game that calls none of them links
 * none of it.
 */

/* The lowest place in region `r` that holds `size` bytes between the modules there: for
 * the copy of a module being reloaded (gvm_reload.c), so that the old copies freed below
 * the top, holes a stack never gives back, are used again and a module reloaded again and
 * again costs one copy of itself, not one per reload. */
static int fits_below(u32 r, u32 size, u32 align, u32 *base)
{
    u32 i, j, at, found = 0;
    for (i = 0; i <= GVM_MAX_MODULES; i++) {          /* the region's start, or a block's end */
        const module_t *m = &G.mods[i < GVM_MAX_MODULES ? i : 0];
        if (i < GVM_MAX_MODULES && !(m->seq && m->region == r))
            continue;
        at = (i < GVM_MAX_MODULES ? m->base + m->size : G.regions[r].start) + align - 1;
        at &= ~(align - 1);
        if (at < G.regions[r].start || at > G.regions[r].end || size > G.regions[r].end - at ||
            (found && at >= *base))
            continue;
        for (j = 0; j < GVM_MAX_MODULES; j++)
            if (G.mods[j].seq && G.mods[j].region == r && G.mods[j].base < at + size &&
                at < G.mods[j].base + G.mods[j].size)
                break;
        if (j == GVM_MAX_MODULES)
            *base = at, found = 1;
    }
    return found;
}

/* A hidden copy of a reloaded module goes (gvm_reload.c; an overlay it lies in is
 * evicted): no destructors, its state lives on in the copy that replaced it. */
static void drop_copy(module_t *m)
{
    drop_refs(m->deps);
    release(m);
}

/* A hidden copy's record, or 0. */
static module_t *copy_module(TModuleHandle h)
{
    return handle_module_of(h, 1);
}

TLoadStatus GameVMSetReload(unsigned on)
{
    G.keep_imports = (u8)(on != 0);
    return lsSuccess;
}

GVM_FRAMED TLoadStatus GameVMLoadCopy(TModuleHandle live, const char *name, unsigned flags,
                                      TModuleHandle *copy)
{
    module_t *m = handle_module(live), *r = 0;
    TLoadStatus st = lsInvalidHandle;
    u32 mask = 0, first = G.next_seq;

    AT_API_ENTRY(live);
    if (copy)
        *copy = 0;
    if (m && name && copy) {
        m->hidden = 1;
        G.copy_of = m;                   /* an overlay's occupant: the copy goes to a heap */
        G.place_copy = fits_below;
        G.drop_copy = drop_copy;
        r = load_now(name, &st, flags & GVM_LOAD_LAZY, &mask);
        G.copy_of = 0;
        m->hidden = 0;
        if (r && gvm_strcmp(r->name, m->name) != 0) {
            rollback(first, 0);          /* another module's file: nothing stays */
            r = 0;
            st = lsBadFormat;
        }
        if (r) {
            /* known before a constructor runs: one that never returns (a fault the
             * debugger stops at) leaves a copy its caller can free */
            *copy = HANDLE(r);
            r->hidden = 1;
            construct(mask);             /* what it needed and loaded, then itself */
            run_constructors(r);
        }
    }
    return st;
}

/* Every import of the loaded modules bound into `from` goes to the export of that name
 * in `to` (sites patched and made visible); with `dry` only checks that `to` has them. */
static int rebind_into(module_t *from, module_t *to, int dry)
{
    u32 order[GVM_MAX_MODULES], n = in_load_order(order), j, k;
    for (j = 0; j < n; j++) {
        module_t *h = &G.mods[order[j]];
        for (k = 0; h != from && k < h->nimports; k++) {
            gvm_import *im = IMPORTS(h) + k;
            const gvm_symbol *e = search(from->exports, from->nexports, im->name);
            if (STUB_SLOT(im->stub) || !e || e->value != im->value)
                continue;                /* a stub binds by name when it is called */
            if (!(e = search(to->exports, to->nexports, im->name)))
                return 0;
            if (!dry) {
                patch_import(h, k, e->value, 0);
                im->value = e->value;
            }
        }
    }
    return 1;
}

/* Records `a` and `b` trade places; each slot keeps its place in the load order, the
 * reference count the game's handle holds and the bits other records keep of it. */
static void exchange(module_t *a, module_t *b)
{
    module_t t;
    u32 ia = (u32)slot_index(a), ib = (u32)slot_index(b), v, i;
    copy((u8 *)&t, (const u8 *)a, sizeof t);      /* no libc: no memcpy for `*a = *b` */
    copy((u8 *)a, (const u8 *)b, sizeof t);
    copy((u8 *)b, (const u8 *)&t, sizeof t);
    v = a->seq, a->seq = b->seq, b->seq = v;
    a->slot = (u8)ia;
    b->slot = (u8)ib;
    v = (u32)a->refcount, a->refcount = b->refcount, b->refcount = (s32)v;
    a->hidden = 0;
    b->hidden = 1;
    for (i = 0; i < GVM_MAX_STUBS; i++)      /* stubs name their holder by slot */
        if (G.stubs[i].kind && (G.stubs[i].holder == ia || G.stubs[i].holder == ib))
            G.stubs[i].holder = (u8)(G.stubs[i].holder == ia ? ib : ia);
}

GVM_FRAMED TLoadStatus GameVMSwapCopy(TModuleHandle live, TModuleHandle copy)
{
    module_t *m = handle_module(live), *r = copy_module(copy);
    AT_API_ENTRY(live);
    if (!m || !r || gvm_strcmp(m->name, r->name) != 0)
        return lsInvalidHandle;
    if (in_use(m))
        return lsModuleInUse;            /* safe mode: a frame of the game is inside it */
    if (!rebind_into(m, r, 1))
        return lsSymbolNotFound;         /* others bind a name the new copy lacks */
    rebind_into(m, r, 0);
    exchange(m, r);
    return lsSuccess;
}

GVM_FRAMED TLoadStatus GameVMFreeCopy(TModuleHandle copy)
{
    module_t *r = copy_module(copy);
    AT_API_ENTRY(copy);
    if (!r)
        return lsInvalidHandle;
    if (in_use(r))
        return lsModuleInUse;
    drop_copy(r);
    return lsSuccess;
}
