/*
 * gamevm.h - the GameVM loader API for game code (resident and modules).
 *
 * Seed "Dynamic Linking and Loading" §3.2: LoadModule, LoadModuleAsync,
 * UnloadModule, GetModuleProc, plus a debug print.  On the emulated console
 * (gamevm call, GameVMValidate) each call is a `syscall` trap with a code from
 * GVM_SYS_*; the host's loader services it.  Constructors and destructors run
 * here, on the target CPU, as a real loader runs them: the wrappers ask the
 * loader for each table entry in order and call it.
 *
 * Include it from C with -I$(python -c 'import gamevm_build,os;print(os.path.dirname(gamevm_build.__file__))')/include,
 * or let the SCons tool add it (GAMEVM_INCLUDE is on CPPPATH).
 */
#ifndef GAMEVM_H
#define GAMEVM_H

typedef void *TModuleHandle;

/* TLoadStatus: numbering shared with gamevm_build.loader.TLoadStatus. */
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
    lsSymbolNotFound = 9      /* GetModuleProc: no such export */
} TLoadStatus;

typedef void (*TLoadCallback)(TModuleHandle handle, TLoadStatus status);

/* Trap codes (the 20-bit code field of `syscall`). */
#define GVM_SYS_LOAD       0x4700  /* a0 = name, a1 = TLoadStatus* (may be 0) -> v0 handle or 0 */
#define GVM_SYS_UNLOAD     0x4701  /* a0 = handle -> v0 TLoadStatus */
#define GVM_SYS_GETPROC    0x4702  /* a0 = handle, a1 = name -> v0 address or 0 */
#define GVM_SYS_PRINT      0x4703  /* a0 = NUL-terminated string -> v0 0 */
#define GVM_SYS_INIT_ENTRY 0x4704  /* a0 = handle, a1 = i -> v0 i-th constructor (run order) or 0 */
#define GVM_SYS_FINI_ENTRY 0x4705  /* a0 = handle, a1 = i -> v0 i-th destructor (run order) or 0 */

#if defined(__mips__)
#define GVM__STR2(x) #x
#define GVM__STR(x) GVM__STR2(x)
/* A trap is a call whose only visible effects are v0 and memory. */
#define GVM__TRAP(code, a, b) __extension__ ({                                   \
        register unsigned long gvm__a0 __asm__("$4") = (unsigned long)(a);       \
        register unsigned long gvm__a1 __asm__("$5") = (unsigned long)(b);       \
        register unsigned long gvm__v0 __asm__("$2");                            \
        __asm__ __volatile__(".set push\n\t.set noreorder\n\tsyscall " GVM__STR(code) \
                             "\n\tnop\n\t.set pop"                               \
                             : "=r"(gvm__v0) : "r"(gvm__a0), "r"(gvm__a1) : "memory"); \
        gvm__v0; })
#else
#error "gamevm.h: no trap convention for this CPU yet"
#endif

/* Call each function the loader lists for table `code` (constructors or destructors). */
#define GVM__RUN_TABLE(h, code) do {                                              \
        unsigned long gvm__i, gvm__fn;                                           \
        for (gvm__i = 0; (gvm__fn = GVM__TRAP(code, (h), gvm__i)) != 0; gvm__i++) \
            ((void (*)(void))gvm__fn)();                                         \
    } while (0)

/* Load a module by name (e.g. "level1"): read, relocate, bind, run constructors.
 * Returns 0 on failure; *status (if given) says why. */
static inline TModuleHandle LoadModuleEx(const char *name, TLoadStatus *status)
{
    TModuleHandle h = (TModuleHandle)GVM__TRAP(GVM_SYS_LOAD, name, status);
    if (h)
        GVM__RUN_TABLE(h, GVM_SYS_INIT_ENTRY);
    return h;
}

static inline TModuleHandle LoadModule(const char *name) { return LoadModuleEx(name, 0); }

/* Asynchronous load: on the emulated console of this version the load completes
 * before the call returns and OnComplete runs at once. */
static inline void LoadModuleAsync(const char *name, TLoadCallback on_complete)
{
    TLoadStatus st = lsSuccess;
    TModuleHandle h = LoadModuleEx(name, &st);
    if (on_complete)
        on_complete(h, st);
}

/* Run destructors, then free the module's memory.  Returns lsSuccess or lsInvalidHandle. */
static inline TLoadStatus UnloadModule(TModuleHandle handle)
{
    GVM__RUN_TABLE(handle, GVM_SYS_FINI_ENTRY);
    return (TLoadStatus)GVM__TRAP(GVM_SYS_UNLOAD, handle, 0);
}

/* Address of an exported function or object, or 0. */
static inline void *GetModuleProc(TModuleHandle handle, const char *proc_name)
{
    return (void *)GVM__TRAP(GVM_SYS_GETPROC, handle, proc_name);
}

/* Debug output (collected by the emulator; printed by `gamevm call`). */
static inline void GameVMPrint(const char *text) { (void)GVM__TRAP(GVM_SYS_PRINT, text, 0); }

#endif /* GAMEVM_H */
