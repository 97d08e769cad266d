/*
 * gamevm.h - the GameVM loader API for game code (resident and modules).
 *
 * Seed "Dynamic Linking and Loading" §3.2: LoadModule, LoadModuleAsync,
 * UnloadModule, GetModuleProc (functions of the resident: see "the loader API"
 * below), plus the runtime additions of docs/runtime.md:
 * lazy binding (LoadModuleFlags), a frame loop for asynchronous loads
 * (GameVMFrame), dynamic import by name (GameVMImport, §9.2), the module
 * registry of cartridge builds (GameVMRegistryLookup, §9.1), and a debug
 * print.  On the emulated console (gamevm call / run, GameVMValidate) each
 * call is a trap (`syscall` on MIPS, `trap #15` on the 68000, `svc` on ARM)
 * with a code from GVM_SYS_*; the host's loader
 * services it.  Constructors and destructors run here, on the target CPU, as
 * a real loader runs them: the wrappers ask the loader for each table entry
 * in order and call it.
 *
 * Include it from C with -I$(python -c 'import gamevm_build;print(gamevm_build.INCLUDE_DIR)'),
 * or let the SCons tool add it (GAMEVM_INCLUDE is on CPPPATH).
 */
#ifndef GAMEVM_H
#define GAMEVM_H

typedef void *TModuleHandle;

/* TLoadStatus: numbering shared with gamevm_build.runtime.reference.TLoadStatus. */
typedef enum {
    lsSuccess = 0,            /* loaded */
    lsFileNotFound = 1,       /* no file for the name in the search path / on the disc */
    lsOutOfMemory = 2,        /* no region has room for the module */
    lsRelocationError = 3,    /* a relocation cannot reach (e.g. jal across 256 MB) */
    lsBadFormat = 4,          /* not a valid GameVM module */
    lsIncompatibleTarget = 5, /* built for another console */
    lsUndefinedSymbol = 6,    /* an import nobody provides */
    lsInitFailed = 7,         /* a constructor failed */
    lsInvalidHandle = 8,      /* not a loaded module's handle */
    lsSymbolNotFound = 9,     /* GetModuleProc: no such export */
    lsModuleInUse = 10,       /* safe mode: a stack frame or register still points into it */
    lsPending = 11,           /* GameVMAsyncStatus: the asynchronous load is still running */
    lsBadChecksum = 12,       /* well-formed, but its contents do not match the metadata's hash */
    lsBadSignature = 13,      /* GameVMTrust: not in the trusted manifest, or not its digest */
    lsForceInt = 0x7fffffff   /* keeps the type int-sized: the loader writes 32-bit statuses,
                                 and ARM EABI compilers default to -fshort-enums */
} TLoadStatus;

typedef void (*TLoadCallback)(TModuleHandle handle, TLoadStatus status);

/* LoadModuleFlags / LoadModuleAsyncEx flags (like dlopen's RTLD_LAZY / RTLD_NOW). */
#define GVM_LOAD_LAZY 1u      /* bind imported functions at their first call */
#define GVM_LOAD_NOW  2u      /* bind everything now (the default) */

/* Trap codes (the 20-bit code field of `syscall`). */
#define GVM_SYS_LOAD       0x4700  /* a0 = name, a1 = TLoadStatus* (may be 0) -> v0 handle or 0 */
#define GVM_SYS_UNLOAD     0x4701  /* a0 = handle -> v0 TLoadStatus (frees what the prepare planned) */
#define GVM_SYS_GETPROC    0x4702  /* a0 = handle, a1 = name -> v0 address or 0 */
#define GVM_SYS_PRINT      0x4703  /* a0 = NUL-terminated string -> v0 0 */
#define GVM_SYS_INIT_ENTRY 0x4704  /* a0 = handle, a1 = i -> v0 i-th constructor still to run, or 0 */
#define GVM_SYS_FINI_ENTRY 0x4705  /* a0 = handle, a1 = i -> v0 i-th destructor to run, or 0 */
#define GVM_SYS_UNLOAD_PREPARE 0x4706 /* a0 = handle -> v0 TLoadStatus (refcount, safe-mode check) */
#define GVM_SYS_LOAD_ASYNC 0x4707  /* a0 = name, a1 = TLoadCallback, a2 = flags -> v0 request id */
#define GVM_SYS_FRAME      0x4708  /* advance the simulated clock one frame -> v0 completions */
#define GVM_SYS_ASYNC_NEXT 0x4709  /* a0 = TGameVMCompletion* -> v0 1 if one was written, else 0 */
#define GVM_SYS_IMPORT     0x470A  /* a0 = name, a1 = TLoadCallback -> v0 request id */
#define GVM_SYS_LOAD_FLAGS 0x470B  /* a0 = name, a1 = TLoadStatus*, a2 = flags -> v0 handle or 0 */
#define GVM_SYS_ASYNC_STATUS 0x470C /* a0 = request id -> v0 TLoadStatus (lsPending while running) */
/* 0x4710-0x4713 are the loader's own stubs (lazy binding, stale bindings, reload trampoline). */
/* The emulated console's media device (the C runtime's GameVMEmulatorReader). */
#define GVM_SYS_MEDIA_OPEN  0x4720 /* a0 = name, a1 = unsigned long *size -> v0 file or -1 */
#define GVM_SYS_MEDIA_READ  0x4721 /* a0 = {file, offset, dst, len} -> v0 0 or -1 */
#define GVM_SYS_MEDIA_CLOSE 0x4722 /* a0 = file -> v0 0 */
#define GVM_SYS_MEDIA_START 0x4723 /* a0 = {file, offset, dst, len} -> v0 0 or -1 (read goes on) */
#define GVM_SYS_MEDIA_POLL  0x4724 /* a0 = file -> v0 1 done, 0 running, -1 failed */
#define GVM_SYS_CLOCK       0x4725 /* -> v0 CPU cycles executed (wraps at 2^32) */

