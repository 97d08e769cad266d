/* Cross-object and resident calls, pointers in data, a jump table and strings
 * (tests/test_consoles.py: linked by gamevm_build and by GNU ld at one layout). */
extern int k_add(int a, int b);          /* resident */
extern int k_table[4];                   /* resident data */
int other_twice(int x);                  /* other.c (Thumb on the GBA) */
int other_counter_value(void);

static int square(int x) { return x * x; }
int (*calls_ops[4])(int) = { square, other_twice, 0, other_twice };
const char *calls_names[] = { "alpha", "beta", "gamma", "delta" };
static int calls_state = 3;

int calls_entry(int x)
{
    calls_ops[2] = square;
    return k_add(x, other_twice(square(x))) + k_table[1] + calls_state;
}

int calls_switch(int x)
{
    switch (x) {
    case 0: return 11; case 1: return 22; case 2: return k_add(x, 31); case 3: return 44;
    case 4: return other_twice(x); case 5: return 66; case 6: return 77; default: return -1;
    }
}

int calls_indirect(int i, int x) { return calls_ops[i & 3](x) + calls_names[i & 3][0]; }
