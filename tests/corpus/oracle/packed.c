/* Differential-test corpus: packed structures put pointers at offsets that
 * are not multiples of 4, so their R_MIPS_32 relocations are unaligned (GNU ld
 * relocates them; gcc reads them with lwl/lwr). */

extern int imp_data;
extern int imp_func(int);

static int local_value = 3;

int packed_target(int x)
{
    return x + local_value;
}

struct __attribute__((packed)) rec {
    char tag;
    int *ptr;
    short s;
    int (*fn)(int);
    char pad;
};

struct rec recs[3] = {
    { 1, &imp_data, 2, imp_func, 3 },
    { 4, &local_value, 5, packed_target, 6 },
    { 7, 0, 8, 0, 9 },
};

int use_recs(int i)
{
    return recs[i].fn(*recs[i].ptr) + recs[i].tag;
}
