/* Archive member pulled by main.c's reference to lib_entry; pulls lib_b.o. */
extern int lib_helper(int);
extern int lib_table[];
extern int imp_func(int);

static int lib_counter;

int lib_entry(int x)
{
    lib_counter += x;
    return lib_helper(x) + lib_table[x & 3] + imp_func(lib_counter);
}
