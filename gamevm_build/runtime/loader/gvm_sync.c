/*
 * gvm_sync.c - making code the CPU has just written visible to instruction fetch.
 *
 * PS1 (R3000A): a 4 KiB instruction cache and no way to invalidate a range from
 * user code: the BIOS FlushCache call, A(44h), as PSn00bSDK's dl.c does.
 * N64 (VR4300): write the data cache back and invalidate the instruction cache
 * over the range, line by line (libultra osWritebackDCache + osInvalICache,
 * libdragon data_cache_hit_writeback + inst_cache_hit_invalidate).
 * 68000 (Sega CD main CPU), ARM7TDMI (GBA), ARM60 (3DO): no caches, nothing to do.
 * The emulated console checks that new code was made visible before it runs: on the
 * N64 by following these cache instructions line by line (gamevm_build/emu/vr4300cache.py).
 */
#include "gvm_int.h"

void GameVMSyncCode(void *addr, unsigned long size)
{
#if defined(GVM_CACHE_PSX_BIOS)
    (void)addr, (void)size;
    __asm__ __volatile__(".set push\n\t.set noreorder\n\t"
                         "li $9, 0x44\n\tli $8, 0xa0\n\tjalr $8\n\tnop\n\t.set pop"
                         : : : "$2", "$3", "$4", "$5", "$6", "$7", "$8", "$9", "$10", "$11",
                           "$12", "$13", "$14", "$15", "$24", "$25", "$31", "memory");
#elif defined(GVM_CACHE_VR4300)
    /* D-cache lines are 16 bytes, I-cache lines 32 */
    u32 p, end = (u32)addr + size;
    for (p = (u32)addr & ~15u; p < end; p += 16)
        __asm__ __volatile__("cache 0x19, 0(%0)" : : "r"(p) : "memory");   /* Hit_Write_Back D */
    for (p = (u32)addr & ~31u; p < end; p += 32)
        __asm__ __volatile__("cache 0x10, 0(%0)" : : "r"(p) : "memory");   /* Hit_Invalidate I */
#else
    (void)addr, (void)size;
#endif
}
