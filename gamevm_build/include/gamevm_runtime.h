/*
 * gamevm_runtime.h - setting up the GameVM loader that runs on the console.
 *
 * A resident linked with `gamevm resident --runtime target` (SCons:
 * GAMEVM_RUNTIME='target') contains the C runtime of gamevm_build/runtime/loader:
 * the implementation of gamevm.h's LoadModule/GetModuleProc/UnloadModule on the
 * console's own CPU, and the resident's Global Symbol Table (a sorted table that
 * modules' imports are bound against by binary search).  Before the first load
 * the kernel calls GameVMInit once, then GameVMAddRegion for each memory region
 * modules may go to.  docs/runtime-c.md explains every field, the reader
 * contract and what each console needs (cache maintenance, memory).
 */
#ifndef GAMEVM_RUNTIME_H
#define GAMEVM_RUNTIME_H

#include "gamevm.h"

/* Where module files come from.  The runtime opens a module by the name game code
 * passed to LoadModule ("level1"), reads the ELF headers, symbols and relocations
 * into the work area and the loadable sections straight to their place in RAM.
 *   open:  find module `name`; store its size in bytes in *size; return a file
 *          number >= 0, or -1 when there is no such module (lsFileNotFound).
 *   read:  copy `len` bytes from offset `offset` of `file` to `dst`; return 0, or
 *          -1 on a read error (the load fails with lsFileNotFound).  `dst` may be
 *          any byte address (a DMA-based reader bounces unaligned requests).
 *   close: the runtime is done with `file` (may be 0).
 * Offsets and lengths are always within the size open reported. */
typedef struct TGameVMReader {
    int (*open)(void *ctx, const char *name, unsigned long *size);
    int (*read)(void *ctx, int file, unsigned long offset, void *dst, unsigned long len);
    void (*close)(void *ctx, int file);
    void *ctx;
    /* Optional, for LoadModuleAsync: reads that go on while the game runs.
     *   start: begin what read would do; return 0, or -1 when it cannot start.
     *   poll:  1 once the read `start` began last has put its bytes at `dst`, 0 while
     *          it runs, -1 if it failed.  The runtime has at most one read running,
     *          and may call read (a synchronous LoadModule) while it runs: the reader
     *          finishes the started read first (the drive does one thing at a time).
     * Without them an asynchronous load reads with `read`, in GameVMFrame. */
    int (*start)(void *ctx, int file, unsigned long offset, void *dst, unsigned long len);
    int (*poll)(void *ctx, int file);
} TGameVMReader;

typedef struct TGameVMConfig {
    const TGameVMReader *reader;
    /* Work area: headers, symbols and relocations of the modules being loaded
     * (a load and the loads of the modules it needs nest in it).  Free again when
     * LoadModule returns.  Size: the largest chain of nested loads' metadata. */
    void *work;
    unsigned long work_size;
    /* Pool: the records and export tables of loaded modules (names and addresses,
     * for binding and GetModuleProc), ~16 bytes plus the name per export. */
    void *pool;
    unsigned long pool_size;
    /* Make code the CPU wrote visible to instruction fetch (0: the runtime's
     * default for the console: PS1 BIOS FlushCache, N64 D-cache writeback and
     * I-cache invalidate, nothing on CPUs without caches). */
    void (*sync_code)(void *addr, unsigned long size);
    /* Safe mode (seed §4.2): the top of the stack the game's code runs on.  Unloading
     * or evicting a module whose code a return address on that stack (or the caller's)
     * points into is refused with lsModuleInUse.  0: safe mode off. */
    void *stack_top;
    /* CPU slices: a free-running counter the game reads its time from (a root counter on
     * the PS1, COUNT on the N64, a cascaded timer on the GBA; any rate, wrapping at 2^32).
     * With it, an asynchronous load does at most the slice GameVMSetSlice gave it of CPU
     * work per GameVMFrame (docs/runtime-c.md, "CPU slices").  0: an asynchronous load
     * does all its CPU work in the GameVMFrame that finds its read done. */
    unsigned long (*clock)(void);
} TGameVMConfig;

/* GameVMAddRegion flags */
#define GVM_REGION_HEAP    0u   /* general memory: modules go to the first heap with room */
#define GVM_REGION_OVERLAY 1u   /* only modules placed there by name */

/* Start the runtime (forgets every module and region).  lsBadFormat when a
 * required field is missing. */
TLoadStatus GameVMInit(const TGameVMConfig *config);

/* Add a region of RAM modules may be loaded into (a stack allocator, seed §8).
 * `name` must stay valid.  lsOutOfMemory when the runtime's region table is full. */
TLoadStatus GameVMAddRegion(const char *name, unsigned long start, unsigned long size,
                            unsigned flags);

/* Place module `module` (its name) in region `region` from now on: loads go there,
 * and loading into an occupied GVM_REGION_OVERLAY region first evicts its occupant
 * (seed §4).  Both strings must stay valid.  lsSymbolNotFound for an unknown
 * region, lsOutOfMemory when the placement table is full. */
TLoadStatus GameVMPlaceModule(const char *module, const char *region);