#if defined(__mips__)
#define GVM__STR2(x) #x
#define GVM__STR(x) GVM__STR2(x)
/* A trap is a call whose only visible effects are v0 and memory. */
#define GVM__TRAP3(code, a, b, c) __extension__ ({                               \
        register unsigned long gvm__a0 __asm__("$4") = (unsigned long)(a);       \
        register unsigned long gvm__a1 __asm__("$5") = (unsigned long)(b);       \
        register unsigned long gvm__a2 __asm__("$6") = (unsigned long)(c);       \
        register unsigned long gvm__v0 __asm__("$2");                            \
        __asm__ __volatile__(".set push\n\t.set noreorder\n\tsyscall " GVM__STR(code) \
                             "\n\tnop\n\t.set pop"                               \
                             : "=r"(gvm__v0)                                     \
                             : "r"(gvm__a0), "r"(gvm__a1), "r"(gvm__a2) : "memory"); \
        gvm__v0; })
#elif defined(__m68k__)
/* trap #15 with the service number in d0 and the arguments in d1, a0, a1; the
 * result comes back in d0 (and a0).  d0-d1/a0-a1 are scratch in gcc's convention. */
#define GVM__TRAP3(code, a, b, c) __extension__ ({                               \
        register unsigned long gvm__d0 __asm__("%d0") = (unsigned long)(code);   \
        register unsigned long gvm__d1 __asm__("%d1") = (unsigned long)(a);      \
        register unsigned long gvm__a0 __asm__("%a0") = (unsigned long)(b);      \
        register unsigned long gvm__a1 __asm__("%a1") = (unsigned long)(c);      \
        __asm__ __volatile__("trap #15"                                          \
                             : "+r"(gvm__d0), "+r"(gvm__d1), "+r"(gvm__a0), "+r"(gvm__a1) \
                             : : "memory", "cc");                               \
        gvm__d0; })
#elif defined(__arm__)
#define GVM__STR2(x) #x
#define GVM__STR(x) GVM__STR2(x)
/* svc with the service number as its comment (Thumb: only the low byte, the
 * numbers all being 0x47xx); arguments in r0-r2, result in r0. */
#if defined(__thumb__)
#define GVM__SVC(code) "svc " GVM__STR(code) " & 0xff"
#else
#define GVM__SVC(code) "svc " GVM__STR(code)
#endif
#define GVM__TRAP3(code, a, b, c) __extension__ ({                               \
        register unsigned long gvm__r0 __asm__("r0") = (unsigned long)(a);       \
        register unsigned long gvm__r1 __asm__("r1") = (unsigned long)(b);       \
        register unsigned long gvm__r2 __asm__("r2") = (unsigned long)(c);       \
        __asm__ __volatile__(GVM__SVC(code)                                      \
                             : "+r"(gvm__r0) : "r"(gvm__r1), "r"(gvm__r2) : "memory"); \
        gvm__r0; })
#else
#error "gamevm.h: no trap convention for this CPU (MIPS, 68000 and ARM are supported)"
#endif
#define GVM__TRAP(code, a, b) GVM__TRAP3(code, a, b, 0)

/* Call each function the loader lists for table `code` (constructors or destructors). */
#define GVM__RUN_TABLE(h, code) do {                                              \
        unsigned long gvm__i, gvm__fn;                                           \
        for (gvm__i = 0; (gvm__fn = GVM__TRAP(code, (h), gvm__i)) != 0; gvm__i++) \
            ((void (*)(void))gvm__fn)();                                         \
    } while (0)

