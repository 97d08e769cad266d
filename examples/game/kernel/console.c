/*
 * console.c - gvm_print writes into a RAM ring buffer that a debugger or an
 * emulator reads back (there is no display driver in this example).
 */
#include "gvm.h"

char gvm_console[GVM_CONSOLE_SIZE];
u32 gvm_console_head;

static void put(char c)
{
    gvm_console[gvm_console_head % GVM_CONSOLE_SIZE] = c;
    gvm_console_head++;
}

void gvm_print(const char *msg)
{
    while (*msg)
        put(*msg++);
}

void gvm_print_int(const char *label, s32 value)
{
    char digits[12];
    int n = 0;
    u32 v = value < 0 ? 0u - (u32)value : (u32)value;

    gvm_print(label);
    put('=');
    if (value < 0)
        put('-');
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n > 0)
        put(digits[--n]);
    put('\n');
}
