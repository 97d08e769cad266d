/*
 * gvm_api_host.c - gamevm.h's loader API as traps to the host's reference loader.
 *
 * Linked into a resident built without the console-side runtime (`gamevm
 * resident` without --runtime target): on the emulated console each call traps
 * (`syscall` / `trap #15` / `svc`) and gamevm_build.runtime.reference services it.  The
 * constructors and destructors still run here, on the console's CPU: the loader
 * hands out each table entry in order and this code calls it.
 */
#include "gamevm.h"

#ifdef GVM_HOST_PREFIXED
/* Linked next to the console-side runtime: the same traps under other names, which
 * the emulated console jumps to when it runs the reference loader instead
 * (gamevm run's scenarios; gamevm call --loader host). */
#define LoadModuleEx gvm_host_LoadModuleEx
#define LoadModule gvm_host_LoadModule
#define LoadModuleFlags gvm_host_LoadModuleFlags
#define LoadModuleAsyncEx gvm_host_LoadModuleAsyncEx
#define LoadModuleAsync gvm_host_LoadModuleAsync
#define GameVMImport gvm_host_GameVMImport
#define GameVMAsyncStatus gvm_host_GameVMAsyncStatus
#define GameVMFrame gvm_host_GameVMFrame
#define UnloadModule gvm_host_UnloadModule
#define GetModuleProc gvm_host_GetModuleProc
#endif

/* Call each function the loader lists for table `code` (constructors or
 * destructors); a macro because the trap's code is part of the instruction. */
#define run_table(h, code) do {                                                  \
        unsigned long i_, fn_;                                                   \
        for (i_ = 0; (fn_ = GVM__TRAP(code, (h), i_)) != 0; i_++)                \
            ((void (*)(void))fn_)();                                             \
    } while (0)

TModuleHandle LoadModuleEx(const char *name, TLoadStatus *status)
{
    TModuleHandle h = (TModuleHandle)GVM__TRAP(GVM_SYS_LOAD, name, status);
    if (h)
        run_table(h, GVM_SYS_INIT_ENTRY);
    return h;
}

TModuleHandle LoadModule(const char *name)
{
    return LoadModuleEx(name, 0);
}

TModuleHandle LoadModuleFlags(const char *name, unsigned flags, TLoadStatus *status)
{
    TModuleHandle h = (TModuleHandle)GVM__TRAP3(GVM_SYS_LOAD_FLAGS, name, status, flags);
    if (h)
        run_table(h, GVM_SYS_INIT_ENTRY);
    return h;
}

unsigned LoadModuleAsyncEx(const char *name, TLoadCallback on_complete, unsigned flags)
{
    return (unsigned)GVM__TRAP3(GVM_SYS_LOAD_ASYNC, name, on_complete, flags);
}

void LoadModuleAsync(const char *name, TLoadCallback on_complete)
{
    (void)LoadModuleAsyncEx(name, on_complete, 0);
}

unsigned GameVMImport(const char *name, TLoadCallback on_complete)
{
    return (unsigned)GVM__TRAP(GVM_SYS_IMPORT, name, on_complete);
}

TLoadStatus GameVMAsyncStatus(unsigned id)
{
    return (TLoadStatus)GVM__TRAP(GVM_SYS_ASYNC_STATUS, id, 0);
}

unsigned GameVMFrame(void)
{
    TGameVMCompletion c;
    unsigned n = 0;

    (void)GVM__TRAP(GVM_SYS_FRAME, 0, 0);
    while (GVM__TRAP(GVM_SYS_ASYNC_NEXT, &c, 0)) {
        if (c.status == lsSuccess)
            run_table(c.handle, GVM_SYS_INIT_ENTRY);
        if (c.callback)
            c.callback(c.handle, c.status);
        n++;
    }
    return n;
}

TLoadStatus UnloadModule(TModuleHandle handle)
{
    TLoadStatus st = (TLoadStatus)GVM__TRAP(GVM_SYS_UNLOAD_PREPARE, handle, 0);
    if (st != lsSuccess)
        return st;
    run_table(handle, GVM_SYS_FINI_ENTRY);
    return (TLoadStatus)GVM__TRAP(GVM_SYS_UNLOAD, handle, 0);
}

void *GetModuleProc(TModuleHandle handle, const char *proc_name)
{
    return (void *)GVM__TRAP(GVM_SYS_GETPROC, handle, proc_name);
}
