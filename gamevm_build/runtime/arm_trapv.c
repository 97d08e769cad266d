/*
 * -ftrapv helpers (__addvsi3, __mulvdi3, ...) for the Game Boy Advance
 * (ARM7TDMI), linked into every resident ahead of libgcc.
 *
 * Why: the GBA uses arm-none-eabi's ARMv4T libgcc for everything else, but
 * its -ftrapv helpers call abort(), which no console resident defines, so a
 * module built with -ftrapv could not be linked.  These trap instead
 * (gvm_libgcc.h).  Compiled with the profile's flags by gamevm_build.link.resident.
 */
#define GVM_LIBGCC_TRAPV_ONLY
#include "gvm_libgcc.h"

static u64 umul32x32(u32 a, u32 b) { return (u64)a * b; }      /* umull: ARMv4T has it */
