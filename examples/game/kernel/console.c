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
    /* digits by subtracting powers of ten: no division, which the 68000 and ARM
     * cores only have as library calls (and the ARM60 not as a long multiply either) */
    {
        static const u32 pow10[] = {1000000000u, 100000000u, 10000000u, 1000000u, 100000u,
                                    10000u, 1000u, 100u, 10u, 1u};
        int i;
        for (i = 0; i < GVM_COUNTOF(pow10); i++) {
            char d = '0';
            while (v >= pow10[i]) {
                v -= pow10[i];
                d++;
            }
            if (d != '0' || n > 0 || i == GVM_COUNTOF(pow10) - 1)
                digits[n++] = d;
        }
        for (i = 0; i < n; i++)
            put(digits[i]);
    }
    put('\n');
}
