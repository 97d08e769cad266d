/* Archive member pulled only through lib_a.o (a second pass over the archive). */
int lib_table[4] = { 7, 11, 13, 17 };
static const char *lib_names[] = { "lib one", "lib two", "hello" };

int lib_helper(int x)
{
    return lib_names[x % 3][0] + lib_table[(x + 1) & 3];
}
