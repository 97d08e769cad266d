/*
 * services.c - bump allocator, random numbers and score keeping.
 */
#include "gvm.h"

/* ---- bump allocator ---------------------------------------------------------- */

static u8 heap[GVM_HEAP_SIZE] __attribute__((aligned(8)));
static size_t heap_used;

void *gvm_alloc(size_t size)
{
    size_t rounded = (size + 7u) & ~(size_t)7u;
    void *p;

    if (rounded < size || rounded > GVM_HEAP_SIZE - heap_used)
        return NULL;
    p = heap + heap_used;
    heap_used += rounded;
    return p;
}

void gvm_alloc_reset(void)
{
    heap_used = 0;
}

size_t gvm_alloc_used(void)
{
    return heap_used;
}

/* ---- xorshift32 --------------------------------------------------------------- */

static u32 rand_state = 2463534242u;

void gvm_srand(u32 seed)
{
    rand_state = seed ? seed : 2463534242u;
}

u32 gvm_rand(void)
{
    u32 x = rand_state;

    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    rand_state = x;
    return x;
}

u32 gvm_rand_range(u32 n)
{
    return n ? gvm_rand() % n : 0;
}

/* ---- score -------------------------------------------------------------------- */

static s32 score, hiscore;

void gvm_score_add(s32 points)
{
    score += points;
    if (score < 0)
        score = 0;
    if (score > hiscore)
        hiscore = score;
}

s32 gvm_score_get(void)
{
    return score;
}

s32 gvm_hiscore_get(void)
{
    return hiscore;
}

void gvm_score_reset(void)
{
    score = 0;
}
