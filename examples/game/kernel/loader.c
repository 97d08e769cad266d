/*
 * loader.c - starting the GameVM loader that runs on the console.
 *
 * The kernel is linked with the console-side runtime (SConscript:
 * GAMEVM_RUNTIME='target'), so gamevm.h's LoadModule, GetModuleProc and
 * UnloadModule run here, on the console's CPU.  Before the first load the
 * kernel hands the runtime a reader, a work area, a pool for the loaded
 * modules' export tables, and the RAM modules may go to (docs/runtime-c.md).
 *
 * This example runs in the emulator, so its reader is the emulated media
 * device (GameVMEmulatorReader); a shipped game passes its own: BIOS CdRead
 * on the PS1, PI DMA from the cartridge on the N64 (docs/runtime-c.md shows
 * both).  On the emulated console `gamevm call` and GameVMValidate set the
 * runtime up the same way themselves, since they call functions directly
 * instead of running _start.
 */
#include "gvm.h"
#include "gamevm_runtime.h"

#if defined(__m68k__)
#define LOADER_WORK  4096          /* the Sega CD's 64 KiB work RAM is tight */
#define LOADER_POOL  1024
#define MODULE_RAM_START 0x00200000ul    /* Word RAM (2M mode, main CPU side) */
#define MODULE_RAM_SIZE  0x00030000ul
#else
#define LOADER_WORK  8192
#define LOADER_POOL  2048
#define MODULE_RAM_SIZE  0x00020000ul    /* 128 KiB after the kernel */
#endif

extern u8 gvm_stack[];
static unsigned char loader_work[LOADER_WORK] __attribute__((aligned(4)));
static unsigned char loader_pool[LOADER_POOL] __attribute__((aligned(4)));

int gvm_loader_start(void)
{
    TGameVMConfig config;
    TLoadStatus status;
#ifndef MODULE_RAM_START
    extern char __resident_end[];
    unsigned long start = ((unsigned long)__resident_end + 15ul) & ~15ul;
#else
    unsigned long start = MODULE_RAM_START;
#endif

    config.reader = &GameVMEmulatorReader;
    config.work = loader_work;
    config.work_size = sizeof loader_work;
    config.pool = loader_pool;
    config.pool_size = sizeof loader_pool;
    config.sync_code = 0;                  /* the console's own: FlushCache, cache ops, none */
    config.stack_top = gvm_stack + GVM_STACK_SIZE;   /* safe mode (kernel/main.c's stack) */
    config.clock = GameVMEmulatorClock;    /* CPU slices; a root counter on a real PS1 */
    status = GameVMInit(&config);
#ifdef GVM_TRUST_TABLE
    /* a signed build links its modules' trust table (gamevm sign --table trust.c): every
     * module is checked against it before it runs (docs/signing.md) */
    if (status == lsSuccess) {
        extern const unsigned char gvm_trust_table[];
        extern const unsigned long gvm_trust_table_size;
        status = GameVMTrust(gvm_trust_table, gvm_trust_table_size);
    }
#endif
    if (status == lsSuccess)
        status = GameVMAddRegion("heap", start, MODULE_RAM_SIZE, GVM_REGION_HEAP);
    return (int)status;
}

/* Asynchronous loads (docs/runtime-c.md "Asynchronous loads"): kernel_stream asks for
 * a module in the background, the frame loop calls kernel_frame once per vblank, and
 * no frame waits for the drive; the callback gets the module when it is ready. */
static char stream_name[32];
static TModuleHandle streamed;
static TLoadStatus streamed_status = lsPending;

static void stream_done(TModuleHandle handle, TLoadStatus status)
{
    streamed = handle;
    streamed_status = status;
}

unsigned kernel_stream(const char *name)
{
    unsigned i;
    for (i = 0; name[i] && i + 1 < sizeof stream_name; i++)   /* the request keeps it */
        stream_name[i] = name[i];
    stream_name[i] = 0;
    streamed = 0;
    streamed_status = lsPending;
    return LoadModuleAsyncEx(stream_name, stream_done, 0);
}

unsigned kernel_frame(void)
{
    return GameVMFrame();
}

int kernel_stream_status(void)
{
    return (int)streamed_status;
}

TModuleHandle kernel_streamed(void)
{
    return streamed;
}
