/*
 * Probe corpus for -ftrapv (compiled with it): signed arithmetic that must trap
 * on overflow, for which gcc calls __addvsi3, __mulvdi3 and the like.
 * See probe.c for P() and ARMV3.
 */
#define CAT(a, b) a##b
#define XCAT(a, b) CAT(a, b)
#define P(name) XCAT(PREFIX, name)

typedef long long s64;
typedef int s32;

#define TRAPV(T, N)                                                      \
    T P(N##_add)(T a, T b) { return a + b; }                             \
    T P(N##_sub)(T a, T b) { return a - b; }                             \
    T P(N##_mul)(T a, T b) { return a * b; }                             \
    T P(N##_neg)(T a) { return -a; }                                     \
    T P(N##_abs)(T a) { return a < 0 ? -a : a; }                         \
    T P(N##_inc)(T a) { return a + 1; }

TRAPV(s32, s32) TRAPV(s64, s64) TRAPV(long, sl)
#ifndef ARMV3
TRAPV(short, s16)
#endif
