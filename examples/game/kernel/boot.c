/*
 * boot.c - loading a level at run time through the GameVM loader API
 * (gamevm.h, from the gamevm_build package; the SCons tool puts its
 * directory, $GAMEVM_INCLUDE, on CPPPATH).
 *
 * On the emulated console (`gamevm call`, env.GameVMValidate) each API call
 * traps to the host's loader: LoadModule reads, relocates and binds the
 * module (and the modules it needs) against the kernel and the modules
 * already loaded, then runs their constructors here on the target CPU.
 * UnloadModule drops a reference (docs/runtime.md).
 */
#include "gvm.h"
#include "gamevm.h"

/*
 * Load module `name`, call its exported `int entry(void)`, unload it.
 * Returns entry's result, or:
 *   -100 - status  the load failed (status is the TLoadStatus, e.g. -101: not found)
 *   -2             the module exports no `entry`
 *   -3             UnloadModule failed
 */
int gvm_boot_level(const char *name, const char *entry)
{
    TLoadStatus status = lsSuccess;
    TModuleHandle level;
    int (*run)(void);
    int result;

    level = LoadModuleEx(name, &status);
    if (level == 0)
        return -100 - (int)status;
    run = (int (*)(void))GetModuleProc(level, entry);
    if (run == 0) {
        UnloadModule(level);
        return -2;
    }
    result = run();
    if (UnloadModule(level) != lsSuccess)
        return -3;
    return result;
}

/*
 * The kernel's loader self test (a declared test of the example's
 * validation, SConstruct): boot level1 (LoadModule loads its `physics`
 * dependency first; a module already loaded just gains a reference), run its
 * gamevm_selftest, unload it.  Returns 0 on success,
 * 1 when level1's self test failed, 2 when loading or unloading failed,
 * 3 when GetModuleProc found a symbol level1 does not export.
 */
int kernel_selftest(void)
{
    TModuleHandle level;
    int result;

    level = LoadModule("level1");
    if (level == 0) {
        GameVMPrint("kernel: LoadModule(\"level1\") failed");
        return 2;
    }
    if (GetModuleProc(level, "no_such_export") != 0)
        return 3;
    if (UnloadModule(level) != lsSuccess)
        return 2;

    result = gvm_boot_level("level1", "gamevm_selftest");
    if (result != 0) {
        GameVMPrint(result < -2 ? "kernel: booting level1 failed"
                                : "kernel: level1 self test failed");
        return result < -2 ? 2 : 1;
    }
    GameVMPrint("kernel: level1 loaded, self test passed, unloaded");
    return 0;
}
