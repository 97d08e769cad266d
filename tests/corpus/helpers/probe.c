/*
 * Probe corpus: the integer and bit operations for which gcc may call a libgcc
 * helper on a 32-bit console CPU.  Compiled at every -O level with each
 * console's flags (and -mthumb on the GBA), linked into a resident: every
 * helper it needs must come from the profile's runtime or from a libgcc
 * member the CPU can run (tests/test_runtime_helpers.py).
 * P(name) prefixes each function, so that several builds link together.
 *
 * ARMV3 (the 3DO) leaves out what gcc compiles inline to instructions the
 * ARM60 lacks, so no helper could help: 64-bit and widening multiplies and
 * division by a constant (umull/smull), and 8/16-bit values (ldrsh, strh).
 */
#define CAT(a, b) a##b
#define XCAT(a, b) CAT(a, b)
#define P(name) XCAT(PREFIX, name)

typedef long long s64;
typedef unsigned long long u64;
typedef int s32;
typedef unsigned u32;

#define OPS(T, N)                                                        \
    T P(N##_div)(T a, T b) { return a / b; }                             \
    T P(N##_mod)(T a, T b) { return a % b; }                             \
    T P(N##_shl)(T a, int n) { return a << n; }                          \
    T P(N##_shr)(T a, int n) { return a >> n; }                          \
    int P(N##_lt)(T a, T b) { return a < b; }                            \
    int P(N##_le)(T a, T b) { return a <= b; }                           \
    int P(N##_eq)(T a, T b) { return a == b; }                           \
    T P(N##_neg)(T a) { return -a; }                                     \
    T P(N##_abs)(T a) { return a < 0 ? -a : a; }                         \
    T P(N##_divmod)(T a, T b, T *r) { *r = a % b; return a / b; }
#define MULS(T, N)                                                       \
    T P(N##_mul)(T a, T b) { return a * b; }                             \
    T P(N##_mulc)(T a) { return a * 1000003; }
#define CONSTDIV(T, N)                                                   \
    T P(N##_divc)(T a) { return a / 10; }                                \
    T P(N##_modc)(T a) { return a % 7; }

OPS(s64, s64) OPS(u64, u64) OPS(s32, s32) OPS(u32, u32) OPS(long, sl) OPS(unsigned long, ul)
MULS(s32, s32) MULS(u32, u32) MULS(long, sl) MULS(unsigned long, ul)
u32 P(rotl32)(u32 x, int n) { return (x << (n & 31)) | (x >> (-n & 31)); }
u64 P(rotl64)(u64 x, int n) { return (x << (n & 63)) | (x >> (-n & 63)); }
int P(cmp3)(s64 a, s64 b) { return (a > b) - (a < b); }
int P(ucmp3)(u64 a, u64 b) { return (a > b) - (a < b); }
int P(add_overflow)(s32 a, s32 b, s32 *r) { return __builtin_add_overflow(a, b, r); }
int P(add_overflow64)(s64 a, s64 b, s64 *r) { return __builtin_add_overflow(a, b, r); }
int P(sub_overflow64)(s64 a, s64 b, s64 *r) { return __builtin_sub_overflow(a, b, r); }

#ifndef ARMV3
OPS(short, s16) OPS(unsigned short, u16) OPS(signed char, s8) OPS(unsigned char, u8)
MULS(short, s16) MULS(unsigned short, u16) MULS(signed char, s8) MULS(unsigned char, u8)
MULS(s64, s64) MULS(u64, u64)
CONSTDIV(s64, s64) CONSTDIV(u64, u64) CONSTDIV(s32, s32) CONSTDIV(u32, u32)
CONSTDIV(long, sl) CONSTDIV(unsigned long, ul) CONSTDIV(short, s16)
CONSTDIV(unsigned short, u16) CONSTDIV(signed char, s8) CONSTDIV(unsigned char, u8)
s64 P(widen_mul)(s32 a, s32 b) { return (s64)a * b; }
u64 P(uwiden_mul)(u32 a, u32 b) { return (u64)a * b; }
s32 P(mulhi)(s32 a, s32 b) { return (s32)(((s64)a * b) >> 32); }
int P(mul_overflow)(s32 a, s32 b, s32 *r) { return __builtin_mul_overflow(a, b, r); }
int P(umul_overflow)(u32 a, u32 b, u32 *r) { return __builtin_mul_overflow(a, b, r); }
int P(mul_overflow64)(s64 a, s64 b, s64 *r) { return __builtin_mul_overflow(a, b, r); }
int P(umul_overflow64)(u64 a, u64 b, u64 *r) { return __builtin_mul_overflow(a, b, r); }
int P(mixed_overflow64)(s64 a, u64 b, s64 *r) { return __builtin_mul_overflow(a, b, r); }
unsigned short P(bswap16)(unsigned short x) { return __builtin_bswap16(x); }
#endif

#define BITS(T, S, N)                                                    \
    int P(N##_clz)(T x) { return __builtin_clz##S(x); }                  \
    int P(N##_ctz)(T x) { return __builtin_ctz##S(x); }                  \
    int P(N##_ffs)(T x) { return __builtin_ffs##S(x); }                  \
    int P(N##_popcount)(T x) { return __builtin_popcount##S(x); }        \
    int P(N##_parity)(T x) { return __builtin_parity##S(x); }            \
    int P(N##_clrsb)(T x) { return __builtin_clrsb##S(x); }

BITS(unsigned, , i) BITS(unsigned long, l, l) BITS(unsigned long long, ll, ll)
u32 P(bswap32)(u32 x) { return __builtin_bswap32(x); }
u64 P(bswap64)(u64 x) { return __builtin_bswap64(x); }