/* Module `module` needs `need`: loaded first, held while it is.  For needs its file
 * does not declare (the project configuration's modules.NAME.needs), and for those it
 * does: registered needs load before the module's file is opened, so a game that
 * registers the build's whole needs table (the file's needs, then the project's, in
 * order) has its files read in the order the load budgets plan.  Both strings must
 * stay valid.  lsOutOfMemory when the table (32) is full. */
TLoadStatus GameVMAddNeed(const char *module, const char *need);

/* Check every module loaded from now on against `table`, the binary manifest the game
 * trusts (`gamevm sign --table`; docs/signing.md): a module the table does not list,
 * whose file has another size, or whose bytes as read do not hash (SHA-256) to the
 * table's digest is refused with lsBadSignature, loading nothing; the digest is checked
 * before the module's bytes are decompressed, relocated or run.  The table must stay
 * valid; 0 turns the check off.  lsBadFormat (and no check) for a malformed table.
 * Call after GameVMInit, which forgets it. */
TLoadStatus GameVMTrust(const void *table, unsigned long size);

/* What a call through a stale binding does (seed §4.2; safe mode: a binding into an
 * overlay's occupant that was evicted while its holder stayed), the reference loader's
 * LoaderPolicy(stale=...):
 *   GVM_STALE_FAULT  (the default): report the call (gvm_debug_event GVM_EV_STALE) and
 *                    stop there;
 *   GVM_STALE_RELOAD: load the module again by its placed name (its needs first, evicting
 *                    as any load does), rebind every binding stubbed away from it, run its
 *                    constructors and go on into the called function; a reload that fails
 *                    is reported (GVM_EV_RELOAD_FAILED, with its TLoadStatus) and stops.
 * Linked only into a resident that calls it.  lsBadFormat for another value.  Call after
 * GameVMInit, which forgets it. */
#define GVM_STALE_FAULT  0u
#define GVM_STALE_RELOAD 1u
TLoadStatus GameVMSetStale(unsigned policy);

/* Hot reload, for development sessions (docs/dev.md, "Reload on the console-side
 * runtime"; gvm_reload.c).  Call GameVMSetReload(1) after GameVMInit, before loading:
 * modules loaded from then on keep their imports (12 bytes of the pool per import and
 * per relocation of one), so a swap can rebind them.  At a frame boundary:
 *   GameVMLoadCopy(live, name, flags, &copy): load file `name`, a rebuilt `live`, beside
 *     it (same region; GVM_LOAD_LAZY in `flags` as for LoadModuleFlags), constructed but
 *     hidden: no name or handle call finds it.  `copy` is set before its constructors
 *     run (one that never returns leaves a copy to free).  A copy of an overlay's
 *     occupant goes to the first heap region with room (the old copy, hidden, goes when
 *     the overlay is next loaded into).  lsInvalidHandle for a handle that is not a
 *     loaded module's, lsBadFormat for another module's file, else LoadModuleEx's.
 *   GameVMSwapCopy(live, copy): every import other modules bound into `live` goes to
 *     `copy`'s export of that name, and `live` (the handle the game holds) names the new
 *     copy from then on; the old copy is hidden under `copy`, its memory kept.
 *     lsModuleInUse (safe mode: a frame of the game is inside `live`), lsSymbolNotFound
 *     (others bind a name `copy` lacks), lsInvalidHandle: nothing changed.  Swapping
 *     again with the same two handles undoes it.
 *   GameVMFreeCopy(copy): free a hidden copy (no destructors); lsModuleInUse in safe mode
 *     while a frame is inside it.
 * The state (data, bss) and the jumps from the old entries are the host's part: it knows
 * every symbol of both files. */
TLoadStatus GameVMSetReload(unsigned on);
TLoadStatus GameVMLoadCopy(TModuleHandle live, const char *name, unsigned flags,
                           TModuleHandle *copy);
TLoadStatus GameVMSwapCopy(TModuleHandle live, TModuleHandle copy);
TLoadStatus GameVMFreeCopy(TModuleHandle copy);

/* Make overlay region `other` the second half of `region`'s double buffer (seed §5.1):
 * a load placed in `region` while its occupant is running (safe mode) goes to
 * `other` instead, when nothing runs there.  lsSymbolNotFound for an unknown name. */
TLoadStatus GameVMPairRegions(const char *region, const char *other);

/* CPU time per frame, in `clock` ticks, that asynchronous requests made from now on may
 * use (LoadModuleAsync, GameVMImport); 0 (the default): no limit.  The requests of one
 * GameVMFrame share the first one's slice.  A game sets a stream's cpu_slice_ms before
 * requesting it: ticks = cpu_slice_ms * clock rate / 1000. */
void GameVMSetSlice(unsigned long ticks);

/* The address of a symbol of the resident's Global Symbol Table, or 0. */
void *GameVMResidentSymbol(const char *name);

/* The emulated console's media device as a reader (gamevm call/run, GameVMValidate). */
extern const TGameVMReader GameVMEmulatorReader;
/* The emulated console's clock: CPU cycles executed (one per instruction, as the load-time
 * model counts them), for TGameVMConfig.clock. */
unsigned long GameVMEmulatorClock(void);

/* The console's default code synchronisation (what sync_code = 0 selects). */
void GameVMSyncCode(void *addr, unsigned long size);

#endif /* GAMEVM_RUNTIME_H */
