/* Module "physics": fixed point, a table in .rodata, a big .bss array that pushes
 * addresses across 0x8000 boundaries (HI16 carry), a jump table, a function-pointer
 * table in .data and string literals. */
#include "shared.h"

#if defined(__ARM_ARCH_4__)
/* 3DO (ARM60, ARMv3, built as ARMv4): no halfword loads and no long multiply, which gcc
 * also uses to divide by constants.  The same values and results in ARMv3-safe C. */
#define ARMV3_SAFE 1
typedef int table_t;
static volatile int field_len = 24000;    /* a variable divisor: __aeabi_idivmod */
#else
typedef short table_t;
#define field_len 24000
#endif
static const table_t sine_table[16] = {0, 100, 195, 284, 362, 425, 473, 502, 512, 502, 473, 425, 362, 284, 195, 100};
int phys_gravity = -7;
static int field[24000];               /* 96000 bytes: later symbols sit past 0x10000 */
int phys_tail_marker = 0x1234;         /* .data after the big array in memory order? (.data is before .bss) */
static int bounce_count;

#ifdef ARMV3_SAFE
int phys_fx_mul(int a, int b)
{   /* a * b in 64 bits from 16x16 partial products */
    unsigned ua = a < 0 ? 0u - (unsigned)a : (unsigned)a, ub = b < 0 ? 0u - (unsigned)b : (unsigned)b;
    unsigned long long p = (unsigned long long)((ua >> 16) * (ub >> 16)) << 32;
    p += (unsigned long long)((ua >> 16) * (ub & 0xffff)) << 16;
    p += (unsigned long long)((ua & 0xffff) * (ub >> 16)) << 16;
    p += (ua & 0xffff) * (ub & 0xffff);
    return (int)(((a < 0) != (b < 0) ? -(long long)p : (long long)p) >> 8);
}
#else
int phys_fx_mul(int a, int b) { return (int)(((long long)a * b) >> 8); }
#endif
int phys_sin(int angle) { angle &= 31; return angle < 16 ? sine_table[angle] : -sine_table[angle - 16]; }

static int op_add(int a, int b) { return a + b; }
static int op_sub(int a, int b) { return a - b; }
static int op_mul(int a, int b) { return a * b; }
static int op_xor(int a, int b) { return a ^ b; }
int (*phys_ops[4])(int, int) = {op_add, op_sub, op_mul, op_xor};

int phys_apply(int op, int a, int b) { return phys_ops[op & 3](a, b); }

int phys_classify(int v) {
    switch (v) {
    case 0: return 11; case 1: return 23; case 2: return 37; case 3: return 41;
    case 4: return 53; case 5: return 67; case 6: return 79; case 7: return 83;
    default: return -1;
    }
}

int phys_step(int pos, int vel) {
    int next = pos + vel + phys_gravity;
    if (next < 0) { bounce_count++; next = -next; }
    return next;
}

int phys_fill(int seed) {
    int i;
    for (i = 0; i < 24000; i++) field[i] = (seed + i * 7) & 0xff;
    return field[23999];
}

int phys_field_sum(int from, int count) {
    int s = 0, i;
    for (i = 0; i < count; i++) s += field[(from + i) % field_len];
    return s;
}

int phys_far(void) { return field[23000] + field[16385] + field[8191] + field[8192]; }
int phys_bounces(void) { return bounce_count; }

static const char *const names[] = {"walk", "jump", "fall", "swim"};
int phys_name_len(int i) { return k_strlen(names[i & 3]); }
unsigned phys_name_hash(int i) { return k_hash(names[i & 3]); }

struct body { int x, y, vx, vy; };
static struct body bodies[4] = {{1, 2, 3, 4}, {5, 6, 7, 8}, {9, 10, 11, 12}, {13, 14, 15, 16}};
int phys_body(int i) { struct body *b = &bodies[i & 3]; return b->x + b->y * 2 + b->vx * 3 + b->vy * 4; }
