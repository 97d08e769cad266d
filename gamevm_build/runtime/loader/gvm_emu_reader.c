/*
 * gvm_emu_reader.c - a reader backed by the emulated console's media device.
 *
 * On the emulated console (gamevm call / run, GameVMValidate) the media device
 * serves module files from the build's directories or disc image with the
 * console's drive timing; these traps are its whole interface.  A game
 * passes &GameVMEmulatorReader to GameVMInit when it runs in the emulator, and
 * its own reader (BIOS CD calls, PI DMA, ROM) on the console (docs/runtime-c.md).
 */
#include "gvm_int.h"

static int emu_open(void *ctx, const char *name, unsigned long *size)
{
    (void)ctx;
    return (int)GVM__TRAP(GVM_SYS_MEDIA_OPEN, name, size);
}

static int emu_request(unsigned code, int file, unsigned long offset, void *dst,
                       unsigned long len)
{
    unsigned long request[4];
    request[0] = (unsigned long)file;
    request[1] = offset;
    request[2] = (unsigned long)dst;
    request[3] = len;
    return code == GVM_SYS_MEDIA_READ ? (int)GVM__TRAP(GVM_SYS_MEDIA_READ, request, 0)
                                      : (int)GVM__TRAP(GVM_SYS_MEDIA_START, request, 0);
}

static int emu_read(void *ctx, int file, unsigned long offset, void *dst, unsigned long len)
{
    (void)ctx;
    return emu_request(GVM_SYS_MEDIA_READ, file, offset, dst, len);
}

static int emu_start(void *ctx, int file, unsigned long offset, void *dst, unsigned long len)
{
    (void)ctx;
    return emu_request(GVM_SYS_MEDIA_START, file, offset, dst, len);
}

static int emu_poll(void *ctx, int file)
{
    (void)ctx;
    return (int)GVM__TRAP(GVM_SYS_MEDIA_POLL, file, 0);
}

static void emu_close(void *ctx, int file)
{
    (void)ctx;
    (void)GVM__TRAP(GVM_SYS_MEDIA_CLOSE, file, 0);
}

const TGameVMReader GameVMEmulatorReader = {emu_open, emu_read, emu_close, 0, emu_start,
                                            emu_poll};

unsigned long GameVMEmulatorClock(void)
{
    return (unsigned long)GVM__TRAP(GVM_SYS_CLOCK, 0, 0);
}
