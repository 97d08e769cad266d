/* oracle-flags: -fcommon -ffunction-sections -fdata-sections
 *
 * Second object of the differential-test module: per-function/per-data
 * sections (.text.NAME, .data.NAME, .rodata.NAME), cross-object references
 * back into main.c, a strong definition overriding main.c's weak one, a
 * duplicate "hello" literal that GNU ld merges with main.c's, a prioritised
 * constructor (.init_array.00200), a destructor (.fini_array) and, with a
 * hardware FPU (n64), merged floating-point constants (.rodata.cst4/.cst8).
 */

extern int imp_func(int);
extern int imp_data;
extern int main_common[];
extern char big_data[];
extern int dispatch(int, int);
extern int lib_entry(int);

struct quad { int a, b, c, d; } __attribute__((aligned(16)));
extern struct quad gquad;

int shared_common;
int common_vs_def = 9;    /* a definition beats main.c's COMMON */

int other_data[8] = { 1, 1, 2, 3, 5, 8, 13, 21 };
static int other_static = 3;
static const short lookup[6] = { 4, 8, 15, 16, 23, 42 };

int weak_def_overridden(void)
{
    return 10;
}

int other_func(int x)
{
    return x + other_data[x & 7] + main_common[2] + shared_common + other_static
           + lookup[x % 6] + gquad.b + big_data[0x10000 + (x & 0xff)];
}

static int __attribute__((noinline)) op_inc(int x) { return x + 1 + imp_data; }
static int __attribute__((noinline)) op_dec(int x) { return x - 1 - other_static; }

int (*const other_ops[])(int) = { op_inc, op_dec, other_func, imp_func, dispatch };

const char *other_str(int x)
{
    switch (x & 7) {
    case 0: return "hello";
    case 1: return "world";
    case 2: return "tail";
    case 3: return "other only";
    case 4: return "shared tail";
    case 5: return "";
    default: return "default";
    }
}

int other_calls(int x)
{
    return lib_entry(x) + op_inc(x) + op_dec(x);
}

static int ctor_hits;

__attribute__((constructor(200))) static void init_other(void)
{
    ctor_hits += other_data[2];
}

__attribute__((destructor)) static void fini_other(void)
{
    ctor_hits = 0;
}

#ifdef __mips_hard_float
double other_scale(double x)
{
    return x * 1.25 + 3.5;
}

float other_fscale(float x)
{
    return x * 0.75f - 2.5f;
}
#endif