/* ---- the loader API ------------------------------------------------------------
 * The resident provides these functions and modules import them from it (seed
 * §6.1: the resident holds the loader).  `gamevm resident` links one of two
 * implementations: the console-side C runtime (--runtime target,
 * docs/runtime-c.md), or, by default, gamevm_build/runtime/gvm_api_host.c, whose
 * traps reach the host's reference loader on the emulated console. */

/* Load a module by name (e.g. "level1"), the modules it needs first: read,
 * relocate, bind, run constructors (dependencies' first).  A module already
 * loaded is not loaded again: its reference count goes up and its handle is
 * returned.  Returns 0 on failure; *status (if given) says why. */
TModuleHandle LoadModuleEx(const char *name, TLoadStatus *status);
TModuleHandle LoadModule(const char *name);

/* LoadModuleEx with flags: GVM_LOAD_LAZY binds the module's imported functions
 * at their first call (data imports are always bound now).  The C runtime
 * binds everything now. */
TModuleHandle LoadModuleFlags(const char *name, unsigned flags, TLoadStatus *status);

/* Asynchronous load: reads while the game runs; completes in a later
 * GameVMFrame(), which runs the module's constructors and then
 * on_complete(handle, status).  Returns a request id (for GameVMAsyncStatus);
 * the C runtime returns 0 when its queue (8 requests) is full or it is not set
 * up.  `name` must stay valid until the load completes. */
unsigned LoadModuleAsyncEx(const char *name, TLoadCallback on_complete, unsigned flags);
void LoadModuleAsync(const char *name, TLoadCallback on_complete);

/* Dynamic import by name (seed §9.2 ELF dispatch): the name ("gfx.vga") is
 * mapped to a module file through the search path or the disc manifest, loaded
 * asynchronously and bound; on_complete gets the handle.  Returns a request id. */
unsigned GameVMImport(const char *name, TLoadCallback on_complete);

/* lsPending while request `id` runs, then its TLoadStatus. */
TLoadStatus GameVMAsyncStatus(unsigned id);

/* One completed asynchronous load (filled in by the loader). */
typedef struct {
    TModuleHandle handle;
    TLoadStatus status;
    TLoadCallback callback;
    unsigned request;
} TGameVMCompletion;

/* The frame loop's hook: call once per frame (vblank).  Takes the asynchronous
 * loads as far as they go without waiting for the drive; for each load that
 * completed, runs its constructors and its callback.  Returns the number of
 * loads completed. */
unsigned GameVMFrame(void);

/* Drop a reference to a module.  At zero, and once no other module binds to
 * it, its destructors run and its memory is freed (and poisoned), and so are
 * the modules it needed that nothing else holds.  Returns lsSuccess,
 * lsInvalidHandle, or lsModuleInUse (safe mode: a stack frame is still inside
 * the module; nothing changed). */
TLoadStatus UnloadModule(TModuleHandle handle);

/* Address of an exported function or object, or 0. */
void *GetModuleProc(TModuleHandle handle, const char *proc_name);

/* Debug output (collected by the emulator; printed by `gamevm call`). */
static inline void GameVMPrint(const char *text) { (void)GVM__TRAP(GVM_SYS_PRINT, text, 0); }

/* ---- module registry (seed §9.1), for cartridge builds ------------------------
 * `gamevm registry` generates a C file defining gvm_registry[]: the modules
 * sorted by name, each with its export table sorted by name.  Lookups are
 * binary searches, O(log n).  Only programs linked with a registry use these. */
typedef struct {
    const char *name;
    void *address;
} TGameVMExport;

typedef struct {
    const char *name;
    const TGameVMExport *exports;
    unsigned count;
} TGameVMModuleEntry;

extern const TGameVMModuleEntry gvm_registry[];
extern const unsigned gvm_registry_count;

static inline int GVM__strcmp(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return (int)(unsigned char)*a - (int)(unsigned char)*b;
}

/* The export table of module `name`, or 0 when the registry has no such module. */
static inline const TGameVMModuleEntry *GameVMRegistryLookup(const char *name)
{
    unsigned lo = 0, hi = gvm_registry_count;

    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        int c = GVM__strcmp(name, gvm_registry[mid].name);
        if (c == 0)
            return &gvm_registry[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return 0;
}

/* The address of export `symbol` of a registry entry, or 0. */
static inline void *GameVMExportLookup(const TGameVMModuleEntry *module, const char *symbol)
{
    unsigned lo = 0, hi;

    if (module == 0)
        return 0;
    hi = module->count;
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        int c = GVM__strcmp(symbol, module->exports[mid].name);
        if (c == 0)
            return module->exports[mid].address;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return 0;
}

#endif /* GAMEVM_H */
