/* oracle-flags: -fcommon
 *
 * Differential-test corpus (tests/test_ld_oracle.py): the first object of the
 * module.  Every construct below produces relocations the oracle compares
 * against GNU ld: data pointers, pointer tables in .rodata and .data, a switch
 * jump table, function-pointer tables, >64 KiB arrays (HI16 carry, negative
 * LO16), several LO16 sharing one HI16, merged string literals, static
 * functions and data, COMMON symbols, weak definitions, weak undefined
 * imports, a constructor, imported resident functions and data, and
 * references into other.c, asm_refs.s and the archive.
 */

/* Resident imports (bound by prelink / --defsym). */
extern int imp_func(int);
extern void imp_void(void);
extern int imp_data;
extern int imp_array[];
extern const char imp_table[];

/* Weak undefined imports: nobody defines them, they resolve to 0. */
extern void opt_hook(void) __attribute__((weak));
extern int opt_var __attribute__((weak));

/* Defined in other.c. */
extern int other_func(int);
extern int other_data[];
extern int (*const other_ops[])(int);
extern const char *other_str(int);
extern int weak_def_overridden(void);

/* Defined in asm_refs.s. */
extern int asm_func(int);
extern int asm_words[];

/* Defined in liboracle.a (lib_a.o, which pulls lib_b.o). */
extern int lib_entry(int);

/* COMMON (-fcommon): shared_common is also tentative in other.c and defined
 * in the archive member lib_d.o. */
int shared_common;
int main_common[7];
int common_vs_def;        /* COMMON here, defined (initialised) in other.c */

/* > 64 KiB each, so neighbouring addresses cross 0x8000 boundaries. */
static char big_bss[0x12000];
char big_data[0x11000] = { 1, 2, 3 };

struct quad { int a, b, c, d; } __attribute__((aligned(16)));
struct quad gquad = { 1, 2, 3, 4 };
static struct quad squad = { 5, 6, 7, 8 };

static int counter;
static int local_table[4] = { 10, 20, 30, 40 };

/* Pointer tables in .rodata and .data (R_MIPS_32 with addends). */
int *const ro_ptrs[] = {
    &imp_data, imp_array + 3, &counter, local_table + 2, &shared_common,
    other_data + 1, &gquad.c, main_common + 6, (int *)(big_bss + 0x9004),
    (int *)(big_data + 0x10ff8),
};
int *data_ptrs[] = {
    &imp_data, imp_array + 1000, &counter, local_table, &squad.d, &opt_var,
    other_data + 7, asm_words + 1, (int *)(big_bss + 0x11ffc),
};

/* Strings: .rodata.str1.4 (SHF_MERGE|SHF_STRINGS); "hello" also in other.c. */
const char *messages[] = { "hello", "world", "hello" + 2, "shared tail" };
const char *const ro_messages[] = { "alpha", "beta", "world" };

static int __attribute__((noinline)) sfunc_a(int x) { return x * 3 + counter; }
static int __attribute__((noinline)) sfunc_b(int x) { return x ^ local_table[x & 3]; }

/* Function-pointer tables. */
int (*fptrs[])(int) = { sfunc_a, sfunc_b, other_func, imp_func, lib_entry, asm_func };
static int (*const ro_fptrs[])(int) = { sfunc_b, sfunc_a, imp_func, other_func };

/* Weak definitions: the first is overridden by other.c, the second is kept. */
__attribute__((weak)) int weak_def_overridden(void) { return 1; }
__attribute__((weak)) int weak_def_kept(void) { return 2; }

__attribute__((constructor)) static void init_main(void)
{
    counter = imp_data + squad.b;
}

/* Dense switch: a jump table in .rodata holding .text addresses. */
int __attribute__((noinline)) dispatch(int op, int x)
{
    switch (op) {
    case 0: return x + 1;
    case 1: return sfunc_a(x);
    case 2: return x * x - 7;
    case 3: return other_func(x);
    case 4: return imp_func(x + 4);
    case 5: return x << 5;
    case 6: return lib_entry(x);
    case 7: return x - counter;
    case 8: return x ^ 0x5a5a;
    default: return -1;
    }
}

/* Several LO16 relocations sharing one HI16 (struct field accesses). */
int __attribute__((noinline)) sum_quads(void)
{
    return gquad.a + gquad.b + gquad.d + squad.a + squad.c + squad.d;
}

/* Addends beyond 0x8000: HI16 carry and negative LO16. */
int __attribute__((noinline)) touch_big(int i)
{
    big_bss[0x9000 + i] = (char)i;
    big_bss[0x11fff] = 3;
    return big_bss[0x8000] + big_bss[0x10004] + big_data[0x8004] + big_data[0x10ff0]
           + imp_table[0x9000] + imp_array[0x2001];
}

int __attribute__((noinline)) call_imports(int x)
{
    int v;
    imp_void();
    if (opt_hook)
        opt_hook();
    v = imp_func(x) + imp_data + imp_array[5];
    if (&opt_var)
        v += opt_var;
    return v;
}

const char * __attribute__((noinline)) greet(int i)
{
    return i ? "hello" : "a longer message that is not shared";
}

int main_entry(int x)
{
    int v = dispatch(x & 7, x) + sum_quads() + touch_big(x) + call_imports(x);
    v += fptrs[x & 3](x) + ro_fptrs[x & 3](x) + other_ops[x & 1](x);
    v += *ro_ptrs[x % 10] + *data_ptrs[x % 9] + messages[x & 3][0] + ro_messages[x % 3][1];
    v += greet(x)[0] + other_str(x)[1] + weak_def_overridden() + weak_def_kept();
    v += asm_func(x) + main_common[x & 7] + common_vs_def;
    return v;
}
